/* SPDX-License-Identifier: MIT */
/* The D lexer: tokens, their positions, probe descriptions, and bad input. */
#include <stdlib.h>

#include "tests.h"
#include "trace/trace-internal.h"

static char *
tokens(const char *src, bool probes_first)
{
	static char out[4096];
	struct hv_error *e = NULL;
	struct lexer lx;
	size_t n = 0;
	int r;

	lexer_init(&lx, src, "t.d", &e);
	r = probes_first ? lexer_next_probes(&lx) : lexer_next(&lx);
	out[0] = 0;
	while (r >= 0 && lx.tok.kind != TK_EOF) {
		char buf[128];

		n += snprintf(out + n, sizeof(out) - n, "%d:%d %s\n", lx.tok.line, lx.tok.col,
		              token_describe(&lx.tok, buf, sizeof(buf)));
		r = lexer_next(&lx);
	}
	if (r < 0)
		snprintf(out + n, sizeof(out) - n, "error %s\n", hv_error_message(e, r));
	lexer_done(&lx);
	hv_error_free(e);
	return out;
}

TEST(operators)
{
	ASSERT_STREQ(tokens("a<<=b->c++ != ^^", false),
	             "1:1 'a'\n1:2 '<<='\n1:5 'b'\n1:6 '->'\n1:8 'c'\n1:9 '++'\n1:12 '!='\n"
	             "1:15 '^^'\n");
}

TEST(numbers_and_strings)
{
	ASSERT_STREQ(tokens("0x1f 017 42ul \"a\\tb\\n\"", false),
	             "1:1 '31'\n1:6 '15'\n1:10 '42'\n1:15 '\"a\tb\n\"'\n");
}

TEST(macros_and_aggregations)
{
	ASSERT_STREQ(tokens("$1 $target @ @counts", false),
	             "1:1 '$1'\n1:4 '$target'\n1:12 '@'\n1:14 '@counts'\n");
}

TEST(comments_and_lines)
{
	ASSERT_STREQ(tokens("#!/usr/sbin/dtrace -s\n/* a\n b */ x // y\n  z", false),
	             "3:7 'x'\n4:3 'z'\n");
}

TEST(probe_descriptions)
{
	ASSERT_STREQ(tokens("syscall::read:entry,tick-1s /x/", true),
	             "1:1 'syscall::read:entry'\n1:20 ','\n1:21 'tick'\n1:25 '-'\n"
	             "error t.d:1:26: invalid integer constant '1s'\n");
	ASSERT_STREQ(tokens("  tick-1s,profile-997{", true),
	             "1:3 'tick-1s'\n1:10 ','\n1:11 'profile'\n1:18 '-'\n1:19 '997'\n1:22 '{'\n");
}

TEST(errors)
{
	ASSERT_STREQ(tokens("a \"open", false), "1:1 'a'\nerror t.d:1:3: unterminated string\n");
	ASSERT_STREQ(tokens("x\n  /* no end", false),
	             "1:1 'x'\nerror t.d:2:3: unterminated comment\n");
	ASSERT_STREQ(tokens("a # b", false), "1:1 'a'\nerror t.d:1:3: invalid character '#'\n");
	ASSERT_STREQ(tokens("\"\\q\"", false), "error t.d:1:3: unknown escape '\\q'\n");
	ASSERT_STREQ(tokens("99999999999999999999999", false),
	             "error t.d:1:1: integer constant '99999999999999999999999' is too large\n");
	ASSERT_STREQ(tokens("$ x", false), "error t.d:1:1: '$' without a name\n");
}
