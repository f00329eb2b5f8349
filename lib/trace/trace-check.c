/* SPDX-License-Identifier: MIT */
/*
 * Type check: every expression is an integer (of a size and signedness
 * that only matter for printing; arithmetic is 64-bit) or a string of a
 * fixed size (NUL included, a multiple of 8). Variables take the type of
 * what is first assigned to them; the program is walked twice so that a
 * clause may use a variable that a later clause assigns. printf's format
 * is checked against its arguments here, not at run time.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "trace-internal.h"

struct checker {
	struct hv_trace_program *p;
	struct hv_error **reterr;
	bool strict; /* second walk: untyped variables are errors */
	int clause;
};

static unsigned
round8(unsigned n)
{
	return (n + 7) & ~7u;
}

static void
set_int(struct tnode *n, unsigned size, bool is_signed)
{
	n->type = TY_INT;
	n->size = size;
	n->is_signed = is_signed;
}

static void
set_str(struct tnode *n, unsigned size)
{
	n->type = TY_STRING;
	n->size = round8(size);
}

static int check(struct checker *ck, struct tnode *n);

static int
check_list(struct checker *ck, struct tnode *n)
{
	int r;

	for (; n; n = n->next)
		if ((r = check(ck, n)) < 0)
			return r;
	return 0;
}

static int err(struct checker *ck, const struct tnode *n, const char *fmt, ...) _printf_(3, 4);
static int
err(struct checker *ck, const struct tnode *n, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return trace_error(ck->p, ck->reterr, n->line, n->col, "%s", msg);
}

static int
want_int(struct checker *ck, const struct tnode *n, const char *what)
{
	if (n->type == TY_INT || (!ck->strict && n->type == TY_NONE))
		return 0;
	return err(ck, n, "%s needs an integer, not %s", what,
	           n->type == TY_STRING ? "a string" : "nothing");
}

static const struct {
	unsigned size;
	bool is_signed;
	int pstr;
} builtin_types[_BI_MAX] = {
        [BI_PID] = {4, true},
        [BI_TID] = {4, true},
        [BI_PPID] = {4, true},
        [BI_UID] = {4, false},
        [BI_GID] = {4, false},
        [BI_CPU] = {4, true},
        [BI_TIMESTAMP] = {8, false},
        [BI_VTIMESTAMP] = {8, false},
        [BI_WALLTIMESTAMP] = {8, true},
        [BI_ERRNO] = {4, true},
        [BI_CGROUP] = {8, false},
        [BI_PROBEPROV] = {8, false, BI_PROBEPROV},
        [BI_PROBEMOD] = {8, false, BI_PROBEMOD},
        [BI_PROBEFUNC] = {8, false, BI_PROBEFUNC},
        [BI_PROBENAME] = {8, false, BI_PROBENAME},
};

static int
check_builtin(struct checker *ck, struct tnode *n)
{
	int b = n->sym;

	if (b == BI_EXECNAME) {
		set_str(n, 16);
	} else if (b == BI_ZONENAME) {
		set_str(n, 64);
	} else if (b >= BI_ARG0 && b < BI_ARG0 + 10) {
		set_int(n, 8, true);
	} else {
		set_int(n, builtin_types[b].size, builtin_types[b].is_signed);
		n->pstr = builtin_types[b].pstr;
	}
	return 0;
}

/* Give a variable (or an aggregation key) the type of a value, or check it has it. */
static int
unify(struct checker *ck, struct sym *s, const struct tnode *value, const struct tnode *where)
{
	if (value->type == TY_NONE)
		return ck->strict ? err(ck, value, "has no value here") : 0;
	if (value->type == TY_VOID)
		return err(ck, value, "returns no value");
	if (!s->typed) {
		s->typed = true;
		s->type = value->type;
		s->size = value->type == TY_STRING ? value->size : 8;
		return 0;
	}
	if (s->type != value->type)
		return err(ck, where, "'%s' is %s here but was given another type before", s->name,
		           value->type == TY_STRING ? "a string" : "an integer");
	if (s->type == TY_STRING && value->size > s->size)
		s->size = value->size;
	return 0;
}

static struct sym *
sym_of(struct checker *ck, const struct tnode *n)
{
	return &ck->p->syms[n->sym];
}

static int
check_keys(struct checker *ck, struct sym *s, struct tnode *keys, const struct tnode *where)
{
	int n = 0, r;

	if ((r = check_list(ck, keys)) < 0)
		return r;
	for (struct tnode *k = keys; k; k = k->next, n++) {
		if (n >= TRACE_KEYS_MAX)
			return err(ck, k, "more than 8 keys");
		if (k->type == TY_NONE)
			return ck->strict ? err(ck, k, "this key has no value") : 0;
		if (k->type == TY_VOID)
			return err(ck, k, "a key needs a value");
		if (s->n_keys > n) {
			if (s->key_type[n] != k->type)
				return err(ck, k, "key %d of '%s%s' changes its type", n + 1,
				           s->kind == SYM_AGG ? "@" : "", s->name);
			if (k->type == TY_STRING && k->size > s->key_size[n])
				s->key_size[n] = k->size;
			continue;
		}
		s->key_type[n] = k->type;
		s->key_size[n] = k->type == TY_STRING ? k->size : 8;
		s->key_print[n] = k->type == TY_INT ? k->size : 0;
		s->key_signed[n] = k->is_signed;
		s->key_pstr[n] = k->pstr;
	}
	if (s->n_keys && n != s->n_keys)
		return err(ck, where, "'%s' is used with a different number of keys", s->name);
	s->n_keys = n;
	return 0;
}

static int
is_lvalue(const struct tnode *n)
{
	return n->kind == N_SELF || n->kind == N_THIS ||
	       (n->kind == N_IDENT && (n->args || builtin_lookup(n->name) < 0));
}

static int check_call(struct checker *ck, struct tnode *n);

static int
check_binary(struct checker *ck, struct tnode *n)
{
	static const char *const cmp[] = {"==", "!=", "<", ">", "<=", ">="};
	int r;

	if ((r = check(ck, n->a)) < 0 || (r = check(ck, n->b)) < 0)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(cmp); i++) {
		if (!streq(n->op, cmp[i]))
			continue;
		if (n->a->pstr || n->b->pstr) {
			const struct tnode *o = n->a->pstr ? n->b : n->a;
			int k = n->a->pstr ? n->a->pstr : n->b->pstr;

			/* probefunc == "read": decided by the probe ID (trace-ir.c) */
			if (k >= BI_PROBEPROV && k <= BI_PROBENAME && o->kind == N_STR && i <= 1) {
				set_int(n, 4, true);
				return 0;
			}
			return err(ck, n,
			           "probeprov, probemod, probefunc and probename are compared "
			           "with == or != and a string constant only");
		}
		if (n->a->type != n->b->type && n->a->type && n->b->type)
			return err(ck, n, "'%s' compares %s", n->op, "an integer with a string");
		if (n->a->type == TY_STRING && i > 1)
			return err(ck, n, "strings are compared with == and != only, not '%s'",
			           n->op);
		set_int(n, 4, true);
		return 0;
	}
	if ((r = want_int(ck, n->a, n->op)) < 0 || (r = want_int(ck, n->b, n->op)) < 0)
		return r;
	if (streq(n->op, "&&") || streq(n->op, "||") || streq(n->op, "^^"))
		set_int(n, 4, true);
	else
		set_int(n, 8, n->a->is_signed || n->b->is_signed || n->a->size < 8);
	return 0;
}

static int
check(struct checker *ck, struct tnode *n)
{
	struct sym *s;
	int r;

	switch (n->kind) {
	case N_INT:
		set_int(n, 8, true);
		return 0;
	case N_STR:
		set_str(n, (unsigned)strlen(n->name) + 1);
		if (n->size > ck->p->opts.strsize)
			return err(ck, n, "string literal longer than strsize (%s)%s", "-x strsize",
			           "");
		return 0;
	case N_IDENT:
		if (!n->args && n->sym >= 0 && builtin_lookup(n->name) >= 0)
			return check_builtin(ck, n);
		s = sym_of(ck, n);
		if (n->args && (r = check_keys(ck, s, n->args, n)) < 0)
			return r;
_fallthrough_var:
		if (s->typed) {
			n->type = s->type;
			n->size = s->size;
			n->is_signed = true;
			if (n->type == TY_INT)
				n->size = 8;
		} else if (ck->strict) {
			return err(ck, n, "'%s' is used but never assigned", s->name);
		}
		return 0;
	case N_SELF:
	case N_THIS:
		s = sym_of(ck, n);
		goto _fallthrough_var;
	case N_ARGS:
		if (!n->args || n->args->next || n->args->kind != N_INT || n->args->num < 0 ||
		    n->args->num > 9)
			return err(ck, n, "args[] takes one constant index from 0 to 9");
		set_int(n, 8, true);
		return 0;
	case N_AGG:
		return err(ck, n,
		           "aggregation '@%s' can only be named in printa(), clear(), "
		           "trunc() and normalize()%s",
		           n->name, "");
	case N_CALL:
		return check_call(ck, n);
	case N_BINARY:
		return check_binary(ck, n);
	case N_UNARY:
		if ((r = check(ck, n->a)) < 0 || (r = want_int(ck, n->a, n->op)) < 0)
			return r;
		set_int(n, 8, true);
		return 0;
	case N_TERNARY:
		if ((r = check(ck, n->a)) < 0 || (r = check(ck, n->b)) < 0 ||
		    (r = check(ck, n->c)) < 0 || (r = want_int(ck, n->a, "?:")) < 0)
			return r;
		if (n->b->type != n->c->type && n->b->type && n->c->type)
			return err(ck, n, "the two sides of '?:' have different types");
		n->type = n->b->type ? n->b->type : n->c->type;
		n->size = MAX(n->b->size, n->c->size);
		n->is_signed = true;
		return 0;
	case N_ASSIGN:
	case N_INCDEC:
		if (!is_lvalue(n->a))
			return err(ck, n->a, "cannot assign to this (only to variables)");
		if (n->a->kind == N_IDENT && n->a->args &&
		    (r = check_keys(ck, sym_of(ck, n->a), n->a->args, n->a)) < 0)
			return r;
		if (n->kind == N_INCDEC) {
			struct tnode one = {.kind = N_INT, .type = TY_INT, .size = 8};
			if ((r = unify(ck, sym_of(ck, n->a), &one, n)) < 0)
				return r;
		} else {
			if ((r = check(ck, n->b)) < 0)
				return r;
			if (!streq(n->op, "=") && (r = want_int(ck, n->b, n->op)) < 0)
				return r;
			if ((r = unify(ck, sym_of(ck, n->a), n->b, n)) < 0)
				return r;
		}
		if ((r = check(ck, n->a)) < 0)
			return r;
		if (n->kind == N_INCDEC || !streq(n->op, "="))
			if ((r = want_int(ck, n->a, n->op[0] ? n->op : "++")) < 0)
				return r;
		n->type = n->a->type;
		n->size = n->a->size;
		n->is_signed = true;
		return 0;
	case S_EXPR:
		return check(ck, n->a);
	case S_IF:
		if ((r = check(ck, n->a)) < 0 || (r = want_int(ck, n->a, "if")) < 0 ||
		    (r = check(ck, n->b)) < 0)
			return r;
		return n->c ? check(ck, n->c) : 0;
	case S_BLOCK:
		return check_list(ck, n->a);
	case S_AGG: {
		struct tnode *args = n->b->args;
		int nargs = 0;

		s = sym_of(ck, n->a);
		if ((r = check_keys(ck, s, n->a->args, n->a)) < 0 || (r = check_list(ck, args)) < 0)
			return r;
		for (struct tnode *a = args; a; a = a->next)
			nargs++;
		if (s->typed && s->func != n->agg_func)
			return err(ck, n->b, "'@%s' was %s() before", s->name,
			           aggfunc_name(s->func));
		s->typed = true;
		s->func = n->agg_func;
		if (n->agg_func == AGG_COUNT) {
			if (nargs)
				return err(ck, n->b, "count() takes no arguments");
		} else if (n->agg_func == AGG_LQUANTIZE) {
			struct tnode *lo, *hi, *st;

			if (nargs != 4 && nargs != 5)
				return err(
				        ck, n->b,
				        "lquantize() takes a value, a lower bound, an upper bound "
				        "and a step");
			lo = args->next, hi = lo->next, st = hi->next;
			if (lo->kind != N_INT || hi->kind != N_INT || st->kind != N_INT)
				return err(ck, lo,
				           "lquantize()'s bounds and step must be constants");
			if (hi->num <= lo->num || st->num <= 0 ||
			    (hi->num - lo->num) / st->num > 4000 || (hi->num - lo->num) % st->num)
				return err(
				        ck, lo,
				        "lquantize() needs lower < upper, a step > 0 that divides "
				        "them, and at most 4000 steps");
			s->lq_base = lo->num;
			s->lq_limit = hi->num;
			s->lq_step = st->num;
			if ((r = want_int(ck, args, "lquantize()")) < 0)
				return r;
		} else {
			if (nargs != 1)
				return err(ck, n->b, "%s() takes one argument%s",
				           aggfunc_name(n->agg_func), "");
			if ((r = want_int(ck, args, aggfunc_name(n->agg_func))) < 0)
				return r;
		}
		return 0;
	}
	default:
		return err(ck, n, "unexpected %s", "node");
	}
}

static int
agg_arg(struct checker *ck, struct tnode *a, const char *fn)
{
	if (!a || a->kind != N_AGG)
		return err(ck, a, "%s() takes an aggregation such as @name", fn);
	if (a->args)
		return err(ck, a, "%s() takes the whole aggregation, without keys", fn);
	if (!ck->p->syms[a->sym].typed && ck->strict)
		return err(ck, a, "aggregation '@%s' is never assigned", a->name);
	return 0;
}

/* printf's conversions against the arguments' types */
static int
check_format(struct checker *ck, struct tnode *fmtn, struct tnode *args)
{
	const char *f = fmtn->name;
	struct tnode *a = args;

	for (; *f; f++) {
		if (*f != '%')
			continue;
		f++;
		if (*f == '%')
			continue;
		f += strspn(f, "-+ #0123456789.*");
		f += strspn(f, "hlLqjzt");
		if (!*f || !strchr("diouxXcsp", *f))
			return err(ck, fmtn, "printf format has an unknown conversion '%%%s'",
			           *f ? (char[]){*f, 0} : "");
		if (!a)
			return err(ck, fmtn, "printf format wants more arguments than it has");
		if (*f == 's' && a->type == TY_INT && !a->pstr)
			return err(ck, a, "printf's %%s needs a string, this is an integer");
		if (*f != 's' && a->type == TY_STRING)
			return err(ck, a, "printf's %%%s needs an integer, this is a string",
			           (char[]){*f, 0});
		a = a->next;
	}
	if (a)
		return err(ck, a, "printf has more arguments than its format uses");
	return 0;
}

static int
check_call(struct checker *ck, struct tnode *n)
{
	struct tnode *a = n->args;
	int nargs = 0, r;

	for (struct tnode *x = a; x; x = x->next)
		nargs++;
	for (struct tnode *x = a; x; x = x->next)
		if (x->kind != N_AGG && (r = check(ck, x)) < 0)
			return r;
	n->type = TY_VOID;
	switch (n->sym) {
	case FN_PRINTF:
		if (!a || a->kind != N_STR)
			return err(ck, n, "printf() takes a string constant as its format");
		if (nargs > 32)
			return err(ck, n, "printf() takes at most 32 arguments");
		return check_format(ck, a, a->next);
	case FN_TRACE:
		if (nargs != 1)
			return err(ck, n, "trace() takes one argument");
		return 0;
	case FN_EXIT:
		if (nargs != 1)
			return err(ck, n, "exit() takes one argument, the exit status");
		return want_int(ck, a, "exit()");
	case FN_PRINTA:
		if (nargs == 2 && a->kind == N_STR)
			return agg_arg(ck, a->next, "printa");
		if (nargs != 1)
			return err(ck, n,
			           "printa() takes an aggregation, after an optional format");
		return agg_arg(ck, a, "printa");
	case FN_CLEAR:
		if (nargs != 1)
			return err(ck, n, "clear() takes one aggregation");
		return agg_arg(ck, a, "clear");
	case FN_TRUNC:
		/* trunc(@, -n): a negative constant */
		if (nargs == 2 && a->next->kind == N_UNARY && streq(a->next->op, "-") &&
		    a->next->a->kind == N_INT) {
			a->next->kind = N_INT;
			a->next->num = -a->next->a->num;
			tnode_free(a->next->a);
			a->next->a = NULL;
		}
		if (nargs < 1 || nargs > 2 || (nargs == 2 && a->next->kind != N_INT))
			return err(ck, n, "trunc() takes an aggregation and an optional constant");
		return agg_arg(ck, a, "trunc");
	case FN_NORMALIZE:
		if (nargs != 2 || a->next->kind != N_INT || a->next->num <= 0)
			return err(ck, n,
			           "normalize() takes an aggregation and a constant above 0");
		return agg_arg(ck, a, "normalize");
	case FN_COPYINSTR:
		if (nargs != 1 || (r = want_int(ck, a, "copyinstr()")) < 0)
			return nargs != 1 ? err(ck, n, "copyinstr() takes one address") : r;
		set_str(n, ck->p->opts.strsize);
		return 0;
	case FN_STRINGOF:
		if (nargs != 1 || a->type != TY_STRING)
			return err(ck, n, "stringof() takes a string here");
		set_str(n, a->size);
		return 0;
	case FN_STRLEN:
		if (nargs != 1 || a->type != TY_STRING)
			return err(ck, n, "strlen() takes one string");
		set_int(n, 8, false);
		return 0;
	case FN_STACK:
	case FN_USTACK:
		if (nargs > 1 || (a && a->kind != N_INT))
			return err(ck, n, "%s() takes an optional constant (the depth)",
			           func_name(n->sym));
		set_int(n, 8, false);
		n->pstr = n->sym == FN_STACK ? PSTR_KSTACK : PSTR_USTACK;
		return 0;
	case FN_STRJOIN:
		if (nargs != 2 || a->type != TY_STRING || a->next->type != TY_STRING)
			return err(ck, n, "strjoin() takes two strings");
		set_str(n, MIN(a->size + a->next->size, ck->p->opts.strsize));
		return 0;
	default:
		return err(ck, n, "%s() is not supported yet", func_name(n->sym));
	}
}

int
trace_check(struct hv_trace_program *p, struct hv_error **reterr)
{
	struct checker ck = {.p = p, .reterr = reterr};
	int r;

	for (int pass = 0; pass < 2; pass++) {
		ck.strict = pass == 1;
		for (struct tnode *c = p->clauses; c; c = c->next) {
			ck.clause = c->index;
			if (c->pred && (r = check(&ck, c->pred)) < 0)
				return r;
			if (c->pred && ck.strict && (r = want_int(&ck, c->pred, "a predicate")) < 0)
				return r;
			if ((r = check_list(&ck, c->a)) < 0)
				return r;
		}
	}
	for (size_t i = 0; i < p->n_syms; i++) {
		struct sym *s = &p->syms[i];

		s->keylen = 0;
		for (int k = 0; k < s->n_keys; k++)
			s->keylen += s->key_size[k];
	}
	return 0;
}
