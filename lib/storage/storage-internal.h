/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Inside lib/storage: the backend ops table and the open-pool object.
 *
 * The generic layer (storage-pool.c, storage-dataset.c, storage-db.c) owns
 * names, the pool database (.sable/pool.json), locking and crash recovery;
 * it decides *what* exists. A backend only carries out single, primitive
 * steps on paths it is given (make a subvolume here, snapshot that there,
 * delete this, limit that group) and never touches the database. Every
 * path a backend receives is absolute and inside the pool's mountpoint.
 */

#include <jansson.h>
#include <stdint.h>

#include "storage/pool.h"

/* What the node config records about a pool (and what create is asked to make). */
struct hv_pool_spec {
	char *name;       /* "zones" */
	char *mountpoint; /* $SABLE_ROOT/<name> */
	enum hv_pool_backend backend;
	char *file;         /* loop-backed btrfs: the backing file; else NULL */
	uint64_t file_size; /* create only: size of a new backing file */
	char **devices;     /* create only: block devices (btrfs), NULL-terminated; or NULL */
	bool raid1;         /* create only */
	char *uuid;         /* btrfs filesystem UUID (set by create and import) */
	enum hv_quota_mode quota_mode; /* create: requested; import: found */
};

void hv_pool_spec_done(struct hv_pool_spec *s);

/*
 * Quota groups. Every dataset has one level-1 group, allocated by the
 * generic layer (HV_QGROUP_LEVEL1 | n). It contains the dataset's own
 * subvolume, its snapshots, and every descendant dataset and its
 * snapshots, so a limit on it bounds the whole subtree (ZFS's `quota`).
 * Membership is given when a subvolume is made (`groups`), never later.
 */
#define HV_QGROUP_LEVEL1 (UINT64_C(1) << 48)

/* One dataset's space, filled in by ops->space(). UINT64_MAX: unknown. */
struct hv_space {
	const char *path; /* in: the dataset's (or snapshot's) subvolume */
	uint64_t group;   /* in: its level-1 group, or 0 (snapshots) */
	uint64_t used;    /* out: bytes charged to the group (subtree and its snapshots) */
	uint64_t refer;   /* out: bytes charged to the subvolume itself */
};

struct hv_pool_ops {
	const char *name;

	/*
	 * Make the filesystem (mkfs / mkdir), mount it at spec->mountpoint
	 * and turn on accounting as spec->quota_mode asks (AUTO: simple where
	 * the kernel has it, else full). Fills spec->uuid and spec->quota_mode
	 * with what it made. On failure nothing is left: no mount, no loop
	 * device, no backing file it created.
	 */
	int (*pool_create)(struct hv_pool_spec *spec, struct hv_error **reterr);
	/* Mount an existing pool (by spec->file, spec->uuid or, failing both, the label
	 * spec->name). */
	int (*pool_import)(struct hv_pool_spec *spec, struct hv_error **reterr);
	/* Unmount it; -EBUSY with a message naming what is in use. */
	int (*pool_export)(const struct hv_pool_spec *spec, struct hv_error **reterr);
	/* Is it mounted? 1 yes, 0 no. */
	int (*pool_is_imported)(const struct hv_pool_spec *spec, struct hv_error **reterr);
	/* Fill size/used/free/health/profile/devices/quota_mode (the rest is the caller's). */
	int (*pool_status)(struct hv_pool *p, struct hv_pool_status *ret, struct hv_error **reterr);
	int (*pool_scrub)(struct hv_pool *p, struct hv_scrub_result *ret, struct hv_error **reterr);

	/* A new, empty dataset at path (which must not exist), member of groups[0..n). */
	int (*subvol_create)(struct hv_pool *p, const char *path, const uint64_t *groups, size_t n,
	                     struct hv_error **reterr);
	/*
	 * A snapshot (readonly) or clone (writable) of src at dst. skip lists
	 * the datasets nested in src (paths relative to src, NULL-terminated
	 * or NULL): a snapshot does not contain them, only an empty directory
	 * where each was (btrfs does this by itself; dir must skip them).
	 */
	int (*subvol_snapshot)(struct hv_pool *p, const char *src, const char *dst, bool readonly,
	                       char *const *skip, const uint64_t *groups, size_t n,
	                       struct hv_error **reterr);
	/* Delete a dataset or snapshot at path (with nothing nested in it). -ENOENT if absent. */
	int (*subvol_delete)(struct hv_pool *p, const char *path, struct hv_error **reterr);
	int (*subvol_set_readonly)(struct hv_pool *p, const char *path, bool readonly,
	                           struct hv_error **reterr);

	/* Level-1 quota groups (no-ops where there is no accounting, except limits). */
	int (*group_create)(struct hv_pool *p, uint64_t group, struct hv_error **reterr);
	int (*group_destroy)(struct hv_pool *p, uint64_t group, struct hv_error **reterr);
	/*
	 * Add (or remove) the subvolume at path to (from) group; idempotent.
	 * Used when a dataset moves under a new parent.
	 */
	int (*group_assign)(struct hv_pool *p, const char *path, uint64_t group, bool add,
	                    struct hv_error **reterr);
	/* Limit the bytes charged to group (0: none). -EOPNOTSUPP where it cannot be enforced. */
	int (*group_limit)(struct hv_pool *p, uint64_t group, uint64_t bytes,
	                   struct hv_error **reterr);

	int (*space)(struct hv_pool *p, struct hv_space *items, size_t n, struct hv_error **reterr);

	/* compression: "off", "zstd" or "lzo"; applies to data written from now on. */
	int (*set_compression)(struct hv_pool *p, const char *path, const char *alg,
	                       struct hv_error **reterr);

	/*
	 * The payload of a send stream: format "btrfs" (a kernel send stream)
	 * or "tar" (a POSIX tar of the snapshot's files). Write the snapshot at
	 * snap_path (incremental from base_path if not NULL) to fd.
	 */
	const char *send_format;
	int (*send)(struct hv_pool *p, const char *snap_path, const char *base_path, int fd,
	            struct hv_error **reterr);
	/*
	 * Read a payload of the given format from fd into the empty scratch
	 * directory dir, making one read-only snapshot there; return its path.
	 */
	int (*receive)(struct hv_pool *p, const char *format, int fd, const char *dir,
	               char **ret_path, struct hv_error **reterr);
};

extern const struct hv_pool_ops hv_pool_btrfs_ops;
extern const struct hv_pool_ops hv_pool_dir_ops;

const struct hv_pool_ops *hv_pool_ops_for(enum hv_pool_backend b);

/* An open pool. */
struct hv_pool {
	struct hv_pool_spec spec;
	const struct hv_pool_ops *ops;
	char *meta_dir; /* <mountpoint>/.sable */
	char *db_path;  /* <meta_dir>/pool.json */
	int lock_fd;    /* >= 0 while open for writing */
	json_t *db;     /* the pool database, see storage-db.c */
};

/*
 * Shared by backends (storage-tar.c): a pax tar of a directory tree, with
 * owners, modes, times, xattrs, ACLs, hard links and special files; and its
 * extraction below dir, refusing entries that would land outside it.
 * skip (relative paths, NULL-terminated, or NULL) are written as empty
 * directories.
 */
int hv_tar_write(const char *dir, char *const *skip, int fd, struct hv_error **reterr);
int hv_tar_extract(int fd, const char *dir, struct hv_error **reterr);

/* storage-device.c: devices, loop files and mounts. */

/* Attach file to a free loop device that detaches itself when its last user goes. */
int hv_loop_attach(const char *file, char **ret_device, int *ret_fd, struct hv_error **reterr);

/* Block devices holding a btrfs filesystem with this UUID, or (uuid NULL) this label. */
int hv_btrfs_find_devices(const char *uuid, const char *label, char ***ret_devices,
                          char ***ret_uuids, struct hv_error **reterr);

/* Tell the kernel about a btrfs member device (before mounting a multi-device pool). */
int hv_btrfs_scan_device(const char *device, struct hv_error **reterr);

/* Mount points at or below path (from /proc/self/mountinfo), deepest first. */
int hv_mounts_below(const char *path, char ***ret);

/* The filesystem type mounted exactly at path ("btrfs"), or -ENOENT if nothing is. */
int hv_mount_fstype(const char *path, char **ret);
