/* SPDX-License-Identifier: MIT */
/* D programs through every compiler pass (lex, parse, resolve, check, IR, BPF) and the dumps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "trace/trace.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *args[] = {"dtrace", "1", "two"};
	struct hv_trace_options o = {.macro_args = args, .n_macro_args = 3, .target = 1};
	struct hv_trace_program *p = NULL;
	struct hv_error *e = NULL;
	char *s;

	if (size > 16 * 1024 || !(s = strndup((const char *)data, size)))
		return 0;
	if (hv_trace_compile(s, "fuzz", &o, &p, &e) >= 0) {
		FILE *f = fopen("/dev/null", "we");

		if (f) {
			hv_trace_dump(p, "ast", f);
			hv_trace_dump(p, "ir", f);
			hv_trace_dump(p, "bpf", f);
			fclose(f);
		}
	} else if (!e || !strstr(hv_error_message(e, -EINVAL), "")) {
		abort();
	}
	hv_trace_program_free(p);
	hv_error_free(e);
	free(s);
	return 0;
}
