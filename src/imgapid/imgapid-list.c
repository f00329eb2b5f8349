/* SPDX-License-Identifier: MIT */
/*
 * GET /images: which manifests a query matches, in which order, and which
 * page of them. IMGAPI's order is published_at, then uuid (so that pages
 * are stable); images not yet published sort first. A marker (an image's
 * UUID or a date) starts the page at that published_at, inclusive, as
 * imgadm expects: it asks with the last UUID of a page and drops the
 * repeated first element of the next.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/cleanup.h"
#include "basic/macro.h"
#include "basic/parse.h"
#include "image/manifest.h"
#include "imgapid.h"

static int invalid(const char *key, struct hv_error **reterr, const char *fmt, ...) _printf_(3, 4);

static int
invalid(const char *key, struct hv_error **reterr, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	return hv_error_set_path(reterr, -EINVAL, key, "%.100s: %s", key, msg);
}

int
list_query_set(struct list_query *q, const char *key, const char *v, struct hv_error **reterr)
{
	const char *tag = startswith(key, "tag.");
	uint32_t limit;
	bool b;

	if (tag) {
		if (json_object_set_new(q->tags, tag, json_string(v)) < 0)
			return invalid(key, reterr, "the value must be UTF-8");
	} else if (streq(key, "billing_tag")) {
		if (json_array_append_new(q->billing_tags, json_string(v)) < 0)
			return invalid(key, reterr, "the value must be UTF-8");
	} else if (streq(key, "name"))
		q->name = v;
	else if (streq(key, "version"))
		q->version = v;
	else if (streq(key, "os"))
		q->os = v;
	else if (streq(key, "owner")) {
		if (!uuid_is_valid(v))
			return invalid(key, reterr, "'%.100s' is not a UUID", v);
		q->owner = v;
	} else if (streq(key, "type")) {
		if (hv_image_type_from_string(v + (v[0] == '!')) < 0)
			return invalid(
			        key, reterr,
			        "'%.100s' is not an image type (zone-dataset, lx-dataset, zvol, "
			        "docker, lxd, other; '!' before one excludes it)",
			        v);
		q->type = v;
	} else if (streq(key, "state")) {
		if (!streq(v, "active") && !streq(v, "unactivated") && !streq(v, "disabled") &&
		    !streq(v, "all"))
			return invalid(key, reterr,
			               "'%.100s' is not one of active, unactivated, disabled, all",
			               v);
		q->state = v;
	} else if (streq(key, "public")) {
		if (parse_boolean(v, &b) < 0)
			return invalid(key, reterr, "expected true or false, got '%.100s'", v);
		q->public_ = b;
	} else if (streq(key, "limit")) {
		if (safe_atou32(v, &limit) < 0 || limit < 1 || limit > LIST_LIMIT_MAX)
			return invalid(key, reterr, "expected a number from 1 to %u, got '%.100s'",
			               LIST_LIMIT_MAX, v);
		q->limit = limit;
	} else if (streq(key, "marker"))
		q->marker = v;
	else if (streq(key, "sort")) {
		if (streq(v, "published_at.desc"))
			q->desc = true;
		else if (!streq(v, "published_at") && !streq(v, "published_at.asc"))
			return invalid(key, reterr,
			               "'%.100s' is not one of published_at, published_at.asc, "
			               "published_at.desc",
			               v);
	}
	return 0;
}

static const char *
str_member(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* "~sub" matches a substring, anything else the whole value. */
static bool
match_text(const char *pattern, const char *value)
{
	if (!pattern)
		return true;
	if (!value)
		return false;
	if (pattern[0] == '~')
		return strstr(value, pattern + 1) != NULL;
	return streq(pattern, value);
}

/* A tag's value as text, as it appears in a query string. */
static bool
tag_equals(const json_t *v, const char *want)
{
	char buf[64];

	switch (json_typeof(v)) {
	case JSON_STRING:
		return streq(json_string_value(v), want);
	case JSON_TRUE:
		return streq(want, "true");
	case JSON_FALSE:
		return streq(want, "false");
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return streq(buf, want);
	case JSON_REAL:
		snprintf(buf, sizeof(buf), "%.15g", json_real_value(v));
		return streq(buf, want);
	default:
		return false;
	}
}

static bool
has_string(const json_t *array, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach (array, i, v)
		if (streq_ptr(json_string_value(v), s))
			return true;
	return false;
}

bool
list_match(const json_t *m, const struct list_query *q)
{
	const char *state = str_member(m, "state"), *key, *type;
	json_t *want;
	size_t i;

	if (!streq(q->state ?: "active", "all") && !streq_ptr(state, q->state ?: "active"))
		return false;
	if (!match_text(q->name, str_member(m, "name")) ||
	    !match_text(q->version, str_member(m, "version")))
		return false;
	if (q->os && !streq_ptr(q->os, str_member(m, "os")))
		return false;
	if (q->owner && strcasecmp(q->owner, strempty(str_member(m, "owner"))) != 0)
		return false;
	if (q->type) {
		type = str_member(m, "type");
		if (q->type[0] == '!' ? streq_ptr(q->type + 1, type) : !streq_ptr(q->type, type))
			return false;
	}
	if (q->public_ >= 0 && json_is_true(json_object_get(m, "public")) != (q->public_ > 0))
		return false;
	json_object_foreach (q->tags, key, want) {
		json_t *v = json_object_get(json_object_get(m, "tags"), key);

		if (!v || !tag_equals(v, json_string_value(want)))
			return false;
	}
	json_array_foreach (q->billing_tags, i, want)
		if (!has_string(json_object_get(m, "billing_tags"), json_string_value(want)))
			return false;
	return true;
}

static int
compare(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(strempty(str_member(x, "published_at")),
	               strempty(str_member(y, "published_at")));

	return c ? c : strcmp(strempty(str_member(x, "uuid")), strempty(str_member(y, "uuid")));
}

static int
compare_desc(const void *a, const void *b)
{
	return compare(b, a);
}

json_t *
manifest_view(const json_t *m, bool admin)
{
	json_t *v = json_deep_copy(m), *f;
	size_t i;

	if (!v || admin)
		return v;
	json_array_foreach (json_object_get(v, "files"), i, f)
		(void)json_object_del(f, "contentMD5");
	return v;
}

json_t *
list_page(json_t *const *matches, size_t n, const struct list_query *q, const char *marker_date)
{
	_cleanup_free_ json_t **sorted = NULL;
	json_auto_t *page = json_array();

	if (!page)
		return NULL;
	sorted = calloc(n + 1, sizeof(*sorted));
	if (!sorted)
		return NULL;
	if (n > 0)
		memcpy(sorted, matches, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), q->desc ? compare_desc : compare);
	for (size_t i = 0; i < n && json_array_size(page) < q->limit; i++) {
		const char *p = strempty(str_member(sorted[i], "published_at"));

		if (marker_date &&
		    (q->desc ? strcmp(p, marker_date) > 0 : strcmp(p, marker_date) < 0))
			continue;
		if (json_array_append_new(page, manifest_view(sorted[i], q->admin)) < 0)
			return NULL;
	}
	return TAKE_PTR(page);
}

static bool
digits(const char *s, size_t n, unsigned *ret)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*ret = v;
	return true;
}

int
list_parse_date(const char *s, char ret[static 25])
{
	unsigned y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
	const char *p = s;

	if (!digits(p, 4, &y) || p[4] != '-' || !digits(p + 5, 2, &mo) || p[7] != '-' ||
	    !digits(p + 8, 2, &d))
		return -EINVAL;
	p += 10;
	if (*p == 'T') {
		if (!digits(p + 1, 2, &h) || p[3] != ':' || !digits(p + 4, 2, &mi))
			return -EINVAL;
		p += 6;
		if (*p == ':') {
			if (!digits(p + 1, 2, &sec))
				return -EINVAL;
			p += 3;
			if (*p == '.') {
				unsigned scale = 100, dgt;
				size_t k = 0;

				for (p++; *p >= '0' && *p <= '9'; p++, k++)
					if (k < 3 && digits(p, 1, &dgt)) {
						ms += dgt * scale;
						scale /= 10;
					}
				if (k == 0)
					return -EINVAL;
			}
		}
		if (*p == 'Z')
			p++;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	snprintf(ret, 25, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", y, mo, d, h, mi, sec, ms);
	return 0;
}
