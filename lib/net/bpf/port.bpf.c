/* SPDX-License-Identifier: MIT */
/*
 * The port program: tc (clsact) ingress of every host-side port and of each
 * switch's uplink. One pass per frame:
 *
 *   1. link protection, on frames from a guest (SmartOS's allow_* flags):
 *      the source MAC is the NIC's; only IPv4, IPv6 and ARP; IPv4/IPv6
 *      sources and ARP sender addresses in the port's address tries (or
 *      0.0.0.0 for a DHCP client, fe80::/10, :: for DAD, the MAC's EUI-64
 *      under addrconf); no router advertisements and no DHCP(v6) server
 *      replies;
 *   2. shaping: a port with a cap hands the frame to its ifb, whose tbf
 *      paces it and re-injects it into the port (the bridge then forwards
 *      it; tc is not run twice);
 *   3. switching: a unicast destination in the switch's forwarding table is
 *      delivered straight to its port (bpf_redirect_peer into a veth's
 *      guest end, bpf_redirect to a tap or a shaped port, whose egress
 *      qdisc must see it); everything else goes on to the Linux bridge.
 *
 * A second program on the port's egress learns DHCP leases: a DHCPACK for
 * the NIC's MAC adds its yiaddr to the port's IPv4 trie. DHCP server
 * replies are therefore never switched here, so that they pass that egress.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "net-bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NET_BPF_PORTS_MAX);
	__type(key, __u32);
	__type(value, struct net_port_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NET_BPF_FDB_MAX);
	__type(key, struct net_fdb_key);
	__type(value, struct net_fdb_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fdb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, NET_BPF_IPS_MAX);
	__type(key, struct net_ip4_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ip4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, NET_BPF_IPS_MAX);
	__type(key, struct net_ip6_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ip6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NET_BPF_SWITCHES_MAX);
	__type(key, struct net_switch_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} switches SEC(".maps");

#define ETH_HLEN_     14
#define IPPROTO_UDP_  17
#define IPPROTO_ICMP6 58
#define ICMPV6_RA     134
#define ICMPV6_NS     135
#define ICMPV6_MLD2   143
#define DHCP_SERVER   67
#define DHCP_CLIENT   68
#define DHCP6_SERVER  547
#define EXT_HDRS_MAX  4

/* What a frame's checks decided. */
enum verdict {
	V_DROP,
	V_PASS,  /* may be switched here */
	V_BRIDGE /* allowed, but must take the bridge (DHCP server replies) */
};

struct ip4_hdr {
	__u8 vihl;
	__u8 tos;
	__be16 len;
	__be16 id;
	__be16 frag;
	__u8 ttl;
	__u8 proto;
	__be16 csum;
	__u8 saddr[4];
	__u8 daddr[4];
};

struct ip6_hdr {
	__be32 vtcfl;
	__be16 plen;
	__u8 nexthdr;
	__u8 hlim;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct arp_hdr {
	__be16 htype;
	__be16 ptype;
	__u8 hlen;
	__u8 plen;
	__be16 op;
	__u8 sha[6];
	__u8 spa[4];
	__u8 tha[6];
	__u8 tpa[4];
} __attribute__((packed));

static __always_inline int
mac_eq(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] &&
	       a[5] == b[5];
}

static __always_inline int
ip4_allowed(__u32 ifindex, const __u8 *addr)
{
	struct net_ip4_key k = {.prefixlen = 64, .ifindex = ifindex};

	__builtin_memcpy(k.addr, addr, 4);
	return bpf_map_lookup_elem(&ip4, &k) != 0;
}

static __always_inline int
ip4_is_zero(const __u8 *a)
{
	return (a[0] | a[1] | a[2] | a[3]) == 0;
}

static __always_inline enum verdict
check_arp(struct __sk_buff *skb, const struct net_port_cfg *cfg)
{
	struct arp_hdr a;

	if (bpf_skb_load_bytes(skb, ETH_HLEN_, &a, sizeof(a)) < 0)
		return V_DROP;
	if (a.htype != bpf_htons(1) || a.ptype != bpf_htons(ETH_P_IP) || a.hlen != 6 || a.plen != 4)
		return cfg->flags & NET_PORT_ALLOW_RESTRICTED ? V_PASS : V_DROP;
	if (!(cfg->flags & NET_PORT_ALLOW_MAC) && !mac_eq(a.sha, cfg->mac))
		return V_DROP;
	/* 0.0.0.0 is an address probe (RFC 5227): it claims nothing. */
	if (!(cfg->flags & NET_PORT_ALLOW_IP) && !ip4_is_zero(a.spa) &&
	    !ip4_allowed(skb->ifindex, a.spa))
		return V_DROP;
	return V_PASS;
}

static __always_inline enum verdict
check_ip4(struct __sk_buff *skb, const struct net_port_cfg *cfg)
{
	struct ip4_hdr h;
	__be16 ports[2] = {0, 0};
	__u32 hl;
	int first, udp;

	if (bpf_skb_load_bytes(skb, ETH_HLEN_, &h, sizeof(h)) < 0)
		return V_DROP;
	hl = (h.vihl & 0xf) * 4;
	if ((h.vihl >> 4) != 4 || hl < sizeof(h))
		return V_DROP;
	first = (h.frag & bpf_htons(0x1fff)) == 0;
	udp = first && h.proto == IPPROTO_UDP_;
	if (udp && bpf_skb_load_bytes(skb, ETH_HLEN_ + hl, ports, sizeof(ports)) < 0)
		return V_DROP;

	if (!(cfg->flags & NET_PORT_ALLOW_IP) && !ip4_allowed(skb->ifindex, h.saddr)) {
		/* A DHCP client has no address yet: DISCOVER and REQUEST from 0.0.0.0. */
		if (!(cfg->flags & NET_PORT_DHCP) || !ip4_is_zero(h.saddr) || !udp ||
		    ports[0] != bpf_htons(DHCP_CLIENT) || ports[1] != bpf_htons(DHCP_SERVER))
			return V_DROP;
	}
	if (udp && ports[0] == bpf_htons(DHCP_SERVER))
		return cfg->flags & NET_PORT_ALLOW_DHCP ? V_BRIDGE : V_DROP;
	return V_PASS;
}

/* Whether a is an address the port may send IPv6 from. */
static __always_inline int
ip6_allowed(struct __sk_buff *skb, const struct net_port_cfg *cfg, const __u8 *a)
{
	struct net_ip6_key k = {.prefixlen = 32 + 128, .ifindex = skb->ifindex};

	/* Link-local (fe80::/10): every interface has one, the MAC's or random. */
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return 1;
	__builtin_memcpy(k.addr, a, 16);
	if (bpf_map_lookup_elem(&ip6, &k))
		return 1;
	/* addrconf: any prefix the routers announce, with the MAC's interface id. */
	if ((cfg->flags & NET_PORT_ADDRCONF) && a[8] == cfg->iid[0] && a[9] == cfg->iid[1] &&
	    a[10] == cfg->iid[2] && a[11] == cfg->iid[3] && a[12] == cfg->iid[4] &&
	    a[13] == cfg->iid[5] && a[14] == cfg->iid[6] && a[15] == cfg->iid[7])
		return 1;
	return 0;
}

static __always_inline int
ip6_is_zero(const __u8 *a)
{
	__u8 x = 0;

#pragma unroll
	for (int i = 0; i < 16; i++)
		x |= a[i];
	return x == 0;
}

static __always_inline enum verdict
check_ip6(struct __sk_buff *skb, const struct net_port_cfg *cfg)
{
	struct ip6_hdr h;
	__u32 off = ETH_HLEN_ + sizeof(h);
	__u8 nh, l4[2] = {0, 0};
	__be16 ports[2] = {0, 0};
	int last = 0, unspec;

	if (bpf_skb_load_bytes(skb, ETH_HLEN_, &h, sizeof(h)) < 0)
		return V_DROP;
	if ((bpf_ntohl(h.vtcfl) >> 28) != 6)
		return V_DROP;

	/* Find the upper layer behind at most EXT_HDRS_MAX extension headers. */
	nh = h.nexthdr;
#pragma unroll
	for (int i = 0; i < EXT_HDRS_MAX; i++) {
		__u8 e[2];
		__be16 frag;

		if (nh != 0 && nh != 43 && nh != 60 && nh != 44)
			break;
		if (bpf_skb_load_bytes(skb, off, e, sizeof(e)) < 0)
			return V_DROP;
		if (nh == 44) {
			if (bpf_skb_load_bytes(skb, off + 2, &frag, sizeof(frag)) < 0)
				return V_DROP;
			/* A later fragment: the first one carried the headers (RFC 7112). */
			if (frag & bpf_htons(0xfff8))
				last = 1;
			nh = e[0];
			off += 8;
			if (last)
				break;
			continue;
		}
		nh = e[0];
		off += ((__u32)e[1] + 1) * 8;
	}
	if (!last && (nh == 0 || nh == 43 || nh == 60 || nh == 44))
		/* Too deep to see what it carries: it may hide an RA or a DHCPv6 reply. */
		return cfg->flags & NET_PORT_ALLOW_DHCP ? V_PASS : V_DROP;
	if (!last && nh == IPPROTO_ICMP6 && bpf_skb_load_bytes(skb, off, l4, sizeof(l4)) < 0)
		return V_DROP;
	if (!last && nh == IPPROTO_UDP_ && bpf_skb_load_bytes(skb, off, ports, sizeof(ports)) < 0)
		return V_DROP;

	unspec = ip6_is_zero(h.saddr);
	if (!(cfg->flags & NET_PORT_ALLOW_IP) && !ip6_allowed(skb, cfg, h.saddr)) {
		/* :: only for duplicate address detection and its MLD reports. */
		if (!unspec || last || nh != IPPROTO_ICMP6 ||
		    (l4[0] != ICMPV6_NS && l4[0] != ICMPV6_MLD2))
			return V_DROP;
	}
	if (!last && nh == IPPROTO_ICMP6 && l4[0] == ICMPV6_RA)
		return cfg->flags & NET_PORT_ALLOW_DHCP ? V_PASS : V_DROP;
	if (!last && nh == IPPROTO_UDP_ && ports[0] == bpf_htons(DHCP6_SERVER))
		return cfg->flags & NET_PORT_ALLOW_DHCP ? V_PASS : V_DROP;
	return V_PASS;
}

/* Deliver a unicast frame to its port on the same switch, or leave it to the bridge. */
static __always_inline int
forward(const struct net_port_cfg *cfg, const __u8 *dst, __u32 ifindex)
{
	struct net_fdb_key k = {.sw = cfg->sw};
	struct net_fdb_val *v;

	if (dst[0] & 1)
		return TC_ACT_OK; /* broadcast, multicast: the bridge floods */
	__builtin_memcpy(k.mac, dst, 6);
	v = bpf_map_lookup_elem(&fdb, &k);
	if (!v || v->ifindex == ifindex)
		return TC_ACT_OK;
	if (v->flags & NET_FDB_PEER)
		return bpf_redirect_peer(v->ifindex, 0);
	return bpf_redirect(v->ifindex, 0);
}

SEC("tc")
int
sable_port_in(struct __sk_buff *skb)
{
	struct net_port_cfg *cfg;
	struct ethhdr eth;
	enum verdict v;
	__u32 ifindex = skb->ifindex;

	cfg = bpf_map_lookup_elem(&ports, &ifindex);
	if (!cfg)
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
		return TC_ACT_SHOT;

	if (cfg->flags & NET_PORT_UPLINK) {
		/* DHCP replies go by the bridge to pass the port's lease learning. */
		if (eth.h_proto == bpf_htons(ETH_P_IP)) {
			struct ip4_hdr h;
			__be16 ports2[2];

			if (bpf_skb_load_bytes(skb, ETH_HLEN_, &h, sizeof(h)) == 0 &&
			    h.proto == IPPROTO_UDP_ &&
			    bpf_skb_load_bytes(skb, ETH_HLEN_ + (h.vihl & 0xf) * 4, ports2,
			                       sizeof(ports2)) == 0 &&
			    ports2[0] == bpf_htons(DHCP_SERVER))
				return TC_ACT_OK;
		}
		return forward(cfg, eth.h_dest, ifindex);
	}

	if (!(cfg->flags & NET_PORT_ALLOW_MAC) && !mac_eq(eth.h_source, cfg->mac))
		return TC_ACT_SHOT;
	if (eth.h_proto == bpf_htons(ETH_P_IP))
		v = check_ip4(skb, cfg);
	else if (eth.h_proto == bpf_htons(ETH_P_IPV6))
		v = check_ip6(skb, cfg);
	else if (eth.h_proto == bpf_htons(ETH_P_ARP))
		v = check_arp(skb, cfg);
	else
		v = cfg->flags & NET_PORT_ALLOW_RESTRICTED ? V_BRIDGE : V_DROP;
	if (v == V_DROP)
		return TC_ACT_SHOT;
	if (cfg->ifb)
		return bpf_redirect(cfg->ifb, 0);
	if (v == V_BRIDGE)
		return TC_ACT_OK;
	return forward(cfg, eth.h_dest, ifindex);
}

/* BOOTP: op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr. */
struct bootp_hdr {
	__u8 op;
	__u8 htype;
	__u8 hlen;
	__u8 hops;
	__be32 xid;
	__be16 secs;
	__be16 flags;
	__u8 ciaddr[4];
	__u8 yiaddr[4];
	__u8 siaddr[4];
	__u8 giaddr[4];
	__u8 chaddr[16];
};

#define BOOTP_OPTIONS 236 /* the magic cookie, then the options */
#define DHCP_OPTS_MAX 24
#define DHCP_MSG_TYPE 53
#define DHCP_ACK      5
#define DHCP_OPT_PAD  0
#define DHCP_OPT_END  255

SEC("tc")
int
sable_port_out(struct __sk_buff *skb)
{
	struct net_port_cfg *cfg;
	struct ethhdr eth;
	struct ip4_hdr h;
	struct bootp_hdr b;
	__be16 ports2[2];
	__u32 ifindex = skb->ifindex, off;
	int ack = 0;

	cfg = bpf_map_lookup_elem(&ports, &ifindex);
	if (!cfg || !(cfg->flags & NET_PORT_DHCP))
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0 ||
	    eth.h_proto != bpf_htons(ETH_P_IP) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN_, &h, sizeof(h)) < 0 || h.proto != IPPROTO_UDP_ ||
	    (h.frag & bpf_htons(0x1fff)))
		return TC_ACT_OK;
	off = ETH_HLEN_ + (h.vihl & 0xf) * 4;
	if (bpf_skb_load_bytes(skb, off, ports2, sizeof(ports2)) < 0 ||
	    ports2[0] != bpf_htons(DHCP_SERVER) || ports2[1] != bpf_htons(DHCP_CLIENT))
		return TC_ACT_OK;
	off += 8;
	if (bpf_skb_load_bytes(skb, off, &b, sizeof(b)) < 0 || b.op != 2 ||
	    !mac_eq(b.chaddr, cfg->mac) || ip4_is_zero(b.yiaddr))
		return TC_ACT_OK;

	/* Options after the cookie: find the message type. */
	off += BOOTP_OPTIONS + 4;
#pragma unroll
	for (int i = 0; i < DHCP_OPTS_MAX; i++) {
		__u8 o[3];

		if (bpf_skb_load_bytes(skb, off, o, sizeof(o)) < 0)
			break;
		if (o[0] == DHCP_OPT_PAD) {
			off++;
			continue;
		}
		if (o[0] == DHCP_OPT_END)
			break;
		if (o[0] == DHCP_MSG_TYPE) {
			ack = o[1] == 1 && o[2] == DHCP_ACK;
			break;
		}
		off += 2 + o[1];
	}
	if (ack) {
		struct net_ip4_key k = {.prefixlen = 64, .ifindex = ifindex};
		__u8 learned = NET_IP_LEARNED;

		__builtin_memcpy(k.addr, b.yiaddr, 4);
		bpf_map_update_elem(&ip4, &k, &learned, BPF_ANY);
	}
	return TC_ACT_OK;
}
