/* SPDX-License-Identifier: MIT */
/*
 * Payload validation: a create or update payload against the property
 * table, with every problem collected into SmartOS's report shape
 * (bad_brand, bad_properties, bad_values, missing_properties) and one line
 * per problem. Unlike SmartOS, unknown and misplaced names are errors, with
 * the closest valid name suggested; Sable never strips a property silently.
 *
 * Nothing here allocates in proportion to nesting: values are checked
 * against the table, whose shapes are at most an array of objects of lists,
 * and maps take scalars only, so deeper junk is a bad value. A report stops
 * after HV_VM_MAX_PROBLEMS problems.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/parse.h"
#include "basic/strv.h"
#include "basic/uuid.h"
#include "core/vm-props.h"
#include "json/json.h"

struct ctx {
	enum hv_vm_action action;
	enum hv_brand brand;
	unsigned brand_bit;
	unsigned action_flag; /* HV_PROP_C or HV_PROP_U */
	struct hv_vm_report *r;
	unsigned problems;
	char *first_path;
	int error; /* -ENOMEM, when the report itself could not be built */
};

enum mode {
	MODE_CREATE, /* a whole element: nics, add_nics */
	MODE_UPDATE, /* a partial element named by its key: update_nics */
};

/* ---- the report ---- */

void
hv_vm_report_done(struct hv_vm_report *r)
{
	if (!r)
		return;
	free(r->bad_brand);
	strv_free(r->bad_properties);
	strv_free(r->bad_values);
	strv_free(r->missing_properties);
	strv_free(r->messages);
	*r = (struct hv_vm_report){0};
}

static int
add_list(json_t *o, const char *key, char **l)
{
	json_t *a;

	if (!l || !*l)
		return 0;
	a = json_array();
	if (!a)
		return -ENOMEM;
	STRV_FOREACH (s, l)
		if (json_array_append_new(a, json_string(*s)) < 0) {
			json_decref(a);
			return -ENOMEM;
		}
	return hv_json_set(o, key, a);
}

json_t *
hv_vm_report_to_json(const struct hv_vm_report *r)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if ((r->bad_brand && hv_json_set(o, "bad_brand", json_string(r->bad_brand)) < 0) ||
	    add_list(o, "bad_properties", r->bad_properties) < 0 ||
	    add_list(o, "bad_values", r->bad_values) < 0 ||
	    add_list(o, "missing_properties", r->missing_properties) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static void
push(struct ctx *c, char ***list, const char *s)
{
	if (strv_contains(*list, s))
		return;
	if (strv_push(list, s) < 0)
		c->error = -ENOMEM;
}

/* One problem: path goes into list (when list is not NULL), the message into messages. */
_printf_(4, 5) static void problem(struct ctx *c, char ***list, const char *path, const char *fmt,
                                   ...)
{
	char *msg = NULL;
	va_list ap;
	int n;

	if (c->problems++ >= HV_VM_MAX_PROBLEMS) {
		if (c->problems == HV_VM_MAX_PROBLEMS + 1)
			push(c, &c->r->messages,
			     "too many problems: only the first 100 are reported");
		return;
	}
	if (list)
		push(c, list, path);
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		c->error = -ENOMEM;
		return;
	}
	/* One line each: user input must not break it. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (strv_consume(&c->r->messages, msg) < 0)
		c->error = -ENOMEM;
	if (c->problems == 1 && path && !c->first_path && !(c->first_path = strdup(path)))
		c->error = -ENOMEM;
}

static bool
full(const struct ctx *c)
{
	return c->problems > HV_VM_MAX_PROBLEMS || c->error < 0;
}

static char *
path_join(struct ctx *c, const char *base, const char *name)
{
	char *p = NULL;

	if (!base)
		p = strdup(name);
	else if (asprintf(&p, "%s.%s", base, name) < 0)
		p = NULL;
	if (!p)
		c->error = -ENOMEM;
	return p;
}

static char *
path_index(struct ctx *c, const char *base, size_t i)
{
	char *p = NULL;

	if (asprintf(&p, "%s.%zu", base, i) < 0) {
		c->error = -ENOMEM;
		return NULL;
	}
	return p;
}

/* "brand kvm" or "brands joyent, joyent-minimal and lx". */
static void
brands_text(unsigned mask, char *buf, size_t size)
{
	unsigned n = (unsigned)__builtin_popcount(mask), k = 0;

	snprintf(buf, size, "%s", n == 1 ? "brand" : "brands");
	for (int b = 0; b < _HV_BRAND_MAX; b++) {
		size_t l = strlen(buf);

		if (!(mask & HV_BRAND_BIT(b)))
			continue;
		k++;
		snprintf(buf + l, size - l, "%s%s",
		         k == 1   ? " "
		         : k == n ? " and "
		                  : ", ",
		         hv_brand_to_string((enum hv_brand)b));
	}
}

/* ---- formats ---- */

static bool
all_chars(const char *s, const char *extra)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
			return false;
	return true;
}

static bool
hostname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return false;
	while (*s) {
		size_t l = strcspn(s, ".");

		if (l == 0 || l > 63 || s[0] == '-' || s[l - 1] == '-')
			return false;
		for (size_t i = 0; i < l; i++)
			if (!isalnum((unsigned char)s[i]) && s[i] != '-')
				return false;
		s += l;
		if (*s == '.' && !*++s)
			return false; /* no empty label at the end */
	}
	return true;
}

static bool
mac_ok(const char *s)
{
	unsigned char b[6];
	unsigned v[6];
	int n = -1;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &n) !=
	            6 ||
	    n != 17)
		return false;
	for (size_t i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return false;
	for (size_t i = 0; i < 6; i++)
		b[i] = (unsigned char)v[i];
	/* Unicast (bit 0 of the first octet clear), and not all zeros. */
	return !(b[0] & 1) && (b[0] | b[1] | b[2] | b[3] | b[4] | b[5]);
}

/* An address, or with want_prefix (1: required, 0: optional, -1: refused) "/prefix". */
static bool
ip_ok(const char *s, int family, int want_prefix, int min_prefix)
{
	char addr[INET6_ADDRSTRLEN + 1];
	unsigned char buf[sizeof(struct in6_addr)];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	bool v4;
	int64_t prefix;

	if (n == 0 || n >= sizeof(addr) || (slash && want_prefix < 0) ||
	    (!slash && want_prefix > 0))
		return false;
	memcpy(addr, s, n);
	addr[n] = 0;
	v4 = inet_pton(AF_INET, addr, buf) == 1;
	if (!v4 && (family == AF_INET || inet_pton(AF_INET6, addr, buf) != 1))
		return false;
	if (!slash)
		return true;
	if (!isdigit((unsigned char)slash[1]) || strlen(slash + 1) > 3 ||
	    safe_atoi64(slash + 1, &prefix) < 0)
		return false;
	return prefix >= min_prefix && prefix <= (v4 ? 32 : 128);
}

static bool
netmask_ok(const char *s)
{
	struct in_addr a;
	uint32_t m, inv;

	if (inet_pton(AF_INET, s, &a) != 1)
		return false;
	m = ntohl(a.s_addr);
	inv = ~m;
	return m != 0 && (inv & (inv + 1)) == 0;
}

static bool
path_ok(const char *s)
{
	if (s[0] != '/')
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	for (const char *p = s; (p = strstr(p, "/..")); p += 3)
		if (p[3] == '/' || p[3] == 0)
			return false;
	return true;
}

/* Letters from set, each at most once, at least one. */
static const char *
letters(const char *s, const char *set)
{
	const char *start = s;

	for (; *s && strchr(set, *s); s++)
		if (memchr(start, *s, (size_t)(s - start)))
			return NULL;
	return s == start ? NULL : s;
}

static bool
boot_ok(const char *s)
{
	const char *p = startswith(s, "order=");

	if (!p || !(p = letters(p, "cdn")))
		return false;
	if (!*p)
		return true;
	p = startswith(p, ",once=");
	return p && (p = letters(p, "cdn")) && !*p;
}

static bool
pci_slot_ok(const char *s)
{
	static const int64_t max[3][3] = {{31}, {31, 7}, {255, 31, 7}};
	char copy[17];
	char *parts[3], *save = NULL, *t;
	size_t n = 0;

	if (strlen(s) >= sizeof(copy) || !*s || s[strlen(s) - 1] == ':' || strstr(s, "::"))
		return false;
	strcpy(copy, s);
	for (t = strtok_r(copy, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
		if (n == 3)
			return false;
		parts[n++] = t;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t v;
		if (safe_atoi64(parts[i], &v) < 0 || v < 0 || v > max[n - 1][i])
			return false;
	}
	return n > 0;
}

static bool
dhcp_cid_ok(const char *s)
{
	const char *h = startswith(s, "0x");
	size_t n;

	if (!h)
		return false;
	n = strlen(h);
	if (n == 0 || n % 2 || n > 510)
		return false;
	for (; *h; h++)
		if (!isxdigit((unsigned char)*h))
			return false;
	return true;
}

static bool
compression_ok(const char *s)
{
	static const char *const ok[] = {"on", "off", "gzip", "lz4", "lzjb", "zle"};
	const char *g = startswith(s, "gzip-");

	for (size_t i = 0; i < ELEMENTSOF(ok); i++)
		if (streq(s, ok[i]))
			return true;
	return g && g[0] >= '1' && g[0] <= '9' && !g[1];
}

static bool
version_ok(const char *s)
{
	if (!isdigit((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (*s == '.' ? !isdigit((unsigned char)s[1]) : !isdigit((unsigned char)*s))
			return false;
	return true;
}

static bool
printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static bool
port_ok(const char *s)
{
	int64_t v;

	return safe_atoi64(s, &v) >= 0 && v >= 1 && v <= 65535;
}

static bool
format_ok(enum hv_prop_format f, const char *s)
{
	switch (f) {
	case HV_PROP_FMT_HOSTNAME:
		return hostname_ok(s);
	case HV_PROP_FMT_MAC:
		return mac_ok(s);
	case HV_PROP_FMT_IP:
		return ip_ok(s, AF_UNSPEC, -1, 0);
	case HV_PROP_FMT_IPV4:
		return ip_ok(s, AF_INET, -1, 0);
	case HV_PROP_FMT_NETMASK:
		return netmask_ok(s);
	case HV_PROP_FMT_NIC_IP:
		return streq(s, "dhcp") || streq(s, "addrconf") || ip_ok(s, AF_UNSPEC, 1, 1);
	case HV_PROP_FMT_NIC_IP_OLD:
		return streq(s, "dhcp") || ip_ok(s, AF_INET, -1, 0);
	case HV_PROP_FMT_IP_CIDR:
		return ip_ok(s, AF_UNSPEC, 0, 0);
	case HV_PROP_FMT_PATH:
		return path_ok(s);
	case HV_PROP_FMT_NAME:
		return all_chars(s, "_-.:");
	case HV_PROP_FMT_BOOT:
		return boot_ok(s);
	case HV_PROP_FMT_BOOTROM:
		return streq(s, "bios") || streq(s, "uefi") || path_ok(s);
	case HV_PROP_FMT_PCI_SLOT:
		return pci_slot_ok(s);
	case HV_PROP_FMT_DHCP_CID:
		return dhcp_cid_ok(s);
	case HV_PROP_FMT_PORT:
		return port_ok(s);
	case HV_PROP_FMT_COMPRESSION:
		return compression_ok(s);
	case HV_PROP_FMT_VERSION:
		return version_ok(s);
	case HV_PROP_FMT_PRIV:
		return all_chars(s[0] == '-' || s[0] == '!' ? s + 1 : s, "_");
	case HV_PROP_FMT_PRINTABLE:
		return printable(s);
	case HV_PROP_FMT_NONE:
	case HV_PROP_FMT_POW2:
	case _HV_PROP_FMT_MAX:
		break;
	}
	return true;
}

static bool
value_listed(const char *values, const char *s)
{
	size_t n = strlen(s);

	for (const char *p = values; p;) {
		const char *bar = strchr(p, '|');
		size_t l = bar ? (size_t)(bar - p) : strlen(p);

		if (l == n && strncmp(p, s, n) == 0)
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

/* "one of a, b, c" from "a|b|c". */
static void
values_text(const char *values, char *buf, size_t size)
{
	size_t o = (size_t)snprintf(buf, size, "one of ");

	for (const char *v = values; *v && o + 3 < size; v++) {
		if (*v == '|') {
			buf[o++] = ',';
			buf[o++] = ' ';
		} else
			buf[o++] = *v;
	}
	buf[o] = 0;
}

/* ---- values ---- */

static void
bad_value(struct ctx *c, const char *path, const char *expected, const json_t *v)
{
	char got[HV_JSON_DESCRIBE_MAX];

	problem(c, &c->r->bad_values, path, "%s: expected %s, got %s", path, expected,
	        hv_json_describe(v, got));
}

static void
check_string(struct ctx *c, const char *path, const struct hv_prop *p, const json_t *v)
{
	const char *s;
	char what[512];

	if (!json_is_string(v)) {
		bad_value(c, path, "a string", v);
		return;
	}
	s = json_string_value(v);
	if (p->max > 0 && strlen(s) > (size_t)p->max) {
		snprintf(what, sizeof(what), "a string of at most %" PRId64 " bytes", p->max);
		bad_value(c, path, what, v);
		return;
	}
	if (p->values && !value_listed(p->values, s)) {
		values_text(p->values, what, sizeof(what));
		bad_value(c, path, what, v);
		return;
	}
	if (!format_ok(p->format, s))
		bad_value(c, path, hv_prop_format_to_string(p->format), v);
}

static bool
int_of(const json_t *v, int64_t *ret)
{
	if (json_is_integer(v)) {
		*ret = json_integer_value(v);
		return true;
	}
	/* `vmadm update uuid quota=40` gives a string, as in SmartOS. */
	return json_is_string(v) && safe_atoi64(json_string_value(v), ret) >= 0;
}

static void
check_int(struct ctx *c, const char *path, const struct hv_prop *p, const json_t *v)
{
	char what[160];
	int64_t n;

	snprintf(what, sizeof(what), "an integer from %" PRId64 " to %" PRId64, p->min, p->max);
	if (!int_of(v, &n) || n < p->min || n > p->max) {
		bad_value(c, path, what, v);
		return;
	}
	if (p->format == HV_PROP_FMT_POW2 && (n & (n - 1)) != 0) {
		snprintf(what, sizeof(what), "a power of two from %" PRId64 " to %" PRId64, p->min,
		         p->max);
		bad_value(c, path, what, v);
	}
}

static void
check_bool(struct ctx *c, const char *path, const json_t *v)
{
	if (json_is_boolean(v))
		return;
	if (json_is_string(v) &&
	    (streq(json_string_value(v), "true") || streq(json_string_value(v), "false")))
		return;
	bad_value(c, path, "true or false", v);
}

static void
check_uuid(struct ctx *c, const char *path, const json_t *v)
{
	if (!json_is_string(v) || !uuid_is_valid(json_string_value(v)))
		bad_value(c, path, "a UUID (8-4-4-4-12 hex digits)", v);
}

static void
check_list_item(struct ctx *c, const char *path, const struct hv_prop *p, const json_t *item)
{
	struct hv_prop elem = {
	        .name = p->name,
	        .type = HV_PROP_STRING,
	        .max = HV_VM_MAX_STRING,
	        .format = p->format,
	};

	if (p->format == HV_PROP_FMT_PORT && json_is_integer(item)) {
		json_int_t n = json_integer_value(item);
		if (n < 1 || n > 65535)
			bad_value(c, path, hv_prop_format_to_string(p->format), item);
		return;
	}
	check_string(c, path, &elem, item);
}

static void
check_list(struct ctx *c, const char *path, const struct hv_prop *p, const json_t *v)
{
	_cleanup_strv_free_ char **parts = NULL;
	char what[160];
	size_t n;

	snprintf(what, sizeof(what), "a list of at most %" PRId64 " elements", p->max);
	if (json_is_string(v)) {
		const char *s = json_string_value(v);

		/* One comma-separated string; "" is the empty list. */
		if (!*s)
			return;
		if (strlen(s) > (size_t)p->max * HV_VM_MAX_STRING) {
			bad_value(c, path, what, v);
			return;
		}
		if (strv_split(s, ',', &parts) < 0) {
			c->error = -ENOMEM;
			return;
		}
		if (strv_length(parts) > (size_t)p->max) {
			bad_value(c, path, what, v);
			return;
		}
		for (size_t i = 0; parts[i] && !full(c); i++) {
			_cleanup_free_ char *ip = path_index(c, path, i);
			json_t *item = json_string(parts[i]);

			if (ip && item)
				check_list_item(c, ip, p, item);
			else
				c->error = -ENOMEM;
			json_decref(item);
		}
		return;
	}
	if (!json_is_array(v) || json_array_size(v) > (size_t)p->max) {
		bad_value(c, path, what, v);
		return;
	}
	n = json_array_size(v);
	for (size_t i = 0; i < n && !full(c); i++) {
		_cleanup_free_ char *ip = path_index(c, path, i);

		if (ip)
			check_list_item(c, ip, p, json_array_get(v, i));
	}
}

static void
check_map(struct ctx *c, const char *path, const struct hv_prop *p, const json_t *v)
{
	char what[160];
	const char *k;
	json_t *e;

	snprintf(what, sizeof(what), "an object of at most %" PRId64 " members", p->max);
	if (!json_is_object(v) || json_object_size(v) > (size_t)p->max) {
		bad_value(c, path, what, v);
		return;
	}
	json_object_foreach ((json_t *)v, k, e) {
		_cleanup_free_ char *kp = path_join(c, path, k);
		char q[HV_JSON_DESCRIBE_MAX];

		if (!kp || full(c))
			return;
		if (!*k || strlen(k) > HV_VM_MAX_MAP_KEY || !printable(k))
			problem(c, &c->r->bad_values, kp,
			        "%s: key %s is empty, longer than %d bytes or has control "
			        "characters",
			        path, hv_json_quote(k, q), HV_VM_MAX_MAP_KEY);
		else if (!json_is_string(e) && !json_is_number(e) && !json_is_boolean(e))
			bad_value(c, kp, "a string, number or boolean", e);
	}
}

static bool
route_gateway_ok(const char *s)
{
	const char *r;
	int64_t n;

	if (ip_ok(s, AF_UNSPEC, -1, 0))
		return true;
	if ((r = startswith(s, "nics["))) {
		char num[8];
		size_t l = strcspn(r, "]");

		if (l == 0 || l >= sizeof(num) || strcmp(r + l, "]") != 0)
			return false;
		memcpy(num, r, l);
		num[l] = 0;
		return safe_atoi64(num, &n) >= 0 && n >= 0 && n < HV_VM_MAX_NICS;
	}
	if ((r = startswith(s, "macs["))) {
		char mac[18];

		if (strlen(r) != 18 || r[17] != ']')
			return false;
		memcpy(mac, r, 17);
		mac[17] = 0;
		return mac_ok(mac);
	}
	return false;
}

static void
check_routes(struct ctx *c, const char *path, const struct hv_prop *p, const json_t *v)
{
	char what[160];
	const char *k;
	json_t *e;

	snprintf(what, sizeof(what), "an object of at most %" PRId64 " routes", p->max);
	if (!json_is_object(v) || json_object_size(v) > (size_t)p->max) {
		bad_value(c, path, what, v);
		return;
	}
	json_object_foreach ((json_t *)v, k, e) {
		_cleanup_free_ char *kp = path_join(c, path, k);
		char q[HV_JSON_DESCRIBE_MAX];

		if (!kp || full(c))
			return;
		if (!ip_ok(k, AF_UNSPEC, 0, 0))
			problem(c, &c->r->bad_values, kp,
			        "%s: destination %s is not an IPv4 or IPv6 address or network",
			        path, hv_json_quote(k, q));
		else if (!json_is_string(e) || !route_gateway_ok(json_string_value(e)))
			bad_value(c, kp, "a gateway address, 'nics[N]' or 'macs[MAC]'", e);
	}
}

static void check_array(struct ctx *c, const char *path, const struct hv_prop *p, const json_t *v,
                        enum mode mode);

static void
check_value(struct ctx *c, const char *path, const struct hv_prop *p, const json_t *v)
{
	switch (p->type) {
	case HV_PROP_STRING:
		check_string(c, path, p, v);
		return;
	case HV_PROP_BOOL:
		check_bool(c, path, v);
		return;
	case HV_PROP_INT:
		check_int(c, path, p, v);
		return;
	case HV_PROP_UUID:
		check_uuid(c, path, v);
		return;
	case HV_PROP_LIST:
		check_list(c, path, p, v);
		return;
	case HV_PROP_MAP:
		check_map(c, path, p, v);
		return;
	case HV_PROP_ROUTES:
		check_routes(c, path, p, v);
		return;
	case HV_PROP_ARRAY:
		check_array(c, path, p, v, MODE_CREATE);
		return;
	case HV_PROP_TIMESTAMP:
	case HV_PROP_OBJECT:
	case _HV_PROP_TYPE_MAX:
		break;
	}
	problem(c, &c->r->bad_properties, path, "'%s' is computed and cannot be set", path);
}

/* A member or property that may be cleared: null, or "" for an integer (as SmartOS). */
static bool
is_clearing(const struct hv_prop *p, const json_t *v)
{
	return json_is_null(v) ||
	       (p->type == HV_PROP_INT && json_is_string(v) && !*json_string_value(v));
}

/* ---- names ---- */

static void
unknown(struct ctx *c, const char *path, const char *name, const struct hv_prop *array,
        const char *hint)
{
	const char *s = hv_vm_prop_suggest(name, array, c->brand_bit, c->action_flag);
	char q[HV_JSON_DESCRIBE_MAX];

	if (s)
		problem(c, &c->r->bad_properties, path, "unknown property %s (did you mean '%s'?)",
		        hv_json_quote(path, q), s);
	else
		problem(c, &c->r->bad_properties, path, "unknown property %s%s",
		        hv_json_quote(path, q), strempty(hint));
}

static void
wrong_brand(struct ctx *c, const char *path, const struct hv_prop *p)
{
	char b[128];

	brands_text(p->brands, b, sizeof(b));
	problem(c, &c->r->bad_properties, path, "'%s' is for %s, not %s", path, b,
	        hv_brand_to_string(c->brand));
}

/*
 * Whether p may appear here (brand, action, computed); reports why not.
 * update_key: p is the key member of an update_ element.
 */
static bool
allowed(struct ctx *c, const char *path, const struct hv_prop *p, unsigned flag, bool update_key)
{
	if (p->flags & HV_PROP_RO) {
		problem(c, &c->r->bad_properties, path, "'%s' is computed and cannot be set", path);
		return false;
	}
	if (!(p->brands & c->brand_bit)) {
		wrong_brand(c, path, p);
		return false;
	}
	if (update_key || (p->flags & flag))
		return true;
	if (flag == HV_PROP_U)
		problem(c, &c->r->bad_properties, path, "'%s' cannot be changed by update%s", path,
		        p->flags & HV_PROP_C ? " (it is set at create only)" : "");
	else
		problem(c, &c->r->bad_properties, path, "'%s' cannot be set at create", path);
	return false;
}

/* ---- arrays ---- */

static void
check_nic_aliases(struct ctx *c, const char *path, const json_t *o, enum mode mode)
{
	const json_t *ip = json_object_get(o, "ip"), *mask = json_object_get(o, "netmask");
	_cleanup_free_ char *p = NULL;

	if (ip && json_object_get(o, "ips")) {
		p = path_join(c, path, "ip");
		if (p)
			problem(c, &c->r->bad_values, p, "%s: give either 'ip' or 'ips', not both",
			        p);
		return;
	}
	if (mode == MODE_CREATE && json_is_string(ip) && !streq(json_string_value(ip), "dhcp") &&
	    !mask) {
		p = path_join(c, path, "netmask");
		if (p)
			problem(c, &c->r->missing_properties, p,
			        "missing required property '%s' (a static 'ip' needs its netmask)",
			        p);
	} else if (mask && !ip) {
		p = path_join(c, path, "netmask");
		if (p)
			problem(c, &c->r->bad_values, p, "%s: 'netmask' needs 'ip'", p);
	}
}

static void
missing(struct ctx *c, const char *path, const char *name, const char *why)
{
	_cleanup_free_ char *p = path_join(c, path, name);

	if (p)
		problem(c, &c->r->missing_properties, p, "missing required property '%s'%s", p,
		        strempty(why));
}

static bool
truthy(const json_t *v)
{
	return json_is_true(v) || (json_is_string(v) && streq(json_string_value(v), "true"));
}

static void
check_disk(struct ctx *c, const char *path, const json_t *o)
{
	bool image = json_object_get(o, "image_uuid");
	bool cdrom = json_is_string(json_object_get(o, "media")) &&
	             streq(json_string_value(json_object_get(o, "media")), "cdrom");
	bool nocreate = truthy(json_object_get(o, "nocreate"));
	static const char *const not_with_image[] = {"size", "block_size"};

	if (!image && json_object_get(o, "image_size")) {
		_cleanup_free_ char *p = path_join(c, path, "image_size");
		if (p)
			problem(c, &c->r->bad_values, p, "%s: 'image_size' needs 'image_uuid'", p);
	}
	for (size_t i = 0; image && i < ELEMENTSOF(not_with_image); i++)
		if (json_object_get(o, not_with_image[i])) {
			_cleanup_free_ char *p = path_join(c, path, not_with_image[i]);
			if (p)
				problem(c, &c->r->bad_values, p,
				        "%s: '%s' is not allowed with 'image_uuid'", p,
				        not_with_image[i]);
		}
	if ((cdrom || nocreate) && !json_object_get(o, "path"))
		missing(c, path, "path",
		        cdrom ? " (a cdrom is an existing image file)"
		              : " (nocreate uses an existing volume)");
	else if (!image && !cdrom && !nocreate && !json_object_get(o, "size"))
		missing(c, path, "size", " (a new disk without image_uuid needs its size)");
}

static bool
same_key(const struct hv_prop *p, const char *a, const char *b)
{
	if (!a || !b)
		return false;
	return streq(p->key, "mac") ? strcasecmp(a, b) == 0 : streq(a, b);
}

/* Whether an element before i has the key k. */
static bool
key_seen(const struct hv_prop *p, const json_t *v, size_t i, const char *k)
{
	for (size_t j = 0; j < i; j++)
		if (same_key(p, k,
		             json_string_value(json_object_get(json_array_get(v, j), p->key))))
			return true;
	return false;
}

/* Each element's key at most once, and at most one primary NIC. */
static void
check_unique(struct ctx *c, const char *path, const struct hv_prop *p, const json_t *v)
{
	size_t n = json_array_size(v), primaries = 0;
	char q[HV_JSON_DESCRIBE_MAX];

	for (size_t i = 0; i < n && !full(c); i++) {
		const json_t *e = json_array_get(v, i);
		const char *k = json_string_value(json_object_get(e, p->key));
		bool primary = streq(p->name, "nics") && truthy(json_object_get(e, "primary"));
		_cleanup_free_ char *ep = path_index(c, path, i), *pp = NULL, *kp = NULL;

		if (!ep)
			return;
		if (primary && primaries++ && (pp = path_join(c, ep, "primary")))
			problem(c, &c->r->bad_values, pp, "%s: only one NIC may be primary", pp);
		if (k && key_seen(p, v, i, k) && (kp = path_join(c, ep, p->key)))
			problem(c, &c->r->bad_values, kp, "%s: %s %s is given twice", kp, p->key,
			        hv_json_quote(k, q));
	}
}

static void
check_element(struct ctx *c, const char *path, const struct hv_prop *p, const json_t *o,
              enum mode mode)
{
	unsigned flag = mode == MODE_UPDATE ? HV_PROP_U : HV_PROP_C;
	const char *k;
	json_t *e;

	if (!json_is_object(o)) {
		bad_value(c, path, "an object", o);
		return;
	}
	json_object_foreach ((json_t *)o, k, e) {
		const struct hv_prop *m = hv_vm_prop_member(p, k);
		_cleanup_free_ char *mp = path_join(c, path, k);
		bool is_key = mode == MODE_UPDATE && streq(k, p->key);

		if (!mp || full(c))
			return;
		if (!m) {
			unsigned saved = c->action_flag;
			c->action_flag = flag;
			unknown(c, mp, k, p, NULL);
			c->action_flag = saved;
		} else if (allowed(c, mp, m, flag, is_key) &&
		           !(mode == MODE_UPDATE && !is_key && json_is_null(e)))
			check_value(c, mp, m, e);
	}
	if (mode == MODE_UPDATE) {
		if (!json_object_get(o, p->key))
			missing(c, path, p->key, " (it names the element to change)");
		return;
	}
	for (size_t i = 0; i < p->n_members; i++)
		if ((p->members[i].required & c->brand_bit) &&
		    !json_object_get(o, p->members[i].name))
			missing(c, path, p->members[i].name, NULL);
	if (streq(p->name, "nics"))
		check_nic_aliases(c, path, o, mode);
	else if (streq(p->name, "disks"))
		check_disk(c, path, o);
}

static void
check_array(struct ctx *c, const char *path, const struct hv_prop *p, const json_t *v,
            enum mode mode)
{
	char what[160];
	size_t n;

	snprintf(what, sizeof(what), "an array of at most %" PRId64 " objects", p->max);
	if (!json_is_array(v) || json_array_size(v) > (size_t)p->max) {
		bad_value(c, path, what, v);
		return;
	}
	n = json_array_size(v);
	for (size_t i = 0; i < n && !full(c); i++) {
		_cleanup_free_ char *ep = path_index(c, path, i);

		if (ep)
			check_element(c, ep, p, json_array_get(v, i), mode);
	}
	check_unique(c, path, p, v);
}

/* remove_<array>: keys of elements; remove_<map>: keys of entries. A list or a comma string. */
static void
check_remove(struct ctx *c, const char *path, const struct hv_prop *p, const json_t *v)
{
	const struct hv_prop *key = p->type == HV_PROP_ARRAY ? hv_vm_prop_member(p, p->key) : NULL;
	struct hv_prop l = {
	        .name = path,
	        .type = HV_PROP_LIST,
	        .max = p->max,
	        .format = key                         ? key->format
	                  : p->type == HV_PROP_ROUTES ? HV_PROP_FMT_IP_CIDR
	                                              : HV_PROP_FMT_PRINTABLE,
	};

	check_list(c, path, &l, v);
}

/* ---- the top level ---- */

/* set_tags, remove_nics, ...: the property an update form stands for, and its verb. */
static const struct hv_prop *
update_form(const char *name, const char **ret_verb)
{
	static const char *const verbs[] = {"set_", "remove_", "add_", "update_"};

	for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
		const char *rest = startswith(name, verbs[i]);
		const struct hv_prop *p = rest ? hv_vm_prop_find(rest) : NULL;
		bool is_map = p && (p->type == HV_PROP_MAP || p->type == HV_PROP_ROUTES);
		bool is_array = p && p->type == HV_PROP_ARRAY && !(p->flags & HV_PROP_RO);

		if ((i == 0 && is_map) || (i == 1 && (is_map || is_array)) ||
		    (i >= 2 && is_array)) {
			*ret_verb = verbs[i];
			return p;
		}
	}
	return NULL;
}

static void
check_update_form(struct ctx *c, const char *name, const char *verb, const struct hv_prop *p,
                  const json_t *v)
{
	if (c->action == HV_VM_ACTION_CREATE) {
		problem(c, &c->r->bad_properties, name,
		        "'%s' is only for update (at create, give '%s')", name, p->name);
		return;
	}
	if (!allowed(c, name, p, HV_PROP_U, false))
		return;
	if (streq(verb, "remove_"))
		check_remove(c, name, p, v);
	else if (streq(verb, "set_"))
		check_value(c, name, p, v);
	else
		check_array(c, name, p, v, streq(verb, "add_") ? MODE_CREATE : MODE_UPDATE);
}

/* "nics.0.mac" or "tags.role" as a top-level name: say how to change one. */
static const char *
nested_hint(const char *name, char *buf, size_t size)
{
	size_t l = strcspn(name, ".");
	char head[64];
	const struct hv_prop *p;
	const char *last;

	if (!name[l] || l >= sizeof(head))
		return NULL;
	memcpy(head, name, l);
	head[l] = 0;
	p = hv_vm_prop_find(head);
	if (!p)
		return NULL;
	last = strrchr(name, '.') + 1;
	if (p->type == HV_PROP_ARRAY && p->key && streq(last, p->key))
		snprintf(buf, size,
		         " (an element's %s cannot change: add a new one with add_%s and "
		         "remove the old one with remove_%s)",
		         p->key, head, head);
	else if (p->type == HV_PROP_ARRAY)
		snprintf(buf, size, " (to change one of %s, use update_%s)", head, head);
	else if (p->type == HV_PROP_MAP || p->type == HV_PROP_ROUTES)
		snprintf(buf, size, " (to change one of %s, use set_%s)", head, head);
	else
		return NULL;
	return buf;
}

static void
check_top(struct ctx *c, const char *name, const json_t *v)
{
	const struct hv_prop *p = hv_vm_prop_find(name);
	const char *verb = NULL, *hint;
	char buf[320];

	if (!p && (p = update_form(name, &verb))) {
		check_update_form(c, name, verb, p, v);
		return;
	}
	if (!p) {
		hint = c->action == HV_VM_ACTION_UPDATE ? nested_hint(name, buf, sizeof(buf))
		                                        : NULL;
		unknown(c, name, name, NULL, hint);
		return;
	}
	if (streq(name, "brand") && c->action == HV_VM_ACTION_CREATE)
		return; /* checked first */
	if (!allowed(c, name, p, c->action_flag, false))
		return;
	if (c->action == HV_VM_ACTION_UPDATE &&
	    (p->type == HV_PROP_MAP || p->type == HV_PROP_ROUTES)) {
		problem(c, &c->r->bad_properties, name,
		        "'%s' cannot be replaced by update: use set_%s and remove_%s", name, name,
		        name);
		return;
	}
	if (c->action == HV_VM_ACTION_UPDATE && p->type == HV_PROP_ARRAY) {
		problem(c, &c->r->bad_properties, name,
		        "'%s' cannot be replaced by update: use add_%s, update_%s and remove_%s",
		        name, name, name, name);
		return;
	}
	if (c->action == HV_VM_ACTION_UPDATE && (p->flags & HV_PROP_NULL_CLEARS) &&
	    is_clearing(p, v))
		return;
	check_value(c, name, p, v);
}

/* Create: the payload's brand; update: the VM's. False when validation cannot go on. */
static bool
check_brand(struct ctx *c, const json_t *payload, const char *given)
{
	const json_t *v = NULL;
	char q[HV_JSON_DESCRIBE_MAX];

	if (c->action == HV_VM_ACTION_CREATE) {
		v = json_object_get(payload, "brand");
		if (!v) {
			if (!(c->r->bad_brand = strdup("joyent")))
				c->error = -ENOMEM;
			problem(c, NULL, "brand",
			        "no brand given: SmartOS would make a 'joyent' zone, which needs "
			        "an "
			        "illumos kernel; use 'lx' for a container or 'kvm' for a hardware "
			        "VM");
			return false;
		}
		if (!json_is_string(v)) {
			bad_value(c, "brand", "a string ('lx' or 'kvm')", v);
			return false;
		}
		given = json_string_value(v);
	}
	c->brand = hv_brand_from_string(given);
	if (c->brand >= 0 && hv_brand_supported(c->brand)) {
		c->brand_bit = HV_BRAND_BIT(c->brand);
		return true;
	}
	if (!(c->r->bad_brand = strdup(strempty(given))))
		c->error = -ENOMEM;
	if (c->brand == HV_BRAND_JOYENT || c->brand == HV_BRAND_JOYENT_MINIMAL)
		problem(c, NULL, "brand",
		        "brand '%s' needs an illumos kernel: use 'lx' for a container on Linux",
		        given);
	else if (c->brand == HV_BRAND_BHYVE)
		problem(c, NULL, "brand",
		        "brand 'bhyve' needs illumos's bhyve hypervisor: use 'kvm' for a hardware "
		        "VM");
	else
		problem(c, NULL, "brand",
		        "unsupported brand %s: Sable runs 'lx' (containers) and 'kvm' (hardware "
		        "VMs)",
		        hv_json_quote(strempty(given), q));
	return false;
}

static bool
alias_given(const json_t *payload, const char *name)
{
	size_t n;
	const struct hv_prop *props = hv_vm_props(&n);

	for (size_t i = 0; i < n; i++)
		if ((props[i].flags & HV_PROP_ALIAS) && streq(props[i].alias_of, name) &&
		    json_object_get(payload, props[i].name))
			return true;
	return false;
}

static void
check_required(struct ctx *c, const json_t *payload)
{
	size_t n;
	const struct hv_prop *props = hv_vm_props(&n);
	char why[64];

	snprintf(why, sizeof(why), " (brand %s needs it)", hv_brand_to_string(c->brand));
	for (size_t i = 0; i < n; i++)
		if ((props[i].required & c->brand_bit) &&
		    !json_object_get(payload, props[i].name) &&
		    !alias_given(payload, props[i].name))
			missing(c, NULL, props[i].name, why);
}

/* A hardware VM's NICs and disks need a model: their own, the driver's or the first one's. */
static void
check_models(struct ctx *c, const json_t *payload, const char *array, const char *driver)
{
	const json_t *a = json_object_get(payload, array);
	char why[64];
	size_t n;

	if (!json_is_array(a) || json_object_get(payload, driver) ||
	    json_object_get(json_array_get(a, 0), "model"))
		return;
	snprintf(why, sizeof(why), " (give it, or %s)", driver);
	n = json_array_size(a);
	for (size_t i = 0; i < n && !full(c); i++) {
		const json_t *e = json_array_get(a, i);
		_cleanup_free_ char *ep = path_index(c, array, i);

		if (ep && json_is_object(e) && !json_object_get(e, "model"))
			missing(c, ep, "model", why);
	}
}

static int
finish(struct ctx *c, struct hv_error **reterr)
{
	_cleanup_free_ char *path = c->first_path;

	if (c->error < 0)
		return c->error;
	if (c->problems == 0)
		return 0;
	return hv_error_set_path(reterr, -EINVAL, path, "%s",
	                         c->r->messages ? c->r->messages[0] : "invalid payload");
}

int
hv_vm_validate(enum hv_vm_action action, const char *brand, const json_t *payload,
               struct hv_vm_report *ret, struct hv_error **reterr)
{
	struct hv_vm_report local = {0};
	struct ctx c = {
	        .action = action,
	        .action_flag = action == HV_VM_ACTION_CREATE ? HV_PROP_C : HV_PROP_U,
	        .r = ret ? ret : &local,
	};
	const char *k;
	json_t *v;
	int r;

	*c.r = (struct hv_vm_report){0};
	if (!json_is_object(payload)) {
		char got[HV_JSON_DESCRIBE_MAX];
		problem(&c, NULL, NULL, "payload: expected a JSON object, got %s",
		        payload ? hv_json_describe(payload, got) : "nothing");
	} else if (check_brand(&c, payload, brand)) {
		json_object_foreach ((json_t *)payload, k, v) {
			if (full(&c))
				break;
			check_top(&c, k, v);
		}
		if (action == HV_VM_ACTION_CREATE) {
			check_required(&c, payload);
			if (hv_brand_is_hvm(c.brand)) {
				check_models(&c, payload, "nics", "nic_driver");
				check_models(&c, payload, "disks", "disk_driver");
			}
		}
	}
	r = finish(&c, reterr);
	hv_vm_report_done(&local);
	return r;
}
