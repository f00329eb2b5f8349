/* SPDX-License-Identifier: MIT */
/* lib/net's link names, MAC and address parsing. */
#include <arpa/inet.h>
#include <stdlib.h>

#include "net/net-internal.h"
#include "net/net-link.h"
#include "tests.h"

TEST(link_name_fits_and_is_stable)
{
	char a[NET_NAME_MAX], b[NET_NAME_MAX], c[NET_NAME_MAX];

	ASSERT_OK(net_link_name("sb1a2b", NET_KIND_PORT, "3f2c0000-0000-4000-8000-000000000001",
	                        "02:00:00:00:00:0a", a));
	ASSERT_OK(net_link_name("sb1a2b", NET_KIND_PORT, "3f2c0000-0000-4000-8000-000000000001",
	                        "02:00:00:00:00:0a", b));
	ASSERT_STREQ(a, b);
	ASSERT_EQ(strlen(a), 13);
	ASSERT_TRUE(strncmp(a, "sb1a2bv", 7) == 0);
	/* Another MAC, another owner, another kind: another name. */
	ASSERT_OK(net_link_name("sb1a2b", NET_KIND_PORT, "3f2c0000-0000-4000-8000-000000000001",
	                        "02:00:00:00:00:0b", c));
	ASSERT_TRUE(strcmp(a, c) != 0);
	ASSERT_OK(net_link_name("sb1a2b", NET_KIND_TAP, "3f2c0000-0000-4000-8000-000000000001",
	                        "02:00:00:00:00:0a", c));
	ASSERT_TRUE(strcmp(a + 7, c + 7) != 0);
	/* ("ab", "c") and ("a", "bc") differ. */
	ASSERT_OK(net_link_name("sb1a2b", NET_KIND_PORT, "ab", "c", b));
	ASSERT_OK(net_link_name("sb1a2b", NET_KIND_PORT, "a", "bc", c));
	ASSERT_TRUE(strcmp(b, c) != 0);
	/* The longest prefix still fits IFNAMSIZ. */
	ASSERT_OK(net_link_name("sbabcdef", NET_KIND_SWITCH, "external", NULL, a));
	ASSERT_EQ(strlen(a), 15);
	for (const char *p = a; *p; p++)
		ASSERT_TRUE((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'));
	ASSERT_ERR(net_link_name("sbabcdefg", NET_KIND_SWITCH, "external", NULL, a), -EINVAL);
	ASSERT_ERR(net_link_name(NULL, NET_KIND_SWITCH, "external", NULL, a), -EINVAL);
}

TEST(ifb_name_follows_its_port)
{
	char port[NET_NAME_MAX], ifb[NET_NAME_MAX];

	ASSERT_OK(net_link_name("sb1a2b", NET_KIND_PORT, "owner", "02:00:00:00:00:0a", port));
	ASSERT_OK(net_ifb_name("sb1a2b", port, ifb));
	ASSERT_EQ(ifb[6], NET_KIND_IFB);
	ASSERT_STREQ(ifb + 7, port + 7);
	ASSERT_ERR(net_ifb_name("sb1a2b", "eth0", ifb), -EINVAL);
	ASSERT_ERR(net_ifb_name("sb1a2b", "sb1a2bsabcdef", ifb), -EINVAL);
	ASSERT_ERR(net_ifb_name("sb9999", port, ifb), -EINVAL);
}

TEST(addresses)
{
	ASSERT_EQ(net_addr_family("198.51.100.5/24", true), AF_INET);
	ASSERT_EQ(net_addr_family("2001:db8::5/64", true), AF_INET6);
	ASSERT_EQ(net_addr_family("198.51.100.1", false), AF_INET);
	ASSERT_EQ(net_addr_family("203.0.113.0/32", true), AF_INET);
	ASSERT_ERR(net_addr_family("198.51.100.5", true), -EINVAL);
	ASSERT_ERR(net_addr_family("198.51.100.5/24", false), -EINVAL);
	ASSERT_ERR(net_addr_family("198.51.100.5/33", true), -EINVAL);
	ASSERT_ERR(net_addr_family("2001:db8::5/129", true), -EINVAL);
	ASSERT_ERR(net_addr_family("198.51.100.300/24", true), -EINVAL);
	ASSERT_ERR(net_addr_family("198.51.100.5/", true), -EINVAL);
	ASSERT_ERR(net_addr_family("198.51.100.5/2x", true), -EINVAL);
	ASSERT_ERR(net_addr_family("198.51.100.5/024", true), -EINVAL);
	ASSERT_ERR(net_addr_family("/24", true), -EINVAL);
	ASSERT_ERR(net_addr_family("dhcp", false), -EINVAL);
}
