/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Inside lib/net: links, addresses and routes through libnl-route-3. One
 * netlink socket serves a whole operation; a socket opened for a network
 * namespace stays in it (it is made there by a short-lived thread). Errors
 * are -errno; messages are left to the callers, which know what the link
 * is for.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/cleanup.h"
#include "basic/error.h"

struct nl_sock;

/*
 * A route socket in the current network namespace (netns_fd < 0), in
 * netns_fd's, or in a new empty one (NET_NETNS_NEW) that lives as long as
 * the socket.
 */
#define NET_NETNS_NEW (-1000)
int net_nl_open(int netns_fd, struct nl_sock **ret);
void net_nl_closep(struct nl_sock **s);
#define _cleanup_nl_ _cleanup_(net_nl_closep)

/* libnl's -NLE_* as -errno. */
int net_nl_errno(int nle);

/* One link as a dump shows it. */
struct net_link_info {
	char name[16];
	int ifindex;
	int master; /* 0: none */
	char mac[18];
	char *alias; /* NULL: none */
	char *kind;  /* "bridge", "veth", …; NULL: a physical link */
	unsigned mtu;
};
void net_link_infos_free(struct net_link_info *l, size_t n);
int net_links_list(struct nl_sock *s, struct net_link_info **ret, size_t *ret_n);

/* One link by name; -ENODEV when there is none. */
int net_link_get(struct nl_sock *s, const char *name, struct net_link_info *ret);
void net_link_info_done(struct net_link_info *i);

/* The ifindex of a link by name: > 0, or -ENODEV. */
int net_link_ifindex(struct nl_sock *s, const char *name);

/* What to make or change on a link; unset members are left alone. */
struct net_link_change {
	const char *name;  /* rename */
	const char *mac;   /* "aa:bb:…" */
	const char *alias; /* IFLA_IFALIAS */
	unsigned mtu;      /* 0: unchanged */
	int master;        /* > 0: enslave; < 0: release; 0: unchanged */
	int netns_fd;      /* >= 0: move there; < 0 unchanged (initialize to -1) */
	int up;            /* 1 up, 0 unchanged, -1 down */
	bool no_ipv6_ll;   /* no IPv6 link-local address (addr_gen_mode none) */
};
#define NET_LINK_CHANGE_INIT   \
	{                      \
		.netns_fd = -1 \
	}

int net_link_change(struct nl_sock *s, int ifindex, const struct net_link_change *c);
int net_link_delete(struct nl_sock *s, int ifindex);
int net_link_delete_name(struct nl_sock *s, const char *name);

/* A bridge (switch), down, with STP off; its ifindex. */
int net_bridge_create(struct nl_sock *s, const char *name, const struct net_link_change *c,
                      int *ret_ifindex);

/*
 * A veth pair: host end name with host (alias, master, mtu; down), its
 * peer peer_name made directly in peer_netns_fd with peer (mac, mtu).
 * Returns the host end's ifindex.
 */
int net_veth_create(struct nl_sock *s, const char *name, const struct net_link_change *host,
                    const char *peer_name, int peer_netns_fd, const struct net_link_change *peer,
                    int *ret_ifindex);

/* A persistent tap device (/dev/net/tun, no packet info header). */
int net_tap_create(const char *name);

/* An ifb device with its alias; its ifindex. */
int net_ifb_create(struct nl_sock *s, const char *name, const char *alias, int *ret_ifindex);

/* A static fdb entry for mac on the bridge port port_ifindex (bridge fdb add … master static). */
int net_fdb_add(struct nl_sock *s, int port_ifindex, const char *mac);

/* An address ("198.51.100.5/24", "2001:db8::5/64") on the link. */
int net_addr_add(struct nl_sock *s, int ifindex, const char *cidr);

int net_addr_del(struct nl_sock *s, int ifindex, const char *cidr);

/*
 * A route to dest (a CIDR or address; NULL: the default of gateway's
 * family) via gateway, or on the link oif when gateway is NULL.
 */
int net_route_add(struct nl_sock *s, const char *dest, const char *gateway, int oif);
int net_route_del(struct nl_sock *s, const char *dest, const char *gateway, int oif);

/* Whether s parses as an IPv4 or IPv6 address, with a prefix length when cidr. */
int net_addr_family(const char *s, bool cidr);

/* Switches (net-vm.c): remove the tag's switch when no port is left on it. */
int net_switch_remove_unused(const char *tag, struct hv_error **reterr);

/* net.json from a buffer (the fuzz target and the tests); source names it in errors. */
struct hv_net_vm;
int net_vm_load_buf(const char *buf, size_t size, const char *source, struct hv_net_vm *ret,
                    struct hv_error **reterr);
