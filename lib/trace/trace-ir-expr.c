/* SPDX-License-Identifier: MIT */
/*
 * Lowering expressions: each leaves its value in a virtual register (a
 * string's is a pointer into scratch). Arithmetic follows C's signedness
 * rules, with DTrace's divide-by-zero fault; strings compare word by word;
 * a comparison of probefunc (or another probe name) with a string is
 * decided here from the clause's probes; the string functions copy
 * through the probe_read_*_str helpers.
 */
#include <string.h>

#include "trace-ir.h"

static int
lower_string_literal(struct lower *lw, const char *s, unsigned size, int *ret)
{
	unsigned off;
	int t;

	TRY(trace_ir_region(lw, size, &off));
	TRY(trace_ir_scr(lw, off, ret));
	TRY(trace_ir_vreg(lw, &t));
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
	int ta, tb, ne = trace_ir_label(lw), out = trace_ir_label(lw);

	TRY(trace_ir_vreg(lw, &ta));
	TRY(trace_ir_vreg(lw, &tb));
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
		int ok = trace_ir_label(lw);

		E(.op = IR_JCCI, .a = b, .alu = BPF_JNE, .imm = 0, .label = ok);
		TRY(trace_lower_fault(lw, FLT_DIVZERO, -1));
		E(.op = IR_LABEL, .label = ok);
	}
	if (!sgn) {
		E(.op = IR_ALU, .d = d, .a = a, .b = b, .alu = alu);
		return 0;
	}
	TRY(trace_ir_vreg(lw, &ua));
	TRY(trace_ir_vreg(lw, &ub));
	TRY(trace_ir_vreg(lw, &t));
	for (int i = 0; i < 2; i++) {
		int v = i ? ub : ua, pos = trace_ir_label(lw);

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
		int pos = trace_ir_label(lw);

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
	int d, out = trace_ir_label(lw), hit = trace_ir_label(lw);
	bool eq = streq(n->op, "==");
	size_t hits = 0;

	TRY(trace_ir_vreg(lw, &d));
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
		int out = trace_ir_label(lw);

		TRY(trace_ir_vreg(lw, &d));
		mark = lw->ip->vreg_next;
		E(.op = IR_IMM, .d = d, .imm = streq(n->op, "||"));
		TRY(trace_lower_expr(lw, n->a, &a));
		E(.op = IR_JCCI, .a = a, .alu = streq(n->op, "||") ? BPF_JNE : BPF_JEQ, .imm = 0,
		  .label = out);
		lw->ip->vreg_next = mark;
		TRY(trace_lower_expr(lw, n->b, &b));
		E(.op = IR_IMM, .d = d, .imm = 1);
		E(.op = IR_JCCI, .a = b, .alu = BPF_JNE, .imm = 0, .label = out);
		E(.op = IR_IMM, .d = d, .imm = 0);
		E(.op = IR_LABEL, .label = out);
		lw->ip->vreg_next = d + 1;
		*ret = d;
		return 0;
	}
	TRY(trace_ir_vreg(lw, &d));
	TRY(trace_lower_expr(lw, n->a, &a));
	TRY(trace_lower_expr(lw, n->b, &b));
	if (n->a->type == TY_STRING) {
		TRY(lower_streq(lw, a, n->a->size, b, n->b->size, d));
		if (streq(n->op, "!="))
			E(.op = IR_ALUI, .d = d, .a = d, .alu = BPF_XOR, .imm = 1);
	} else if (alu_of(n->op) >= 0) {
		TRY(lower_arith(lw, d, a, b, alu_of(n->op),
		                signed_operand(n->a) && signed_operand(n->b), n->b));
	} else if (streq(n->op, "^^")) {
		int t = trace_ir_label(lw), u = trace_ir_label(lw);

		E(.op = IR_JCCI, .a = a, .alu = BPF_JEQ, .imm = 0, .label = t);
		E(.op = IR_IMM, .d = a, .imm = 1);
		E(.op = IR_LABEL, .label = t);
		E(.op = IR_JCCI, .a = b, .alu = BPF_JEQ, .imm = 0, .label = u);
		E(.op = IR_IMM, .d = b, .imm = 1);
		E(.op = IR_LABEL, .label = u);
		E(.op = IR_ALU, .d = d, .a = a, .b = b, .alu = BPF_XOR);
	} else {
		int t = trace_ir_label(lw);
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
		return trace_lower_expr(lw, n->args, ret);
	case FN_COPYINSTR:
		TRY(trace_ir_region(lw, n->size, &off));
		TRY(trace_ir_scr(lw, off, ret));
		TRY(trace_ir_copy(lw, *ret, 0, n->size, -1, 0));
		TRY(trace_lower_expr(lw, n->args, &a));
		TRY(trace_ir_imm(lw, n->size, &sz));
		TRY(trace_ir_vreg(lw, &len));
		TRY(trace_ir_call(lw, len, BPF_FUNC_probe_read_user_str, MAP_NONE, 3,
		                  (int[]){*ret, sz, a}));
		{
			int ok = trace_ir_label(lw);

			E(.op = IR_JCCI, .a = len, .alu = BPF_JSGE, .imm = 0, .label = ok);
			TRY(trace_lower_fault(lw, FLT_BADADDR, a));
			E(.op = IR_LABEL, .label = ok);
		}
		lw->ip->vreg_next = *ret + 1;
		return 0;
	case FN_STACK:
	case FN_USTACK: {
		int flags;

		/* a stack map ID; ustack's carries the pid above it, for its symbols */
		lw->p->uses_stacks = true;
		TRY(trace_ir_vreg(lw, ret));
		TRY(trace_ir_imm(lw, n->sym == FN_USTACK ? BPF_F_USER_STACK : 0, &flags));
		TRY(trace_ir_call(lw, *ret, BPF_FUNC_get_stackid, MAP_STACKS, 3,
		                  (int[]){-2, -3, flags}));
		if (n->sym == FN_USTACK) {
			E(.op = IR_ALUI, .d = *ret, .a = *ret, .alu = BPF_AND, .imm = 0x7fffffff);
			TRY(trace_ir_call(lw, flags, BPF_FUNC_get_current_pid_tgid, MAP_NONE, 0,
			                  NULL));
			E(.op = IR_ALUI, .d = flags, .a = flags, .alu = BPF_RSH, .imm = 32);
			E(.op = IR_ALUI, .d = flags, .a = flags, .alu = BPF_LSH, .imm = 32);
			E(.op = IR_ALU, .d = *ret, .a = *ret, .b = flags, .alu = BPF_OR);
		}
		lw->ip->vreg_next = *ret + 1;
		return 0;
	}
	case FN_STRLEN:
		TRY(trace_lower_expr(lw, n->args, &a));
		TRY(trace_ir_region(lw, n->args->size, &off));
		TRY(trace_ir_scr(lw, off, &t));
		TRY(trace_ir_imm(lw, n->args->size, &sz));
		TRY(trace_ir_vreg(lw, &len));
		TRY(trace_ir_call(lw, len, BPF_FUNC_probe_read_kernel_str, MAP_NONE, 3,
		                  (int[]){t, sz, a}));
		E(.op = IR_ALUI, .d = len, .a = len, .alu = BPF_SUB, .imm = 1);
		{
			int ok = trace_ir_label(lw);
			E(.op = IR_JCCI, .a = len, .alu = BPF_JSGE, .imm = 0, .label = ok);
			E(.op = IR_IMM, .d = len, .imm = 0);
			E(.op = IR_LABEL, .label = ok);
		}
		E(.op = IR_MOV, .d = a, .a = len);
		lw->ip->vreg_next = a + 1;
		*ret = a;
		return 0;
	case FN_STRJOIN: {
		int ok = trace_ir_label(lw), dst, rem;

		TRY(trace_ir_region(lw, n->size, &off));
		TRY(trace_ir_scr(lw, off, ret));
		TRY(trace_ir_copy(lw, *ret, 0, n->size, -1, 0));
		TRY(trace_lower_expr(lw, n->args, &a));
		TRY(trace_lower_expr(lw, n->args->next, &b));
		TRY(trace_ir_imm(lw, n->size, &sz));
		TRY(trace_ir_vreg(lw, &len));
		TRY(trace_ir_call(lw, len, BPF_FUNC_probe_read_kernel_str, MAP_NONE, 3,
		                  (int[]){*ret, sz, a}));
		E(.op = IR_ALUI, .d = len, .a = len, .alu = BPF_SUB, .imm = 1);
		E(.op = IR_JCCI, .a = len, .alu = BPF_JSGE, .imm = 0, .label = ok);
		E(.op = IR_IMM, .d = len, .imm = 0);
		E(.op = IR_LABEL, .label = ok);
		ok = trace_ir_label(lw);
		E(.op = IR_JCCI, .a = len, .alu = BPF_JLE, .imm = n->size - 1, .label = ok);
		E(.op = IR_IMM, .d = len, .imm = n->size - 1);
		E(.op = IR_LABEL, .label = ok);
		TRY(trace_ir_vreg(lw, &dst));
		E(.op = IR_ALU, .d = dst, .a = *ret, .b = len, .alu = BPF_ADD);
		TRY(trace_ir_vreg(lw, &rem));
		E(.op = IR_IMM, .d = rem, .imm = n->size);
		E(.op = IR_ALU, .d = rem, .a = rem, .b = len, .alu = BPF_SUB);
		TRY(trace_ir_call(lw, -1, BPF_FUNC_probe_read_kernel_str, MAP_NONE, 3,
		                  (int[]){dst, rem, b}));
		lw->ip->vreg_next = *ret + 1;
		return 0;
	}
	default:
		return trace_error(lw->p, lw->reterr, n->line, n->col, "%s() has no value",
		                   n->name);
	}
}

int
trace_lower_expr(struct lower *lw, struct tnode *n, int *ret)
{
	int a, d;

	lw->line = n->line;
	switch (n->kind) {
	case N_INT:
		return trace_ir_imm(lw, n->num, ret);
	case N_STR:
		return lower_string_literal(lw, n->name, n->size, ret);
	case N_IDENT:
		if (!n->args && builtin_lookup(n->name) >= 0)
			return trace_lower_builtin(lw, n, ret);
		return trace_lower_var(lw, n, ret);
	case N_SELF:
	case N_THIS:
		return trace_lower_var(lw, n, ret);
	case N_ARGS:
		return trace_lower_arg(lw, (int)n->args->num, ret);
	case N_BINARY:
		return lower_binary(lw, n, ret);
	case N_UNARY:
		TRY(trace_lower_expr(lw, n->a, &a));
		if (streq(n->op, "-"))
			E(.op = IR_NEG, .d = a, .a = a);
		else if (streq(n->op, "~"))
			E(.op = IR_ALUI, .d = a, .a = a, .alu = BPF_XOR, .imm = -1);
		else if (streq(n->op, "!")) {
			int t = trace_ir_label(lw);

			TRY(trace_ir_vreg(lw, &d));
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
		int els = trace_ir_label(lw), out = trace_ir_label(lw), v;

		TRY(trace_ir_vreg(lw, &d));
		TRY(trace_lower_expr(lw, n->a, &a));
		E(.op = IR_JCCI, .a = a, .alu = BPF_JEQ, .imm = 0, .label = els);
		lw->ip->vreg_next = d + 1;
		TRY(trace_lower_expr(lw, n->b, &v));
		E(.op = IR_MOV, .d = d, .a = v);
		E(.op = IR_JMP, .label = out);
		E(.op = IR_LABEL, .label = els);
		lw->ip->vreg_next = d + 1;
		TRY(trace_lower_expr(lw, n->c, &v));
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
			TRY(trace_lower_expr(lw, n->a, &d));
			if (n->kind == N_INCDEC)
				TRY(trace_ir_imm(lw, 1, &v));
			else
				TRY(trace_lower_expr(lw, n->b, &v));
			TRY(lower_arith(lw, d, d, v,
			                n->kind == N_INCDEC ? (n->op[0] == '+' ? BPF_ADD : BPF_SUB)
			                                    : alu_of(n->op),
			                n->kind == N_ASSIGN && signed_operand(n->b),
			                n->kind == N_ASSIGN ? n->b : NULL));
			lw->ip->vreg_next = d + 1;
		} else {
			TRY(trace_lower_expr(lw, n->b, &d));
		}
		TRY(trace_store_var(lw, n->a, d, n->b ? n->b->size : 8));
		*ret = d;
		return 0;
	}
	case N_CALL:
		return lower_strfunc(lw, n, ret);
	default:
		return trace_error(lw->p, lw->reterr, n->line, n->col, "cannot lower this here");
	}
}
