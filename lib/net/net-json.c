/* SPDX-License-Identifier: MIT */
/*
 * net.json: a VM's NICs and routes as lib/core writes them and zoneadmd
 * reads them at every boot. Loading is strict: an unknown member, a wrong
 * type or a bad value is an error that names the file, the member's path
 * (nics.1.ips.0) and what was expected; nothing is guessed.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/parse.h"
#include "basic/strv.h"
#include "basic/uuid.h"
#include "json/json.h"
#include "net/net-link.h"
#include "net/net.h"

#define NET_JSON_MAX_SIZE (1024u * 1024u)
#define NET_MAX_NICS      32u
#define NET_MAX_IPS       20u
#define NET_MAX_ROUTES    256u

void
hv_net_nic_done(struct hv_net_nic *n)
{
	if (!n)
		return;
	free(n->mac);
	free(n->tag);
	free(n->interface);
	strv_free(n->ips);
	strv_free(n->gateways);
	strv_free(n->allowed_ips);
	*n = (struct hv_net_nic){0};
}

void
hv_net_vm_done(struct hv_net_vm *vm)
{
	if (!vm)
		return;
	free(vm->owner);
	for (size_t i = 0; i < vm->n_nics; i++)
		hv_net_nic_done(&vm->nics[i]);
	free(vm->nics);
	for (size_t i = 0; i < vm->n_routes; i++) {
		free(vm->routes[i].dest);
		free(vm->routes[i].gateway);
		free(vm->routes[i].interface);
	}
	free(vm->routes);
	*vm = (struct hv_net_vm){0};
}

/* Where we are in the file, for messages: "<file>: nics.1.ips.0: …". */
struct where {
	const char *file;
	char path[64];
};

static int _printf_(4, 5) bad(struct hv_error **reterr, const struct where *w, const char *member,
                              const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL, *path = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	if (asprintf(&path, "%s%s%s", w->path, *w->path && member ? "." : "", strempty(member)) < 0)
		return -ENOMEM;
	return hv_error_set_path(reterr, -EINVAL, path, "%s: %s: %s", w->file, path, msg);
}

static int
want_type(const json_t *v, json_type t, const char *what, const struct where *w, const char *key,
          struct hv_error **reterr)
{
	char buf[HV_JSON_DESCRIBE_MAX];

	if (json_typeof(v) == t)
		return 0;
	return bad(reterr, w, key, "%s: expected %s", hv_json_describe(v, buf), what);
}

/* An array of at most max entries ("%zu NICs: expected at most 32"). */
static int
want_array(const json_t *v, const char *what, size_t max, const char *entries,
           const struct where *w, const char *key, struct hv_error **reterr)
{
	int r = want_type(v, JSON_ARRAY, what, w, key, reterr);

	if (r < 0)
		return r;
	if (json_array_size(v) > max)
		return bad(reterr, w, key, "%zu %s: expected at most %zu", json_array_size(v),
		           entries, max);
	return 0;
}

static bool
interface_is_valid(const char *s)
{
	size_t l = strlen(s);

	if (l == 0 || l > 15 || streq(s, ".") || streq(s, ".."))
		return false;
	for (const char *p = s; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p) ||
		    !isprint((unsigned char)*p))
			return false;
	return true;
}

static int
get_string(const json_t *v, const struct where *w, const char *key, char **ret,
           struct hv_error **reterr)
{
	int r = want_type(v, JSON_STRING, "a string", w, key, reterr);

	if (r < 0)
		return r;
	*ret = strdup(json_string_value(v));
	return *ret ? 0 : -ENOMEM;
}

static int
get_uint(const json_t *v, const struct where *w, const char *key, unsigned lo, unsigned hi,
         unsigned *ret, struct hv_error **reterr)
{
	char buf[HV_JSON_DESCRIBE_MAX];
	json_int_t i;

	if (!json_is_integer(v) || (i = json_integer_value(v)) < (json_int_t)lo ||
	    i > (json_int_t)hi)
		return bad(reterr, w, key, "%s: expected an integer from %u to %u",
		           hv_json_describe(v, buf), lo, hi);
	*ret = (unsigned)i;
	return 0;
}

static int
get_bool(const json_t *v, const struct where *w, const char *key, bool *ret,
         struct hv_error **reterr)
{
	int r = want_type(v, json_is_true(v) ? JSON_TRUE : JSON_FALSE, "true or false", w, key,
	                  reterr);

	if (r < 0)
		return r;
	*ret = json_is_true(v);
	return 0;
}

enum addr_kind {
	ADDR_IP,      /* ips: a CIDR, dhcp or addrconf */
	ADDR_GATEWAY, /* an address */
	ADDR_ALLOWED, /* an address or a CIDR */
};

static int
get_addrs(const json_t *v, const struct where *w, const char *key, enum addr_kind kind, char ***ret,
          struct hv_error **reterr)
{
	_cleanup_strv_free_ char **l = NULL;
	static const char *const what[] = {
	        [ADDR_IP] = "an address with a prefix length (198.51.100.5/24, 2001:db8::5/64), "
	                    "dhcp or addrconf",
	        [ADDR_GATEWAY] = "an IPv4 or IPv6 address",
	        [ADDR_ALLOWED] = "an IPv4 or IPv6 address or CIDR",
	};
	const json_t *e;
	size_t i;
	int r;

	r = want_array(v, "an array of strings", NET_MAX_IPS, "entries", w, key, reterr);
	if (r < 0)
		return r;
	json_array_foreach (v, i, e) {
		char sub[64], buf[HV_JSON_DESCRIBE_MAX];
		const char *s = json_string_value(e);
		bool ok;

		snprintf(sub, sizeof(sub), "%s.%zu", key, i);
		if (!s)
			return bad(reterr, w, sub, "%s: expected %s", hv_json_describe(e, buf),
			           what[kind]);
		switch (kind) {
		case ADDR_IP:
			ok = streq(s, "dhcp") || streq(s, "addrconf") ||
			     net_addr_family(s, true) > 0;
			break;
		case ADDR_GATEWAY:
			ok = net_addr_family(s, false) > 0;
			break;
		default:
			ok = net_addr_family(s, strchr(s, '/') != NULL) > 0;
			break;
		}
		if (!ok)
			return bad(reterr, w, sub, "%s: expected %s", hv_json_quote(s, buf),
			           what[kind]);
		if ((r = strv_push(&l, s)) < 0)
			return r;
	}
	*ret = TAKE_PTR(l);
	return 0;
}

static int
nic_load(const json_t *j, struct where *w, struct hv_net_nic *n, struct hv_error **reterr)
{
	const char *key;
	json_t *v;
	int r = 0;

	r = want_type(j, JSON_OBJECT, "an object", w, NULL, reterr);
	if (r < 0)
		return r;
	json_object_foreach ((json_t *)j, key, v) {
		if (streq(key, "mac")) {
			char m[18], buf[HV_JSON_DESCRIBE_MAX];

			if (!json_is_string(v) || mac_normalize(json_string_value(v), m) < 0)
				return bad(reterr, w, key,
				           "%s: expected a MAC address such as aa:bb:cc:dd:ee:ff",
				           hv_json_describe(v, buf));
			r = (n->mac = strdup(m)) ? 0 : -ENOMEM;
		} else if (streq(key, "nic_tag"))
			r = get_string(v, w, key, &n->tag, reterr);
		else if (streq(key, "interface")) {
			char buf[HV_JSON_DESCRIBE_MAX];

			r = get_string(v, w, key, &n->interface, reterr);
			if (r >= 0 && !interface_is_valid(n->interface))
				return bad(reterr, w, key,
				           "%s: expected an interface name of 1 to 15 characters "
				           "without '/', ':' or spaces",
				           hv_json_quote(n->interface, buf));
		} else if (streq(key, "mtu")) {
			r = get_uint(v, w, key, 0, HV_NET_MTU_MAX, &n->mtu, reterr);
			if (r >= 0 && n->mtu && n->mtu < HV_NET_MTU_MIN_STUB)
				return bad(reterr, w, key, "%u: expected %u to %u", n->mtu,
				           HV_NET_MTU_MIN_STUB, HV_NET_MTU_MAX);
		} else if (streq(key, "vlan_id"))
			r = get_uint(v, w, key, 0, 4095, &n->vlan_id, reterr);
		else if (streq(key, "max_bandwidth"))
			r = get_uint(v, w, key, 0, 1000000, &n->max_bandwidth, reterr);
		else if (streq(key, "ips"))
			r = get_addrs(v, w, key, ADDR_IP, &n->ips, reterr);
		else if (streq(key, "gateways"))
			r = get_addrs(v, w, key, ADDR_GATEWAY, &n->gateways, reterr);
		else if (streq(key, "allowed_ips"))
			r = get_addrs(v, w, key, ADDR_ALLOWED, &n->allowed_ips, reterr);
		else if (streq(key, "primary"))
			r = get_bool(v, w, key, &n->primary, reterr);
		else if (streq(key, "allow_ip_spoofing"))
			r = get_bool(v, w, key, &n->allow_ip_spoofing, reterr);
		else if (streq(key, "allow_mac_spoofing"))
			r = get_bool(v, w, key, &n->allow_mac_spoofing, reterr);
		else if (streq(key, "allow_dhcp_spoofing"))
			r = get_bool(v, w, key, &n->allow_dhcp_spoofing, reterr);
		else if (streq(key, "allow_restricted_traffic"))
			r = get_bool(v, w, key, &n->allow_restricted_traffic, reterr);
		else if (streq(key, "allow_unfiltered_promisc"))
			r = get_bool(v, w, key, &n->allow_unfiltered_promisc, reterr);
		else
			return bad(reterr, w, key, "unknown member");
		if (r < 0)
			return r;
	}
	if (!n->mac)
		return bad(reterr, w, "mac", "missing: every NIC needs one");
	if (!n->tag)
		return bad(reterr, w, "nic_tag", "missing: every NIC needs one");
	if (!n->interface)
		return bad(reterr, w, "interface", "missing: every NIC needs one");
	return 0;
}

static int
route_load(const json_t *j, struct where *w, struct hv_net_route *rt, struct hv_error **reterr)
{
	char buf[HV_JSON_DESCRIBE_MAX];
	const char *key;
	json_t *v;
	int r;

	r = want_type(j, JSON_OBJECT, "an object with dest and gateway or interface", w, NULL,
	              reterr);
	if (r < 0)
		return r;
	json_object_foreach ((json_t *)j, key, v) {
		if (streq(key, "dest")) {
			r = get_string(v, w, key, &rt->dest, reterr);
			if (r >= 0 && net_addr_family(rt->dest, strchr(rt->dest, '/') != NULL) < 0)
				return bad(reterr, w, key, "%s: expected an address or a CIDR",
				           hv_json_quote(rt->dest, buf));
		} else if (streq(key, "gateway")) {
			r = get_string(v, w, key, &rt->gateway, reterr);
			if (r >= 0 && net_addr_family(rt->gateway, false) < 0)
				return bad(reterr, w, key, "%s: expected an address",
				           hv_json_quote(rt->gateway, buf));
		} else if (streq(key, "interface")) {
			r = get_string(v, w, key, &rt->interface, reterr);
			if (r >= 0 && !interface_is_valid(rt->interface))
				return bad(reterr, w, key, "%s: expected an interface name",
				           hv_json_quote(rt->interface, buf));
		} else
			return bad(reterr, w, key, "unknown member");
		if (r < 0)
			return r;
	}
	if (!rt->dest)
		return bad(reterr, w, "dest", "missing: every route needs one");
	if (!rt->gateway == !rt->interface)
		return bad(reterr, w, NULL, "expected either a gateway or an interface");
	if (rt->gateway && net_addr_family(rt->gateway, false) !=
	                           net_addr_family(rt->dest, strchr(rt->dest, '/') != NULL))
		return bad(reterr, w, "gateway", "'%s' is not of the family of dest '%s'",
		           rt->gateway, rt->dest);
	return 0;
}

static int
vm_load_json(const json_t *j, const char *file, struct hv_net_vm *ret, struct hv_error **reterr)
{
	_cleanup_(hv_net_vm_done) struct hv_net_vm vm = {0};
	struct where w = {.file = file};
	char buf[HV_JSON_DESCRIBE_MAX];
	const char *key;
	json_t *v;
	int r;

	r = want_type(j, JSON_OBJECT, "an object with owner, nics and routes", &w, NULL, reterr);
	if (r < 0)
		return hv_error_set(reterr, r, "%s: expected an object with owner, nics and routes",
		                    file);
	json_object_foreach ((json_t *)j, key, v) {
		const json_t *e;
		size_t i;

		if (streq(key, "owner")) {
			if (!json_is_string(v) || !uuid_is_valid(json_string_value(v)))
				return bad(reterr, &w, key, "%s: expected a UUID",
				           hv_json_describe(v, buf));
			if (!(vm.owner = strdup(json_string_value(v))))
				return -ENOMEM;
		} else if (streq(key, "nics")) {
			if ((r = want_array(v, "an array", NET_MAX_NICS, "NICs", &w, key, reterr)) <
			    0)
				return r;
			vm.nics = calloc(json_array_size(v) + 1, sizeof(*vm.nics));
			if (!vm.nics)
				return -ENOMEM;
			json_array_foreach (v, i, e) {
				snprintf(w.path, sizeof(w.path), "nics.%zu", i);
				vm.n_nics++;
				if ((r = nic_load(e, &w, &vm.nics[i], reterr)) < 0)
					return r;
			}
		} else if (streq(key, "routes")) {
			if ((r = want_array(v, "an array", NET_MAX_ROUTES, "routes", &w, key,
			                    reterr)) < 0)
				return r;
			vm.routes = calloc(json_array_size(v) + 1, sizeof(*vm.routes));
			if (!vm.routes)
				return -ENOMEM;
			json_array_foreach (v, i, e) {
				snprintf(w.path, sizeof(w.path), "routes.%zu", i);
				vm.n_routes++;
				if ((r = route_load(e, &w, &vm.routes[i], reterr)) < 0)
					return r;
			}
		} else
			return bad(reterr, &w, key, "unknown member");
		*w.path = 0;
	}
	if (!vm.owner)
		return bad(reterr, &w, "owner", "missing: expected the VM's UUID");
	for (size_t i = 0; i < vm.n_nics; i++)
		for (size_t k = 0; k < i; k++) {
			snprintf(w.path, sizeof(w.path), "nics.%zu", i);
			if (streq(vm.nics[i].mac, vm.nics[k].mac))
				return bad(reterr, &w, "mac", "%s: also the MAC of nics.%zu",
				           vm.nics[i].mac, k);
			if (streq(vm.nics[i].interface, vm.nics[k].interface))
				return bad(reterr, &w, "interface",
				           "'%s': also the interface of nics.%zu",
				           vm.nics[i].interface, k);
		}
	*ret = vm;
	vm = (struct hv_net_vm){0};
	return 0;
}

int
hv_net_vm_load(const char *path, struct hv_net_vm *ret, struct hv_error **reterr)
{
	json_auto_t *j = NULL;
	int r;

	r = hv_json_load_file(path, NET_JSON_MAX_SIZE, &j, reterr);
	if (r < 0)
		return r;
	return vm_load_json(j, path, ret, reterr);
}

int
net_vm_load_buf(const char *buf, size_t size, const char *source, struct hv_net_vm *ret,
                struct hv_error **reterr)
{
	json_auto_t *j = NULL;
	int r;

	r = hv_json_load_buf(buf, size, source, &j, reterr);
	if (r < 0)
		return r;
	return vm_load_json(j, source, ret, reterr);
}

static json_t *
strv_json(char *const *l)
{
	json_t *a = json_array();

	STRV_FOREACH (s, l)
		if (!a || json_array_append_new(a, json_string(*s)) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static int
nic_json(const struct hv_net_nic *n, json_t **ret)
{
	json_auto_t *o = json_object();
	const struct {
		const char *key;
		bool v;
	} flags[] = {
	        {"primary", n->primary},
	        {"allow_ip_spoofing", n->allow_ip_spoofing},
	        {"allow_mac_spoofing", n->allow_mac_spoofing},
	        {"allow_dhcp_spoofing", n->allow_dhcp_spoofing},
	        {"allow_restricted_traffic", n->allow_restricted_traffic},
	        {"allow_unfiltered_promisc", n->allow_unfiltered_promisc},
	};
	const struct {
		const char *key;
		char *const *v;
	} lists[] = {
	        {"ips", n->ips},
	        {"gateways", n->gateways},
	        {"allowed_ips", n->allowed_ips},
	};

	if (!o || hv_json_set(o, "mac", json_string(strempty(n->mac))) < 0 ||
	    hv_json_set(o, "nic_tag", json_string(strempty(n->tag))) < 0 ||
	    hv_json_set(o, "interface", json_string(strempty(n->interface))) < 0 ||
	    (n->mtu && hv_json_set(o, "mtu", json_integer(n->mtu)) < 0) ||
	    (n->vlan_id && hv_json_set(o, "vlan_id", json_integer(n->vlan_id)) < 0) ||
	    (n->max_bandwidth &&
	     hv_json_set(o, "max_bandwidth", json_integer(n->max_bandwidth)) < 0))
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(flags); i++)
		if (flags[i].v && hv_json_set(o, flags[i].key, json_true()) < 0)
			return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(lists); i++)
		if (strv_length(lists[i].v) > 0 &&
		    hv_json_set(o, lists[i].key, strv_json(lists[i].v)) < 0)
			return -ENOMEM;
	*ret = TAKE_PTR(o);
	return 0;
}

int
hv_net_vm_save(const struct hv_net_vm *vm, const char *path, struct hv_error **reterr)
{
	json_auto_t *o = json_object(), *nics = json_array(), *routes = json_array();
	_cleanup_free_ char *text = NULL;
	int r;

	if (!o || !nics || !routes)
		return -ENOMEM;
	for (size_t i = 0; i < vm->n_nics; i++) {
		json_t *n = NULL;

		if ((r = nic_json(&vm->nics[i], &n)) < 0 || json_array_append_new(nics, n) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < vm->n_routes; i++) {
		const struct hv_net_route *rt = &vm->routes[i];
		json_t *e = json_object();

		if (!e || json_array_append_new(routes, e) < 0 ||
		    hv_json_set(e, "dest", json_string(strempty(rt->dest))) < 0 ||
		    (rt->gateway && hv_json_set(e, "gateway", json_string(rt->gateway)) < 0) ||
		    (rt->interface && hv_json_set(e, "interface", json_string(rt->interface)) < 0))
			return -ENOMEM;
	}
	if (hv_json_set(o, "owner", json_string(strempty(vm->owner))) < 0 ||
	    hv_json_set(o, "nics", json_incref(nics)) < 0 ||
	    hv_json_set(o, "routes", json_incref(routes)) < 0)
		return -ENOMEM;
	text = hv_json_dumps(o);
	if (!text)
		return -ENOMEM;
	r = write_file_atomic(path, text, strlen(text), 0644);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot write '%s': %m", path);
	return 0;
}
