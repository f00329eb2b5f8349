/* SPDX-License-Identifier: MIT */
/*
 * Filters for `vmadm list` and `vmadm lookup` (smartos.md §1.3): each
 * argument is "key=value" (the value's text form equals value exactly) or
 * "key=~regex" (a POSIX extended regex found anywhere in the text form),
 * and a VM matches when every filter does.
 *
 * Text forms are hv_vm_scalar_text()'s: strings as they are, integers in
 * decimal, true/false. A null or absent value matches nothing, not even
 * "key=" (SmartOS's String(undefined) would match "undefined"; we do not
 * copy that). An array of scalars (nics.0.ips) matches when one of its
 * elements does; an object never matches. "*" as an array index tries
 * every element ("nics.*.ip=10.0.0.5"). `ram` of a VM that is not HVM is
 * its max_physical_memory, as `list` shows it.
 *
 * Everything that can fail is done once in hv_vm_filter_parse(): keys
 * are checked against the property table and the member lists of §1.3,
 * regexes compiled. Matching walks each key in the VM in place (no
 * flattening, no copies), so filtering n VMs costs O(n) key walks.
 * Limits: FILTERS_MAX filters, FILTER_ARG_MAX bytes an argument.
 */
#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/macro.h"
#include "core/vm-list.h"
#include "core/vm-props.h"

#define FILTERS_MAX    64
#define FILTER_ARG_MAX 1024

struct filter {
	char *key;         /* owns the argument's copy; value points into it */
	const char *value; /* the text to equal, or the regex */
	size_t value_len;
	bool is_regex;
	bool compiled;
	regex_t re;
};

struct hv_vm_filter {
	size_t n;
	struct filter items[];
};

/* §1.3's member lists, plus ips and primary (Sable's NICs carry both forms of addresses). */
static const char *const nic_members[] = {
        "dhcp_server", "gateway", "interface", "ip",      "ips",     "mac",
        "model",       "netmask", "nic_tag",   "vlan_id", "primary", NULL,
};
static const char *const disk_members[] = {
        "boot", "image_name", "image_size", "image_uuid", "size", "media", "model", "zpool", NULL,
};
static const char *const map_prefixes[] = {
        "tags.",
        "customer_metadata.",
        "internal_metadata.",
        NULL,
};

/* "N.member" or "*.member", member one of members. */
static bool
element_key_valid(const char *rest, const char *const *members)
{
	const char *dot = strchr(rest, '.');

	if (!dot || dot == rest)
		return false;
	if (!(dot - rest == 1 && rest[0] == '*'))
		for (const char *c = rest; c < dot; c++)
			if (*c < '0' || *c > '9')
				return false;
	for (const char *const *m = members; *m; m++)
		if (streq(dot + 1, *m))
			return true;
	return false;
}

static bool
filter_key_valid(const char *key)
{
	const struct hv_prop *p = hv_vm_prop_find(key);
	const char *rest;

	if (p && p->header)
		return true;
	if ((rest = startswith(key, "nics.")))
		return element_key_valid(rest, nic_members);
	if ((rest = startswith(key, "disks.")))
		return element_key_valid(rest, disk_members);
	for (const char *const *m = map_prefixes; *m; m++)
		if ((rest = startswith(key, *m)) && *rest)
			return true;
	return false;
}

static int
filter_compile(struct filter *f, const char *arg, struct hv_error **reterr)
{
	char msg[256];
	int r;

	r = regcomp(&f->re, f->value, REG_EXTENDED | REG_NOSUB);
	if (r != 0) {
		regerror(r, &f->re, msg, sizeof msg);
		return hv_error_set(reterr, -EINVAL,
		                    "invalid regular expression in filter '%s': %s", arg, msg);
	}
	f->compiled = true;
	return 0;
}

static int
filter_parse_one(struct filter *f, const char *arg, struct hv_error **reterr)
{
	char *eq;

	if (strnlen(arg, FILTER_ARG_MAX + 1) > FILTER_ARG_MAX)
		return hv_error_set(reterr, -EINVAL, "filter '%.32s...' is longer than %d bytes",
		                    arg, FILTER_ARG_MAX);
	if (!strchr(arg, '='))
		return hv_error_set(reterr, -EINVAL,
		                    "invalid filter '%s': expected key=value or key=~regex", arg);
	f->key = strdup(arg);
	if (!f->key)
		return -ENOMEM;
	eq = strchr(f->key, '=');
	*eq = 0;
	if (!filter_key_valid(f->key))
		return hv_error_set(reterr, -EINVAL, "Invalid filter key: \"%s\"", f->key);
	f->value = eq + 1;
	if (f->value[0] == '~') {
		f->value++;
		f->is_regex = true;
		return filter_compile(f, arg, reterr);
	}
	f->value_len = strlen(f->value);
	return 0;
}

static void
filter_freep(struct hv_vm_filter **f)
{
	*f = hv_vm_filter_free(*f);
}

int
hv_vm_filter_parse(char *const *args, size_t n, struct hv_vm_filter **ret, struct hv_error **reterr)
{
	_cleanup_(filter_freep) struct hv_vm_filter *f = NULL;
	int r;

	if (n > FILTERS_MAX)
		return hv_error_set(reterr, -E2BIG, "too many filters: %zu (at most %d)", n,
		                    FILTERS_MAX);
	f = calloc(1, sizeof *f + n * sizeof f->items[0]);
	if (!f)
		return -ENOMEM;
	for (; f->n < n; f->n++) {
		r = filter_parse_one(&f->items[f->n], args[f->n], reterr);
		if (r < 0) {
			f->n++; /* free what the failed one holds */
			return r;
		}
	}
	*ret = TAKE_PTR(f);
	return 0;
}

struct hv_vm_filter *
hv_vm_filter_free(struct hv_vm_filter *f)
{
	if (!f)
		return NULL;
	for (size_t i = 0; i < f->n; i++) {
		if (f->items[i].compiled)
			regfree(&f->items[i].re);
		free(f->items[i].key);
	}
	free(f);
	return NULL;
}

static bool
scalar_matches(const struct filter *f, const json_t *v)
{
	char buf[HV_VM_TEXT_MAX];
	const char *text = hv_vm_scalar_text(v, buf);

	if (!text)
		return false;
	if (f->is_regex)
		return regexec(&f->re, text, 0, NULL, 0) == 0;
	if (json_is_string(v))
		return json_string_length(v) == f->value_len &&
		       memcmp(text, f->value, f->value_len) == 0;
	return streq(text, f->value);
}

static bool
value_matches(const json_t *v, void *userdata)
{
	const struct filter *f = userdata;
	const json_t *e;
	size_t i;

	if (!json_is_array(v))
		return scalar_matches(f, v);
	json_array_foreach (v, i, e)
		if (scalar_matches(f, e))
			return true;
	return false;
}

bool
hv_vm_filter_match(const struct hv_vm_filter *f, const json_t *vm)
{
	if (!f)
		return true;
	for (size_t i = 0; i < f->n; i++) {
		const struct filter *it = &f->items[i];
		const char *key = hv_vm_list_field_key(vm, it->key);

		/* hv_vm_key_any() hands userdata back untouched; the cast only drops const */
		if (!hv_vm_key_any(vm, key, value_matches, (void *)it))
			return false;
	}
	return true;
}
