/* SPDX-License-Identifier: MIT */
/*
 * The data path: Sable's switch in BPF (theory of operation).
 *
 * Every host-side port (a veth's host end or a tap) carries the port
 * program (bpf/port.bpf.c) on its tc ingress, which sees every frame the
 * guest sends. In one pass it enforces link protection and switches known
 * unicast frames straight to the destination port: bpf_redirect_peer into a
 * veth's guest end (the frame never touches the bridge, its netfilter hooks
 * or the host-side veth's transmit path), bpf_redirect to a tap or to a
 * shaped port (whose tbf must see the frame). Broadcast, multicast and
 * unknown destinations go on to the Linux bridge the port is a slave of,
 * which floods and learns as always; a switch's uplink carries the same
 * program without protection, so frames from outside for a guest's MAC are
 * switched too. A second program on the port's egress learns DHCP leases
 * for NICs with "dhcp" in ips.
 *
 * State lives in BPF maps pinned in bpffs, one directory per root:
 * /sys/fs/bpf/sable-<prefix>/{ports,fdb,ip4,ip6,switches}. Pinning keeps
 * the maps alive after the short-lived vmadm or zoneadmd that made them,
 * and lets any later process (vmadm update, delete, reconcile) find them
 * by name. The programs are not pinned: each attach loads them (about a
 * millisecond) with libbpf reusing the pinned maps, and tc holds them as
 * long as they are attached. bpffs is mounted at /sys/fs/bpf when the host
 * has not (as systemd does at boot); pins live in the mount namespace that
 * made them, the host's.
 *
 *   ports     ifindex → struct net_port_cfg: the NIC's MAC, allow_* flags,
 *             its switch (the bridge's ifindex) and its ifb (shaping)
 *   fdb       (switch, MAC) → (port ifindex, redirect_peer or not)
 *   ip4, ip6  LPM tries (port ifindex, prefix): the sources a port may use
 *   switches  nic tag → the bridge's ifindex
 *
 * Invariants: an entry of ports exists only while the program is attached
 * to that ifindex (attach writes the maps before it attaches, detach takes
 * the program off before it clears them); an fdb entry names a port in
 * ports; whatever lives in the pin directory is removed when the last
 * switch and port go (net_switch_detach, net_port_detach,
 * net_datapath_reconcile). Callers serialize changes to one root's
 * network (lib/net holds its lock around them); the kernel keeps each map
 * update atomic, so frames see the old state or the new one, and an update
 * of a running port adds its new addresses before it drops the old ones.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>

#include "basic/cleanup.h"
#include "basic/macro.h"
#include "net/net-datapath.h"
#include "net/net-internal.h"
#include "net/net-link.h"
#include "net/port.skel.h"

#define BPFFS        "/sys/fs/bpf"
#define TC_HANDLE    1
#define TC_PRIORITY  1
#define MAP_KEYS_MAX (1u << 20)

static const char *const map_names[] = {"ports", "fdb", "ip4", "ip6", "switches"};

/* The pinned maps of one root. */
struct dp_maps {
	int ports, fdb, ip4, ip6, switches;
};
#define DP_MAPS_INIT                                   \
	{                                              \
		-EBADF, -EBADF, -EBADF, -EBADF, -EBADF \
	}

static void
dp_maps_close(struct dp_maps *m)
{
	m->ports = safe_close(m->ports);
	m->fdb = safe_close(m->fdb);
	m->ip4 = safe_close(m->ip4);
	m->ip6 = safe_close(m->ip6);
	m->switches = safe_close(m->switches);
}
#define _cleanup_dp_maps_ _cleanup_(dp_maps_close)

static void
skel_destroyp(struct net_port **s)
{
	if (*s)
		net_port__destroy(*s);
}
#define _cleanup_skel_ _cleanup_(skel_destroyp)

static int
pin_dir(const char *prefix, char *ret, size_t size)
{
	if ((size_t)snprintf(ret, size, BPFFS "/sable-%s", prefix) >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* bpffs at /sys/fs/bpf, mounted as systemd mounts it when the host has not. */
static int
bpffs_ensure(struct hv_error **reterr)
{
	struct statfs st;

	if (statfs(BPFFS, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", BPFFS, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") < 0)
		return hv_error_set(reterr, -errno, "cannot mount bpffs on " BPFFS ": %m");
	return 0;
}

/*
 * libbpf prints what it finds worth saying to stderr: the kernel's extack
 * for an existing clsact, say. A library does not print; what matters comes
 * back as an error.
 */
static int
libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

/* The programs, loaded with the root's pinned maps (pinned now if new). */
static int
skel_load(const char *prefix, struct net_port **ret, struct hv_error **reterr)
{
	_cleanup_skel_ struct net_port *skel = NULL;
	char dir[PATH_MAX];
	int r;

	r = pin_dir(prefix, dir, sizeof(dir));
	if (r < 0)
		return hv_error_set(reterr, r, "prefix '%s': too long", prefix);
	r = bpffs_ensure(reterr);
	if (r < 0)
		return r;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return hv_error_set(reterr, -errno, "cannot create %s: %m", dir);

	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = dir);
	skel = net_port__open_opts(&opts);
	if (!skel)
		return hv_error_set(reterr, negative_errno(), "cannot open the port program: %m");
	r = net_port__load(skel);
	if (r < 0)
		return hv_error_set(reterr, r,
		                    "cannot load the port program with the maps in %s: %m", dir);
	*ret = TAKE_PTR(skel);
	return 0;
}

static int
dup_fd(int fd)
{
	return RET_NERRNO(fcntl(fd, F_DUPFD_CLOEXEC, 3));
}

static int
maps_from_skel(struct net_port *skel, struct dp_maps *m)
{
	m->ports = dup_fd(bpf_map__fd(skel->maps.ports));
	m->fdb = dup_fd(bpf_map__fd(skel->maps.fdb));
	m->ip4 = dup_fd(bpf_map__fd(skel->maps.ip4));
	m->ip6 = dup_fd(bpf_map__fd(skel->maps.ip6));
	m->switches = dup_fd(bpf_map__fd(skel->maps.switches));
	if (m->ports < 0 || m->fdb < 0 || m->ip4 < 0 || m->ip6 < 0 || m->switches < 0)
		return -errno;
	return 0;
}

/* The root's pinned maps: 0, or -ENOENT when it has none (nothing to undo). */
static int
maps_open(const char *prefix, struct dp_maps *m, struct hv_error **reterr)
{
	int *fds[] = {&m->ports, &m->fdb, &m->ip4, &m->ip6, &m->switches};
	char dir[PATH_MAX], path[PATH_MAX + 16];
	struct statfs st;
	int r;

	r = pin_dir(prefix, dir, sizeof(dir));
	if (r < 0)
		return hv_error_set(reterr, r, "prefix '%s': too long", prefix);
	if (statfs(BPFFS, &st) < 0 || st.f_type != BPF_FS_MAGIC)
		return -ENOENT;
	for (size_t i = 0; i < ELEMENTSOF(map_names); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, map_names[i]);
		*fds[i] = bpf_obj_get(path);
		if (*fds[i] < 0) {
			r = *fds[i];
			*fds[i] = -EBADF;
			if (r == -ENOENT)
				return -ENOENT;
			return hv_error_set(reterr, r, "cannot open %s: %m", path);
		}
	}
	return 0;
}

/* Every key of a map (collected first, so that entries can be deleted after). */
static int
map_keys(int fd, size_t key_size, void **ret, size_t *ret_n)
{
	_cleanup_free_ uint8_t *keys = NULL;
	size_t n = 0, cap = 0;
	uint8_t *prev = NULL;

	for (;;) {
		if (n == cap) {
			uint8_t *k;

			if (cap >= MAP_KEYS_MAX)
				return -E2BIG;
			cap = cap ? cap * 2 : 64;
			k = realloc(keys, cap * key_size);
			if (!k)
				return -ENOMEM;
			keys = k;
		}
		prev = n ? keys + (n - 1) * key_size : NULL;
		if (bpf_map_get_next_key(fd, prev, keys + n * key_size) < 0) {
			if (errno == ENOENT)
				break;
			return -errno;
		}
		n++;
	}
	*ret = TAKE_PTR(keys);
	*ret_n = n;
	return 0;
}

static bool
map_empty(int fd, size_t key_size)
{
	uint8_t key[64];

	return key_size <= sizeof(key) && bpf_map_get_next_key(fd, NULL, key) < 0 &&
	       errno == ENOENT;
}

/* Once no switch and no port is left, the pins go, and the directory. */
static int
maybe_unpin(const char *prefix, const struct dp_maps *m, struct hv_error **reterr)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	int r;

	if (!map_empty(m->switches, sizeof(struct net_switch_key)) ||
	    !map_empty(m->ports, sizeof(uint32_t)))
		return 0;
	r = pin_dir(prefix, dir, sizeof(dir));
	if (r < 0)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(map_names); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, map_names[i]);
		if (unlink(path) < 0 && errno != ENOENT)
			return hv_error_set(reterr, -errno, "cannot remove %s: %m", path);
	}
	if (rmdir(dir) < 0 && errno != ENOENT)
		return hv_error_set(reterr, -errno, "cannot remove %s: %m", dir);
	return 0;
}

static int
switch_key(const char *tag, struct net_switch_key *ret, struct hv_error **reterr)
{
	memset(ret, 0, sizeof(*ret));
	if (strlen(tag) >= sizeof(ret->tag))
		return hv_error_set(reterr, -ENAMETOOLONG,
		                    "nic tag '%s': expected at most %zu characters", tag,
		                    sizeof(ret->tag) - 1);
	memcpy(ret->tag, tag, strlen(tag));
	return 0;
}

static int
tc_attach(int ifindex, enum bpf_tc_attach_point where, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIORITY,
	            .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int r;

	/* The hook is the clsact qdisc, one for both directions. */
	r = bpf_tc_hook_create(&hook);
	if (r < 0 && r != -EEXIST)
		return r;
	return bpf_tc_attach(&hook, &opts);
}

/* Take our filter off; gone already (or the link) is fine. */
static int
tc_detach(int ifindex, enum bpf_tc_attach_point where)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIORITY);
	int r;

	r = bpf_tc_detach(&hook, &opts);
	if (r == -ENOENT || r == -ENODEV || r == -EINVAL)
		return 0;
	return r;
}

static bool
link_exists(int ifindex)
{
	char name[IF_NAMESIZE];

	return ifindex > 0 && if_indextoname((unsigned)ifindex, name);
}

/* Delete the fdb entries of switch sw (sw 0: of every switch) that point to ifindex (0: any). */
static int
fdb_purge(int fd, uint32_t sw, uint32_t ifindex)
{
	_cleanup_free_ struct net_fdb_key *keys = NULL;
	size_t n;
	int r;

	r = map_keys(fd, sizeof(*keys), (void **)&keys, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct net_fdb_val v;

		if (sw && keys[i].sw != sw)
			continue;
		if (ifindex && (bpf_map_lookup_elem(fd, &keys[i], &v) < 0 || v.ifindex != ifindex))
			continue;
		(void)bpf_map_delete_elem(fd, &keys[i]);
	}
	return 0;
}

static bool
plan_has(const struct net_port_plan *p, int family, const uint8_t *addr, unsigned len)
{
	size_t alen = family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < p->n_ips; i++)
		if (p->ips[i].family == family && p->ips[i].len == len &&
		    memcmp(p->ips[i].addr, addr, alen) == 0)
			return true;
	return false;
}

/*
 * Make the port's entries in one trie match the plan: add what is new,
 * then delete what is gone (config entries not in the plan; learned ones
 * too when keep_learned is false; with plan NULL, every entry).
 */
static int
ips_sync(int fd, int family, uint32_t ifindex, const struct net_port_plan *plan, bool keep_learned)
{
	size_t alen = family == AF_INET ? 4 : 16;
	size_t ksize = family == AF_INET ? sizeof(struct net_ip4_key) : sizeof(struct net_ip6_key);
	_cleanup_free_ uint8_t *keys = NULL;
	uint8_t config = NET_IP_CONFIG;
	size_t n;
	int r;

	for (size_t i = 0; plan && i < plan->n_ips; i++) {
		struct net_ip6_key k = {0}; /* the larger of the two; ip4's layout is its head */

		if (plan->ips[i].family != family)
			continue;
		k.prefixlen = 32 + plan->ips[i].len;
		k.ifindex = ifindex;
		memcpy(k.addr, plan->ips[i].addr, alen);
		if (bpf_map_update_elem(fd, &k, &config, BPF_ANY) < 0)
			return -errno;
	}

	r = map_keys(fd, ksize, (void **)&keys, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct net_ip6_key k = {0};
		uint8_t kind = 0;

		memcpy(&k, keys + i * ksize, ksize);
		if (k.ifindex != ifindex)
			continue;
		if (plan && bpf_map_lookup_elem(fd, &k, &kind) == 0 &&
		    ((kind == NET_IP_LEARNED && keep_learned) ||
		     (kind == NET_IP_CONFIG && plan_has(plan, family, k.addr, k.prefixlen - 32))))
			continue;
		(void)bpf_map_delete_elem(fd, &k);
	}
	return 0;
}

int
net_switch_attach(const char *prefix, const char *tag, int bridge_ifindex, int uplink_ifindex,
                  struct hv_error **reterr)
{
	_cleanup_skel_ struct net_port *skel = NULL;
	struct net_switch_key key;
	uint32_t sw = (uint32_t)bridge_ifindex, old;
	int r, fd;

	(void)libbpf_set_print(libbpf_quiet);
	r = switch_key(tag, &key, reterr);
	if (r < 0)
		return r;
	r = skel_load(prefix, &skel, reterr);
	if (r < 0)
		return hv_error_prefix(reterr, r, "nic tag '%s'", tag);
	fd = bpf_map__fd(skel->maps.switches);
	/* A bridge made again has a new ifindex: forget what the old one knew. */
	if (bpf_map_lookup_elem(fd, &key, &old) == 0 && old != sw)
		(void)fdb_purge(bpf_map__fd(skel->maps.fdb), old, 0);
	if (bpf_map_update_elem(fd, &key, &sw, BPF_ANY) < 0)
		return hv_error_set(reterr, -errno, "nic tag '%s': cannot record its switch: %m",
		                    tag);
	if (uplink_ifindex > 0) {
		struct net_port_cfg cfg = {.flags = NET_PORT_UPLINK, .sw = sw};
		uint32_t up = (uint32_t)uplink_ifindex;

		if (bpf_map_update_elem(bpf_map__fd(skel->maps.ports), &up, &cfg, BPF_ANY) < 0)
			return hv_error_set(reterr, -errno,
			                    "nic tag '%s': cannot record its uplink: %m", tag);
		r = tc_attach(uplink_ifindex, BPF_TC_INGRESS,
		              bpf_program__fd(skel->progs.sable_port_in));
		if (r < 0)
			return hv_error_set(reterr, r,
			                    "nic tag '%s': cannot attach the port program to its "
			                    "uplink (ifindex %d): %m",
			                    tag, uplink_ifindex);
	}
	return 0;
}

int
net_switch_detach(const char *prefix, const char *tag, int uplink_ifindex, struct hv_error **reterr)
{
	_cleanup_dp_maps_ struct dp_maps m = DP_MAPS_INIT;
	struct net_switch_key key;
	uint32_t sw;
	int r;

	(void)libbpf_set_print(libbpf_quiet);
	r = switch_key(tag, &key, reterr);
	if (r < 0)
		return r;
	if (uplink_ifindex > 0) {
		r = tc_detach(uplink_ifindex, BPF_TC_INGRESS);
		if (r < 0)
			return hv_error_set(reterr, r,
			                    "nic tag '%s': cannot detach the port program from its "
			                    "uplink (ifindex %d): %m",
			                    tag, uplink_ifindex);
	}
	r = maps_open(prefix, &m, reterr);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return hv_error_prefix(reterr, r, "nic tag '%s'", tag);
	if (uplink_ifindex > 0) {
		uint32_t up = (uint32_t)uplink_ifindex;

		(void)bpf_map_delete_elem(m.ports, &up);
	}
	if (bpf_map_lookup_elem(m.switches, &key, &sw) == 0) {
		r = fdb_purge(m.fdb, sw, 0);
		if (r < 0)
			return hv_error_set(reterr, r, "nic tag '%s': cannot clear its table: %m",
			                    tag);
		(void)bpf_map_delete_elem(m.switches, &key);
	}
	return maybe_unpin(prefix, &m, reterr);
}

/* Attach or update: make the port match nic. */
static int
port_apply(const char *prefix, const char *tag, int port_ifindex, bool peer,
           const struct hv_net_nic *nic, struct hv_error **reterr)
{
	_cleanup_(net_port_plan_done) struct net_port_plan plan = {0};
	_cleanup_skel_ struct net_port *skel = NULL;
	_cleanup_dp_maps_ struct dp_maps m = DP_MAPS_INIT;
	struct net_switch_key key;
	struct net_fdb_key fk = {0};
	struct net_fdb_val fv = {0};
	struct net_port_cfg old;
	uint32_t ifindex = (uint32_t)port_ifindex;
	int r, ifb = 0;
	bool had_ifb;

	(void)libbpf_set_print(libbpf_quiet);
	r = net_port_plan_make(nic, &plan, reterr);
	if (r < 0)
		return r;
	r = switch_key(tag, &key, reterr);
	if (r < 0)
		return r;
	r = skel_load(prefix, &skel, reterr);
	if (r < 0)
		return r;
	r = maps_from_skel(skel, &m);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot use the port program's maps: %m");
	if (bpf_map_lookup_elem(m.switches, &key, &plan.cfg.sw) < 0)
		return hv_error_set(reterr, -ENOENT, "nic tag '%s': its switch has no data path",
		                    tag);
	had_ifb = bpf_map_lookup_elem(m.ports, &ifindex, &old) == 0 && old.ifb;

	/* A cap comes before the program uses it, and goes after it stopped. */
	if (nic->max_bandwidth > 0 || !had_ifb) {
		r = net_shape_apply(prefix, port_ifindex, nic->mac, nic->max_bandwidth, &ifb,
		                    reterr);
		if (r < 0)
			return r;
	}
	plan.cfg.ifb = (uint32_t)ifb;

	r = ips_sync(m.ip4, AF_INET, ifindex, &plan, plan.cfg.flags & NET_PORT_DHCP);
	if (r >= 0)
		r = ips_sync(m.ip6, AF_INET6, ifindex, &plan, false);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot record the addresses: %m");
	if (bpf_map_update_elem(m.ports, &ifindex, &plan.cfg, BPF_ANY) < 0)
		return hv_error_set(reterr, -errno, "cannot record the port: %m");
	fk.sw = plan.cfg.sw;
	memcpy(fk.mac, plan.cfg.mac, sizeof(fk.mac));
	fv.ifindex = ifindex;
	fv.flags = peer && !ifb ? NET_FDB_PEER : 0;
	if (bpf_map_update_elem(m.fdb, &fk, &fv, BPF_ANY) < 0)
		return hv_error_set(reterr, -errno, "cannot record %s in the switch's table: %m",
		                    nic->mac);

	r = tc_attach(port_ifindex, BPF_TC_INGRESS, bpf_program__fd(skel->progs.sable_port_in));
	if (r >= 0)
		r = tc_attach(port_ifindex, BPF_TC_EGRESS,
		              bpf_program__fd(skel->progs.sable_port_out));
	if (r < 0)
		return hv_error_set(reterr, r, "cannot attach the port program: %m");

	if (nic->max_bandwidth == 0 && had_ifb) {
		r = net_shape_apply(prefix, port_ifindex, nic->mac, 0, &ifb, reterr);
		if (r < 0)
			return r;
	}
	return 0;
}

int
net_port_attach(const char *prefix, const char *tag, int port_ifindex, bool peer,
                const struct hv_net_nic *nic, struct hv_error **reterr)
{
	int r;

	r = port_apply(prefix, tag, port_ifindex, peer, nic, reterr);
	if (r < 0) {
		(void)net_port_detach(prefix, tag, port_ifindex, nic->mac, NULL);
		return hv_error_prefix(reterr, r, "port %d (%s)", port_ifindex, nic->mac);
	}
	return 0;
}

int
net_port_update(const char *prefix, const char *tag, int port_ifindex, bool peer,
                const struct hv_net_nic *nic, struct hv_error **reterr)
{
	int r;

	r = port_apply(prefix, tag, port_ifindex, peer, nic, reterr);
	if (r < 0)
		return hv_error_prefix(reterr, r, "port %d (%s)", port_ifindex, nic->mac);
	return 0;
}

/* Everything the maps hold of one port. */
static void
port_forget(const struct dp_maps *m, uint32_t ifindex)
{
	(void)fdb_purge(m->fdb, 0, ifindex);
	(void)ips_sync(m->ip4, AF_INET, ifindex, NULL, false);
	(void)ips_sync(m->ip6, AF_INET6, ifindex, NULL, false);
	(void)bpf_map_delete_elem(m->ports, &ifindex);
}

int
net_port_detach(const char *prefix, const char *tag, int port_ifindex, const char *mac,
                struct hv_error **reterr)
{
	_cleanup_dp_maps_ struct dp_maps m = DP_MAPS_INIT;
	int r, ifb;

	(void)libbpf_set_print(libbpf_quiet);
	/* The program first (it reads the maps), with its clsact: the port is ours. */
	if (link_exists(port_ifindex)) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = port_ifindex,
		            .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

		r = bpf_tc_hook_destroy(&hook);
		if (r < 0 && r != -ENOENT && r != -ENODEV && r != -EINVAL)
			return hv_error_set(reterr, r,
			                    "port %d (%s): cannot detach its program: %m",
			                    port_ifindex, mac);
	}
	r = net_shape_apply(prefix, port_ifindex, mac, 0, &ifb, reterr);
	if (r < 0)
		return hv_error_prefix(reterr, r, "port %d (%s)", port_ifindex, mac);
	r = maps_open(prefix, &m, reterr);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return hv_error_prefix(reterr, r, "port %d (%s)", port_ifindex, mac);
	port_forget(&m, (uint32_t)port_ifindex);
	return maybe_unpin(prefix, &m, reterr);
}

/* Address entries of ports the table does not know (an attach that died half-way). */
static void
ips_orphans(int fd, size_t ksize, int ports_fd)
{
	_cleanup_free_ uint8_t *keys = NULL;
	size_t n;

	if (map_keys(fd, ksize, (void **)&keys, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct net_ip6_key k = {0};
		struct net_port_cfg cfg;

		memcpy(&k, keys + i * ksize, ksize);
		if (bpf_map_lookup_elem(ports_fd, &k.ifindex, &cfg) < 0)
			(void)bpf_map_delete_elem(fd, keys + i * ksize);
	}
}

int
net_datapath_reconcile(const char *prefix, struct hv_error **reterr)
{
	_cleanup_dp_maps_ struct dp_maps m = DP_MAPS_INIT;
	_cleanup_free_ uint32_t *ports = NULL;
	_cleanup_free_ struct net_switch_key *sws = NULL;
	_cleanup_free_ struct net_fdb_key *fdb = NULL;
	size_t n_ports, n_sws, n_fdb;
	int r;

	(void)libbpf_set_print(libbpf_quiet);
	r = net_shape_reconcile(prefix, reterr);
	if (r < 0)
		return r;
	r = maps_open(prefix, &m, reterr);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;

	r = map_keys(m.switches, sizeof(*sws), (void **)&sws, &n_sws);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot list the switches of '%s': %m", prefix);
	for (size_t i = 0; i < n_sws; i++) {
		uint32_t sw;

		if (bpf_map_lookup_elem(m.switches, &sws[i], &sw) == 0 && !link_exists((int)sw)) {
			(void)fdb_purge(m.fdb, sw, 0);
			(void)bpf_map_delete_elem(m.switches, &sws[i]);
		}
	}

	r = map_keys(m.ports, sizeof(*ports), (void **)&ports, &n_ports);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot list the ports of '%s': %m", prefix);
	for (size_t i = 0; i < n_ports; i++)
		if (!link_exists((int)ports[i]))
			port_forget(&m, ports[i]);

	/* What no port, switch or address entry stands for any more. */
	r = map_keys(m.fdb, sizeof(*fdb), (void **)&fdb, &n_fdb);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot list the table of '%s': %m", prefix);
	for (size_t i = 0; i < n_fdb; i++) {
		struct net_fdb_val v;
		struct net_port_cfg cfg;

		if (bpf_map_lookup_elem(m.fdb, &fdb[i], &v) == 0 &&
		    bpf_map_lookup_elem(m.ports, &v.ifindex, &cfg) < 0)
			(void)bpf_map_delete_elem(m.fdb, &fdb[i]);
	}
	ips_orphans(m.ip4, sizeof(struct net_ip4_key), m.ports);
	ips_orphans(m.ip6, sizeof(struct net_ip6_key), m.ports);
	return maybe_unpin(prefix, &m, reterr);
}
