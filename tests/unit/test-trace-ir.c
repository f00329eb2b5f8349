/* SPDX-License-Identifier: MIT */
/*
 * Lowering and code generation on a golden corpus: each
 * tests/golden/trace-ir/NAME.d gives its IR and its BPF instructions in
 * NAME.expect, so a change to either pass shows as a reviewable diff.
 */
#include <stdio.h>
#include <stdlib.h>

#include "golden.h"
#include "tests.h"
#include "trace/trace.h"

static char *
outcome(const char *file, const char *text, size_t size)
{
	struct hv_trace_program *p = NULL;
	struct hv_error *e = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int r;

	r = hv_trace_compile(text, file, NULL, &p, &e);
	if (r < 0) {
		fprintf(f, "error: %s\n", hv_error_message(e, r));
	} else {
		hv_trace_dump(p, "ir", f);
		hv_trace_dump(p, "bpf", f);
	}
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
