/* SPDX-License-Identifier: MIT */
/*
 * A VM's zone: <zonepath>/config/zone.json, the zone runtime's config (and
 * net.json, its NICs: core-net.c), written from the VM's record whenever it changes (as SmartOS
 * writes a zone's zonecfg from vmadm's properties). The limits keep vmadm's names and units; the
 * runtime turns them into cgroup values.
 *
 * How the zone is asked to stop depends on its init, which comes from the
 * image: busybox init powers off on SIGUSR2, systemd on SIGRTMIN+4, and
 * SysV-style inits take SIGPWR. The image's /sbin/init link is read inside
 * the zone root (openat2 with RESOLVE_IN_ROOT: the image is not trusted).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/config.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/path.h"
#include "core/core-internal.h"
#include "core/vm.h"
#include "json/json.h"

/* The signal that makes the zone's init power off, from what /sbin/init is. */
static const char *
stop_signal_for(const char *zonepath)
{
	_cleanup_free_ char *root = NULL;
	_cleanup_close_ int rfd = -EBADF, lfd = -EBADF;
	struct open_how how = {.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
	                       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	char target[256];
	ssize_t n;

	if (path_join(zonepath, "root", &root) < 0)
		return NULL;
	rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return NULL;
	lfd = (int)syscall(SYS_openat2, rfd, "sbin/init", &how, sizeof(how));
	if (lfd < 0)
		return NULL;
	n = readlinkat(lfd, "", target, sizeof(target) - 1);
	if (n <= 0)
		return NULL;
	target[n] = 0;
	if (strstr(target, "busybox"))
		return "SIGUSR2";
	if (strstr(target, "systemd"))
		return "SIGRTMIN+4";
	return NULL;
}

/* The host directory shown read-only at /native in every zone (node config zone_native_dir). */
static char *
native_dir(void)
{
	_cleanup_(hv_config_freep) struct hv_config *cfg = NULL;
	const char *v;

	if (hv_node_config_load(&cfg, NULL) < 0 || !(v = hv_config_get(cfg, "zone_native_dir")) ||
	    v[0] != '/')
		return NULL;
	return strdup(v);
}

/* Copy an integer member when the VM has it (and, where zero means "unset", is not 0). */
static int
copy_int(json_t *zc, const json_t *vm, const char *key, bool skip_zero)
{
	json_t *v = json_object_get(vm, key);

	if (!json_is_integer(v) || (skip_zero && json_integer_value(v) == 0))
		return 0;
	return hv_json_set(zc, key, json_integer(json_integer_value(v)));
}

/* The id range the zone already has (0: none). */
static uint32_t
current_uid_base(const char *path)
{
	json_auto_t *o = NULL;
	int64_t n;

	if (hv_json_load_file(path, 1024 * 1024, &o, NULL) < 0 ||
	    hv_json_get_int(o, "uid_base", &n, NULL) < 0 || n <= 0 || n > UINT32_MAX)
		return 0;
	return (uint32_t)n;
}

int
vm_zone_config_write(const json_t *vm, uint32_t uid_base, struct hv_error **reterr)
{
	static const char *const limits[] = {"max_physical_memory", "max_swap", "max_locked_memory",
	                                     "cpu_shares",          "max_lwps", "zfs_io_priority"};
	_cleanup_free_ char *zonepath = NULL, *path = NULL, *text = NULL, *native = NULL;
	json_auto_t *zc = json_object();
	const char *uuid = NULL, *s, *sig;
	int r = 0;

	if (!zc)
		return -ENOMEM;
	if (hv_json_get_string(vm, "uuid", &uuid, reterr) < 0)
		return -EINVAL;
	if (hv_vm_zonepath(uuid, &zonepath) < 0 ||
	    path_join(zonepath, "config/zone.json", &path) < 0)
		return -ENOMEM;
	if (!uid_base)
		uid_base = current_uid_base(path);
	r = hv_json_set(zc, "uuid", json_string(uuid));
	if (r >= 0 && hv_json_get_string(vm, "zpool", &s, NULL) >= 0)
		r = hv_json_set(zc, "pool", json_string(s));
	if (r >= 0)
		r = hv_json_set(zc, "brand", json_string(vm_is_kvm(vm) ? "kvm" : "lx"));
	if (r >= 0 && hv_json_get_string(vm, "hostname", &s, NULL) >= 0)
		r = hv_json_set(zc, "hostname", json_string(s));
	if (r >= 0 && hv_json_get_string(vm, "init_name", &s, NULL) >= 0)
		r = hv_json_set(zc, "init", json_string(s));
	if (r >= 0 && json_is_boolean(json_object_get(vm, "restart_init")))
		r = hv_json_set(zc, "restart_init",
		                json_boolean(json_is_true(json_object_get(vm, "restart_init"))));
	if (r >= 0 && (sig = stop_signal_for(zonepath)))
		r = hv_json_set(zc, "stop_signal", json_string(sig));
	if (r >= 0 && uid_base)
		r = hv_json_set(zc, "uid_base", json_integer(uid_base));
	if (r >= 0 && (native = native_dir()))
		r = hv_json_set(zc, "native", json_string(native));
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(limits); i++)
		r = copy_int(zc, vm, limits[i], false);
	/* tmpfs 0 and cpu_cap 0 mean "none" in vmadm; the runtime has its defaults then. */
	if (r >= 0)
		r = copy_int(zc, vm, "tmpfs", true);
	if (r >= 0)
		r = copy_int(zc, vm, "cpu_cap", true);
	if (r < 0 || !(text = hv_json_dumps(zc)))
		return -ENOMEM;
	r = write_file_atomic(path, text, strlen(text), 0644);
	if (r < 0)
		return hv_error_set(reterr, r, "VM %s: cannot write its zone config: %m", uuid);
	if (vm_is_kvm(vm) && (r = vm_hvm_config_write(vm, zonepath, reterr)) < 0)
		return r;
	return vm_net_config_write(vm, reterr);
}
