/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/strv.h"

char **
strv_free(char **l)
{
	if (!l)
		return NULL;
	for (char **s = l; *s; s++)
		free(*s);
	free(l);
	return NULL;
}

size_t
strv_length(char *const *l)
{
	size_t n = 0;

	while (l && l[n])
		n++;
	return n;
}

int
strv_consume(char ***l, char *s)
{
	size_t n = strv_length(*l);
	char **nl;

	if (!s)
		return -ENOMEM;
	nl = reallocarray(*l, n + 2, sizeof(char *));
	if (!nl) {
		free(s);
		return -ENOMEM;
	}
	nl[n] = s;
	nl[n + 1] = NULL;
	*l = nl;
	return 0;
}

int
strv_push(char ***l, const char *s)
{
	return strv_consume(l, strdup(s));
}

int
strv_contains(char *const *l, const char *s)
{
	STRV_FOREACH (i, l)
		if (streq(*i, s))
			return 1;
	return 0;
}

int
strv_split(const char *s, char sep, char ***ret)
{
	_cleanup_strv_free_ char **l = NULL;
	int r;

	/* A list, even if empty, is never NULL. */
	l = calloc(1, sizeof(char *));
	if (!l)
		return -ENOMEM;
	for (;;) {
		const char *e = strchr(s, sep);
		size_t n = e ? (size_t)(e - s) : strlen(s);

		r = strv_consume(&l, strndup(s, n));
		if (r < 0)
			return r;
		if (!e)
			break;
		s = e + 1;
	}
	*ret = TAKE_PTR(l);
	return 0;
}

char *
strv_join(char *const *l, const char *sep)
{
	size_t len = 0, sl = strlen(sep);
	char *r, *p;

	STRV_FOREACH (s, l)
		len += strlen(*s) + sl;
	r = malloc(len + 1);
	if (!r)
		return NULL;
	p = r;
	STRV_FOREACH (s, l) {
		if (p != r)
			p = stpcpy(p, sep);
		p = stpcpy(p, *s);
	}
	*p = 0;
	return r;
}
