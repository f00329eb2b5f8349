/* SPDX-License-Identifier: MIT */
/*
 * What a guest's requests mean: SmartOS's metadata agent, key by key
 * (smartos.md §5.2–5.6).
 *
 *   sdc:<name>        read-only facts of the VM: sdc:nics, sdc:resolvers,
 *                     sdc:routes (nics[N]/macs[..] gateways resolved),
 *                     sdc:operator-script, sdc:volumes, sdc:tags.<k>, and
 *                     any other flattened property (sdc:uuid, sdc:nics.0.ip)
 *   <ns>:<rest>       with <ns> in internal_metadata_namespaces: read-only,
 *                     from internal_metadata
 *   <key>_pw          from and to internal_metadata (a historical rule)
 *   anything else     customer_metadata, read and write
 *
 * Every request loads the VM afresh through the store (which makes that
 * cheap), so `vmadm update` shows at the next request. Writes go through
 * the store as one atomic change each. SmartOS's quirks that clients rely
 * on are kept: PUT and DELETE answer "OK", DELETE of a missing key
 * succeeds, a PUT of an empty value is an "Invalid PUT Request", and a V2
 * frame with a bad length or CRC gets no answer at all.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/macro.h"
#include "json/json.h"
#include "mdata/proto.h"
#include "mdata/server.h"

/* An answer being built: code plus value (or message). */
struct answer {
	const char *code; /* SUCCESS, NOTFOUND, FAILURE */
	char *value;      /* malloc'd, or NULL */
	size_t size;
};

static void
answer_done(struct answer *a)
{
	free(a->value);
	a->value = NULL;
}

static int fail(struct answer *a, const char *fmt, ...) _printf_(2, 3);
static int
fail(struct answer *a, const char *fmt, ...)
{
	va_list ap;
	int n;

	answer_done(a);
	a->code = "FAILURE";
	va_start(ap, fmt);
	n = vasprintf(&a->value, fmt, ap);
	va_end(ap);
	if (n < 0) {
		a->value = NULL;
		return -ENOMEM;
	}
	a->size = (size_t)n;
	return 0;
}

static int
found(struct answer *a, char *value, size_t size)
{
	if (!value)
		return -ENOMEM;
	a->code = "SUCCESS";
	a->value = value;
	a->size = size;
	return 0;
}

static int
found_str(struct answer *a, const char *s)
{
	return found(a, strdup(s), strlen(s));
}

/* A scalar as SmartOS gives it: strings as they are, numbers and booleans as text. */
static int
scalar(struct answer *a, const json_t *v, const char *key)
{
	if (!v || json_is_null(v)) {
		a->code = "NOTFOUND";
		return 0;
	}
	if (json_is_string(v))
		return found(a, strndup(json_string_value(v), json_string_length(v)),
		             json_string_length(v));
	if (json_is_true(v) || json_is_false(v))
		return found_str(a, json_is_true(v) ? "true" : "false");
	if (json_is_number(v)) {
		char *s = json_dumps(v, JSON_ENCODE_ANY);
		return found(a, s, s ? strlen(s) : 0);
	}
	return fail(a, "'%s' is an object or an array", key);
}

static int
json_value(struct answer *a, const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	return found(a, s, s ? strlen(s) : 0);
}

/* The NIC a route's gateway names (nics[N] or macs[xx:..]), or NULL. */
static const json_t *
route_nic(const json_t *nics, const char *gw)
{
	const char *r;

	if ((r = startswith(gw, "nics["))) {
		char *end;
		unsigned long i = strtoul(r, &end, 10);
		return end != r && streq(end, "]") ? json_array_get(nics, i) : NULL;
	}
	if ((r = startswith(gw, "macs["))) {
		size_t i, l = strlen(r);
		json_t *nic;

		if (l < 2 || r[l - 1] != ']')
			return NULL;
		json_array_foreach (nics, i, nic) {
			const char *mac = json_string_value(json_object_get(nic, "mac"));
			if (mac && strlen(mac) == l - 1 && strncasecmp(mac, r, l - 1) == 0)
				return nic;
		}
	}
	return NULL;
}

/* The NIC's first static address without its prefix length, or NULL (dhcp, addrconf). */
static char *
nic_address(const json_t *nic)
{
	const char *ip = json_string_value(json_object_get(nic, "ip"));
	const json_t *ips = json_object_get(nic, "ips");

	if (!ip && json_array_size(ips) > 0)
		ip = json_string_value(json_array_get(ips, 0));
	if (!ip || streq(ip, "dhcp") || streq(ip, "addrconf"))
		return NULL;
	return strndup(ip, strcspn(ip, "/"));
}

static int
routes(struct answer *a, const json_t *vm)
{
	json_auto_t *out = json_array();
	const json_t *nics = json_object_get(vm, "nics");
	const char *dst;
	json_t *gw;

	if (!out)
		return -ENOMEM;
	json_object_foreach ((json_t *)json_object_get(vm, "routes"), dst, gw) {
		const char *g = json_string_value(gw);
		const json_t *nic;
		json_t *e;

		if (!g)
			continue;
		nic = route_nic(nics, g);
		if (nic) {
			_cleanup_free_ char *ip = nic_address(nic);
			if (!ip)
				continue; /* a DHCP NIC: SmartOS leaves it out */
			e = json_pack("{s:s, s:s, s:b}", "dst", dst, "gateway", ip, "linklocal", 1);
		} else if (startswith(g, "nics[") || startswith(g, "macs["))
			continue;
		else
			e = json_pack("{s:s, s:s, s:b}", "dst", dst, "gateway", g, "linklocal", 0);
		if (json_array_append_new(out, e) < 0)
			return -ENOMEM;
	}
	return json_value(a, out);
}

/* sdc:nics.0.ip: a dotted path through objects and arrays. */
static const json_t *
flattened(const json_t *vm, const char *path)
{
	const json_t *v = vm;

	while (v && *path) {
		size_t l = strcspn(path, ".");
		_cleanup_free_ char *part = strndup(path, l);

		if (!part)
			return NULL;
		if (json_is_array(v)) {
			char *end;
			unsigned long i = strtoul(part, &end, 10);
			v = *part && !*end ? json_array_get(v, i) : NULL;
		} else
			v = json_object_get(v, part);
		path += l;
		if (*path == '.')
			path++;
	}
	return v;
}

static int
get_sdc(struct answer *a, const json_t *vm, const char *name)
{
	const json_t *im = json_object_get(vm, "internal_metadata");
	const char *tag;

	if (streq(name, "nics") || streq(name, "resolvers")) {
		const json_t *v = json_object_get(vm, name);
		json_auto_t *empty = json_array();
		return json_value(a, json_is_array(v) ? v : empty);
	}
	if (streq(name, "routes"))
		return routes(a, vm);
	if (streq(name, "operator-script"))
		return scalar(a, json_object_get(im, "operator-script"), name);
	if (streq(name, "volumes"))
		return scalar(a, json_object_get(im, "sdc:volumes"), name);
	if ((tag = startswith(name, "tags.")))
		return scalar(a, json_object_get(json_object_get(vm, "tags"), tag), name);
	return scalar(a, flattened(vm, name), name);
}

/* The namespace of key when internal_metadata_namespaces lists it, else NULL. */
static char *
internal_ns(const json_t *vm, const char *key)
{
	const char *colon = strchr(key, ':');
	json_t *ns;
	size_t i;

	if (!colon)
		return NULL;
	json_array_foreach (json_object_get(vm, "internal_metadata_namespaces"), i, ns) {
		const char *s = json_string_value(ns);
		if (s && strlen(s) == (size_t)(colon - key) && strncmp(s, key, strlen(s)) == 0)
			return strdup(s);
	}
	return NULL;
}

static bool
is_pw(const char *key)
{
	size_t l = strlen(key);
	return l >= 3 && streq(key + l - 3, "_pw");
}

static bool
internal_key(const json_t *vm, const char *key)
{
	_cleanup_free_ char *ns = internal_ns(vm, key);
	return ns || is_pw(key);
}

static int
get(struct answer *a, const json_t *vm, const char *key)
{
	const char *sdc = startswith(key, "sdc:");

	if (sdc)
		return get_sdc(a, vm, sdc);
	if (internal_key(vm, key))
		return scalar(a, json_object_get(json_object_get(vm, "internal_metadata"), key),
		              key);
	return scalar(a, json_object_get(json_object_get(vm, "customer_metadata"), key), key);
}

static int
keys(struct answer *a, const json_t *vm)
{
	static const char *const maps[] = {"customer_metadata", "internal_metadata"};
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	bool first = true;

	if (!f)
		return -ENOMEM;
	/* customer keys that are not internal ones, then internal keys that are */
	for (size_t m = 0; m < ELEMENTSOF(maps); m++) {
		const char *k;
		json_t *v;

		json_object_foreach ((json_t *)json_object_get(vm, maps[m]), k, v) {
			if (internal_key(vm, k) != (m == 1))
				continue;
			fprintf(f, "%s%s", first ? "" : "\n", k);
			first = false;
		}
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	return found(a, buf, size);
}

/* A key a guest may write: not empty, no control characters or NULs, UTF-8, bounded. */
static bool
key_ok(const char *key, size_t n)
{
	json_auto_t *s = NULL;

	if (n == 0 || n > HV_MDATA_MAP_KEY_MAX || strlen(key) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f)
			return false;
	s = json_stringn(key, n);
	return s != NULL;
}

/* Which map a guest's write goes to; NULL (and the answer made) when it may not write. */
static const char *
writable_map(struct answer *a, const json_t *vm, const char *key)
{
	_cleanup_free_ char *ns = NULL;

	if (startswith(key, "sdc:")) {
		(void)fail(a, "Cannot update the \"sdc\" Namespace.");
		return NULL;
	}
	if ((ns = internal_ns(vm, key))) {
		(void)fail(a, "Cannot update the \"%s\" Namespace.", ns);
		return NULL;
	}
	return is_pw(key) ? "internal_metadata" : "customer_metadata";
}

static int
store_set(struct answer *a, const struct hv_mdata_store *store, void *userdata, const json_t *vm,
          const char *key, size_t key_size, const char *value, size_t value_size)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	const char *map;
	int r;

	if (!key_ok(key, key_size))
		return fail(a,
		            "key: expected 1 to %d bytes of UTF-8 text without control characters",
		            HV_MDATA_MAP_KEY_MAX);
	if (!(map = writable_map(a, vm, key)))
		return 0;
	if (value) {
		json_auto_t *s = json_stringn(value, value_size);
		const json_t *m = json_object_get(vm, map);

		if (!s)
			return fail(a, "value of '%s': expected UTF-8 text", key);
		if (!json_object_get(m, key) && json_object_size(m) >= HV_MDATA_MAP_MAX)
			return fail(a, "%s is full: at most %d keys", map, HV_MDATA_MAP_MAX);
	}
	r = store->set(userdata, map, key, value, value_size, &e);
	if (r == -EAGAIN)
		return r;
	if (r < 0)
		return fail(a, "%s", hv_error_message(e, r));
	return found_str(a, "OK");
}

/* PUT's payload: b64(key) " " b64(value), exactly two terms once trimmed. */
static int
put(struct answer *a, const struct hv_mdata_store *store, void *userdata, const json_t *vm,
    const char *payload, size_t n)
{
	_cleanup_free_ char *key = NULL, *value = NULL;
	size_t key_size, value_size, sp;

	while (n > 0 && strchr(" \t\r\n", payload[0])) {
		payload++;
		n--;
	}
	while (n > 0 && strchr(" \t\r\n", payload[n - 1]))
		n--;
	sp = 0;
	while (sp < n && payload[sp] != ' ')
		sp++;
	if (sp == 0 || sp >= n - 1 || memchr(payload + sp + 1, ' ', n - sp - 1) ||
	    hv_mdata_base64_decode(payload, sp, &key, &key_size) < 0 ||
	    hv_mdata_base64_decode(payload + sp + 1, n - sp - 1, &value, &value_size) < 0)
		return fail(a, "Invalid PUT Request");
	return store_set(a, store, userdata, vm, key, key_size, value, value_size);
}

/* What code with its (decoded) argument means; the answer goes to a. */
static int
dispatch(struct answer *a, const struct hv_mdata_store *store, void *userdata, const char *code,
         const char *arg, size_t arg_size, bool v2)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_auto_t *vm = NULL;
	int r;

	if (!streq(code, "GET") && !streq(code, "KEYS") && !streq(code, "PUT") &&
	    !streq(code, "DELETE"))
		return fail(a, "Unknown command %s", code);
	if (!v2 && (streq(code, "PUT") || streq(code, "DELETE")))
		return fail(a, "%s needs protocol version 2", code);
	if ((r = store->load(userdata, &vm, &e)) < 0)
		return fail(a, "%s", hv_error_message(e, r));
	if (streq(code, "KEYS"))
		return keys(a, vm);
	if (streq(code, "PUT"))
		return put(a, store, userdata, vm, arg, arg_size);
	if (!arg || arg_size == 0 || strlen(arg) != arg_size)
		return fail(a, "%s: expected a key", code);
	if (streq(code, "GET"))
		return get(a, vm, arg);
	return store_set(a, store, userdata, vm, arg, arg_size, NULL, 0);
}

static int
handle_v2(const struct hv_mdata_store *store, void *userdata, const char *line, size_t n,
          char **ret, size_t *ret_size)
{
	struct hv_mdata_frame f;
	char reqid[HV_MDATA_REQID_MAX + 1], code[65];
	_cleanup_free_ char *arg = NULL;
	struct answer a = {0};
	size_t arg_size = 0;
	int r;

	if (hv_mdata_frame_parse(line, n, &f) < 0) {
		*ret = NULL; /* a bad frame: no answer (the client times out and resets) */
		*ret_size = 0;
		return 0;
	}
	memcpy(reqid, f.reqid, f.reqid_len);
	reqid[f.reqid_len] = 0;
	memcpy(code, f.code, f.code_len);
	code[f.code_len] = 0;
	if (f.payload && hv_mdata_base64_decode(f.payload, f.payload_len, &arg, &arg_size) < 0)
		r = fail(&a, "Invalid base64 payload");
	else
		r = dispatch(&a, store, userdata, code, arg, arg_size, true);
	if (r >= 0)
		r = hv_mdata_frame_format(reqid, a.code, a.value, a.size, ret, ret_size);
	answer_done(&a);
	return r;
}

/* V1: "SUCCESS", the value with every line starting '.' dot-stuffed, then ".". */
static int
v1_answer(const struct answer *a, char **ret, size_t *ret_size)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	if (!streq(a->code, "SUCCESS"))
		return (*ret = strdup(streq(a->code, "NOTFOUND") ? "NOTFOUND\n" : "FAILURE\n"))
		               ? (int)(*ret_size = strlen(*ret), 0)
		               : -ENOMEM;
	f = open_memstream(&buf, &size);
	if (!f)
		return -ENOMEM;
	fputs("SUCCESS\n", f);
	for (size_t i = 0; i < a->size; i++) {
		if (a->value[i] == '.' && (i == 0 || a->value[i - 1] == '\n'))
			fputc('.', f);
		fputc(a->value[i], f);
	}
	fputs("\n.\n", f);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	*ret_size = size;
	return 0;
}

static int
handle_v1(const struct hv_mdata_store *store, void *userdata, const char *line, size_t n,
          char **ret, size_t *ret_size)
{
	_cleanup_free_ char *copy = NULL;
	struct answer a = {0};
	char *arg;
	int r;

	if (n > 0 && line[n - 1] == '\r')
		n--;
	copy = strndup(line, n);
	if (!copy)
		return -ENOMEM;
	arg = strchr(copy, ' ');
	if (arg)
		*arg++ = 0;
	if (strlen(copy) != n && !arg)
		goto invalid; /* a NUL in the command */
	if (streq(copy, "NEGOTIATE") && arg && *arg) {
		*ret = strdup(streq(arg, "V2") ? "V2_OK\n" : "FAILURE\n");
		*ret_size = *ret ? strlen(*ret) : 0;
		return *ret ? 0 : -ENOMEM;
	}
	if ((streq(copy, "GET") && arg && *arg) || (streq(copy, "KEYS") && !arg) ||
	    streq(copy, "PUT") || streq(copy, "DELETE")) {
		r = dispatch(&a, store, userdata, copy, arg, arg ? strlen(arg) : 0, false);
		if (r >= 0)
			r = v1_answer(&a, ret, ret_size);
		answer_done(&a);
		return r;
	}
invalid:
	*ret = strdup("invalid command\n");
	*ret_size = *ret ? strlen(*ret) : 0;
	return *ret ? 0 : -ENOMEM;
}

int
hv_mdata_handle(const struct hv_mdata_store *store, void *userdata, const char *line, size_t n,
                char **ret, size_t *ret_size)
{
	if (n >= 3 && memcmp(line, "V2 ", 3) == 0)
		return handle_v2(store, userdata, line, n, ret, ret_size);
	return handle_v1(store, userdata, line, n, ret, ret_size);
}

int
hv_mdata_handle_oversized(const char *head, size_t n, char **ret, size_t *ret_size)
{
	const char *p = head, *end = head + n;
	char reqid[HV_MDATA_REQID_MAX + 1];
	size_t k = 0;
	static const char msg[] = "request too large";

	/* V2 <len> <crc> <reqid> …: answer the request id, since the frame cannot be checked. */
	if (n > 3 && memcmp(p, "V2 ", 3) == 0) {
		p += 3;
		for (int field = 0; field < 2; field++) {
			while (p < end && *p != ' ')
				p++;
			if (p < end)
				p++;
		}
		while (p + k < end && k < HV_MDATA_REQID_MAX && strchr("0123456789abcdef", p[k]) &&
		       p[k])
			k++;
		if (p < end && k > 0 && p + k < end && p[k] == ' ') {
			memcpy(reqid, p, k);
			reqid[k] = 0;
			return hv_mdata_frame_format(reqid, "FAILURE", msg, strlen(msg), ret,
			                             ret_size);
		}
	}
	*ret = strdup("FAILURE\n");
	*ret_size = *ret ? strlen(*ret) : 0;
	return *ret ? 0 : -ENOMEM;
}
