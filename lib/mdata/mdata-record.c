/* SPDX-License-Identifier: MIT */
/*
 * The VM record as the metadata server sees it: theory.
 *
 * The record (<zonepath>/config/vm.json, lib/core/core-store.c) is the only
 * truth about a VM, and vmadm owns it. zoneadmd serves its guest's metadata
 * from it, but does not link lib/core to do so: core pulls in the pool, the
 * image store and their libraries (libcurl, libarchive, libcrypto), and one
 * zoneadmd runs per zone, statically linked to stay under 1 MiB of RSS when
 * idle. The metadata server needs three things of the record, and this
 * file does them over the same files and under the same rules as core:
 *
 *   read     stat the record on every request and re-read it only when its
 *            identity (inode, size, mtime) changed: vmadm replaces it by
 *            rename, so a change always shows, and an unchanged record
 *            costs one stat. `vmadm update` is visible at the next request.
 *   write    under the VM's lock ($SABLE_ROOT/var/run/sable/vm/<uuid>.lock,
 *            as core-store.c's vm_lock): read the record afresh, change one
 *            key of customer_metadata or internal_metadata, write it
 *            atomically (temporary file, fsync, rename, fsync of the
 *            directory: write_file_atomic, as vm_record_save). The lock is
 *            only tried, never waited for: vmadm may hold it while it waits
 *            for this very zoneadmd (stop, reboot), so a busy VM makes the
 *            server retry later (-EAGAIN) instead of blocking.
 *   notify   tell vmadmd, as hv_vm_notify does, so `vmadm events` sees it.
 *
 * A record grows by guest writes only up to RECORD_MAX (core's limit on
 * what it will read), and each map up to HV_MDATA_MAP_MAX keys, so vmadm
 * can always read what a guest wrote. If core's paths or limits change,
 * this file changes with them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/config.h"
#include "basic/fileio.h"
#include "basic/lock.h"
#include "basic/path.h"
#include "basic/root.h"
#include "basic/uuid.h"
#include "json/json.h"
#include "mdata/record.h"

#define RECORD_MAX (1024 * 1024) /* core-store.c's RECORD_MAX */

struct hv_mdata_record {
	char uuid[UUID_STRING_LEN + 1];
	char *path;      /* the record */
	char *lock_path; /* the VM's lock */
	char *notify;    /* vmadmd's notify socket */
	json_t *facts;   /* the node's: server_uuid, datacenter_name */
	json_t *vm;      /* the record as last read, with the facts */
	struct stat st;  /* the identity of the file it was read from */
};

struct hv_mdata_record *
hv_mdata_record_free(struct hv_mdata_record *r)
{
	if (!r)
		return NULL;
	free(r->path);
	free(r->lock_path);
	free(r->notify);
	json_decref(r->facts);
	json_decref(r->vm);
	free(r);
	return NULL;
}

static void
record_freep(struct hv_mdata_record **r)
{
	*r = hv_mdata_record_free(*r);
}

int
hv_mdata_record_new(const char *uuid, struct hv_mdata_record **ret)
{
	_cleanup_(record_freep) struct hv_mdata_record *r = NULL;
	_cleanup_free_ char *rec = NULL, *lock = NULL;

	if (!uuid_is_valid(uuid))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	memcpy(r->uuid, uuid, UUID_STRING_LEN + 1);
	if (asprintf(&rec, HV_POOL_DIR "/%s/config/vm.json", uuid) < 0 ||
	    asprintf(&lock, HV_RUN_DIR "/vm/%s.lock", uuid) < 0 ||
	    hv_root_path(rec, &r->path) < 0 || hv_root_path(lock, &r->lock_path) < 0 ||
	    hv_root_path(HV_RUN_DIR "/vmadmd.notify", &r->notify) < 0 ||
	    !(r->facts = hv_json_node_facts((const char *const[]){"datacenter_name", NULL})))
		return -ENOMEM;
	*ret = TAKE_PTR(r);
	return 0;
}

static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static int
read_record(struct hv_mdata_record *r, json_t **ret, struct hv_error **reterr)
{
	json_t *o = NULL;
	int k;

	k = hv_json_load_file(r->path, RECORD_MAX, &o, reterr);
	if (k < 0)
		return k;
	if (!json_is_object(o)) {
		json_decref(o);
		return hv_error_set(reterr, -EBADMSG, "VM record '%s' is not a JSON object",
		                    r->path);
	}
	*ret = o;
	return 0;
}

static int
record_load(void *userdata, json_t **ret, struct hv_error **reterr)
{
	struct hv_mdata_record *r = userdata;
	json_t *vm = NULL;
	struct stat st;
	int k;

	if (stat(r->path, &st) < 0) {
		if (errno != ENOENT)
			return hv_error_set(reterr, -errno, "VM record '%s': %m", r->path);
		/* A zone without a VM record (made with zoneadm): only its uuid is known. */
		st = (struct stat){0};
	}
	if (r->vm && same_file(&st, &r->st)) {
		*ret = json_incref(r->vm);
		return 0;
	}
	if (st.st_ino == 0)
		vm = json_pack("{s:s}", "uuid", r->uuid);
	else if ((k = read_record(r, &vm, reterr)) < 0)
		return k;
	if (!vm)
		return -ENOMEM;
	/* The node's facts, unless the record says otherwise. */
	if (json_object_update_missing(vm, r->facts) < 0) {
		json_decref(vm);
		return -ENOMEM;
	}
	json_decref(r->vm);
	r->vm = vm;
	r->st = st;
	*ret = json_incref(vm);
	return 0;
}

static void
notify_vmadmd(struct hv_mdata_record *r)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -EBADF;

	if (strlen(r->notify) >= sizeof(sa.sun_path))
		return;
	strcpy(sa.sun_path, r->notify);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0)
		(void)sendto(fd, r->uuid, strlen(r->uuid), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		             sizeof(sa));
}

static int
record_set(void *userdata, const char *map, const char *key, const char *value, size_t size,
           struct hv_error **reterr)
{
	struct hv_mdata_record *r = userdata;
	_cleanup_close_ int lock = -EBADF;
	_cleanup_free_ char *dir = NULL, *text = NULL;
	json_auto_t *rec = NULL;
	json_t *m;
	int k;

	if (access(r->path, F_OK) < 0)
		return hv_error_set(reterr, -ENOENT, "VM %s has no record to write to", r->uuid);
	if (path_dirname(r->lock_path, &dir) < 0)
		return -ENOMEM;
	(void)mkdir_p(dir, 0700);
	k = lock_file(r->lock_path, LOCK_EX, 0, &lock);
	if (k == -ETIMEDOUT)
		return -EAGAIN;
	if (k < 0)
		return hv_error_set(reterr, k, "cannot lock VM %s: %m", r->uuid);
	if ((k = read_record(r, &rec, reterr)) < 0)
		return k;
	m = json_object_get(rec, map);
	if (!json_is_object(m)) {
		if (!value)
			return 0; /* nothing to remove */
		if (json_object_set_new(rec, map, m = json_object()) < 0)
			return -ENOMEM;
	}
	if (!value) {
		if (json_object_del(m, key) < 0)
			return 0; /* SmartOS: deleting a missing key succeeds */
	} else {
		if (!json_object_get(m, key) && json_object_size(m) >= HV_MDATA_MAP_MAX)
			return hv_error_set(reterr, -E2BIG, "%s is full: at most %d keys", map,
			                    HV_MDATA_MAP_MAX);
		if (json_object_set_new(m, key, json_stringn(value, size)) < 0)
			return hv_error_set(reterr, -EINVAL, "value of '%s': expected UTF-8 text",
			                    key);
	}
	if (!(text = hv_json_dumps(rec)))
		return -ENOMEM;
	if (strlen(text) > RECORD_MAX)
		return hv_error_set(reterr, -EFBIG,
		                    "VM %s: the record would exceed %d bytes with this value",
		                    r->uuid, RECORD_MAX);
	k = write_file_atomic(r->path, text, strlen(text), 0600);
	if (k < 0)
		return hv_error_set(reterr, k, "VM %s: cannot write its record: %m", r->uuid);
	lock = safe_close(lock);
	notify_vmadmd(r);
	return 0;
}

const struct hv_mdata_store hv_mdata_record_store = {record_load, record_set};

int
hv_mdata_listen(const char *dir, uid_t uid, gid_t gid, int *ret_fd)
{
	_cleanup_close_ int dfd = -EBADF, fd = -EBADF;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char name[64];

	/* Bound through the directory's fd: a deep state root must not overflow sun_path. */
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return -errno;
	snprintf(name, sizeof(name), "/proc/self/fd/%d/metadata.sock", dfd);
	strcpy(sa.sun_path, name);
	if (unlinkat(dfd, "metadata.sock", 0) < 0 && errno != ENOENT)
		return -errno;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	if (fchownat(dfd, "metadata.sock", uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(dfd, "metadata.sock", 0600, 0) < 0 || listen(fd, 128) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}
