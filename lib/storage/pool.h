/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The pool: ZFS's role on Linux. A pool holds datasets named like ZFS's
 * ("zones/<uuid>", "zones/<uuid>/data"), their snapshots
 * ("zones/img@final") and clones, volumes (raw disk images in the role of
 * zvols), quotas, and send/receive streams. The btrfs backend makes every
 * dataset a subvolume, so snapshots and clones are O(1); the dir backend
 * makes them plain directories and copies. See storage-pool.c for the
 * theory of operation.
 */

#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"

#define HV_POOL_NAME_MAX     32
#define HV_DATASET_NAME_MAX  255
#define HV_SNAPSHOT_NAME_MAX 64

enum hv_pool_backend {
	HV_POOL_BACKEND_BTRFS,
	HV_POOL_BACKEND_DIR,
	_HV_POOL_BACKEND_MAX,
	_HV_POOL_BACKEND_INVALID = -EINVAL,
};
const char *hv_pool_backend_to_string(enum hv_pool_backend b);
enum hv_pool_backend hv_pool_backend_from_string(const char *s);

enum hv_quota_mode {
	HV_QUOTA_AUTO,   /* simple quotas where the kernel has them, else full qgroups */
	HV_QUOTA_SIMPLE, /* btrfs simple quotas (Linux 6.7+): a clone is charged only what it writes
	                  */
	HV_QUOTA_FULL,   /* btrfs qgroups with backref accounting (any kernel) */
	HV_QUOTA_NONE,   /* no accounting (the dir backend) */
	_HV_QUOTA_MAX,
	_HV_QUOTA_INVALID = -EINVAL,
};
const char *hv_quota_mode_to_string(enum hv_quota_mode m);
enum hv_quota_mode hv_quota_mode_from_string(const char *s);

enum hv_dataset_type {
	HV_DATASET_FILESYSTEM,
	HV_DATASET_VOLUME,
	HV_DATASET_SNAPSHOT,
	_HV_DATASET_TYPE_MAX,
	_HV_DATASET_TYPE_INVALID = -EINVAL,
};
const char *hv_dataset_type_to_string(enum hv_dataset_type t);
enum hv_dataset_type hv_dataset_type_from_string(const char *s);

/* How to make a pool. */
struct hv_pool_create_opts {
	const char *name; /* "zones" */
	enum hv_pool_backend backend;
	char *const *devices; /* block devices (btrfs), NULL-terminated; or NULL */
	const char *file;     /* a sparse file to create and loop-mount (btrfs), or NULL */
	uint64_t file_size;   /* its size */
	bool raid1;           /* mirror data and metadata across devices */
	enum hv_quota_mode quota_mode;
};

/* Pool-wide facts for `pooladm status` and `list -t pool`. */
struct hv_pool_device {
	char *path;
	uint64_t size;
	uint64_t errors; /* read + write + flush + corruption + generation errors */
	bool missing;
};

struct hv_pool_status {
	char *name;
	char *mountpoint;
	enum hv_pool_backend backend;
	enum hv_quota_mode quota_mode;
	char *health;  /* ONLINE, DEGRADED, FAULTED */
	char *profile; /* data profile: single, dup, raid1, … ("-" for dir) */
	char *uuid;    /* filesystem UUID, or NULL */
	char *file;    /* loop file, or NULL */
	uint64_t size, used, free;
	struct hv_pool_device *devices;
	size_t n_devices;
};
struct hv_pool_status *hv_pool_status_free(struct hv_pool_status *s);

struct hv_scrub_result {
	uint64_t bytes;
	uint64_t csum_errors;
	uint64_t read_errors;
	uint64_t corrected;
	uint64_t uncorrectable;
};

/* One row of `pooladm list`. UINT64_MAX means "not known here" (printed as "-"). */
struct hv_dataset_info {
	char *name; /* "zones/a", "zones/a@s" */
	enum hv_dataset_type type;
	char *mountpoint; /* NULL for snapshots */
	char *origin;     /* "zones/img@final" or NULL */
	uint64_t used, avail, refer, quota, volsize, creation;
	char *compression;
	char *guid;
};

struct hv_pool;

/* Create a pool, mount it at $SABLE_ROOT/<name>, and record it in the node config. */
int hv_pool_create(const struct hv_pool_create_opts *opts, struct hv_error **reterr);

/*
 * Import (mount) a recorded pool, or, when the node config records none by
 * that name, find a btrfs filesystem labelled with it. name NULL imports
 * every recorded pool that is not imported yet.
 */
int hv_pool_import(const char *name, struct hv_error **reterr);

/* Unmount a pool; its record stays, so `import` finds it again. */
int hv_pool_export(const char *name, struct hv_error **reterr);

/* Names of the pools the node config records. */
int hv_pool_list_names(char ***ret, struct hv_error **reterr);

enum {
	HV_POOL_OPEN_WRITE = 1 << 0, /* take the pool lock (and finish interrupted operations) */
};

/* Open an imported pool. Writers hold its lock until hv_pool_close(). */
int hv_pool_open(const char *name, unsigned flags, struct hv_pool **ret, struct hv_error **reterr);
struct hv_pool *hv_pool_close(struct hv_pool *p);
static inline void
hv_pool_closep(struct hv_pool **p)
{
	*p = hv_pool_close(*p);
}
#define _cleanup_hv_pool_ _cleanup_(hv_pool_closep)

/* Open the pool that a dataset name ("zones/a/b@s") lives in. */
int hv_pool_open_for(const char *dataset, unsigned flags, struct hv_pool **ret,
                     struct hv_error **reterr);

int hv_pool_get_status(struct hv_pool *p, struct hv_pool_status **ret, struct hv_error **reterr);
int hv_pool_scrub(struct hv_pool *p, struct hv_scrub_result *ret, struct hv_error **reterr);

/* Dataset properties given at creation. */
struct hv_dataset_props {
	uint64_t quota;          /* 0: none */
	uint64_t volsize;        /* volumes only */
	const char *compression; /* NULL: inherit (off at the top) */
	bool parents;            /* create missing parents (-p) */
};

int hv_pool_create_dataset(struct hv_pool *p, const char *name, enum hv_dataset_type type,
                           const struct hv_dataset_props *props, struct hv_error **reterr);

enum {
	HV_DESTROY_RECURSIVE = 1 << 0,  /* -r: children and snapshots too */
	HV_DESTROY_DEPENDENTS = 1 << 1, /* -R: also clones of those snapshots, wherever they are */
};
int hv_pool_destroy(struct hv_pool *p, const char *name, unsigned flags, struct hv_error **reterr);

int hv_pool_rename(struct hv_pool *p, const char *from, const char *to, struct hv_error **reterr);
int hv_pool_snapshot(struct hv_pool *p, const char *snapshot, struct hv_error **reterr);

/* -r: destroy snapshots newer than the target (else refuse when there are any). */
int hv_pool_rollback(struct hv_pool *p, const char *snapshot, bool destroy_newer,
                     struct hv_error **reterr);

int hv_pool_clone(struct hv_pool *p, const char *snapshot, const char *name,
                  const struct hv_dataset_props *props, struct hv_error **reterr);
int hv_pool_promote(struct hv_pool *p, const char *clone, struct hv_error **reterr);

/* Properties: quota, compression, volsize (settable); used, avail, refer, … (read-only). */
int hv_pool_set(struct hv_pool *p, const char *name, const char *prop, const char *value,
                struct hv_error **reterr);

enum {
	HV_LIST_FILESYSTEMS = 1 << 0,
	HV_LIST_VOLUMES = 1 << 1,
	HV_LIST_SNAPSHOTS = 1 << 2,
	HV_LIST_RECURSIVE = 1 << 3, /* with a name: its descendants too */
};

/* List datasets (all, or name and, with HV_LIST_RECURSIVE, its descendants), sorted by name. */
int hv_pool_list(struct hv_pool *p, const char *name, unsigned flags, struct hv_dataset_info **ret,
                 size_t *ret_n, struct hv_error **reterr);
void hv_dataset_info_free_many(struct hv_dataset_info *l, size_t n);

/* Where a filesystem or volume is: its directory; for a volume, the raw file in it. */
int hv_pool_dataset_path(struct hv_pool *p, const char *name, char **ret, struct hv_error **reterr);
int hv_pool_volume_path(struct hv_pool *p, const char *name, char **ret, struct hv_error **reterr);

/* Write a send stream of snapshot (incremental from base, a snapshot name or NULL) to fd. */
int hv_pool_send(struct hv_pool *p, const char *snapshot, const char *base, int fd,
                 struct hv_error **reterr);

/* Read a send stream from fd into dataset name (created; or, incremental, updated). */
int hv_pool_receive(struct hv_pool *p, const char *name, int fd, struct hv_error **reterr);

/*
 * Dataset names: "<pool>/<component>/…[@<snapshot>]". Components are
 * letters, digits and "_-.:" (not starting with '.' or '-'); snapshot names
 * also allow '%'. At most HV_DATASET_NAME_MAX bytes in all.
 */
int hv_dataset_name_check(const char *name, bool allow_snapshot, struct hv_error **reterr);
