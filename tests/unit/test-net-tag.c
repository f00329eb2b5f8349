/* SPDX-License-Identifier: MIT */
/* Nic tags and etherstubs in the node config: listing, lookups and changes. */
#include <stdio.h>
#include <stdlib.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "net/net.h"
#include "tests.h"

static char *config_path;

static void
with_config(const char *text)
{
	_cleanup_free_ char *dir = NULL;

	free(config_path);
	ASSERT_TRUE(asprintf(&dir, "%s/usbkey", tests_tmpdir()) > 0);
	ASSERT_OK(mkdir_p(dir, 0755));
	ASSERT_TRUE(asprintf(&config_path, "%s/config", dir) > 0);
	ASSERT_OK(write_file_atomic(config_path, text, strlen(text), 0644));
	setenv("SABLE_ROOT", tests_tmpdir(), 1);
}

static char *
config_text(void)
{
	char *t = NULL;

	ASSERT_OK(read_full_file(config_path, 1 << 20, &t, NULL));
	return t;
}

TEST(list)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_net_tag *t = NULL;
	size_t n = 0;
	unsigned lo, hi;

	/* MACs no link of a test machine has. */
	with_config("# node\nhostname=n1\nexternal_nic=02:AA:bb:cc:dd:01\n"
	            "admin_nic=2:aa:bb:cc:dd:2\nadmin_mtu=9000\netherstub=stub1,stub0\n"
	            "stub0_mtu=600\n");
	ASSERT_OK(hv_net_tags_list(&t, &n, &e));
	ASSERT_EQ(n, 4);
	ASSERT_STREQ(t[0].name, "admin");
	ASSERT_STREQ(t[0].mac, "02:aa:bb:cc:dd:02");
	ASSERT_EQ(t[0].mtu, 9000);
	ASSERT_TRUE(t[0].link == NULL && !t[0].etherstub);
	ASSERT_STREQ(t[1].name, "external");
	ASSERT_EQ(t[1].mtu, 0);
	ASSERT_STREQ(t[2].name, "stub0");
	ASSERT_TRUE(t[2].etherstub && !t[2].mac);
	ASSERT_EQ(t[2].mtu, 600);
	ASSERT_STREQ(t[3].name, "stub1");
	hv_net_tag_mtu_range(&t[2], &lo, &hi);
	ASSERT_EQ(lo, 576);
	ASSERT_EQ(hi, 9000);
	hv_net_tag_mtu_range(&t[0], &lo, &hi);
	ASSERT_EQ(lo, 1500);
	hv_net_tags_free(t, n);
}

TEST(get)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_(hv_net_tag_done) struct hv_net_tag t = {0};

	with_config("external_nic=02:aa:bb:cc:dd:01\netherstub=stub0\n");
	ASSERT_OK(hv_net_tag_get("stub0", &t, &e));
	ASSERT_TRUE(t.etherstub);
	ASSERT_ERR(hv_net_tag_get("nope", &t, &e), -ENOENT);
	ASSERT_STREQ(e->msg, "Invalid nic tag \"nope\"");
	ASSERT_ERR(hv_net_tag_get("external", &t, &e), -ENODEV);
	ASSERT_CONTAINS(e->msg, "nic tag \"external\"");
	ASSERT_CONTAINS(e->msg, "02:aa:bb:cc:dd:01");
}

TEST(bad_config)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_net_tag *t = NULL;
	size_t n = 0;

	with_config("external_nic=aggr0\n");
	ASSERT_ERR(hv_net_tags_list(&t, &n, &e), -EINVAL);
	ASSERT_CONTAINS(e->msg, "config:1: external_nic 'aggr0': expected a MAC address");
	with_config("external_nic=02:aa:bb:cc:dd:01\nexternal_mtu=1000\n");
	ASSERT_ERR(hv_net_tags_list(&t, &n, &e), -EINVAL);
	ASSERT_CONTAINS(e->msg, "external_mtu '1000': expected 1500 to 9000");
	with_config("etherstub=a,,b\n");
	ASSERT_ERR(hv_net_tags_list(&t, &n, &e), -EINVAL);
	ASSERT_CONTAINS(e->msg, "etherstub 'a,,b'");
	with_config("external_nic=02:aa:bb:cc:dd:01\netherstub=external\n");
	ASSERT_ERR(hv_net_tags_list(&t, &n, &e), -EINVAL);
	ASSERT_CONTAINS(e->msg, "'external' is both a nic tag and an etherstub");
}

TEST(add_update_delete)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *t1 = NULL, *t2 = NULL, *t3 = NULL;

	with_config("# keep me\nhostname=n1\n");
	ASSERT_OK(hv_net_tag_add("external", "02:AA:bb:cc:dd:01", false, 0, &e));
	ASSERT_OK(hv_net_tag_add("stub0", NULL, true, 600, &e));
	ASSERT_OK(hv_net_tag_add("stub1", NULL, true, 0, &e));
	t1 = config_text();
	ASSERT_STREQ(t1, "# keep me\nhostname=n1\nexternal_nic=02:aa:bb:cc:dd:01\n"
	                 "etherstub=stub0,stub1\nstub0_mtu=600\n");

	/* Refusals change nothing. */
	ASSERT_ERR(hv_net_tag_add("external", "02:aa:bb:cc:dd:02", false, 0, &e), -EEXIST);
	ASSERT_STREQ(e->msg, "nic tag \"external\" already exists");
	ASSERT_ERR(hv_net_tag_add("stub0", NULL, true, 0, &e), -EEXIST);
	ASSERT_ERR(hv_net_tag_add("x", "02:aa:bb:cc:dd", false, 0, &e), -EINVAL);
	ASSERT_CONTAINS(e->msg, "MAC '02:aa:bb:cc:dd': expected");
	ASSERT_ERR(hv_net_tag_add("1x", "02:aa:bb:cc:dd:03", false, 0, &e), -EINVAL);
	ASSERT_CONTAINS(e->msg, "nic tag name '1x'");
	ASSERT_ERR(hv_net_tag_add("x", "02:aa:bb:cc:dd:03", false, 1400, &e), -EINVAL);
	ASSERT_CONTAINS(e->msg, "mtu 1400: expected 1500 to 9000");
	ASSERT_ERR(hv_net_tag_add("x", NULL, false, 0, &e), -EINVAL);
	ASSERT_ERR(hv_net_tag_add("x", "02:aa:bb:cc:dd:03", true, 0, &e), -EINVAL);
	ASSERT_ERR(hv_net_tag_update("nope", NULL, 1500, &e), -ENOENT);
	ASSERT_STREQ(e->msg, "Invalid nic tag \"nope\"");
	ASSERT_ERR(hv_net_tag_update("stub0", "02:aa:bb:cc:dd:03", 0, &e), -EINVAL);
	ASSERT_ERR(hv_net_tag_update("external", NULL, 1000, &e), -EINVAL);
	ASSERT_ERR(hv_net_tag_delete("nope", &e), -ENOENT);
	t2 = config_text();
	ASSERT_STREQ(t1, t2);

	ASSERT_OK(hv_net_tag_update("external", "02:aa:bb:cc:dd:09", 9000, &e));
	ASSERT_OK(hv_net_tag_update("stub0", NULL, 1000, &e));
	ASSERT_OK(hv_net_tag_delete("stub1", &e));
	ASSERT_OK(hv_net_tag_delete("stub0", &e));
	t3 = config_text();
	ASSERT_STREQ(t3, "# keep me\nhostname=n1\nexternal_nic=02:aa:bb:cc:dd:09\n"
	                 "external_mtu=9000\n");
}

TEST(vlan_support_is_named)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r = hv_net_vlan_supported(&e);

	if (r == -EPERM)
		SKIP("probing needs CAP_NET_ADMIN and a network namespace of its own");
	if (r < 0)
		ASSERT_CONTAINS(e->msg, "VLAN filtering");
}
