/* SPDX-License-Identifier: MIT */
/*
 * A VM's NICs on the node's networks: theory of operation.
 *
 * Each nic tag or etherstub in use is a switch: a bridge called
 * <prefix>s<hash(tag)> with the tag's NIC (found by MAC) enslaved as its
 * uplink, handed to the data path (net_switch_attach) once both exist. A
 * zone's NIC is a veth pair made in one request: the host end
 * <prefix>v<hash(owner, mac)> on the switch, the guest end made directly in
 * the zone's network namespace under the guest's name, with its MAC and
 * MTU. Its alias names the owner at once; then a static fdb entry for the
 * guest's MAC, the data path's port program (net_port_attach) while the
 * link is still down, and only then the host end goes up and the guest end
 * gets its addresses, comes up, and the routes follow.
 *
 * Who owns what is written on the links themselves, never in a file that a
 * crash could leave out of step: every link carries the root's prefix in
 * its name and "sable <prefix> <kind> <owner or tag> <mac or -> [<tag>]" in
 * its alias. Unplug and reconcile find their work from that alone, and
 * never touch a link without the prefix. A switch goes when its last port
 * goes, so an idle host carries nothing of Sable's.
 *
 * Every operation holds the root's network lock (var/run/sable/net.lock)
 * for its few milliseconds, so a port never lands on a switch that is being
 * removed. A plug is all or nothing: what it made is removed on error.
 */
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "basic/cleanup.h"
#include "basic/config.h"
#include "basic/fileio.h"
#include "basic/lock.h"
#include "basic/parse.h"
#include "basic/path.h"
#include "basic/root.h"
#include "basic/strv.h"
#include "net/net-internal.h"
#include "net/net-link.h"
#include "net/net.h"

#define NET_LOCK_TIMEOUT_MS 30000

/* One operation's state: the lock, the prefix and the host's socket. */
struct op {
	int lock;
	char *prefix;
	struct nl_sock *host;
};

static void
op_done(struct op *o)
{
	o->lock = safe_close(o->lock);
	free(o->prefix);
	o->prefix = NULL;
	net_nl_closep(&o->host);
	o->host = NULL;
}

/* create: make the prefix if the root has none (plug); else a root without one has nothing. */
static int
op_begin(struct op *o, bool create, struct hv_error **reterr)
{
	_cleanup_free_ char *dir = NULL, *lock = NULL;
	int r;

	*o = (struct op){.lock = -EBADF};
	r = hv_node_prefix(create, &o->prefix, reterr);
	if (r < 0)
		return r;
	if ((r = hv_root_path(HV_RUN_DIR, &dir)) < 0 || (r = path_join(dir, "net.lock", &lock)) < 0)
		return r;
	r = mkdir_p(dir, 0755);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot create '%s': %m", dir);
	r = lock_file(lock, LOCK_EX, NET_LOCK_TIMEOUT_MS, &o->lock);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot lock '%s': %m", lock);
	r = net_nl_open(-1, &o->host);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot open a netlink socket: %m");
	return 0;
}

/* This host's links, for the sweeps below; free them with net_link_infos_free. */
static int
host_links(struct op *o, struct net_link_info **ret, size_t *ret_n, struct hv_error **reterr)
{
	int r = net_links_list(o->host, ret, ret_n);

	if (r < 0)
		return hv_error_set(reterr, r, "cannot list this host's links: %m");
	return 0;
}

/* An alias split into its words: "sable", prefix, kind, who, mac, tag. */
struct alias {
	char *words[7];
	size_t n;
	char *buf;
};

static void
alias_done(struct alias *a)
{
	free(a->buf);
	*a = (struct alias){0};
}

/* Whether text is an alias of this prefix; a's words then point into a->buf. */
static bool
alias_parse(const char *text, const char *prefix, struct alias *a)
{
	char *save = NULL, *w;

	*a = (struct alias){0};
	if (!text || !startswith(text, "sable ") || !(a->buf = strdup(text)))
		return false;
	for (w = strtok_r(a->buf, " ", &save); w && a->n < ELEMENTSOF(a->words);
	     w = strtok_r(NULL, " ", &save))
		a->words[a->n++] = w;
	if (a->n < 5 || !streq(a->words[1], prefix)) {
		alias_done(a);
		return false;
	}
	return true;
}

#define KIND_WORD_SWITCH "switch"
#define KIND_WORD_PORT   "port"
#define KIND_WORD_TAP    "tap"

static bool
owner_is_valid(const char *owner)
{
	if (isempty(owner) || strlen(owner) > 64)
		return false;
	for (const char *p = owner; *p; p++)
		if (!isgraph((unsigned char)*p))
			return false;
	return true;
}

static int
check_owner(const char *owner, struct hv_error **reterr)
{
	if (!owner_is_valid(owner))
		return hv_error_set(reterr, -EINVAL, "owner '%s': expected a VM's UUID",
		                    strempty(owner));
	return 0;
}

/* Every link of a switch: does any carry a port of this prefix? */
static bool
switch_has_ports(const struct net_link_info *l, size_t n, int bridge, const char *prefix)
{
	for (size_t i = 0; i < n; i++) {
		struct alias a;
		bool port;

		if (l[i].master != bridge || !alias_parse(l[i].alias, prefix, &a))
			continue;
		port = !streq(a.words[2], KIND_WORD_SWITCH);
		alias_done(&a);
		if (port)
			return true;
	}
	return false;
}

/* The switch's uplink: the one link on it that is not Sable's; 0 when none. */
static int
switch_uplink(const struct net_link_info *l, size_t n, int bridge)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].master == bridge && !(l[i].alias && startswith(l[i].alias, "sable ")))
			return l[i].ifindex;
	return 0;
}

static int
switch_remove(struct op *o, const struct net_link_info *l, size_t n, const char *tag, int bridge,
              struct hv_error **reterr)
{
	int r;

	r = net_switch_detach(o->prefix, tag, switch_uplink(l, n, bridge), reterr);
	if (r < 0)
		return r;
	r = net_link_delete(o->host, bridge);
	if (r < 0 && r != -ENODEV)
		return hv_error_set(reterr, r, "nic tag \"%s\": cannot remove its switch: %m", tag);
	return 0;
}

/* The tag's switch, if it is there and has no port left. */
static int
switch_drop_if_unused(struct op *o, const char *tag, struct hv_error **reterr)
{
	char name[NET_NAME_MAX];
	struct net_link_info *l = NULL;
	size_t n = 0;
	int bridge, r;

	r = net_link_name(o->prefix, NET_KIND_SWITCH, tag, NULL, name);
	if (r < 0)
		return r;
	bridge = net_link_ifindex(o->host, name);
	if (bridge == -ENODEV)
		return 0;
	if (bridge < 0)
		return hv_error_set(reterr, bridge, "nic tag \"%s\": cannot find its switch: %m",
		                    tag);
	r = host_links(o, &l, &n, reterr);
	if (r < 0)
		return r;
	if (!switch_has_ports(l, n, bridge, o->prefix))
		r = switch_remove(o, l, n, tag, bridge, reterr);
	net_link_infos_free(l, n);
	return r;
}

int
net_switch_remove_unused(const char *tag, struct hv_error **reterr)
{
	struct op o;
	int r;

	r = op_begin(&o, false, reterr);
	if (r >= 0)
		r = switch_drop_if_unused(&o, tag, reterr);
	op_done(&o);
	return r == -ENOENT ? 0 : r;
}

/* The tag's switch, made (with its uplink and data path) on first use. */
static int
switch_ensure(struct op *o, const char *tag, int *ret_bridge, unsigned *ret_mtu,
              struct hv_error **reterr)
{
	_cleanup_(hv_net_tag_done) struct hv_net_tag t = {0};
	_cleanup_free_ char *alias = NULL;
	struct net_link_change c = NET_LINK_CHANGE_INIT;
	struct net_link_info info, up;
	char name[NET_NAME_MAX];
	int bridge, uplink = 0, r;

	r = net_link_name(o->prefix, NET_KIND_SWITCH, tag, NULL, name);
	if (r < 0)
		return r;
	if (asprintf(&alias, "sable %s %s %s -", o->prefix, KIND_WORD_SWITCH, tag) < 0)
		return -ENOMEM;
	r = net_link_get(o->host, name, &info);
	if (r >= 0) {
		bool ours = streq_ptr(info.alias, alias);

		*ret_bridge = info.ifindex;
		*ret_mtu = info.mtu;
		net_link_info_done(&info);
		if (!ours)
			return hv_error_set(
			        reterr, -EEXIST,
			        "nic tag \"%s\": a link called %s exists and is not its "
			        "switch",
			        tag, name);
		return 0;
	}
	if (r != -ENODEV)
		return hv_error_set(reterr, r, "nic tag \"%s\": cannot look for its switch: %m",
		                    tag);

	r = hv_net_tag_get(tag, &t, reterr);
	if (r < 0)
		return r;
	if (t.link) {
		r = net_link_get(o->host, t.link, &up);
		if (r < 0)
			return hv_error_set(reterr, r == -ENODEV ? r : r,
			                    "nic tag \"%s\": its NIC %s (%s) is gone: %m", tag,
			                    t.link, t.mac);
		uplink = up.ifindex;
		if (up.master > 0) {
			net_link_info_done(&up);
			return hv_error_set(
			        reterr, -EBUSY,
			        "nic tag \"%s\": its NIC %s is already enslaved to another "
			        "link (one switch per NIC)",
			        tag, t.link);
		}
		if (t.mtu > up.mtu) {
			struct net_link_change m = NET_LINK_CHANGE_INIT;

			m.mtu = t.mtu;
			r = net_link_change(o->host, uplink, &m);
			if (r < 0) {
				net_link_info_done(&up);
				return hv_error_set(
				        reterr, r,
				        "nic tag \"%s\": cannot set the MTU of %s to %u: %m", tag,
				        t.link, t.mtu);
			}
		}
		net_link_info_done(&up);
	}

	c.mtu = t.mtu;
	r = net_bridge_create(o->host, name, &c, &bridge);
	if (r < 0)
		return hv_error_set(reterr, r, "nic tag \"%s\": cannot create its switch %s: %m",
		                    tag, name);
	c = (struct net_link_change)NET_LINK_CHANGE_INIT;
	c.alias = alias;
	c.no_ipv6_ll = true;
	c.up = 1;
	r = net_link_change(o->host, bridge, &c);
	if (r < 0) {
		hv_error_set(reterr, r, "nic tag \"%s\": cannot set up its switch %s: %m", tag,
		             name);
		goto fail;
	}
	if (uplink > 0) {
		c = (struct net_link_change)NET_LINK_CHANGE_INIT;
		c.master = bridge;
		c.up = 1;
		r = net_link_change(o->host, uplink, &c);
		if (r < 0) {
			hv_error_set(reterr, r,
			             "nic tag \"%s\": cannot put its NIC %s on switch %s: %m", tag,
			             t.link, name);
			goto fail;
		}
	}
	r = net_switch_attach(o->prefix, tag, bridge, uplink, reterr);
	if (r < 0) {
		hv_error_prefix(reterr, r, "nic tag \"%s\"", tag);
		goto fail;
	}
	*ret_bridge = bridge;
	*ret_mtu = t.mtu ? t.mtu : 1500;
	return 0;
fail:
	(void)net_link_delete(o->host, bridge);
	return r;
}

/* Undo a port: the data path's part, its ifb, the link (a veth takes its peer along). */
static void
port_remove(struct op *o, const char *tag, const char *name, int ifindex, const char *mac)
{
	char ifb[NET_NAME_MAX];

	if (tag)
		(void)net_port_detach(o->prefix, tag, ifindex, mac, NULL);
	if (net_ifb_name(o->prefix, name, ifb) >= 0)
		(void)net_link_delete_name(o->host, ifb);
	(void)net_link_delete(o->host, ifindex);
}

static bool
ip_is_static(const char *ip)
{
	return !streq(ip, "dhcp") && !streq(ip, "addrconf");
}

/* A NIC's values that a plug relies on, checked before anything is made. */
static int
check_nic(const struct hv_net_nic *nic, char mac[18], struct hv_error **reterr)
{
	const char *what = nic->mac ? nic->mac : strempty(nic->interface);

	if (!nic->mac || mac_normalize(nic->mac, mac) < 0)
		return hv_error_set(reterr, -EINVAL, "NIC %s: MAC '%s': expected aa:bb:cc:dd:ee:ff",
		                    what, strempty(nic->mac));
	if (isempty(nic->tag))
		return hv_error_set(reterr, -EINVAL, "NIC %s: no nic tag", what);
	if (isempty(nic->interface) || strlen(nic->interface) >= IFNAMSIZ)
		return hv_error_set(reterr, -EINVAL,
		                    "NIC %s: interface '%s': expected 1 to 15 characters", what,
		                    strempty(nic->interface));
	if (nic->vlan_id > 4095)
		return hv_error_set(reterr, -EINVAL, "NIC %s: vlan_id %u: expected 0 to 4095", what,
		                    nic->vlan_id);
	STRV_FOREACH (ip, nic->ips)
		if (ip_is_static(*ip) && net_addr_family(*ip, true) < 0)
			return hv_error_set(reterr, -EINVAL,
			                    "NIC %s: ip '%s': expected an address with a prefix "
			                    "length, dhcp or addrconf",
			                    what, *ip);
	STRV_FOREACH (gw, nic->gateways)
		if (net_addr_family(*gw, false) < 0)
			return hv_error_set(reterr, -EINVAL,
			                    "NIC %s: gateway '%s': expected an address", what, *gw);
	return 0;
}

/* The primary NIC's first gateway of each family as default routes. */
static int
gateways_apply(struct nl_sock *guest, const struct hv_net_nic *nic, int gidx, bool add,
               struct hv_error **reterr)
{
	bool done4 = false, done6 = false;
	int r;

	if (!nic->primary)
		return 0;
	STRV_FOREACH (gw, nic->gateways) {
		int family = net_addr_family(*gw, false);
		bool *done = family == AF_INET ? &done4 : &done6;

		if (*done)
			continue;
		*done = true;
		r = add ? net_route_add(guest, NULL, *gw, gidx)
		        : net_route_del(guest, NULL, *gw, 0);
		if (r < 0 && (add || (r != -ESRCH && r != -ENODEV && r != -EIO)))
			return hv_error_set(reterr, r,
			                    "NIC %s: cannot %s the default route via %s: %m",
			                    nic->mac, add ? "add" : "remove", *gw);
	}
	return 0;
}

/*
 * One NIC of a zone: its port on the switch, its guest end in the zone set
 * up. On error nothing of it is left. ret_port: the port's host name.
 */
static int
port_plug(struct op *o, struct nl_sock *guest, const char *owner, const struct hv_net_nic *nic,
          int netns_fd, char ret_port[NET_NAME_MAX], struct hv_error **reterr)
{
	_cleanup_free_ char *alias = NULL;
	struct net_link_change host = NET_LINK_CHANGE_INIT, peer = NET_LINK_CHANGE_INIT;
	char mac[18], name[NET_NAME_MAX];
	unsigned mtu;
	int bridge, port = 0, gidx, r;

	if ((r = check_nic(nic, mac, reterr)) < 0)
		return r;
	if (nic->vlan_id > 0) {
		r = hv_net_vlan_supported(reterr);
		if (r < 0)
			return hv_error_prefix(reterr, r, "NIC %s: vlan_id %u cannot be carried",
			                       mac, nic->vlan_id);
		return hv_error_set(reterr, -EOPNOTSUPP,
		                    "NIC %s: vlan_id %u: VLANs on a switch port are not done yet",
		                    mac, nic->vlan_id);
	}
	r = switch_ensure(o, nic->tag, &bridge, &mtu, reterr);
	if (r < 0)
		return hv_error_prefix(reterr, r, "NIC %s", mac);
	if (nic->mtu)
		mtu = nic->mtu;
	if ((r = net_link_name(o->prefix, NET_KIND_PORT, owner, mac, name)) < 0)
		return r;
	if (asprintf(&alias, "sable %s %s %s %s %s", o->prefix, KIND_WORD_PORT, owner, mac,
	             nic->tag) < 0)
		return -ENOMEM;

	host.master = bridge;
	host.mtu = mtu;
	peer.mac = mac;
	peer.mtu = mtu;
	r = net_veth_create(o->host, name, &host, nic->interface, netns_fd, &peer, &port);
	if (r == -EEXIST) {
		if (net_link_ifindex(o->host, name) > 0)
			return hv_error_set(reterr, r, "NIC %s: VM %s has it plugged already (%s)",
			                    mac, owner, name);
		return hv_error_set(reterr, r, "NIC %s: the zone has an interface %s already", mac,
		                    nic->interface);
	}
	if (r < 0)
		return hv_error_set(reterr, r, "NIC %s: cannot create its link %s: %m", mac, name);

	/* Whose it is, first: from here a crash leaves a link that reconcile knows. */
	host = (struct net_link_change)NET_LINK_CHANGE_INIT;
	host.alias = alias;
	host.no_ipv6_ll = true;
	r = net_link_change(o->host, port, &host);
	if (r < 0) {
		hv_error_set(reterr, r, "NIC %s: cannot name the owner of %s: %m", mac, name);
		goto fail_link;
	}
	r = net_fdb_add(o->host, port, mac);
	if (r < 0) {
		hv_error_set(reterr, r,
		             "NIC %s: cannot enter it in the switch of nic tag \"%s\": %m", mac,
		             nic->tag);
		goto fail_link;
	}
	r = net_port_attach(o->prefix, nic->tag, port, true, nic, reterr);
	if (r < 0) {
		hv_error_prefix(reterr, r, "NIC %s", mac);
		goto fail_link;
	}
	host.alias = NULL;
	host.no_ipv6_ll = false;
	host.up = 1;
	r = net_link_change(o->host, port, &host);
	if (r < 0) {
		hv_error_set(reterr, r, "NIC %s: cannot set %s up: %m", mac, name);
		goto fail;
	}

	gidx = net_link_ifindex(guest, nic->interface);
	if (gidx < 0) {
		r = hv_error_set(reterr, gidx, "NIC %s: cannot find %s in the zone: %m", mac,
		                 nic->interface);
		goto fail;
	}
	STRV_FOREACH (ip, nic->ips) {
		if (!ip_is_static(*ip))
			continue;
		r = net_addr_add(guest, gidx, *ip);
		if (r < 0) {
			hv_error_set(reterr, r, "NIC %s: cannot add address %s: %m", mac, *ip);
			goto fail;
		}
	}
	peer = (struct net_link_change)NET_LINK_CHANGE_INIT;
	peer.up = 1;
	r = net_link_change(guest, gidx, &peer);
	if (r < 0) {
		hv_error_set(reterr, r, "NIC %s: cannot set %s up in the zone: %m", mac,
		             nic->interface);
		goto fail;
	}
	r = gateways_apply(guest, nic, gidx, true, reterr);
	if (r < 0)
		goto fail;
	memcpy(ret_port, name, NET_NAME_MAX);
	return 0;
fail:
	port_remove(o, nic->tag, name, port, mac);
	return r;
fail_link:
	port_remove(o, NULL, name, port, mac);
	return r;
}

static int
lo_up(struct nl_sock *guest, struct hv_error **reterr)
{
	struct net_link_change c = NET_LINK_CHANGE_INIT;
	int lo = net_link_ifindex(guest, "lo"), r;

	if (lo < 0)
		return hv_error_set(reterr, lo, "the zone has no loopback link: %m");
	c.up = 1;
	r = net_link_change(guest, lo, &c);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot set lo up in the zone: %m");
	return 0;
}

static int
routes_apply(struct nl_sock *guest, const struct hv_net_vm *vm, struct hv_error **reterr)
{
	for (size_t i = 0; i < vm->n_routes; i++) {
		const struct hv_net_route *rt = &vm->routes[i];
		int oif = 0, r;

		if (rt->interface) {
			oif = net_link_ifindex(guest, rt->interface);
			if (oif < 0)
				return hv_error_set(reterr, oif,
				                    "route to %s: the zone has no interface %s",
				                    strempty(rt->dest), rt->interface);
		}
		r = net_route_add(guest, rt->dest, rt->gateway, oif);
		if (r < 0)
			return hv_error_set(reterr, r, "route to %s %s %s: %m", strempty(rt->dest),
			                    rt->gateway ? "via" : "on",
			                    rt->gateway ? rt->gateway : rt->interface);
	}
	return 0;
}

/* Switches of tags that a failed plug may have made for nothing. */
static void
drop_unused_switches(struct op *o, const struct hv_net_nic *nics, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (nics[i].tag)
			(void)switch_drop_if_unused(o, nics[i].tag, NULL);
}

int
hv_net_vm_plug(const struct hv_net_vm *vm, int netns_fd, struct hv_error **reterr)
{
	_cleanup_(op_done) struct op o = {.lock = -EBADF};
	_cleanup_nl_ struct nl_sock *guest = NULL;
	_cleanup_free_ char(*ports)[NET_NAME_MAX] = NULL;
	size_t made = 0;
	int r;

	if ((r = check_owner(vm->owner, reterr)) < 0)
		return r;
	if ((r = op_begin(&o, true, reterr)) < 0)
		return r;
	r = net_nl_open(netns_fd, &guest);
	if (r < 0)
		return hv_error_set(reterr, r, "VM %s: cannot enter its network namespace: %m",
		                    vm->owner);
	ports = calloc(vm->n_nics + 1, sizeof(*ports));
	if (!ports)
		return -ENOMEM;
	r = lo_up(guest, reterr);
	for (size_t i = 0; r >= 0 && i < vm->n_nics; i++) {
		r = port_plug(&o, guest, vm->owner, &vm->nics[i], netns_fd, ports[made], reterr);
		if (r >= 0)
			made++;
	}
	if (r >= 0)
		r = routes_apply(guest, vm, reterr);
	if (r >= 0)
		return 0;

	for (size_t i = 0; i < made; i++) {
		char mac[18];
		int idx = net_link_ifindex(o.host, ports[i]);

		(void)mac_normalize(vm->nics[i].mac, mac);
		if (idx > 0)
			port_remove(&o, vm->nics[i].tag, ports[i], idx, mac);
	}
	drop_unused_switches(&o, vm->nics, vm->n_nics);
	return hv_error_prefix(reterr, r, "VM %s", vm->owner);
}

int
hv_net_nic_plug(const char *owner, const struct hv_net_nic *nic, int netns_fd,
                struct hv_error **reterr)
{
	_cleanup_(op_done) struct op o = {.lock = -EBADF};
	_cleanup_nl_ struct nl_sock *guest = NULL;
	char port[NET_NAME_MAX];
	int r;

	if ((r = check_owner(owner, reterr)) < 0)
		return r;
	if ((r = op_begin(&o, true, reterr)) < 0)
		return r;
	r = net_nl_open(netns_fd, &guest);
	if (r < 0)
		return hv_error_set(reterr, r, "VM %s: cannot enter its network namespace: %m",
		                    owner);
	r = port_plug(&o, guest, owner, nic, netns_fd, port, reterr);
	if (r < 0) {
		drop_unused_switches(&o, nic, 1);
		return hv_error_prefix(reterr, r, "VM %s", owner);
	}
	return 0;
}

int
hv_net_nic_update(const char *owner, const struct hv_net_nic *old, const struct hv_net_nic *nic,
                  int netns_fd, struct hv_error **reterr)
{
	_cleanup_(op_done) struct op o = {.lock = -EBADF};
	_cleanup_nl_ struct nl_sock *guest = NULL;
	char mac[18], name[NET_NAME_MAX];
	int port, gidx, r;

	if ((r = check_owner(owner, reterr)) < 0 || (r = check_nic(nic, mac, reterr)) < 0)
		return r;
	if ((r = op_begin(&o, false, reterr)) < 0)
		return r;
	if ((r = net_link_name(o.prefix, NET_KIND_PORT, owner, mac, name)) < 0)
		return r;
	port = net_link_ifindex(o.host, name);
	if (port < 0)
		return hv_error_set(reterr, port, "VM %s: NIC %s is not plugged (no link %s)",
		                    owner, mac, name);
	r = net_nl_open(netns_fd, &guest);
	if (r < 0)
		return hv_error_set(reterr, r, "VM %s: cannot enter its network namespace: %m",
		                    owner);
	gidx = net_link_ifindex(guest, nic->interface);
	if (gidx < 0)
		return hv_error_set(reterr, gidx, "VM %s: NIC %s: the zone has no interface %s",
		                    owner, mac, nic->interface);

	/* Protection first, so the new addresses are allowed before they are used. */
	r = net_port_update(o.prefix, nic->tag, port, true, nic, reterr);
	if (r < 0)
		return hv_error_prefix(reterr, r, "VM %s: NIC %s", owner, mac);
	r = gateways_apply(guest, old, gidx, false, reterr);
	if (r < 0)
		return hv_error_prefix(reterr, r, "VM %s", owner);
	STRV_FOREACH (ip, old->ips)
		if (ip_is_static(*ip) && !strv_contains(nic->ips, *ip) &&
		    (r = net_addr_del(guest, gidx, *ip)) < 0 && r != -EADDRNOTAVAIL && r != -ENODEV)
			return hv_error_set(reterr, r,
			                    "VM %s: NIC %s: cannot remove address %s: %m", owner,
			                    mac, *ip);
	STRV_FOREACH (ip, nic->ips)
		if (ip_is_static(*ip) && !strv_contains(old->ips, *ip) &&
		    (r = net_addr_add(guest, gidx, *ip)) < 0 && r != -EEXIST)
			return hv_error_set(reterr, r, "VM %s: NIC %s: cannot add address %s: %m",
			                    owner, mac, *ip);
	r = gateways_apply(guest, nic, gidx, true, reterr);
	if (r == -EEXIST)
		r = 0;
	return r < 0 ? hv_error_prefix(reterr, r, "VM %s", owner) : 0;
}

/*
 * Remove the switches that have no port left and, when tags is not NULL,
 * those whose tag is gone (with their ports: they would carry nothing).
 */
static int
switches_sweep(struct op *o, char **tags, struct hv_error **reterr)
{
	struct net_link_info *l = NULL;
	size_t n = 0;
	int r;

	r = host_links(o, &l, &n, reterr);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++) {
		const char *rest = startswith(l[i].name, o->prefix);
		struct alias a;

		if (!rest || strlen(rest) != 7 || *rest != NET_KIND_SWITCH)
			continue;
		if (!alias_parse(l[i].alias, o->prefix, &a)) {
			(void)net_link_delete(o->host, l[i].ifindex);
			continue;
		}
		if (tags && !strv_contains(tags, a.words[3])) {
			for (size_t k = 0; k < n; k++) {
				struct alias pa;

				if (l[k].master != l[i].ifindex ||
				    !alias_parse(l[k].alias, o->prefix, &pa))
					continue;
				if (!streq(pa.words[2], KIND_WORD_SWITCH))
					port_remove(o, a.words[3], l[k].name, l[k].ifindex,
					            pa.words[4]);
				alias_done(&pa);
			}
			r = switch_remove(o, l, n, a.words[3], l[i].ifindex, reterr);
		} else if (!switch_has_ports(l, n, l[i].ifindex, o->prefix))
			r = switch_remove(o, l, n, a.words[3], l[i].ifindex, reterr);
		alias_done(&a);
	}
	net_link_infos_free(l, n);
	return r;
}

/*
 * Remove every port of owner (all of them: mac NULL) and the switches they
 * leave empty.
 */
static int
unplug(struct op *o, const char *owner, const char *mac, struct hv_error **reterr)
{
	_cleanup_strv_free_ char **tags = NULL;
	struct net_link_info *l = NULL;
	size_t n = 0;
	int r;

	r = host_links(o, &l, &n, reterr);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct alias a;

		if (!startswith(l[i].name, o->prefix) || !alias_parse(l[i].alias, o->prefix, &a))
			continue;
		if ((streq(a.words[2], KIND_WORD_PORT) || streq(a.words[2], KIND_WORD_TAP)) &&
		    streq(a.words[3], owner) && (!mac || streq(a.words[4], mac))) {
			const char *tag = a.n > 5 ? a.words[5] : NULL;

			port_remove(o, tag, l[i].name, l[i].ifindex, a.words[4]);
			if (tag && !strv_contains(tags, tag) && strv_push(&tags, tag) < 0)
				r = -ENOMEM;
		}
		alias_done(&a);
	}
	net_link_infos_free(l, n);
	STRV_FOREACH (t, tags) {
		int k = switch_drop_if_unused(o, *t, reterr);
		if (k < 0 && r >= 0)
			r = k;
	}
	return r;
}

int
hv_net_vm_unplug(const char *owner, struct hv_error **reterr)
{
	_cleanup_(op_done) struct op o = {.lock = -EBADF};
	int r;

	if ((r = check_owner(owner, reterr)) < 0)
		return r;
	r = op_begin(&o, false, reterr);
	if (r == -ENOENT)
		return 0; /* no prefix: this root never made a link */
	if (r < 0)
		return r;
	r = unplug(&o, owner, NULL, reterr);
	/*
	 * A zone that went down took its veths along: what stays on the host
	 * (its ifbs, its entries in the data path, a switch it left empty) is
	 * found by what is gone.
	 */
	if (r >= 0)
		r = switches_sweep(&o, NULL, reterr);
	if (r >= 0)
		r = net_datapath_reconcile(o.prefix, reterr);
	return r < 0 ? hv_error_prefix(reterr, r, "VM %s", owner) : 0;
}

int
hv_net_nic_unplug(const char *owner, const char *mac, struct hv_error **reterr)
{
	_cleanup_(op_done) struct op o = {.lock = -EBADF};
	char m[18];
	int r;

	if ((r = check_owner(owner, reterr)) < 0)
		return r;
	if (mac_normalize(mac, m) < 0)
		return hv_error_set(reterr, -EINVAL, "MAC '%s': expected aa:bb:cc:dd:ee:ff",
		                    strempty(mac));
	r = op_begin(&o, false, reterr);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = unplug(&o, owner, m, reterr);
	return r < 0 ? hv_error_prefix(reterr, r, "VM %s: NIC %s", owner, m) : 0;
}

int
hv_net_tap_plug(const char *owner, const struct hv_net_nic *nic, char **ret_name,
                struct hv_error **reterr)
{
	_cleanup_(op_done) struct op o = {.lock = -EBADF};
	_cleanup_free_ char *alias = NULL;
	struct net_link_change c = NET_LINK_CHANGE_INIT;
	char mac[18], name[NET_NAME_MAX];
	unsigned mtu;
	int bridge, tap, r;

	if ((r = check_owner(owner, reterr)) < 0 || (r = check_nic(nic, mac, reterr)) < 0)
		return r;
	if (nic->vlan_id > 0 && (r = hv_net_vlan_supported(reterr)) >= 0)
		r = hv_error_set(reterr, -EOPNOTSUPP, "VLANs on a switch port are not done yet");
	if (r < 0)
		return hv_error_prefix(reterr, r, "VM %s: NIC %s: vlan_id %u", owner, mac,
		                       nic->vlan_id);
	if ((r = op_begin(&o, true, reterr)) < 0)
		return r;
	r = switch_ensure(&o, nic->tag, &bridge, &mtu, reterr);
	if (r < 0)
		return hv_error_prefix(reterr, r, "VM %s: NIC %s", owner, mac);
	if (nic->mtu)
		mtu = nic->mtu;
	if ((r = net_link_name(o.prefix, NET_KIND_TAP, owner, mac, name)) < 0)
		return r;
	if (asprintf(&alias, "sable %s %s %s %s %s", o.prefix, KIND_WORD_TAP, owner, mac,
	             nic->tag) < 0)
		return -ENOMEM;
	r = net_tap_create(name);
	if (r < 0) {
		hv_error_set(reterr, r, "VM %s: NIC %s: cannot create tap %s: %m", owner, mac,
		             name);
		goto fail_switch;
	}
	tap = net_link_ifindex(o.host, name);
	if (tap < 0) {
		r = hv_error_set(reterr, tap, "VM %s: NIC %s: tap %s vanished: %m", owner, mac,
		                 name);
		goto fail_switch;
	}
	c.alias = alias;
	c.master = bridge;
	c.mtu = mtu;
	c.no_ipv6_ll = true;
	r = net_link_change(o.host, tap, &c);
	if (r >= 0)
		r = net_fdb_add(o.host, tap, mac);
	if (r < 0) {
		hv_error_set(reterr, r, "VM %s: NIC %s: cannot put tap %s on switch: %m", owner,
		             mac, name);
		goto fail_link;
	}
	r = net_port_attach(o.prefix, nic->tag, tap, false, nic, reterr);
	if (r < 0) {
		hv_error_prefix(reterr, r, "VM %s: NIC %s", owner, mac);
		goto fail_link;
	}
	c = (struct net_link_change)NET_LINK_CHANGE_INIT;
	c.up = 1;
	r = net_link_change(o.host, tap, &c);
	if (r < 0) {
		hv_error_set(reterr, r, "VM %s: NIC %s: cannot set tap %s up: %m", owner, mac,
		             name);
		port_remove(&o, nic->tag, name, tap, mac);
		goto fail_switch;
	}
	*ret_name = strdup(name);
	if (!*ret_name) {
		port_remove(&o, nic->tag, name, tap, mac);
		r = -ENOMEM;
		goto fail_switch;
	}
	return 0;
fail_link:
	port_remove(&o, NULL, name, tap, mac);
fail_switch:
	(void)switch_drop_if_unused(&o, nic->tag, NULL);
	return r;
}

int
hv_net_reconcile(char *const *owners, struct hv_error **reterr)
{
	_cleanup_(op_done) struct op o = {.lock = -EBADF};
	_cleanup_strv_free_ char **tags = NULL;
	struct hv_net_tag *t = NULL;
	struct net_link_info *l = NULL;
	size_t n = 0, nt = 0;
	int r;

	r = op_begin(&o, false, reterr);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = hv_net_tags_list(&t, &nt, reterr);
	if (r < 0)
		return hv_error_prefix(reterr, r, "reconcile");
	for (size_t i = 0; i < nt && r >= 0; i++)
		r = strv_push(&tags, t[i].name);
	hv_net_tags_free(t, nt);
	if (r < 0)
		return r;

	/* Ports first: whose owner is gone, or whose owner was never written down. */
	r = host_links(&o, &l, &n, reterr);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const char *name = l[i].name, *rest = startswith(name, o.prefix);
		struct alias a;
		bool ours;

		if (!rest || (*rest != NET_KIND_PORT && *rest != NET_KIND_TAP) || strlen(rest) != 7)
			continue;
		ours = alias_parse(l[i].alias, o.prefix, &a);
		if (!ours)
			port_remove(&o, NULL, name, l[i].ifindex, NULL);
		else if (!strv_contains(owners, a.words[3]))
			port_remove(&o, a.n > 5 ? a.words[5] : NULL, name, l[i].ifindex,
			            a.words[4]);
		alias_done(&a);
	}
	net_link_infos_free(l, n);

	/* Then switches without a tag or without ports. */
	r = switches_sweep(&o, tags, reterr);
	/* Last, the data path's leftovers (ifbs, map entries) of links that are gone. */
	if (r >= 0)
		r = net_datapath_reconcile(o.prefix, reterr);
	return r < 0 ? hv_error_prefix(reterr, r, "reconcile") : 0;
}
