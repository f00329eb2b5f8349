/* SPDX-License-Identifier: MIT */
/*
 * Moving and renewing VMs: send, receive, reprovision.
 *
 * A VM stream is one header line and then the pool's send stream of the
 * VM's dataset (which runs to the end):
 *
 *   SABLE-VM/1 {"uuid":"…","vm":{the record}}\n
 *   SABLE-SEND/1 {…}\n<the dataset, as pooladm send writes it>
 *
 * send stops the VM (as SmartOS does) and sends a snapshot taken for the
 * purpose (vmsend-<time>), destroyed again on both sides afterwards. The
 * VM's own vmsnap- snapshots stay behind. receive creates the VM under a
 * "receive" intent, so a broken stream or a kill leaves nothing; the
 * received VM gets a new id range and is left stopped.
 *
 * reprovision gives a VM a fresh root from an image, keeping its record
 * and config (SmartOS keeps …/data too; Sable's lx VMs have no delegated
 * dataset yet). The old dataset is renamed aside first and restored if
 * anything fails, so the VM is never left without one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fault.h"
#include "basic/fileio.h"
#include "basic/path.h"
#include "basic/time-util.h"
#include "core/core-internal.h"
#include "core/vm.h"
#include "json/json.h"
#include "storage/pool.h"

#define VM_MAGIC      "SABLE-VM/1 "
#define VM_HEADER_MAX (1024 * 1024)

static const char *
zpool_of(const json_t *vm)
{
	const char *s = "zones";

	(void)hv_json_get_string(vm, "zpool", &s, NULL);
	return s;
}

int
hv_vm_send(const char *uuid, int fd, struct hv_error **reterr)
{
	_cleanup_close_ int lock = -EBADF;
	_cleanup_free_ char *ds = NULL, *snap = NULL, *text = NULL, *line = NULL;
	json_auto_t *rec = NULL, *hdr = NULL;
	struct hv_pool *p = NULL;
	int r;

	if ((r = vm_open_locked(uuid, &lock, &rec, reterr)) < 0)
		return r;
	r = hv_zone_halt(uuid, reterr);
	if (r < 0 && r != -ESRCH)
		return r;
	hv_vm_notify(uuid);
	if (asprintf(&ds, "%s/%s", zpool_of(rec), uuid) < 0 ||
	    asprintf(&snap, "%s@vmsend-%llu", ds,
	             (unsigned long long)(now_usec(CLOCK_REALTIME) / USEC_PER_MSEC)) < 0)
		return -ENOMEM;
	hdr = json_pack("{s:s, s:O}", "uuid", uuid, "vm", rec);
	if (!hdr || !(text = hv_json_dumps_compact(hdr)) ||
	    asprintf(&line, VM_MAGIC "%s\n", text) < 0)
		return -ENOMEM;
	if ((r = loop_write(fd, line, strlen(line))) < 0)
		return hv_error_set(reterr, r, "cannot write the stream: %m");
	if ((r = hv_pool_open(zpool_of(rec), HV_POOL_OPEN_WRITE, &p, reterr)) < 0)
		return r;
	r = hv_pool_snapshot(p, snap, reterr);
	if (r >= 0) {
		r = hv_pool_send(p, snap, NULL, fd, reterr);
		(void)hv_pool_destroy(p, snap, 0, NULL);
	}
	hv_pool_close(p);
	return r;
}

/* The header line, read without reading past it: the rest is the pool's stream. */
static int
read_vm_header(int fd, json_t **ret, struct hv_error **reterr)
{
	_cleanup_free_ char *line = NULL;
	size_t n;
	int r = read_magic_line(fd, VM_MAGIC, VM_HEADER_MAX, &line, &n);

	if (r == -ENODATA)
		return hv_error_set(reterr, -EPROTO,
		                    "the stream ends before its header: expected "
		                    "what 'vmadm send' writes");
	if (r == -EFBIG)
		return hv_error_set(reterr, -EPROTO, "the stream's VM header is over 1 MiB");
	if (r == -EBADMSG)
		return hv_error_set(reterr, -EPROTO,
		                    "this is not a VM stream (expected it to "
		                    "begin with '" VM_MAGIC "')");
	if (r < 0)
		return hv_error_set(reterr, r, "cannot read the stream: %m");
	return hv_json_load_buf(line, n, "VM stream header", ret, reterr);
}

/* The received dataset's send snapshot is not the VM's: remove it. */
static void
drop_send_snapshots(struct hv_pool *p, const char *ds)
{
	struct hv_dataset_info *l = NULL;
	size_t n = 0;

	if (hv_pool_list(p, ds, HV_LIST_SNAPSHOTS, &l, &n, NULL) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *at = strchr(l[i].name, '@');
		if (l[i].type == HV_DATASET_SNAPSHOT && at && startswith(at + 1, "vmsend-"))
			(void)hv_pool_destroy(p, l[i].name, 0, NULL);
	}
	hv_dataset_info_free_many(l, n);
}

static int
receive_steps(json_t *rec, const char *uuid, int fd, struct hv_error **reterr)
{
	_cleanup_free_ char *ds = NULL;
	struct hv_pool *p = NULL;
	uint32_t base = 0;
	int r;

	if (asprintf(&ds, "%s/%s", zpool_of(rec), uuid) < 0)
		return -ENOMEM;
	if ((r = hv_pool_open(zpool_of(rec), HV_POOL_OPEN_WRITE, &p, reterr)) < 0)
		return r;
	r = hv_pool_receive(p, ds, fd, reterr);
	if (r >= 0)
		drop_send_snapshots(p, ds);
	hv_pool_close(p);
	if (r < 0 || (r = fault_point("vm-receive:dataset")) < 0)
		return r;
	/* A stopped VM, with an id range of this node (the sender's means nothing here). */
	if (hv_json_set(rec, "autoboot", json_false()) < 0)
		return -ENOMEM;
	if ((r = vm_zone_config_write(rec, 0, reterr)) < 0 ||
	    (r = hv_zone_install(uuid, &base, reterr)) < 0)
		return r;
	if (hv_json_set(rec, "zonedid", json_integer(base / HV_ZONE_ID_COUNT)) < 0)
		return -ENOMEM;
	(void)json_object_del(rec, "exit_status");
	(void)json_object_del(rec, "exit_timestamp");
	return vm_record_save(uuid, rec, reterr);
}

int
hv_vm_receive(int fd, char ret_uuid[static UUID_STRING_LEN + 1], struct hv_error **reterr)
{
	_cleanup_close_ int lock = -EBADF;
	json_auto_t *hdr = NULL, *rec = NULL;
	const char *uuid = NULL, *ruuid = NULL, *brand = "lx";
	int r;

	if ((r = read_vm_header(fd, &hdr, reterr)) < 0)
		return r;
	rec = json_incref(json_object_get(hdr, "vm"));
	if (hv_json_get_string(hdr, "uuid", &uuid, NULL) < 0 || !uuid_is_valid(uuid) ||
	    !json_is_object(rec) || hv_json_get_string(rec, "uuid", &ruuid, NULL) < 0 ||
	    !streq(uuid, ruuid))
		return hv_error_set(reterr, -EPROTO,
		                    "VM stream header: expected a uuid and the "
		                    "VM's record");
	/* The record must be one this node could have made. */
	(void)hv_json_get_string(rec, "brand", &brand, NULL);
	if (!streq(brand, "lx"))
		return hv_error_set(reterr, -EOPNOTSUPP,
		                    "VM %s: brand '%s' cannot be received "
		                    "here (this Sable runs lx zones)",
		                    uuid, brand);
	(void)hv_vm_recover(NULL);
	if ((r = vm_lock(uuid, 0, &lock, reterr)) < 0)
		return r;
	if (vm_record_exists(uuid) || vm_intent_op(uuid))
		return hv_error_set(reterr, -EEXIST, "VM %s already exists on this node", uuid);
	if ((r = vm_intent_begin(uuid, "receive", reterr)) < 0)
		return r;
	r = receive_steps(rec, uuid, fd, reterr);
	if (r < 0) {
		(void)vm_purge(uuid, NULL);
		return r;
	}
	if ((r = vm_intent_end(uuid)) < 0)
		return hv_error_set(reterr, r, "VM %s: cannot finish its receive: %m", uuid);
	memcpy(ret_uuid, uuid, UUID_STRING_LEN + 1);
	hv_vm_notify(uuid);
	return 0;
}

/* ---- reprovision ---------------------------------------------------------------- */

/* Copy the VM's config directory (record, zone config) from one zonepath to another. */
static int
copy_config(const char *from_ds_dir, const char *to_ds_dir, struct hv_error **reterr)
{
	static const char *const files[] = {"config/vm.json", "config/zone.json"};
	_cleanup_free_ char *dir = NULL;
	int r;

	if (path_join(to_ds_dir, "config", &dir) < 0)
		return -ENOMEM;
	if ((r = mkdir_p(dir, 0755)) < 0)
		return hv_error_set(reterr, r, "cannot create '%s': %m", dir);
	for (size_t i = 0; i < 2; i++) {
		_cleanup_free_ char *src = NULL, *dst = NULL, *data = NULL;
		size_t size;

		if (path_join(from_ds_dir, files[i], &src) < 0 ||
		    path_join(to_ds_dir, files[i], &dst) < 0)
			return -ENOMEM;
		if ((r = read_full_file(src, 16 * 1024 * 1024, &data, &size)) < 0)
			return hv_error_set(reterr, r, "cannot read '%s': %m", src);
		if ((r = write_file_atomic(dst, data, size, 0600)) < 0)
			return hv_error_set(reterr, r, "cannot write '%s': %m", dst);
	}
	return 0;
}

/* The new root: clone the image next to the old dataset, carry the config, swap. */
static int
reprovision_swap(struct hv_pool *p, const char *uuid, const char *zpool, const char *image,
                 const json_t *rec, struct hv_error **reterr)
{
	_cleanup_free_ char *ds = NULL, *aside = NULL, *snap = NULL, *ds_dir = NULL,
	                    *aside_dir = NULL;
	struct hv_dataset_props props = {0};
	int64_t quota = 0;
	int r;

	(void)hv_json_get_int(rec, "quota", &quota, NULL);
	props.quota = quota > 0 ? (uint64_t)quota << 30 : 0;
	if (asprintf(&ds, "%s/%s", zpool, uuid) < 0 ||
	    asprintf(&aside, "%s/%s-reprovision", zpool, uuid) < 0 ||
	    asprintf(&snap, "%s/%s@final", zpool, image) < 0)
		return -ENOMEM;
	if ((r = hv_pool_rename(p, ds, aside, reterr)) < 0)
		return r;
	r = hv_pool_clone(p, snap, ds, &props, reterr);
	if (r == -ENOENT)
		r = hv_error_set_path(reterr, r, "image_uuid", "image %s is not installed (no %s)",
		                      image, snap);
	if (r >= 0 && (r = hv_pool_dataset_path(p, ds, &ds_dir, reterr)) >= 0 &&
	    (r = hv_pool_dataset_path(p, aside, &aside_dir, reterr)) >= 0)
		r = copy_config(aside_dir, ds_dir, reterr);
	if (r >= 0)
		r = fault_point("vm-reprovision:clone");
	if (r < 0) {
		/* Back to the old root, whatever state the new one is in. */
		(void)hv_pool_destroy(p, ds, HV_DESTROY_RECURSIVE, NULL);
		(void)hv_pool_rename(p, aside, ds, NULL);
		return r;
	}
	return hv_pool_destroy(p, aside, HV_DESTROY_RECURSIVE, reterr);
}

int
hv_vm_reprovision(const char *uuid, const json_t *payload, struct hv_error **reterr)
{
	_cleanup_close_ int lock = -EBADF;
	json_auto_t *rec = NULL;
	const char *image = NULL, *brand = "lx";
	struct hv_pool *p = NULL;
	bool was_running;
	const char *k;
	json_t *v;
	int r;

	json_object_foreach ((json_t *)payload, k, v)
		if (!streq(k, "image_uuid"))
			return hv_error_set_path(reterr, -EINVAL, k,
			                         "reprovision: '%s': only image_uuid is taken", k);
	if (hv_json_get_string(payload, "image_uuid", &image, NULL) < 0 || !uuid_is_valid(image))
		return hv_error_set_path(reterr, -EINVAL, "image_uuid",
		                         "reprovision: expected image_uuid, a UUID");
	if ((r = vm_open_locked(uuid, &lock, &rec, reterr)) < 0)
		return r;
	(void)hv_json_get_string(rec, "brand", &brand, NULL);
	if (!streq(brand, "lx"))
		return hv_error_set(reterr, -EOPNOTSUPP, "VM %s: reprovision is for OS VMs", uuid);
	if (json_is_true(json_object_get(rec, "indestructible_zoneroot")))
		return hv_error_set(reterr, -EPERM, "VM %s has indestructible_zoneroot set", uuid);
	was_running = hv_zone_running(uuid, NULL) > 0;
	r = hv_zone_halt(uuid, reterr);
	if (r < 0 && r != -ESRCH)
		return r;
	if (hv_json_set(rec, "image_uuid", json_string(image)) < 0)
		return -ENOMEM;
	if ((r = vm_intent_begin(uuid, "reprovision", reterr)) < 0)
		return r;
	if ((r = hv_pool_open(zpool_of(rec), HV_POOL_OPEN_WRITE, &p, reterr)) < 0)
		return r;
	r = reprovision_swap(p, uuid, zpool_of(rec), image, rec, reterr);
	hv_pool_close(p);
	if (r >= 0 && (r = vm_record_save(uuid, rec, reterr)) >= 0)
		r = vm_zone_config_write(rec, 0, reterr);
	if (r >= 0)
		r = vm_intent_end(uuid);
	if (r >= 0 && was_running)
		r = hv_zone_boot(uuid, reterr);
	hv_vm_notify(uuid);
	return r;
}

/*
 * A reprovision that was killed: the old root is put back (a new one, if
 * any, goes), so the VM is as it was before the command.
 */
int
vm_reprovision_recover(const char *uuid, struct hv_error **reterr)
{
	_cleanup_free_ char *zpool = NULL, *ds = NULL, *aside = NULL, *dir = NULL;
	json_auto_t *rec = NULL;
	struct hv_pool *p = NULL;
	int r;

	zpool = strdup(hv_vm_load(uuid, &rec, NULL) >= 0 ? zpool_of(rec) : "zones");
	if (!zpool || asprintf(&ds, "%s/%s", zpool, uuid) < 0 ||
	    asprintf(&aside, "%s/%s-reprovision", zpool, uuid) < 0)
		return -ENOMEM;
	if ((r = hv_pool_open(zpool, HV_POOL_OPEN_WRITE, &p, reterr)) < 0)
		return r;
	if (hv_pool_dataset_path(p, aside, &dir, NULL) >= 0) {
		r = hv_pool_destroy(p, ds, HV_DESTROY_RECURSIVE, NULL);
		if (r >= 0 || r == -ENOENT)
			r = hv_pool_rename(p, aside, ds, reterr);
	}
	hv_pool_close(p);
	if (r < 0)
		return r;
	return vm_intent_end(uuid);
}
