/* SPDX-License-Identifier: MIT */
/*
 * Create defaults (smartos.md §2.1): what a validated create payload lacks
 * is filled in the way SmartOS's applyZoneDefaults does, deprecated names
 * become their properties, and values given as strings take the form the
 * record keeps. Computed members are left to core-vm.c, except
 * create_timestamp, which is set once here. The payload is changed only
 * when everything succeeded.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "basic/parse.h"
#include "basic/strv.h"
#include "basic/time-util.h"
#include "basic/uuid.h"
#include "core/core-props-internal.h"
#include "core/vm-props.h"
#include "json/json.h"

#define ZERO_UUID         "00000000-0000-0000-0000-000000000000"
#define LIMIT_PRIV_OS     "default"
#define LIMIT_PRIV_HVM    "default,-file_link_any,-net_access,-proc_fork,-proc_info,-proc_session"
#define CPU_SHARES_MAX    65535
#define HVM_MEM_OVERHEAD  1024 /* max_physical_memory = ram + this, by default */
#define HVM_MEM_MIN_EXTRA 256  /* and never less than ram + this */
#define SWAP_MIN          256
#define MAC_TRIES         16

int64_t
hv_vm_get_int(const json_t *o, const char *key, int64_t def)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? json_integer_value(v) : def;
}

/* ---- normalizing values ---- */

static json_t *
normalize_list(const struct hv_prop *p, const json_t *v)
{
	_cleanup_strv_free_ char **parts = NULL;
	json_t *a;

	if (p->flags & HV_PROP_AS_STRING) {
		_cleanup_free_ char *s = NULL;
		size_t n = json_array_size(v);

		if (!json_is_array(v))
			return json_deep_copy(v);
		for (size_t i = 0; i < n; i++) {
			const char *e = json_string_value(json_array_get(v, i));
			if (!e || strv_push(&parts, e) < 0)
				return NULL;
		}
		s = strv_join(parts, ",");
		return s ? json_string(s) : NULL;
	}
	if (!json_is_string(v))
		return json_deep_copy(v);
	if (!*json_string_value(v))
		return json_array();
	if (strv_split(json_string_value(v), ',', &parts) < 0)
		return NULL;
	a = json_array();
	STRV_FOREACH (s, parts)
		if (!a || json_array_append_new(a, json_string(*s)) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *
normalize_array(const struct hv_prop *p, const json_t *v)
{
	json_t *a = json_deep_copy(v);
	size_t i;
	json_t *e;

	if (!a)
		return NULL;
	json_array_foreach (a, i, e)
		if (json_is_object(e) && hv_vm_element_normalize(p, e) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

json_t *
hv_vm_prop_normalize(const struct hv_prop *p, const json_t *v)
{
	int64_t n;

	switch (p->type) {
	case HV_PROP_INT:
		if (json_is_string(v) && safe_atoi64(json_string_value(v), &n) >= 0)
			return json_integer(n);
		break;
	case HV_PROP_BOOL:
		if (json_is_string(v))
			return json_boolean(streq(json_string_value(v), "true"));
		break;
	case HV_PROP_STRING:
		if (p->format == HV_PROP_FMT_MAC && json_is_string(v)) {
			_cleanup_free_ char *s = strdup(json_string_value(v));
			if (!s)
				return NULL;
			for (char *c = s; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			return json_string(s);
		}
		break;
	case HV_PROP_LIST:
		return normalize_list(p, v);
	case HV_PROP_ARRAY:
		return normalize_array(p, v);
	default:
		break;
	}
	return json_deep_copy(v);
}

int
hv_vm_element_normalize(const struct hv_prop *p, json_t *elem)
{
	const char *k;
	json_t *v;

	json_object_foreach (elem, k, v) {
		const struct hv_prop *m = hv_vm_prop_member(p, k);
		json_t *n;

		if (!m || json_is_null(v))
			continue;
		n = hv_vm_prop_normalize(m, v);
		if (!n || json_object_set_new(elem, k, n) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* ---- NICs and disks ---- */

static bool
mac_in_use(const json_t *vm, const json_t *self, const char *mac)
{
	const json_t *nics = json_object_get(vm, "nics"), *e;
	size_t i;

	json_array_foreach (nics, i, e) {
		const char *m = json_string_value(json_object_get(e, "mac"));
		if (e != self && m && strcasecmp(m, mac) == 0)
			return true;
	}
	return false;
}

/* A random locally administered unicast MAC, first octet X2 as SmartOS's. */
static int
random_mac(char ret[static 18])
{
	unsigned char b[6];
	ssize_t n;

	do
		n = getrandom(b, sizeof(b), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(b))
		return n < 0 ? -errno : -EIO;
	b[0] = (unsigned char)((b[0] & 0xf0) | 0x02);
	snprintf(ret, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
	return 0;
}

static bool
interface_in_use(const json_t *vm, const json_t *self, const char *name)
{
	const json_t *nics = json_object_get(vm, "nics"), *e;
	size_t i;

	json_array_foreach (nics, i, e) {
		const char *m = json_string_value(json_object_get(e, "interface"));
		if (e != self && m && streq(m, name))
			return true;
	}
	return false;
}

/* A model for a new NIC or disk of a hardware VM: the driver's, else the first element's. */
static int
fill_model(json_t *vm, json_t *elem, const char *array, const char *driver, const char *path,
           struct hv_error **reterr)
{
	const json_t *d = json_object_get(vm, driver);
	const json_t *first =
	        json_object_get(json_array_get(json_object_get(vm, array), 0), "model");

	if (json_object_get(elem, "model"))
		return 0;
	if (!json_is_string(d))
		d = first;
	if (!json_is_string(d))
		return hv_error_set_path(reterr, -EINVAL, path,
		                         "%s: no model, and neither %s nor a first model to use",
		                         path, driver);
	return hv_json_set(elem, "model", json_string(json_string_value(d)));
}

static bool
vm_is_hvm(const json_t *vm)
{
	return hv_brand_is_hvm(
	        hv_brand_from_string(json_string_value(json_object_get(vm, "brand"))));
}

int
hv_vm_nic_fill(json_t *vm, json_t *nic, const char *path, struct hv_error **reterr)
{
	bool hvm = vm_is_hvm(vm);
	int r;

	if (!json_object_get(nic, "mac")) {
		char mac[18];
		int tries = 0;

		do {
			if ((r = random_mac(mac)) < 0)
				return hv_error_set(reterr, r, "%s: cannot make a MAC address: %m",
				                    path);
		} while (mac_in_use(vm, nic, mac) && ++tries < MAC_TRIES);
		if ((r = hv_json_set(nic, "mac", json_string(mac))) < 0)
			return r;
	}
	if (!json_object_get(nic, "interface")) {
		char name[16];

		for (unsigned i = 0;; i++) {
			snprintf(name, sizeof(name), "%s%u", hvm ? "net" : "eth", i);
			if (!interface_in_use(vm, nic, name))
				break;
		}
		if ((r = hv_json_set(nic, "interface", json_string(name))) < 0)
			return r;
	}
	if (hvm)
		return fill_model(vm, nic, "nics", "nic_driver", path, reterr);
	return 0;
}

int
hv_vm_disk_fill(json_t *vm, json_t *disk, const char *path, struct hv_error **reterr)
{
	int r;

	if (!json_object_get(disk, "media") &&
	    (r = hv_json_set(disk, "media", json_string("disk"))) < 0)
		return r;
	return fill_model(vm, disk, "disks", "disk_driver", path, reterr);
}

/* The prefix length of the NIC's first IPv4 address in ips, or -1. */
static int
ipv4_prefix_of(const json_t *nic)
{
	const json_t *ips = json_object_get(nic, "ips"), *e;
	size_t i;

	json_array_foreach (ips, i, e) {
		const char *s = json_string_value(e), *slash = s ? strchr(s, '/') : NULL;
		int64_t n;

		if (slash && !strchr(s, ':') && safe_atoi64(slash + 1, &n) >= 0 && n >= 0 &&
		    n <= 32)
			return (int)n;
	}
	return -1;
}

static int
netmask_prefix(const char *mask)
{
	struct in_addr a;

	if (inet_pton(AF_INET, mask, &a) != 1)
		return -1;
	return __builtin_popcount(ntohl(a.s_addr));
}

int
hv_vm_nic_convert_aliases(json_t *nic, const char *path, struct hv_error **reterr)
{
	const char *ip = json_string_value(json_object_get(nic, "ip"));
	const char *mask = json_string_value(json_object_get(nic, "netmask"));
	const char *gw = json_string_value(json_object_get(nic, "gateway"));
	int r;

	if (ip) {
		_cleanup_free_ char *cidr = NULL;
		int prefix = mask ? netmask_prefix(mask) : ipv4_prefix_of(nic);
		json_t *ips;

		if (streq(ip, "dhcp"))
			cidr = strdup("dhcp");
		else if (prefix < 0)
			return hv_error_set_path(reterr, -EINVAL, path,
			                         "%s: 'ip' %s needs a 'netmask'", path, ip);
		else if (asprintf(&cidr, "%s/%d", ip, prefix) < 0)
			cidr = NULL;
		if (!cidr || !(ips = json_array()))
			return -ENOMEM;
		if ((r = hv_json_set(nic, "ips", ips)) < 0 ||
		    json_array_append_new(ips, json_string(cidr)) < 0)
			return -ENOMEM;
	}
	if (gw) {
		json_t *gws = json_array();

		if (!gws || (r = hv_json_set(nic, "gateways", gws)) < 0 ||
		    json_array_append_new(gws, json_string(gw)) < 0)
			return -ENOMEM;
	}
	(void)json_object_del(nic, "ip");
	(void)json_object_del(nic, "netmask");
	(void)json_object_del(nic, "gateway");
	return 0;
}

/* ---- the VM ---- */

/* Every known top-level member in its stored form; aliases become their properties. */
static int
normalize_top(json_t *vm)
{
	const char *k;
	json_t *v, *tmp;

	json_object_foreach_safe (vm, tmp, k, v) {
		const struct hv_prop *p = hv_vm_prop_find(k);
		json_t *n;

		if (!p)
			continue;
		n = hv_vm_prop_normalize(p, v);
		if (!n)
			return -ENOMEM;
		if (p->flags & HV_PROP_ALIAS) {
			/* The property wins over its deprecated name when both are given. */
			if (!json_object_get(vm, p->alias_of) &&
			    json_object_set_new(vm, p->alias_of, n) < 0)
				return -ENOMEM;
			if (json_object_get(vm, p->alias_of) != n)
				json_decref(n);
			(void)json_object_del(vm, k);
		} else if (json_object_set_new(vm, k, n) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int
set_default(json_t *vm, const char *key, json_t *value)
{
	if (!value)
		return -ENOMEM;
	if (json_object_get(vm, key)) {
		json_decref(value);
		return 0;
	}
	return hv_json_set(vm, key, value);
}

static int
set_int(json_t *vm, const char *key, int64_t v)
{
	return hv_json_set(vm, key, json_integer(v));
}

/* §2.1's memory family. */
static int
memory_defaults(json_t *vm, bool hvm)
{
	int64_t ram = hv_vm_get_int(vm, "ram", hvm ? 256 : -1), mpm, locked, swap;
	int r;

	if (hvm && (r = set_int(vm, "ram", ram)) < 0)
		return r;
	mpm = hv_vm_get_int(vm, "max_physical_memory",
	                    hvm ? ram + HVM_MEM_OVERHEAD : (ram > 0 ? ram : 256));
	if (hvm)
		mpm = MAX(mpm, ram + HVM_MEM_MIN_EXTRA);
	locked = MIN(hv_vm_get_int(vm, "max_locked_memory", mpm), mpm);
	if (hvm)
		locked = MAX(locked, ram + HVM_MEM_MIN_EXTRA);
	swap = MAX(hv_vm_get_int(vm, "max_swap", mpm), mpm);
	swap = MAX(swap, (int64_t)SWAP_MIN);
	if ((r = set_int(vm, "max_physical_memory", mpm)) < 0 ||
	    (r = set_int(vm, "max_locked_memory", locked)) < 0 ||
	    (r = set_int(vm, "max_swap", swap)) < 0 ||
	    (r = set_default(vm, "max_shm_memory", json_integer(mpm))) < 0)
		return r;
	if (!hvm)
		return set_int(vm, "tmpfs", MIN(hv_vm_get_int(vm, "tmpfs", mpm), mpm));
	return 0;
}

static int
simple_defaults(json_t *vm, bool hvm, const char *hostname)
{
	static const char *const ids[] = {"max_msg_ids", "max_sem_ids", "max_shm_ids"};
	static const char *const maps[] = {"customer_metadata", "internal_metadata", "tags"};
	int r;

	if ((r = set_default(vm, "autoboot", json_true())) < 0 ||
	    (r = set_default(vm, "owner_uuid", json_string(ZERO_UUID))) < 0 ||
	    (r = set_default(vm, "billing_id", json_string(ZERO_UUID))) < 0 ||
	    (r = set_default(vm, "zpool", json_string("zones"))) < 0 ||
	    (r = set_default(vm, "zfs_io_priority", json_integer(100))) < 0 ||
	    (r = set_default(vm, "max_lwps", json_integer(2000))) < 0 ||
	    (r = set_default(vm, "quota", json_integer(10))) < 0 ||
	    (r = set_default(vm, "hostname", json_string(hostname))) < 0 ||
	    (r = set_default(vm, "limit_priv", json_string(hvm ? LIMIT_PRIV_HVM : LIMIT_PRIV_OS))) <
	            0 ||
	    (r = set_int(vm, "cpu_shares",
	                 MIN(hv_vm_get_int(vm, "cpu_shares", 100), (int64_t)CPU_SHARES_MAX))) < 0)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(ids); i++)
		if ((r = set_default(vm, ids[i], json_integer(4096))) < 0)
			return r;
	for (size_t i = 0; i < ELEMENTSOF(maps); i++)
		if ((r = set_default(vm, maps[i], json_object())) < 0)
			return r;
	if (hvm)
		return set_default(vm, "vcpus", json_integer(1));
	if ((r = set_default(vm, "dns_domain", json_string("local"))) < 0)
		return r;
	return set_default(vm, "mdata_exec_timeout", json_integer(300));
}

static int
array_defaults(json_t *vm, struct hv_error **reterr)
{
	json_t *nics = json_object_get(vm, "nics"), *disks = json_object_get(vm, "disks"), *e;
	size_t i;
	int r;

	json_array_foreach (nics, i, e) {
		char path[32];

		snprintf(path, sizeof(path), "nics.%zu", i);
		if ((r = hv_vm_nic_convert_aliases(e, path, reterr)) < 0 ||
		    (r = hv_vm_nic_fill(vm, e, path, reterr)) < 0)
			return r;
	}
	json_array_foreach (disks, i, e) {
		char path[32];

		snprintf(path, sizeof(path), "disks.%zu", i);
		if ((r = hv_vm_disk_fill(vm, e, path, reterr)) < 0)
			return r;
	}
	return 0;
}

/* One RFC 1123 label: letters, digits and '-', not at either end, at most 63. */
static bool
host_label(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 63 && s[0] != '-' && s[n - 1] != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == n;
}

static int
apply(json_t *vm, uint64_t now_ms, struct hv_error **reterr)
{
	const char *brand = json_string_value(json_object_get(vm, "brand")), *name;
	char uuid[UUID_STRING_LEN + 1], ts[25];
	bool hvm;
	int r;

	if (!brand || hv_brand_from_string(brand) < 0)
		return hv_error_set_path(reterr, -EINVAL, "brand", "brand: missing or unknown");
	hvm = hv_brand_is_hvm(hv_brand_from_string(brand));
	if ((r = normalize_top(vm)) < 0)
		return r;
	if (!json_is_string(json_object_get(vm, "uuid"))) {
		if ((r = uuid_generate_v4(uuid)) < 0)
			return hv_error_set(reterr, r, "cannot make a uuid: %m");
		if ((r = hv_json_set(vm, "uuid", json_string(uuid))) < 0)
			return r;
	}
	/*
	 * The hostname defaults to the zonename, which is the uuid unless an lx
	 * payload set it to something that may also be a host name.
	 */
	name = json_string_value(json_object_get(vm, "zonename"));
	if (!name || !host_label(name))
		name = json_string_value(json_object_get(vm, "uuid"));
	if ((r = simple_defaults(vm, hvm, name)) < 0 || (r = memory_defaults(vm, hvm)) < 0 ||
	    (r = array_defaults(vm, reterr)) < 0)
		return r;
	format_iso8601_usec(ts, now_ms * USEC_PER_MSEC);
	return hv_json_set(vm, "create_timestamp", json_string(ts));
}

int
hv_vm_apply_create_defaults(json_t *vm, uint64_t now_ms, struct hv_error **reterr)
{
	json_t *work;
	int r;

	if (!json_is_object(vm))
		return hv_error_set(reterr, -EINVAL, "a VM must be a JSON object");
	work = json_deep_copy(vm);
	if (!work)
		return -ENOMEM;
	r = apply(work, now_ms, reterr);
	if (r >= 0 && (json_object_clear(vm) < 0 || json_object_update(vm, work) < 0))
		r = -ENOMEM;
	json_decref(work);
	return r;
}
