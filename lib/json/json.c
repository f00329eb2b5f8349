/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/config.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/uuid.h"
#include "json/json.h"

int
hv_json_load_buf(const char *buf, size_t size, const char *source, json_t **ret,
                 struct hv_error **reterr)
{
	json_error_t err;
	json_t *j;

	/* JSON_DECODE_ANY is off: a payload, manifest or reply is always an object or array. */
	j = json_loadb(buf, size, JSON_REJECT_DUPLICATES, &err);
	if (!j) {
		if (json_error_code(&err) == json_error_out_of_memory)
			return -ENOMEM;
		return hv_error_set(reterr, -EINVAL, "%s:%d:%d: %s", source, err.line, err.column,
		                    err.text);
	}
	*ret = j;
	return 0;
}

int
hv_json_load_file(const char *path, size_t max_size, json_t **ret, struct hv_error **reterr)
{
	_cleanup_free_ char *buf = NULL;
	size_t size = 0;
	int r;

	if (streq(path, "-"))
		r = read_full_fd(STDIN_FILENO, max_size, &buf, &size);
	else
		r = read_full_file(path, max_size, &buf, &size);
	if (r == -EFBIG)
		return hv_error_set(reterr, r, "%s: larger than %zu bytes",
		                    streq(path, "-") ? "stdin" : path, max_size);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot read '%s': %m", path);
	return hv_json_load_buf(buf, size, streq(path, "-") ? "stdin" : path, ret, reterr);
}

char *
hv_json_dumps(const json_t *j)
{
	_cleanup_free_ char *s = json_dumps(j, HV_JSON_DUMP_FLAGS);
	size_t n;
	char *r;

	if (!s)
		return NULL;
	n = strlen(s);
	r = malloc(n + 2);
	if (!r)
		return NULL;
	memcpy(r, s, n);
	r[n] = '\n';
	r[n + 1] = 0;
	return r;
}

int
hv_json_dumpf(const json_t *j, FILE *f)
{
	_cleanup_free_ char *s = hv_json_dumps(j);

	if (!s)
		return -ENOMEM;
	if (fputs(s, f) == EOF)
		return -EIO;
	return 0;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if it is not one. */
static size_t
utf8_seq(const unsigned char *s)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

json_t *
hv_json_string_sanitized(const char *s)
{
	_cleanup_free_ char *c = strdup(s);
	unsigned char *p;

	if (!c)
		return NULL;
	for (p = (unsigned char *)c; *p;) {
		size_t n = utf8_seq(p);
		if (n == 0)
			*p++ = '?';
		else
			p += n;
	}
	return json_string(c);
}

const char *
hv_json_type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

static int
member(const json_t *obj, const char *key, json_t **ret)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	if (!v)
		return -ENOENT;
	*ret = v;
	return 0;
}

int
hv_json_get_string(const json_t *obj, const char *key, const char **ret, struct hv_error **reterr)
{
	json_t *v;
	int r = member(obj, key, &v);

	if (r < 0)
		return r;
	if (!json_is_string(v))
		return hv_error_set_path(reterr, -EINVAL, key, "'%s': expected a string, got %s",
		                         key, hv_json_type_name(v));
	*ret = json_string_value(v);
	return 0;
}

int
hv_json_get_int(const json_t *obj, const char *key, int64_t *ret, struct hv_error **reterr)
{
	json_t *v;
	int r = member(obj, key, &v);

	if (r < 0)
		return r;
	if (!json_is_integer(v))
		return hv_error_set_path(reterr, -EINVAL, key, "'%s': expected an integer, got %s",
		                         key, hv_json_type_name(v));
	*ret = json_integer_value(v);
	return 0;
}

int
hv_json_get_bool(const json_t *obj, const char *key, bool *ret, struct hv_error **reterr)
{
	json_t *v;
	int r = member(obj, key, &v);

	if (r < 0)
		return r;
	if (!json_is_boolean(v))
		return hv_error_set_path(reterr, -EINVAL, key, "'%s': expected a boolean, got %s",
		                         key, hv_json_type_name(v));
	*ret = json_is_true(v);
	return 0;
}

int
hv_json_set(json_t *obj, const char *key, json_t *value)
{
	if (!value)
		return -ENOMEM;
	return json_object_set_new(obj, key, value) < 0 ? -ENOMEM : 0;
}

json_t *
hv_json_node_facts(const char *const *keys)
{
	_cleanup_(hv_config_freep) struct hv_config *cfg = NULL;
	char host[UUID_STRING_LEN + 1];
	json_t *o = json_object();
	const char *v;

	if (!o)
		return NULL;
	if (hv_host_uuid(host, NULL) >= 0)
		(void)hv_json_set(o, "server_uuid", json_string(host));
	if (hv_node_config_load(&cfg, NULL) >= 0)
		for (; *keys; keys++)
			if ((v = hv_config_get(cfg, *keys)))
				(void)hv_json_set(o, *keys, hv_json_string_sanitized(v));
	return o;
}

char *
hv_json_dumps_compact(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

const char *
hv_json_quote(const char *s, char buf[static HV_JSON_DESCRIBE_MAX])
{
	size_t n = strlen(s), max = HV_JSON_QUOTE_MAX;

	if (n > max) {
		while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
			max--;
		n = max;
	}
	snprintf(buf, HV_JSON_DESCRIBE_MAX, "'%.*s%s'", (int)n, s, s[n] ? "..." : "");
	return buf;
}

const char *
hv_json_describe(const json_t *v, char buf[static HV_JSON_DESCRIBE_MAX])
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return hv_json_quote(json_string_value(v), buf);
	case JSON_INTEGER:
		snprintf(buf, HV_JSON_DESCRIBE_MAX, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	case JSON_REAL:
		/* 2.0 must not read as 2 beside "expected an integer". */
		snprintf(buf, HV_JSON_DESCRIBE_MAX, "%.15g", json_real_value(v));
		if (!strpbrk(buf, ".eEni"))
			strcat(buf, ".0");
		return buf;
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	case JSON_NULL:
		return "null";
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		snprintf(buf, HV_JSON_DESCRIBE_MAX, "an array of %zu", json_array_size(v));
		return buf;
	}
	return "something else";
}
