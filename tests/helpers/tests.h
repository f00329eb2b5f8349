/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A small unit-test harness that speaks TAP (meson's protocol: 'tap').
 *
 *   TEST(name) { ASSERT_OK(f()); ASSERT_STREQ(a, b); }
 *
 * Tests register themselves and run in file order. A failed assertion ends
 * its test (the rest go on); SKIP("why") marks a test skipped. The process
 * exits 1 if any test failed, 77 if every test was skipped, else 0.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void tests_register(const char *name, void (*fn)(void));
_Noreturn void tests_fail(const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
_Noreturn void tests_skip(const char *why);

/* A scratch directory for this test binary, removed at exit. */
const char *tests_tmpdir(void);

#define TEST(name)                                                     \
	static void test_##name(void);                                 \
	__attribute__((constructor)) static void register_##name(void) \
	{                                                              \
		tests_register(#name, test_##name);                    \
	}                                                              \
	static void test_##name(void)

#define SKIP(why) tests_skip(why)

#define ASSERT_TRUE(expr)                                                           \
	do {                                                                        \
		if (!(expr))                                                        \
			tests_fail(__FILE__, __LINE__, "expected true: %s", #expr); \
	} while (0)

#define ASSERT_FALSE(expr) ASSERT_TRUE(!(expr))

/* expr >= 0 */
#define ASSERT_OK(expr)                                                                  \
	do {                                                                             \
		intmax_t _r = (intmax_t)(expr);                                          \
		if (_r < 0)                                                              \
			tests_fail(__FILE__, __LINE__, "%s failed: %jd (%s)", #expr, _r, \
			           strerror((int)-_r));                                  \
	} while (0)

/* expr == the (negative) errno code */
#define ASSERT_ERR(expr, code)                                                                  \
	do {                                                                                    \
		intmax_t _r = (intmax_t)(expr), _c = (intmax_t)(code);                          \
		if (_r != _c)                                                                   \
			tests_fail(__FILE__, __LINE__, "%s: got %jd, expected %jd (%s)", #expr, \
			           _r, _c, strerror((int)-_c));                                 \
	} while (0)

#define ASSERT_EQ(a, b)                                                                         \
	do {                                                                                    \
		intmax_t _a = (intmax_t)(a), _b = (intmax_t)(b);                                \
		if (_a != _b)                                                                   \
			tests_fail(__FILE__, __LINE__, "%s == %s: %jd != %jd", #a, #b, _a, _b); \
	} while (0)

#define ASSERT_UEQ(a, b)                                                                        \
	do {                                                                                    \
		uintmax_t _a = (uintmax_t)(a), _b = (uintmax_t)(b);                             \
		if (_a != _b)                                                                   \
			tests_fail(__FILE__, __LINE__, "%s == %s: %ju != %ju", #a, #b, _a, _b); \
	} while (0)

#define ASSERT_STREQ(a, b)                                                               \
	do {                                                                             \
		const char *_a = (a), *_b = (b);                                         \
		if (!_a || !_b || strcmp(_a, _b) != 0)                                   \
			tests_fail(__FILE__, __LINE__, "%s == %s: '%s' != '%s'", #a, #b, \
			           _a ? _a : "(null)", _b ? _b : "(null)");              \
	} while (0)

/* haystack contains needle */
#define ASSERT_CONTAINS(haystack, needle)                                            \
	do {                                                                         \
		const char *_h = (haystack), *_n = (needle);                         \
		if (!_h || !strstr(_h, _n))                                          \
			tests_fail(__FILE__, __LINE__, "'%s' does not contain '%s'", \
			           _h ? _h : "(null)", _n);                          \
	} while (0)
