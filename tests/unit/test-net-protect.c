/* SPDX-License-Identifier: MIT */
/* Link protection as the port program sees a NIC (net-protect.c). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "basic/error.h"
#include "net/net-datapath.h"
#include "tests.h"

static bool
has(const struct net_port_plan *p, const char *addr, unsigned len)
{
	uint8_t a[16] = {0};
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;

	if (inet_pton(family, addr, a) != 1)
		return false;
	for (size_t i = 0; i < p->n_ips; i++)
		if (p->ips[i].family == family && p->ips[i].len == len &&
		    memcmp(p->ips[i].addr, a, family == AF_INET ? 4 : 16) == 0)
			return true;
	return false;
}

TEST(ips_are_host_addresses_allowed_ips_prefixes)
{
	char *ips[] = {"198.51.100.5/24", "2001:db8::5/64", "198.51.100.5/24", NULL};
	char *allowed[] = {"203.0.113.77/28", "198.51.100.9", "2001:db8:1::/48", NULL};
	struct hv_net_nic nic = {.mac = "02:08:20:AB:cd:01", .ips = ips, .allowed_ips = allowed};
	struct net_port_plan p = {0};

	ASSERT_OK(net_port_plan_make(&nic, &p, NULL));
	ASSERT_EQ(p.n_ips, 5); /* the duplicate once */
	ASSERT_TRUE(has(&p, "198.51.100.5", 32));
	ASSERT_TRUE(has(&p, "2001:db8::5", 128));
	/* A prefix keeps only its own bits. */
	ASSERT_TRUE(has(&p, "203.0.113.64", 28));
	ASSERT_TRUE(has(&p, "198.51.100.9", 32));
	ASSERT_TRUE(has(&p, "2001:db8:1::", 48));
	ASSERT_EQ(p.cfg.flags, 0);
	ASSERT_TRUE(memcmp(p.cfg.mac, "\x02\x08\x20\xab\xcd\x01", 6) == 0);
	/* The modified EUI-64: universal/local bit flipped, ff:fe in the middle. */
	ASSERT_TRUE(memcmp(p.cfg.iid, "\x00\x08\x20\xff\xfe\xab\xcd\x01", 8) == 0);
	net_port_plan_done(&p);
}

TEST(flags_and_words)
{
	char *ips[] = {"dhcp", "addrconf", NULL};
	struct hv_net_nic nic = {.mac = "02:00:00:00:00:01",
	                         .ips = ips,
	                         .allow_ip_spoofing = true,
	                         .allow_mac_spoofing = true,
	                         .allow_dhcp_spoofing = true,
	                         .allow_restricted_traffic = true};
	struct net_port_plan p = {0};

	ASSERT_OK(net_port_plan_make(&nic, &p, NULL));
	ASSERT_EQ(p.n_ips, 0);
	ASSERT_EQ(p.cfg.flags, NET_PORT_DHCP | NET_PORT_ADDRCONF | NET_PORT_ALLOW_IP |
	                               NET_PORT_ALLOW_MAC | NET_PORT_ALLOW_DHCP |
	                               NET_PORT_ALLOW_RESTRICTED);
	net_port_plan_done(&p);
}

TEST(bad_values_name_their_place)
{
	char *bad_ip[] = {"198.51.100.5/24", "198.51.100.300/24", NULL};
	char *bad_len[] = {"2001:db8::/129", NULL};
	char *word[] = {"dhcp", NULL};
	struct hv_net_nic nic = {.mac = "02:00:00:00:00:01", .ips = bad_ip};
	struct hv_error *e = NULL;
	struct net_port_plan p = {0};

	ASSERT_ERR(net_port_plan_make(&nic, &p, &e), -EINVAL);
	ASSERT_STREQ(e->path, "ips.1");
	ASSERT_CONTAINS(e->msg, "'198.51.100.300/24'");
	e = hv_error_free(e);

	nic.ips = NULL;
	nic.allowed_ips = bad_len;
	ASSERT_ERR(net_port_plan_make(&nic, &p, &e), -EINVAL);
	ASSERT_STREQ(e->path, "allowed_ips.0");
	e = hv_error_free(e);

	/* "dhcp" is a word of ips only. */
	nic.allowed_ips = word;
	ASSERT_ERR(net_port_plan_make(&nic, &p, NULL), -EINVAL);

	nic.allowed_ips = NULL;
	nic.mac = "02:00:00:00:00";
	ASSERT_ERR(net_port_plan_make(&nic, &p, &e), -EINVAL);
	ASSERT_STREQ(e->path, "mac");
	e = hv_error_free(e);

	nic.mac = "02:00:00:00:00:01";
	nic.max_bandwidth = NET_SHAPE_MBIT_MAX + 1;
	ASSERT_ERR(net_port_plan_make(&nic, &p, NULL), -ERANGE);
	ASSERT_EQ(p.n_ips, 0);
}
