/* SPDX-License-Identifier: MIT */
/*
 * The parser: tokens to an AST, by recursive descent with C's operator
 * precedence. A program is a list of clauses; a clause is one or more
 * probe descriptions, an optional /predicate/ and a { statement list }.
 * Inside a predicate a '/' followed by the end, ';', '{' or '/' ends the
 * predicate and any other is a division, as in DTrace's lexer. Every node
 * keeps the line and column where it starts.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "trace-internal.h"

struct parser {
	struct hv_trace_program *p;
	struct lexer lx;
	struct hv_error **reterr;
	int depth;
	bool in_pred; /* a top-level '/' ends the predicate */
	int parens;
};

#define DEPTH_MAX 200

struct tnode *
tnode_new(enum nkind kind, int line, int col)
{
	struct tnode *n = calloc(1, sizeof(*n));

	if (n) {
		n->kind = kind;
		n->line = line;
		n->col = col;
		n->sym = -1;
	}
	return n;
}

void
tnode_free(struct tnode *n)
{
	while (n) {
		struct tnode *next = n->next;

		tnode_free(n->a);
		tnode_free(n->b);
		tnode_free(n->c);
		tnode_free(n->args);
		tnode_free(n->pred);
		free(n->name);
		for (size_t i = 0; i < n->n_probes; i++)
			free(n->probes[i]);
		free(n->probes);
		free(n);
		n = next;
	}
}

static int
syntax_error(struct parser *ps, const char *fmt, ...)
{
	char what[128], msg[256];
	va_list ap;

	if (ps->lx.err)
		return ps->lx.err;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return trace_error(ps->p, ps->reterr, ps->lx.tok.line, ps->lx.tok.col, "%s near %s", msg,
	                   token_describe(&ps->lx.tok, what, sizeof(what)));
}

static int
next(struct parser *ps)
{
	return lexer_next(&ps->lx);
}

static int
expect(struct parser *ps, const char *punct)
{
	if (!lexer_is(&ps->lx, punct))
		return syntax_error(ps, "expected '%s'", punct);
	return next(ps);
}

static struct tnode *
new_at(struct parser *ps, enum nkind kind)
{
	return tnode_new(kind, ps->lx.tok.line, ps->lx.tok.col);
}

static int parse_expr(struct parser *ps, struct tnode **ret);
static int parse_assign(struct parser *ps, struct tnode **ret);

/* expr { ',' expr } up to the closing punctuation */
static int
parse_list(struct parser *ps, const char *close, struct tnode **ret)
{
	struct tnode **tail = ret;
	bool in_pred = ps->in_pred;
	int r = 0;

	ps->in_pred = false;
	*ret = NULL;
	if (!lexer_is(&ps->lx, close)) {
		for (;;) {
			if ((r = parse_assign(ps, tail)) < 0)
				goto out;
			tail = &(*tail)->next;
			if (!lexer_is(&ps->lx, ","))
				break;
			if ((r = next(ps)) < 0)
				goto out;
		}
	}
	r = expect(ps, close);
out:
	ps->in_pred = in_pred;
	return r;
}

static int
parse_primary(struct parser *ps, struct tnode **ret)
{
	struct token t = ps->lx.tok;
	struct tnode *n;
	int r;

	switch (t.kind) {
	case TK_INT:
		if (!(n = new_at(ps, N_INT)))
			return -ENOMEM;
		n->num = t.num;
		*ret = n;
		return next(ps);
	case TK_STR:
		if (!(n = new_at(ps, N_STR)) || !(n->name = strdup(t.str))) {
			tnode_free(n);
			return -ENOMEM;
		}
		*ret = n;
		return next(ps);
	case TK_MACRO:
		if (!(n = new_at(ps, N_MACRO)) || !(n->name = strdup(t.str))) {
			tnode_free(n);
			return -ENOMEM;
		}
		*ret = n;
		return next(ps);
	case TK_AGG:
		if (!(n = new_at(ps, N_AGG)) || !(n->name = strdup(t.str))) {
			tnode_free(n);
			return -ENOMEM;
		}
		*ret = n;
		if ((r = next(ps)) < 0)
			return r;
		if (lexer_is(&ps->lx, "[")) {
			if ((r = next(ps)) < 0)
				return r;
			return parse_list(ps, "]", &n->args);
		}
		return 0;
	case TK_IDENT:
		if (streq(t.str, "self") || streq(t.str, "this")) {
			if (!(n = new_at(ps, streq(t.str, "self") ? N_SELF : N_THIS)))
				return -ENOMEM;
			*ret = n;
			if ((r = next(ps)) < 0 || (r = expect(ps, "->")) < 0)
				return r;
			if (ps->lx.tok.kind != TK_IDENT)
				return syntax_error(ps, "expected a variable name after '%s->'",
				                    t.str);
			if (!(n->name = strdup(ps->lx.tok.str)))
				return -ENOMEM;
			return next(ps);
		}
		if (!(n = new_at(ps, N_IDENT)) || !(n->name = strdup(t.str))) {
			tnode_free(n);
			return -ENOMEM;
		}
		*ret = n;
		if ((r = next(ps)) < 0)
			return r;
		if (lexer_is(&ps->lx, "(")) {
			n->kind = N_CALL;
			if ((r = next(ps)) < 0)
				return r;
			return parse_list(ps, ")", &n->args);
		}
		if (lexer_is(&ps->lx, "[")) {
			if (streq(n->name, "args"))
				n->kind = N_ARGS;
			if ((r = next(ps)) < 0)
				return r;
			return parse_list(ps, "]", &n->args);
		}
		return 0;
	case TK_PUNCT:
		if (lexer_is(&ps->lx, "(")) {
			bool in_pred = ps->in_pred;

			ps->in_pred = false;
			if ((r = next(ps)) < 0 || (r = parse_expr(ps, ret)) < 0)
				return r;
			ps->in_pred = in_pred;
			return expect(ps, ")");
		}
		return syntax_error(ps, "expected an expression");
	default:
		return syntax_error(ps, "expected an expression");
	}
}

static int
parse_postfix(struct parser *ps, struct tnode **ret)
{
	int r = parse_primary(ps, ret);

	if (r < 0)
		return r;
	while (lexer_is(&ps->lx, "++") || lexer_is(&ps->lx, "--")) {
		struct tnode *n = new_at(ps, N_INCDEC);

		if (!n)
			return -ENOMEM;
		memcpy(n->op, ps->lx.tok.text, 3);
		n->a = *ret;
		*ret = n;
		if ((r = next(ps)) < 0)
			return r;
	}
	return 0;
}

static int
parse_unary(struct parser *ps, struct tnode **ret)
{
	int r;

	if (++ps->depth > DEPTH_MAX)
		return syntax_error(ps, "expression nested too deeply");
	if (lexer_is(&ps->lx, "-") || lexer_is(&ps->lx, "!") || lexer_is(&ps->lx, "~") ||
	    lexer_is(&ps->lx, "+") || lexer_is(&ps->lx, "++") || lexer_is(&ps->lx, "--")) {
		struct tnode *n = new_at(ps, N_UNARY);

		if (!n)
			return -ENOMEM;
		memcpy(n->op, ps->lx.tok.text, 3);
		if (streq(n->op, "++") || streq(n->op, "--"))
			n->kind = N_INCDEC;
		*ret = n;
		if ((r = next(ps)) < 0 || (r = parse_unary(ps, &n->a)) < 0)
			return r;
	} else if ((r = parse_postfix(ps, ret)) < 0) {
		return r;
	}
	ps->depth--;
	return 0;
}

static const char *const levels[][5] = {
        {"||"},       {"^^"},     {"&&"},          {"|"},
        {"^"},        {"&"},      {"==", "!="},    {"<", ">", "<=", ">="},
        {"<<", ">>"}, {"+", "-"}, {"*", "/", "%"},
};

/*
 * A '/' in a predicate ends it when what follows is the end, ';', '{' or
 * another '/'; anything else makes it a division (DTrace's lookahead).
 */
static bool
pred_ends(const struct parser *ps)
{
	const char *q = ps->lx.p;

	while (*q && strchr(" \t\n\r\f\v", *q))
		q++;
	return !*q || strchr(";{/", *q);
}

static int
parse_binary(struct parser *ps, size_t level, struct tnode **ret)
{
	int r;

	if (level == ELEMENTSOF(levels))
		return parse_unary(ps, ret);
	if ((r = parse_binary(ps, level + 1, ret)) < 0)
		return r;
	for (;;) {
		const char *op = NULL;
		struct tnode *n;

		for (size_t i = 0; i < 5 && levels[level][i]; i++)
			if (lexer_is(&ps->lx, levels[level][i]))
				op = levels[level][i];
		if (!op || (ps->in_pred && streq(op, "/") && pred_ends(ps)))
			return 0;
		if (!(n = new_at(ps, N_BINARY)))
			return -ENOMEM;
		snprintf(n->op, sizeof(n->op), "%s", op);
		n->a = *ret;
		*ret = n;
		if ((r = next(ps)) < 0 || (r = parse_binary(ps, level + 1, &n->b)) < 0)
			return r;
	}
}

static int
parse_ternary(struct parser *ps, struct tnode **ret)
{
	struct tnode *n;
	int r;

	if ((r = parse_binary(ps, 0, ret)) < 0)
		return r;
	if (!lexer_is(&ps->lx, "?"))
		return 0;
	if (!(n = new_at(ps, N_TERNARY)))
		return -ENOMEM;
	n->a = *ret;
	*ret = n;
	if ((r = next(ps)) < 0 || (r = parse_assign(ps, &n->b)) < 0 || (r = expect(ps, ":")) < 0)
		return r;
	return parse_ternary(ps, &n->c);
}

static const char *const assign_ops[] = {
        "=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="};

static int
parse_assign(struct parser *ps, struct tnode **ret)
{
	int r;

	if ((r = parse_ternary(ps, ret)) < 0)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(assign_ops); i++) {
		if (lexer_is(&ps->lx, assign_ops[i])) {
			struct tnode *n = new_at(ps, N_ASSIGN);

			if (!n)
				return -ENOMEM;
			snprintf(n->op, sizeof(n->op), "%s", assign_ops[i]);
			n->a = *ret;
			*ret = n;
			if ((r = next(ps)) < 0)
				return r;
			return parse_assign(ps, &n->b);
		}
	}
	return 0;
}

static int
parse_expr(struct parser *ps, struct tnode **ret)
{
	return parse_assign(ps, ret);
}

static int parse_statements(struct parser *ps, struct tnode **ret);

static int
parse_statement(struct parser *ps, struct tnode **ret)
{
	struct tnode *n;
	int r;

	if (ps->lx.tok.kind == TK_IDENT && streq(ps->lx.tok.str, "if")) {
		if (!(n = *ret = new_at(ps, S_IF)))
			return -ENOMEM;
		if ((r = next(ps)) < 0 || (r = expect(ps, "(")) < 0 ||
		    (r = parse_expr(ps, &n->a)) < 0 || (r = expect(ps, ")")) < 0)
			return r;
		if ((r = parse_statement(ps, &n->b)) < 0)
			return r;
		if (ps->lx.tok.kind == TK_IDENT && streq(ps->lx.tok.str, "else")) {
			if ((r = next(ps)) < 0 || (r = parse_statement(ps, &n->c)) < 0)
				return r;
		}
		return 0;
	}
	if (lexer_is(&ps->lx, "{")) {
		if (!(n = *ret = new_at(ps, S_BLOCK)))
			return -ENOMEM;
		if ((r = next(ps)) < 0 || (r = parse_statements(ps, &n->a)) < 0)
			return r;
		return expect(ps, "}");
	}
	if (!(n = *ret = new_at(ps, S_EXPR)))
		return -ENOMEM;
	if ((r = parse_expr(ps, &n->a)) < 0)
		return r;
	if (n->a->kind == N_ASSIGN && n->a->a->kind == N_AGG) {
		/* @a[k] = func(args): an aggregating statement */
		struct tnode *assign = n->a, *call = assign->b;

		if (!streq(assign->op, "="))
			return trace_error(ps->p, ps->reterr, assign->line, assign->col,
			                   "aggregations are assigned with '=', not '%s'",
			                   assign->op);
		if (call->kind != N_CALL)
			return trace_error(ps->p, ps->reterr, call->line, call->col,
			                   "an aggregation takes an aggregating function such as "
			                   "count() or quantize(x)");
		n->kind = S_AGG;
		n->a = assign->a;
		n->b = call;
		assign->a = assign->b = NULL;
		tnode_free(assign);
	}
	if (lexer_is(&ps->lx, ";"))
		return next(ps);
	if (!lexer_is(&ps->lx, "}"))
		return syntax_error(ps, "expected ';'");
	return 0;
}

static int
parse_statements(struct parser *ps, struct tnode **ret)
{
	struct tnode **tail = ret;
	int r;

	while (!lexer_is(&ps->lx, "}") && ps->lx.tok.kind != TK_EOF) {
		if (lexer_is(&ps->lx, ";")) {
			if ((r = next(ps)) < 0)
				return r;
			continue;
		}
		if ((r = parse_statement(ps, tail)) < 0)
			return r;
		while (*tail)
			tail = &(*tail)->next;
	}
	return 0;
}

static int
add_probe(struct tnode *c, const char *desc)
{
	char **v = realloc(c->probes, (c->n_probes + 1) * sizeof(char *));

	if (!v)
		return -ENOMEM;
	c->probes = v;
	if (!(v[c->n_probes] = strdup(desc)))
		return -ENOMEM;
	c->n_probes++;
	return 0;
}

static int
parse_clause(struct parser *ps, struct tnode **ret)
{
	struct tnode *c = new_at(ps, CLAUSE);
	int r;

	if (!(*ret = c))
		return -ENOMEM;
	for (;;) {
		if (ps->lx.tok.kind != TK_PROBES)
			return syntax_error(ps, "expected a probe description");
		if ((r = add_probe(c, ps->lx.tok.str)) < 0 || (r = next(ps)) < 0)
			return r;
		if (!lexer_is(&ps->lx, ","))
			break;
		if ((r = lexer_next_probes(&ps->lx)) < 0)
			return r;
	}
	if (lexer_is(&ps->lx, "/")) {
		ps->in_pred = true;
		if ((r = next(ps)) < 0 || (r = parse_expr(ps, &c->pred)) < 0)
			return r;
		ps->in_pred = false;
		if (!lexer_is(&ps->lx, "/"))
			return syntax_error(ps, "expected '/' to end the predicate");
		if ((r = next(ps)) < 0)
			return r;
	}
	if (!lexer_is(&ps->lx, "{")) {
		if (ps->lx.tok.kind == TK_EOF)
			return 0; /* a bare description: the default action */
		return syntax_error(ps, "expected '{' or '/'");
	}
	if ((r = next(ps)) < 0 || (r = parse_statements(ps, &c->a)) < 0)
		return r;
	if (!lexer_is(&ps->lx, "}"))
		return syntax_error(ps, "expected '}'");
	return lexer_next_probes(&ps->lx);
}

int
trace_parse(struct hv_trace_program *p, struct hv_error **reterr)
{
	struct parser ps = {.p = p, .reterr = reterr};
	struct tnode **tail = &p->clauses;
	int r;

	lexer_init(&ps.lx, p->source, p->origin, reterr);
	r = lexer_next_probes(&ps.lx);
	while (r >= 0 && ps.lx.tok.kind != TK_EOF) {
		if (p->n_clauses >= TRACE_CLAUSES_MAX) {
			r = trace_error(p, reterr, ps.lx.tok.line, ps.lx.tok.col,
			                "more than %d clauses", TRACE_CLAUSES_MAX);
			break;
		}
		r = parse_clause(&ps, tail);
		if (*tail) {
			(*tail)->index = p->n_clauses++;
			tail = &(*tail)->next;
		}
	}
	if (r >= 0 && !p->clauses)
		r = trace_error(p, reterr, 1, 1, "no probe descriptions");
	lexer_done(&ps.lx);
	return r < 0 ? r : 0;
}

/* --- the AST dump: one node a line, indented, with line:col --- */

static const char *const nkind_names[] = {
        [N_INT] = "int",       [N_STR] = "string",    [N_IDENT] = "ident", [N_MACRO] = "macro",
        [N_SELF] = "self",     [N_THIS] = "this",     [N_AGG] = "agg",     [N_CALL] = "call",
        [N_ARGS] = "args",     [N_BINARY] = "binary", [N_UNARY] = "unary", [N_TERNARY] = "ternary",
        [N_ASSIGN] = "assign", [N_INCDEC] = "incdec", [S_EXPR] = "expr",   [S_IF] = "if",
        [S_BLOCK] = "block",   [S_AGG] = "aggregate", [CLAUSE] = "clause",
};

static void
dump_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '\t')
			fputs("\\t", f);
		else if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void dump_list(FILE *f, const struct tnode *n, int indent, const char *label);

static void
dump_node(FILE *f, const struct tnode *n, int indent, const char *label)
{
	fprintf(f, "%*s%s%s%s %d:%d", indent * 2, "", label ? label : "", label ? ": " : "",
	        nkind_names[n->kind], n->line, n->col);
	if (n->op[0])
		fprintf(f, " %s", n->op);
	if (n->kind == N_INT)
		fprintf(f, " %" PRId64, n->num);
	else if (n->kind == N_STR)
		fputc(' ', f), dump_str(f, n->name);
	else if (n->name)
		fprintf(f, " %s", n->name);
	if (n->type == TY_INT)
		fprintf(f, " <int%u%s>", n->size * 8, n->is_signed ? "" : "u");
	else if (n->type == TY_STRING)
		fprintf(f, " <string[%u]>", n->size);
	if (n->kind == CLAUSE) {
		for (size_t i = 0; i < n->n_probes; i++)
			fprintf(f, " %s", n->probes[i]);
	}
	fputc('\n', f);
	if (n->pred)
		dump_node(f, n->pred, indent + 1, "predicate");
	if (n->kind == CLAUSE || n->kind == S_BLOCK) {
		dump_list(f, n->a, indent + 1, NULL);
		return;
	}
	if (n->kind == S_IF) {
		dump_node(f, n->a, indent + 1, "cond");
		dump_node(f, n->b, indent + 1, "then");
		if (n->c)
			dump_node(f, n->c, indent + 1, "else");
		return;
	}
	dump_list(f, n->args, indent + 1, "arg");
	if (n->a)
		dump_node(f, n->a, indent + 1, NULL);
	if (n->b)
		dump_node(f, n->b, indent + 1, NULL);
	if (n->c)
		dump_node(f, n->c, indent + 1, NULL);
}

static void
dump_list(FILE *f, const struct tnode *n, int indent, const char *label)
{
	for (; n; n = n->next)
		dump_node(f, n, indent, label);
}

void
trace_dump_ast(const struct hv_trace_program *p, FILE *f)
{
	dump_list(f, p->clauses, 0, NULL);
}
