/* SPDX-License-Identifier: MIT */
/*
 * The lexer: D text to tokens, one at a time, pulled by the parser. Probe
 * descriptions are lexed in a mode of their own (lexer_next_probes), as
 * DTrace does, since "syscall::read:entry" and "tick-1s" are not
 * expressions. Every token carries the line and column it starts at; the
 * strings it hands out live as long as the lexer.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "trace-internal.h"

void
lexer_init(struct lexer *lx, const char *src, const char *origin, struct hv_error **reterr)
{
	*lx = (struct lexer){
	        .src = src, .p = src, .line = 1, .col = 1, .reterr = reterr, .origin = origin};
}

void
lexer_done(struct lexer *lx)
{
	for (size_t i = 0; i < lx->n_strs; i++)
		free(lx->strs[i]);
	lx->n_strs = 0;
}

static char *
keep(struct lexer *lx, char *s)
{
	if (!s)
		return NULL;
	if (lx->n_strs >= ELEMENTSOF(lx->strs)) {
		free(s);
		return NULL;
	}
	lx->strs[lx->n_strs++] = s;
	return s;
}

static int
lex_error(struct lexer *lx, int line, int col, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lx->tok.kind = TK_ERROR;
	lx->err = hv_error_set(lx->reterr, -EINVAL, "%s:%d:%d: %s", lx->origin, line, col, msg);
	return lx->err;
}

static void
advance(struct lexer *lx)
{
	if (*lx->p == '\n') {
		lx->line++;
		lx->col = 1;
	} else {
		lx->col++;
	}
	lx->p++;
}

/* Skip blanks, comments, and lines that start with '#' (#!, #pragma). */
static int
skip_space(struct lexer *lx)
{
	for (;;) {
		if (isspace((unsigned char)*lx->p)) {
			advance(lx);
		} else if (lx->p[0] == '/' && lx->p[1] == '*') {
			int line = lx->line, col = lx->col;

			advance(lx);
			advance(lx);
			while (*lx->p && !(lx->p[0] == '*' && lx->p[1] == '/'))
				advance(lx);
			if (!*lx->p)
				return lex_error(lx, line, col, "unterminated comment");
			advance(lx);
			advance(lx);
		} else if (lx->p[0] == '/' && lx->p[1] == '/') {
			while (*lx->p && *lx->p != '\n')
				advance(lx);
		} else if (*lx->p == '#' && lx->col == 1) {
			while (*lx->p && *lx->p != '\n')
				advance(lx);
		} else {
			return 0;
		}
	}
}

static const char *const puncts[] = {
        "<<=", ">>=", "->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&",
        "||",  "^^",  "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "+",  "-",
        "*",   "/",   "%",  "&",  "|",  "^",  "!",  "~",  "<",  ">",  "=",  "?",
        ":",   ";",   ",",  "(",  ")",  "[",  "]",  "{",  "}",  ".",
};

static int
lex_string(struct lexer *lx)
{
	int line = lx->line, col = lx->col;
	size_t cap = 64, n = 0;
	char *s = malloc(cap);

	if (!s)
		return -ENOMEM;
	advance(lx);
	while (*lx->p != '"') {
		char c = *lx->p;

		if (!c || c == '\n') {
			free(s);
			return lex_error(lx, line, col, "unterminated string");
		}
		if (c == '\\') {
			advance(lx);
			c = *lx->p;
			switch (c) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case '0':
				c = '\0';
				break;
			case 'a':
				c = '\a';
				break;
			case 'b':
				c = '\b';
				break;
			case '\\':
			case '"':
			case '\'':
				break;
			default:
				free(s);
				return lex_error(lx, lx->line, lx->col, "unknown escape '\\%c'",
				                 c ? c : '0');
			}
		}
		if (n + 2 > cap) {
			char *t = realloc(s, cap *= 2);
			if (!t) {
				free(s);
				return -ENOMEM;
			}
			s = t;
		}
		s[n++] = c;
		advance(lx);
	}
	advance(lx);
	s[n] = 0;
	lx->tok.kind = TK_STR;
	lx->tok.str = keep(lx, s);
	return lx->tok.str ? 0 : -ENOMEM;
}

static int
lex_number(struct lexer *lx)
{
	const char *start = lx->p;
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(start, &end, 0);
	if (errno == ERANGE)
		return lex_error(lx, lx->line, lx->col, "integer constant '%.*s' is too large",
		                 (int)strcspn(start, " \t\n;)}"), start);
	while (*end == 'u' || *end == 'U' || *end == 'l' || *end == 'L')
		end++;
	if (isalnum((unsigned char)*end) || *end == '_')
		return lex_error(lx, lx->line, lx->col, "invalid integer constant '%.*s'",
		                 (int)(end - start + 1), start);
	while (lx->p < end)
		advance(lx);
	lx->tok.kind = TK_INT;
	lx->tok.num = (int64_t)v;
	return 0;
}

static bool
is_ident(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '`';
}

/*
 * The start of every token, in either mode: the lexer's error again once it
 * has one, blanks and comments skipped, the token's position noted. 1 when
 * there is text to lex, 0 at the end of the input (an EOF token), or an error.
 */
static int
token_begin(struct lexer *lx)
{
	int r;

	if (lx->err)
		return lx->err;
	if ((r = skip_space(lx)) < 0)
		return r;
	lx->tok = (struct token){.line = lx->line, .col = lx->col};
	if (!*lx->p) {
		lx->tok.kind = TK_EOF;
		return 0;
	}
	return 1;
}

/* A token of kind whose text is the n bytes at start, kept as long as the lexer. */
static int
token_text(struct lexer *lx, enum tok kind, const char *start, size_t n)
{
	lx->tok.kind = kind;
	lx->tok.str = keep(lx, strndup(start, n));
	return lx->tok.str ? 0 : -ENOMEM;
}

int
lexer_next(struct lexer *lx)
{
	int r;

	if ((r = token_begin(lx)) <= 0)
		return r;
	if (*lx->p == '"')
		return lex_string(lx);
	if (isdigit((unsigned char)*lx->p))
		return lex_number(lx);
	if (isalpha((unsigned char)*lx->p) || *lx->p == '_' || *lx->p == '$' || *lx->p == '@') {
		const char *start = lx->p;
		enum tok kind = *lx->p == '$' ? TK_MACRO : *lx->p == '@' ? TK_AGG : TK_IDENT;

		if (kind != TK_IDENT)
			advance(lx);
		while (is_ident(*lx->p))
			advance(lx);
		if (kind == TK_MACRO && lx->p == start + 1)
			return lex_error(lx, lx->tok.line, lx->tok.col, "'$' without a name");
		return token_text(lx, kind, start + (kind != TK_IDENT),
		                  lx->p - start - (kind != TK_IDENT));
	}
	for (size_t i = 0; i < ELEMENTSOF(puncts); i++) {
		size_t l = strlen(puncts[i]);

		if (strncmp(lx->p, puncts[i], l) == 0) {
			lx->tok.kind = TK_PUNCT;
			memcpy(lx->tok.text, puncts[i], l + 1);
			for (size_t j = 0; j < l; j++)
				advance(lx);
			return 0;
		}
	}
	if (isprint((unsigned char)*lx->p))
		return lex_error(lx, lx->line, lx->col, "invalid character '%c'", *lx->p);
	return lex_error(lx, lx->line, lx->col, "invalid character 0x%02x", (unsigned char)*lx->p);
}

/* A probe description runs until blank, ',', '/' or '{'. */
int
lexer_next_probes(struct lexer *lx)
{
	const char *start;
	int r;

	if ((r = token_begin(lx)) <= 0)
		return r;
	start = lx->p;
	while (*lx->p && !isspace((unsigned char)*lx->p) && !strchr(",/{}", *lx->p)) {
		if (lx->p[0] == '/' && lx->p[1] == '*')
			break;
		advance(lx);
	}
	if (lx->p == start)
		return lexer_next(lx); /* punctuation: the parser says what it expected */
	return token_text(lx, TK_PROBES, start, lx->p - start);
}

bool
lexer_is(const struct lexer *lx, const char *punct)
{
	return lx->tok.kind == TK_PUNCT && streq(lx->tok.text, punct);
}

const char *
token_describe(const struct token *t, char *buf, size_t size)
{
	switch (t->kind) {
	case TK_EOF:
		snprintf(buf, size, "end of input");
		break;
	case TK_INT:
		snprintf(buf, size, "'%" PRId64 "'", t->num);
		break;
	case TK_STR:
		snprintf(buf, size, "'\"%.40s\"'", t->str);
		break;
	case TK_MACRO:
		snprintf(buf, size, "'$%.40s'", t->str);
		break;
	case TK_AGG:
		snprintf(buf, size, "'@%.40s'", t->str);
		break;
	case TK_IDENT:
	case TK_PROBES:
		snprintf(buf, size, "'%.40s'", t->str);
		break;
	case TK_PUNCT:
		snprintf(buf, size, "'%s'", t->text);
		break;
	default:
		snprintf(buf, size, "an invalid token");
	}
	return buf;
}
