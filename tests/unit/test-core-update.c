/* SPDX-License-Identifier: MIT */
/* Create defaults (smartos.md §2.1) and update semantics (§1.5). */
#include <stdlib.h>

#include "basic/cleanup.h"
#include "basic/uuid.h"
#include "core/vm-props.h"
#include "json/json.h"
#include "tests.h"

#define IMAGE  "7b5981c4-1889-11e7-b4c5-3f3bdfc9b88b"
#define NOW_MS UINT64_C(1325313522457) /* 2011-12-31T06:38:42.457Z */

static json_t *
parse(const char *text)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_t *j = NULL;

	if (hv_json_load_buf(text, strlen(text), "test", &j, &e) < 0)
		tests_fail(__FILE__, __LINE__, "bad test JSON: %s", e->msg);
	return j;
}

/* Validate and apply create defaults; the test fails on any error. */
static json_t *
create(const char *text)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_t *vm = parse(text);
	int r;

	r = hv_vm_validate(HV_VM_ACTION_CREATE, NULL, vm, NULL, &e);
	if (r < 0)
		tests_fail(__FILE__, __LINE__, "invalid: %s", hv_error_message(e, r));
	r = hv_vm_apply_create_defaults(vm, NOW_MS, &e);
	if (r < 0)
		tests_fail(__FILE__, __LINE__, "defaults: %s", hv_error_message(e, r));
	return vm;
}

/* Validate and apply an update; returns the result of applying it. */
static int
update(json_t *vm, const char *text, struct hv_error **e)
{
	const char *brand = json_string_value(json_object_get(vm, "brand"));
	json_t *p = parse(text);
	int r;

	r = hv_vm_validate(HV_VM_ACTION_UPDATE, brand, p, NULL, e);
	if (r < 0)
		tests_fail(__FILE__, __LINE__, "invalid update: %s", hv_error_message(*e, r));
	r = hv_vm_apply_update(vm, p, e);
	json_decref(p);
	return r;
}

static void
update_ok(json_t *vm, const char *text)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r = update(vm, text, &e);

	if (r < 0)
		tests_fail(__FILE__, __LINE__, "update failed: %s", hv_error_message(e, r));
}

static int64_t
num(const json_t *vm, const char *key)
{
	const json_t *v = json_object_get(vm, key);

	if (!json_is_integer(v))
		tests_fail(__FILE__, __LINE__, "'%s' is not an integer", key);
	return json_integer_value(v);
}

static const char *
str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_t *
nic(const json_t *vm, size_t i)
{
	return json_array_get(json_object_get(vm, "nics"), i);
}

static bool
mac_is_local_unicast(const char *mac)
{
	unsigned b[6];
	int n = 0;

	if (!mac || strlen(mac) != 17 ||
	    sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
	           &n) != 6 ||
	    n != 17)
		return false;
	for (const char *c = mac; *c; c++)
		if (*c >= 'A' && *c <= 'F')
			return false;
	return (b[0] & 0x0f) == 0x02;
}

TEST(lx_defaults)
{
	json_t *vm = create("{\"brand\": \"lx\", \"image_uuid\": \"" IMAGE "\"}");
	const char *uuid = str(vm, "uuid");

	ASSERT_TRUE(uuid_is_valid(uuid));
	ASSERT_TRUE(json_is_true(json_object_get(vm, "autoboot")));
	ASSERT_STREQ(str(vm, "owner_uuid"), "00000000-0000-0000-0000-000000000000");
	ASSERT_STREQ(str(vm, "billing_id"), "00000000-0000-0000-0000-000000000000");
	ASSERT_STREQ(str(vm, "zpool"), "zones");
	ASSERT_STREQ(str(vm, "dns_domain"), "local");
	ASSERT_STREQ(str(vm, "hostname"), uuid);
	ASSERT_STREQ(str(vm, "limit_priv"), "default");
	ASSERT_STREQ(str(vm, "create_timestamp"), "2011-12-31T06:38:42.457Z");
	ASSERT_EQ(num(vm, "cpu_shares"), 100);
	ASSERT_EQ(num(vm, "zfs_io_priority"), 100);
	ASSERT_EQ(num(vm, "max_lwps"), 2000);
	ASSERT_EQ(num(vm, "quota"), 10);
	ASSERT_EQ(num(vm, "max_physical_memory"), 256);
	ASSERT_EQ(num(vm, "max_locked_memory"), 256);
	ASSERT_EQ(num(vm, "max_swap"), 256);
	ASSERT_EQ(num(vm, "max_shm_memory"), 256);
	ASSERT_EQ(num(vm, "tmpfs"), 256);
	ASSERT_EQ(num(vm, "max_msg_ids"), 4096);
	ASSERT_EQ(num(vm, "max_sem_ids"), 4096);
	ASSERT_EQ(num(vm, "max_shm_ids"), 4096);
	ASSERT_EQ(num(vm, "mdata_exec_timeout"), 300);
	ASSERT_TRUE(json_is_object(json_object_get(vm, "tags")));
	ASSERT_TRUE(json_is_object(json_object_get(vm, "customer_metadata")));
	ASSERT_TRUE(json_is_object(json_object_get(vm, "internal_metadata")));
	/* Not for lx, and no computed members but create_timestamp. */
	ASSERT_TRUE(!json_object_get(vm, "ram") && !json_object_get(vm, "vcpus"));
	ASSERT_TRUE(!json_object_get(vm, "kernel_version"));
	{
		const char *k;
		json_t *v;
		json_object_foreach (vm, k, v) {
			const struct hv_prop *p = hv_vm_prop_find(k);
			ASSERT_TRUE(p != NULL);
			ASSERT_TRUE(!(p->flags & HV_PROP_RO) || streq(k, "create_timestamp"));
		}
	}
	json_decref(vm);
}

TEST(kvm_defaults)
{
	json_t *vm = create("{\"brand\": \"kvm\", \"ram\": 2048, \"nic_driver\": \"virtio\","
	                    " \"uuid\": \"54f1cc77-68f1-42ab-acac-5c4f64f5d6e0\","
	                    " \"nics\": [{\"nic_tag\": \"admin\"}, {\"model\": \"e1000\"}],"
	                    " \"disks\": [{\"size\": 100, \"model\": \"ide\"}, {\"size\": 5}]}");
	json_t *d1 = json_array_get(json_object_get(vm, "disks"), 1);

	ASSERT_STREQ(str(vm, "uuid"), "54f1cc77-68f1-42ab-acac-5c4f64f5d6e0");
	ASSERT_STREQ(str(vm, "hostname"), "54f1cc77-68f1-42ab-acac-5c4f64f5d6e0");
	ASSERT_EQ(num(vm, "ram"), 2048);
	ASSERT_EQ(num(vm, "vcpus"), 1);
	ASSERT_EQ(num(vm, "max_physical_memory"), 2048 + 1024);
	ASSERT_EQ(num(vm, "max_locked_memory"), 2048 + 1024);
	ASSERT_EQ(num(vm, "max_swap"), 2048 + 1024);
	ASSERT_STREQ(str(vm, "limit_priv"),
	             "default,-file_link_any,-net_access,-proc_fork,-proc_info,-proc_session");
	ASSERT_TRUE(!json_object_get(vm, "tmpfs") && !json_object_get(vm, "dns_domain"));
	ASSERT_STREQ(str(nic(vm, 0), "interface"), "net0");
	ASSERT_STREQ(str(nic(vm, 1), "interface"), "net1");
	ASSERT_STREQ(str(nic(vm, 0), "model"), "virtio");
	ASSERT_STREQ(str(nic(vm, 1), "model"), "e1000");
	ASSERT_STREQ(str(d1, "media"), "disk");
	ASSERT_STREQ(str(d1, "model"), "ide"); /* the first disk's */
	json_decref(vm);

	vm = create("{\"brand\": \"kvm\"}");
	ASSERT_EQ(num(vm, "ram"), 256);
	ASSERT_EQ(num(vm, "max_physical_memory"), 1280);
	json_decref(vm);
}

TEST(memory_rules_at_create)
{
	json_t *vm = create("{\"brand\": \"lx\", \"image_uuid\": \"" IMAGE "\","
	                    " \"max_physical_memory\": \"1024\", \"max_locked_memory\": 2048,"
	                    " \"max_swap\": 100, \"tmpfs\": 4096, \"cpu_shares\": 100000}");

	ASSERT_EQ(num(vm, "max_physical_memory"), 1024);
	ASSERT_EQ(num(vm, "max_locked_memory"), 1024);
	ASSERT_EQ(num(vm, "max_swap"), 1024);
	ASSERT_EQ(num(vm, "tmpfs"), 1024);
	ASSERT_EQ(num(vm, "max_shm_memory"), 1024);
	ASSERT_EQ(num(vm, "cpu_shares"), 65535);
	json_decref(vm);

	vm = create("{\"brand\": \"lx\", \"image_uuid\": \"" IMAGE "\", \"ram\": 512}");
	ASSERT_EQ(num(vm, "max_physical_memory"), 512);
	ASSERT_EQ(num(vm, "tmpfs"), 512);
	json_decref(vm);

	vm = create("{\"brand\": \"lx\", \"image_uuid\": \"" IMAGE "\","
	            " \"max_physical_memory\": 128, \"tmpfs\": 0}");
	ASSERT_EQ(num(vm, "max_swap"), 256);
	ASSERT_EQ(num(vm, "tmpfs"), 0);
	json_decref(vm);

	vm = create("{\"brand\": \"kvm\", \"ram\": 1024, \"max_physical_memory\": 1100,"
	            " \"max_locked_memory\": 100}");
	ASSERT_EQ(num(vm, "max_physical_memory"), 1280);
	ASSERT_EQ(num(vm, "max_locked_memory"), 1280);
	json_decref(vm);
}

TEST(aliases_and_string_values)
{
	json_t *vm =
	        create("{\"brand\": \"lx\", \"dataset_uuid\": \"" IMAGE "\","
	               " \"zfs_storage_pool_name\": \"zones\", \"resolvers\": \"9.9.9.9,1.1.1.1\","
	               " \"autoboot\": \"false\", \"fs_allowed\": [\"ufs\", \"pcfs\"],"
	               " \"nics\": [{\"ip\": \"10.0.0.5\", \"netmask\": \"255.255.255.0\","
	               " \"gateway\": \"10.0.0.1\", \"vlan_id\": \"12\"}, {\"ip\": \"dhcp\"}]}");
	_cleanup_free_ char *n0 = NULL, *n1 = NULL, *res = NULL;

	ASSERT_STREQ(str(vm, "image_uuid"), IMAGE);
	ASSERT_STREQ(str(vm, "zpool"), "zones");
	ASSERT_TRUE(!json_object_get(vm, "dataset_uuid"));
	ASSERT_TRUE(!json_object_get(vm, "zfs_storage_pool_name"));
	ASSERT_TRUE(json_is_false(json_object_get(vm, "autoboot")));
	ASSERT_STREQ(str(vm, "fs_allowed"), "ufs,pcfs");
	res = json_dumps(json_object_get(vm, "resolvers"), JSON_COMPACT);
	ASSERT_STREQ(res, "[\"9.9.9.9\",\"1.1.1.1\"]");
	json_object_del(nic(vm, 0), "mac");
	json_object_del(nic(vm, 1), "mac");
	n0 = json_dumps(nic(vm, 0), JSON_COMPACT | JSON_SORT_KEYS);
	n1 = json_dumps(nic(vm, 1), JSON_COMPACT | JSON_SORT_KEYS);
	ASSERT_STREQ(n0, "{\"gateways\":[\"10.0.0.1\"],\"interface\":\"eth0\",\"ips\":[\"10.0.0.5/"
	                 "24\"],\"vlan_id\":12}");
	ASSERT_STREQ(n1, "{\"interface\":\"eth1\",\"ips\":[\"dhcp\"]}");
	json_decref(vm);
}

TEST(macs_and_interfaces)
{
	_cleanup_free_ char *text = strdup("{\"brand\": \"lx\", \"image_uuid\": \"" IMAGE "\","
	                                   " \"nics\": [{}, {\"interface\": \"eth0\"}");
	json_t *vm;

	for (int i = 2; i < HV_VM_MAX_NICS; i++) {
		char *t = NULL;
		ASSERT_TRUE(asprintf(&t, "%s, {}", text) > 0);
		free(text);
		text = t;
	}
	{
		char *t = NULL;
		ASSERT_TRUE(asprintf(&t, "%s]}", text) > 0);
		free(text);
		text = t;
	}
	vm = create(text);
	ASSERT_EQ(json_array_size(json_object_get(vm, "nics")), HV_VM_MAX_NICS);
	ASSERT_STREQ(str(nic(vm, 0), "interface"), "eth1");
	ASSERT_STREQ(str(nic(vm, 1), "interface"), "eth0");
	ASSERT_STREQ(str(nic(vm, 2), "interface"), "eth2");
	for (size_t i = 0; i < HV_VM_MAX_NICS; i++) {
		const char *m = str(nic(vm, i), "mac");
		if (!mac_is_local_unicast(m))
			tests_fail(__FILE__, __LINE__, "bad MAC '%s'", m ? m : "(null)");
		for (size_t j = 0; j < i; j++)
			ASSERT_FALSE(streq(m, str(nic(vm, j), "mac")));
	}
	json_decref(vm);

	vm = create("{\"brand\": \"lx\", \"image_uuid\": \"" IMAGE "\", \"zonename\": \"web\","
	            " \"nics\": [{\"mac\": \"B2:1E:BA:A5:6E:71\"}]}");
	ASSERT_STREQ(str(vm, "hostname"), "web");
	ASSERT_STREQ(str(nic(vm, 0), "mac"), "b2:1e:ba:a5:6e:71");
	json_decref(vm);
}

TEST(defaults_are_atomic)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_t *vm = parse("{\"brand\": \"kvm\", \"nics\": [{\"nic_tag\": \"admin\"}]}");
	json_t *copy = json_deep_copy(vm);

	/* Validation would refuse it: a kvm NIC needs a model from somewhere. */
	ASSERT_ERR(hv_vm_apply_create_defaults(vm, NOW_MS, &e), -EINVAL);
	ASSERT_STREQ(e->path, "nics.0");
	ASSERT_CONTAINS(e->msg, "nic_driver");
	ASSERT_TRUE(json_equal(vm, copy));
	json_decref(vm);
	json_decref(copy);
}

static json_t *
base_vm(void)
{
	return create("{\"brand\": \"lx\", \"image_uuid\": \"" IMAGE "\", \"alias\": \"web1\","
	              " \"max_physical_memory\": 1024, \"max_locked_memory\": 512,"
	              " \"max_swap\": 2048, \"tmpfs\": 512, \"cpu_cap\": 200,"
	              " \"tags\": {\"role\": \"web\", \"tier\": 1},"
	              " \"customer_metadata\": {\"user-script\": \"#!/bin/sh\"},"
	              " \"nics\": [{\"mac\": \"b2:1e:ba:a5:6e:71\", \"nic_tag\": \"admin\","
	              " \"ips\": [\"10.0.0.5/24\"], \"primary\": true, \"mtu\": 1500},"
	              " {\"mac\": \"b2:1e:ba:a5:6e:72\", \"nic_tag\": \"external\","
	              " \"ips\": [\"dhcp\"]}]}");
}

TEST(plain_properties_and_clearing)
{
	json_t *vm = base_vm();

	update_ok(vm, "{\"alias\": \"web2\", \"quota\": \"40\", \"autoboot\": \"false\","
	              " \"cpu_cap\": null, \"resolvers\": \"9.9.9.9\", \"zfs_snapshot_limit\": 5}");
	ASSERT_STREQ(str(vm, "alias"), "web2");
	ASSERT_EQ(num(vm, "quota"), 40);
	ASSERT_TRUE(json_is_false(json_object_get(vm, "autoboot")));
	ASSERT_TRUE(!json_object_get(vm, "cpu_cap"));
	ASSERT_TRUE(json_is_array(json_object_get(vm, "resolvers")));
	update_ok(vm, "{\"zfs_snapshot_limit\": \"\", \"cpu_shares\": 70000}");
	ASSERT_TRUE(!json_object_get(vm, "zfs_snapshot_limit"));
	ASSERT_EQ(num(vm, "cpu_shares"), 65535);
	json_decref(vm);
}

TEST(maps)
{
	json_t *vm = base_vm();
	_cleanup_free_ char *tags = NULL, *routes = NULL;

	update_ok(vm,
	          "{\"set_tags\": {\"role\": \"db\", \"new\": true},"
	          " \"remove_tags\": [\"tier\", \"absent\"],"
	          " \"remove_customer_metadata\": \"user-script\","
	          " \"set_internal_metadata\": {\"k\": \"v\"},"
	          " \"set_routes\": {\"10.1.0.0/16\": \"10.0.0.1\", \"10.2.0.1\": \"nics[1]\"}}");
	tags = json_dumps(json_object_get(vm, "tags"), JSON_COMPACT | JSON_SORT_KEYS);
	ASSERT_STREQ(tags, "{\"new\":true,\"role\":\"db\"}");
	ASSERT_EQ(json_object_size(json_object_get(vm, "customer_metadata")), 0);
	ASSERT_STREQ(str(json_object_get(vm, "internal_metadata"), "k"), "v");
	update_ok(vm, "{\"remove_routes\": [\"10.2.0.1\"]}");
	routes = json_dumps(json_object_get(vm, "routes"), JSON_COMPACT | JSON_SORT_KEYS);
	ASSERT_STREQ(routes, "{\"10.1.0.0/16\":\"10.0.0.1\"}");
	json_decref(vm);
}

TEST(arrays_by_key)
{
	json_t *vm = base_vm();

	/* MACs match without regard to case; null removes a member; primary moves. */
	update_ok(vm, "{\"update_nics\": [{\"mac\": \"B2:1E:BA:A5:6E:72\", \"primary\": true,"
	              " \"vlan_id\": \"7\"}, {\"mac\": \"b2:1e:ba:a5:6e:71\", \"mtu\": null,"
	              " \"ip\": \"10.0.0.9\"}]}");
	ASSERT_TRUE(json_is_true(json_object_get(nic(vm, 1), "primary")));
	ASSERT_TRUE(!json_object_get(nic(vm, 0), "primary"));
	ASSERT_EQ(num(nic(vm, 1), "vlan_id"), 7);
	ASSERT_TRUE(!json_object_get(nic(vm, 0), "mtu"));
	ASSERT_STREQ(json_string_value(json_array_get(json_object_get(nic(vm, 0), "ips"), 0)),
	             "10.0.0.9/24");
	ASSERT_TRUE(!json_object_get(nic(vm, 0), "ip"));

	update_ok(vm, "{\"add_nics\": [{\"nic_tag\": \"admin\", \"primary\": true}]}");
	ASSERT_EQ(json_array_size(json_object_get(vm, "nics")), 3);
	ASSERT_STREQ(str(nic(vm, 2), "interface"), "eth2");
	ASSERT_TRUE(mac_is_local_unicast(str(nic(vm, 2), "mac")));
	ASSERT_TRUE(json_is_true(json_object_get(nic(vm, 2), "primary")));
	ASSERT_TRUE(!json_object_get(nic(vm, 1), "primary"));

	update_ok(vm, "{\"remove_nics\": [\"b2:1e:ba:a5:6e:71\"]}");
	ASSERT_EQ(json_array_size(json_object_get(vm, "nics")), 2);
	ASSERT_STREQ(str(nic(vm, 0), "mac"), "b2:1e:ba:a5:6e:72");
	update_ok(vm, "{\"add_nics\": [{\"nic_tag\": \"admin\"}]}");
	ASSERT_STREQ(str(nic(vm, 2), "interface"), "eth0"); /* the first free name */
	json_decref(vm);
}

TEST(update_errors_leave_the_vm_alone)
{
	json_t *vm = base_vm(), *copy = json_deep_copy(vm);
	struct {
		const char *payload, *path, *msg;
		int code;
	} cases[] = {
	        {"{\"alias\": \"x\", \"update_nics\": [{\"mac\": \"b2:00:00:00:00:01\", \"mtu\": "
	         "9000}]}",
	         "update_nics.0", "the VM has no NIC with mac 'b2:00:00:00:00:01'", -ENOENT},
	        {"{\"set_tags\": {\"a\": 1}, \"remove_nics\": [\"b2:00:00:00:00:02\"]}",
	         "remove_nics", "no NIC with mac 'b2:00:00:00:00:02'", -ENOENT},
	        {"{\"add_nics\": [{\"mac\": \"b2:1e:ba:a5:6e:71\"}]}", "add_nics.0",
	         "a NIC with mac 'b2:1e:ba:a5:6e:71' exists", -EEXIST},
	        {"{\"update_nics\": [{\"mac\": \"b2:1e:ba:a5:6e:72\", \"ip\": \"10.0.0.7\"}]}",
	         "update_nics.0", "needs a 'netmask'", -EINVAL},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_hv_error_ struct hv_error *e = NULL;

		ASSERT_ERR(update(vm, cases[i].payload, &e), cases[i].code);
		ASSERT_STREQ(e->path, cases[i].path);
		ASSERT_CONTAINS(e->msg, cases[i].msg);
		ASSERT_TRUE(json_equal(vm, copy));
	}
	json_decref(copy);
	json_decref(vm);
}

TEST(too_many_nics)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_t *vm = base_vm(), *p = json_pack("{s:[]}", "add_nics");

	for (int i = 0; i < HV_VM_MAX_NICS - 1; i++)
		ASSERT_OK(json_array_append_new(json_object_get(p, "add_nics"), json_object()));
	ASSERT_OK(hv_vm_validate(HV_VM_ACTION_UPDATE, "lx", p, NULL, NULL));
	ASSERT_ERR(hv_vm_apply_update(vm, p, &e), -E2BIG);
	ASSERT_EQ(json_array_size(json_object_get(vm, "nics")), 2);
	json_decref(p);
	json_decref(vm);
}

TEST(memory_rules_on_update)
{
	json_t *vm = base_vm();

	/* Only max_physical_memory: the gaps and the tmpfs ratio stay. */
	update_ok(vm, "{\"max_physical_memory\": 2048}");
	ASSERT_EQ(num(vm, "max_locked_memory"), 1536);
	ASSERT_EQ(num(vm, "max_swap"), 3072);
	ASSERT_EQ(num(vm, "tmpfs"), 1024);
	/* With max_swap too: no gap kept, but max_swap is raised to max_physical_memory. */
	update_ok(vm, "{\"max_physical_memory\": 4096, \"max_swap\": 1000}");
	ASSERT_EQ(num(vm, "max_swap"), 4096);
	ASSERT_EQ(num(vm, "max_locked_memory"), 1536);
	update_ok(vm, "{\"max_locked_memory\": 8192, \"tmpfs\": 9999}");
	ASSERT_EQ(num(vm, "max_locked_memory"), 4096);
	ASSERT_EQ(num(vm, "tmpfs"), 4096);
	/* Shrinking below the gap keeps what still fits. */
	update_ok(vm, "{\"max_physical_memory\": 100}");
	ASSERT_EQ(num(vm, "max_locked_memory"), 100);
	ASSERT_EQ(num(vm, "max_swap"), 256);
	json_decref(vm);

	vm = create("{\"brand\": \"kvm\", \"ram\": 1024}");
	update_ok(vm, "{\"ram\": 4096}");
	ASSERT_EQ(num(vm, "max_physical_memory"), 4096 + 256);
	ASSERT_EQ(num(vm, "max_locked_memory"), 4096 + 256);
	ASSERT_EQ(num(vm, "max_swap"), 4096 + 256);
	json_decref(vm);
}

TEST(kvm_arrays)
{
	json_t *vm = create("{\"brand\": \"kvm\", \"nics\": [{\"model\": \"e1000\"}],"
	                    " \"disks\": [{\"size\": 10, \"model\": \"scsi\","
	                    " \"path\": \"/dev/zvol/rdsk/zones/x-disk0\"}]}");
	json_t *d;

	update_ok(vm, "{\"add_nics\": [{}], \"add_disks\": [{\"size\": 20}],"
	              " \"update_disks\": [{\"path\": \"/dev/zvol/rdsk/zones/x-disk0\","
	              " \"boot\": true}]}");
	ASSERT_STREQ(str(nic(vm, 1), "model"), "e1000");
	ASSERT_STREQ(str(nic(vm, 1), "interface"), "net1");
	d = json_array_get(json_object_get(vm, "disks"), 1);
	ASSERT_STREQ(str(d, "model"), "scsi");
	ASSERT_STREQ(str(d, "media"), "disk");
	ASSERT_TRUE(json_is_true(
	        json_object_get(json_array_get(json_object_get(vm, "disks"), 0), "boot")));
	json_decref(vm);
}

TEST(from_args)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	char *ok[] = {"quota=40", "alias=a=b", "tags.x=", "autoboot=true"};
	char *bad1[] = {"quota=40", "noequals"}, *bad2[] = {"=x"}, *bad3[] = {"a=1", "a=2"};
	_cleanup_free_ char *s = NULL;
	json_t *p = NULL, *vm;

	ASSERT_OK(hv_vm_update_from_args(ok, ELEMENTSOF(ok), &p, &e));
	s = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
	ASSERT_STREQ(s,
	             "{\"alias\":\"a=b\",\"autoboot\":\"true\",\"quota\":\"40\",\"tags.x\":\"\"}");
	json_decref(p);
	p = NULL;
	ASSERT_ERR(hv_vm_update_from_args(bad1, 2, &p, &e), -EINVAL);
	ASSERT_CONTAINS(e->msg, "'noequals'");
	ASSERT_ERR(hv_vm_update_from_args(bad2, 1, &p, &e), -EINVAL);
	ASSERT_CONTAINS(e->msg, "'=x'");
	ASSERT_ERR(hv_vm_update_from_args(bad3, 2, &p, &e), -EINVAL);
	ASSERT_CONTAINS(e->msg, "twice");
	ASSERT_TRUE(p == NULL);
	ASSERT_OK(hv_vm_update_from_args(NULL, 0, &p, &e));
	ASSERT_EQ(json_object_size(p), 0);
	json_decref(p);

	/* The command-line form goes through validation like any payload. */
	vm = base_vm();
	ASSERT_OK(hv_vm_update_from_args(ok, 1, &p, &e));
	ASSERT_OK(hv_vm_validate(HV_VM_ACTION_UPDATE, "lx", p, NULL, NULL));
	ASSERT_OK(hv_vm_apply_update(vm, p, NULL));
	ASSERT_EQ(num(vm, "quota"), 40);
	json_decref(p);
	json_decref(vm);
}
