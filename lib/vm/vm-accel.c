/* SPDX-License-Identifier: MIT */
/*
 * Which accelerator QEMU uses (machine.h: hv_vm_accel). A /dev/kvm that
 * opens is not proof that guests run: a nested or software KVM can run a
 * few real-mode instructions and still fail every real kernel ("KVM
 * internal error", an MSR it cannot set). So auto boots a Linux kernel
 * under QEMU with KVM, with no root file system, and takes KVM when the
 * kernel gets as far as looking for one (it then panics and QEMU exits:
 * about a second on a real host). The kernel is the node config's
 * hvm_selftest_kernel, else the host's own /boot/vmlinuz-<release>; with
 * none, auto does not guess: it takes tcg and says why. The answer is kept
 * per host boot (the kernel's boot_id) in var/run/sable/hvm-accel.json.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/config.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/root.h"
#include "basic/spawn.h"
#include "json/json.h"
#include "vm/machine.h"

#define SELFTEST_TIMEOUT_MS 8000 /* a kernel reaches its root mount in ~1 s under KVM */

static int
selftest_kernel(const struct hv_config *cfg, char **ret)
{
	const char *v = cfg ? hv_config_get(cfg, "hvm_selftest_kernel") : NULL;
	struct utsname u;
	char p[300];

	if (v && v[0])
		return (*ret = strdup(v)) ? 0 : -ENOMEM;
	if (uname(&u) == 0) {
		snprintf(p, sizeof(p), "/boot/vmlinuz-%s", u.release);
		if (access(p, R_OK) == 0)
			return (*ret = strdup(p)) ? 0 : -ENOMEM;
	}
	if (access("/boot/vmlinuz", R_OK) == 0)
		return (*ret = strdup("/boot/vmlinuz")) ? 0 : -ENOMEM;
	return -ENOENT;
}

/* Boot kernel under KVM: 1 when it ran, 0 when it did not (reason set). */
static int
selftest(const char *kernel, char **reason)
{
	_cleanup_free_ char *qemu = NULL, *out = NULL, *err = NULL;
	char *argv[] = {NULL,
	                "-machine",
	                "pc,accel=kvm",
	                "-cpu",
	                "qemu64",
	                "-m",
	                "128",
	                "-nodefaults",
	                "-no-user-config",
	                "-display",
	                "none",
	                "-no-reboot",
	                "-serial",
	                "stdio",
	                "-kernel",
	                (char *)kernel,
	                "-append",
	                "console=ttyS0 panic=-1 root=/dev/sable-selftest",
	                NULL};
	int status = 0, r;

	if (hv_vm_qemu_path(&qemu, NULL) < 0)
		return asprintf(reason, "no QEMU to test KVM with") < 0 ? -ENOMEM : 0;
	argv[0] = qemu;
	r = spawn_run(argv, SPAWN_STDIN_NULL | SPAWN_CAPTURE_STDOUT | SPAWN_CAPTURE_STDERR,
	              SELFTEST_TIMEOUT_MS, &status, &out, &err);
	if (r >= 0 && out && (strstr(out, "VFS:") || strstr(out, "Kernel panic")))
		return 1;
	if (r == -ETIMEDOUT)
		return asprintf(reason, "a test kernel (%s) did not boot under KVM in %d s", kernel,
		                SELFTEST_TIMEOUT_MS / 1000) < 0
		               ? -ENOMEM
		               : 0;
	{
		const char *why = err && strstr(err, "KVM internal error") ? "KVM internal error"
		                  : out && strstr(out, "KVM internal error")
		                          ? "KVM internal error"
		                          : (err && err[0] ? err : "no sign of life");
		_cleanup_free_ char *line = strndup(why, strcspn(why, "\n"));
		return asprintf(reason, "a test kernel (%s) failed under KVM: %s", kernel,
		                line ? line : "?") < 0
		               ? -ENOMEM
		               : 0;
	}
}

static int
cache_path(char **ret)
{
	return hv_root_path("/var/run/sable/hvm-accel.json", ret);
}

int
hv_vm_accel(char **ret, char **ret_reason, struct hv_error **reterr)
{
	_cleanup_(hv_config_freep) struct hv_config *cfg = NULL;
	_cleanup_free_ char *boot_id = NULL, *path = NULL, *kernel = NULL, *reason = NULL,
	                    *text = NULL;
	json_auto_t *o = NULL;
	const char *v = NULL;
	int fd, ok, r;

	if ((r = hv_node_config_load(&cfg, NULL)) >= 0)
		v = hv_config_get(cfg, "hvm_accel");
	if (!v || !v[0])
		v = "auto";
	if (streq(v, "kvm") || streq(v, "tcg")) {
		if (ret_reason && asprintf(ret_reason, "hvm_accel=%s in the node config", v) < 0)
			return -ENOMEM;
		return (*ret = strdup(v)) ? 0 : -ENOMEM;
	}
	if (!streq(v, "auto"))
		return hv_error_set(reterr, -EINVAL,
		                    "hvm_accel '%s' in the node config: expected auto, kvm or tcg",
		                    v);
	if (read_one_line_file("/proc/sys/kernel/random/boot_id", &boot_id) < 0 ||
	    cache_path(&path) < 0)
		return -ENOMEM;
	if (hv_json_load_file(path, 64 * 1024, &o, NULL) >= 0 &&
	    streq_ptr(json_string_value(json_object_get(o, "boot_id")), boot_id) &&
	    json_is_string(json_object_get(o, "accel"))) {
		const char *why = json_string_value(json_object_get(o, "reason"));
		if (ret_reason && !(*ret_reason = strdup(why ? why : "")))
			return -ENOMEM;
		return (*ret = strdup(json_string_value(json_object_get(o, "accel")))) ? 0
		                                                                       : -ENOMEM;
	}
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		ok = asprintf(&reason, "auto: no usable /dev/kvm (%m), so tcg") < 0 ? -ENOMEM : 0;
	else {
		close(fd);
		if (selftest_kernel(cfg, &kernel) < 0)
			ok = asprintf(&reason, "auto: no kernel to test KVM with (set "
			                       "hvm_selftest_kernel), so tcg") < 0
			             ? -ENOMEM
			             : 0;
		else if ((ok = selftest(kernel, &reason)) > 0)
			ok = asprintf(&reason, "auto: a test kernel booted under KVM") < 0 ? -ENOMEM
			                                                                   : 1;
		else if (ok == 0 && reason) {
			char *s = NULL;
			ok = asprintf(&s, "auto: %s, so tcg", reason) < 0 ? -ENOMEM : 0;
			free(reason);
			reason = s;
		}
	}
	if (ok < 0)
		return ok;
	json_decref(o);
	o = json_pack("{s:s, s:s, s:s}", "boot_id", boot_id, "accel", ok ? "kvm" : "tcg", "reason",
	              reason ? reason : "");
	if (o && (text = hv_json_dumps(o))) {
		_cleanup_free_ char *dir = NULL;
		if (hv_root_path("/var/run/sable", &dir) >= 0 && mkdir_p(dir, 0755) >= 0)
			(void)write_file_atomic(path, text, strlen(text), 0644);
	}
	if (ret_reason)
		*ret_reason = TAKE_PTR(reason);
	return (*ret = strdup(ok ? "kvm" : "tcg")) ? 0 : -ENOMEM;
}
