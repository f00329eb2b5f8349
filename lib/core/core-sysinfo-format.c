/* SPDX-License-Identifier: MIT */
/*
 * sysinfo -p: the JSON object as shell assignments. Names are the JSON
 * keys with every character that is not a letter, digit or '_' turned into
 * '_' ("MiB of Memory" → MiB_of_Memory); nested objects join their keys
 * ("Network Interfaces"/"eth0"/"MAC Address" →
 * Network_Interface_eth0_MAC_Address, with SmartOS's singular group
 * names); values are single-quoted so that sourcing the output with sh
 * sets exactly these strings.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "core/sysinfo.h"

/* SmartOS's -p names for groups and fields that differ from the JSON keys. */
static const struct {
	const char *json, *parsable;
} renames[] = {
        {"Network Interfaces", "Network_Interface"},
        {"Virtual Network Interfaces", "Virtual_Network_Interface"},
        {"Link Aggregations", "Aggregation"},
        {"Disks", "Disk"},
        {"Boot Parameters", "Boot_Parameter"},
        {"ip4addr", "IPv4_Address"},
        {"Size in GB", "size_in_GB"},
};

struct out {
	char *buf;
	size_t len, alloc;
};

static int
emit(struct out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->alloc) {
		size_t na = MAX(o->alloc * 2, o->len + n + 1 + 1024);
		char *nb = realloc(o->buf, na);
		if (!nb)
			return -ENOMEM;
		o->buf = nb;
		o->alloc = na;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = 0;
	return 0;
}

static int
emit_str(struct out *o, const char *s)
{
	return emit(o, s, strlen(s));
}

/* name component: renamed, or with every non-identifier character made '_' */
static int
emit_name(struct out *o, const char *key)
{
	for (size_t i = 0; i < ELEMENTSOF(renames); i++)
		if (streq(key, renames[i].json))
			return emit_str(o, renames[i].parsable);
	for (const char *p = key; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '_';
		int r = emit(o, ok ? &c : "_", 1);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
emit_quoted(struct out *o, const char *v)
{
	int r = emit_str(o, "'");

	for (const char *p = v; r >= 0 && *p; p++)
		r = *p == '\'' ? emit_str(o, "'\\''") : emit(o, p, 1);
	return r < 0 ? r : emit_str(o, "'");
}

static int
scalar(const json_t *v, char **ret)
{
	char *s = NULL;

	switch (json_typeof(v)) {
	case JSON_STRING:
		s = strdup(json_string_value(v));
		break;
	case JSON_INTEGER:
		if (asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0)
			s = NULL;
		break;
	case JSON_REAL:
		if (asprintf(&s, "%g", json_real_value(v)) < 0)
			s = NULL;
		break;
	case JSON_TRUE:
		s = strdup("true");
		break;
	case JSON_FALSE:
		s = strdup("false");
		break;
	case JSON_NULL:
		s = strdup("");
		break;
	case JSON_ARRAY: {
		_cleanup_strv_free_ char **l = NULL;
		size_t i;
		json_t *e;

		l = calloc(1, sizeof(char *));
		if (!l)
			return -ENOMEM;
		json_array_foreach (v, i, e) {
			char *es;
			int r = scalar(e, &es);
			if (r < 0 || (r = strv_consume(&l, es)) < 0)
				return r;
		}
		s = strv_join(l, ",");
		break;
	}
	case JSON_OBJECT:
		return -EINVAL;
	}
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
flatten(struct out *o, const char *prefix, const json_t *obj)
{
	const char **keys;
	const char *k;
	size_t n = json_object_size(obj), i = 0;
	json_t *v;
	int r = 0;

	/* Sorted, so the output is stable. */
	keys = calloc(n + 1, sizeof(char *));
	if (!keys)
		return -ENOMEM;
	json_object_foreach ((json_t *)obj, k, v)
		keys[i++] = k;
	qsort(keys, n, sizeof(char *), cmp_str);

	for (i = 0; r >= 0 && i < n; i++) {
		struct out name = {0};

		v = json_object_get(obj, keys[i]);
		if ((prefix && (r = emit_str(&name, prefix)) < 0) ||
		    (prefix && (r = emit_str(&name, "_")) < 0) ||
		    (r = emit_name(&name, keys[i])) < 0) {
			free(name.buf);
			break;
		}
		if (json_is_object(v))
			r = flatten(o, name.buf, v);
		else {
			_cleanup_free_ char *s = NULL;
			if ((r = scalar(v, &s)) >= 0 && (r = emit_str(o, name.buf)) >= 0 &&
			    (r = emit_str(o, "=")) >= 0 && (r = emit_quoted(o, s)) >= 0)
				r = emit_str(o, "\n");
		}
		free(name.buf);
	}
	free(keys);
	return r;
}

int
hv_sysinfo_format_parsable(const json_t *info, char **ret)
{
	struct out o = {0};
	int r;

	if (!json_is_object(info))
		return -EINVAL;
	r = emit_str(&o, "");
	if (r >= 0)
		r = flatten(&o, NULL, info);
	if (r < 0) {
		free(o.buf);
		return r;
	}
	*ret = o.buf;
	return 0;
}
