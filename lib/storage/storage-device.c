/* SPDX-License-Identifier: MIT */
/*
 * Devices, loop files and mounts, for the btrfs backend.
 *
 * Loop devices are attached with LO_FLAGS_AUTOCLEAR: the kernel detaches
 * one when its last user goes, so a mounted pool keeps its loop device and
 * an unmounted one leaves nothing behind. Member devices of a filesystem
 * are found with libblkid, which probes every block device in
 * /proc/partitions (loop devices included) without trusting a cache file.
 * Mount points come from /proc/self/mountinfo.
 */

#include <blkid.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/mountinfo.h"
#include "basic/error.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/path.h"
#include "basic/strv.h"
#include "storage/storage-internal.h"

/* LOOP_CTL_GET_FREE can hand the same device to a racing process: retry a few times. */
#define LOOP_ATTACH_TRIES 8

/* Configure the loop device number n on backing; the open device fd on success. */
static int
loop_configure(int n, int backing, const char *file, char **ret_device, int *ret_fd)
{
	_cleanup_free_ char *device = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct loop_config config = {
	        .fd = (uint32_t)backing,
	        .info.lo_flags = LO_FLAGS_AUTOCLEAR,
	};

	if (asprintf(&device, "/dev/loop%d", n) < 0)
		return -ENOMEM;
	fd = open(device, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Shown by losetup; the kernel keeps the first LO_NAME_SIZE - 1 bytes. */
	snprintf((char *)config.info.lo_file_name, sizeof(config.info.lo_file_name), "%s", file);
	if (ioctl(fd, LOOP_CONFIGURE, &config) < 0)
		return -errno;
	*ret_device = TAKE_PTR(device);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int
hv_loop_attach(const char *file, char **ret_device, int *ret_fd, struct hv_error **reterr)
{
	_cleanup_close_ int control = -EBADF, backing = -EBADF;
	int r = -EBUSY;

	backing = open(file, O_RDWR | O_CLOEXEC);
	if (backing < 0)
		return hv_error_set(reterr, -errno, "cannot attach '%s' to a loop device: %m",
		                    file);
	control = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (control < 0)
		return hv_error_set(reterr, -errno,
		                    "cannot attach '%s' to a loop device: /dev/loop-control: %m",
		                    file);

	for (int i = 0; i < LOOP_ATTACH_TRIES; i++) {
		int n = ioctl(control, LOOP_CTL_GET_FREE);

		if (n < 0)
			return hv_error_set(reterr, -errno,
			                    "cannot attach '%s' to a loop device: no free loop "
			                    "device: %m",
			                    file);
		r = loop_configure(n, backing, file, ret_device, ret_fd);
		if (r != -EBUSY)
			break;
	}
	if (r < 0)
		return hv_error_set(reterr, r, "cannot attach '%s' to a loop device: %m", file);
	return 0;
}

/* Append device and its UUID to the lists if it matches. */
static int
match_device(blkid_cache cache, const char *devname, const char *uuid, const char *label,
             char ***devices, char ***uuids)
{
	_cleanup_free_ char *u = blkid_get_tag_value(cache, "UUID", devname);
	_cleanup_free_ char *l = NULL;
	int r;

	if (!u)
		return 0;
	if (uuid) {
		if (strcasecmp(u, uuid) != 0)
			return 0;
	} else {
		l = blkid_get_tag_value(cache, "LABEL", devname);
		if (!streq_ptr(l, label))
			return 0;
	}
	r = strv_push(devices, devname);
	if (r < 0)
		return r;
	return strv_consume(uuids, TAKE_PTR(u));
}

static void
blkid_put_cachep(blkid_cache *c)
{
	if (*c)
		blkid_put_cache(*c);
}

int
hv_btrfs_find_devices(const char *uuid, const char *label, char ***ret_devices, char ***ret_uuids,
                      struct hv_error **reterr)
{
	_cleanup_(blkid_put_cachep) blkid_cache cache = NULL;
	_cleanup_strv_free_ char **devices = NULL, **uuids = NULL;
	const char *what = uuid ? "uuid" : "label";
	blkid_dev_iterate iter;
	blkid_dev dev;
	int r = 0;

	if (!uuid && !label)
		return -EINVAL;
	/* "/dev/null": start from nothing, so freshly attached devices are probed too. */
	if (blkid_get_cache(&cache, "/dev/null") < 0)
		return hv_error_set(reterr, -ENOMEM, "cannot probe block devices: %m");
	if (blkid_probe_all(cache) < 0)
		return hv_error_set(reterr, -EIO, "cannot probe block devices for %s '%s'", what,
		                    uuid ?: label);

	iter = blkid_dev_iterate_begin(cache);
	if (!iter)
		return hv_error_set(reterr, -ENOMEM, "cannot probe block devices: %m");
	(void)blkid_dev_set_search(iter, "TYPE", "btrfs");
	while (r >= 0 && blkid_dev_next(iter, &dev) == 0)
		r = match_device(cache, blkid_dev_devname(dev), uuid, label, &devices, &uuids);
	blkid_dev_iterate_end(iter);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot list devices of %s '%s': %m", what,
		                    uuid ?: label);

	/* Empty lists rather than NULL, so callers need not check. */
	if (!devices) {
		devices = calloc(1, sizeof(char *));
		uuids = calloc(1, sizeof(char *));
		if (!devices || !uuids)
			return -ENOMEM;
	}
	*ret_devices = TAKE_PTR(devices);
	*ret_uuids = TAKE_PTR(uuids);
	return 0;
}

int
hv_btrfs_scan_device(const char *device, struct hv_error **reterr)
{
	_cleanup_close_ int fd = -EBADF;
	struct btrfs_ioctl_vol_args args = {};

	if (strlen(device) >= sizeof(args.name))
		return hv_error_set(reterr, -ENAMETOOLONG, "device name '%s' is too long", device);
	strcpy(args.name, device);
	fd = open("/dev/btrfs-control", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return hv_error_set(reterr, -errno,
		                    "cannot scan device '%s': /dev/btrfs-control: %m", device);
	if (ioctl(fd, BTRFS_IOC_SCAN_DEV, &args) < 0)
		return hv_error_set(reterr, -errno, "cannot scan device '%s' for btrfs: %m",
		                    device);
	return 0;
}

/*
 * Call f for every mount in /proc/self/mountinfo, in order, until it
 * returns non-zero (which is then returned).
 */
static int
foreach_mount(int (*f)(const char *where, const char *fstype, void *userdata), void *userdata)
{
	_cleanup_free_ char *text = NULL;
	char *save = NULL;
	int r;

	r = read_full_file("/proc/self/mountinfo", 64u * 1024 * 1024, &text, NULL);
	if (r < 0)
		return r;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct mountinfo_line ml;

		if (mountinfo_parse_line(line, &ml) < 0)
			continue;
		r = f(ml.mount_point, ml.fstype, userdata);
		if (r != 0)
			return r;
	}
	return 0;
}

struct below {
	const char *path;
	char **list;
};

static int
collect_below(const char *where, const char *fstype, void *userdata)
{
	struct below *b = userdata;
	const char *rest;

	if (streq(b->path, "/"))
		rest = "";
	else {
		rest = startswith(where, b->path);
		if (!rest || (*rest && *rest != '/'))
			return 0;
	}
	if (strv_contains(b->list, where))
		return 0;
	return strv_push(&b->list, where);
}

/* Reverse order: a path sorts after every path it is a prefix of, so it comes first. */
static int
cmp_deepest_first(const void *a, const void *b)
{
	return strcmp(*(char *const *)b, *(char *const *)a);
}

int
hv_mounts_below(const char *path, char ***ret)
{
	_cleanup_free_ char *p = strdup(path);
	struct below b = {};
	int r;

	if (!p)
		return -ENOMEM;
	b.path = path_simplify(p);
	r = foreach_mount(collect_below, &b);
	if (r < 0) {
		strv_free(b.list);
		return r;
	}
	if (!b.list) {
		b.list = calloc(1, sizeof(char *));
		if (!b.list)
			return -ENOMEM;
	}
	qsort(b.list, strv_length(b.list), sizeof(char *), cmp_deepest_first);
	*ret = b.list;
	return 0;
}

struct exact {
	const char *path;
	char *fstype;
};

static int
find_exact(const char *where, const char *fstype, void *userdata)
{
	struct exact *e = userdata;
	char *s;

	if (!streq(where, e->path))
		return 0;
	/* Several mounts on one point: the last one in the table is the visible one. */
	s = strdup(fstype);
	if (!s)
		return -ENOMEM;
	free(e->fstype);
	e->fstype = s;
	return 0;
}

int
hv_mount_fstype(const char *path, char **ret)
{
	_cleanup_free_ char *p = strdup(path);
	struct exact e = {};
	int r;

	if (!p)
		return -ENOMEM;
	e.path = path_simplify(p);
	r = foreach_mount(find_exact, &e);
	if (r < 0) {
		free(e.fstype);
		return r;
	}
	if (!e.fstype)
		return -ENOENT;
	*ret = e.fstype;
	return 0;
}
