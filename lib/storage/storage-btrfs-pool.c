/* SPDX-License-Identifier: MIT */
/*
 * The btrfs backend, pool level: making a filesystem (mkfs.btrfs on devices
 * or on a loop-attached sparse file), mounting it again (by file, UUID or
 * label), unmounting it, its status and scrub. storage-btrfs.c has the
 * dataset level and the theory of the backend.
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
#include "storage/storage-btrfs.h"

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
char *
hv_btrfs_tool_reason(const char *text)
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
	why = hv_btrfs_tool_reason(err);
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
	_cleanup_close_ int fd = hv_btrfs_open_dir(spec->mountpoint);
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
		r = hv_btrfs_quota_mode_of(fd, mode, NULL);
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

	_cleanup_close_ int fd = hv_btrfs_open_dir(spec->mountpoint);
	if (fd < 0)
		return hv_error_set(reterr, fd, "cannot open '%s': %m", spec->mountpoint);
	r = hv_btrfs_quota_enable(fd, spec->name, spec->quota_mode, &got, reterr);
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

int
hv_btrfs_pool_create(struct hv_pool_spec *spec, struct hv_error **reterr)
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

int
hv_btrfs_pool_import(struct hv_pool_spec *spec, struct hv_error **reterr)
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

int
hv_btrfs_pool_export(const struct hv_pool_spec *spec, struct hv_error **reterr)
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

int
hv_btrfs_pool_is_imported(const struct hv_pool_spec *spec, struct hv_error **reterr)
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

int
hv_btrfs_pool_status(struct hv_pool *p, struct hv_pool_status *ret, struct hv_error **reterr)
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

	fd = hv_btrfs_open_pool(p, reterr);
	if (fd < 0)
		return fd;
	r = fs_info(fd, &info);
	if (r >= 0)
		r = space_usage(fd, &prof, &used);
	if (r >= 0)
		r = hv_btrfs_quota_mode_of(fd, &mode, NULL);
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

int
hv_btrfs_pool_scrub(struct hv_pool *p, struct hv_scrub_result *ret, struct hv_error **reterr)
{
	_cleanup_close_ int fd = -EBADF;
	struct btrfs_ioctl_fs_info_args info;
	struct hv_scrub_result sum = {};
	int r;

	fd = hv_btrfs_open_pool(p, reterr);
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
