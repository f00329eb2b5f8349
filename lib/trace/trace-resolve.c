/* SPDX-License-Identifier: MIT */
/*
 * Resolve: probe descriptions become probes (an error unless -Z when one
 * matches nothing), names become built-in variables, functions, macro
 * arguments or symbols (globals, associative arrays, self->, this->,
 * aggregations). Types are the next pass's business.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "basic/parse.h"
#include "trace-internal.h"

static const char *const builtin_names[_BI_MAX] = {
        [BI_EXECNAME] = "execname",
        [BI_PID] = "pid",
        [BI_TID] = "tid",
        [BI_PPID] = "ppid",
        [BI_UID] = "uid",
        [BI_GID] = "gid",
        [BI_CPU] = "cpu",
        [BI_TIMESTAMP] = "timestamp",
        [BI_VTIMESTAMP] = "vtimestamp",
        [BI_WALLTIMESTAMP] = "walltimestamp",
        [BI_ZONENAME] = "zonename",
        [BI_PROBEPROV] = "probeprov",
        [BI_PROBEMOD] = "probemod",
        [BI_PROBEFUNC] = "probefunc",
        [BI_PROBENAME] = "probename",
        [BI_ARG0] = "arg0",
        [BI_ARG0 + 1] = "arg1",
        [BI_ARG0 + 2] = "arg2",
        [BI_ARG0 + 3] = "arg3",
        [BI_ARG0 + 4] = "arg4",
        [BI_ARG0 + 5] = "arg5",
        [BI_ARG0 + 6] = "arg6",
        [BI_ARG0 + 7] = "arg7",
        [BI_ARG0 + 8] = "arg8",
        [BI_ARG0 + 9] = "arg9",
        [BI_ERRNO] = "errno",
        [BI_CGROUP] = "cgroup",
};

static const char *const func_names[_FN_MAX] = {
        [FN_PRINTF] = "printf",       [FN_TRACE] = "trace",         [FN_EXIT] = "exit",
        [FN_PRINTA] = "printa",       [FN_CLEAR] = "clear",         [FN_TRUNC] = "trunc",
        [FN_NORMALIZE] = "normalize", [FN_COPYINSTR] = "copyinstr", [FN_STRINGOF] = "stringof",
        [FN_STRLEN] = "strlen",       [FN_STRJOIN] = "strjoin",     [FN_STACK] = "stack",
        [FN_USTACK] = "ustack",
};

static const char *const aggfunc_names[_AGG_MAX] = {
        [AGG_COUNT] = "count",       [AGG_SUM] = "sum",
        [AGG_AVG] = "avg",           [AGG_MIN] = "min",
        [AGG_MAX] = "max",           [AGG_STDDEV] = "stddev",
        [AGG_QUANTIZE] = "quantize", [AGG_LQUANTIZE] = "lquantize",
};

const char *
builtin_name(int b)
{
	return b >= 0 && b < _BI_MAX ? builtin_names[b] : NULL;
}

int
builtin_lookup(const char *name)
{
	for (int i = 0; i < _BI_MAX; i++)
		if (builtin_names[i] && streq(builtin_names[i], name))
			return i;
	return -ENOENT;
}

const char *
func_name(int f)
{
	return f >= 0 && f < _FN_MAX ? func_names[f] : NULL;
}

int
func_lookup(const char *name)
{
	for (int i = 0; i < _FN_MAX; i++)
		if (streq(func_names[i], name))
			return i;
	return -ENOENT;
}

const char *
aggfunc_name(int f)
{
	return f >= 0 && f < _AGG_MAX ? aggfunc_names[f] : NULL;
}

int
aggfunc_lookup(const char *name)
{
	for (int i = 0; i < _AGG_MAX; i++)
		if (streq(aggfunc_names[i], name))
			return i;
	return -ENOENT;
}

void
trace_source_excerpt(const char *src, int line, int col, char *buf, size_t size)
{
	const char *s = src;
	size_t n = 0;

	for (int l = 1; l < line && *s; s++)
		if (*s == '\n')
			l++;
	for (int c = 1; c < col && *s && *s != '\n'; c++)
		s++;
	while (s[n] && s[n] != '\n' && n + 1 < size && n < 40)
		n++;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	snprintf(buf, size, "%.*s", (int)n, s);
}

int
trace_error(const struct hv_trace_program *p, struct hv_error **reterr, int line, int col,
            const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return hv_error_set(reterr, -EINVAL, "%s:%d:%d: %s", p->origin, line, col, msg);
}

static int
sym_find(struct hv_trace_program *p, enum sym_kind kind, const char *name)
{
	for (size_t i = 0; i < p->n_syms; i++)
		if (p->syms[i].kind == kind && streq(p->syms[i].name, name))
			return (int)i;
	return -ENOENT;
}

static int
sym_get(struct hv_trace_program *p, enum sym_kind kind, const struct tnode *n)
{
	struct sym *v;
	int i = sym_find(p, kind, n->name);

	if (i >= 0)
		return i;
	if (p->n_syms >= 1024)
		return trace_error(p, NULL, n->line, n->col, "too many variables");
	if (!(v = realloc(p->syms, (p->n_syms + 1) * sizeof(*v))))
		return -ENOMEM;
	p->syms = v;
	v[p->n_syms] = (struct sym){.kind = kind,
	                            .name = strdup(n->name),
	                            .line = n->line,
	                            .col = n->col,
	                            .map_fd = -EBADF,
	                            .normalize = 1,
	                            .trunc = -1};
	if (!v[p->n_syms].name)
		return -ENOMEM;
	return (int)p->n_syms++;
}

/* $1 -> its value (an integer if it reads as one, else a string), $target, $pid */
static int
resolve_macro(struct hv_trace_program *p, struct tnode *n, struct hv_error **reterr)
{
	const char *v = NULL;
	char buf[32];
	int64_t i;
	uint32_t idx;

	if (streq(n->name, "target")) {
		if (!p->opts.target)
			return trace_error(p, reterr, n->line, n->col,
			                   "$target needs -c or -p to name a process");
		snprintf(buf, sizeof(buf), "%d", (int)p->opts.target);
		v = buf;
	} else if (streq(n->name, "pid")) {
		snprintf(buf, sizeof(buf), "%d", (int)getpid());
		v = buf;
	} else if (safe_atou32(n->name, &idx) >= 0) {
		if ((int)idx >= p->opts.n_macro_args)
			return trace_error(p, reterr, n->line, n->col,
			                   "macro argument $%u is not defined", idx);
		v = p->opts.macro_args[idx];
	} else {
		return trace_error(p, reterr, n->line, n->col, "unknown macro variable '$%s'",
		                   n->name);
	}
	if (safe_atoi64(v, &i) >= 0) {
		n->kind = N_INT;
		n->num = i;
	} else {
		char *s = strdup(v);

		if (!s)
			return -ENOMEM;
		free(n->name);
		n->name = s;
		n->kind = N_STR;
		return 0;
	}
	return 0;
}

static int resolve_list(struct hv_trace_program *p, struct tnode *n, struct hv_error **reterr);

static int
resolve_node(struct hv_trace_program *p, struct tnode *n, struct hv_error **reterr)
{
	int r;

	if (!n)
		return 0;
	switch (n->kind) {
	case N_MACRO:
		return resolve_macro(p, n, reterr);
	case N_IDENT:
		if (!n->args && (r = builtin_lookup(n->name)) >= 0) {
			n->sym = r;
			return 0;
		}
		if (func_lookup(n->name) >= 0 || aggfunc_lookup(n->name) >= 0)
			return trace_error(p, reterr, n->line, n->col,
			                   "'%s' is a function: call it as %s()", n->name, n->name);
		if ((r = sym_get(p, n->args ? SYM_ASSOC : SYM_GLOBAL, n)) < 0)
			return r;
		n->sym = r;
		if (sym_find(p, n->args ? SYM_GLOBAL : SYM_ASSOC, n->name) >= 0)
			return trace_error(p, reterr, n->line, n->col,
			                   "'%s' is used both as a scalar and as an array",
			                   n->name);
		return resolve_list(p, n->args, reterr);
	case N_SELF:
	case N_THIS:
		if ((r = sym_get(p, n->kind == N_SELF ? SYM_SELF : SYM_THIS, n)) < 0)
			return r;
		n->sym = r;
		return 0;
	case N_AGG:
		if ((r = sym_get(p, SYM_AGG, n)) < 0)
			return r;
		n->sym = r;
		return resolve_list(p, n->args, reterr);
	case N_CALL:
		if ((r = func_lookup(n->name)) < 0) {
			if (aggfunc_lookup(n->name) >= 0)
				return trace_error(p, reterr, n->line, n->col,
				                   "%s() can only be assigned to an aggregation",
				                   n->name);
			return trace_error(p, reterr, n->line, n->col, "unknown function '%s'",
			                   n->name);
		}
		n->sym = r;
		return resolve_list(p, n->args, reterr);
	case N_ARGS:
		return resolve_list(p, n->args, reterr);
	case S_AGG:
		if ((r = resolve_node(p, n->a, reterr)) < 0)
			return r;
		if ((r = aggfunc_lookup(n->b->name)) < 0)
			return trace_error(p, reterr, n->b->line, n->b->col,
			                   "'%s' is not an aggregating function", n->b->name);
		n->agg_func = r;
		return resolve_list(p, n->b->args, reterr);
	default:
		if ((r = resolve_node(p, n->a, reterr)) < 0 ||
		    (r = resolve_node(p, n->b, reterr)) < 0 ||
		    (r = resolve_node(p, n->c, reterr)) < 0)
			return r;
		return resolve_list(p, n->args, reterr);
	}
}

static int
resolve_list(struct hv_trace_program *p, struct tnode *n, struct hv_error **reterr)
{
	int r;

	for (; n; n = n->next)
		if ((r = resolve_node(p, n, reterr)) < 0)
			return r;
	return 0;
}

/* $target and $1... in a probe description (pid$target::main:entry) */
static int
expand_desc(struct hv_trace_program *p, const struct tnode *c, const char *desc, char *buf,
            size_t size, struct hv_error **reterr)
{
	size_t n = 0;

	for (const char *s = desc; *s; s++) {
		char v[32];
		const char *val = NULL;
		size_t len = 0;
		uint32_t idx;

		if (*s == '$' && startswith(s + 1, "target")) {
			if (!p->opts.target)
				return trace_error(p, reterr, c->line, c->col,
				                   "$target needs -c or -p to name a process");
			snprintf(v, sizeof(v), "%d", (int)p->opts.target);
			val = v;
			len = 6;
		} else if (*s == '$' && isdigit((unsigned char)s[1])) {
			len = strspn(s + 1, "0123456789");
			snprintf(v, sizeof(v), "%.*s", (int)MIN(len, sizeof(v) - 1), s + 1);
			if (safe_atou32(v, &idx) < 0 || (int)idx >= p->opts.n_macro_args)
				return trace_error(p, reterr, c->line, c->col,
				                   "macro argument $%s is not defined", v);
			val = p->opts.macro_args[idx];
		}
		if (val) {
			n += (size_t)snprintf(buf + MIN(n, size), size - MIN(n, size), "%s", val);
			s += len;
		} else if (n + 1 < size) {
			buf[n++] = *s;
		}
		if (n + 1 >= size)
			return trace_error(p, reterr, c->line, c->col,
			                   "probe description '%s' is too long", desc);
	}
	buf[n] = 0;
	return 0;
}

static int
resolve_probes(struct hv_trace_program *p, struct tnode *c, struct hv_error **reterr)
{
	for (size_t i = 0; i < c->n_probes; i++) {
		_cleanup_free_ struct probe *v = NULL;
		_cleanup_hv_error_ struct hv_error *e = NULL;
		struct probe *all;
		char desc[512];
		size_t n = 0;
		int r;

		if ((r = expand_desc(p, c, c->probes[i], desc, sizeof(desc), reterr)) < 0)
			return r;
		if ((r = probes_for(desc, &v, &n, &e)) < 0)
			return trace_error(p, reterr, c->line, c->col, "%s",
			                   e ? hv_error_message(e, r)
			                     : "invalid probe description");
		if (n == 0 && !p->opts.zdefs) {
			if (startswith(c->probes[i], "fbt:"))
				return trace_error(
				        p, reterr, c->line, c->col,
				        "probe description '%s' does not match any probes: "
				        "this kernel has no kprobes",
				        c->probes[i]);
			return trace_error(p, reterr, c->line, c->col,
			                   "probe description '%s' does not match any probes",
			                   c->probes[i]);
		}
		if (n == 0)
			continue;
		all = realloc(p->cprobes[c->index], (p->n_cprobes[c->index] + n) * sizeof(*all));
		if (!all && n)
			return -ENOMEM;
		if (n) {
			memcpy(all + p->n_cprobes[c->index], v, n * sizeof(*all));
			p->cprobes[c->index] = all;
			p->n_cprobes[c->index] += n;
			p->n_matched += n;
		}
	}
	return 0;
}

int
trace_resolve(struct hv_trace_program *p, struct hv_error **reterr)
{
	int r;

	for (struct tnode *c = p->clauses; c; c = c->next) {
		if ((r = resolve_probes(p, c, reterr)) < 0 ||
		    (r = resolve_node(p, c->pred, reterr)) < 0 ||
		    (r = resolve_list(p, c->a, reterr)) < 0)
			return r;
	}
	return 0;
}
