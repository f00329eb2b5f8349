/* SPDX-License-Identifier: MIT */
/*
 * Creating and deleting VMs. A create is, in order (fault points named):
 *
 *   intent       the intent is on disk: from here on, a crash is undone
 *   dataset      <zpool>/<uuid> cloned from the image's @final, with quota
 *   config       <zonepath>/config/zone.json and logs/
 *   ids          the zone's id range, recorded in the registry and config
 *   record       <zonepath>/config/vm.json: the VM exists
 *   boot         the zone runs (autoboot)
 *
 * and then the intent goes. Any failure purges the VM; a kill -9 leaves
 * the intent, and the next vmadm or vmadmd purges it (core-store.c). A
 * purge removes what a VM may own, each step tolerating its absence: the
 * running zone, its cgroups and run files, its id range, its dataset tree.
 * Delete is a purge under a "delete" intent, so a half-done delete is
 * finished the same way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fault.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/path.h"
#include "basic/root.h"
#include "basic/time-util.h"
#include "core/core-internal.h"
#include "core/vm.h"
#include "image/manifest.h"
#include "json/json.h"
#include "storage/pool.h"

#define GIB (UINT64_C(1) << 30)

static const char *
vm_zpool(const json_t *vm)
{
	const char *s = "zones";

	(void)hv_json_get_string(vm, "zpool", &s, NULL);
	return s;
}

/* Which zpool the VM's dataset is in: the record's, or the default. */
static char *
purge_zpool(const char *uuid)
{
	json_auto_t *rec = NULL;

	if (hv_vm_load(uuid, &rec, NULL) < 0)
		return strdup("zones");
	return strdup(vm_zpool(rec));
}

int
vm_purge(const char *uuid, struct hv_error **reterr)
{
	_cleanup_free_ char *zpool = purge_zpool(uuid), *dataset = NULL;
	struct hv_pool *p = NULL;
	int r;

	if (!zpool || asprintf(&dataset, "%s/%s", zpool, uuid) < 0)
		return -ENOMEM;
	r = hv_zone_halt(uuid, reterr);
	if (r < 0 && r != -ESRCH)
		return r;
	if ((r = hv_zone_cleanup(uuid, reterr)) < 0 || (r = vm_net_unplug(uuid, reterr)) < 0)
		return r;
	/* A kvm VM's disks are volumes beside its dataset (<zpool>/<uuid>-disk<N>). */
	if ((r = vm_hvm_destroy_disks(zpool, uuid, reterr)) < 0)
		return r;
	r = hv_zone_ids_free(uuid, NULL);
	if (r < 0 && r != -ENOENT)
		return hv_zone_ids_free(uuid, reterr);
	r = hv_pool_open(zpool, HV_POOL_OPEN_WRITE, &p, reterr);
	if (r < 0)
		return r;
	r = hv_pool_destroy(p, dataset, HV_DESTROY_RECURSIVE, reterr);
	hv_pool_close(p);
	if (r < 0 && r != -ENOENT)
		return r;
	return vm_intent_end(uuid);
}

/*
 * The image's type, from imgadm's manifest cache, must suit the brand (an
 * lx zone needs lx-dataset or docker). An image installed by hand, without
 * a manifest, is taken as it is.
 */
static int
check_manifest(const char *zpool, const char *image, struct hv_error **reterr)
{
	_cleanup_free_ char *rel = NULL, *path = NULL;
	struct hv_image_manifest m = {0};
	json_auto_t *o = NULL;
	int r;

	if (asprintf(&rel, "/var/imgadm/images/%s-%s.json", zpool, image) < 0 ||
	    hv_root_path(rel, &path) < 0)
		return -ENOMEM;
	if (access(path, F_OK) < 0)
		return 0;
	if (hv_json_load_file(path, 2 * 1024 * 1024, &o, NULL) < 0 ||
	    hv_image_manifest_parse(json_object_get(o, "manifest"), &m, NULL) < 0)
		return hv_error_set_path(reterr, -EINVAL, "image_uuid",
		                         "image %s: its manifest '%s' is unreadable", image, path);
	r = 0;
	if (!hv_image_type_fits_brand(m.type, "lx"))
		r = hv_error_set_path(reterr, -EINVAL, "image_uuid",
		                      "image %s is of type '%s'; brand lx needs an 'lx-dataset' or "
		                      "'docker' image",
		                      image, hv_image_type_to_string(m.type));
	hv_image_manifest_done(&m);
	return r;
}

/* The image must be installed: <zpool>/<image> with a zone root in it (its @final: see clone). */
static int
check_image(struct hv_pool *p, const char *zpool, const char *image, struct hv_error **reterr)
{
	_cleanup_free_ char *ds = NULL, *dir = NULL, *root = NULL;
	struct stat st;

	if (asprintf(&ds, "%s/%s", zpool, image) < 0)
		return -ENOMEM;
	if (hv_pool_dataset_path(p, ds, &dir, NULL) < 0)
		return hv_error_set_path(
		        reterr, -ENOENT, "image_uuid",
		        "image %s is not installed (no dataset %s): import it with "
		        "'imgadm import %s'",
		        image, ds, image);
	if (path_join(dir, "root", &root) < 0)
		return -ENOMEM;
	if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode))
		return hv_error_set_path(reterr, -EINVAL, "image_uuid",
		                         "image %s has no root/ directory: not a zone image",
		                         image);
	return check_manifest(zpool, image, reterr);
}

static int
clone_image(const json_t *vm, const char *uuid, struct hv_error **reterr)
{
	_cleanup_free_ char *snap = NULL, *ds = NULL;
	const char *zpool = vm_zpool(vm), *image;
	struct hv_dataset_props props = {0};
	struct hv_pool *p = NULL;
	int64_t quota = 0;
	int r;

	if (hv_json_get_string(vm, "image_uuid", &image, NULL) < 0)
		return hv_error_set_path(reterr, -EINVAL, "image_uuid",
		                         "image_uuid: a zone needs an image");
	(void)hv_json_get_int(vm, "quota", &quota, NULL);
	props.quota = quota > 0 ? (uint64_t)quota * GIB : 0;
	if (asprintf(&snap, "%s/%s@final", zpool, image) < 0 ||
	    asprintf(&ds, "%s/%s", zpool, uuid) < 0)
		return -ENOMEM;
	r = hv_pool_open(zpool, HV_POOL_OPEN_WRITE, &p, reterr);
	if (r < 0)
		return r;
	r = check_image(p, zpool, image, reterr);
	if (r >= 0) {
		r = hv_pool_clone(p, snap, ds, &props, reterr);
		if (r == -ENOENT)
			r = hv_error_set_path(reterr, r, "image_uuid",
			                      "image %s is not installed completely (no %s): "
			                      "import it again with 'imgadm import %s'",
			                      image, snap, image);
	}
	hv_pool_close(p);
	return r;
}

static int
make_dirs(const char *uuid, struct hv_error **reterr)
{
	_cleanup_free_ char *zonepath = NULL;
	static const char *const dirs[] = {"config", "logs"};
	int r;

	if (hv_vm_zonepath(uuid, &zonepath) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < 2; i++) {
		_cleanup_free_ char *d = NULL;

		if (path_join(zonepath, dirs[i], &d) < 0)
			return -ENOMEM;
		if ((r = mkdir_p(d, 0755)) < 0)
			return hv_error_set(reterr, r, "cannot create '%s': %m", d);
	}
	return 0;
}

/* A step is done: the fault point of its name, and its time for `vmadm -d`. */
static int
step_done(const char *uuid, const char *name, uint64_t *t)
{
	uint64_t now = now_usec(CLOCK_MONOTONIC);

	log_debug("VM %s: %s in %.1f ms", uuid, name, (double)(now - *t) / 1000.0);
	*t = now;
	return fault_point(name);
}

/* The steps after the intent; any failure is purged by the caller. */
static int
create_steps(json_t *vm, const char *uuid, struct hv_error **reterr)
{
	uint64_t t = now_usec(CLOCK_MONOTONIC);
	uint32_t base = 0;
	int r;

	if ((r = vm_is_kvm(vm) ? vm_hvm_create_datasets(vm, uuid, reterr)
	                       : clone_image(vm, uuid, reterr)) < 0 ||
	    (r = step_done(uuid, "vm-create:dataset", &t)) < 0)
		return r;
	if ((r = make_dirs(uuid, reterr)) < 0 || (r = vm_zone_config_write(vm, 0, reterr)) < 0 ||
	    (r = vm_resolvers_write(vm, reterr)) < 0 ||
	    (r = step_done(uuid, "vm-create:config", &t)) < 0)
		return r;
	if ((r = hv_zone_install(uuid, &base, reterr)) < 0 ||
	    (r = step_done(uuid, "vm-create:ids", &t)) < 0)
		return r;
	/* zonedid: stable for the VM's life, as SmartOS's; the index of its id range. */
	if ((r = hv_json_set(vm, "zonedid", json_integer(base / HV_ZONE_ID_COUNT))) < 0 ||
	    (r = vm_record_save(uuid, vm, reterr)) < 0 ||
	    (r = step_done(uuid, "vm-create:record", &t)) < 0)
		return r;
	if (json_is_true(json_object_get(vm, "autoboot")) &&
	    ((r = hv_zone_boot(uuid, reterr)) < 0 ||
	     (r = step_done(uuid, "vm-create:boot", &t)) < 0))
		return r;
	return 0;
}

/* A validated payload as the object to store, or the payload's first problem. */
static int
prepare(const json_t *payload, json_t **ret, struct hv_error **reterr)
{
	struct hv_vm_report report = {0};
	json_auto_t *vm = NULL;
	const char *brand = NULL;
	int r;

	r = hv_vm_validate(HV_VM_ACTION_CREATE, NULL, payload, &report, reterr);
	hv_vm_report_done(&report);
	if (r < 0)
		return r;
	if (!(vm = json_deep_copy(payload)))
		return -ENOMEM;
	if ((r = hv_vm_apply_create_defaults(vm, now_usec(CLOCK_REALTIME) / USEC_PER_MSEC,
	                                     reterr)) < 0)
		return r;
	(void)hv_json_get_string(vm, "brand", &brand, NULL);
	if (!brand || (!streq(brand, "lx") && !streq(brand, "kvm")))
		return hv_error_set_path(reterr, -EOPNOTSUPP, "brand",
		                         "brand '%s': this Sable runs lx zones and kvm VMs",
		                         strempty(brand));
	if (streq(brand, "kvm") && (r = vm_hvm_check_payload(payload, reterr)) < 0)
		return r;
	if ((r = vm_net_check(vm, NULL, reterr)) < 0)
		return r;
	*ret = TAKE_PTR(vm);
	return 0;
}

int
hv_vm_create(const json_t *payload, char ret_uuid[static UUID_STRING_LEN + 1],
             struct hv_error **reterr)
{
	_cleanup_close_ int lock = -EBADF;
	json_auto_t *vm = NULL;
	const char *uuid;
	int r;

	if ((r = prepare(payload, &vm, reterr)) < 0)
		return r;
	if (hv_json_get_string(vm, "uuid", &uuid, reterr) < 0 || !uuid_is_valid(uuid))
		return hv_error_set_path(reterr, -EINVAL, "uuid", "uuid: expected a UUID");
	(void)hv_vm_recover(NULL);
	if ((r = vm_lock(uuid, 0, &lock, reterr)) < 0)
		return r;
	if (vm_record_exists(uuid) || vm_intent_op(uuid))
		return hv_error_set_path(reterr, -EEXIST, "uuid", "VM %s already exists", uuid);
	if ((r = vm_intent_begin(uuid, "create", reterr)) < 0)
		return r;
	r = fault_point("vm-create:intent");
	if (r >= 0)
		r = create_steps(vm, uuid, reterr);
	if (r < 0) {
		_cleanup_hv_error_ struct hv_error *e = NULL;
		_cleanup_free_ char *why = NULL;

		if (vm_purge(uuid, &e) >= 0)
			return r;
		/* The intent stays: the next vmadm or vmadmd removes the rest. */
		why = strdup(hv_error_message(reterr ? *reterr : NULL, r));
		return hv_error_set(reterr, r, "%s (removing the half-made VM failed too: %s)",
		                    strempty(why), hv_error_message(e, -EIO));
	}
	if ((r = vm_intent_end(uuid)) < 0)
		return hv_error_set(reterr, r, "VM %s: cannot finish its create: %m", uuid);
	memcpy(ret_uuid, uuid, UUID_STRING_LEN + 1);
	hv_vm_notify(uuid);
	return 0;
}

int
hv_vm_delete(const char *uuid, struct hv_error **reterr)
{
	_cleanup_close_ int lock = -EBADF;
	json_auto_t *rec = NULL;
	int r;

	(void)hv_vm_recover(NULL);
	if ((r = vm_open_locked(uuid, &lock, &rec, reterr)) < 0)
		return r;
	if (json_is_true(json_object_get(rec, "indestructible_zoneroot")))
		return hv_error_set(reterr, -EPERM,
		                    "VM %s has indestructible_zoneroot set: "
		                    "'vmadm update %s indestructible_zoneroot=false' first",
		                    uuid, uuid);
	if (json_is_true(json_object_get(rec, "indestructible_delegated")))
		return hv_error_set(reterr, -EPERM,
		                    "VM %s has indestructible_delegated set: "
		                    "'vmadm update %s indestructible_delegated=false' first",
		                    uuid, uuid);
	if ((r = vm_intent_begin(uuid, "delete", reterr)) < 0 ||
	    (r = fault_point("vm-delete:intent")) < 0)
		return r;
	r = vm_purge(uuid, reterr);
	if (r < 0)
		return hv_error_prefix(reterr, r,
		                       "VM %s: delete did not finish (vmadm delete again "
		                       "finishes it)",
		                       uuid);
	hv_vm_notify(uuid);
	return 0;
}
