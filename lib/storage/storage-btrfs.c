/* SPDX-License-Identifier: MIT */
/*
 * The btrfs pool backend.
 *
 * A pool is one btrfs filesystem (on block devices, or on a sparse file
 * through a loop device) mounted at the pool's mountpoint; its label is
 * the pool's name. Every dataset is a subvolume, so snapshots and clones
 * are O(1), and every dataset's level-1 quota group (allocated by the
 * generic layer) is a btrfs qgroup that its subvolume and snapshots join
 * when they are made. Simple quotas (Linux 6.7+) are preferred: they
 * charge a clone only for what it writes and need no backref walks.
 *
 * Invariants: this file never keeps state between calls (every op opens
 * the mountpoint afresh), never touches the pool database, and undoes
 * what it did when an op fails half-way (create leaves no mount, loop
 * device or file behind). Kernel objects are reached through ioctls and
 * libbtrfsutil; only `mkfs.btrfs` and `btrfs receive` are programs, as no
 * library does their work.
 */

#include <blkid.h>
#include <btrfsutil.h>
#include <ctype.h>
#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/error.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/path.h"
#include "basic/spawn.h"
#include "basic/strv.h"
#include "basic/uuid.h"
#include "storage/storage-btrfs.h"
#include "storage/storage-internal.h"

int
hv_btrfs_open_dir(const char *path)
{
	return RET_NERRNO(open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

/* The mountpoint of an open pool, as an fd for ioctls. */
int
hv_btrfs_open_pool(struct hv_pool *p, struct hv_error **reterr)
{
	int fd = hv_btrfs_open_dir(p->spec.mountpoint);

	if (fd < 0)
		return hv_error_set(reterr, fd, "cannot open pool '%s' at '%s': %m", p->spec.name,
		                    p->spec.mountpoint);
	return fd;
}

/*
 * A libbtrfsutil failure as -errno (libbtrfsutil sets errno) and a message
 * "<context>: <reason>". Call it right after the failing call.
 */

int
hv_btrfs_util_error(struct hv_error **reterr, enum btrfs_util_error err, const char *fmt, ...)
{
	int code = err == BTRFS_UTIL_ERROR_NO_MEMORY ? -ENOMEM : negative_errno();
	_cleanup_free_ char *ctx = NULL, *why = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&ctx, fmt, ap) < 0)
		ctx = NULL;
	va_end(ap);
	/* errno (EINVAL) says less than these. */
	if (err == BTRFS_UTIL_ERROR_NOT_BTRFS || err == BTRFS_UTIL_ERROR_NOT_SUBVOLUME) {
		why = strdup(btrfs_util_strerror(err));
		if (why)
			why[0] = (char)tolower((unsigned char)why[0]);
	}
	return hv_error_set(reterr, code, "%s: %s", strempty(ctx), why ?: strerror(-code));
}

/* "1/5": how btrfs writes a qgroup id. */
void
hv_btrfs_format_qgroup(uint64_t g, char buf[static 32])
{
	snprintf(buf, 32, "%" PRIu64 "/%" PRIu64, QGROUP_LEVEL(g), QGROUP_ID(g));
}

/*
 * Call f for every item (objectid, type, [min_offset, max_offset]) of
 * tree, with as few TREE_SEARCH_V2 calls as buf_size allows. -ENOENT if
 * the tree does not exist.
 */
int
hv_btrfs_tree_search(int fd, uint64_t tree, uint64_t objectid, uint32_t type, uint64_t min_offset,
                     uint64_t max_offset, size_t buf_size, search_fn f, void *userdata)
{
	_cleanup_free_ struct btrfs_ioctl_search_args_v2 *args = NULL;

	args = malloc(sizeof(*args) + buf_size);
	if (!args)
		return -ENOMEM;
	for (;;) {
		const uint8_t *pos = (const uint8_t *)args->buf;
		uint64_t last = 0;

		args->key = (struct btrfs_ioctl_search_key){
		        .tree_id = tree,
		        .min_objectid = objectid,
		        .max_objectid = objectid,
		        .min_type = type,
		        .max_type = type,
		        .min_offset = min_offset,
		        .max_offset = max_offset,
		        .max_transid = UINT64_MAX,
		        .nr_items = UINT32_MAX,
		};
		args->buf_size = buf_size;
		if (ioctl(fd, BTRFS_IOC_TREE_SEARCH_V2, args) < 0)
			return -errno;
		if (args->key.nr_items == 0)
			return 0;
		for (uint32_t i = 0; i < args->key.nr_items; i++) {
			struct btrfs_ioctl_search_header h;
			int r;

			memcpy(&h, pos, sizeof(h));
			pos += sizeof(h);
			if (h.objectid == objectid && h.type == type) {
				r = f(&h, pos, userdata);
				if (r != 0)
					return r < 0 ? r : 0;
			}
			pos += h.len;
			last = h.offset;
		}
		if (last >= max_offset)
			return 0;
		min_offset = last + 1;
	}
}

struct quota_status {
	bool found;
	uint64_t flags;
};

static int
status_item(const struct btrfs_ioctl_search_header *h, const void *data, void *userdata)
{
	struct quota_status *s = userdata;
	struct btrfs_qgroup_status_item item = {};

	memcpy(&item, data, MIN((size_t)h->len, sizeof(item)));
	s->found = true;
	s->flags = le64toh(item.flags);
	return 1;
}

/* The pool's accounting, from the status item of its quota tree (none without one). */
int
hv_btrfs_quota_mode_of(int fd, enum hv_quota_mode *ret, uint64_t *ret_flags)
{
	struct quota_status s = {};
	int r;

	r = hv_btrfs_tree_search(fd, BTRFS_QUOTA_TREE_OBJECTID, 0, BTRFS_QGROUP_STATUS_KEY, 0, 0,
	                         SEARCH_BUF_SMALL, status_item, &s);
	if (r < 0 && r != -ENOENT)
		return r;
	if (!s.found || !(s.flags & BTRFS_QGROUP_STATUS_FLAG_ON))
		*ret = HV_QUOTA_NONE;
	else if (s.flags & QGROUP_STATUS_FLAG_SIMPLE_MODE)
		*ret = HV_QUOTA_SIMPLE;
	else
		*ret = HV_QUOTA_FULL;
	if (ret_flags)
		*ret_flags = s.flags;
	return 0;
}

int
hv_btrfs_quota_ctl(int fd, uint64_t cmd)
{
	struct btrfs_ioctl_quota_ctl_args args = {.cmd = cmd};

	return RET_NERRNO(ioctl(fd, BTRFS_IOC_QUOTA_CTL, &args));
}

/* Turn accounting on as want asks; *ret is what the pool got. */
int
hv_btrfs_quota_enable(int fd, const char *name, enum hv_quota_mode want, enum hv_quota_mode *ret,
                      struct hv_error **reterr)
{
	int r;

	*ret = HV_QUOTA_NONE;
	if (want == HV_QUOTA_NONE)
		return 0;
	if (want == HV_QUOTA_AUTO || want == HV_QUOTA_SIMPLE) {
		r = hv_btrfs_quota_ctl(fd, QUOTA_CTL_ENABLE_SIMPLE);
		if (r >= 0) {
			*ret = HV_QUOTA_SIMPLE;
			return 0;
		}
		if (want == HV_QUOTA_SIMPLE || (r != -EINVAL && r != -EOPNOTSUPP))
			return hv_error_set(reterr, r,
			                    "cannot enable simple quotas on pool '%s' (they need "
			                    "Linux 6.7 or later): %m",
			                    name);
	}
	r = hv_btrfs_quota_ctl(fd, BTRFS_QUOTA_CTL_ENABLE);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot enable quotas on pool '%s': %m", name);
	/* The new filesystem is empty: the initial rescan is instant. */
	(void)ioctl(fd, BTRFS_IOC_QUOTA_RESCAN_WAIT);
	*ret = HV_QUOTA_FULL;
	return 0;
}

/*
 * Full qgroups cannot account a snapshot that joins a group its source is
 * not in: the kernel marks the numbers inconsistent. Start a rescan then
 * (it runs in the background); simple quotas never need one.
 */
void
hv_btrfs_quota_rescan(int fd)
{
	struct btrfs_ioctl_quota_rescan_args args = {};
	struct btrfs_ioctl_fs_info_args info = {};
	_cleanup_free_ char *sys = NULL, *v = NULL;
	char fsid[UUID_STRING_LEN + 1];
	enum hv_quota_mode mode;
	uint64_t flags;

	if (hv_btrfs_quota_mode_of(fd, &mode, &flags) < 0 || mode != HV_QUOTA_FULL ||
	    ioctl(fd, BTRFS_IOC_FS_INFO, &info) < 0)
		return;
	/* sysfs has the kernel's flag now; the tree's status item gets it at a later commit. */
	uuid_format(info.fsid, fsid);
	if (asprintf(&sys, "/sys/fs/btrfs/%s/qgroups/inconsistent", fsid) >= 0 &&
	    read_one_line_file(sys, &v) >= 0 && streq(v, "1"))
		flags |= BTRFS_QGROUP_STATUS_FLAG_INCONSISTENT;
	if (flags & BTRFS_QGROUP_STATUS_FLAG_INCONSISTENT)
		(void)ioctl(fd, BTRFS_IOC_QUOTA_RESCAN, &args);
}

static void
inherit_freep(struct btrfs_util_qgroup_inherit **i)
{
	if (*i)
		btrfs_util_destroy_qgroup_inherit(*i);
}

/* The qgroup inheritance for a new subvolume in groups, or NULL when there is none to do. */
static int
make_inherit(int pool_fd, const uint64_t *groups, size_t n, struct btrfs_util_qgroup_inherit **ret)
{
	_cleanup_(inherit_freep) struct btrfs_util_qgroup_inherit *inherit = NULL;
	enum hv_quota_mode mode;
	int r;

	*ret = NULL;
	if (n == 0)
		return 0;
	r = hv_btrfs_quota_mode_of(pool_fd, &mode, NULL);
	if (r < 0)
		return r;
	if (mode == HV_QUOTA_NONE)
		return 0;
	if (btrfs_util_create_qgroup_inherit(0, &inherit) != BTRFS_UTIL_OK)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (btrfs_util_qgroup_inherit_add_group(&inherit, groups[i]) != BTRFS_UTIL_OK)
			return -ENOMEM;
	*ret = TAKE_PTR(inherit);
	return 0;
}

static int
btrfs_subvol_create(struct hv_pool *p, const char *path, const uint64_t *groups, size_t n,
                    struct hv_error **reterr)
{
	_cleanup_(inherit_freep) struct btrfs_util_qgroup_inherit *inherit = NULL;
	_cleanup_close_ int fd = -EBADF;
	enum btrfs_util_error err;
	int r;

	fd = hv_btrfs_open_pool(p, reterr);
	if (fd < 0)
		return fd;
	r = make_inherit(fd, groups, n, &inherit);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot create subvolume '%s': %m", path);
	err = btrfs_util_create_subvolume(path, 0, NULL, inherit);
	if (err != BTRFS_UTIL_OK)
		return hv_btrfs_util_error(
		        reterr, err, "cannot create subvolume '%s'%s", path,
		        errno == ENOENT && inherit ? " (or a quota group is missing)" : "");
	return 0;
}

/* skip is ignored: a btrfs snapshot leaves nested subvolumes out by itself. */
static int
btrfs_subvol_snapshot(struct hv_pool *p, const char *src, const char *dst, bool readonly,
                      char *const *skip, const uint64_t *groups, size_t n, struct hv_error **reterr)
{
	_cleanup_(inherit_freep) struct btrfs_util_qgroup_inherit *inherit = NULL;
	_cleanup_close_ int fd = -EBADF;
	enum btrfs_util_error err;
	int r;

	fd = hv_btrfs_open_pool(p, reterr);
	if (fd < 0)
		return fd;
	r = make_inherit(fd, groups, n, &inherit);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot snapshot '%s' to '%s': %m", src, dst);
	err = btrfs_util_create_snapshot(
	        src, dst, readonly ? BTRFS_UTIL_CREATE_SNAPSHOT_READ_ONLY : 0, NULL, inherit);
	if (err != BTRFS_UTIL_OK)
		return hv_btrfs_util_error(reterr, err, "cannot snapshot '%s' to '%s'", src, dst);
	if (inherit)
		hv_btrfs_quota_rescan(fd);
	return 0;
}

static int
btrfs_subvol_delete(struct hv_pool *p, const char *path, struct hv_error **reterr)
{
	enum btrfs_util_error err;

	err = btrfs_util_delete_subvolume(path, 0);
	if (err != BTRFS_UTIL_OK)
		return hv_btrfs_util_error(reterr, err, "cannot delete subvolume '%s'", path);
	return 0;
}

static int
btrfs_subvol_set_readonly(struct hv_pool *p, const char *path, bool readonly,
                          struct hv_error **reterr)
{
	enum btrfs_util_error err;

	err = btrfs_util_set_subvolume_read_only(path, readonly);
	if (err != BTRFS_UTIL_OK)
		return hv_btrfs_util_error(reterr, err, "cannot make subvolume '%s' %s", path,
		                           readonly ? "read-only" : "writable");
	return 0;
}

/* The pool fd and whether it has accounting; 0 and fd < 0 without it. */
static int
open_pool_quota(struct hv_pool *p, int *ret_fd, struct hv_error **reterr)
{
	_cleanup_close_ int fd = -EBADF;
	enum hv_quota_mode mode;
	int r;

	*ret_fd = -EBADF;
	fd = hv_btrfs_open_pool(p, reterr);
	if (fd < 0)
		return fd;
	r = hv_btrfs_quota_mode_of(fd, &mode, NULL);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot read the quota state of pool '%s': %m",
		                    p->spec.name);
	if (mode == HV_QUOTA_NONE)
		return 0;
	*ret_fd = TAKE_FD(fd);
	return 1;
}

/*
 * Create or destroy a group; both are idempotent, as recovery may repeat
 * them. A group stays busy (-EBUSY) while a deleted member subvolume waits
 * for the cleaner; the caller keeps such a group and tries again later
 * rather than wait here.
 */
static int
group_ctl(struct hv_pool *p, uint64_t group, bool create, struct hv_error **reterr)
{
	struct btrfs_ioctl_qgroup_create_args a = {.create = create, .qgroupid = group};
	_cleanup_close_ int fd = -EBADF;
	char g[32];
	int r;

	r = open_pool_quota(p, &fd, reterr);
	if (r <= 0)
		return r;
	r = RET_NERRNO(ioctl(fd, BTRFS_IOC_QGROUP_CREATE, &a));
	if (r >= 0 || r == (create ? -EEXIST : -ENOENT))
		return 0;
	hv_btrfs_format_qgroup(group, g);
	return hv_error_set(reterr, r, "cannot %s quota group %s in pool '%s': %m%s",
	                    create ? "create" : "destroy", g, p->spec.name,
	                    r == -EBUSY ? " (it still has members)" : "");
}

static int
btrfs_group_create(struct hv_pool *p, uint64_t group, struct hv_error **reterr)
{
	return group_ctl(p, group, true, reterr);
}

static int
btrfs_group_destroy(struct hv_pool *p, uint64_t group, struct hv_error **reterr)
{
	return group_ctl(p, group, false, reterr);
}

static int
btrfs_group_assign(struct hv_pool *p, const char *path, uint64_t group, bool add,
                   struct hv_error **reterr)
{
	_cleanup_close_ int fd = -EBADF;
	enum btrfs_util_error err;
	uint64_t subvol;
	char g[32];
	int r;

	r = open_pool_quota(p, &fd, reterr);
	if (r <= 0)
		return r;
	err = btrfs_util_subvolume_id(path, &subvol);
	if (err != BTRFS_UTIL_OK)
		return hv_btrfs_util_error(reterr, err, "cannot find the subvolume of '%s'", path);
	struct btrfs_ioctl_qgroup_assign_args a = {.assign = add, .src = subvol, .dst = group};
	r = RET_NERRNO(ioctl(fd, BTRFS_IOC_QGROUP_ASSIGN, &a));
	if (r >= 0 || r == (add ? -EEXIST : -ENOENT)) {
		/* Full qgroups cannot move charged bytes between groups without a rescan. */
		hv_btrfs_quota_rescan(fd);
		return 0;
	}
	hv_btrfs_format_qgroup(group, g);
	return hv_error_set(reterr, r, "cannot %s '%s' %s quota group %s: %m",
	                    add ? "add" : "remove", path, add ? "to" : "from", g);
}

static int
btrfs_group_limit(struct hv_pool *p, uint64_t group, uint64_t bytes, struct hv_error **reterr)
{
	_cleanup_close_ int fd = -EBADF;
	struct btrfs_ioctl_qgroup_limit_args a = {
	        .qgroupid = group,
	        .lim = {.flags = BTRFS_QGROUP_LIMIT_MAX_EXCL,
	                .max_excl = bytes == 0 ? QGROUP_LIMIT_CLEAR : bytes},
	};
	char g[32];
	int r;

	hv_btrfs_format_qgroup(group, g);
	r = open_pool_quota(p, &fd, reterr);
	if (r < 0)
		return r;
	if (r == 0) {
		if (bytes == 0)
			return 0;
		return hv_error_set(reterr, -EOPNOTSUPP,
		                    "cannot limit quota group %s: pool '%s' has no quotas", g,
		                    p->spec.name);
	}
	if (ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, &a) < 0)
		return hv_error_set(reterr, -errno, "cannot limit quota group %s in pool '%s': %m",
		                    g, p->spec.name);
	return 0;
}

struct usage {
	uint64_t id, rfer, excl;
};

struct usage_list {
	struct usage *items;
	size_t n, alloc;
};

static int
info_item(const struct btrfs_ioctl_search_header *h, const void *data, void *userdata)
{
	struct usage_list *l = userdata;
	struct btrfs_qgroup_info_item item = {};

	if (l->n == l->alloc) {
		size_t na = l->alloc ? l->alloc * 2 : 256;
		struct usage *ni = reallocarray(l->items, na, sizeof(*ni));

		if (!ni)
			return -ENOMEM;
		l->items = ni;
		l->alloc = na;
	}
	memcpy(&item, data, MIN((size_t)h->len, sizeof(item)));
	l->items[l->n++] = (struct usage){
	        .id = h->offset,
	        .rfer = le64toh(item.rfer),
	        .excl = le64toh(item.excl),
	};
	return 0;
}

static int
cmp_usage(const void *key, const void *elem)
{
	uint64_t k = *(const uint64_t *)key, id = ((const struct usage *)elem)->id;

	return k < id ? -1 : k > id;
}

/* The search returns items in key order, so the list is sorted by id. */
static const struct usage *
find_usage(const struct usage_list *l, uint64_t id)
{
	return bsearch(&id, l->items, l->n, sizeof(l->items[0]), cmp_usage);
}

/* One pass over the quota tree, then a subvolume id per item: no per-item search. */
static int
btrfs_space(struct hv_pool *p, struct hv_space *items, size_t n, struct hv_error **reterr)
{
	_cleanup_close_ int fd = -EBADF;
	struct usage_list l = {};
	int r;

	for (size_t i = 0; i < n; i++)
		items[i].used = items[i].refer = UINT64_MAX;
	r = open_pool_quota(p, &fd, reterr);
	if (r <= 0)
		return r;
	r = hv_btrfs_tree_search(fd, BTRFS_QUOTA_TREE_OBJECTID, 0, BTRFS_QGROUP_INFO_KEY, 0,
	                         UINT64_MAX, SEARCH_BUF_LARGE, info_item, &l);
	if (r < 0) {
		free(l.items);
		return hv_error_set(reterr, r, "cannot read quota groups of pool '%s': %m",
		                    p->spec.name);
	}
	for (size_t i = 0; i < n; i++) {
		const struct usage *u;
		uint64_t subvol = 0;

		if (btrfs_util_subvolume_id(items[i].path, &subvol) != BTRFS_UTIL_OK)
			subvol = 0;
		u = subvol ? find_usage(&l, subvol) : NULL;
		if (u)
			items[i].refer = u->rfer;
		u = items[i].group ? find_usage(&l, items[i].group) : u;
		if (u)
			items[i].used = u->excl;
	}
	free(l.items);
	return 0;
}

/*
 * The kernel validates the btrfs.compression property ("zlib", "lzo",
 * "zstd", "no"/"none") and copies a directory's value to each file and
 * directory made in it later; removing it clears the inode's flags.
 * So a value set on a dataset's root reaches new files, as ZFS's does;
 * files that exist keep what they inherited when they were made.
 */
static int
btrfs_set_compression(struct hv_pool *p, const char *path, const char *alg,
                      struct hv_error **reterr)
{
	if (streq(alg, "off")) {
		if (removexattr(path, COMPRESSION_XATTR) < 0 && errno != ENODATA)
			return hv_error_set(reterr, -errno,
			                    "cannot turn compression off on '%s': %m", path);
		return 0;
	}
	if (!streq(alg, "zstd") && !streq(alg, "lzo"))
		return hv_error_set(reterr, -EINVAL,
		                    "unknown compression '%s' (expected off, zstd or lzo)", alg);
	if (setxattr(path, COMPRESSION_XATTR, alg, strlen(alg), 0) < 0)
		return hv_error_set(reterr, -errno, "cannot set compression '%s' on '%s': %m", alg,
		                    path);
	return 0;
}

static int
btrfs_send(struct hv_pool *p, const char *snap_path, const char *base_path, int fd,
           struct hv_error **reterr)
{
	_cleanup_close_ int snap = -EBADF;
	struct btrfs_ioctl_send_args a = {.send_fd = fd};
	uint64_t base = 0;
	__u64 sources[1];
	enum btrfs_util_error err;

	snap = hv_btrfs_open_dir(snap_path);
	if (snap < 0)
		return hv_error_set(reterr, snap, "cannot send '%s': %m", snap_path);
	if (base_path) {
		err = btrfs_util_subvolume_id(base_path, &base);
		if (err != BTRFS_UTIL_OK)
			return hv_btrfs_util_error(reterr, err, "cannot send '%s' from '%s'",
			                           snap_path, base_path);
		sources[0] = base;
		a.parent_root = base;
		a.clone_sources = sources;
		a.clone_sources_count = 1;
	}
	if (ioctl(snap, BTRFS_IOC_SEND, &a) < 0) {
		if (errno == EPERM)
			return hv_error_set(reterr, -EPERM,
			                    "cannot send '%s': it is not a read-only snapshot",
			                    snap_path);
		return hv_error_set(reterr, -errno, "cannot send '%s': %m", snap_path);
	}
	return 0;
}

/* The entries of dir (without "." and ".."). */
static int
list_dir(const char *dir, char ***ret)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	_cleanup_strv_free_ char **l = NULL;
	struct dirent *de;

	if (!d)
		return -errno;
	while ((errno = 0, de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
		    strv_push(&l, de->d_name) < 0)
			return -ENOMEM;
	if (errno != 0)
		return -errno;
	*ret = TAKE_PTR(l);
	return 0;
}

/* Run `btrfs receive` with stdin = fd; stderr explains a failure. */
static int
run_btrfs_receive(int fd, const char *dir, struct hv_error **reterr)
{
	char *argv[] = {"btrfs", "receive", "-e", "--", (char *)dir, NULL};
	_cleanup_(child_done) struct child c = CHILD_NULL;
	_cleanup_close_ int rd = -EBADF, wr = -EBADF;
	_cleanup_free_ char *err = NULL, *why = NULL;
	int pipefd[2], status = 0, r;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	rd = pipefd[0];
	wr = pipefd[1];
	r = spawn_start(argv, (const int[3]){fd, SPAWN_FD_NULL, wr}, &c);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot receive into '%s': btrfs: %m%s", dir,
		                    r == -ENOENT ? " (install btrfs-progs)" : "");
	wr = safe_close(wr);
	r = read_full_fd(rd, SPAWN_CAPTURE_MAX, &err, NULL);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot receive into '%s': %m", dir);
	r = child_wait(&c, -1, &status);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot receive into '%s': %m", dir);
	if (status == 0)
		return 0;
	why = hv_btrfs_tool_reason(err);
	return hv_error_set(reterr, -EBADMSG, "cannot receive into '%s': btrfs receive: %s", dir,
	                    strempty(why));
}

static int
receive_btrfs(int fd, const char *dir, char **ret_path, struct hv_error **reterr)
{
	_cleanup_strv_free_ char **entries = NULL;
	int r, k;

	r = run_btrfs_receive(fd, dir, reterr);
	k = list_dir(dir, &entries);
	if (r >= 0 && k >= 0 && strv_length(entries) == 1)
		return path_join(dir, entries[0], ret_path);
	/* Delete what a failed receive left behind. */
	STRV_FOREACH (e, entries) {
		_cleanup_free_ char *path = NULL;

		if (path_join(dir, *e, &path) >= 0 &&
		    btrfs_util_is_subvolume(path) == BTRFS_UTIL_OK)
			(void)btrfs_util_delete_subvolume(path, 0);
	}
	if (r < 0)
		return r;
	if (k < 0)
		return hv_error_set(reterr, k, "cannot list '%s': %m", dir);
	return hv_error_set(reterr, -EBADMSG,
	                    "cannot receive into '%s': the stream made %zu entries, expected one",
	                    dir, strv_length(entries));
}

static int
receive_tar(struct hv_pool *p, int fd, const char *dir, char **ret_path, struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL;
	int r;

	r = path_join(dir, RECEIVED_SUBVOL, &path);
	if (r < 0)
		return r;
	r = btrfs_subvol_create(p, path, NULL, 0, reterr);
	if (r < 0)
		return r;
	r = hv_tar_extract(fd, path, reterr);
	if (r >= 0)
		r = btrfs_subvol_set_readonly(p, path, true, reterr);
	if (r < 0) {
		(void)btrfs_util_delete_subvolume(path, 0);
		return hv_error_prefix(reterr, r, "cannot receive into '%s'", dir);
	}
	*ret_path = TAKE_PTR(path);
	return 0;
}

static int
btrfs_receive(struct hv_pool *p, const char *format, int fd, const char *dir, char **ret_path,
              struct hv_error **reterr)
{
	if (streq(format, "btrfs"))
		return receive_btrfs(fd, dir, ret_path, reterr);
	if (streq(format, "tar"))
		return receive_tar(p, fd, dir, ret_path, reterr);
	return hv_error_set(reterr, -EPROTONOSUPPORT,
	                    "cannot receive a '%s' stream into a btrfs pool (expected btrfs or "
	                    "tar)",
	                    format);
}

const struct hv_pool_ops hv_pool_btrfs_ops = {
        .name = "btrfs",
        .pool_create = hv_btrfs_pool_create,
        .pool_import = hv_btrfs_pool_import,
        .pool_export = hv_btrfs_pool_export,
        .pool_is_imported = hv_btrfs_pool_is_imported,
        .pool_status = hv_btrfs_pool_status,
        .pool_scrub = hv_btrfs_pool_scrub,
        .subvol_create = btrfs_subvol_create,
        .subvol_snapshot = btrfs_subvol_snapshot,
        .subvol_delete = btrfs_subvol_delete,
        .subvol_set_readonly = btrfs_subvol_set_readonly,
        .group_create = btrfs_group_create,
        .group_destroy = btrfs_group_destroy,
        .group_assign = btrfs_group_assign,
        .group_limit = btrfs_group_limit,
        .space = btrfs_space,
        .set_compression = btrfs_set_compression,
        .send_format = "btrfs",
        .send = btrfs_send,
        .receive = btrfs_receive,
};
