/* SPDX-License-Identifier: MIT */
/* The property table's invariants, lookups, suggestions, brands and the man page. */
#include <stdlib.h>

#include "basic/cleanup.h"
#include "core/vm-props.h"
#include "json/json.h"
#include "tests.h"

static void
check_entry(const struct hv_prop *p, const char *where)
{
	if (!p->name || !*p->name)
		tests_fail(__FILE__, __LINE__, "%s: an entry without a name", where);
	if (!p->doc || strlen(p->doc) < 20 || p->doc[0] == '.' || p->doc[0] == '\'')
		tests_fail(__FILE__, __LINE__, "%s.%s: no proper doc", where, p->name);
	if (p->type >= _HV_PROP_TYPE_MAX || p->format >= _HV_PROP_FMT_MAX)
		tests_fail(__FILE__, __LINE__, "%s.%s: bad type or format", where, p->name);
	if (!p->brands || (p->brands & ~HV_BRANDS_ALL) || (p->required & ~p->brands))
		tests_fail(__FILE__, __LINE__, "%s.%s: bad brands", where, p->name);
	if ((p->flags & HV_PROP_RO) && (p->flags & (HV_PROP_C | HV_PROP_U)))
		tests_fail(__FILE__, __LINE__, "%s.%s: computed but settable", where, p->name);
	if (!(p->flags & HV_PROP_RO) && !(p->flags & (HV_PROP_C | HV_PROP_U)))
		tests_fail(__FILE__, __LINE__, "%s.%s: neither computed nor settable", where,
		           p->name);
	if ((p->flags & HV_PROP_STORED) && !(p->flags & HV_PROP_RO))
		tests_fail(__FILE__, __LINE__, "%s.%s: stored but not computed", where, p->name);
	if (!!(p->flags & HV_PROP_ALIAS) != !!p->alias_of)
		tests_fail(__FILE__, __LINE__, "%s.%s: alias flag and alias_of disagree", where,
		           p->name);
	if (p->values && p->type != HV_PROP_STRING)
		tests_fail(__FILE__, __LINE__, "%s.%s: values on a non-string", where, p->name);
	if ((p->flags & HV_PROP_AS_STRING) && p->type != HV_PROP_LIST)
		tests_fail(__FILE__, __LINE__, "%s.%s: AS_STRING on a non-list", where, p->name);
	if (p->flags & HV_PROP_RO)
		return;
	if (p->type == HV_PROP_INT && (p->min > p->max || p->max <= 0))
		tests_fail(__FILE__, __LINE__, "%s.%s: bad bounds", where, p->name);
	if ((p->type == HV_PROP_STRING || p->type == HV_PROP_LIST || p->type == HV_PROP_MAP ||
	     p->type == HV_PROP_ROUTES || p->type == HV_PROP_ARRAY) &&
	    p->max <= 0)
		tests_fail(__FILE__, __LINE__, "%s.%s: unbounded", where, p->name);
	if (p->type == HV_PROP_TIMESTAMP || p->type == HV_PROP_OBJECT)
		tests_fail(__FILE__, __LINE__, "%s.%s: a computed type but settable", where,
		           p->name);
}

TEST(every_property_is_sane)
{
	size_t n;
	const struct hv_prop *props = hv_vm_props(&n);

	ASSERT_TRUE(n > 100);
	for (size_t i = 0; i < n; i++) {
		check_entry(&props[i], "top");
		for (size_t j = 0; j < props[i].n_members; j++)
			check_entry(&props[i].members[j], props[i].name);
	}
}

TEST(table_is_sorted_and_unique)
{
	size_t n;
	const struct hv_prop *props = hv_vm_props(&n);

	for (size_t i = 1; i < n; i++)
		if (strcmp(props[i - 1].name, props[i].name) >= 0)
			tests_fail(__FILE__, __LINE__, "'%s' before '%s'", props[i - 1].name,
			           props[i].name);
	for (size_t i = 0; i < n; i++)
		ASSERT_TRUE(hv_vm_prop_find(props[i].name) == &props[i]);
	ASSERT_TRUE(hv_vm_prop_find("nope") == NULL);
	ASSERT_TRUE(hv_vm_prop_find("") == NULL);
	ASSERT_TRUE(hv_vm_prop_find(NULL) == NULL);
}

TEST(aliases_point_at_real_properties)
{
	size_t n, aliases = 0;
	const struct hv_prop *props = hv_vm_props(&n);

	for (size_t i = 0; i < n; i++) {
		const struct hv_prop *t;

		for (size_t j = 0; j < props[i].n_members; j++)
			if (props[i].members[j].alias_of) {
				t = hv_vm_prop_member(&props[i], props[i].members[j].alias_of);
				ASSERT_TRUE(t && !(t->flags & HV_PROP_ALIAS));
				aliases++;
			}
		if (!props[i].alias_of)
			continue;
		t = hv_vm_prop_find(props[i].alias_of);
		ASSERT_TRUE(t && !(t->flags & HV_PROP_ALIAS));
		aliases++;
	}
	ASSERT_EQ(aliases, 5); /* dataset_uuid, zfs_storage_pool_name, nics.*.ip/netmask/gateway */
	ASSERT_STREQ(hv_vm_prop_find("dataset_uuid")->alias_of, "image_uuid");
	ASSERT_STREQ(hv_vm_prop_find("zfs_storage_pool_name")->alias_of, "zpool");
	ASSERT_STREQ(hv_vm_prop_member(hv_vm_prop_find("nics"), "ip")->alias_of, "ips");
	ASSERT_TRUE(hv_vm_prop_member(hv_vm_prop_find("disks"), "image_name") != NULL);
}

TEST(arrays_have_members_and_a_key)
{
	size_t n, arrays = 0;
	const struct hv_prop *props = hv_vm_props(&n);

	for (size_t i = 0; i < n; i++) {
		const struct hv_prop *k;

		if (props[i].type != HV_PROP_ARRAY) {
			ASSERT_TRUE(props[i].members == NULL && props[i].key == NULL);
			continue;
		}
		arrays++;
		ASSERT_TRUE(props[i].members && props[i].n_members > 0 && props[i].key);
		k = hv_vm_prop_member(&props[i], props[i].key);
		ASSERT_TRUE(k && k->type == HV_PROP_STRING);
	}
	ASSERT_EQ(arrays, 5); /* nics, disks, filesystems, pci_devices, snapshots */
	ASSERT_STREQ(hv_vm_prop_find("nics")->key, "mac");
	ASSERT_STREQ(hv_vm_prop_find("disks")->key, "path");
	ASSERT_STREQ(hv_vm_prop_find("filesystems")->key, "target");
	ASSERT_STREQ(hv_vm_prop_find("pci_devices")->key, "path");
	ASSERT_TRUE(hv_vm_prop_member(hv_vm_prop_find("nics"), "nope") == NULL);
	ASSERT_TRUE(hv_vm_prop_member(NULL, "mac") == NULL);
}

/* §1.3's listable fields, headers and widths. */
TEST(list_columns)
{
	static const struct {
		const char *name, *header;
		unsigned width;
	} cols[] = {
	        {"alias", "ALIAS", 10},
	        {"autoboot", "AUTOBOOT", 8},
	        {"billing_id", "BILLING_ID", 36},
	        {"boot_timestamp", "BOOT_TIMESTAMP", 24},
	        {"brand", "BRAND", 14},
	        {"cpu_cap", "CPU_CAP", 7},
	        {"cpu_shares", "CPU_SHARE", 9},
	        {"cpu_type", "CPU_TYPE", 8},
	        {"create_timestamp", "CREATE_TIMESTAMP", 24},
	        {"dns_domain", "DOMAIN", 32},
	        {"do_not_inventory", "DNI", 5},
	        {"docker", "DOCKER", 6},
	        {"exit_status", "EXIT", 4},
	        {"exit_timestamp", "EXIT_TIMESTAMP", 24},
	        {"firewall_enabled", "FIREWALL_ENABLED", 16},
	        {"flexible_disk_size", "FLEX_DISK_SIZE", 14},
	        {"free_space", "FREE_SPACE", 14},
	        {"hostname", "HOSTNAME", 32},
	        {"hvm", "HVM", 5},
	        {"image_uuid", "IMAGE_UUID", 36},
	        {"indestructible_delegated", "INDESTR_DATA", 12},
	        {"indestructible_zoneroot", "INDESTR_ROOT", 12},
	        {"ram", "RAM", 7},
	        {"max_locked_memory", "MAX_LOCKED", 10},
	        {"max_lwps", "MAX_LWP", 7},
	        {"max_physical_memory", "MAX_PHYS", 8},
	        {"max_swap", "MAX_SWAP", 8},
	        {"owner_uuid", "OWNER_UUID", 36},
	        {"package_name", "PACKAGE_NAME", 32},
	        {"package_version", "PACKAGE_VER", 11},
	        {"pid", "PID", 6},
	        {"qemu_extra_opts", "QEMU_EXTRA_OPTS", 15},
	        {"quota", "QUOTA", 5},
	        {"zone_state", "ZONE_STATE", 10},
	        {"state", "STATE", 16},
	        {"tmpfs", "TMPFS", 5},
	        {"type", "TYPE", 4},
	        {"uuid", "UUID", 36},
	        {"vcpus", "VCPUS", 5},
	        {"zfs_io_priority", "IO_PRIORITY", 11},
	        {"zpool", "ZPOOL", 12},
	        {"zonename", "ZONENAME", 12},
	        {"zonepath", "ZONEPATH", 40},
	        {"zoneid", "ZONEID", 6},
	};
	size_t n, listable = 0;
	const struct hv_prop *props = hv_vm_props(&n);

	for (size_t i = 0; i < ELEMENTSOF(cols); i++) {
		const struct hv_prop *p = hv_vm_prop_find(cols[i].name);

		if (!p)
			tests_fail(__FILE__, __LINE__, "no property '%s'", cols[i].name);
		ASSERT_STREQ(p->header, cols[i].header);
		ASSERT_EQ(p->width, cols[i].width);
	}
	for (size_t i = 0; i < n; i++) {
		if (!props[i].header) {
			ASSERT_EQ(props[i].width, 0);
			continue;
		}
		listable++;
		if (props[i].width < strlen(props[i].header))
			tests_fail(__FILE__, __LINE__, "%s: width %u < header %s", props[i].name,
			           props[i].width, props[i].header);
	}
	ASSERT_EQ(listable, ELEMENTSOF(cols));
}

/* Every property of smartos.md §2.2 and §2.7 is in the table. */
TEST(smartos_properties_are_all_there)
{
	static const char *const names[] = {
	        "alias", "archive_on_delete", "autoboot", "billing_id", "bhyve_extra_opts", "boot",
	        "bootrom", "brand", "com1", "com2", "cpu_cap", "cpu_shares", "cpu_type",
	        "customer_metadata", "delegate_dataset", "disk_driver", "disks", "dns_domain",
	        "do_not_inventory", "docker", "filesystems", "firewall_enabled",
	        "flexible_disk_size", "fs_allowed", "hostname", "image_uuid",
	        "indestructible_delegated", "indestructible_zoneroot", "init_name",
	        "internal_metadata", "internal_metadata_namespaces", "kernel_version", "limit_priv",
	        "maintain_resolvers", "max_locked_memory", "max_lwps", "max_msg_ids", "max_sem_ids",
	        "max_shm_ids", "max_shm_memory", "max_physical_memory", "max_swap",
	        "mdata_exec_timeout", "nic_driver", "nics", "nowait", "owner_uuid", "package_name",
	        "package_version", "pci_devices", "qemu_opts", "qemu_extra_opts", "quota", "ram",
	        "resolvers", "restart_init", "routes", "spice_opts", "spice_password", "spice_port",
	        "tags", "tmpfs", "uuid", "vcpus", "vga", "virtio_txburst", "virtio_txtimer",
	        "vnc_password", "vnc_port", "zfs_data_compression", "zfs_data_recsize",
	        "zfs_filesystem_limit", "zfs_io_priority", "zfs_root_compression",
	        "zfs_root_recsize", "zfs_snapshot_limit", "zlog_max_size", "zone_dataset_uuid",
	        "zonename", "zpool", "create_only",
	        /* computed */
	        "v", "zonepath", "zfs_filesystem", "zoneid", "zonedid", "state", "zone_state",
	        "pid", "boot_timestamp", "create_timestamp", "last_modified", "exit_status",
	        "exit_timestamp", "hvm", "type", "datasets", "snapshots", "server_uuid",
	        "datacenter_name", "headnode_id", "platform_buildstamp", "free_space",
	        "transition_to", "transition_expire", "zlog_mode", "zlog_name", "init_restarts",
	        "missing",
	        /* deprecated */
	        "dataset_uuid", "zfs_storage_pool_name"};

	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (!hv_vm_prop_find(names[i]))
			tests_fail(__FILE__, __LINE__, "no property '%s'", names[i]);
	ASSERT_EQ(hv_vm_prop_find("create_timestamp")->flags, HV_PROP_RO | HV_PROP_STORED);
	ASSERT_TRUE(hv_vm_prop_find("state")->flags & HV_PROP_RO);
	ASSERT_EQ(hv_vm_prop_find("image_uuid")->required & HV_BRANDS_L, HV_BRANDS_L);
	ASSERT_EQ(hv_vm_prop_find("kernel_version")->required, 0);
	ASSERT_EQ(hv_vm_prop_find("nowait")->brands & HV_BRANDS_K, 0);
	ASSERT_TRUE(hv_vm_prop_find("nowait")->brands & HV_BRANDS_L);
	ASSERT_EQ(hv_vm_prop_find("bootrom")->brands, HV_BRANDS_B);
}

TEST(suggestions)
{
	const struct hv_prop *nics = hv_vm_prop_find("nics");
	const unsigned lx = HV_BRANDS_L, kvm = HV_BRANDS_K;

	ASSERT_STREQ(hv_vm_prop_suggest("max_physical_memroy", NULL, lx, HV_PROP_C),
	             "max_physical_memory");
	ASSERT_STREQ(hv_vm_prop_suggest("autobot", NULL, lx, HV_PROP_C), "autoboot");
	ASSERT_STREQ(hv_vm_prop_suggest("cpu_sahres", NULL, lx, HV_PROP_C), "cpu_shares");
	ASSERT_STREQ(hv_vm_prop_suggest("hostnme", NULL, lx, HV_PROP_C), "hostname");
	ASSERT_STREQ(hv_vm_prop_suggest("Image_UUID", NULL, lx, HV_PROP_C), "image_uuid");
	ASSERT_STREQ(hv_vm_prop_suggest("rma", NULL, kvm, HV_PROP_C), "ram");
	ASSERT_STREQ(hv_vm_prop_suggest("vcpu", NULL, kvm, HV_PROP_C), "vcpus");
	ASSERT_STREQ(hv_vm_prop_suggest("ipz", nics, lx, HV_PROP_C), "ips");
	ASSERT_STREQ(hv_vm_prop_suggest("nic_tga", nics, lx, HV_PROP_C), "nic_tag");
	ASSERT_STREQ(hv_vm_prop_suggest("gatways", nics, lx, HV_PROP_C), "gateways");
	ASSERT_STREQ(hv_vm_prop_suggest("set_tag", NULL, lx, HV_PROP_U), "set_tags");
	ASSERT_STREQ(hv_vm_prop_suggest("remove_nic", NULL, lx, HV_PROP_U), "remove_nics");
	ASSERT_STREQ(hv_vm_prop_suggest("updte_nics", NULL, lx, HV_PROP_U), "update_nics");
	/* Only names valid for the brand and action. */
	ASSERT_TRUE(hv_vm_prop_suggest("vcpu", NULL, lx, HV_PROP_C) == NULL);
	ASSERT_TRUE(hv_vm_prop_suggest("bootromm", NULL, kvm, HV_PROP_C) == NULL);
	ASSERT_STREQ(hv_vm_prop_suggest("bootromm", NULL, HV_BRANDS_B, HV_PROP_C), "bootrom");
	ASSERT_TRUE(hv_vm_prop_suggest("set_tag", NULL, lx, HV_PROP_C) == NULL);
	ASSERT_TRUE(hv_vm_prop_suggest("uuid_", NULL, lx, HV_PROP_U) == NULL);
	ASSERT_TRUE(hv_vm_prop_suggest("nic", NULL, lx, HV_PROP_U) == NULL);
	ASSERT_TRUE(hv_vm_prop_suggest("stat", NULL, lx, HV_PROP_C) == NULL); /* computed */
	/* Nothing close, too short, too long, no aliases offered. */
	ASSERT_TRUE(hv_vm_prop_suggest("xyzzy", NULL, lx, HV_PROP_C) == NULL);
	ASSERT_TRUE(hv_vm_prop_suggest("ab", NULL, lx, HV_PROP_C) == NULL);
	ASSERT_TRUE(hv_vm_prop_suggest("dataset_uuidd", NULL, lx, HV_PROP_C) == NULL);
	ASSERT_TRUE(hv_vm_prop_suggest(NULL, NULL, lx, HV_PROP_C) == NULL);
	{
		char longname[300];
		memset(longname, 'a', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = 0;
		ASSERT_TRUE(hv_vm_prop_suggest(longname, NULL, lx, HV_PROP_C) == NULL);
	}
}

TEST(brands)
{
	for (int b = 0; b < _HV_BRAND_MAX; b++) {
		const char *s = hv_brand_to_string((enum hv_brand)b);
		ASSERT_TRUE(s != NULL);
		ASSERT_EQ(hv_brand_from_string(s), b);
	}
	ASSERT_STREQ(hv_brand_to_string(HV_BRAND_JOYENT_MINIMAL), "joyent-minimal");
	ASSERT_EQ(hv_brand_from_string("lx"), HV_BRAND_LX);
	ASSERT_EQ(hv_brand_from_string("LX"), -EINVAL);
	ASSERT_EQ(hv_brand_from_string(""), -EINVAL);
	ASSERT_EQ(hv_brand_from_string(NULL), -EINVAL);
	ASSERT_TRUE(hv_brand_to_string(_HV_BRAND_MAX) == NULL);
	ASSERT_TRUE(hv_brand_supported(HV_BRAND_LX) && hv_brand_supported(HV_BRAND_KVM));
	ASSERT_FALSE(hv_brand_supported(HV_BRAND_JOYENT) || hv_brand_supported(HV_BRAND_BHYVE) ||
	             hv_brand_supported(HV_BRAND_JOYENT_MINIMAL));
	ASSERT_TRUE(hv_brand_is_hvm(HV_BRAND_KVM) && hv_brand_is_hvm(HV_BRAND_BHYVE));
	ASSERT_FALSE(hv_brand_is_hvm(HV_BRAND_LX));
	for (int f = 0; f < _HV_PROP_FMT_MAX; f++)
		ASSERT_TRUE(hv_prop_format_to_string((enum hv_prop_format)f) != NULL);
}

static char *
normalized(const char *name, const char *json)
{
	json_t *v = json_loads(json, JSON_DECODE_ANY, NULL), *n;
	char *s;

	ASSERT_TRUE(v != NULL);
	n = hv_vm_prop_normalize(hv_vm_prop_find(name), v);
	ASSERT_TRUE(n != NULL);
	s = json_dumps(n, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	json_decref(n);
	return s;
}

TEST(normalize)
{
	_cleanup_free_ char *a = normalized("quota", "\"40\""),
	                    *b = normalized("autoboot", "\"false\""),
	                    *c = normalized("resolvers", "\"9.9.9.9,1.1.1.1\""),
	                    *d = normalized("limit_priv", "[\"default\",\"-proc_info\"]"),
	                    *e = normalized("resolvers", "\"\""), *f = normalized("quota", "40"),
	                    *g = normalized("nics",
	                                    "[{\"mac\":\"B2:1E:BA:A5:6E:71\",\"vlan_id\":\"5\","
	                                    "\"primary\":\"true\",\"x\":1}]");

	ASSERT_STREQ(a, "40");
	ASSERT_STREQ(b, "false");
	ASSERT_STREQ(c, "[\"9.9.9.9\",\"1.1.1.1\"]");
	ASSERT_STREQ(d, "\"default,-proc_info\"");
	ASSERT_STREQ(e, "[]");
	ASSERT_STREQ(f, "40");
	ASSERT_STREQ(g, "[{\"mac\":\"b2:1e:ba:a5:6e:71\",\"vlan_id\":5,\"primary\":true,\"x\":1}]");
}

TEST(man_page)
{
	_cleanup_free_ char *buf = NULL;
	size_t size = 0, n;
	FILE *f = open_memstream(&buf, &size);
	const struct hv_prop *props = hv_vm_props(&n);

	ASSERT_TRUE(f != NULL);
	ASSERT_OK(hv_vm_props_man(f));
	fclose(f);
	ASSERT_TRUE(strncmp(buf, ".TH VMADM-PROPERTIES 7", 22) == 0);
	ASSERT_CONTAINS(buf, "\n.SH NAME\n");
	ASSERT_CONTAINS(buf, "\n.SH SYNOPSIS\n");
	ASSERT_CONTAINS(buf, "\n.SH NICS\n");
	ASSERT_CONTAINS(buf, "\n.SH DISKS\n");
	ASSERT_CONTAINS(buf, "\n.SH FILESYSTEMS\n");
	ASSERT_CONTAINS(buf, "\n.SH DIFFERENCES FROM SMARTOS\n");
	for (size_t i = 0; i < n; i++) {
		char want[128];

		snprintf(want, sizeof(want), "\n.B %s\n", props[i].name);
		ASSERT_CONTAINS(buf, want);
	}
	ASSERT_CONTAINS(buf, ".B vrrp_primary_ip\n");
	/* roff: no line starts with a quote or a stray dot. */
	for (const char *l = buf; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		ASSERT_TRUE(*l != '\'');
}
