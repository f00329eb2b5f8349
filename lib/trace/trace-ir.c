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
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trace-internal.h"

enum { MAP_NONE, MAP_RB, MAP_SCRATCH, MAP_GLOBALS, MAP_ZONES, MAP_STACKS, MAP_SYM = 16 };
enum { V_PROBE, V_NR, V_FIRST };

struct lower {
	struct hv_trace_program *p;
	struct irprog *ip;
	struct hv_error **reterr;
	int line;
	int clause;     /* the clause being lowered */
	int abort;      /* its end: where a fault goes (-1 outside clauses) */
	int stmt;       /* its action being lowered (0: the predicate) */
	bool oncpu;     /* sched:::on-cpu: the thread is the one switched to */
	int64_t single; /* a program for one probe at a time (sched_switch): its ID, else -1 */
};

static int
emit(struct lower *lw, struct irinsn in)
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

static int
vreg(struct lower *lw, int *ret)
{
	struct irprog *ip = lw->ip;

	if (ip->vreg_next >= TRACE_VREGS_MAX)
		return trace_error(lw->p, lw->reterr, lw->line, 1,
		                   "expression too complex for the BPF stack (512 bytes)");
	*ret = ip->vreg_next++;
	ip->vreg_max = MAX(ip->vreg_max, ip->vreg_next);
	return 0;
}

static int
region(struct lower *lw, unsigned size, unsigned *ret)
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

static int
label(struct lower *lw)
{
	return lw->ip->n_labels++;
}

#define E(...)                                                   \
	do {                                                     \
		int _r = emit(lw, (struct irinsn){__VA_ARGS__}); \
		if (_r < 0)                                      \
			return _r;                               \
	} while (0)
#define TRY(x)                     \
	do {                       \
		int _r = (x);      \
		if (_r < 0)        \
			return _r; \
	} while (0)

static int
call(struct lower *lw, int d, int helper, int map, int n, const int *args)
{
	struct irinsn in = {.op = IR_CALL, .d = d, .imm = helper, .label = map, .n_args = n};

	for (int i = 0; i < n; i++)
		in.args[i] = args[i];
	return emit(lw, in);
}

static int
imm(struct lower *lw, int64_t v, int *ret)
{
	TRY(vreg(lw, ret));
	E(.op = IR_IMM, .d = *ret, .imm = v);
	return 0;
}

static int
scr(struct lower *lw, unsigned off, int *ret)
{
	TRY(vreg(lw, ret));
	E(.op = IR_SCR, .d = *ret, .imm = off);
	return 0;
}

/* dst[doff..doff+dsize) = src[0..ssize) zero-padded (sizes are multiples of 8) */
static int
copy(struct lower *lw, int dst, unsigned doff, unsigned dsize, int src, unsigned ssize)
{
	int t;

	TRY(vreg(lw, &t));
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

/*
 * v holds the expression's value: move it down into d, the first register
 * the expression took, and free every register after d.
 */
static int
settle(struct lower *lw, int d, int v, int *ret)
{
	E(.op = IR_MOV, .d = d, .a = v);
	lw->ip->vreg_next = d + 1;
	*ret = d;
	return 0;
}

static int lower_expr(struct lower *lw, struct tnode *n, int *ret);
static int new_action(struct lower *lw, enum action_kind kind, int clause, int *ret);

/*
 * A fault (DTrace's divide-by-zero, invalid address): a record that makes
 * the consumer run dtrace:::ERROR's clauses (or print DTrace's message),
 * and the rest of the clause skipped. addr: a vreg with the address, or -1.
 */
static int
lower_fault(struct lower *lw, int fault, int addr)
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
	TRY(region(lw, a->size, &off));
	TRY(scr(lw, off, &rec));
	TRY(vreg(lw, &t));
	E(.op = IR_STI, .a = rec, .imm = 0, .imm2 = act, .size = 4);
	TRY(call(lw, t, BPF_FUNC_get_smp_processor_id, MAP_NONE, 0, NULL));
	E(.op = IR_STORE, .a = rec, .b = t, .imm = 4, .size = 4);
	E(.op = IR_STORE, .a = rec, .b = V_PROBE, .imm = 8, .size = 8);
	if (addr >= 0)
		E(.op = IR_STORE, .a = rec, .b = addr, .imm = sizeof(struct trace_rec), .size = 8);
	else
		E(.op = IR_STI, .a = rec, .imm = sizeof(struct trace_rec), .imm2 = 0, .size = 8);
	TRY(imm(lw, a->size, &sz));
	TRY(imm(lw, 0, &flags));
	TRY(call(lw, -1, BPF_FUNC_ringbuf_output, MAP_RB, 3, (int[]){rec, sz, flags}));
	E(.op = IR_JMP, .label = lw->abort);
	lw->ip->vreg_next = mark;
	return 0;
}

/* *ret = *(size *)(ptr + off) in kernel memory, through probe_read_kernel */
static int
kread(struct lower *lw, int ptr, int off, int size, int *ret)
{
	unsigned o;
	int dst, sz, src;

	TRY(region(lw, 8, &o));
	TRY(scr(lw, o, &dst));
	E(.op = IR_STI, .a = dst, .imm = 0, .imm2 = 0, .size = 8);
	TRY(imm(lw, size, &sz));
	TRY(vreg(lw, &src));
	E(.op = IR_ALUI, .d = src, .a = ptr, .alu = BPF_ADD, .imm = off);
	TRY(call(lw, -1, BPF_FUNC_probe_read_kernel, MAP_NONE, 3, (int[]){dst, sz, src}));
	E(.op = IR_LOAD, .d = dst, .a = dst, .imm = 0, .size = size);
	lw->ip->vreg_next = dst + 1;
	*ret = dst;
	return 0;
}

/* The thread a probe is about: the current one, or sched:::on-cpu's next (raw args[2]). */
static int
task(struct lower *lw, int *ret)
{
	TRY(vreg(lw, ret));
	if (lw->oncpu) {
		E(.op = IR_CTX, .d = *ret, .imm = 16);
		return 0;
	}
	return call(lw, *ret, BPF_FUNC_get_current_task, MAP_NONE, 0, NULL);
}

static int
kofs(struct lower *lw)
{
	return trace_kofs(lw->p, lw->line, lw->reterr);
}

static int
lower_string_literal(struct lower *lw, const char *s, unsigned size, int *ret)
{
	unsigned off;
	int t;

	TRY(region(lw, size, &off));
	TRY(scr(lw, off, ret));
	TRY(vreg(lw, &t));
	for (unsigned i = 0; i < size; i += 8) {
		uint64_t w = 0;
		size_t l = strlen(s);

		for (unsigned j = 0; j < 8; j++)
			if (i + j < l)
				w |= (uint64_t)(unsigned char)s[i + j] << (8 * j);
		E(.op = IR_IMM, .d = t, .imm = (int64_t)w);
		E(.op = IR_STORE, .a = *ret, .b = t, .imm = i, .size = 8);
	}
	lw->ip->vreg_next--;
	return 0;
}

static const int sys_arg_off[] = {112, 104, 96, 56, 72, 64}; /* di si dx r10 r8 r9 in pt_regs */

static int
lower_arg(struct lower *lw, int i, int *ret)
{
	enum attach_point ap = lw->ip->point;
	unsigned off;
	int regs, dst, sz, src;

	switch (ap) {
	case AP_SYS_ENTER:
		if (i >= 6)
			return imm(lw, 0, ret);
		TRY(region(lw, 8, &off));
		TRY(vreg(lw, &regs));
		E(.op = IR_CTX, .d = regs, .imm = 0);
		E(.op = IR_ALUI, .d = regs, .a = regs, .alu = BPF_ADD, .imm = sys_arg_off[i]);
		TRY(scr(lw, off, &dst));
		TRY(imm(lw, 8, &sz));
		TRY(call(lw, -1, BPF_FUNC_probe_read_kernel, MAP_NONE, 3, (int[]){dst, sz, regs}));
		E(.op = IR_LOAD, .d = regs, .a = dst, .imm = 0, .size = 8);
		lw->ip->vreg_next = regs + 1;
		*ret = regs;
		return 0;
	case AP_SYS_EXIT:
		TRY(vreg(lw, ret));
		if (i > 1)
			E(.op = IR_IMM, .d = *ret, .imm = 0);
		else
			E(.op = IR_CTX, .d = *ret, .imm = 8);
		return 0;
	case AP_TICK:
	case AP_PROFILE:
		TRY(vreg(lw, ret));
		if (i > 0)
			E(.op = IR_IMM, .d = *ret, .imm = 0);
		else
			E(.op = IR_CTX, .d = *ret, .imm = 128); /* regs.ip */
		return 0;
	case AP_ERROR:
		TRY(vreg(lw, ret));
		if (i > 5)
			E(.op = IR_IMM, .d = *ret, .imm = 0);
		else
			E(.op = IR_CTX, .d = *ret, .imm = 8 * i);
		return 0;
	case AP_UPROBE: {
		/* entry: the arguments' registers; return (odd IDs): the offset and %rax */
		static const int ret_off[] = {128, 80};
		int entry = label(lw), out = label(lw), t;

		TRY(vreg(lw, ret));
		TRY(vreg(lw, &t));
		E(.op = IR_ALUI, .d = t, .a = V_PROBE, .alu = BPF_AND, .imm = 1);
		E(.op = IR_JCCI, .a = t, .alu = BPF_JEQ, .imm = 0, .label = entry);
		if (i < 2)
			E(.op = IR_CTX, .d = *ret, .imm = ret_off[i]);
		else
			E(.op = IR_IMM, .d = *ret, .imm = 0);
		E(.op = IR_JMP, .label = out);
		E(.op = IR_LABEL, .label = entry);
		if (i < 6)
			E(.op = IR_CTX, .d = *ret, .imm = i == 3 ? 88 : sys_arg_off[i]);
		else
			E(.op = IR_IMM, .d = *ret, .imm = 0);
		E(.op = IR_LABEL, .label = out);
		lw->ip->vreg_next = *ret + 1;
		return 0;
	}
	case AP_SCHED_SWITCH:
		/* off-cpu: arg0 = the next thread's tid, arg1 = its pid; on-cpu: none */
		if (lw->oncpu || i > 1)
			return imm(lw, 0, ret);
		TRY(kofs(lw));
		TRY(vreg(lw, &regs));
		E(.op = IR_CTX, .d = regs, .imm = 16);
		TRY(kread(lw, regs, i ? lw->p->kofs.task_tgid : lw->p->kofs.task_pid, 4, &dst));
		return settle(lw, regs, dst, ret);
	case AP_SIGNAL:
		/* arg0 = the receiver's pid, arg1 = its tid, arg2 = the signal */
		if (i > 2)
			return imm(lw, 0, ret);
		TRY(vreg(lw, &regs));
		if (i == 2) {
			E(.op = IR_CTX, .d = regs, .imm = 0);
			E(.op = IR_ALUI, .d = regs, .a = regs, .alu = BPF_LSH, .imm = 32);
			E(.op = IR_ALUI, .d = regs, .a = regs, .alu = BPF_ARSH, .imm = 32);
			*ret = regs;
			return 0;
		}
		TRY(kofs(lw));
		E(.op = IR_CTX, .d = regs, .imm = 16);
		TRY(kread(lw, regs, i ? lw->p->kofs.task_pid : lw->p->kofs.task_tgid, 4, &dst));
		return settle(lw, regs, dst, ret);
	case AP_IO_START:
	case AP_IO_DONE:
		/* arg0 = the request; start: arg1 = its bytes; done: arg1 = error, arg2 = bytes */
		TRY(vreg(lw, &regs));
		if (i == 0 || (ap == AP_IO_DONE && i < 3)) {
			E(.op = IR_CTX, .d = regs, .imm = 8 * i);
			if (ap == AP_IO_DONE && i == 1) {
				E(.op = IR_ALUI, .d = regs, .a = regs, .alu = BPF_LSH, .imm = 32);
				E(.op = IR_ALUI, .d = regs, .a = regs, .alu = BPF_ARSH, .imm = 32);
			}
			*ret = regs;
			return 0;
		}
		if (ap == AP_IO_DONE || i > 1) {
			E(.op = IR_IMM, .d = regs, .imm = 0);
			*ret = regs;
			return 0;
		}
		TRY(kofs(lw));
		E(.op = IR_CTX, .d = regs, .imm = 0);
		TRY(kread(lw, regs, lw->p->kofs.rq_data_len, 4, &dst));
		return settle(lw, regs, dst, ret);
	case AP_SCHED_EXEC:
	case AP_SCHED_EXIT:
	case AP_SCHED_FORK:
		TRY(vreg(lw, ret));
		if (i > 2 || (ap == AP_SCHED_EXIT && i > 0) || (ap == AP_SCHED_FORK && i > 1))
			E(.op = IR_IMM, .d = *ret, .imm = 0);
		else
			E(.op = IR_CTX, .d = *ret, .imm = 8 * i);
		(void)src;
		return 0;
	default:
		return imm(lw, 0, ret);
	}
}

static int
lower_builtin(struct lower *lw, struct tnode *n, int *ret)
{
	unsigned off;
	int d;

	switch (n->sym) {
	case BI_PID:
	case BI_TID:
		if (!lw->oncpu)
			goto helper;
		TRY(kofs(lw));
		TRY(task(lw, &d));
		TRY(kread(lw, d, n->sym == BI_PID ? lw->p->kofs.task_tgid : lw->p->kofs.task_pid, 4,
		          ret));
		return settle(lw, d, *ret, ret);
	case BI_PPID: {
		int par;

		TRY(kofs(lw));
		TRY(task(lw, &d));
		TRY(kread(lw, d, lw->p->kofs.task_real_parent, 8, &par));
		TRY(kread(lw, par, lw->p->kofs.task_tgid, 4, ret));
		return settle(lw, d, *ret, ret);
	}
	case BI_VTIMESTAMP: {
		int v;

		TRY(kofs(lw));
		TRY(task(lw, &d));
		TRY(kread(lw, d, lw->p->kofs.task_se + lw->p->kofs.se_sum_exec_runtime, 8, &v));
		return settle(lw, d, v, ret);
	}
	case BI_ERRNO: {
		int ok = label(lw);

		/* the return probes' error: -(return value) when it is in [-4095, -1] */
		TRY(vreg(lw, ret));
		E(.op = IR_IMM, .d = *ret, .imm = 0);
		if (lw->ip->point != AP_SYS_EXIT)
			return 0;
		TRY(vreg(lw, &d));
		E(.op = IR_CTX, .d = d, .imm = 8);
		E(.op = IR_JCCI, .a = d, .alu = BPF_JSGE, .imm = 0, .label = ok);
		E(.op = IR_JCCI, .a = d, .alu = BPF_JSLT, .imm = -4095, .label = ok);
		E(.op = IR_NEG, .d = *ret, .a = d);
		E(.op = IR_LABEL, .label = ok);
		lw->ip->vreg_next = *ret + 1;
		return 0;
	}
	case BI_UID:
	case BI_GID:
helper:
		TRY(vreg(lw, &d));
		TRY(call(lw, d,
		         n->sym == BI_PID || n->sym == BI_TID ? BPF_FUNC_get_current_pid_tgid
		                                              : BPF_FUNC_get_current_uid_gid,
		         MAP_NONE, 0, NULL));
		if (n->sym == BI_PID || n->sym == BI_GID) {
			E(.op = IR_ALUI, .d = d, .a = d, .alu = BPF_RSH, .imm = 32);
		} else {
			E(.op = IR_ALUI, .d = d, .a = d, .alu = BPF_LSH, .imm = 32);
			E(.op = IR_ALUI, .d = d, .a = d, .alu = BPF_RSH, .imm = 32);
		}
		*ret = d;
		return 0;
	case BI_CPU:
		TRY(vreg(lw, ret));
		return call(lw, *ret, BPF_FUNC_get_smp_processor_id, MAP_NONE, 0, NULL);
	case BI_TIMESTAMP:
	case BI_WALLTIMESTAMP:
		TRY(vreg(lw, ret));
		TRY(call(lw, *ret, BPF_FUNC_ktime_get_ns, MAP_NONE, 0, NULL));
		if (n->sym == BI_WALLTIMESTAMP) {
			struct timespec rt, mono;
			int t;

			clock_gettime(CLOCK_REALTIME, &rt);
			clock_gettime(CLOCK_MONOTONIC, &mono);
			TRY(imm(lw,
			        (rt.tv_sec - mono.tv_sec) * 1000000000LL +
			                (rt.tv_nsec - mono.tv_nsec),
			        &t));
			E(.op = IR_ALU, .d = *ret, .a = *ret, .b = t, .alu = BPF_ADD);
			lw->ip->vreg_next--;
		}
		return 0;
	case BI_CGROUP:
		TRY(vreg(lw, ret));
		return call(lw, *ret, BPF_FUNC_get_current_cgroup_id, MAP_NONE, 0, NULL);
	case BI_PROBEPROV:
	case BI_PROBEMOD:
	case BI_PROBEFUNC:
	case BI_PROBENAME:
		TRY(vreg(lw, ret));
		E(.op = IR_MOV, .d = *ret, .a = V_PROBE);
		return 0;
	case BI_EXECNAME: {
		int sz, t;

		TRY(region(lw, 16, &off));
		TRY(scr(lw, off, ret));
		TRY(imm(lw, 16, &sz));
		if (lw->oncpu) {
			TRY(kofs(lw));
			TRY(task(lw, &t));
			E(.op = IR_ALUI, .d = t, .a = t, .alu = BPF_ADD,
			  .imm = lw->p->kofs.task_comm);
			TRY(call(lw, -1, BPF_FUNC_probe_read_kernel, MAP_NONE, 3,
			         (int[]){*ret, sz, t}));
		} else {
			TRY(call(lw, -1, BPF_FUNC_get_current_comm, MAP_NONE, 2,
			         (int[]){*ret, sz}));
		}
		lw->ip->vreg_next = *ret + 1;
		return 0;
	}
	case BI_ZONENAME: {
		int key, t, v, done = label(lw), global = label(lw);

		TRY(region(lw, 64, &off));
		TRY(scr(lw, off, ret));
		TRY(vreg(lw, &t));
		TRY(call(lw, t, BPF_FUNC_get_current_cgroup_id, MAP_NONE, 0, NULL));
		TRY(region(lw, 8, &off));
		TRY(scr(lw, off, &key));
		E(.op = IR_STORE, .a = key, .b = t, .imm = 0, .size = 8);
		TRY(vreg(lw, &v));
		TRY(call(lw, v, BPF_FUNC_map_lookup_elem, MAP_ZONES, 1, (int[]){key}));
		E(.op = IR_JCCI, .a = v, .alu = BPF_JEQ, .imm = 0, .label = global);
		TRY(copy(lw, *ret, 0, 64, v, 64));
		E(.op = IR_JMP, .label = done);
		E(.op = IR_LABEL, .label = global);
		TRY(copy(lw, *ret, 0, 64, -1, 0));
		E(.op = IR_IMM, .d = t, .imm = 0x6c61626f6c67); /* "global" */
		E(.op = IR_STORE, .a = *ret, .b = t, .imm = 0, .size = 8);
		E(.op = IR_LABEL, .label = done);
		lw->ip->vreg_next = *ret + 1;
		return 0;
	}
	default:
		if (n->sym >= BI_ARG0 && n->sym < BI_ARG0 + 10)
			return lower_arg(lw, n->sym - BI_ARG0, ret);
		return trace_error(lw->p, lw->reterr, n->line, n->col, "'%s' is not supported yet",
		                   n->name);
	}
}

/* Build a key in scratch from an expression list (ints 8 bytes, strings their key size). */
static int
lower_key(struct lower *lw, const struct sym *s, struct tnode *keys, int *ret)
{
	unsigned off, pos = 0;
	int k = 0, mark;

	TRY(region(lw, MAX(s->keylen, 8u), &off));
	TRY(scr(lw, off, ret));
	if (!keys)
		E(.op = IR_STI, .a = *ret, .imm = 0, .imm2 = 0, .size = 8);
	mark = lw->ip->vreg_next;
	for (struct tnode *n = keys; n; n = n->next, k++) {
		int v;

		TRY(lower_expr(lw, n, &v));
		if (s->key_type[k] == TY_STRING)
			TRY(copy(lw, *ret, pos, s->key_size[k], v, n->size));
		else
			E(.op = IR_STORE, .a = *ret, .b = v, .imm = pos, .size = 8);
		pos += s->key_size[k];
		lw->ip->vreg_next = mark;
	}
	return 0;
}

static int
self_key(struct lower *lw, int *ret)
{
	unsigned off;
	int t;

	TRY(region(lw, 8, &off));
	TRY(scr(lw, off, ret));
	TRY(vreg(lw, &t));
	TRY(call(lw, t, BPF_FUNC_get_current_pid_tgid, MAP_NONE, 0, NULL));
	E(.op = IR_STORE, .a = *ret, .b = t, .imm = 0, .size = 8);
	lw->ip->vreg_next--;
	return 0;
}

/* The address of a variable's storage (globals, this->), or of its map entry (or NULL). */
static int
var_addr(struct lower *lw, struct tnode *n, int *ret_ptr, int *ret_key)
{
	struct sym *s = &lw->p->syms[n->sym];

	*ret_key = -1;
	switch (s->kind) {
	case SYM_GLOBAL:
		TRY(vreg(lw, ret_ptr));
		E(.op = IR_GLB, .d = *ret_ptr, .imm = s->offset);
		return 0;
	case SYM_THIS:
		return scr(lw, s->offset, ret_ptr);
	case SYM_ASSOC:
	case SYM_SELF:
		if (s->kind == SYM_ASSOC)
			TRY(lower_key(lw, s, n->args, ret_key));
		else
			TRY(self_key(lw, ret_key));
		TRY(vreg(lw, ret_ptr));
		return call(lw, *ret_ptr, BPF_FUNC_map_lookup_elem, MAP_SYM + n->sym, 1,
		            (int[]){*ret_key});
	default:
		return -EINVAL;
	}
}

static int
lower_var(struct lower *lw, struct tnode *n, int *ret)
{
	struct sym *s = &lw->p->syms[n->sym];
	int ptr, key, out = label(lw), none = label(lw);
	unsigned off;

	TRY(var_addr(lw, n, &ptr, &key));
	if (key < 0) {
		if (s->type == TY_STRING) {
			*ret = ptr;
			return 0;
		}
		E(.op = IR_LOAD, .d = ptr, .a = ptr, .imm = 0, .size = 8);
		*ret = ptr;
		return 0;
	}
	/* a map entry: missing reads as 0 or "" */
	E(.op = IR_JCCI, .a = ptr, .alu = BPF_JEQ, .imm = 0, .label = none);
	if (s->type == TY_STRING) {
		TRY(region(lw, s->size, &off));
		TRY(scr(lw, off, ret));
		TRY(copy(lw, *ret, 0, s->size, ptr, s->size));
		E(.op = IR_JMP, .label = out);
		E(.op = IR_LABEL, .label = none);
		TRY(copy(lw, *ret, 0, s->size, -1, 0));
	} else {
		TRY(vreg(lw, ret));
		E(.op = IR_LOAD, .d = *ret, .a = ptr, .imm = 0, .size = 8);
		E(.op = IR_JMP, .label = out);
		E(.op = IR_LABEL, .label = none);
		E(.op = IR_IMM, .d = *ret, .imm = 0);
	}
	E(.op = IR_LABEL, .label = out);
	return 0;
}

static int
store_var(struct lower *lw, struct tnode *target, int value, unsigned vsize)
{
	struct sym *s = &lw->p->syms[target->sym];
	int ptr, key, mark = lw->ip->vreg_next;

	if (s->kind == SYM_GLOBAL || s->kind == SYM_THIS) {
		TRY(var_addr(lw, target, &ptr, &key));
		if (s->type == TY_STRING)
			TRY(copy(lw, ptr, 0, s->size, value, vsize));
		else
			E(.op = IR_STORE, .a = ptr, .b = value, .imm = 0, .size = 8);
	} else {
		int flags, val, del = label(lw), done = label(lw);
		unsigned off;

		if (s->kind == SYM_ASSOC)
			TRY(lower_key(lw, s, target->args, &key));
		else
			TRY(self_key(lw, &key));
		TRY(region(lw, s->size, &off));
		TRY(scr(lw, off, &val));
		if (s->type == TY_STRING) {
			TRY(copy(lw, val, 0, s->size, value, vsize));
		} else {
			/* D frees a dynamic variable assigned zero */
			E(.op = IR_JCCI, .a = value, .alu = BPF_JEQ, .imm = 0, .label = del);
			E(.op = IR_STORE, .a = val, .b = value, .imm = 0, .size = 8);
		}
		TRY(imm(lw, BPF_ANY, &flags));
		TRY(call(lw, -1, BPF_FUNC_map_update_elem, MAP_SYM + target->sym, 3,
		         (int[]){key, val, flags}));
		E(.op = IR_JMP, .label = done);
		E(.op = IR_LABEL, .label = del);
		TRY(call(lw, -1, BPF_FUNC_map_delete_elem, MAP_SYM + target->sym, 1, (int[]){key}));
		E(.op = IR_LABEL, .label = done);
	}
	lw->ip->vreg_next = mark;
	return 0;
}

static int
alu_of(const char *op)
{
	static const struct {
		const char *op;
		int alu;
	} t[] = {{"+", BPF_ADD}, {"-", BPF_SUB}, {"*", BPF_MUL}, {"/", BPF_DIV},  {"%", BPF_MOD},
	         {"&", BPF_AND}, {"|", BPF_OR},  {"^", BPF_XOR}, {"<<", BPF_LSH}, {">>", BPF_ARSH}};

	for (size_t i = 0; i < ELEMENTSOF(t); i++)
		if (strncmp(op, t[i].op, strlen(t[i].op)) == 0 &&
		    (op[strlen(t[i].op)] == 0 || op[strlen(t[i].op)] == '='))
			return t[i].alu;
	return -1;
}

static int
jcc_of(const char *op, bool is_signed)
{
	if (streq(op, "=="))
		return BPF_JEQ;
	if (streq(op, "!="))
		return BPF_JNE;
	if (streq(op, "<"))
		return is_signed ? BPF_JSLT : BPF_JLT;
	if (streq(op, ">"))
		return is_signed ? BPF_JSGT : BPF_JGT;
	if (streq(op, "<="))
		return is_signed ? BPF_JSLE : BPF_JLE;
	return is_signed ? BPF_JSGE : BPF_JGE;
}

/* d = (a == b) for strings, word by word */
static int
lower_streq(struct lower *lw, int a, unsigned asz, int b, unsigned bsz, int d)
{
	int ta, tb, ne = label(lw), out = label(lw);

	TRY(vreg(lw, &ta));
	TRY(vreg(lw, &tb));
	for (unsigned i = 0; i < MAX(asz, bsz); i += 8) {
		if (i < asz)
			E(.op = IR_LOAD, .d = ta, .a = a, .imm = i, .size = 8);
		else
			E(.op = IR_IMM, .d = ta, .imm = 0);
		if (i < bsz)
			E(.op = IR_LOAD, .d = tb, .a = b, .imm = i, .size = 8);
		else
			E(.op = IR_IMM, .d = tb, .imm = 0);
		E(.op = IR_JCC, .a = ta, .b = tb, .alu = BPF_JNE, .label = ne);
	}
	E(.op = IR_IMM, .d = d, .imm = 1);
	E(.op = IR_JMP, .label = out);
	E(.op = IR_LABEL, .label = ne);
	E(.op = IR_IMM, .d = d, .imm = 0);
	E(.op = IR_LABEL, .label = out);
	return 0;
}

/*
 * d = a op b. '/' and '%' are signed when both operands are (C's rules:
 * D's 64-bit unsigned values make them unsigned), done on magnitudes with
 * the sign put back, since older kernels' BPF has no signed division; a
 * zero divisor is DTrace's divide-by-zero fault.
 */
static int
lower_arith(struct lower *lw, int d, int a, int b, int alu, bool sgn, const struct tnode *divisor)
{
	int ua, ub, t, mark = lw->ip->vreg_next;

	if (alu != BPF_DIV && alu != BPF_MOD) {
		E(.op = IR_ALU, .d = d, .a = a, .b = b, .alu = alu);
		return 0;
	}
	if (!divisor || divisor->kind != N_INT || divisor->num == 0) {
		int ok = label(lw);

		E(.op = IR_JCCI, .a = b, .alu = BPF_JNE, .imm = 0, .label = ok);
		TRY(lower_fault(lw, FLT_DIVZERO, -1));
		E(.op = IR_LABEL, .label = ok);
	}
	if (!sgn) {
		E(.op = IR_ALU, .d = d, .a = a, .b = b, .alu = alu);
		return 0;
	}
	TRY(vreg(lw, &ua));
	TRY(vreg(lw, &ub));
	TRY(vreg(lw, &t));
	for (int i = 0; i < 2; i++) {
		int v = i ? ub : ua, pos = label(lw);

		E(.op = IR_MOV, .d = v, .a = i ? b : a);
		E(.op = IR_JCCI, .a = v, .alu = BPF_JSGE, .imm = 0, .label = pos);
		E(.op = IR_NEG, .d = v, .a = v);
		E(.op = IR_LABEL, .label = pos);
	}
	E(.op = IR_ALU, .d = ua, .a = ua, .b = ub, .alu = alu);
	/* the quotient is negative when the signs differ, the remainder takes the dividend's */
	if (alu == BPF_DIV)
		E(.op = IR_ALU, .d = t, .a = a, .b = b, .alu = BPF_XOR);
	else
		E(.op = IR_MOV, .d = t, .a = a);
	{
		int pos = label(lw);

		E(.op = IR_JCCI, .a = t, .alu = BPF_JSGE, .imm = 0, .label = pos);
		E(.op = IR_NEG, .d = ua, .a = ua);
		E(.op = IR_LABEL, .label = pos);
	}
	E(.op = IR_MOV, .d = d, .a = ua);
	lw->ip->vreg_next = mark;
	return 0;
}

static bool
signed_operand(const struct tnode *n)
{
	return n->is_signed || n->size < 8;
}

/*
 * probefunc == "read" (and the other probe names): the probe ID is known
 * to be one of the clause's probes, so the comparison is with the IDs of
 * those whose name matches, decided here.
 */
static int
lower_pstr_compare(struct lower *lw, struct tnode *n, int *ret)
{
	struct tnode *ps = n->a->pstr ? n->a : n->b, *str = n->a->pstr ? n->b : n->a;
	const struct probe *v = lw->p->cprobes[lw->clause];
	int d, out = label(lw), hit = label(lw);
	bool eq = streq(n->op, "==");
	size_t hits = 0;

	TRY(vreg(lw, &d));
	for (size_t i = 0; i < lw->p->n_cprobes[lw->clause]; i++) {
		const char *name = ps->pstr == BI_PROBEPROV   ? probe_provider_name(&v[i])
		                   : ps->pstr == BI_PROBEMOD  ? v[i].mod
		                   : ps->pstr == BI_PROBEFUNC ? v[i].func
		                                              : v[i].name;

		if (streq(name, str->name)) {
			E(.op = IR_JCCI, .a = V_PROBE, .alu = BPF_JEQ, .imm = v[i].id,
			  .label = hit);
			hits++;
		}
	}
	E(.op = IR_IMM, .d = d, .imm = !eq);
	if (!hits) {
		*ret = d; /* no probe has that name: no code the verifier would find unreachable */
		return 0;
	}
	E(.op = IR_JMP, .label = out);
	E(.op = IR_LABEL, .label = hit);
	E(.op = IR_IMM, .d = d, .imm = eq);
	E(.op = IR_LABEL, .label = out);
	*ret = d;
	return 0;
}

static int
lower_binary(struct lower *lw, struct tnode *n, int *ret)
{
	int a, b, d, mark;

	if ((n->a->pstr || n->b->pstr) && (streq(n->op, "==") || streq(n->op, "!=")))
		return lower_pstr_compare(lw, n, ret);

	if (streq(n->op, "&&") || streq(n->op, "||")) {
		int out = label(lw);

		TRY(vreg(lw, &d));
		mark = lw->ip->vreg_next;
		E(.op = IR_IMM, .d = d, .imm = streq(n->op, "||"));
		TRY(lower_expr(lw, n->a, &a));
		E(.op = IR_JCCI, .a = a, .alu = streq(n->op, "||") ? BPF_JNE : BPF_JEQ, .imm = 0,
		  .label = out);
		lw->ip->vreg_next = mark;
		TRY(lower_expr(lw, n->b, &b));
		E(.op = IR_IMM, .d = d, .imm = 1);
		E(.op = IR_JCCI, .a = b, .alu = BPF_JNE, .imm = 0, .label = out);
		E(.op = IR_IMM, .d = d, .imm = 0);
		E(.op = IR_LABEL, .label = out);
		lw->ip->vreg_next = d + 1;
		*ret = d;
		return 0;
	}
	TRY(vreg(lw, &d));
	TRY(lower_expr(lw, n->a, &a));
	TRY(lower_expr(lw, n->b, &b));
	if (n->a->type == TY_STRING) {
		TRY(lower_streq(lw, a, n->a->size, b, n->b->size, d));
		if (streq(n->op, "!="))
			E(.op = IR_ALUI, .d = d, .a = d, .alu = BPF_XOR, .imm = 1);
	} else if (alu_of(n->op) >= 0) {
		TRY(lower_arith(lw, d, a, b, alu_of(n->op),
		                signed_operand(n->a) && signed_operand(n->b), n->b));
	} else if (streq(n->op, "^^")) {
		int t = label(lw), u = label(lw);

		E(.op = IR_JCCI, .a = a, .alu = BPF_JEQ, .imm = 0, .label = t);
		E(.op = IR_IMM, .d = a, .imm = 1);
		E(.op = IR_LABEL, .label = t);
		E(.op = IR_JCCI, .a = b, .alu = BPF_JEQ, .imm = 0, .label = u);
		E(.op = IR_IMM, .d = b, .imm = 1);
		E(.op = IR_LABEL, .label = u);
		E(.op = IR_ALU, .d = d, .a = a, .b = b, .alu = BPF_XOR);
	} else {
		int t = label(lw);
		bool sgn = n->a->is_signed || n->b->is_signed;

		E(.op = IR_IMM, .d = d, .imm = 1);
		E(.op = IR_JCC, .a = a, .b = b, .alu = jcc_of(n->op, sgn), .label = t);
		E(.op = IR_IMM, .d = d, .imm = 0);
		E(.op = IR_LABEL, .label = t);
	}
	lw->ip->vreg_next = d + 1;
	*ret = d;
	return 0;
}

static int
lower_strfunc(struct lower *lw, struct tnode *n, int *ret)
{
	unsigned off;
	int a, b, sz, len, t;

	switch (n->sym) {
	case FN_STRINGOF:
		return lower_expr(lw, n->args, ret);
	case FN_COPYINSTR:
		TRY(region(lw, n->size, &off));
		TRY(scr(lw, off, ret));
		TRY(copy(lw, *ret, 0, n->size, -1, 0));
		TRY(lower_expr(lw, n->args, &a));
		TRY(imm(lw, n->size, &sz));
		TRY(vreg(lw, &len));
		TRY(call(lw, len, BPF_FUNC_probe_read_user_str, MAP_NONE, 3, (int[]){*ret, sz, a}));
		{
			int ok = label(lw);

			E(.op = IR_JCCI, .a = len, .alu = BPF_JSGE, .imm = 0, .label = ok);
			TRY(lower_fault(lw, FLT_BADADDR, a));
			E(.op = IR_LABEL, .label = ok);
		}
		lw->ip->vreg_next = *ret + 1;
		return 0;
	case FN_STACK:
	case FN_USTACK: {
		int flags;

		/* a stack map ID; ustack's carries the pid above it, for its symbols */
		lw->p->uses_stacks = true;
		TRY(vreg(lw, ret));
		TRY(imm(lw, n->sym == FN_USTACK ? BPF_F_USER_STACK : 0, &flags));
		TRY(call(lw, *ret, BPF_FUNC_get_stackid, MAP_STACKS, 3, (int[]){-2, -3, flags}));
		if (n->sym == FN_USTACK) {
			E(.op = IR_ALUI, .d = *ret, .a = *ret, .alu = BPF_AND, .imm = 0x7fffffff);
			TRY(call(lw, flags, BPF_FUNC_get_current_pid_tgid, MAP_NONE, 0, NULL));
			E(.op = IR_ALUI, .d = flags, .a = flags, .alu = BPF_RSH, .imm = 32);
			E(.op = IR_ALUI, .d = flags, .a = flags, .alu = BPF_LSH, .imm = 32);
			E(.op = IR_ALU, .d = *ret, .a = *ret, .b = flags, .alu = BPF_OR);
		}
		lw->ip->vreg_next = *ret + 1;
		return 0;
	}
	case FN_STRLEN:
		TRY(lower_expr(lw, n->args, &a));
		TRY(region(lw, n->args->size, &off));
		TRY(scr(lw, off, &t));
		TRY(imm(lw, n->args->size, &sz));
		TRY(vreg(lw, &len));
		TRY(call(lw, len, BPF_FUNC_probe_read_kernel_str, MAP_NONE, 3, (int[]){t, sz, a}));
		E(.op = IR_ALUI, .d = len, .a = len, .alu = BPF_SUB, .imm = 1);
		{
			int ok = label(lw);
			E(.op = IR_JCCI, .a = len, .alu = BPF_JSGE, .imm = 0, .label = ok);
			E(.op = IR_IMM, .d = len, .imm = 0);
			E(.op = IR_LABEL, .label = ok);
		}
		E(.op = IR_MOV, .d = a, .a = len);
		lw->ip->vreg_next = a + 1;
		*ret = a;
		return 0;
	case FN_STRJOIN: {
		int ok = label(lw), dst, rem;

		TRY(region(lw, n->size, &off));
		TRY(scr(lw, off, ret));
		TRY(copy(lw, *ret, 0, n->size, -1, 0));
		TRY(lower_expr(lw, n->args, &a));
		TRY(lower_expr(lw, n->args->next, &b));
		TRY(imm(lw, n->size, &sz));
		TRY(vreg(lw, &len));
		TRY(call(lw, len, BPF_FUNC_probe_read_kernel_str, MAP_NONE, 3,
		         (int[]){*ret, sz, a}));
		E(.op = IR_ALUI, .d = len, .a = len, .alu = BPF_SUB, .imm = 1);
		E(.op = IR_JCCI, .a = len, .alu = BPF_JSGE, .imm = 0, .label = ok);
		E(.op = IR_IMM, .d = len, .imm = 0);
		E(.op = IR_LABEL, .label = ok);
		ok = label(lw);
		E(.op = IR_JCCI, .a = len, .alu = BPF_JLE, .imm = n->size - 1, .label = ok);
		E(.op = IR_IMM, .d = len, .imm = n->size - 1);
		E(.op = IR_LABEL, .label = ok);
		TRY(vreg(lw, &dst));
		E(.op = IR_ALU, .d = dst, .a = *ret, .b = len, .alu = BPF_ADD);
		TRY(vreg(lw, &rem));
		E(.op = IR_IMM, .d = rem, .imm = n->size);
		E(.op = IR_ALU, .d = rem, .a = rem, .b = len, .alu = BPF_SUB);
		TRY(call(lw, -1, BPF_FUNC_probe_read_kernel_str, MAP_NONE, 3,
		         (int[]){dst, rem, b}));
		lw->ip->vreg_next = *ret + 1;
		return 0;
	}
	default:
		return trace_error(lw->p, lw->reterr, n->line, n->col, "%s() has no value",
		                   n->name);
	}
}

static int
lower_expr(struct lower *lw, struct tnode *n, int *ret)
{
	int a, d;

	lw->line = n->line;
	switch (n->kind) {
	case N_INT:
		return imm(lw, n->num, ret);
	case N_STR:
		return lower_string_literal(lw, n->name, n->size, ret);
	case N_IDENT:
		if (!n->args && builtin_lookup(n->name) >= 0)
			return lower_builtin(lw, n, ret);
		return lower_var(lw, n, ret);
	case N_SELF:
	case N_THIS:
		return lower_var(lw, n, ret);
	case N_ARGS:
		return lower_arg(lw, (int)n->args->num, ret);
	case N_BINARY:
		return lower_binary(lw, n, ret);
	case N_UNARY:
		TRY(lower_expr(lw, n->a, &a));
		if (streq(n->op, "-"))
			E(.op = IR_NEG, .d = a, .a = a);
		else if (streq(n->op, "~"))
			E(.op = IR_ALUI, .d = a, .a = a, .alu = BPF_XOR, .imm = -1);
		else if (streq(n->op, "!")) {
			int t = label(lw);

			TRY(vreg(lw, &d));
			E(.op = IR_IMM, .d = d, .imm = 1);
			E(.op = IR_JCCI, .a = a, .alu = BPF_JEQ, .imm = 0, .label = t);
			E(.op = IR_IMM, .d = d, .imm = 0);
			E(.op = IR_LABEL, .label = t);
			E(.op = IR_MOV, .d = a, .a = d);
			lw->ip->vreg_next = a + 1;
		}
		*ret = a;
		return 0;
	case N_TERNARY: {
		int els = label(lw), out = label(lw), v;

		TRY(vreg(lw, &d));
		TRY(lower_expr(lw, n->a, &a));
		E(.op = IR_JCCI, .a = a, .alu = BPF_JEQ, .imm = 0, .label = els);
		lw->ip->vreg_next = d + 1;
		TRY(lower_expr(lw, n->b, &v));
		E(.op = IR_MOV, .d = d, .a = v);
		E(.op = IR_JMP, .label = out);
		E(.op = IR_LABEL, .label = els);
		lw->ip->vreg_next = d + 1;
		TRY(lower_expr(lw, n->c, &v));
		E(.op = IR_MOV, .d = d, .a = v);
		E(.op = IR_LABEL, .label = out);
		lw->ip->vreg_next = d + 1;
		*ret = d;
		return 0;
	}
	case N_ASSIGN:
	case N_INCDEC: {
		int v;

		if (n->kind == N_INCDEC || !streq(n->op, "=")) {
			TRY(lower_expr(lw, n->a, &d));
			if (n->kind == N_INCDEC)
				TRY(imm(lw, 1, &v));
			else
				TRY(lower_expr(lw, n->b, &v));
			TRY(lower_arith(lw, d, d, v,
			                n->kind == N_INCDEC ? (n->op[0] == '+' ? BPF_ADD : BPF_SUB)
			                                    : alu_of(n->op),
			                n->kind == N_ASSIGN && signed_operand(n->b),
			                n->kind == N_ASSIGN ? n->b : NULL));
			lw->ip->vreg_next = d + 1;
		} else {
			TRY(lower_expr(lw, n->b, &d));
		}
		TRY(store_var(lw, n->a, d, n->b ? n->b->size : 8));
		*ret = d;
		return 0;
	}
	case N_CALL:
		return lower_strfunc(lw, n, ret);
	default:
		return trace_error(lw->p, lw->reterr, n->line, n->col, "cannot lower this here");
	}
}

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
	TRY(region(lw, size, &off));
	TRY(scr(lw, off, &rec));
	TRY(vreg(lw, &t));
	E(.op = IR_STI, .a = rec, .imm = 0, .imm2 = act, .size = 4);
	TRY(call(lw, t, BPF_FUNC_get_smp_processor_id, MAP_NONE, 0, NULL));
	E(.op = IR_STORE, .a = rec, .b = t, .imm = 4, .size = 4);
	E(.op = IR_STORE, .a = rec, .b = V_PROBE, .imm = 8, .size = 8);
	mark = lw->ip->vreg_next;
	size = sizeof(struct trace_rec);
	for (struct tnode *x = args; x; x = x->next, i++) {
		int v;

		TRY(lower_expr(lw, x, &v));
		lw->p->actions[act].arg_type[i] = x->type;
		lw->p->actions[act].arg_size[i] = x->type == TY_STRING ? x->size : x->size;
		lw->p->actions[act].arg_signed[i] = x->is_signed;
		lw->p->actions[act].arg_pstr[i] = x->pstr;
		if (x->type == TY_STRING) {
			TRY(copy(lw, rec, size, x->size, v, x->size));
			size += x->size;
		} else {
			E(.op = IR_STORE, .a = rec, .b = v, .imm = size, .size = 8);
			size += 8;
		}
		lw->ip->vreg_next = mark;
	}
	lw->p->actions[act].n_args = i;
	TRY(imm(lw, size, &sz));
	TRY(imm(lw, 0, &flags));
	return call(lw, -1, BPF_FUNC_ringbuf_output, MAP_RB, 3, (int[]){rec, sz, flags});
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
		return lower_expr(lw, n, &v);
	}
	}
}

/* @a[keys] = func(args) */
static int
lower_agg(struct lower *lw, struct tnode *n)
{
	struct sym *s = &lw->p->syms[n->a->sym];
	struct tnode *arg = n->b->args;
	int key, ptr, val, flags, x = -1, t, have = label(lw), out = label(lw);
	int map = MAP_SYM + n->a->sym;
	unsigned off;

	TRY(lower_key(lw, s, n->a->args, &key));
	if (arg)
		TRY(lower_expr(lw, arg, &x));
	TRY(vreg(lw, &ptr));
	TRY(call(lw, ptr, BPF_FUNC_map_lookup_elem, map, 1, (int[]){key}));
	E(.op = IR_JCCI, .a = ptr, .alu = BPF_JNE, .imm = 0, .label = have);
	TRY(region(lw, s->vallen, &off));
	TRY(scr(lw, off, &val));
	TRY(copy(lw, val, 0, s->vallen, -1, 0));
	TRY(imm(lw, BPF_NOEXIST, &flags));
	TRY(call(lw, -1, BPF_FUNC_map_update_elem, map, 3, (int[]){key, val, flags}));
	TRY(call(lw, ptr, BPF_FUNC_map_lookup_elem, map, 1, (int[]){key}));
	E(.op = IR_JCCI, .a = ptr, .alu = BPF_JEQ, .imm = 0, .label = out);
	E(.op = IR_LABEL, .label = have);
	TRY(vreg(lw, &t));
	switch (s->func) {
	case AGG_COUNT:
	case AGG_SUM:
	case AGG_AVG:
	case AGG_STDDEV:
		E(.op = IR_LOAD, .d = t, .a = ptr, .imm = 0, .size = 8);
		if (s->func == AGG_SUM) {
			E(.op = IR_ALU, .d = t, .a = t, .b = x, .alu = BPF_ADD);
		} else {
			E(.op = IR_ALUI, .d = t, .a = t, .alu = BPF_ADD, .imm = 1);
		}
		E(.op = IR_STORE, .a = ptr, .b = t, .imm = 0, .size = 8);
		if (s->func == AGG_AVG || s->func == AGG_STDDEV) {
			E(.op = IR_LOAD, .d = t, .a = ptr, .imm = 8, .size = 8);
			E(.op = IR_ALU, .d = t, .a = t, .b = x, .alu = BPF_ADD);
			E(.op = IR_STORE, .a = ptr, .b = t, .imm = 8, .size = 8);
		}
		if (s->func == AGG_STDDEV) {
			int sq;

			TRY(vreg(lw, &sq));
			E(.op = IR_ALU, .d = sq, .a = x, .b = x, .alu = BPF_MUL);
			E(.op = IR_LOAD, .d = t, .a = ptr, .imm = 16, .size = 8);
			E(.op = IR_ALU, .d = t, .a = t, .b = sq, .alu = BPF_ADD);
			E(.op = IR_STORE, .a = ptr, .b = t, .imm = 16, .size = 8);
		}
		break;
	case AGG_MIN:
	case AGG_MAX: {
		int set = label(lw), skip = label(lw);

		E(.op = IR_LOAD, .d = t, .a = ptr, .imm = 0, .size = 8);
		E(.op = IR_JCCI, .a = t, .alu = BPF_JEQ, .imm = 0, .label = set);
		E(.op = IR_LOAD, .d = t, .a = ptr, .imm = 8, .size = 8);
		E(.op = IR_JCC, .a = x, .b = t, .alu = s->func == AGG_MIN ? BPF_JSGE : BPF_JSLE,
		  .label = skip);
		E(.op = IR_LABEL, .label = set);
		E(.op = IR_STORE, .a = ptr, .b = x, .imm = 8, .size = 8);
		E(.op = IR_LABEL, .label = skip);
		E(.op = IR_LOAD, .d = t, .a = ptr, .imm = 0, .size = 8);
		E(.op = IR_ALUI, .d = t, .a = t, .alu = BPF_ADD, .imm = 1);
		E(.op = IR_STORE, .a = ptr, .b = t, .imm = 0, .size = 8);
		break;
	}
	case AGG_QUANTIZE: {
		int idx, l, v, pos = label(lw), neg = label(lw), have_idx = label(lw);

		TRY(vreg(lw, &idx));
		TRY(vreg(lw, &l));
		TRY(vreg(lw, &v));
		E(.op = IR_IMM, .d = idx, .imm = QUANT_ZERO);
		E(.op = IR_JCCI, .a = x, .alu = BPF_JEQ, .imm = 0, .label = have_idx);
		E(.op = IR_MOV, .d = v, .a = x);
		E(.op = IR_JCCI, .a = x, .alu = BPF_JSGT, .imm = 0, .label = pos);
		E(.op = IR_NEG, .d = v, .a = v);
		E(.op = IR_LABEL, .label = pos);
		E(.op = IR_IMM, .d = l, .imm = 0);
		for (int sh = 32; sh >= 1; sh /= 2) {
			int skip = label(lw);

			E(.op = IR_ALUI, .d = t, .a = v, .alu = BPF_RSH, .imm = sh);
			E(.op = IR_JCCI, .a = t, .alu = BPF_JEQ, .imm = 0, .label = skip);
			E(.op = IR_MOV, .d = v, .a = t);
			E(.op = IR_ALUI, .d = l, .a = l, .alu = BPF_ADD, .imm = sh);
			E(.op = IR_LABEL, .label = skip);
		}
		E(.op = IR_JCCI, .a = x, .alu = BPF_JSLT, .imm = 0, .label = neg);
		E(.op = IR_ALUI, .d = idx, .a = l, .alu = BPF_ADD, .imm = QUANT_ZERO + 1);
		E(.op = IR_JMP, .label = have_idx);
		E(.op = IR_LABEL, .label = neg);
		E(.op = IR_IMM, .d = idx, .imm = QUANT_ZERO - 1);
		E(.op = IR_ALU, .d = idx, .a = idx, .b = l, .alu = BPF_SUB);
		E(.op = IR_LABEL, .label = have_idx);
		E(.op = IR_JCCI, .a = idx, .alu = BPF_JGT, .imm = QUANT_BUCKETS - 1, .label = out);
		E(.op = IR_ALUI, .d = idx, .a = idx, .alu = BPF_LSH, .imm = 3);
		E(.op = IR_ALU, .d = ptr, .a = ptr, .b = idx, .alu = BPF_ADD);
		E(.op = IR_LOAD, .d = t, .a = ptr, .imm = 0, .size = 8);
		E(.op = IR_ALUI, .d = t, .a = t, .alu = BPF_ADD, .imm = 1);
		E(.op = IR_STORE, .a = ptr, .b = t, .imm = 0, .size = 8);
		break;
	}
	case AGG_LQUANTIZE: {
		int levels = (int)((s->lq_limit - s->lq_base) / s->lq_step);
		int idx, bound, have_idx = label(lw);

		TRY(vreg(lw, &idx));
		TRY(vreg(lw, &bound));
		E(.op = IR_IMM, .d = idx, .imm = 0);
		E(.op = IR_IMM, .d = bound, .imm = s->lq_base);
		E(.op = IR_JCC, .a = x, .b = bound, .alu = BPF_JSLT, .label = have_idx);
		E(.op = IR_IMM, .d = idx, .imm = levels + 1);
		E(.op = IR_IMM, .d = bound, .imm = s->lq_limit);
		E(.op = IR_JCC, .a = x, .b = bound, .alu = BPF_JSGE, .label = have_idx);
		E(.op = IR_IMM, .d = bound, .imm = s->lq_base);
		E(.op = IR_ALU, .d = idx, .a = x, .b = bound, .alu = BPF_SUB);
		E(.op = IR_IMM, .d = bound, .imm = s->lq_step);
		E(.op = IR_ALU, .d = idx, .a = idx, .b = bound, .alu = BPF_DIV);
		E(.op = IR_ALUI, .d = idx, .a = idx, .alu = BPF_ADD, .imm = 1);
		E(.op = IR_LABEL, .label = have_idx);
		E(.op = IR_JCCI, .a = idx, .alu = BPF_JGT, .imm = levels + 1, .label = out);
		E(.op = IR_ALUI, .d = idx, .a = idx, .alu = BPF_LSH, .imm = 3);
		E(.op = IR_ALU, .d = ptr, .a = ptr, .b = idx, .alu = BPF_ADD);
		E(.op = IR_LOAD, .d = t, .a = ptr, .imm = 0, .size = 8);
		E(.op = IR_ALUI, .d = t, .a = t, .alu = BPF_ADD, .imm = 1);
		E(.op = IR_STORE, .a = ptr, .b = t, .imm = 0, .size = 8);
		break;
	}
	default:
		break;
	}
	E(.op = IR_LABEL, .label = out);
	return 0;
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
			TRY(lower_expr(lw, n->a, &v));
		break;
	case S_AGG:
		TRY(lower_agg(lw, n));
		break;
	case S_BLOCK:
		TRY(lower_stmts(lw, n->a, clause));
		break;
	case S_IF: {
		int els = label(lw), out = label(lw);

		TRY(lower_expr(lw, n->a, &v));
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

		TRY(region(lw, 8, &off));
		TRY(scr(lw, off, &dst));
		TRY(imm(lw, 8, &sz));
		TRY(vreg(lw, &regs));
		E(.op = IR_CTX, .d = regs, .imm = 0);
		E(.op = IR_ALUI, .d = regs, .a = regs, .alu = BPF_ADD, .imm = 120); /* orig_ax */
		TRY(call(lw, -1, BPF_FUNC_probe_read_kernel, MAP_NONE, 3, (int[]){dst, sz, regs}));
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

static int
lower_clause(struct lower *lw, struct tnode *c)
{
	enum attach_point ap = lw->ip->point;
	size_t n = lw->p->n_cprobes[c->index], k = 0;
	struct probe *v = lw->p->cprobes[c->index];
	int body = label(lw), end = label(lw), pv;
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
		TRY(lower_expr(lw, c->pred, &pv));
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

/* Where variables live: globals in one array map value, this-> in scratch. */
static int
layout(struct hv_trace_program *p, unsigned *this_size)
{
	unsigned g = 0, t = 0;

	for (size_t i = 0; i < p->n_syms; i++) {
		struct sym *s = &p->syms[i];
		unsigned size = s->type == TY_STRING ? s->size : 8;

		s->size = size;
		if (s->kind == SYM_GLOBAL) {
			s->offset = g;
			g += size;
		} else if (s->kind == SYM_THIS) {
			s->offset = t;
			t += size;
		} else if (s->kind == SYM_AGG) {
			switch (s->func) {
			case AGG_AVG:
			case AGG_MIN:
			case AGG_MAX:
				s->vallen = 16;
				break;
			case AGG_STDDEV:
				s->vallen = 24;
				break;
			case AGG_QUANTIZE:
				s->vallen = QUANT_BUCKETS * 8;
				break;
			case AGG_LQUANTIZE:
				s->vallen =
				        (unsigned)((s->lq_limit - s->lq_base) / s->lq_step + 2) * 8;
				break;
			default:
				s->vallen = 8;
			}
		}
	}
	p->globals_size = MAX(g, 8u);
	*this_size = t;
	return 0;
}

int
trace_lower(struct hv_trace_program *p, struct hv_error **reterr)
{
	unsigned this_size;
	int r;

	layout(p, &this_size);
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
				if ((r = emit(&lw, (struct irinsn){.op = IR_IMM,
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
				if (here && (r = lower_clause(&lw, c)) < 0)
					return r;
			}
		}
		lw.line = 0;
		if ((r = emit(&lw, (struct irinsn){.op = IR_RET})) < 0)
			return r;
	}
	return 0;
}

/* --- the IR dump --- */

static const char *
alu_name(int alu)
{
	switch (alu) {
	case BPF_ADD:
		return "+";
	case BPF_SUB:
		return "-";
	case BPF_MUL:
		return "*";
	case BPF_DIV:
		return "/";
	case BPF_MOD:
		return "%";
	case BPF_AND:
		return "&";
	case BPF_OR:
		return "|";
	case BPF_XOR:
		return "^";
	case BPF_LSH:
		return "<<";
	case BPF_RSH:
		return ">>";
	case BPF_ARSH:
		return "s>>";
	default:
		return "?";
	}
}

const char *trace_jcc_name(int jcc);
const char *
trace_jcc_name(int jcc)
{
	switch (jcc) {
	case BPF_JEQ:
		return "==";
	case BPF_JNE:
		return "!=";
	case BPF_JGT:
		return ">";
	case BPF_JGE:
		return ">=";
	case BPF_JLT:
		return "<";
	case BPF_JLE:
		return "<=";
	case BPF_JSGT:
		return "s>";
	case BPF_JSGE:
		return "s>=";
	case BPF_JSLT:
		return "s<";
	case BPF_JSLE:
		return "s<=";
	default:
		return "?";
	}
}

const char *trace_map_name(const struct hv_trace_program *p, int code, char *buf, size_t size);
const char *
trace_map_name(const struct hv_trace_program *p, int code, char *buf, size_t size)
{
	static const char *const names[] = {[MAP_RB] = "events",
	                                    [MAP_SCRATCH] = "scratch",
	                                    [MAP_GLOBALS] = "globals",
	                                    [MAP_ZONES] = "zones",
	                                    [MAP_STACKS] = "stacks"};
	if (code >= MAP_SYM) {
		const struct sym *s = &p->syms[code - MAP_SYM];
		snprintf(buf, size, "%s%s%s",
		         s->kind == SYM_AGG    ? "@"
		         : s->kind == SYM_SELF ? "self->"
		                               : "",
		         s->name, s->kind == SYM_ASSOC ? "[]" : "");
	} else if (code > 0 && code <= MAP_STACKS) {
		snprintf(buf, size, "%s", names[code]);
	} else {
		snprintf(buf, size, "?");
	}
	return buf;
}

void
trace_dump_ir(const struct hv_trace_program *p, FILE *f)
{
	for (int ap = 0; ap < _AP_MAX; ap++) {
		const struct irprog *ip = &p->progs[ap];

		if (!ip->used)
			continue;
		fprintf(f, "program %s (%d vregs, %u bytes of scratch)\n", attach_point_name(ap),
		        ip->vreg_max, ip->scratch_next);
		for (size_t i = 0; i < ip->n; i++) {
			const struct irinsn *in = &ip->v[i];
			char m[80];

			if (in->op == IR_LABEL) {
				fprintf(f, "L%d:\n", in->label);
				continue;
			}
			fprintf(f, "\t");
			switch (in->op) {
			case IR_IMM:
				fprintf(f, "v%d = %" PRId64, in->d, in->imm);
				break;
			case IR_MOV:
				fprintf(f, "v%d = v%d", in->d, in->a);
				break;
			case IR_ALU:
				fprintf(f, "v%d = v%d %s v%d", in->d, in->a, alu_name(in->alu),
				        in->b);
				break;
			case IR_ALUI:
				fprintf(f, "v%d = v%d %s %" PRId64, in->d, in->a, alu_name(in->alu),
				        in->imm);
				break;
			case IR_NEG:
				fprintf(f, "v%d = -v%d", in->d, in->a);
				break;
			case IR_JMP:
				fprintf(f, "goto L%d", in->label);
				break;
			case IR_JCC:
				fprintf(f, "if v%d %s v%d goto L%d", in->a, trace_jcc_name(in->alu),
				        in->b, in->label);
				break;
			case IR_JCCI:
				fprintf(f, "if v%d %s %" PRId64 " goto L%d", in->a,
				        trace_jcc_name(in->alu), in->imm, in->label);
				break;
			case IR_CTX:
				fprintf(f, "v%d = ctx[%" PRId64 "]", in->d, in->imm);
				break;
			case IR_SCR:
				fprintf(f, "v%d = &scratch[%" PRId64 "]", in->d, in->imm);
				break;
			case IR_GLB:
				fprintf(f, "v%d = &globals[%" PRId64 "]", in->d, in->imm);
				break;
			case IR_LOAD:
				fprintf(f, "v%d = *(u%d *)(v%d + %" PRId64 ")", in->d, in->size * 8,
				        in->a, in->imm);
				break;
			case IR_STORE:
				fprintf(f, "*(u%d *)(v%d + %" PRId64 ") = v%d", in->size * 8, in->a,
				        in->imm, in->b);
				break;
			case IR_STI:
				fprintf(f, "*(u%d *)(v%d + %" PRId64 ") = %" PRId64, in->size * 8,
				        in->a, in->imm, in->imm2);
				break;
			case IR_CALL: {
				bool map_arg = false;

				if (in->d >= 0)
					fprintf(f, "v%d = ", in->d);
				fprintf(f, "call %" PRId64 "(", in->imm);
				for (int a = 0; a < in->n_args; a++)
					map_arg |= in->args[a] == -3;
				if (in->label && !map_arg)
					fprintf(f, "map %s%s",
					        trace_map_name(p, in->label, m, sizeof(m)),
					        in->n_args ? ", " : "");
				for (int a = 0; a < in->n_args; a++)
					if (in->args[a] == -2)
						fprintf(f, "%sctx", a ? ", " : "");
					else if (in->args[a] == -3)
						fprintf(f, "%smap %s", a ? ", " : "",
						        trace_map_name(p, in->label, m, sizeof(m)));
					else
						fprintf(f, "%sv%d", a ? ", " : "", in->args[a]);
				fprintf(f, ")");
				break;
			}
			case IR_RET:
				fprintf(f, "return 0");
				break;
			default:
				break;
			}
			fprintf(f, "\n");
		}
	}
}
