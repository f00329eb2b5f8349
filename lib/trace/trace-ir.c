/* SPDX-License-Identifier: MIT */
/*
 * Lowering: the checked AST to a small IR, one program per attach point.
 * IR values live in virtual registers (the BPF pass gives each a stack
 * slot); strings live in regions of a per-CPU scratch map value, so a
 * string value is a pointer. Every loop a D construct needs (string
 * copies, compares, log2 for quantize) is unrolled here, so the verifier
 * sees straight-line code with forward jumps only.
 *
 * Map references are codes until load: MAP_RB, MAP_SCRATCH, MAP_GLOBALS,
 * MAP_ZONES, or MAP_SYM + the symbol's index.
 *
 * The pieces: this file has the builders (instructions, virtual registers,
 * scratch regions, labels) and the driver (a program per attach point and
 * its prologue); trace-ir-stmt.c clauses, their predicates and statements,
 * and the records actions send; trace-ir-expr.c expressions;
 * trace-ir-var.c where variables and aggregations live, their loads,
 * stores and updates; trace-ir-probe.c args[] and the built-in variables,
 * which depend on the probe; trace-ir-dump.c --dump=ir. trace-ir.h is
 * what they share.
 */
#include <stdlib.h>

#include "trace-ir.h"

int
trace_ir_emit(struct lower *lw, struct irinsn in)
{
	struct irprog *ip = lw->ip;

	if (ip->n == ip->cap) {
		size_t cap = ip->cap ? ip->cap * 2 : 256;
		struct irinsn *v = realloc(ip->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		ip->v = v;
		ip->cap = cap;
	}
	in.line = lw->line;
	ip->v[ip->n++] = in;
	return 0;
}

int
trace_ir_vreg(struct lower *lw, int *ret)
{
	struct irprog *ip = lw->ip;

	if (ip->vreg_next >= TRACE_VREGS_MAX)
		return trace_error(lw->p, lw->reterr, lw->line, 1,
		                   "expression too complex for the BPF stack (512 bytes)");
	*ret = ip->vreg_next++;
	ip->vreg_max = MAX(ip->vreg_max, ip->vreg_next);
	return 0;
}

int
trace_ir_region(struct lower *lw, unsigned size, unsigned *ret)
{
	struct irprog *ip = lw->ip;

	if (ip->scratch_next + size > TRACE_SCRATCH_MAX)
		return trace_error(lw->p, lw->reterr, lw->line, 1,
		                   "the clause needs more than %d bytes of scratch space",
		                   TRACE_SCRATCH_MAX);
	*ret = ip->scratch_next;
	ip->scratch_next += (size + 7) & ~7u;
	return 0;
}

int
trace_ir_label(struct lower *lw)
{
	return lw->ip->n_labels++;
}

int
trace_ir_call(struct lower *lw, int d, int helper, int map, int n, const int *args)
{
	struct irinsn in = {.op = IR_CALL, .d = d, .imm = helper, .label = map, .n_args = n};

	for (int i = 0; i < n; i++)
		in.args[i] = args[i];
	return trace_ir_emit(lw, in);
}

int
trace_ir_imm(struct lower *lw, int64_t v, int *ret)
{
	TRY(trace_ir_vreg(lw, ret));
	E(.op = IR_IMM, .d = *ret, .imm = v);
	return 0;
}

int
trace_ir_scr(struct lower *lw, unsigned off, int *ret)
{
	TRY(trace_ir_vreg(lw, ret));
	E(.op = IR_SCR, .d = *ret, .imm = off);
	return 0;
}

/* dst[doff..doff+dsize) = src[0..ssize) zero-padded (sizes are multiples of 8) */
int
trace_ir_copy(struct lower *lw, int dst, unsigned doff, unsigned dsize, int src, unsigned ssize)
{
	int t;

	TRY(trace_ir_vreg(lw, &t));
	for (unsigned i = 0; i < dsize; i += 8) {
		if (src >= 0 && i < ssize) {
			E(.op = IR_LOAD, .d = t, .a = src, .imm = i, .size = 8);
			E(.op = IR_STORE, .a = dst, .b = t, .imm = doff + i, .size = 8);
		} else {
			E(.op = IR_STI, .a = dst, .imm = doff + i, .imm2 = 0, .size = 8);
		}
	}
	lw->ip->vreg_next--;
	return 0;
}

/* The prologue computes what every clause may need: the probe ID and the syscall number. */
static int
lower_prologue(struct lower *lw, const struct probe *any)
{
	enum attach_point ap = lw->ip->point;

	lw->ip->vreg_next = V_FIRST;
	lw->ip->vreg_max = V_FIRST;
	if (ap == AP_SYS_ENTER) {
		E(.op = IR_CTX, .d = V_NR, .imm = 8);
	} else if (ap == AP_SYS_EXIT) {
		unsigned off;
		int dst, sz, regs;

		TRY(trace_ir_region(lw, 8, &off));
		TRY(trace_ir_scr(lw, off, &dst));
		TRY(trace_ir_imm(lw, 8, &sz));
		TRY(trace_ir_vreg(lw, &regs));
		E(.op = IR_CTX, .d = regs, .imm = 0);
		E(.op = IR_ALUI, .d = regs, .a = regs, .alu = BPF_ADD, .imm = 120); /* orig_ax */
		TRY(trace_ir_call(lw, -1, BPF_FUNC_probe_read_kernel, MAP_NONE, 3,
		                  (int[]){dst, sz, regs}));
		E(.op = IR_LOAD, .d = V_NR, .a = dst, .imm = 0, .size = 8);
		lw->ip->vreg_next = V_FIRST;
		lw->ip->scratch_next = 0;
	}
	if (ap == AP_SYS_ENTER || ap == AP_SYS_EXIT) {
		E(.op = IR_ALUI, .d = V_PROBE, .a = V_NR, .alu = BPF_LSH, .imm = 1);
		E(.op = IR_ALUI, .d = V_PROBE, .a = V_PROBE, .alu = BPF_ADD,
		  .imm = (int64_t)any->id - 2 * any->arg);
	} else if (ap == AP_TICK || ap == AP_PROFILE || ap == AP_UPROBE) {
		E(.op = IR_CALL, .d = V_PROBE, .imm = BPF_FUNC_get_attach_cookie, .n_args = 1,
		  .args = {-2}); /* -2: the context */
	} else {
		E(.op = IR_IMM, .d = V_PROBE, .imm = any->id);
	}
	return 0;
}

int
trace_lower(struct hv_trace_program *p, struct hv_error **reterr)
{
	unsigned this_size;
	int r;

	trace_layout(p, &this_size);
	for (int ap = 0; ap < _AP_MAX; ap++) {
		struct lower lw = {
		        .p = p, .ip = &p->progs[ap], .reterr = reterr, .abort = -1, .single = -1};
		const struct probe *any = NULL;

		lw.ip->point = ap;
		lw.ip->prog_fd = -EBADF;
		for (struct tnode *c = p->clauses; c && !any; c = c->next)
			for (size_t i = 0; i < p->n_cprobes[c->index]; i++)
				if (p->cprobes[c->index][i].prov->point(&p->cprobes[c->index][i]) ==
				    (enum attach_point)ap) {
					any = &p->cprobes[c->index][i];
					break;
				}
		if (!any)
			continue;
		lw.ip->used = true;
		lw.ip->scratch_next = this_size;
		if ((r = lower_prologue(&lw, any)) < 0)
			return r;
		lw.ip->scratch_next = MAX(lw.ip->scratch_next, this_size);
		/* sched_switch is off-cpu for the thread leaving, then on-cpu for the next one */
		for (int pass = 0; pass < (ap == AP_SCHED_SWITCH ? 2 : 1); pass++) {
			if (ap == AP_SCHED_SWITCH) {
				lw.single = sched_probe_id(pass == 1);
				lw.oncpu = pass == 1;
				if ((r = trace_ir_emit(&lw, (struct irinsn){.op = IR_IMM,
				                                            .d = V_PROBE,
				                                            .imm = lw.single})) < 0)
					return r;
			}
			for (struct tnode *c = p->clauses; c; c = c->next) {
				bool here = false;

				for (size_t i = 0; i < p->n_cprobes[c->index]; i++)
					if (p->cprobes[c->index][i].prov->point(
					            &p->cprobes[c->index][i]) ==
					    (enum attach_point)ap)
						here = true;
				if (here && (r = trace_lower_clause(&lw, c)) < 0)
					return r;
			}
		}
		lw.line = 0;
		if ((r = trace_ir_emit(&lw, (struct irinsn){.op = IR_RET})) < 0)
			return r;
	}
	return 0;
}
