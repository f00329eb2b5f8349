/* SPDX-License-Identifier: MIT */
/*
 * Link protection as the port program sees it: a NIC's allow_* flags, its
 * MAC and EUI-64, and the addresses it may send from. ips name the guest's
 * own addresses (198.51.100.5/24 allows 198.51.100.5 alone; the prefix is
 * the subnet's), allowed_ips further addresses or whole prefixes. "dhcp"
 * lets the DHCP client send from 0.0.0.0 and its leases be learned;
 * "addrconf" allows the SLAAC addresses of the MAC's modified EUI-64 under
 * any prefix. Pure logic: no kernel objects here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/macro.h"
#include "basic/parse.h"
#include "net/net-datapath.h"
#include "net/net-link.h"

void
net_port_plan_done(struct net_port_plan *p)
{
	free(p->ips);
	p->ips = NULL;
	p->n_ips = 0;
}

/* "a.b.c.d", "a.b.c.d/n", "x::y", "x::y/n"; host true: the address alone. */
static int
ip_parse(const char *s, bool host, struct net_port_ip *ret)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max;

	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = 0;
	memset(ret, 0, sizeof(*ret));
	if (inet_pton(AF_INET, buf, ret->addr) == 1)
		ret->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, ret->addr) == 1)
		ret->family = AF_INET6;
	else
		return -EINVAL;
	max = ret->family == AF_INET ? 32 : 128;
	ret->len = max;
	if (slash) {
		uint32_t len;

		if (safe_atou32(slash + 1, &len) < 0 || len > max)
			return -EINVAL;
		if (!host)
			ret->len = len;
	}
	/* Bits past the prefix are not part of it. */
	for (unsigned bit = ret->len; bit < max; bit++)
		ret->addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
	return 0;
}

static int
plan_add(struct net_port_plan *p, const struct net_port_ip *ip)
{
	struct net_port_ip *a;

	for (size_t i = 0; i < p->n_ips; i++)
		if (memcmp(&p->ips[i], ip, sizeof(*ip)) == 0)
			return 0;
	a = realloc(p->ips, (p->n_ips + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	p->ips = a;
	p->ips[p->n_ips++] = *ip;
	return 0;
}

static int
add_list(struct net_port_plan *p, char *const *list, const char *what, bool words,
         struct hv_error **reterr)
{
	for (size_t i = 0; list && list[i]; i++) {
		struct net_port_ip ip;

		if (words && streq(list[i], "dhcp")) {
			p->cfg.flags |= NET_PORT_DHCP;
			continue;
		}
		if (words && streq(list[i], "addrconf")) {
			p->cfg.flags |= NET_PORT_ADDRCONF;
			continue;
		}
		if (ip_parse(list[i], words, &ip) < 0) {
			char path[64];

			snprintf(path, sizeof(path), "%s.%zu", what, i);
			return hv_error_set_path(
			        reterr, -EINVAL, path,
			        "%s '%s': expected an IPv4 or IPv6 address or CIDR%s", path,
			        list[i], words ? ", dhcp or addrconf" : "");
		}
		if (plan_add(p, &ip) < 0)
			return -ENOMEM;
	}
	return 0;
}

int
net_port_plan_make(const struct hv_net_nic *nic, struct net_port_plan *ret,
                   struct hv_error **reterr)
{
	_cleanup_(net_port_plan_done) struct net_port_plan p = {0};
	int r;

	if (!nic->mac || parse_mac(nic->mac, p.cfg.mac) < 0)
		return hv_error_set_path(reterr, -EINVAL, "mac",
		                         "mac '%s': expected aa:bb:cc:dd:ee:ff",
		                         nic->mac ? nic->mac : "");
	/* The modified EUI-64: the MAC around ff:fe, the universal/local bit flipped. */
	p.cfg.iid[0] = p.cfg.mac[0] ^ 0x02;
	p.cfg.iid[1] = p.cfg.mac[1];
	p.cfg.iid[2] = p.cfg.mac[2];
	p.cfg.iid[3] = 0xff;
	p.cfg.iid[4] = 0xfe;
	p.cfg.iid[5] = p.cfg.mac[3];
	p.cfg.iid[6] = p.cfg.mac[4];
	p.cfg.iid[7] = p.cfg.mac[5];

	if (nic->allow_ip_spoofing)
		p.cfg.flags |= NET_PORT_ALLOW_IP;
	if (nic->allow_mac_spoofing)
		p.cfg.flags |= NET_PORT_ALLOW_MAC;
	if (nic->allow_dhcp_spoofing)
		p.cfg.flags |= NET_PORT_ALLOW_DHCP;
	if (nic->allow_restricted_traffic)
		p.cfg.flags |= NET_PORT_ALLOW_RESTRICTED;

	r = add_list(&p, nic->ips, "ips", true, reterr);
	if (r >= 0)
		r = add_list(&p, nic->allowed_ips, "allowed_ips", false, reterr);
	if (r < 0)
		return r;
	if (nic->max_bandwidth > NET_SHAPE_MBIT_MAX)
		return hv_error_set_path(reterr, -ERANGE, "max_bandwidth",
		                         "max_bandwidth %u: expected at most %u Mbit/s",
		                         nic->max_bandwidth, NET_SHAPE_MBIT_MAX);
	*ret = p;
	p = (struct net_port_plan){0};
	return 0;
}
