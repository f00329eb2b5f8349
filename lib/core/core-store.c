/* SPDX-License-Identifier: MIT */
/*
 * The VM store: records, locks, intents and the index.
 *
 * A VM's record is <zonepath>/config/vm.json, in the pool beside its data,
 * so a host booted from RAM finds its VMs by importing the pool. It is
 * replaced atomically (temporary file, fsync, rename, fsync of the
 * directory) and is the only truth about the VM's configuration.
 *
 * The index ($SABLE_ROOT/var/lib/sable/vm-index.json) is a cache of every
 * record, keyed by the record file's identity (inode, size, mtime). Writers
 * never touch it: a reader lists the pool's top directory, stats each
 * record, takes the cached copy when the identity matches and re-reads the
 * record when not, and rewrites the index when anything changed. So the
 * index can never be wrong, only stale, and a stale entry costs one read;
 * deleting it costs one full scan. `vmadm list` with 500 VMs reads one file
 * and stats 500.
 *
 * Locks ($SABLE_ROOT/var/run/sable/vm/<uuid>.lock, flock) serialize the
 * operations on one VM; different VMs never wait for each other.
 *
 * Intents ($SABLE_ROOT/var/lib/sable/vm-intents/<uuid>.json) say that an
 * operation of several steps is under way. One whose owner is gone (its VM
 * lock is free) is undone or finished by hv_vm_recover().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/lock.h"
#include "basic/macro.h"
#include "basic/path.h"
#include "basic/root.h"
#include "basic/time-util.h"
#include "basic/uuid.h"
#include "core/core-internal.h"
#include "core/vm.h"
#include "json/json.h"

#define RECORD_MAX    (1024 * 1024)
#define INDEX_MAX     (512 * 1024 * 1024)
#define INDEX_VERSION 1
#define INDEX_LOCK_MS 2000

int
hv_vm_zonepath(const char *uuid, char **ret)
{
	_cleanup_free_ char *rel = NULL;

	if (asprintf(&rel, HV_POOL_DIR "/%s", uuid) < 0)
		return -ENOMEM;
	return hv_root_path(rel, ret);
}

int
hv_vm_record_path(const char *uuid, char **ret)
{
	_cleanup_free_ char *rel = NULL;

	if (asprintf(&rel, HV_POOL_DIR "/%s/config/vm.json", uuid) < 0)
		return -ENOMEM;
	return hv_root_path(rel, ret);
}

static int
lib_path(const char *name, char **ret)
{
	_cleanup_free_ char *rel = NULL;

	if (asprintf(&rel, HV_LIB_DIR "/%s", name) < 0)
		return -ENOMEM;
	return hv_root_path(rel, ret);
}

int
vm_lock(const char *uuid, uint64_t timeout_ms, int *ret_fd, struct hv_error **reterr)
{
	_cleanup_free_ char *rel = NULL, *path = NULL, *dir = NULL;
	int r;

	if (asprintf(&rel, HV_RUN_DIR "/vm/%s.lock", uuid) < 0 || hv_root_path(rel, &path) < 0 ||
	    path_dirname(path, &dir) < 0)
		return -ENOMEM;
	if ((r = mkdir_p(dir, 0700)) < 0)
		return hv_error_set(reterr, r, "cannot create '%s': %m", dir);
	r = lock_file(path, LOCK_EX, timeout_ms, ret_fd);
	if (r == -ETIMEDOUT)
		return hv_error_set(reterr, -EBUSY, "VM %s is busy: another operation holds it",
		                    uuid);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot lock VM %s: %m", uuid);
	return 0;
}

int
vm_open_locked(const char *uuid, int *ret_lock, json_t **ret, struct hv_error **reterr)
{
	_cleanup_close_ int lock = -EBADF;
	json_auto_t *rec = NULL;
	int r;

	/* A VM that never was is said so before a lock file is made for it. */
	if ((r = hv_vm_load(uuid, &rec, reterr)) < 0 ||
	    (r = vm_lock(uuid, VM_LOCK_TIMEOUT_MS, &lock, reterr)) < 0)
		return r;
	/* Read again under the lock: it may have changed, or gone, while we waited. */
	json_decref(TAKE_PTR(rec));
	if ((r = hv_vm_load(uuid, &rec, reterr)) < 0)
		return r;
	*ret_lock = TAKE_FD(lock);
	*ret = TAKE_PTR(rec);
	return 0;
}

bool
vm_record_exists(const char *uuid)
{
	_cleanup_free_ char *path = NULL;

	return hv_vm_record_path(uuid, &path) >= 0 && access(path, F_OK) == 0;
}

int
hv_vm_load(const char *uuid, json_t **ret, struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL;
	json_t *o = NULL;
	int r;

	if (!uuid_is_valid(uuid))
		return hv_error_set(reterr, -EINVAL, "'%s' is not a VM UUID", uuid);
	if ((r = hv_vm_record_path(uuid, &path)) < 0)
		return r;
	if (access(path, F_OK) < 0)
		return hv_error_set(reterr, -ENOENT, HV_VM_NOT_FOUND_FMT, uuid);
	r = hv_json_load_file(path, RECORD_MAX, &o, reterr);
	if (r < 0)
		return r;
	if (!json_is_object(o)) {
		json_decref(o);
		return hv_error_set(reterr, -EBADMSG, "VM record '%s' is not a JSON object", path);
	}
	*ret = o;
	return 0;
}

int
vm_record_save(const char *uuid, const json_t *vm, struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	int r;

	if ((r = hv_vm_record_path(uuid, &path)) < 0)
		return r;
	if (!(text = hv_json_dumps(vm)))
		return -ENOMEM;
	r = write_file_atomic(path, text, strlen(text), 0600);
	if (r < 0)
		return hv_error_set(reterr, r, "VM %s: cannot write its record: %m", uuid);
	return 0;
}

/* ---- intents ----------------------------------------------------------------- */

static int
intent_path(const char *uuid, char **ret)
{
	_cleanup_free_ char *name = NULL;

	if (asprintf(&name, "vm-intents/%s.json", uuid) < 0)
		return -ENOMEM;
	return lib_path(name, ret);
}

int
vm_intent_begin(const char *uuid, const char *op, struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL, *dir = NULL, *text = NULL;
	json_auto_t *o = NULL;
	char ts[25];
	int r;

	if (intent_path(uuid, &path) < 0 || path_dirname(path, &dir) < 0)
		return -ENOMEM;
	if ((r = mkdir_p(dir, 0700)) < 0)
		return hv_error_set(reterr, r, "cannot create '%s': %m", dir);
	o = json_pack("{s:s, s:s, s:i, s:s}", "uuid", uuid, "op", op, "pid", (json_int_t)getpid(),
	              "started", format_iso8601_usec(ts, now_usec(CLOCK_REALTIME)));
	if (!o || !(text = hv_json_dumps_compact(o)))
		return -ENOMEM;
	r = write_file_atomic(path, text, strlen(text), 0600);
	if (r < 0)
		return hv_error_set(reterr, r, "VM %s: cannot record the %s under way: %m", uuid,
		                    op);
	return 0;
}

int
vm_intent_end(const char *uuid)
{
	_cleanup_free_ char *path = NULL;

	if (intent_path(uuid, &path) < 0)
		return -ENOMEM;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return fsync_parent_dir(path);
}

char *
vm_intent_op(const char *uuid)
{
	_cleanup_free_ char *path = NULL;
	json_auto_t *o = NULL;
	const char *op;

	if (intent_path(uuid, &path) < 0 || hv_json_load_file(path, 4096, &o, NULL) < 0 ||
	    hv_json_get_string(o, "op", &op, NULL) < 0)
		return NULL;
	return strdup(op);
}

/* Intents whose owner is gone: their VM lock is free. */
static int
recover_one(const char *uuid, struct hv_error **reterr)
{
	_cleanup_close_ int lock = -EBADF;
	_cleanup_free_ char *op = NULL;
	int r;

	if (vm_lock(uuid, 0, &lock, NULL) < 0)
		return 0; /* its operation still runs */
	op = vm_intent_op(uuid);
	if (!op) {
		/* Unreadable: the intent was being written; nothing happened yet. */
		return vm_intent_end(uuid);
	}
	/* A create, a receive and a delete all end the same way: nothing of the VM is left. */
	if (streq(op, "create") || streq(op, "receive") || streq(op, "delete")) {
		r = vm_purge(uuid, reterr);
		if (r < 0)
			return hv_error_prefix(reterr, r, "VM %s: cannot finish an interrupted %s",
			                       uuid, op);
		hv_vm_notify(uuid);
		return 0;
	}
	if (streq(op, "reprovision")) {
		r = vm_reprovision_recover(uuid, reterr);
		if (r < 0)
			return hv_error_prefix(reterr, r, "VM %s: cannot undo an interrupted %s",
			                       uuid, op);
		hv_vm_notify(uuid);
		return 0;
	}
	return hv_error_set(reterr, -EBADMSG, "VM %s: interrupted operation '%s' is unknown", uuid,
	                    op);
}

int
hv_vm_recover(struct hv_error **reterr)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int ret = 0;

	if (lib_path("vm-intents", &dir) < 0)
		return -ENOMEM;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : hv_error_set(reterr, -errno, "'%s': %m", dir);
	while ((de = readdir(d))) {
		char uuid[UUID_STRING_LEN + 1];
		const char *dot = strrchr(de->d_name, '.');

		if (!dot || !streq(dot, ".json") || dot - de->d_name != UUID_STRING_LEN)
			continue;
		memcpy(uuid, de->d_name, UUID_STRING_LEN);
		uuid[UUID_STRING_LEN] = 0;
		if (!uuid_is_valid(uuid))
			continue;
		int r = recover_one(uuid, ret < 0 ? NULL : reterr);
		if (r < 0 && ret == 0)
			ret = r;
	}
	return ret;
}

/* ---- the index ------------------------------------------------------------------ */

static uint64_t
mtime_us(const struct stat *st)
{
	return (uint64_t)st->st_mtim.tv_sec * USEC_PER_SEC +
	       (uint64_t)st->st_mtim.tv_nsec / NSEC_PER_USEC;
}

/* The cached entry, if it is the record file as it is now. */
static json_t *
cached(json_t *index, const char *uuid, const struct stat *st)
{
	json_t *e = json_object_get(index, uuid);
	json_int_t ino, size, ns;

	if (!e ||
	    json_unpack(e, "{s:I, s:I, s:I}", "ino", &ino, "size", &size, "mtime_ns", &ns) < 0)
		return NULL;
	if ((uint64_t)ino != (uint64_t)st->st_ino || size != (json_int_t)st->st_size ||
	    ns != (json_int_t)(st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec))
		return NULL;
	e = json_object_get(e, "record");
	return json_is_object(e) ? e : NULL;
}

static json_t *
index_entry(json_t *record, const struct stat *st)
{
	return json_pack("{s:I, s:I, s:I, s:O}", "ino", (json_int_t)st->st_ino, "size",
	                 (json_int_t)st->st_size, "mtime_ns",
	                 (json_int_t)(st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec),
	                 "record", record);
}

static json_t *
index_load(const char *path)
{
	json_t *o = NULL, *vms;
	json_int_t v;

	if (hv_json_load_file(path, INDEX_MAX, &o, NULL) < 0)
		return json_object();
	vms = json_object_get(o, "vms");
	if (json_unpack(o, "{s:I}", "v", &v) < 0 || v != INDEX_VERSION || !json_is_object(vms)) {
		json_decref(o);
		return json_object();
	}
	json_incref(vms);
	json_decref(o);
	return vms;
}

/* Best effort: a reader that cannot write the index still has its answer. */
static void
index_save(const char *path, json_t *vms)
{
	_cleanup_free_ char *lockpath = NULL, *text = NULL, *dir = NULL;
	_cleanup_close_ int lock = -EBADF;
	json_auto_t *o = NULL;

	if (asprintf(&lockpath, "%s.lock", path) < 0 || path_dirname(path, &dir) < 0 ||
	    mkdir_p(dir, 0700) < 0 || lock_file(lockpath, LOCK_EX, INDEX_LOCK_MS, &lock) < 0)
		return;
	o = json_pack("{s:i, s:O}", "v", INDEX_VERSION, "vms", vms);
	if (o && (text = hv_json_dumps_compact(o)))
		(void)write_file_replace(path, text, strlen(text), 0600);
}

/* Read one record for the index; a broken one is left out (and said so once). */
static json_t *
read_record(const char *uuid, const char *path, struct hv_error **reterr)
{
	json_t *o = NULL;

	if (hv_json_load_file(path, RECORD_MAX, &o, reterr) < 0)
		return NULL;
	if (!json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int
vm_records_all(json_t **ret, struct hv_error **reterr)
{
	_cleanup_free_ char *pool = NULL, *ipath = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	json_auto_t *index = NULL, *fresh = NULL, *out = NULL;
	bool changed = false;
	struct dirent *de;
	int r;

	if ((r = hv_root_path(HV_POOL_DIR, &pool)) < 0 ||
	    (r = lib_path("vm-index.json", &ipath)) < 0)
		return r;
	index = index_load(ipath);
	fresh = json_object();
	out = json_object();
	if (!index || !fresh || !out)
		return -ENOMEM;
	d = opendir(pool);
	if (!d && errno != ENOENT)
		return hv_error_set(reterr, -errno, "cannot list '%s': %m", pool);
	while (d && (de = readdir(d))) {
		_cleanup_free_ char *path = NULL;
		json_t *rec;
		struct stat st;

		if (!uuid_is_valid(de->d_name) ||
		    asprintf(&path, "%s/%s/config/vm.json", pool, de->d_name) < 0 ||
		    stat(path, &st) < 0)
			continue;
		rec = cached(index, de->d_name, &st);
		if (rec)
			json_incref(rec);
		else {
			changed = true;
			rec = read_record(de->d_name, path, NULL);
			if (!rec)
				continue;
		}
		if (json_object_set_new(fresh, de->d_name, index_entry(rec, &st)) < 0 ||
		    json_object_set_new(out, de->d_name,
		                        json_pack("{s:o, s:I}", "record", rec, "mtime_us",
		                                  (json_int_t)mtime_us(&st))) < 0)
			return -ENOMEM;
	}
	if (changed || json_object_size(fresh) != json_object_size(index))
		index_save(ipath, fresh);
	*ret = TAKE_PTR(out);
	return 0;
}
