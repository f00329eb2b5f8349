/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/macro.h"
#include "basic/path.h"

bool
path_is_safe(const char *p)
{
	const char *c = p;

	for (;;) {
		size_t n = strcspn(c, "/");

		if (n == 2 && c[0] == '.' && c[1] == '.')
			return false;
		if (!c[n])
			return true;
		c += n + 1;
	}
}

char *
path_simplify(char *p)
{
	char *out = p;
	const char *in = p;
	bool abs = *p == '/';

	while (*in) {
		size_t n;

		while (*in == '/')
			in++;
		n = strcspn(in, "/");
		if (n == 0)
			break;
		if (n == 1 && in[0] == '.') {
			in++;
			continue;
		}
		if (out != p || abs)
			*out++ = '/';
		memmove(out, in, n);
		out += n;
		in += n;
	}
	if (out == p && *p) {
		/* "/" stays "/", a relative path that simplified away becomes ".", "" stays "". */
		*out++ = abs ? '/' : '.';
	}
	*out = 0;
	return p;
}

int
path_join(const char *a, const char *b, char **ret)
{
	char *s;

	if (asprintf(&s, "%s/%s", a, b) < 0)
		return -ENOMEM;
	*ret = path_simplify(s);
	return 0;
}

int
path_join_beneath(const char *base, const char *rel, char **ret)
{
	if (!path_is_safe(rel))
		return -EINVAL;
	return path_join(base, rel, ret);
}

int
path_basename(const char *p, char **ret)
{
	_cleanup_free_ char *c = strdup(p);
	const char *slash;
	char *s;

	if (!c)
		return -ENOMEM;
	path_simplify(c);
	slash = strrchr(c, '/');
	s = strdup(slash && slash[1] ? slash + 1 : c);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int
path_dirname(const char *p, char **ret)
{
	size_t n = strlen(p);
	char *c = malloc(MAX(n + 1, sizeof(".")));
	char *slash;

	if (!c)
		return -ENOMEM;
	memcpy(c, p, n + 1);
	path_simplify(c);
	slash = strrchr(c, '/');
	if (!slash)
		strcpy(c, ".");
	else if (slash == c)
		c[1] = 0;
	else
		*slash = 0;
	*ret = c;
	return 0;
}
