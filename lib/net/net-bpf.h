/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What the port program (bpf/port.bpf.c) and net-datapath.c share: the
 * layout of the pinned maps' keys and values. Included by both the BPF C
 * (clang -target bpf) and the library, so only <linux/types.h> types.
 * Changing a layout changes the maps: a root with maps of the old layout
 * must be reconciled (its pins removed) before the new program loads.
 */

#include <linux/types.h>

#define NET_BPF_PORTS_MAX    65536
#define NET_BPF_FDB_MAX      65536
#define NET_BPF_IPS_MAX      65536
#define NET_BPF_SWITCHES_MAX 1024
#define NET_BPF_TAG_MAX      32 /* a nic tag's name with its NUL */

/* net_port_cfg.flags */
#define NET_PORT_UPLINK           0x0001u /* the switch's uplink: switch only, no protection */
#define NET_PORT_ALLOW_IP         0x0002u /* allow_ip_spoofing */
#define NET_PORT_ALLOW_MAC        0x0004u /* allow_mac_spoofing */
#define NET_PORT_ALLOW_DHCP       0x0008u /* allow_dhcp_spoofing, dhcp_server */
#define NET_PORT_ALLOW_RESTRICTED 0x0010u /* allow_restricted_traffic */
#define NET_PORT_DHCP             0x0020u /* "dhcp" in ips: 0.0.0.0 for the client, leases learned */
#define NET_PORT_ADDRCONF         0x0040u /* "addrconf" in ips: SLAAC addresses of the MAC's EUI-64 */

/* One port of a switch (key: its ifindex), or a switch's uplink. */
struct net_port_cfg {
	__u8 mac[6]; /* the NIC's MAC: the only source MAC it may send */
	__u16 flags;
	__u32 sw;    /* the switch: its bridge's ifindex */
	__u32 ifb;   /* the ifb that shapes what the guest sends; 0: none */
	__u8 iid[8]; /* the modified EUI-64 of mac (addrconf) */
};

/* The forwarding table: a MAC on a switch. */
struct net_fdb_key {
	__u32 sw;
	__u8 mac[6];
	__u16 pad; /* zero */
};

/* net_fdb_val.flags: deliver with bpf_redirect_peer (an unshaped veth). */
#define NET_FDB_PEER 0x1u

struct net_fdb_val {
	__u32 ifindex;
	__u32 flags;
};

/*
 * The addresses a port may send from: LPM tries keyed by port and prefix.
 * prefixlen counts the ifindex's 32 bits too (32 + the address's length).
 */
struct net_ip4_key {
	__u32 prefixlen;
	__u32 ifindex;
	__u8 addr[4];
};

struct net_ip6_key {
	__u32 prefixlen;
	__u32 ifindex;
	__u8 addr[16];
};

/* Values of the address tries: where the entry came from. */
#define NET_IP_CONFIG  1 /* ips or allowed_ips */
#define NET_IP_LEARNED 2 /* a DHCP lease seen going to the port */

/* The switches (key: the tag's name, NUL-padded): the bridge's ifindex. */
struct net_switch_key {
	char tag[NET_BPF_TAG_MAX];
};
