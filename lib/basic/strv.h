/* SPDX-License-Identifier: MIT */
#pragma once

/* NULL-terminated arrays of owned strings. */

#include <stddef.h>

#include "basic/cleanup.h"

char **strv_free(char **l);
size_t strv_length(char *const *l);
/* Append s, taking ownership of it (freed on failure too). */
int strv_consume(char ***l, char *s);
/* Append a copy of s. */
int strv_push(char ***l, const char *s);
int strv_contains(char *const *l, const char *s);
/* Split s at every occurrence of sep (a single character); empty fields are kept. */
int strv_split(const char *s, char sep, char ***ret);
/* Join with sep; an empty list gives "". */
char *strv_join(char *const *l, const char *sep);

static inline void
strv_freep(char ***l)
{
	*l = strv_free(*l);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)

#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)
