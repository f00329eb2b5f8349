/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "tests.h"

#define CASES_MAX 4096

static const char *golden_dir;
static size_t golden_max;
static golden_fn golden_outcome;
static const char *golden_ext = ".json";
static char *cases[CASES_MAX];
static size_t n_cases, next_case;

/* The whole file (NUL-terminated), or NULL. */
static char *
slurp(const char *path, size_t max, size_t *ret_size)
{
	FILE *f = fopen(path, "re");
	char *buf = f ? malloc(max + 1) : NULL;
	size_t n = buf ? fread(buf, 1, max + 1, f) : 0;

	if (f)
		fclose(f);
	if (!buf || n > max) {
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	if (ret_size)
		*ret_size = n;
	return buf;
}

static void
golden_case(void)
{
	const char *file = cases[next_case++];
	char path[4096], expect_path[4096], *text, *got, *expect;
	size_t size;

	snprintf(path, sizeof(path), "%s/%s", golden_dir, file);
	snprintf(expect_path, sizeof(expect_path), "%s/%.*s.expect", golden_dir,
	         (int)(strlen(file) - strlen(golden_ext)), file);
	text = slurp(path, golden_max, &size);
	if (!text)
		tests_fail(__FILE__, __LINE__, "cannot read %s", path);
	got = golden_outcome(file, text, size);
	free(text);
	if (!got)
		tests_fail(__FILE__, __LINE__, "%s: no outcome", file);
	if (getenv("SABLE_GOLDEN_UPDATE")) {
		FILE *f = fopen(expect_path, "we");
		if (!f || fputs(got, f) < 0 || fclose(f) != 0)
			tests_fail(__FILE__, __LINE__, "cannot write %s", expect_path);
		free(got);
		return;
	}
	expect = slurp(expect_path, 1024 * 1024, NULL);
	if (!expect)
		tests_fail(__FILE__, __LINE__, "no %s; the case gives:\n%s", expect_path, got);
	if (strcmp(expect, got) != 0)
		tests_fail(__FILE__, __LINE__, "%s: expected:\n%sgot:\n%s", file, expect, got);
	free(expect);
	free(got);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t
golden_register(const char *dir, size_t max_size, golden_fn fn)
{
	return golden_register_ext(dir, ".json", max_size, fn);
}

size_t
golden_register_ext(const char *dir, const char *ext, size_t max_size, golden_fn fn)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t el = strlen(ext);

	golden_dir = dir;
	golden_max = max_size;
	golden_outcome = fn;
	golden_ext = ext;
	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n > el && strcmp(de->d_name + n - el, ext) == 0 && n_cases < CASES_MAX &&
		    !(cases[n_cases++] = strdup(de->d_name)))
			abort();
	}
	if (d)
		closedir(d);
	qsort(cases, n_cases, sizeof(char *), name_cmp);
	for (size_t i = 0; i < n_cases; i++) {
		char *t = NULL;

		if (asprintf(&t, "golden %.*s", (int)(strlen(cases[i]) - el), cases[i]) < 0)
			abort();
		tests_register(t, golden_case); /* t lives as long as the program */
	}
	return n_cases;
}
