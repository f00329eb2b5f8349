/* SPDX-License-Identifier: MIT */
/*
 * Running VMs: start, stop, reboot, kill, update, and snapshots. Each takes
 * the VM's lock for its whole length, so two operations on one VM never
 * interleave. autoboot records the operator's intent as on SmartOS: start
 * sets it, stop clears it (before stopping), a shutdown from inside the
 * guest leaves it alone.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fault.h"
#include "basic/macro.h"
#include "core/core-internal.h"
#include "core/vm.h"
#include "json/json.h"
#include "storage/pool.h"

#define STOP_TIMEOUT_OS_S  60
#define STOP_TIMEOUT_HVM_S 180
#define SNAPSHOT_PREFIX    "vmsnap-"
#define SNAPSHOT_NAME_MAX  64
#define GIB                (UINT64_C(1) << 30)

/* Finish what others left, then lock the VM and load its record. */
static int
open_vm(const char *uuid, int *ret_lock, json_t **ret, struct hv_error **reterr)
{
	(void)hv_vm_recover(NULL);
	return vm_open_locked(uuid, ret_lock, ret, reterr);
}

static int
set_autoboot(const char *uuid, json_t *rec, bool on, struct hv_error **reterr)
{
	if (json_is_boolean(json_object_get(rec, "autoboot")) &&
	    json_is_true(json_object_get(rec, "autoboot")) == on)
		return 0;
	if (hv_json_set(rec, "autoboot", json_boolean(on)) < 0)
		return -ENOMEM;
	return vm_record_save(uuid, rec, reterr);
}

int
hv_vm_start(const char *uuid, struct hv_error **reterr)
{
	_cleanup_close_ int lock = -EBADF;
	json_auto_t *rec = NULL;
	int r;

	if ((r = open_vm(uuid, &lock, &rec, reterr)) < 0)
		return r;
	if (hv_zone_running(uuid, NULL) > 0)
		return hv_error_set(reterr, -EALREADY, "VM %s is already running", uuid);
	if ((r = set_autoboot(uuid, rec, true, reterr)) < 0)
		return r;
	/* The zone config follows the record (an older Sable may have written it). */
	if ((r = vm_zone_config_write(rec, 0, reterr)) < 0)
		return r;
	r = hv_zone_boot(uuid, reterr);
	hv_vm_notify(uuid);
	return r;
}

static bool
is_docker(const json_t *rec)
{
	return json_is_true(json_object_get(rec, "docker"));
}

int
hv_vm_stop(const char *uuid, bool force, int timeout_s, struct hv_error **reterr)
{
	_cleanup_close_ int lock = -EBADF;
	json_auto_t *rec = NULL;
	int r;

	if ((r = open_vm(uuid, &lock, &rec, reterr)) < 0)
		return r;
	if (timeout_s >= 0 && !is_docker(rec) && !vm_is_kvm(rec))
		return hv_error_set(reterr, -EINVAL,
		                    "Timeout option is only supported for bhyve, "
		                    "KVM and docker containers.");
	if ((r = set_autoboot(uuid, rec, false, reterr)) < 0)
		return r;
	hv_vm_notify(uuid);
	if (hv_zone_running(uuid, NULL) <= 0)
		return hv_error_set(reterr, -ESRCH, "VM %s is not running", uuid);
	if (force)
		r = hv_zone_halt(uuid, reterr);
	else
		r = hv_zone_shutdown(uuid, false,
		                     timeout_s >= 0   ? (unsigned)timeout_s
		                     : vm_is_kvm(rec) ? STOP_TIMEOUT_HVM_S
		                                      : STOP_TIMEOUT_OS_S,
		                     reterr);
	hv_vm_notify(uuid);
	return r == -ESRCH ? 0 : r;
}

int
hv_vm_reboot(const char *uuid, bool force, struct hv_error **reterr)
{
	_cleanup_close_ int lock = -EBADF;
	json_auto_t *rec = NULL;
	int r;

	if ((r = open_vm(uuid, &lock, &rec, reterr)) < 0)
		return r;
	if (hv_zone_running(uuid, NULL) <= 0)
		return hv_error_set(reterr, -ESRCH, "VM %s is not running", uuid);
	if ((r = vm_zone_config_write(rec, 0, reterr)) < 0)
		return r;
	r = force ? hv_zone_reboot(uuid, reterr)
	          : hv_zone_shutdown(uuid, true,
	                             vm_is_kvm(rec) ? STOP_TIMEOUT_HVM_S : STOP_TIMEOUT_OS_S,
	                             reterr);
	hv_vm_notify(uuid);
	return r;
}

int
hv_vm_kill(const char *uuid, int sig, struct hv_error **reterr)
{
	struct hv_zone_runtime rt;
	json_auto_t *rec = NULL;
	_cleanup_close_ int pidfd = -EBADF;
	int r;

	if ((r = hv_vm_load(uuid, &rec, reterr)) < 0)
		return r;
	if (hv_zone_runtime_load(uuid, &rt, NULL) < 0 || hv_zone_init_pidfd(&rt, &pidfd) < 0)
		return hv_error_set(reterr, -ESRCH, "VM %s is not running", uuid);
	if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
		return hv_error_set(reterr, -errno, "VM %s: cannot signal its init: %m", uuid);
	return 0;
}

/* ---- update ---------------------------------------------------------------------- */

static int
set_quota(const json_t *vm, const char *uuid, struct hv_error **reterr)
{
	_cleanup_free_ char *ds = NULL;
	const char *zpool = "zones";
	struct hv_pool *p = NULL;
	char value[32];
	int64_t q = 0;
	int r;

	(void)hv_json_get_string(vm, "zpool", &zpool, NULL);
	(void)hv_json_get_int(vm, "quota", &q, NULL);
	if (asprintf(&ds, "%s/%s", zpool, uuid) < 0)
		return -ENOMEM;
	if (q > 0)
		snprintf(value, sizeof(value), "%llu", (unsigned long long)q * GIB);
	else
		snprintf(value, sizeof(value), "none");
	r = hv_pool_open(zpool, HV_POOL_OPEN_WRITE, &p, reterr);
	if (r >= 0)
		r = hv_pool_set(p, ds, "quota", value, reterr);
	hv_pool_close(p);
	return r;
}

static int64_t
quota_of(const json_t *vm)
{
	int64_t q = 0;

	(void)hv_json_get_int(vm, "quota", &q, NULL);
	return q <= 0 ? INT64_MAX : q;
}

/* The members that the zone's running config carries. */
static bool
zone_config_changed(const json_t *a, const json_t *b)
{
	static const char *const keys[] = {
	        "max_physical_memory", "max_swap", "max_locked_memory", "tmpfs", "cpu_cap",
	        "cpu_shares",          "max_lwps", "zfs_io_priority"};

	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (!json_equal(json_object_get(a, keys[i]), json_object_get(b, keys[i])))
			return true;
	return false;
}

/*
 * Store the new record and make the world match. A larger quota goes
 * first: the record lives in the VM's dataset, so a full zone could not
 * even take the record that raises its quota (SmartOS issues 258, 329).
 */
static int
commit_update(const char *uuid, const json_t *old, const json_t *new, struct hv_error **reterr)
{
	bool quota_changed =
	        !json_equal(json_object_get(old, "quota"), json_object_get(new, "quota"));
	bool grow = quota_of(new) > quota_of(old);
	int r;

	if (quota_changed && grow && (r = set_quota(new, uuid, reterr)) < 0)
		return r;
	if ((r = vm_record_save(uuid, new, reterr)) < 0 ||
	    (r = fault_point("vm-update:record")) < 0)
		return r;
	if ((r = vm_zone_config_write(new, 0, reterr)) < 0)
		return r;
	if (quota_changed && !grow && (r = set_quota(new, uuid, reterr)) < 0)
		return r;
	if ((r = vm_net_apply(uuid, old, new, reterr)) < 0)
		return hv_error_prefix(reterr, r, "VM %s: stored, but its NICs did not follow",
		                       uuid);
	if (json_is_true(json_object_get(new, "maintain_resolvers")) &&
	    !json_equal(json_object_get(old, "resolvers"), json_object_get(new, "resolvers")) &&
	    (r = vm_resolvers_write(new, reterr)) < 0)
		return r;
	if (zone_config_changed(old, new) && hv_zone_running(uuid, NULL) > 0) {
		r = hv_zone_apply_config(uuid, reterr);
		if (r < 0 && r != -ESRCH)
			return hv_error_prefix(reterr, r,
			                       "VM %s: stored, but the running zone did "
			                       "not take it",
			                       uuid);
	}
	return 0;
}

int
hv_vm_update(const char *uuid, const json_t *payload, struct hv_error **reterr)
{
	struct hv_vm_report report = {0};
	_cleanup_close_ int lock = -EBADF;
	json_auto_t *rec = NULL, *new = NULL;
	const char *brand = "lx";
	int r;

	if ((r = open_vm(uuid, &lock, &rec, reterr)) < 0)
		return r;
	(void)hv_json_get_string(rec, "brand", &brand, NULL);
	r = hv_vm_validate(HV_VM_ACTION_UPDATE, brand, payload, &report, reterr);
	hv_vm_report_done(&report);
	if (r < 0)
		return r;
	if (!(new = json_deep_copy(rec)))
		return -ENOMEM;
	if ((r = hv_vm_apply_update(new, payload, reterr)) < 0)
		return r;
	if (json_equal(new, rec))
		return 0;
	if ((r = vm_net_check(new, rec, reterr)) < 0)
		return r;
	r = commit_update(uuid, rec, new, reterr);
	hv_vm_notify(uuid);
	return r;
}

/* ---- snapshots ------------------------------------------------------------------ */

static int
snapshot_name(const json_t *rec, const char *uuid, const char *name, char **ret,
              struct hv_error **reterr)
{
	const char *zpool = "zones";
	size_t n = strlen(name);

	if (n == 0 || n > SNAPSHOT_NAME_MAX ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:%") !=
	            n)
		return hv_error_set(
		        reterr, -EINVAL,
		        "snapshot name '%s': expected 1 to %d of A-Z a-z 0-9 - _ . : %%", name,
		        SNAPSHOT_NAME_MAX);
	(void)hv_json_get_string(rec, "zpool", &zpool, NULL);
	if (asprintf(ret, "%s/%s@" SNAPSHOT_PREFIX "%s", zpool, uuid, name) < 0)
		return -ENOMEM;
	return 0;
}

/* Lock, load, check the brand, name the snapshot and open the pool. */
static int
open_snapshot(const char *uuid, const char *name, int *ret_lock, json_t **ret_rec, char **ret_snap,
              struct hv_pool **ret_pool, struct hv_error **reterr)
{
	const char *brand = "lx", *zpool = "zones";
	int r;

	if ((r = open_vm(uuid, ret_lock, ret_rec, reterr)) < 0)
		return r;
	(void)hv_json_get_string(*ret_rec, "brand", &brand, NULL);
	if (hv_brand_is_hvm(hv_brand_from_string(brand)))
		return hv_error_set(reterr, -EOPNOTSUPP,
		                    "VM %s: snapshots are for OS VMs (brand "
		                    "'%s')",
		                    uuid, brand);
	if ((r = snapshot_name(*ret_rec, uuid, name, ret_snap, reterr)) < 0)
		return r;
	(void)hv_json_get_string(*ret_rec, "zpool", &zpool, NULL);
	return hv_pool_open(zpool, HV_POOL_OPEN_WRITE, ret_pool, reterr);
}

/* Take (create) or destroy the snapshot, under the VM's lock. */
static int
snapshot_take_or_destroy(const char *uuid, const char *name, bool create, struct hv_error **reterr)
{
	_cleanup_close_ int lock = -EBADF;
	_cleanup_free_ char *snap = NULL;
	json_auto_t *rec = NULL;
	struct hv_pool *p = NULL;
	int r;

	r = open_snapshot(uuid, name, &lock, &rec, &snap, &p, reterr);
	if (r >= 0)
		r = create ? hv_pool_snapshot(p, snap, reterr)
		           : hv_pool_destroy(p, snap, 0, reterr);
	hv_pool_close(p);
	if (r >= 0)
		hv_vm_notify(uuid);
	return r;
}

int
hv_vm_snapshot_create(const char *uuid, const char *name, struct hv_error **reterr)
{
	return snapshot_take_or_destroy(uuid, name, true, reterr);
}

int
hv_vm_snapshot_delete(const char *uuid, const char *name, struct hv_error **reterr)
{
	return snapshot_take_or_destroy(uuid, name, false, reterr);
}

/*
 * Stop the VM if it runs, roll its dataset back (newer snapshots go, as on
 * SmartOS), and boot it again if it ran. The record is the VM's
 * configuration, not its data: it is kept as it is now, not rolled back.
 */
int
hv_vm_snapshot_rollback(const char *uuid, const char *name, struct hv_error **reterr)
{
	_cleanup_close_ int lock = -EBADF;
	_cleanup_free_ char *snap = NULL;
	json_auto_t *rec = NULL;
	struct hv_pool *p = NULL;
	bool was_running;
	int r;

	r = open_snapshot(uuid, name, &lock, &rec, &snap, &p, reterr);
	was_running = r >= 0 && hv_zone_running(uuid, NULL) > 0;
	if (was_running && (r = hv_zone_halt(uuid, reterr)) == -ESRCH)
		r = 0;
	if (r >= 0)
		r = hv_pool_rollback(p, snap, true, reterr);
	hv_pool_close(p);
	if (r >= 0 && (r = vm_record_save(uuid, rec, reterr)) >= 0)
		r = vm_zone_config_write(rec, 0, reterr);
	if (r >= 0 && was_running)
		r = hv_zone_boot(uuid, reterr);
	hv_vm_notify(uuid);
	return r;
}

int
hv_vm_record_exit(const char *uuid, const json_t *status, const json_t *timestamp,
                  struct hv_error **reterr)
{
	_cleanup_close_ int lock = -EBADF;
	json_auto_t *rec = NULL;
	int r;

	/* Someone working on the VM now will be followed by another look. */
	if ((r = vm_lock(uuid, 0, &lock, NULL)) < 0)
		return 0;
	if ((r = hv_vm_load(uuid, &rec, reterr)) < 0)
		return r;
	if (hv_json_set(rec, "exit_status", json_deep_copy(status)) < 0 ||
	    hv_json_set(rec, "exit_timestamp", json_deep_copy(timestamp)) < 0)
		return -ENOMEM;
	return vm_record_save(uuid, rec, reterr);
}
