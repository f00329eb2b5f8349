/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/error.h"

static int
normalize(int code)
{
	if (code > 0)
		return -code;
	return code == 0 ? -EIO : code;
}

static char *
vformat(int code, const char *fmt, va_list ap)
{
	char *s = NULL;

	errno = -code; /* for %m */
	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

static int
install(struct hv_error **reterr, int code, char *msg, char *path)
{
	struct hv_error *e;

	/* An error is one line: control characters from user input must not break it. */
	for (char *c = msg; c && *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	if (!msg) {
		free(path);
		return code;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		free(msg);
		free(path);
		return code;
	}
	e->code = code;
	e->msg = msg;
	e->path = path;
	hv_error_free(*reterr);
	*reterr = e;
	return code;
}

int
hv_error_set(struct hv_error **reterr, int code, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	code = normalize(code);
	if (!reterr)
		return code;
	va_start(ap, fmt);
	msg = vformat(code, fmt, ap);
	va_end(ap);
	return install(reterr, code, msg, NULL);
}

int
hv_error_set_path(struct hv_error **reterr, int code, const char *path, const char *fmt, ...)
{
	va_list ap;
	char *msg, *p = NULL;

	code = normalize(code);
	if (!reterr)
		return code;
	va_start(ap, fmt);
	msg = vformat(code, fmt, ap);
	va_end(ap);
	if (path) {
		p = strdup(path);
		if (!p) {
			free(msg);
			return code;
		}
	}
	return install(reterr, code, msg, p);
}

int
hv_error_prefix(struct hv_error **reterr, int code, const char *fmt, ...)
{
	_cleanup_free_ char *ctx = NULL;
	va_list ap;
	char *msg = NULL;

	code = normalize(code);
	if (!reterr)
		return code;
	va_start(ap, fmt);
	ctx = vformat(code, fmt, ap);
	va_end(ap);
	if (!ctx)
		return code;

	if (!*reterr)
		return hv_error_set(reterr, code, "%s: %s", ctx, strerror(-code));

	if (asprintf(&msg, "%s: %s", ctx, (*reterr)->msg) < 0)
		return code;
	for (char *c = msg; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	free((*reterr)->msg);
	(*reterr)->msg = msg;
	(*reterr)->code = code;
	return code;
}

int
hv_error_path_prefix(struct hv_error **reterr, int code, const char *component)
{
	char *p = NULL;
	int r;

	code = normalize(code);
	if (!reterr || !*reterr)
		return code;
	if ((*reterr)->path)
		r = asprintf(&p, "%s.%s", component, (*reterr)->path);
	else
		r = asprintf(&p, "%s", component);
	if (r < 0)
		return code;
	free((*reterr)->path);
	(*reterr)->path = p;
	return code;
}

const char *
hv_error_message(const struct hv_error *e, int code)
{
	if (e && e->msg)
		return e->msg;
	return strerror(code < 0 ? -code : code);
}

struct hv_error *
hv_error_free(struct hv_error *e)
{
	if (!e)
		return NULL;
	free(e->msg);
	free(e->path);
	free(e);
	return NULL;
}
