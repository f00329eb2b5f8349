/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Small language helpers every layer uses. Kept deliberately short: if a
 * macro here is not used by at least two files, it does not belong here.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define _printf_(a, b)       __attribute__((format(printf, a, b)))
#define _unused_             __attribute__((unused))
#define _noreturn_           __attribute__((noreturn))
#define _warn_unused_result_ __attribute__((warn_unused_result))
#define _sentinel_           __attribute__((sentinel))
#define _likely_(x)          (__builtin_expect(!!(x), 1))
#define _unlikely_(x)        (__builtin_expect(!!(x), 0))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define MIN(a, b)                       \
	__extension__({                 \
		__typeof__(a) _a = (a); \
		__typeof__(b) _b = (b); \
		_a < _b ? _a : _b;      \
	})
#define MAX(a, b)                       \
	__extension__({                 \
		__typeof__(a) _a = (a); \
		__typeof__(b) _b = (b); \
		_a > _b ? _a : _b;      \
	})

/* Turn a libc "-1 and errno" result into our "-errno" convention. */
#define RET_NERRNO(expr)                      \
	__extension__({                       \
		__typeof__(expr) _r = (expr); \
		_r < 0 ? -errno : _r;         \
	})

/* errno as a negative value, never 0 (a libc call that failed without errno is an I/O error). */
static inline int
negative_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

static inline bool
streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static inline bool
streq_ptr(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static inline const char *
strempty(const char *s)
{
	return s ? s : "";
}

static inline bool
isempty(const char *s)
{
	return !s || !*s;
}

/* If s starts with prefix, the rest of s; otherwise NULL. */
static inline const char *
startswith(const char *s, const char *prefix)
{
	size_t l = strlen(prefix);
	return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}
