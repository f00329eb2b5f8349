/* SPDX-License-Identifier: MIT */
/*
 * The parser, resolver and checker on a golden corpus: each
 * tests/golden/trace-parse/NAME.d gives its checked AST (types included)
 * or its one error line, in NAME.expect.
 */
#include <stdio.h>
#include <stdlib.h>

#include "golden.h"
#include "tests.h"
#include "trace/trace.h"

static char *
outcome(const char *file, const char *text, size_t size)
{
	struct hv_trace_options o = {.n_macro_args = 3, .target = 4242};
	char *args[] = {"dtrace", "17", "hello"}, *buf = NULL;
	struct hv_trace_program *p = NULL;
	struct hv_error *e = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int r;

	o.macro_args = args;
	r = hv_trace_compile(text, file, &o, &p, &e);
	if (r < 0)
		fprintf(f, "error: %s\n", hv_error_message(e, r));
	else
		hv_trace_dump(p, "ast", f);
	fclose(f);
	hv_trace_program_free(p);
	hv_error_free(e);
	return buf;
}

__attribute__((constructor)) static void
setup(void)
{
	golden_register_ext(GOLDEN_DIR, ".d", 64 * 1024, outcome);
}
