/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What the lowering's pieces (trace-ir*.c) share: the state of the program
 * being lowered, the builders every piece emits instructions with, and
 * each piece's entry points. The theory is at the top of trace-ir.c.
 */

#include "trace-internal.h"

/* a map's code in IR_CALL's label until load (trace-load.c's list is the same) */
enum { MAP_NONE, MAP_RB, MAP_SCRATCH, MAP_GLOBALS, MAP_ZONES, MAP_STACKS, MAP_SYM = 16 };
/* the prologue's registers: the probe ID, the syscall number; the rest from V_FIRST */
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

#define E(...)                                                            \
	do {                                                              \
		int _r = trace_ir_emit(lw, (struct irinsn){__VA_ARGS__}); \
		if (_r < 0)                                               \
			return _r;                                        \
	} while (0)
#define TRY(x)                     \
	do {                       \
		int _r = (x);      \
		if (_r < 0)        \
			return _r; \
	} while (0)

/* trace-ir.c: instructions, virtual registers, scratch regions, labels */
int trace_ir_emit(struct lower *lw, struct irinsn in);
int trace_ir_vreg(struct lower *lw, int *ret);
int trace_ir_region(struct lower *lw, unsigned size, unsigned *ret);
int trace_ir_label(struct lower *lw);
int trace_ir_call(struct lower *lw, int d, int helper, int map, int n, const int *args);
int trace_ir_imm(struct lower *lw, int64_t v, int *ret);
int trace_ir_scr(struct lower *lw, unsigned off, int *ret);
int trace_ir_copy(struct lower *lw, int dst, unsigned doff, unsigned dsize, int src,
                  unsigned ssize);

/* trace-ir-stmt.c: clauses, statements, actions */
int trace_lower_clause(struct lower *lw, struct tnode *c);
int trace_lower_fault(struct lower *lw, int fault, int addr);

/* trace-ir-expr.c */
int trace_lower_expr(struct lower *lw, struct tnode *n, int *ret);

/* trace-ir-var.c: variables and aggregations */
int trace_layout(struct hv_trace_program *p, unsigned *this_size);
int trace_lower_var(struct lower *lw, struct tnode *n, int *ret);
int trace_store_var(struct lower *lw, struct tnode *target, int value, unsigned vsize);
int trace_lower_agg(struct lower *lw, struct tnode *n);

/* trace-ir-probe.c: args[] and the built-in variables */
int trace_lower_arg(struct lower *lw, int i, int *ret);
int trace_lower_builtin(struct lower *lw, struct tnode *n, int *ret);
