/* SPDX-License-Identifier: MIT */
/*
 * sysinfo's fields, checked against what this machine's /proc and /sys say
 * (read here independently of the library's parsers).
 */
#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/uuid.h"
#include "core/sysinfo.h"
#include "json/json.h"
#include "tests.h"

static json_t *
collect(void)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_t *info = NULL;
	int r;

	/* An empty state root: no node config, so no nic tags. */
	setenv("SABLE_ROOT", tests_tmpdir(), 1);
	r = hv_sysinfo_collect(&info, &e);

	if (r < 0)
		tests_fail(__FILE__, __LINE__, "collect: %s", hv_error_message(e, r));
	return info;
}

static const char *
str(json_t *info, const char *key)
{
	json_t *v = json_object_get(info, key);

	if (!json_is_string(v))
		tests_fail(__FILE__, __LINE__, "'%s' is not a string", key);
	return json_string_value(v);
}

static long long
num(json_t *info, const char *key)
{
	json_t *v = json_object_get(info, key);

	if (!json_is_integer(v))
		tests_fail(__FILE__, __LINE__, "'%s' is not an integer", key);
	return json_integer_value(v);
}

TEST(memory_matches_proc_meminfo)
{
	json_t *info = collect();
	unsigned long long kb = 0;
	char line[256];
	FILE *f = fopen("/proc/meminfo", "re");

	ASSERT_TRUE(f != NULL);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	fclose(f);
	ASSERT_TRUE(kb > 0);
	/* A string, as on SmartOS. */
	ASSERT_EQ(strtoull(str(info, "MiB of Memory"), NULL, 10), kb / 1024);
	json_decref(info);
}

TEST(boot_time_matches_proc_stat)
{
	json_t *info = collect();
	unsigned long long bt = 0;
	char line[256], want[32];
	FILE *f = fopen("/proc/stat", "re");

	ASSERT_TRUE(f != NULL);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %llu", &bt) == 1)
			break;
	fclose(f);
	snprintf(want, sizeof(want), "%llu", bt);
	ASSERT_STREQ(str(info, "Boot Time"), want);
	json_decref(info);
}

TEST(cpus_match_sysconf)
{
	json_t *info = collect();

	ASSERT_EQ(num(info, "CPU Count"), sysconf(_SC_NPROCESSORS_CONF));
	ASSERT_EQ(num(info, "CPU Online Count"), sysconf(_SC_NPROCESSORS_ONLN));
	ASSERT_EQ(num(info, "CPU Total Cores"), num(info, "CPU Count"));
	ASSERT_TRUE(num(info, "CPU Socket Count") >= 1);
	ASSERT_TRUE(num(info, "CPU Core Count") >= num(info, "CPU Socket Count"));
	ASSERT_TRUE(num(info, "CPU Core Count") <= num(info, "CPU Count"));
	ASSERT_TRUE(strlen(str(info, "CPU Type")) > 0);
	const char *v = str(info, "CPU Virtualization");
	ASSERT_TRUE(streq(v, "vmx") || streq(v, "svm") || streq(v, "none"));
	ASSERT_TRUE(json_is_boolean(json_object_get(info, "VM Capable")));
	json_decref(info);
}

TEST(identity_matches_uname)
{
	json_t *info = collect();
	struct utsname u;
	char uuid[UUID_STRING_LEN + 1];

	ASSERT_OK(uname(&u));
	ASSERT_STREQ(str(info, "Hostname"), u.nodename);
	ASSERT_STREQ(str(info, "Kernel Version"), u.release);
	ASSERT_STREQ(str(info, "System Type"), "Linux");
	ASSERT_TRUE(uuid_is_valid(str(info, "UUID")));
	ASSERT_OK(hv_sysinfo_host_uuid(uuid, NULL));
	ASSERT_STREQ(str(info, "UUID"), uuid);
	ASSERT_TRUE(strlen(str(info, "Live Image")) > 0);
	json_decref(info);
}

TEST(uuid_comes_from_smbios_or_machine_id)
{
	_cleanup_free_ char *smbios = NULL, *mid = NULL;
	char uuid[UUID_STRING_LEN + 1], want[UUID_STRING_LEN + 1];

	ASSERT_OK(hv_sysinfo_host_uuid(uuid, NULL));
	if (read_one_line_file("/sys/class/dmi/id/product_uuid", &smbios) >= 0) {
		ASSERT_EQ(strcasecmp(uuid, smbios), 0);
		return;
	}
	ASSERT_OK(read_one_line_file("/etc/machine-id", &mid));
	snprintf(want, sizeof(want), "%.8s-%.4s-%.4s-%.4s-%.12s", mid, mid + 8, mid + 12, mid + 16,
	         mid + 20);
	ASSERT_STREQ(uuid, want);
}

TEST(disks_match_sys_block)
{
	json_t *info = collect(), *disks = json_object_get(info, "Disks"), *d;
	const char *name;

	ASSERT_TRUE(json_is_object(disks));
	json_object_foreach (disks, name, d) {
		_cleanup_free_ char *p = NULL, *s = NULL;
		unsigned long long sectors;

		ASSERT_TRUE(asprintf(&p, "/sys/block/%s/size", name) > 0);
		ASSERT_OK(read_one_line_file(p, &s));
		sectors = strtoull(s, NULL, 10);
		ASSERT_EQ(json_integer_value(json_object_get(d, "Size in GB")),
		          (sectors * 512 + 500000000) / 1000000000);
		ASSERT_TRUE(strncmp(name, "loop", 4) != 0);
	}
	json_decref(info);
}

TEST(boot_parameters_from_cmdline)
{
	json_t *info = collect(), *bp = json_object_get(info, "Boot Parameters");
	_cleanup_free_ char *cmdline = NULL;
	char *save = NULL;

	ASSERT_TRUE(json_is_object(bp));
	ASSERT_OK(read_one_line_file("/proc/cmdline", &cmdline));
	for (char *w = strtok_r(cmdline, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(w, '=');
		if (streq(w, "--"))
			break;
		if (strchr(w, '"'))
			continue;
		if (eq) {
			*eq = 0;
			/* A later duplicate wins; only check presence. */
			ASSERT_TRUE(json_is_string(json_object_get(bp, w)));
		} else
			ASSERT_STREQ(json_string_value(json_object_get(bp, w)), "true");
	}
	json_decref(info);
}

TEST(network_interfaces_are_physical)
{
	json_t *info = collect(), *nics = json_object_get(info, "Network Interfaces"), *n;
	const char *name;

	ASSERT_TRUE(json_is_object(nics));
	json_object_foreach (nics, name, n) {
		_cleanup_free_ char *dev = NULL, *addr = NULL, *ap = NULL;

		ASSERT_TRUE(asprintf(&ap, "/sys/class/net/%s/address", name) > 0);
		ASSERT_OK(read_one_line_file(ap, &addr));
		ASSERT_STREQ(json_string_value(json_object_get(n, "MAC Address")), addr);
		ASSERT_TRUE(json_is_array(json_object_get(n, "NIC Names")));
		ASSERT_TRUE(json_is_string(json_object_get(n, "Link Status")));
		ASSERT_TRUE(json_is_string(json_object_get(n, "ip4addr")));
		/* No config here, so only links with hardware behind them. */
		ASSERT_TRUE(asprintf(&dev, "/sys/class/net/%s/device", name) > 0);
		ASSERT_OK(access(dev, F_OK));
	}
	ASSERT_TRUE(json_object_get(nics, "lo") == NULL);
	json_decref(info);
}

TEST(parsable_is_shell_safe)
{
	_cleanup_free_ char *text = NULL;
	json_t *info =
	        json_pack("{s:s, s:s, s:i, s:b, s:{s:{s:s, s:[s,s]}}, s:{s:s}}", "MiB of Memory",
	                  "1024", "Hostname", "it's", "CPU Count", 2, "VM Capable", 1,
	                  "Network Interfaces", "eth-0", "ip4addr", "192.0.2.9", "NIC Names",
	                  "admin", "external", "Boot Parameters", "rcu.x", "a b");

	ASSERT_TRUE(info != NULL);
	ASSERT_OK(hv_sysinfo_format_parsable(info, &text));
	ASSERT_STREQ(text, "Boot_Parameter_rcu_x='a b'\n"
	                   "CPU_Count='2'\n"
	                   "Hostname='it'\\''s'\n"
	                   "MiB_of_Memory='1024'\n"
	                   "Network_Interface_eth_0_NIC_Names='admin,external'\n"
	                   "Network_Interface_eth_0_IPv4_Address='192.0.2.9'\n"
	                   "VM_Capable='true'\n");
	json_decref(info);
}
