/* SPDX-License-Identifier: MIT */
/* DTrace's histograms, byte for byte. */
#include <stdio.h>
#include <stdlib.h>

#include "tests.h"
#include "trace/trace-internal.h"

static char *
capture(void (*fn)(FILE *, const int64_t *, void *), const int64_t *b, void *ud)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fn(f, b, ud);
	fclose(f);
	return buf;
}

static void
quant(FILE *f, const int64_t *b, void *ud)
{
	trace_print_quantize(f, b);
}

static void
lquant(FILE *f, const int64_t *b, void *ud)
{
	trace_print_lquantize(f, b, 0, 100, 10);
}

TEST(quantize)
{
	int64_t b[QUANT_BUCKETS] = {0};
	char *s;

	b[QUANT_ZERO + 1] = 3; /* 1 */
	b[QUANT_ZERO + 3] = 1; /* 4..7 */
	s = capture(quant, b, NULL);
	ASSERT_STREQ(s, "\n"
	                "           value  ------------- Distribution ------------- count    \n"
	                "               0 |                                         0        \n"
	                "               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@           3        \n"
	                "               2 |                                         0        \n"
	                "               4 |@@@@@@@@@@                               1        \n"
	                "               8 |                                         0        \n");
	free(s);
}

TEST(quantize_empty)
{
	int64_t b[QUANT_BUCKETS] = {0};
	char *s = capture(quant, b, NULL);

	ASSERT_STREQ(s, "\n"
	                "           value  ------------- Distribution ------------- count    \n"
	                "              -1 |                                         0        \n"
	                "               0 |                                         0        \n"
	                "               1 |                                         0        \n");
	free(s);
}

TEST(lquantize)
{
	int64_t b[12] = {0};
	char *s;

	b[0] = 1;  /* < 0 */
	b[11] = 1; /* >= 100 */
	b[3] = 2;  /* 20..29 */
	s = capture(lquant, b, NULL);
	ASSERT_STREQ(s, "\n"
	                "           value  ------------- Distribution ------------- count    \n"
	                "             < 0 |@@@@@@@@@@                               1        \n"
	                "               0 |                                         0        \n"
	                "              10 |                                         0        \n"
	                "              20 |@@@@@@@@@@@@@@@@@@@@                     2        \n"
	                "              30 |                                         0        \n"
	                "              40 |                                         0        \n"
	                "              50 |                                         0        \n"
	                "              60 |                                         0        \n"
	                "              70 |                                         0        \n"
	                "              80 |                                         0        \n"
	                "              90 |                                         0        \n"
	                "          >= 100 |@@@@@@@@@@                               1        \n");
	free(s);
}
