/* SPDX-License-Identifier: MIT */
/*
 * Lowering a clause: the jump past it when the program's probe is not one
 * of its own, its predicate, then its statements. Actions that output
 * (printf, trace, exit, printa ...) become records sent through the ring
 * buffer, a struct trace_rec header then the arguments, which the
 * consumer (trace-run.c) reads with the struct action made here. A fault
 * is such a record too, followed by a jump to the clause's end.
 */
#include <stdlib.h>
#include <string.h>

#include "trace-ir.h"

static int
new_action(struct lower *lw, enum action_kind kind, int clause, int *ret)
{
	struct hv_trace_program *p = lw->p;
	struct action *v = realloc(p->actions, (p->n_actions + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	p->actions = v;
	v[p->n_actions] = (struct action){.kind = kind, .clause = clause, .agg = -1};
	*ret = (int)p->n_actions++;
	return 0;
}

/*
 * A fault (DTrace's divide-by-zero, invalid address): a record that makes
 * the consumer run dtrace:::ERROR's clauses (or print DTrace's message),
 * and the rest of the clause skipped. addr: a vreg with the address, or -1.
 */
int
trace_lower_fault(struct lower *lw, int fault, int addr)
{
	struct action *a;
	unsigned off;
	int act, rec, t, sz, flags, mark = lw->ip->vreg_next;

	if (lw->abort < 0)
		return 0;
	TRY(new_action(lw, ACT_ERROR, lw->clause, &act));
	a = &lw->p->actions[act];
	a->fault = fault;
	a->line = lw->line;
	a->stmt = lw->stmt;
	a->size = sizeof(struct trace_rec) + 8;
	TRY(trace_ir_region(lw, a->size, &off));
	TRY(trace_ir_scr(lw, off, &rec));
	TRY(trace_ir_vreg(lw, &t));
	E(.op = IR_STI, .a = rec, .imm = 0, .imm2 = act, .size = 4);
	TRY(trace_ir_call(lw, t, BPF_FUNC_get_smp_processor_id, MAP_NONE, 0, NULL));
	E(.op = IR_STORE, .a = rec, .b = t, .imm = 4, .size = 4);
	E(.op = IR_STORE, .a = rec, .b = V_PROBE, .imm = 8, .size = 8);
	if (addr >= 0)
		E(.op = IR_STORE, .a = rec, .b = addr, .imm = sizeof(struct trace_rec), .size = 8);
	else
		E(.op = IR_STI, .a = rec, .imm = sizeof(struct trace_rec), .imm2 = 0, .size = 8);
	TRY(trace_ir_imm(lw, a->size, &sz));
	TRY(trace_ir_imm(lw, 0, &flags));
	TRY(trace_ir_call(lw, -1, BPF_FUNC_ringbuf_output, MAP_RB, 3, (int[]){rec, sz, flags}));
	E(.op = IR_JMP, .label = lw->abort);
	lw->ip->vreg_next = mark;
	return 0;
}

/* A record: header, then each argument; sent with bpf_ringbuf_output. */
static int
lower_record(struct lower *lw, int act, struct tnode *args)
{
	struct action *a = &lw->p->actions[act];
	unsigned size = sizeof(struct trace_rec), off;
	int rec, t, sz, flags, i = 0, mark;

	for (struct tnode *x = args; x; x = x->next)
		size += x->type == TY_STRING ? x->size : 8;
	a->size = size;
	TRY(trace_ir_region(lw, size, &off));
	TRY(trace_ir_scr(lw, off, &rec));
	TRY(trace_ir_vreg(lw, &t));
	E(.op = IR_STI, .a = rec, .imm = 0, .imm2 = act, .size = 4);
	TRY(trace_ir_call(lw, t, BPF_FUNC_get_smp_processor_id, MAP_NONE, 0, NULL));
	E(.op = IR_STORE, .a = rec, .b = t, .imm = 4, .size = 4);
	E(.op = IR_STORE, .a = rec, .b = V_PROBE, .imm = 8, .size = 8);
	mark = lw->ip->vreg_next;
	size = sizeof(struct trace_rec);
	for (struct tnode *x = args; x; x = x->next, i++) {
		int v;

		TRY(trace_lower_expr(lw, x, &v));
		lw->p->actions[act].arg_type[i] = x->type;
		lw->p->actions[act].arg_size[i] = x->type == TY_STRING ? x->size : x->size;
		lw->p->actions[act].arg_signed[i] = x->is_signed;
		lw->p->actions[act].arg_pstr[i] = x->pstr;
		if (x->type == TY_STRING) {
			TRY(trace_ir_copy(lw, rec, size, x->size, v, x->size));
			size += x->size;
		} else {
			E(.op = IR_STORE, .a = rec, .b = v, .imm = size, .size = 8);
			size += 8;
		}
		lw->ip->vreg_next = mark;
	}
	lw->p->actions[act].n_args = i;
	TRY(trace_ir_imm(lw, size, &sz));
	TRY(trace_ir_imm(lw, 0, &flags));
	return trace_ir_call(lw, -1, BPF_FUNC_ringbuf_output, MAP_RB, 3, (int[]){rec, sz, flags});
}

static int
lower_call_stmt(struct lower *lw, struct tnode *n, int clause)
{
	struct tnode *args = n->args;
	int act;

	switch (n->sym) {
	case FN_PRINTF:
		TRY(new_action(lw, ACT_PRINTF, clause, &act));
		if (!(lw->p->actions[act].fmt = strdup(args->name)))
			return -ENOMEM;
		return lower_record(lw, act, args->next);
	case FN_TRACE:
		TRY(new_action(lw, ACT_TRACE, clause, &act));
		return lower_record(lw, act, args);
	case FN_STACK:
	case FN_USTACK: {
		/* stack() alone: trace(stack()), without the depth argument */
		struct tnode *saved = n->args;
		int r;

		TRY(new_action(lw, ACT_TRACE, clause, &act));
		n->args = NULL;
		r = lower_record(lw, act, n);
		n->args = saved;
		return r;
	}
	case FN_EXIT:
		TRY(new_action(lw, ACT_EXIT, clause, &act));
		return lower_record(lw, act, args);
	case FN_PRINTA:
	case FN_CLEAR:
	case FN_TRUNC:
	case FN_NORMALIZE: {
		static const enum action_kind kinds[] = {[FN_PRINTA] = ACT_PRINTA,
		                                         [FN_CLEAR] = ACT_CLEAR,
		                                         [FN_TRUNC] = ACT_TRUNC,
		                                         [FN_NORMALIZE] = ACT_NORMALIZE};
		struct tnode *agg = args->kind == N_STR ? args->next : args;
		struct action *a;

		TRY(new_action(lw, kinds[n->sym], clause, &act));
		a = &lw->p->actions[act];
		a->agg = agg->sym;
		if (args->kind == N_STR && !(a->fmt = strdup(args->name)))
			return -ENOMEM;
		if (n->sym == FN_TRUNC || n->sym == FN_NORMALIZE)
			a->num = agg->next ? agg->next->num : 0;
		return lower_record(lw, act, NULL);
	}
	default: {
		int v;
		return trace_lower_expr(lw, n, &v);
	}
	}
}

static int lower_stmts(struct lower *lw, struct tnode *n, int clause);

static int
lower_stmt(struct lower *lw, struct tnode *n, int clause)
{
	int mark = lw->ip->vreg_next, v;
	unsigned smark = lw->ip->scratch_next;

	lw->line = n->line;
	switch (n->kind) {
	case S_EXPR:
		if (n->a->kind == N_CALL)
			TRY(lower_call_stmt(lw, n->a, clause));
		else
			TRY(trace_lower_expr(lw, n->a, &v));
		break;
	case S_AGG:
		TRY(trace_lower_agg(lw, n));
		break;
	case S_BLOCK:
		TRY(lower_stmts(lw, n->a, clause));
		break;
	case S_IF: {
		int els = trace_ir_label(lw), out = trace_ir_label(lw);

		TRY(trace_lower_expr(lw, n->a, &v));
		E(.op = IR_JCCI, .a = v, .alu = BPF_JEQ, .imm = 0, .label = els);
		lw->ip->vreg_next = mark;
		TRY(lower_stmt(lw, n->b, clause));
		E(.op = IR_JMP, .label = out);
		E(.op = IR_LABEL, .label = els);
		if (n->c)
			TRY(lower_stmt(lw, n->c, clause));
		E(.op = IR_LABEL, .label = out);
		break;
	}
	default:
		return trace_error(lw->p, lw->reterr, n->line, n->col, "unexpected statement");
	}
	lw->ip->vreg_next = mark;
	lw->ip->scratch_next = smark;
	return 0;
}

static int
lower_stmts(struct lower *lw, struct tnode *n, int clause)
{
	for (; n; n = n->next)
		TRY(lower_stmt(lw, n, clause));
	return 0;
}

int
trace_lower_clause(struct lower *lw, struct tnode *c)
{
	enum attach_point ap = lw->ip->point;
	size_t n = lw->p->n_cprobes[c->index], k = 0;
	struct probe *v = lw->p->cprobes[c->index];
	int body = trace_ir_label(lw), end = trace_ir_label(lw), pv;
	size_t first_action = lw->p->n_actions;

	lw->line = c->line;
	lw->clause = c->index;
	lw->abort = end;
	lw->stmt = 0;
	if (lw->single >= 0) {
		bool here = false;

		for (size_t i = 0; i < n; i++)
			here |= v[i].id == (uint32_t)lw->single;
		if (!here)
			return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (v[i].prov->point(&v[i]) == ap)
			k++;
	if (ap == AP_SYS_ENTER || ap == AP_SYS_EXIT || ap == AP_TICK || ap == AP_PROFILE ||
	    ap == AP_UPROBE) {
		bool all;
		size_t nsys = 0;

		for (int i = 0; i < syscall_count(); i++)
			nsys += syscall_name(i) != NULL;
		all = (ap == AP_SYS_ENTER || ap == AP_SYS_EXIT) && k == nsys;
		if (!all) {
			for (size_t i = 0; i < n; i++) {
				if (v[i].prov->point(&v[i]) != ap)
					continue;
				E(.op = IR_JCCI, .a = V_PROBE, .alu = BPF_JEQ, .imm = v[i].id,
				  .label = body);
			}
			E(.op = IR_JMP, .label = end);
		}
	}
	E(.op = IR_LABEL, .label = body);
	if (c->pred) {
		TRY(trace_lower_expr(lw, c->pred, &pv));
		E(.op = IR_JCCI, .a = pv, .alu = BPF_JEQ, .imm = 0, .label = end);
		lw->ip->vreg_next = V_FIRST;
	}
	if (!c->a) {
		/* no actions: DTrace's default action records the probe */
		int act;

		TRY(new_action(lw, ACT_TRACE, c->index, &act));
		TRY(lower_record(lw, act, NULL));
	}
	for (struct tnode *st = c->a; st; st = st->next) {
		lw->stmt++;
		TRY(lower_stmt(lw, st, c->index));
	}
	for (size_t i = lw->p->n_actions; i > first_action; i--) {
		enum action_kind kind = lw->p->actions[i - 1].kind;

		if (kind == ACT_PRINTF || kind == ACT_TRACE || kind == ACT_EXIT ||
		    kind == ACT_PRINTA) {
			lw->p->actions[i - 1].last = true;
			break;
		}
	}
	for (size_t i = first_action; i < lw->p->n_actions; i++) {
		enum action_kind kind = lw->p->actions[i].kind;

		if (kind == ACT_PRINTF || kind == ACT_TRACE || kind == ACT_EXIT ||
		    kind == ACT_PRINTA) {
			lw->p->actions[i].first = true;
			break;
		}
	}
	E(.op = IR_LABEL, .label = end);
	lw->ip->vreg_next = V_FIRST;
	lw->abort = -1;
	return 0;
}
