/* SPDX-License-Identifier: MIT */
/* net.json: strict loading, clear errors, and a save that loads back the same. */
#include <stdio.h>
#include <stdlib.h>

#include "basic/cleanup.h"
#include "net/net-link.h"
#include "net/net.h"
#include "tests.h"

#define OWNER "3f2c0000-0000-4000-8000-000000000001"

static const char good[] =
        "{\"owner\": \"" OWNER "\", \"nics\": ["
        "{\"mac\": \"02:AA:00:00:00:0a\", \"nic_tag\": \"external\", \"interface\": \"eth0\","
        " \"ips\": [\"198.51.100.10/24\", \"2001:db8::a/64\"], \"gateways\": [\"198.51.100.1\"],"
        " \"primary\": true, \"mtu\": 1500, \"max_bandwidth\": 100,"
        " \"allowed_ips\": [\"203.0.113.0/24\", \"198.18.0.1\"], \"allow_ip_spoofing\": false},"
        "{\"mac\": \"02:00:00:00:01:0a\", \"nic_tag\": \"stub0\", \"interface\": \"eth1\","
        " \"ips\": [\"dhcp\", \"addrconf\"], \"allow_dhcp_spoofing\": true}],"
        " \"routes\": [{\"dest\": \"198.18.0.0/15\", \"gateway\": \"198.51.100.1\"},"
        " {\"dest\": \"203.0.113.7\", \"interface\": \"eth1\"}]}";

static char *
load_err(const char *text)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_(hv_net_vm_done) struct hv_net_vm vm = {0};
	int r = net_vm_load_buf(text, strlen(text), "net.json", &vm, &e);

	if (r >= 0)
		tests_fail(__FILE__, __LINE__, "loaded, expected an error: %s", text);
	return strdup(hv_error_message(e, r));
}

TEST(load_good)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_(hv_net_vm_done) struct hv_net_vm vm = {0}, again = {0};
	_cleanup_free_ char *path = NULL;

	ASSERT_OK(net_vm_load_buf(good, strlen(good), "net.json", &vm, &e));
	ASSERT_STREQ(vm.owner, OWNER);
	ASSERT_EQ(vm.n_nics, 2);
	ASSERT_STREQ(vm.nics[0].mac, "02:aa:00:00:00:0a");
	ASSERT_STREQ(vm.nics[0].tag, "external");
	ASSERT_STREQ(vm.nics[0].ips[1], "2001:db8::a/64");
	ASSERT_TRUE(vm.nics[0].primary);
	ASSERT_EQ(vm.nics[0].max_bandwidth, 100);
	ASSERT_EQ(vm.nics[0].mtu, 1500);
	ASSERT_STREQ(vm.nics[0].allowed_ips[1], "198.18.0.1");
	ASSERT_TRUE(vm.nics[1].allow_dhcp_spoofing);
	ASSERT_STREQ(vm.nics[1].ips[0], "dhcp");
	ASSERT_EQ(vm.n_routes, 2);
	ASSERT_STREQ(vm.routes[0].gateway, "198.51.100.1");
	ASSERT_STREQ(vm.routes[1].interface, "eth1");

	ASSERT_TRUE(asprintf(&path, "%s/net.json", tests_tmpdir()) > 0);
	ASSERT_OK(hv_net_vm_save(&vm, path, &e));
	ASSERT_OK(hv_net_vm_load(path, &again, &e));
	ASSERT_STREQ(again.nics[0].mac, vm.nics[0].mac);
	ASSERT_EQ(again.nics[0].max_bandwidth, 100);
	ASSERT_STREQ(again.routes[1].dest, "203.0.113.7");
	ASSERT_EQ(again.n_nics, 2);
	ASSERT_TRUE(!again.nics[1].primary && again.nics[1].allow_dhcp_spoofing);
}

#define NIC(extra)                                                                             \
	"{\"owner\": \"" OWNER "\", \"nics\": [{\"mac\": \"02:00:00:00:00:0a\", \"nic_tag\": " \
	"\"external\", \"interface\": \"eth0\"" extra "}]}"

TEST(load_bad)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
	        {"[]", "net.json: expected an object"},
	        {"{\"nics\": []}", "net.json: owner: missing"},
	        {"{\"owner\": \"x\"}", "owner: 'x': expected a UUID"},
	        {"{\"owner\": \"" OWNER "\", \"extra\": 1}", "net.json: extra: unknown member"},
	        {"{\"owner\": \"" OWNER "\", \"nics\": {}}", "nics: an object: expected an array"},
	        {NIC(", \"ipz\": []"), "net.json: nics.0.ipz: unknown member"},
	        {NIC(", \"ips\": [\"198.51.100.300/24\"]"), "nics.0.ips.0: '198.51.100.300/24'"},
	        {NIC(", \"ips\": [\"198.51.100.3\"]"), "nics.0.ips.0: '198.51.100.3': expected"},
	        {NIC(", \"ips\": [5]"), "nics.0.ips.0: 5: expected"},
	        {NIC(", \"gateways\": [\"198.51.100.1/24\"]"), "nics.0.gateways.0"},
	        {NIC(", \"vlan_id\": 4096"), "nics.0.vlan_id: 4096: expected an integer from 0"},
	        {NIC(", \"mtu\": 100"), "nics.0.mtu: 100: expected 576 to 9000"},
	        {NIC(", \"mtu\": 9001"), "nics.0.mtu: 9001"},
	        {NIC(", \"primary\": \"yes\""), "nics.0.primary: 'yes': expected true or false"},
	        {NIC(", \"mac\": \"02:00\""), NULL},
	        {"{\"owner\": \"" OWNER "\", \"nics\": [{\"mac\": \"02:00:00:00:00:zz\", "
	         "\"nic_tag\": \"x\", \"interface\": \"eth0\"}]}",
	         "nics.0.mac: '02:00:00:00:00:zz': expected a MAC address"},
	        {"{\"owner\": \"" OWNER "\", \"nics\": [{\"nic_tag\": \"x\", \"interface\": "
	         "\"eth0\"}]}",
	         "nics.0.mac: missing"},
	        {"{\"owner\": \"" OWNER "\", \"nics\": [{\"mac\": \"02:00:00:00:00:0a\", "
	         "\"nic_tag\": \"x\", \"interface\": \"a/b\"}]}",
	         "nics.0.interface: 'a/b': expected an interface name"},
	        {"{\"owner\": \"" OWNER "\", \"nics\": [{\"mac\": \"02:00:00:00:00:0a\", "
	         "\"nic_tag\": \"x\", \"interface\": \"eth0\"}, {\"mac\": \"02:00:00:00:00:0A\", "
	         "\"nic_tag\": \"x\", \"interface\": \"eth1\"}]}",
	         "nics.1.mac: 02:00:00:00:00:0a: also the MAC of nics.0"},
	        {"{\"owner\": \"" OWNER "\", \"routes\": [{\"dest\": \"198.18.0.0/15\"}]}",
	         "routes.0: expected either a gateway or an interface"},
	        {"{\"owner\": \"" OWNER "\", \"routes\": [{\"dest\": \"198.18.0.0/15\", "
	         "\"gateway\": \"2001:db8::1\"}]}",
	         "routes.0.gateway: '2001:db8::1' is not of the family"},
	        {"{\"owner\": \"" OWNER "\", \"owner\": \"" OWNER "\"}", "duplicate"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		_cleanup_free_ char *m = load_err(cases[i].text);

		if (cases[i].msg)
			ASSERT_CONTAINS(m, cases[i].msg);
		ASSERT_TRUE(!strchr(m, '\n'));
	}
}
