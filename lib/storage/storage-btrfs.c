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
#include "storage/storage-internal.h"

/*
 * Simple quotas (Linux 6.7): BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA and the
 * status flag that marks them. Debian 12's <linux/btrfs.h> (6.1) lacks both.
 */
#define QUOTA_CTL_ENABLE_SIMPLE        UINT64_C(4)
#define QGROUP_STATUS_FLAG_SIMPLE_MODE (UINT64_C(1) << 3)

/* The kernel resets a limit when it is given this value. */
#define QGROUP_LIMIT_CLEAR UINT64_MAX

#define MKFS_TIMEOUT_MS    (10 * 60 * 1000)
#define SEARCH_BUF_SMALL   4096
#define SEARCH_BUF_LARGE   (1024 * 1024)
#define COMPRESSION_XATTR  "btrfs.compression"
#define RECEIVED_SUBVOL    "received"
#define QGROUP_LEVEL_SHIFT 48
#define QGROUP_ID(g)       ((g) & ((UINT64_C(1) << QGROUP_LEVEL_SHIFT) - 1))
#define QGROUP_LEVEL(g)    ((g) >> QGROUP_LEVEL_SHIFT)

static int
open_dir(const char *path)
{
	return RET_NERRNO(open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

/* The mountpoint of an open pool, as an fd for ioctls. */
static int
open_pool(struct hv_pool *p, struct hv_error **reterr)
{
	int fd = open_dir(p->spec.mountpoint);

	if (fd < 0)
		return hv_error_set(reterr, fd, "cannot open pool '%s' at '%s': %m", p->spec.name,
		                    p->spec.mountpoint);
	return fd;
}

/*
 * A libbtrfsutil failure as -errno (libbtrfsutil sets errno) and a message
 * "<context>: <reason>". Call it right after the failing call.
 */
static int util_error(struct hv_error **reterr, enum btrfs_util_error err, const char *fmt, ...)
        _printf_(3, 4);

static int
util_error(struct hv_error **reterr, enum btrfs_util_error err, const char *fmt, ...)
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
static void
format_qgroup(uint64_t g, char buf[static 32])
{
	snprintf(buf, 32, "%" PRIu64 "/%" PRIu64, QGROUP_LEVEL(g), QGROUP_ID(g));
}

typedef int (*search_fn)(const struct btrfs_ioctl_search_header *h, const void *data,
                         void *userdata);

/*
 * Call f for every item (objectid, type, [min_offset, max_offset]) of
 * tree, with as few TREE_SEARCH_V2 calls as buf_size allows. -ENOENT if
 * the tree does not exist.
 */
static int
tree_search(int fd, uint64_t tree, uint64_t objectid, uint32_t type, uint64_t min_offset,
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
static int
quota_mode_of(int fd, enum hv_quota_mode *ret, uint64_t *ret_flags)
{
	struct quota_status s = {};
	int r;

	r = tree_search(fd, BTRFS_QUOTA_TREE_OBJECTID, 0, BTRFS_QGROUP_STATUS_KEY, 0, 0,
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

static int
quota_ctl(int fd, uint64_t cmd)
{
	struct btrfs_ioctl_quota_ctl_args args = {.cmd = cmd};

	return RET_NERRNO(ioctl(fd, BTRFS_IOC_QUOTA_CTL, &args));
}

/* Turn accounting on as want asks; *ret is what the pool got. */
static int
quota_enable(int fd, const char *name, enum hv_quota_mode want, enum hv_quota_mode *ret,
             struct hv_error **reterr)
{
	int r;

	*ret = HV_QUOTA_NONE;
	if (want == HV_QUOTA_NONE)
		return 0;
	if (want == HV_QUOTA_AUTO || want == HV_QUOTA_SIMPLE) {
		r = quota_ctl(fd, QUOTA_CTL_ENABLE_SIMPLE);
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
	r = quota_ctl(fd, BTRFS_QUOTA_CTL_ENABLE);
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
static void
quota_rescan_if_inconsistent(int fd)
{
	struct btrfs_ioctl_quota_rescan_args args = {};
	struct btrfs_ioctl_fs_info_args info = {};
	_cleanup_free_ char *sys = NULL, *v = NULL;
	char fsid[UUID_STRING_LEN + 1];
	enum hv_quota_mode mode;
	uint64_t flags;

	if (quota_mode_of(fd, &mode, &flags) < 0 || mode != HV_QUOTA_FULL ||
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
	r = quota_mode_of(pool_fd, &mode, NULL);
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

/* What pool_create has done so far, to be undone if it fails. */
struct undo {
	const char *file; /* backing file we created */
	const char *mountpoint;
	bool mounted;
	bool made_mountpoint;
	int loop_fd;
};

static void
undo_all(struct undo *u)
{
	if (u->mounted && umount2(u->mountpoint, UMOUNT_NOFOLLOW) < 0)
		(void)umount2(u->mountpoint, UMOUNT_NOFOLLOW | MNT_DETACH);
	/* Closing the last fd of an AUTOCLEAR loop device detaches it. */
	u->loop_fd = safe_close(u->loop_fd);
	if (u->made_mountpoint)
		(void)rmdir(u->mountpoint);
	if (u->file)
		(void)unlink(u->file);
}

/* The explanation in a btrfs-progs tool's stderr: its ERROR lines, else its last line. */
static char *
tool_reason(const char *text)
{
	_cleanup_strv_free_ char **lines = NULL, **errors = NULL;
	const char *last = NULL;

	if (strv_split(strempty(text), '\n', &lines) < 0)
		return NULL;
	STRV_FOREACH (l, lines) {
		const char *e = startswith(*l, "ERROR: ");

		if (!isempty(*l))
			last = *l;
		/* We never force: a hint to use -f would mislead. */
		if (e && !strstr(e, "-f option") && strv_push(&errors, e) < 0)
			return NULL;
	}
	if (errors)
		return strv_join(errors, "; ");
	return strdup(last ?: "failed");
}

static int
run_mkfs(const struct hv_pool_spec *spec, char *const *targets, const char *what,
         struct hv_error **reterr)
{
	_cleanup_strv_free_ char **argv = NULL;
	_cleanup_free_ char *err = NULL, *why = NULL;
	int r, status = 0;
	const char *head[] = {"mkfs.btrfs", "-L", spec->name, "-d", "raid1", "-m", "raid1"};

	/* No -f: a filesystem already on a device must stop us. */
	for (size_t i = 0; i < (spec->raid1 ? ELEMENTSOF(head) : 3); i++)
		if (strv_push(&argv, head[i]) < 0)
			return -ENOMEM;
	STRV_FOREACH (t, targets) {
		if (strv_push(&argv, *t) < 0)
			return -ENOMEM;
	}

	r = spawn_run(argv, SPAWN_STDIN_NULL | SPAWN_STDOUT_NULL | SPAWN_CAPTURE_STDERR,
	              MKFS_TIMEOUT_MS, &status, NULL, &err);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot create pool '%s' on '%s': mkfs.btrfs: %m%s",
		                    spec->name, what, r == -ENOENT ? " (install btrfs-progs)" : "");
	if (status == 0)
		return 0;
	why = tool_reason(err);
	return hv_error_set(reterr, -EIO, "cannot create pool '%s' on '%s': mkfs.btrfs: %s%s",
	                    spec->name, what, strempty(why),
	                    why && strstr(why, "appears to contain an existing filesystem")
	                            ? "; wipe it first with wipefs -a"
	                            : "");
}

/*
 * Make the mountpoint and mount the btrfs on devices there, naming every
 * member so none needs a scan; u notes it. Then drop our loop device fd:
 * the mount holds the device, and it detaches itself at unmount.
 */
static int
mount_pool(const struct hv_pool_spec *spec, char *const *devices, struct undo *u,
           struct hv_error **reterr)
{
	_cleanup_strv_free_ char **opts = NULL;
	_cleanup_free_ char *data = NULL, *list = NULL;
	int r;

	STRV_FOREACH (d, devices) {
		char *o;

		if (strchr(*d, ','))
			return hv_error_set(reterr, -EINVAL,
			                    "cannot mount pool '%s': comma in '%s'", spec->name,
			                    *d);
		if (asprintf(&o, "device=%s", *d) < 0 || strv_consume(&opts, o) < 0)
			return -ENOMEM;
	}
	if (strv_push(&opts, "user_subvol_rm_allowed") < 0 || !(data = strv_join(opts, ",")) ||
	    !(list = strv_join(devices, "', '")))
		return -ENOMEM;
	u->made_mountpoint = access(spec->mountpoint, F_OK) < 0 && errno == ENOENT;
	r = mkdir_p(spec->mountpoint, 0755);
	if (r < 0) {
		u->made_mountpoint = false;
		return hv_error_set(reterr, r, "cannot create mountpoint '%s' for pool '%s': %m",
		                    spec->mountpoint, spec->name);
	}
	if (mount(devices[0], spec->mountpoint, "btrfs", 0, data) < 0) {
		r = -errno;
		return hv_error_set(
		        reterr, r, "cannot mount pool '%s' from '%s' at '%s': %m (%s)", spec->name,
		        list, spec->mountpoint,
		        r == -EBUSY || r == -EEXIST
		                ? "is the filesystem mounted elsewhere?"
		                : "not btrfs, or a member device is missing? see dmesg");
	}
	u->mounted = true;
	u->loop_fd = safe_close(u->loop_fd);
	return 0;
}

/* -EEXIST/-EBUSY if something is mounted at the pool's mountpoint already. */
static int
check_not_mounted(const struct hv_pool_spec *spec, const char *verb, struct hv_error **reterr)
{
	_cleanup_free_ char *fstype = NULL;
	int r;

	r = hv_mount_fstype(spec->mountpoint, &fstype);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return hv_error_set(reterr, r, "cannot %s pool '%s': /proc/self/mountinfo: %m",
		                    verb, spec->name);
	if (streq(fstype, "btrfs"))
		return hv_error_set(reterr, -EEXIST,
		                    "cannot %s pool '%s': a pool is already "
		                    "imported at '%s'",
		                    verb, spec->name, spec->mountpoint);
	return hv_error_set(reterr, -EBUSY,
	                    "cannot %s pool '%s': '%s' is already a mount point (%s)", verb,
	                    spec->name, spec->mountpoint, fstype);
}

static int
fs_info(int fd, struct btrfs_ioctl_fs_info_args *ret)
{
	*ret = (struct btrfs_ioctl_fs_info_args){};
	return RET_NERRNO(ioctl(fd, BTRFS_IOC_FS_INFO, ret));
}

/* After mounting: record the filesystem's UUID and accounting in spec. */
static int
read_identity(struct hv_pool_spec *spec, enum hv_quota_mode *mode, struct hv_error **reterr)
{
	_cleanup_close_ int fd = open_dir(spec->mountpoint);
	struct btrfs_ioctl_fs_info_args info;
	char uuid[UUID_STRING_LEN + 1];
	char *s;
	int r;

	if (fd < 0)
		return hv_error_set(reterr, fd, "cannot open '%s': %m", spec->mountpoint);
	r = fs_info(fd, &info);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot read the filesystem of pool '%s': %m",
		                    spec->name);
	uuid_format(info.fsid, uuid);
	if (spec->uuid && strcasecmp(spec->uuid, uuid) != 0)
		return hv_error_set(reterr, -EINVAL,
		                    "pool '%s' at '%s' has uuid '%s', expected '%s'", spec->name,
		                    spec->mountpoint, uuid, spec->uuid);
	s = strdup(uuid);
	if (!s)
		return -ENOMEM;
	free(spec->uuid);
	spec->uuid = s;
	if (mode) {
		r = quota_mode_of(fd, mode, NULL);
		if (r < 0)
			return hv_error_set(reterr, r,
			                    "cannot read the quota state of pool '%s': %m",
			                    spec->name);
	}
	return 0;
}

static int
create_backing_file(const struct hv_pool_spec *spec, struct hv_error **reterr)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int fd = -EBADF;
	int r;

	r = path_dirname(spec->file, &dir);
	if (r < 0)
		return r;
	r = mkdir_p(dir, 0755);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot create pool '%s': cannot create '%s': %m",
		                    spec->name, dir);
	fd = open(spec->file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == EEXIST)
		return hv_error_set(reterr, -EEXIST,
		                    "cannot create pool '%s': file '%s' already exists", spec->name,
		                    spec->file);
	if (fd < 0)
		return hv_error_set(reterr, -errno, "cannot create pool '%s': file '%s': %m",
		                    spec->name, spec->file);
	if (ftruncate(fd, (off_t)spec->file_size) < 0) {
		r = -errno;
		(void)unlink(spec->file);
		return hv_error_set(reterr, r, "cannot create pool '%s': cannot size '%s': %m",
		                    spec->name, spec->file);
	}
	return 0;
}

/* Refuse what mkfs.btrfs would explain badly: no devices, missing ones, raid1 on one. */
static int
check_create_spec(const struct hv_pool_spec *spec, struct hv_error **reterr)
{
	size_t n = strv_length(spec->devices);

	if (isempty(spec->name) || isempty(spec->mountpoint))
		return hv_error_set(reterr, -EINVAL,
		                    "cannot create a pool without name and mountpoint");
	if (!spec->file == (n == 0))
		return hv_error_set(reterr, -EINVAL,
		                    "cannot create pool '%s': give either a file or devices",
		                    spec->name);
	if (spec->file && spec->file_size == 0)
		return hv_error_set(reterr, -EINVAL,
		                    "cannot create pool '%s': no size for file '%s'", spec->name,
		                    spec->file);
	if (spec->raid1 && n < 2)
		return hv_error_set(reterr, -EINVAL,
		                    "cannot create pool '%s': raid1 needs at least two devices",
		                    spec->name);
	STRV_FOREACH (d, spec->devices) {
		struct stat st;

		if (stat(*d, &st) < 0)
			return hv_error_set(reterr, -errno, "cannot create pool '%s' on '%s': %m",
			                    spec->name, *d);
		if (!S_ISBLK(st.st_mode))
			return hv_error_set(reterr, -ENOTBLK,
			                    "cannot create pool '%s' on '%s': not a block device",
			                    spec->name, *d);
	}
	return 0;
}

/* The steps of pool_create; u records what to undo. */
static int
create_steps(struct hv_pool_spec *spec, struct undo *u, struct hv_error **reterr)
{
	_cleanup_free_ char *loop = NULL, *what = NULL;
	char *file_targets[2] = {spec->file, NULL};
	char *loop_members[2] = {NULL, NULL};
	char *const *members = spec->devices;
	enum hv_quota_mode got;
	int r;

	r = check_not_mounted(spec, "create", reterr);
	if (r < 0)
		return r;
	what = spec->file ? strdup(spec->file) : strv_join(spec->devices, "', '");
	if (!what)
		return -ENOMEM;
	if (spec->file) {
		r = create_backing_file(spec, reterr);
		if (r < 0)
			return r;
		u->file = spec->file;
	}
	r = run_mkfs(spec, spec->file ? file_targets : spec->devices, what, reterr);
	if (r < 0)
		return r;
	if (spec->file) {
		r = hv_loop_attach(spec->file, &loop, &u->loop_fd, reterr);
		if (r < 0)
			return hv_error_prefix(reterr, r, "cannot create pool '%s'", spec->name);
		loop_members[0] = loop;
		members = loop_members;
	}
	r = mount_pool(spec, members, u, reterr);
	if (r < 0)
		return r;

	_cleanup_close_ int fd = open_dir(spec->mountpoint);
	if (fd < 0)
		return hv_error_set(reterr, fd, "cannot open '%s': %m", spec->mountpoint);
	r = quota_enable(fd, spec->name, spec->quota_mode, &got, reterr);
	if (r < 0)
		return r;
	free(spec->uuid);
	spec->uuid = NULL;
	r = read_identity(spec, NULL, reterr);
	if (r < 0)
		return r;
	spec->quota_mode = got;
	return 0;
}

static int
btrfs_pool_create(struct hv_pool_spec *spec, struct hv_error **reterr)
{
	struct undo u = {.mountpoint = spec->mountpoint, .loop_fd = -EBADF};
	int r;

	r = check_create_spec(spec, reterr);
	if (r < 0)
		return r;
	r = create_steps(spec, &u, reterr);
	if (r < 0) {
		undo_all(&u);
		return r;
	}
	return 0;
}

/* "'/dev/loop0' (uuid a), '/dev/loop1' (uuid b)" */
static char *
describe_devices(char *const *devices, char *const *uuids)
{
	_cleanup_strv_free_ char **l = NULL;

	for (size_t i = 0; devices && devices[i]; i++) {
		char *s;

		if (asprintf(&s, "'%s' (uuid %s)", devices[i], uuids[i]) < 0 ||
		    strv_consume(&l, s) < 0)
			return NULL;
	}
	return strv_join(l, ", ");
}

/* The btrfs UUID in the superblock of a file or device, or NULL. */
static char *
probe_uuid(const char *path)
{
	blkid_probe pr = blkid_new_probe_from_filename(path);
	const char *v = NULL;
	char *u = NULL;

	if (!pr)
		return NULL;
	if (blkid_do_safeprobe(pr) == 0 && blkid_probe_lookup_value(pr, "UUID", &v, NULL) == 0)
		u = strdup(v);
	blkid_free_probe(pr);
	return u;
}

/*
 * -EEXIST if the filesystem is mounted anywhere: the kernel has
 * /sys/fs/btrfs/<uuid> exactly then. (Mounting it again would succeed
 * and import the pool twice.)
 */
static int
check_fs_not_mounted(const struct hv_pool_spec *spec, const char *uuid, struct hv_error **reterr)
{
	_cleanup_free_ char *sys = NULL;

	if (!uuid)
		return 0;
	if (asprintf(&sys, "/sys/fs/btrfs/%s", uuid) < 0)
		return -ENOMEM;
	if (access(sys, F_OK) >= 0)
		return hv_error_set(
		        reterr, -EEXIST,
		        "cannot import pool '%s': its filesystem '%s' is already mounted",
		        spec->name, uuid);
	return 0;
}

/* The member devices of the pool to import, by uuid or label; each is scanned. */
static int
find_members(const struct hv_pool_spec *spec, char ***ret, struct hv_error **reterr)
{
	_cleanup_strv_free_ char **devices = NULL, **uuids = NULL;
	int r;

	r = hv_btrfs_find_devices(spec->uuid, spec->uuid ? NULL : spec->name, &devices, &uuids,
	                          reterr);
	if (r < 0)
		return hv_error_prefix(reterr, r, "cannot import pool '%s'", spec->name);
	if (!devices[0]) {
		if (spec->uuid)
			return hv_error_set(reterr, -ENOENT, "no pool with uuid '%s' found",
			                    spec->uuid);
		return hv_error_set(reterr, -ENOENT, "no pool named '%s' found", spec->name);
	}
	STRV_FOREACH (u, uuids) {
		_cleanup_free_ char *list = NULL;

		if (strcasecmp(*u, uuids[0]) == 0)
			continue;
		list = describe_devices(devices, uuids);
		return hv_error_set(reterr, -ENOTUNIQ,
		                    "cannot import pool '%s': more than one filesystem has that "
		                    "label: %s; import it by uuid",
		                    spec->name, strempty(list));
	}
	r = check_fs_not_mounted(spec, uuids[0], reterr);
	if (r < 0)
		return r;
	STRV_FOREACH (d, devices) {
		r = hv_btrfs_scan_device(*d, reterr);
		if (r < 0)
			return hv_error_prefix(reterr, r, "cannot import pool '%s'", spec->name);
	}
	*ret = TAKE_PTR(devices);
	return 0;
}

static int
import_steps(struct hv_pool_spec *spec, struct undo *u, struct hv_error **reterr)
{
	_cleanup_strv_free_ char **members = NULL;
	char *loop = NULL;
	enum hv_quota_mode mode;
	int r;

	r = check_not_mounted(spec, "import", reterr);
	if (r < 0)
		return r;
	if (spec->file) {
		_cleanup_free_ char *uuid = probe_uuid(spec->file);

		r = check_fs_not_mounted(spec, uuid, reterr);
		if (r < 0)
			return r;
		r = hv_loop_attach(spec->file, &loop, &u->loop_fd, reterr);
		if (r < 0)
			return hv_error_prefix(reterr, r, "cannot import pool '%s'", spec->name);
		r = strv_consume(&members, loop);
	} else
		r = find_members(spec, &members, reterr);
	if (r < 0)
		return r;
	r = mount_pool(spec, members, u, reterr);
	if (r < 0)
		return r;
	r = read_identity(spec, &mode, reterr);
	if (r < 0)
		return r;
	spec->quota_mode = mode;
	return 0;
}

static int
btrfs_pool_import(struct hv_pool_spec *spec, struct hv_error **reterr)
{
	struct undo u = {.mountpoint = spec->mountpoint, .loop_fd = -EBADF};
	int r;

	if (isempty(spec->name) || isempty(spec->mountpoint))
		return hv_error_set(reterr, -EINVAL,
		                    "cannot import a pool without name and mountpoint");
	r = import_steps(spec, &u, reterr);
	if (r < 0) {
		undo_all(&u);
		return r;
	}
	return 0;
}

static int
btrfs_pool_export(const struct hv_pool_spec *spec, struct hv_error **reterr)
{
	_cleanup_strv_free_ char **below = NULL, **nested = NULL;
	_cleanup_free_ char *fstype = NULL, *list = NULL;
	int r;

	r = hv_mount_fstype(spec->mountpoint, &fstype);
	if (r == -ENOENT)
		return hv_error_set(reterr, r, "pool '%s' is not imported", spec->name);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot export pool '%s': %m", spec->name);
	if (!streq(fstype, "btrfs"))
		return hv_error_set(reterr, -EINVAL,
		                    "cannot export pool '%s': '%s' holds %s, not a btrfs pool",
		                    spec->name, spec->mountpoint, fstype);
	if (umount2(spec->mountpoint, UMOUNT_NOFOLLOW) >= 0)
		return 0;
	r = -errno;
	if (r != -EBUSY)
		return hv_error_set(reterr, r, "cannot export pool '%s': %m", spec->name);

	if (hv_mounts_below(spec->mountpoint, &below) >= 0) {
		STRV_FOREACH (m, below) {
			if (!streq(*m, spec->mountpoint) && strv_push(&nested, *m) < 0)
				return -ENOMEM;
		}
	}
	if (!nested)
		return hv_error_set(
		        reterr, r,
		        "cannot export pool '%s': it is busy (files below '%s' are open)",
		        spec->name, spec->mountpoint);
	list = strv_join(nested, "', '");
	return hv_error_set(reterr, r, "cannot export pool '%s': it is busy: '%s' mounted below it",
	                    spec->name, strempty(list));
}

static int
btrfs_pool_is_imported(const struct hv_pool_spec *spec, struct hv_error **reterr)
{
	_cleanup_free_ char *fstype = NULL;
	int r;

	r = hv_mount_fstype(spec->mountpoint, &fstype);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return hv_error_set(reterr, r, "cannot tell whether pool '%s' is imported: %m",
		                    spec->name);
	return streq(fstype, "btrfs");
}

/* Data profiles, and how many missing devices each survives. */
static const struct {
	uint64_t flag;
	const char *name;
	unsigned tolerance;
} profiles[] = {
        {0, "single", 0},
        {BTRFS_BLOCK_GROUP_DUP, "dup", 0},
        {BTRFS_BLOCK_GROUP_RAID0, "raid0", 0},
        {BTRFS_BLOCK_GROUP_RAID1, "raid1", 1},
        {BTRFS_BLOCK_GROUP_RAID1C3, "raid1c3", 2},
        {BTRFS_BLOCK_GROUP_RAID1C4, "raid1c4", 3},
        {BTRFS_BLOCK_GROUP_RAID10, "raid10", 1},
        {BTRFS_BLOCK_GROUP_RAID5, "raid5", 1},
        {BTRFS_BLOCK_GROUP_RAID6, "raid6", 2},
};

static size_t
profile_of(uint64_t flags)
{
	for (size_t i = 0; i < ELEMENTSOF(profiles); i++)
		if (profiles[i].flag == (flags & BTRFS_BLOCK_GROUP_PROFILE_MASK))
			return i;
	return 0;
}

/* The data profile (of the largest data allocation) and the bytes used by all allocations. */
static int
space_usage(int fd, size_t *ret_profile, uint64_t *ret_used)
{
	_cleanup_free_ struct btrfs_ioctl_space_args *args = NULL;
	struct btrfs_ioctl_space_args probe = {};
	uint64_t used = 0, biggest = 0;
	size_t profile = 0;

	if (ioctl(fd, BTRFS_IOC_SPACE_INFO, &probe) < 0)
		return -errno;
	args = calloc(1, sizeof(*args) + probe.total_spaces * sizeof(args->spaces[0]));
	if (!args)
		return -ENOMEM;
	args->space_slots = probe.total_spaces;
	if (ioctl(fd, BTRFS_IOC_SPACE_INFO, args) < 0)
		return -errno;
	for (uint64_t i = 0; i < args->total_spaces; i++) {
		const struct btrfs_ioctl_space_info *s = &args->spaces[i];

		if (s->flags & BTRFS_SPACE_INFO_GLOBAL_RSV)
			continue;
		used += s->used_bytes;
		if ((s->flags & BTRFS_BLOCK_GROUP_DATA) && s->total_bytes >= biggest) {
			biggest = s->total_bytes;
			profile = profile_of(s->flags);
		}
	}
	*ret_profile = profile;
	*ret_used = used;
	return 0;
}

static bool
device_missing(const char *fsid, uint64_t devid, const char *path)
{
	_cleanup_free_ char *sys = NULL, *v = NULL;

	if (isempty(path))
		return true;
	if (asprintf(&sys, "/sys/fs/btrfs/%s/devinfo/%" PRIu64 "/missing", fsid, devid) < 0)
		return false;
	return read_one_line_file(sys, &v) >= 0 && streq(v, "1");
}

static void
free_devices(struct hv_pool_device *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(d[i].path);
	free(d);
}

/* One hv_pool_device per device id in use. */
static int
collect_devices(int fd, const struct btrfs_ioctl_fs_info_args *info, struct hv_pool_device **ret,
                size_t *ret_n)
{
	struct hv_pool_device *devs;
	char fsid[UUID_STRING_LEN + 1];
	size_t n = 0;

	uuid_format(info->fsid, fsid);
	devs = calloc(info->num_devices + 1, sizeof(*devs));
	if (!devs)
		return -ENOMEM;
	for (uint64_t id = 1; id <= info->max_id && n < info->num_devices + 1; id++) {
		struct btrfs_ioctl_dev_info_args di = {.devid = id};
		struct btrfs_ioctl_get_dev_stats st = {.devid = id,
		                                       .nr_items = BTRFS_DEV_STAT_VALUES_MAX};
		const char *path;

		if (ioctl(fd, BTRFS_IOC_DEV_INFO, &di) < 0) {
			if (errno == ENODEV)
				continue;
			free_devices(devs, n);
			return -errno;
		}
		path = (const char *)di.path;
		devs[n].missing = device_missing(fsid, id, path);
		devs[n].path = strdup(isempty(path) ? "(missing)" : path);
		if (!devs[n].path) {
			free_devices(devs, n);
			return -ENOMEM;
		}
		devs[n].size = di.total_bytes;
		if (ioctl(fd, BTRFS_IOC_GET_DEV_STATS, &st) >= 0)
			for (uint64_t k = 0;
			     k < MIN(st.nr_items, (uint64_t)BTRFS_DEV_STAT_VALUES_MAX); k++)
				devs[n].errors += st.values[k];
		n++;
	}
	*ret = devs;
	*ret_n = n;
	return 0;
}

/*
 * Health, after zpool's words:
 * FAULTED   the kernel turned the filesystem read-only after an error, or
 *           more devices are missing than the data profile survives;
 * DEGRADED  a device is missing (and the profile survives it), or a
 *           device has recorded I/O, checksum or generation errors;
 * ONLINE    otherwise.
 */
static const char *
health_of(const struct hv_pool_device *devs, size_t n, size_t profile, bool rdonly)
{
	unsigned missing = 0;
	bool errors = false;

	for (size_t i = 0; i < n; i++) {
		missing += devs[i].missing;
		errors = errors || devs[i].errors > 0;
	}
	if (rdonly || missing > profiles[profile].tolerance)
		return "FAULTED";
	if (missing > 0 || errors)
		return "DEGRADED";
	return "ONLINE";
}

static int
btrfs_pool_status(struct hv_pool *p, struct hv_pool_status *ret, struct hv_error **reterr)
{
	_cleanup_close_ int fd = -EBADF;
	struct btrfs_ioctl_fs_info_args info;
	struct hv_pool_device *devs = NULL;
	char *health = NULL, *profile = NULL;
	size_t prof = 0;
	enum hv_quota_mode mode = HV_QUOTA_NONE;
	struct statvfs sv = {};
	uint64_t used = 0;
	size_t n = 0;
	int r;

	fd = open_pool(p, reterr);
	if (fd < 0)
		return fd;
	r = fs_info(fd, &info);
	if (r >= 0)
		r = space_usage(fd, &prof, &used);
	if (r >= 0)
		r = quota_mode_of(fd, &mode, NULL);
	if (r >= 0)
		r = RET_NERRNO(fstatvfs(fd, &sv));
	if (r >= 0)
		r = collect_devices(fd, &info, &devs, &n);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot read the status of pool '%s': %m",
		                    p->spec.name);
	health = strdup(health_of(devs, n, prof, sv.f_flag & ST_RDONLY));
	profile = strdup(profiles[prof].name);
	if (!health || !profile) {
		free(health);
		free(profile);
		free_devices(devs, n);
		return -ENOMEM;
	}
	ret->size = (uint64_t)sv.f_blocks * sv.f_frsize;
	ret->free = (uint64_t)sv.f_bavail * sv.f_frsize;
	ret->used = used;
	ret->health = health;
	ret->profile = profile;
	ret->devices = devs;
	ret->n_devices = n;
	ret->quota_mode = mode;
	return 0;
}

static int
btrfs_pool_scrub(struct hv_pool *p, struct hv_scrub_result *ret, struct hv_error **reterr)
{
	_cleanup_close_ int fd = -EBADF;
	struct btrfs_ioctl_fs_info_args info;
	struct hv_scrub_result sum = {};
	int r;

	fd = open_pool(p, reterr);
	if (fd < 0)
		return fd;
	r = fs_info(fd, &info);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot scrub pool '%s': %m", p->spec.name);
	for (uint64_t id = 1; id <= info.max_id; id++) {
		struct btrfs_ioctl_scrub_args a = {.devid = id, .end = UINT64_MAX};
		const struct btrfs_scrub_progress *g = &a.progress;

		/* Blocks until this device is done; a missing device id is ENODEV. */
		if (ioctl(fd, BTRFS_IOC_SCRUB, &a) < 0) {
			r = -errno;
			if (r == -ENODEV)
				continue;
			return hv_error_set(
			        reterr, r == -EINPROGRESS ? -EBUSY : r,
			        "cannot scrub pool '%s' (device %" PRIu64 "): %s", p->spec.name, id,
			        r == -EINPROGRESS ? "a scrub is already running" : strerror(-r));
		}
		sum.bytes += g->data_bytes_scrubbed + g->tree_bytes_scrubbed;
		sum.csum_errors += g->csum_errors + g->verify_errors;
		sum.read_errors += g->read_errors;
		sum.corrected += g->corrected_errors;
		sum.uncorrectable += g->uncorrectable_errors;
	}
	*ret = sum;
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

	fd = open_pool(p, reterr);
	if (fd < 0)
		return fd;
	r = make_inherit(fd, groups, n, &inherit);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot create subvolume '%s': %m", path);
	err = btrfs_util_create_subvolume(path, 0, NULL, inherit);
	if (err != BTRFS_UTIL_OK)
		return util_error(reterr, err, "cannot create subvolume '%s'%s", path,
		                  errno == ENOENT && inherit ? " (or a quota group is missing)"
		                                             : "");
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

	fd = open_pool(p, reterr);
	if (fd < 0)
		return fd;
	r = make_inherit(fd, groups, n, &inherit);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot snapshot '%s' to '%s': %m", src, dst);
	err = btrfs_util_create_snapshot(
	        src, dst, readonly ? BTRFS_UTIL_CREATE_SNAPSHOT_READ_ONLY : 0, NULL, inherit);
	if (err != BTRFS_UTIL_OK)
		return util_error(reterr, err, "cannot snapshot '%s' to '%s'", src, dst);
	if (inherit)
		quota_rescan_if_inconsistent(fd);
	return 0;
}

static int
btrfs_subvol_delete(struct hv_pool *p, const char *path, struct hv_error **reterr)
{
	enum btrfs_util_error err;

	err = btrfs_util_delete_subvolume(path, 0);
	if (err != BTRFS_UTIL_OK)
		return util_error(reterr, err, "cannot delete subvolume '%s'", path);
	return 0;
}

static int
btrfs_subvol_set_readonly(struct hv_pool *p, const char *path, bool readonly,
                          struct hv_error **reterr)
{
	enum btrfs_util_error err;

	err = btrfs_util_set_subvolume_read_only(path, readonly);
	if (err != BTRFS_UTIL_OK)
		return util_error(reterr, err, "cannot make subvolume '%s' %s", path,
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
	fd = open_pool(p, reterr);
	if (fd < 0)
		return fd;
	r = quota_mode_of(fd, &mode, NULL);
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
	format_qgroup(group, g);
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
		return util_error(reterr, err, "cannot find the subvolume of '%s'", path);
	struct btrfs_ioctl_qgroup_assign_args a = {.assign = add, .src = subvol, .dst = group};
	r = RET_NERRNO(ioctl(fd, BTRFS_IOC_QGROUP_ASSIGN, &a));
	if (r >= 0 || r == (add ? -EEXIST : -ENOENT)) {
		/* Full qgroups cannot move charged bytes between groups without a rescan. */
		quota_rescan_if_inconsistent(fd);
		return 0;
	}
	format_qgroup(group, g);
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

	format_qgroup(group, g);
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
	r = tree_search(fd, BTRFS_QUOTA_TREE_OBJECTID, 0, BTRFS_QGROUP_INFO_KEY, 0, UINT64_MAX,
	                SEARCH_BUF_LARGE, info_item, &l);
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

	snap = open_dir(snap_path);
	if (snap < 0)
		return hv_error_set(reterr, snap, "cannot send '%s': %m", snap_path);
	if (base_path) {
		err = btrfs_util_subvolume_id(base_path, &base);
		if (err != BTRFS_UTIL_OK)
			return util_error(reterr, err, "cannot send '%s' from '%s'", snap_path,
			                  base_path);
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
	why = tool_reason(err);
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
        .pool_create = btrfs_pool_create,
        .pool_import = btrfs_pool_import,
        .pool_export = btrfs_pool_export,
        .pool_is_imported = btrfs_pool_is_imported,
        .pool_status = btrfs_pool_status,
        .pool_scrub = btrfs_pool_scrub,
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
