/* SPDX-License-Identifier: MIT */
/*
 * sysinfo collection. Each collect_* function adds one group of fields and
 * reads one source: /proc for memory, boot time and the command line, /sys
 * for CPUs, disks, links and SMBIOS, the node config for nic tags and
 * datacenter facts. A source that a machine lacks (no SMBIOS in a
 * Firecracker guest) leaves its fields out; a source every Linux has
 * (/proc/meminfo) failing is an error.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/config.h"
#include "basic/fileio.h"
#include "basic/parse.h"
#include "basic/root.h"
#include "basic/strv.h"
#include "core/sysinfo.h"
#include "json/json.h"
#include "vm/machine.h"
#include "sable-version.h"
#include "storage/pool.h"

#define SYSFS_CPU "/sys/devices/system/cpu"

static int
set_str(json_t *o, const char *key, const char *value)
{
	return hv_json_set(o, key, hv_json_string_sanitized(value));
}

static int
set_int(json_t *o, const char *key, long long value)
{
	return hv_json_set(o, key, json_integer(value));
}

/* The value of "Key: value" (or "key value") lines in /proc files. */
static int
proc_field(const char *text, const char *key, char **ret)
{
	size_t kl = strlen(key);

	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		const char *v;

		if (strncmp(l, key, kl) != 0)
			continue;
		v = l + kl;
		if (*v != ':' && !isblank((unsigned char)*v))
			continue;
		while (*v == ':' || isblank((unsigned char)*v))
			v++;
		*ret = strndup(v, strcspn(v, "\n"));
		return *ret ? 0 : -ENOMEM;
	}
	return -ENOENT;
}

int
hv_sysinfo_host_uuid(char ret[static UUID_STRING_LEN + 1], struct hv_error **reterr)
{
	return hv_host_uuid(ret, reterr);
}

/* Number of CPUs in a sysfs CPU list such as "0-3,8,10-11". */
static int
cpu_list_count(const char *list, unsigned *ret)
{
	_cleanup_strv_free_ char **parts = NULL;
	unsigned n = 0;
	int r;

	r = strv_split(list, ',', &parts);
	if (r < 0)
		return r;
	STRV_FOREACH (p, parts) {
		_cleanup_free_ char *a = NULL;
		uint32_t lo, hi;
		char *dash = strchr(*p, '-');

		if (isempty(*p))
			continue;
		a = strndup(*p, dash ? (size_t)(dash - *p) : strlen(*p));
		if (!a)
			return -ENOMEM;
		if (safe_atou32(a, &lo) < 0 || safe_atou32(dash ? dash + 1 : a, &hi) < 0 || hi < lo)
			return -EINVAL;
		n += hi - lo + 1;
	}
	*ret = n;
	return 0;
}

static int
sysfs_cpu_count(const char *file, unsigned *ret)
{
	_cleanup_free_ char *s = NULL;
	int r;

	r = read_one_line_file(file, &s);
	if (r < 0)
		return r;
	return cpu_list_count(s, ret);
}

/* Sockets and cores from sysfs topology: distinct packages, distinct (package, core) pairs. */
static int
cpu_topology(unsigned *ret_sockets, unsigned *ret_cores)
{
	_cleanup_closedir_ DIR *d = opendir(SYSFS_CPU);
	_cleanup_free_ long(*seen)[2] = NULL;
	size_t n = 0, alloc = 0;
	unsigned sockets = 0;
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		_cleanup_free_ char *pk = NULL, *co = NULL, *p1 = NULL, *p2 = NULL;
		uint32_t cpu;
		bool new_pkg = true, new_core = true;
		long pkg, core;

		if (!startswith(de->d_name, "cpu") || safe_atou32(de->d_name + 3, &cpu) < 0)
			continue;
		if (asprintf(&p1, SYSFS_CPU "/%s/topology/physical_package_id", de->d_name) < 0 ||
		    asprintf(&p2, SYSFS_CPU "/%s/topology/core_id", de->d_name) < 0)
			return -ENOMEM;
		if (read_one_line_file(p1, &pk) < 0 || read_one_line_file(p2, &co) < 0)
			continue; /* offline CPUs have no topology */
		pkg = strtol(pk, NULL, 10);
		core = strtol(co, NULL, 10);
		for (size_t i = 0; i < n; i++) {
			if (seen[i][0] == pkg) {
				new_pkg = false;
				if (seen[i][1] == core)
					new_core = false;
			}
		}
		if (new_pkg)
			sockets++;
		if (!new_core)
			continue;
		if (n == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			long(*ns)[2] = reallocarray(seen, alloc, sizeof(*seen));
			if (!ns)
				return -ENOMEM;
			seen = ns;
		}
		seen[n][0] = pkg;
		seen[n][1] = core;
		n++;
	}
	*ret_sockets = sockets;
	*ret_cores = (unsigned)n;
	return 0;
}

static bool
kvm_usable(void)
{
	_cleanup_close_ int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	return fd >= 0 && ioctl(fd, KVM_GET_API_VERSION, 0) == KVM_API_VERSION;
}

/*
 * What kvm VMs run on here (lib/vm: hvm_accel, and with auto the answer of
 * a real test boot under KVM, once per host boot): "HVM Accelerator" is
 * kvm or tcg, "HVM Accelerator Reason" says why, e.g. that /dev/kvm opens
 * but a kernel does not boot on it. Sable's own names; SmartOS has none.
 */
static int
collect_hvm_accel(json_t *o)
{
	_cleanup_free_ char *accel = NULL, *why = NULL;
	int r;

	if (hv_vm_accel(&accel, &why, NULL) < 0)
		return 0; /* a bad hvm_accel is for vmadm to report */
	if ((r = set_str(o, "HVM Accelerator", accel)) < 0)
		return r;
	return set_str(o, "HVM Accelerator Reason", why ? why : "");
}

static int
collect_cpu(json_t *o, struct hv_error **reterr)
{
	_cleanup_free_ char *cpuinfo = NULL, *model = NULL, *flags = NULL;
	unsigned count = 0, online = 0, sockets = 0, cores = 0;
	const char *virt = "none";
	struct utsname u;
	int r;

	r = read_full_file("/proc/cpuinfo", 16 * 1024 * 1024, &cpuinfo, NULL);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot read '/proc/cpuinfo': %m");
	if (proc_field(cpuinfo, "model name", &model) < 0 && uname(&u) == 0)
		model = strdup(u.machine);
	if (proc_field(cpuinfo, "flags", &flags) >= 0) {
		_cleanup_strv_free_ char **l = NULL;

		if (strv_split(flags, ' ', &l) < 0)
			return -ENOMEM;
		if (strv_contains(l, "vmx"))
			virt = "vmx";
		else if (strv_contains(l, "svm"))
			virt = "svm";
	}

	r = sysfs_cpu_count(SYSFS_CPU "/present", &count);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot read '" SYSFS_CPU "/present': %m");
	r = sysfs_cpu_count(SYSFS_CPU "/online", &online);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot read '" SYSFS_CPU "/online': %m");
	r = cpu_topology(&sockets, &cores);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot read CPU topology: %m");

	if ((r = set_str(o, "CPU Type", model ? model : "unknown")) < 0 ||
	    (r = set_str(o, "CPU Virtualization", virt)) < 0 ||
	    (r = set_int(o, "CPU Count", count)) < 0 ||
	    (r = set_int(o, "CPU Online Count", online)) < 0 ||
	    (r = set_int(o, "CPU Socket Count", sockets)) < 0 ||
	    (r = set_int(o, "CPU Core Count", cores)) < 0 ||
	    /* SmartOS's legacy names: "physical cores" are sockets, "total cores" are CPUs. */
	    (r = set_int(o, "CPU Physical Cores", sockets)) < 0 ||
	    (r = set_int(o, "CPU Total Cores", count)) < 0 ||
	    (r = hv_json_set(o, "VM Capable", json_boolean(kvm_usable()))) < 0)
		return r;
	return collect_hvm_accel(o);
}

static int
collect_memory_and_boot(json_t *o, struct hv_error **reterr)
{
	_cleanup_free_ char *meminfo = NULL, *stat = NULL, *mem = NULL, *btime = NULL, *mib = NULL;
	uint64_t kb;
	int r;

	r = read_full_file("/proc/meminfo", 1024 * 1024, &meminfo, NULL);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot read '/proc/meminfo': %m");
	r = proc_field(meminfo, "MemTotal", &mem);
	if (r < 0)
		return hv_error_set(reterr, -EIO, "'/proc/meminfo' has no MemTotal line");
	mem[strcspn(mem, " ")] = 0;
	if (safe_atou64(mem, &kb) < 0)
		return hv_error_set(reterr, -EIO, "'/proc/meminfo': MemTotal '%s' is not a number",
		                    mem);
	if (asprintf(&mib, "%" PRIu64, kb / 1024) < 0)
		return -ENOMEM;

	r = read_full_file("/proc/stat", 16 * 1024 * 1024, &stat, NULL);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot read '/proc/stat': %m");
	r = proc_field(stat, "btime", &btime);
	if (r < 0)
		return hv_error_set(reterr, -EIO, "'/proc/stat' has no btime line");

	/* Both are strings on SmartOS, and scripts compare them as such. */
	if ((r = set_str(o, "MiB of Memory", mib)) < 0 || (r = set_str(o, "Boot Time", btime)) < 0)
		return r;
	return 0;
}

static int
collect_identity(json_t *o, const struct hv_config *cfg, struct hv_error **reterr)
{
	_cleanup_free_ char *root = NULL;
	char uuid[UUID_STRING_LEN + 1];
	struct utsname u;
	int r;

	r = hv_sysinfo_host_uuid(uuid, reterr);
	if (r < 0)
		return r;
	if (uname(&u) < 0)
		return hv_error_set(reterr, -errno, "uname: %m");
	r = hv_root(&root);
	if (r < 0)
		return r;

	if ((r = set_str(o, "UUID", uuid)) < 0 || (r = set_str(o, "Hostname", u.nodename)) < 0 ||
	    (r = set_str(o, "System Type", u.sysname)) < 0 ||
	    (r = set_str(o, "Kernel Version", u.release)) < 0 ||
	    (r = set_str(o, "Live Image", HV_BUILDSTAMP)) < 0 ||
	    (r = set_str(o, "Sable Version", HV_VERSION)) < 0 ||
	    (r = set_str(o, "Sable Root", root)) < 0)
		return r;

	/* Facts the operator configured: present only when set, as on SmartOS. */
	static const struct {
		const char *key, *field;
	} configured[] = {
	        {"datacenter_name", "Datacenter Name"},
	        {"headnode_id", "Headnode ID"},
	        {"admin_ip", "Admin IP"},
	        {HV_PREFIX_KEY, "Sable Prefix"},
	};
	for (size_t i = 0; i < ELEMENTSOF(configured); i++) {
		const char *v = hv_config_get(cfg, configured[i].key);
		if (v && (r = set_str(o, configured[i].field, v)) < 0)
			return r;
	}
	if (hv_config_get(cfg, "admin_nic") && (r = set_str(o, "Admin NIC Tag", "admin")) < 0)
		return r;
	return 0;
}

static int
collect_smbios(json_t *o)
{
	static const struct {
		const char *file, *field;
	} dmi[] = {
	        {"sys_vendor", "Manufacturer"},      {"product_name", "Product"},
	        {"product_serial", "Serial Number"}, {"product_sku", "SKU Number"},
	        {"product_version", "HW Version"},   {"product_family", "HW Family"},
	};

	for (size_t i = 0; i < ELEMENTSOF(dmi); i++) {
		_cleanup_free_ char *path = NULL, *v = NULL;
		int r;

		if (asprintf(&path, "/sys/class/dmi/id/%s", dmi[i].file) < 0)
			return -ENOMEM;
		if (read_one_line_file(path, &v) < 0 || isempty(v))
			continue;
		r = set_str(o, dmi[i].field, v);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Block devices that are hardware (have a device link), not loop, ram or device-mapper. */
static int
collect_disks(json_t *o)
{
	_cleanup_closedir_ DIR *d = opendir("/sys/block");
	json_t *disks = json_object();
	struct dirent *de;
	int r;

	r = hv_json_set(o, "Disks", disks);
	if (r < 0 || !d)
		return r;
	while ((de = readdir(d))) {
		_cleanup_free_ char *dev = NULL, *sizef = NULL, *s = NULL;
		uint64_t sectors;
		json_t *disk;

		if (de->d_name[0] == '.')
			continue;
		if (asprintf(&dev, "/sys/block/%s/device", de->d_name) < 0 ||
		    asprintf(&sizef, "/sys/block/%s/size", de->d_name) < 0)
			return -ENOMEM;
		if (access(dev, F_OK) < 0 || read_one_line_file(sizef, &s) < 0 ||
		    safe_atou64(s, &sectors) < 0)
			continue;
		disk = json_object();
		r = hv_json_set(disks, de->d_name, disk);
		if (r < 0)
			return r;
		/* GB as disk vendors count them (10^9 bytes), rounded. */
		r = set_int(disk, "Size in GB",
		            (long long)((sectors * 512 + 500000000) / 1000000000));
		if (r < 0)
			return r;
	}
	return 0;
}

/* /proc/cmdline as key/value pairs, up to "--" (what follows belongs to init). */
static int
collect_boot_params(json_t *o)
{
	_cleanup_free_ char *cmdline = NULL;
	json_t *params = json_object();
	int r;

	r = hv_json_set(o, "Boot Parameters", params);
	if (r < 0)
		return r;
	if (read_one_line_file("/proc/cmdline", &cmdline) < 0)
		return 0;

	for (char *p = cmdline; *p;) {
		_cleanup_free_ char *word = NULL;
		char *o_ = NULL, *eq;
		bool quoted = false;

		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		word = o_ = malloc(strlen(p) + 1);
		if (!word)
			return -ENOMEM;
		for (; *p && (quoted || !isspace((unsigned char)*p)); p++) {
			if (*p == '"')
				quoted = !quoted;
			else
				*o_++ = *p;
		}
		*o_ = 0;
		if (streq(word, "--"))
			break;
		eq = strchr(word, '=');
		if (eq)
			*eq = 0;
		r = hv_json_set(params, word, hv_json_string_sanitized(eq ? eq + 1 : "true"));
		if (r < 0)
			return r;
	}
	return 0;
}

/* nic tags from the node config whose <tag>_nic is mac, sorted. */
static int
nic_tags_for(const struct hv_config *cfg, const char *mac, json_t **ret)
{
	_cleanup_strv_free_ char **tags = NULL;
	json_t *a;
	int r;

	for (size_t i = 0; i < cfg->n_entries; i++) {
		const char *k = cfg->entries[i].key;
		size_t kl = strlen(k);
		char m[18];

		if (kl <= 4 || !streq(k + kl - 4, "_nic") ||
		    mac_normalize(cfg->entries[i].value, m) < 0 || !streq(m, mac))
			continue;
		r = strv_consume(&tags, strndup(k, kl - 4));
		if (r < 0)
			return r;
	}
	a = json_array();
	if (!a)
		return -ENOMEM;
	for (size_t n = strv_length(tags), i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(tags[j], tags[i]) < 0) {
				char *t = tags[i];
				tags[i] = tags[j];
				tags[j] = t;
			}
	STRV_FOREACH (t, tags)
		if (json_array_append_new(a, json_string(*t)) < 0) {
			json_decref(a);
			return -ENOMEM;
		}
	*ret = a;
	return 0;
}

static const char *
link_status(const char *ifname)
{
	_cleanup_free_ char *path = NULL, *state = NULL;

	if (asprintf(&path, "/sys/class/net/%s/operstate", ifname) < 0 ||
	    read_one_line_file(path, &state) < 0)
		return "unknown";
	if (streq(state, "up"))
		return "up";
	if (streq(state, "down") || streq(state, "lowerlayerdown") || streq(state, "notpresent"))
		return "down";
	return "unknown";
}

static int
collect_nics(json_t *o, const struct hv_config *cfg)
{
	_cleanup_closedir_ DIR *d = opendir("/sys/class/net");
	struct ifaddrs *ifa_list = NULL;
	json_t *nics = json_object();
	struct dirent *de;
	int r;

	r = hv_json_set(o, "Network Interfaces", nics);
	if (r < 0 || !d)
		return r;
	if (getifaddrs(&ifa_list) < 0)
		ifa_list = NULL;

	/*
	 * A physical NIC has a device behind it. A link that a nic tag names
	 * by MAC is listed too: that is how an operator (or a test) hands
	 * Sable a veth as its "physical" uplink. Nothing else is ever picked.
	 */
	while ((de = readdir(d))) {
		_cleanup_free_ char *dev = NULL, *addrf = NULL, *addr = NULL;
		json_t *nic, *tags = NULL;
		char mac[18], ip4[INET_ADDRSTRLEN] = "";

		if (de->d_name[0] == '.')
			continue;
		if (asprintf(&dev, "/sys/class/net/%s/device", de->d_name) < 0 ||
		    asprintf(&addrf, "/sys/class/net/%s/address", de->d_name) < 0) {
			r = -ENOMEM;
			break;
		}
		if (read_one_line_file(addrf, &addr) < 0 || mac_normalize(addr, mac) < 0)
			continue;
		r = nic_tags_for(cfg, mac, &tags);
		if (r < 0)
			break;
		if (access(dev, F_OK) < 0 && json_array_size(tags) == 0) {
			json_decref(tags);
			continue;
		}
		for (struct ifaddrs *i = ifa_list; i; i = i->ifa_next)
			if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
			    streq(i->ifa_name, de->d_name)) {
				inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr,
				          ip4, sizeof(ip4));
				break;
			}
		nic = json_object();
		if ((r = hv_json_set(nics, de->d_name, nic)) < 0 ||
		    (r = set_str(nic, "MAC Address", mac)) < 0 ||
		    (r = set_str(nic, "ip4addr", ip4)) < 0 ||
		    (r = set_str(nic, "Link Status", link_status(de->d_name))) < 0 ||
		    (r = hv_json_set(nic, "NIC Names", tags)) < 0)
			break;
	}
	if (ifa_list)
		freeifaddrs(ifa_list);
	return r;
}

/*
 * The system pool ("zones", else the first the node config records), once
 * it is imported, in SmartOS's Zpool fields. A pool that cannot be opened
 * is left out: sysinfo reports what is, and `pooladm status` explains why.
 */
static int
collect_pool(json_t *o)
{
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_(hv_pool_closep) struct hv_pool *p = NULL;
	struct hv_pool_status *st = NULL;
	_cleanup_strv_free_ char **disks = NULL;
	_cleanup_free_ char *joined = NULL;
	const char *name;
	int r;

	if (hv_pool_list_names(&names, NULL) < 0 || !names[0])
		return 0;
	name = strv_contains(names, "zones") ? "zones" : names[0];
	if (hv_pool_open(name, 0, &p, NULL) < 0 || hv_pool_get_status(p, &st, NULL) < 0)
		return 0;
	for (size_t i = 0; i < st->n_devices; i++)
		if ((r = strv_push(&disks, st->devices[i].path)) < 0)
			goto done;
	joined = disks ? strv_join(disks, ",") : strdup("");
	if (!joined) {
		r = -ENOMEM;
		goto done;
	}
	/* SmartOS's profile names: a btrfs raid1 is a mirror, anything unmirrored is striped. */
	if ((r = set_str(o, "Zpool", name)) < 0 || (r = set_str(o, "Zpool Disks", joined)) < 0 ||
	    (r = set_str(o, "Zpool Profile",
	                 startswith(st->profile, "raid1") ? "mirror"
	                 : streq(st->profile, "raid10")   ? "mirror"
	                 : streq(st->profile, "raid5")    ? "raidz"
	                 : streq(st->profile, "raid6")    ? "raidz2"
	                                                  : "striped")) < 0 ||
	    (r = set_int(o, "Zpool Size in GiB", (long long)(st->size >> 30))) < 0 ||
	    (r = set_str(o, "Zpool Backend", hv_pool_backend_to_string(st->backend))) < 0 ||
	    (r = hv_json_set(o, "Zpool Encrypted", json_false())) < 0)
		goto done;
done:
	hv_pool_status_free(st);
	return r;
}

int
hv_sysinfo_collect(json_t **ret, struct hv_error **reterr)
{
	_cleanup_hv_config_ struct hv_config *cfg = NULL;
	json_auto_t *o = json_object();
	int r;

	if (!o)
		return -ENOMEM;
	r = hv_node_config_load(&cfg, reterr);
	if (r < 0)
		return r;

	if ((r = collect_identity(o, cfg, reterr)) < 0 || (r = collect_cpu(o, reterr)) < 0 ||
	    (r = collect_memory_and_boot(o, reterr)) < 0 || (r = collect_smbios(o)) < 0 ||
	    (r = collect_disks(o)) < 0 || (r = collect_boot_params(o)) < 0 ||
	    (r = collect_nics(o, cfg)) < 0 || (r = collect_pool(o)) < 0)
		return r == -ENOMEM ? hv_error_set(reterr, r, "out of memory") : r;
	*ret = json_incref(o);
	return 0;
}
