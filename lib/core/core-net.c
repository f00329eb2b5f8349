/* SPDX-License-Identifier: MIT */
/*
 * A VM's NICs on the node's networks. The record's nics[] and routes become
 * <zonepath>/config/net.json (lib/net's form), which zoneadmd plugs at
 * every boot of the zone, before its init runs; a change to a running
 * zone's NICs is plugged, updated or unplugged at once (SmartOS applies
 * most NIC changes only at the next boot; Sable applies them live, except
 * nic_tag, vlan_id and mtu, which need a new link and take effect at the
 * next boot, as on SmartOS).
 *
 * What the payload validation cannot know is checked here, before anything
 * is made: that each nic tag exists on this node and its NIC is present
 * (SmartOS issues 72 and 94: a missing tag used to half-create the VM),
 * that the kernel can carry a VLAN before a vlan_id is accepted (never
 * silently untagged), that an MTU fits the tag, and that no other VM on the
 * node has the MAC.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/lock.h"
#include "basic/macro.h"
#include "basic/path.h"
#include "basic/strv.h"
#include "core/core-internal.h"
#include "core/vm.h"
#include "json/json.h"
#include "net/net.h"

static bool
bool_member(const json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

static unsigned
uint_member(const json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));
	return v > 0 && v <= UINT32_MAX ? (unsigned)v : 0;
}

/* A JSON list of strings as a NULL-terminated vector (NULL for none). */
static int
strv_member(const json_t *o, const char *key, char ***ret)
{
	const json_t *a = json_object_get(o, key), *e;
	_cleanup_strv_free_ char **v = NULL;
	size_t i;

	*ret = NULL;
	if (!json_is_array(a) || json_array_size(a) == 0)
		return 0;
	v = calloc(json_array_size(a) + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	json_array_foreach (a, i, e)
		if (!(v[i] = strdup(strempty(json_string_value(e)))))
			return -ENOMEM;
	*ret = TAKE_PTR(v);
	return 0;
}

static int
nic_from_json(const json_t *j, struct hv_net_nic *n)
{
	const char *s;
	int r;

	*n = (struct hv_net_nic){0};
	if ((s = json_string_value(json_object_get(j, "mac"))) && !(n->mac = strdup(s)))
		return -ENOMEM;
	if ((s = json_string_value(json_object_get(j, "nic_tag"))) && !(n->tag = strdup(s)))
		return -ENOMEM;
	if ((s = json_string_value(json_object_get(j, "interface"))) && !(n->interface = strdup(s)))
		return -ENOMEM;
	n->mtu = uint_member(j, "mtu");
	n->vlan_id = uint_member(j, "vlan_id");
	n->max_bandwidth = uint_member(j, "max_bandwidth");
	n->primary = bool_member(j, "primary");
	n->allow_ip_spoofing = bool_member(j, "allow_ip_spoofing");
	n->allow_mac_spoofing = bool_member(j, "allow_mac_spoofing");
	n->allow_dhcp_spoofing =
	        bool_member(j, "allow_dhcp_spoofing") || bool_member(j, "dhcp_server");
	n->allow_restricted_traffic = bool_member(j, "allow_restricted_traffic");
	n->allow_unfiltered_promisc = bool_member(j, "allow_unfiltered_promisc");
	if ((r = strv_member(j, "ips", &n->ips)) < 0 ||
	    (r = strv_member(j, "gateways", &n->gateways)) < 0 ||
	    (r = strv_member(j, "allowed_ips", &n->allowed_ips)) < 0)
		return r;
	return 0;
}

/* The interface a "nics[N]" or "macs[MAC]" route target names, or NULL. */
static const char *
route_interface(const json_t *nics, const char *target)
{
	const json_t *e;
	const char *rest;
	size_t i;

	if ((rest = startswith(target, "nics["))) {
		char *end;
		unsigned long k = strtoul(rest, &end, 10);
		if (end == rest || !streq(end, "]"))
			return NULL;
		return json_string_value(json_object_get(json_array_get(nics, k), "interface"));
	}
	if ((rest = startswith(target, "macs["))) {
		size_t l = strlen(rest);
		if (l < 2 || rest[l - 1] != ']')
			return NULL;
		json_array_foreach (nics, i, e) {
			const char *mac = json_string_value(json_object_get(e, "mac"));
			if (mac && strlen(mac) == l - 1 && strncasecmp(mac, rest, l - 1) == 0)
				return json_string_value(json_object_get(e, "interface"));
		}
	}
	return NULL;
}

int
vm_net_from_json(const json_t *vm, struct hv_net_vm *ret, struct hv_error **reterr)
{
	const json_t *nics = json_object_get(vm, "nics"), *routes = json_object_get(vm, "routes");
	_cleanup_(hv_net_vm_done) struct hv_net_vm n = {0};
	const json_t *e;
	const char *key;
	size_t i;
	int r;

	if (!(n.owner = strdup(strempty(json_string_value(json_object_get(vm, "uuid"))))))
		return -ENOMEM;
	if (json_array_size(nics) > 0) {
		n.nics = calloc(json_array_size(nics), sizeof(*n.nics));
		if (!n.nics)
			return -ENOMEM;
		json_array_foreach (nics, i, e) {
			if ((r = nic_from_json(e, &n.nics[i])) < 0)
				return r;
			n.n_nics++;
		}
	}
	if (json_object_size(routes) > 0) {
		n.routes = calloc(json_object_size(routes), sizeof(*n.routes));
		if (!n.routes)
			return -ENOMEM;
		json_object_foreach ((json_t *)routes, key, e) {
			struct hv_net_route *rt = &n.routes[n.n_routes];
			const char *target = strempty(json_string_value(e));
			const char *ifname = NULL;

			if (startswith(target, "nics[") || startswith(target, "macs[")) {
				ifname = route_interface(nics, target);
				if (!ifname)
					return hv_error_set_path(
					        reterr, -EINVAL, "routes",
					        "routes.%s: '%s' names no NIC of the VM", key,
					        target);
			}
			if (!(rt->dest = strdup(key)) || (ifname ? !(rt->interface = strdup(ifname))
			                                         : !(rt->gateway = strdup(target))))
				return -ENOMEM;
			n.n_routes++;
		}
	}
	*ret = n;
	n = (struct hv_net_vm){0};
	return 0;
}

static int
net_config_path(const char *uuid, char **ret)
{
	_cleanup_free_ char *zonepath = NULL;

	if (hv_vm_zonepath(uuid, &zonepath) < 0)
		return -ENOMEM;
	return path_join(zonepath, "config/net.json", ret);
}

int
vm_net_config_write(const json_t *vm, struct hv_error **reterr)
{
	_cleanup_(hv_net_vm_done) struct hv_net_vm n = {0};
	_cleanup_free_ char *path = NULL;
	int r;

	if ((r = vm_net_from_json(vm, &n, reterr)) < 0)
		return r;
	if (net_config_path(n.owner, &path) < 0)
		return -ENOMEM;
	/* A VM without NICs has no file: zoneadmd then leaves the zone's network alone. */
	if (n.n_nics == 0 && n.n_routes == 0) {
		if (unlink(path) < 0 && errno != ENOENT)
			return hv_error_set(reterr, -errno, "cannot remove '%s': %m", path);
		return 0;
	}
	return hv_net_vm_save(&n, path, reterr);
}

/* Every MAC of the other VMs on this node, "mac" -> "uuid". */
static int
macs_in_use(const char *self, json_t **ret, struct hv_error **reterr)
{
	json_auto_t *all = NULL, *out = json_object();
	const char *uuid;
	json_t *v;
	int r;

	if (!out)
		return -ENOMEM;
	if ((r = vm_records_all(&all, reterr)) < 0)
		return r;
	json_object_foreach (all, uuid, v) {
		const json_t *nics = json_object_get(json_object_get(v, "record"), "nics"), *e;
		size_t i;

		if (self && streq(uuid, self))
			continue;
		json_array_foreach (nics, i, e) {
			const char *mac = json_string_value(json_object_get(e, "mac"));
			_cleanup_free_ char *lower = mac ? strdup(mac) : NULL;

			if (!lower)
				continue;
			for (char *p = lower; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			if (hv_json_set(out, lower, json_string(uuid)) < 0)
				return -ENOMEM;
		}
	}
	*ret = TAKE_PTR(out);
	return 0;
}

/* One NIC against this node: its tag, VLAN, MTU and MAC. */
static int
check_nic(const json_t *nic, const char *path, const json_t *macs, struct hv_error **reterr)
{
	_cleanup_(hv_net_tag_done) struct hv_net_tag tag = {0};
	const char *name = json_string_value(json_object_get(nic, "nic_tag"));
	const char *mac = json_string_value(json_object_get(nic, "mac"));
	unsigned lo, hi, mtu = uint_member(nic, "mtu");
	int r;

	if (!name)
		return hv_error_set_path(reterr, -EINVAL, path, "%s.nic_tag: every NIC needs one",
		                         path);
	r = hv_net_tag_get(name, &tag, reterr);
	if (r < 0)
		return hv_error_path_prefix(reterr, r, path);
	if (uint_member(nic, "vlan_id") > 0 && (r = hv_net_vlan_supported(reterr)) < 0)
		return hv_error_prefix(reterr, r, "%s.vlan_id %u cannot be carried", path,
		                       uint_member(nic, "vlan_id"));
	hv_net_tag_mtu_range(&tag, &lo, &hi);
	if (mtu && (mtu < lo || mtu > hi))
		return hv_error_set_path(reterr, -EINVAL, path,
		                         "%s.mtu %u: expected %u to %u on nic tag \"%s\"", path,
		                         mtu, lo, hi, name);
	if (mac) {
		_cleanup_free_ char *lower = strdup(mac);
		const char *owner;

		if (!lower)
			return -ENOMEM;
		for (char *p = lower; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if ((owner = json_string_value(json_object_get(macs, lower))))
			return hv_error_set_path(reterr, -EEXIST, path,
			                         "%s.mac %s: already used by VM %s", path, mac,
			                         owner);
	}
	return 0;
}

int
vm_net_check(const json_t *vm, const json_t *old, struct hv_error **reterr)
{
	const json_t *nics = json_object_get(vm, "nics"), *e;
	const char *self = json_string_value(json_object_get(vm, "uuid"));
	json_auto_t *macs = NULL;
	size_t i;
	int r;

	if (json_array_size(nics) == 0)
		return 0;
	if ((r = macs_in_use(self, &macs, reterr)) < 0)
		return r;
	json_array_foreach (nics, i, e) {
		char path[32];

		/* Unchanged NICs of an update were checked when they came. */
		if (old && json_array_size(json_object_get(old, "nics")) > 0) {
			const json_t *o, *onics = json_object_get(old, "nics");
			size_t k;
			bool same = false;

			json_array_foreach (onics, k, o)
				if (json_equal(o, e))
					same = true;
			if (same)
				continue;
		}
		snprintf(path, sizeof(path), "nics.%zu", i);
		if ((r = check_nic(e, path, macs, reterr)) < 0)
			return r;
	}
	return 0;
}

/* The running zone's network namespace, or -ESRCH when it does not run. */
static int
zone_netns(const char *uuid, int *ret, struct hv_error **reterr)
{
	_cleanup_close_ int pidfd = -EBADF, fd = -EBADF;
	struct hv_zone_runtime rt;
	char path[64];
	int r;

	if (hv_zone_running(uuid, &rt) <= 0 || hv_zone_init_pidfd(&rt, &pidfd) < 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)rt.init_pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hv_error_set(reterr, -errno, "VM %s: cannot open its network namespace: %m",
		                    uuid);
	/* The pid was still the zone's init after the open: the namespace is its. */
	r = pidfd_send_signal(pidfd, 0, NULL, 0);
	if (r < 0)
		return -ESRCH;
	*ret = TAKE_FD(fd);
	return 0;
}

static const struct hv_net_nic *
nic_by_mac(const struct hv_net_vm *n, const char *mac)
{
	for (size_t i = 0; i < n->n_nics; i++)
		if (n->nics[i].mac && strcasecmp(n->nics[i].mac, mac) == 0)
			return &n->nics[i];
	return NULL;
}

/* Fields that need a new link: they take effect at the next boot. */
static bool
needs_new_link(const struct hv_net_nic *a, const struct hv_net_nic *b)
{
	return !streq_ptr(a->tag, b->tag) || a->vlan_id != b->vlan_id || a->mtu != b->mtu ||
	       !streq_ptr(a->interface, b->interface);
}

int
vm_net_apply(const char *uuid, const json_t *old, const json_t *new, struct hv_error **reterr)
{
	_cleanup_(hv_net_vm_done) struct hv_net_vm a = {0}, b = {0};
	_cleanup_close_ int netns = -EBADF;
	int r;

	if (json_equal(json_object_get(old, "nics"), json_object_get(new, "nics")))
		return 0;
	r = zone_netns(uuid, &netns, reterr);
	if (r == -ESRCH)
		return 0; /* the next boot plugs net.json */
	if (r < 0)
		return r;
	if ((r = vm_net_from_json(old, &a, reterr)) < 0 ||
	    (r = vm_net_from_json(new, &b, reterr)) < 0)
		return r;
	for (size_t i = 0; i < a.n_nics; i++)
		if (!nic_by_mac(&b, a.nics[i].mac) &&
		    (r = hv_net_nic_unplug(uuid, a.nics[i].mac, reterr)) < 0)
			return r;
	for (size_t i = 0; i < b.n_nics; i++) {
		const struct hv_net_nic *was = nic_by_mac(&a, b.nics[i].mac);

		if (!was)
			r = hv_net_nic_plug(uuid, &b.nics[i], netns, reterr);
		else if (!needs_new_link(was, &b.nics[i]))
			r = hv_net_nic_update(uuid, was, &b.nics[i], netns, reterr);
		else
			r = 0;
		if (r < 0)
			return r;
	}
	return 0;
}

/* A zone whose zoneadmd holds its lock: running, booting or going down. */
static bool
zone_supervised(const char *uuid)
{
	_cleanup_free_ char *lockpath = NULL;
	_cleanup_close_ int lock = -EBADF;

	if (hv_zone_running(uuid, NULL) > 0)
		return true;
	if (hv_zone_runtime_path(uuid, ".lock", &lockpath) < 0)
		return true; /* cannot tell: keep */
	return lock_file(lockpath, LOCK_EX, 0, &lock) == -ETIMEDOUT;
}

int
hv_vm_net_reconcile(struct hv_error **reterr)
{
	_cleanup_strv_free_ char **owners = NULL;
	json_auto_t *all = NULL;
	const char *uuid;
	json_t *v;
	size_t n = 0;
	int r;

	if ((r = vm_records_all(&all, reterr)) < 0)
		return r;
	owners = calloc(json_object_size(all) + 1, sizeof(char *));
	if (!owners)
		return -ENOMEM;
	json_object_foreach (all, uuid, v)
		if (zone_supervised(uuid) && !(owners[n++] = strdup(uuid)))
			return -ENOMEM;
	return hv_net_reconcile(owners, reterr);
}

int
vm_net_unplug(const char *uuid, struct hv_error **reterr)
{
	return hv_net_vm_unplug(uuid, reterr);
}

/* Open rel inside the zone root, never leaving it (the image is not trusted). */
static int
open_in_root(const char *uuid, const char *rel, int flags, mode_t mode)
{
	_cleanup_free_ char *zonepath = NULL, *root = NULL;
	_cleanup_close_ int rfd = -EBADF;
	struct open_how how = {.flags = (uint64_t)flags | O_CLOEXEC | O_NOFOLLOW,
	                       .mode = (flags & O_CREAT) ? mode : 0,
	                       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	int fd;

	if (hv_vm_zonepath(uuid, &zonepath) < 0 || path_join(zonepath, "root", &root) < 0)
		return -ENOMEM;
	rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return -errno;
	fd = (int)syscall(SYS_openat2, rfd, rel, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

int
vm_resolvers_write(const json_t *vm, struct hv_error **reterr)
{
	const json_t *res = json_object_get(vm, "resolvers"), *e;
	const char *uuid = json_string_value(json_object_get(vm, "uuid"));
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int dir = -EBADF, fd = -EBADF;
	size_t len = 0, i;
	struct stat st;
	FILE *f;
	int r;

	if (!uuid || !json_is_array(res))
		return 0;
	f = open_memstream(&text, &len);
	if (!f)
		return -ENOMEM;
	fputs("# written by vmadm from the VM's resolvers\n", f);
	json_array_foreach (res, i, e)
		fprintf(f, "nameserver %s\n", strempty(json_string_value(e)));
	if (fclose(f) != 0)
		return -ENOMEM;
	/* An image without /etc has no resolver file to keep. */
	dir = open_in_root(uuid, "etc", O_PATH | O_DIRECTORY, 0);
	if (dir == -ENOENT)
		return 0;
	/*
	 * Replace whatever is there (a file, or a link into /run that a
	 * resolver daemon would own) by a plain file, as SmartOS does.
	 */
	if (dir < 0)
		return hv_error_set(reterr, dir, "VM %s: cannot open its /etc: %s", uuid,
		                    strerror(-dir));
	(void)unlinkat(dir, "resolv.conf.sable", 0);
	fd = openat(dir, "resolv.conf.sable", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	r = fd < 0 ? -errno : 0;
	/* The zone's root owns it, as it owns /etc: the zone may keep it up to date. */
	if (r >= 0 && fstat(dir, &st) == 0)
		(void)fchown(fd, st.st_uid, st.st_gid);
	if (r >= 0)
		r = loop_write(fd, text, len);
	if (r >= 0 && renameat(dir, "resolv.conf.sable", dir, "resolv.conf") < 0)
		r = -errno;
	if (r < 0) {
		(void)unlinkat(dir, "resolv.conf.sable", 0);
		return hv_error_set(reterr, r, "VM %s: cannot write /etc/resolv.conf: %s", uuid,
		                    strerror(-r));
	}
	return 0;
}
