/* SPDX-License-Identifier: MIT */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests.h"

#define MAX_TESTS 256

static struct {
	const char *name;
	void (*fn)(void);
} tests[MAX_TESTS];
static int n_tests;
static jmp_buf jump;
static char skip_reason[256];
static char tmpdir[64];

void
tests_register(const char *name, void (*fn)(void))
{
	if (n_tests == MAX_TESTS) {
		fprintf(stderr, "too many tests\n");
		abort();
	}
	tests[n_tests].name = name;
	tests[n_tests].fn = fn;
	n_tests++;
}

void
tests_fail(const char *file, int line, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Every line of a diagnostic is a TAP comment. */
	printf("# %s:%d: ", file, line);
	for (const char *p = msg; *p; p++) {
		putchar(*p);
		if (*p == '\n')
			fputs("# ", stdout);
	}
	printf("\n");
	longjmp(jump, 1);
}

void
tests_skip(const char *why)
{
	snprintf(skip_reason, sizeof(skip_reason), "%s", why);
	longjmp(jump, 2);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
cleanup_tmpdir(void)
{
	if (tmpdir[0])
		(void)nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *
tests_tmpdir(void)
{
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/sable-unit-XXXXXX");
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			abort();
		}
		atexit(cleanup_tmpdir);
	}
	return tmpdir;
}

int
main(int argc, char *argv[])
{
	int failed = 0, skipped = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("1..%d\n", n_tests);
	for (int i = 0; i < n_tests; i++) {
		int k = setjmp(jump);

		if (k == 0) {
			tests[i].fn();
			printf("ok %d - %s\n", i + 1, tests[i].name);
		} else if (k == 1) {
			printf("not ok %d - %s\n", i + 1, tests[i].name);
			failed++;
		} else {
			printf("ok %d - %s # SKIP %s\n", i + 1, tests[i].name, skip_reason);
			skipped++;
		}
	}
	if (failed)
		return 1;
	return n_tests > 0 && skipped == n_tests ? 77 : 0;
}
