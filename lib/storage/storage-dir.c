/* SPDX-License-Identifier: MIT */
/*
 * The dir backend: Sable where btrfs is absent (ext4, xfs, tmpfs). The
 * pool is a directory, every dataset a plain directory in it, and
 * snapshots and clones are full copies, so they cost time and space in
 * proportion to the data where btrfs makes them O(1).
 *
 * A copy is tar in-process: hv_tar_write() of the source runs on a thread
 * into a pipe, and hv_tar_extract() of the other end fills the new
 * directory. It keeps whatever the send stream keeps (owners, modes,
 * times, xattrs, ACLs, hard links, holes, device nodes), leaves nested
 * datasets out the same way (an empty directory where each was), and
 * every copy passes the extraction's checks. `cp -a --reflink=auto` would
 * share extents on xfs, but it cannot leave nested datasets out short of
 * copying them and deleting them again; we give up reflinks for that. A
 * half-made copy is removed before the error is returned. Deleting is
 * rm -r on the dataset's own file system, refused (-EBUSY) while anything
 * is mounted at or below it.
 *
 * What plain directories cannot do, this backend does not pretend to:
 * snapshots are not read-only (no mode or flag stops root short of the
 * immutable flag, which would also stop us), so "readonly" is recorded
 * nowhere; limits are refused (no quotas), compression is "off" only,
 * there are no checksums to scrub, sends are full streams only, and space
 * is what a walk of the tree finds allocated (du), hard links counted once
 * and other file systems mounted below left out.
 */

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <search.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/error.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/path.h"
#include "basic/strv.h"
#include "storage/storage-internal.h"

#define NFTW_FDS 64

/* ---- trees: remove, measure, copy ---- */

static _Thread_local char *rm_failed; /* what rm_one() could not remove */

static int
rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	int r = type == FTW_DP || type == FTW_DNR ? rmdir(path) : unlink(path);

	if (r >= 0 || errno == ENOENT)
		return 0;
	r = errno;
	free(rm_failed);
	rm_failed = strdup(path);
	return r; /* > 0: nftw stops and returns it */
}

/* rm -r, staying on path's file system. */
static int
rm_tree(const char *path, struct hv_error **reterr)
{
	_cleanup_free_ char *failed = NULL;
	int r;

	r = nftw(path, rm_one, NFTW_FDS, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	failed = TAKE_PTR(rm_failed);
	if (r == 0)
		return 0;
	if (r > 0)
		return hv_error_set(reterr, -r, "cannot remove '%s': %m", failed ?: path);
	return hv_error_set(reterr, -errno, "cannot remove '%s': %m", path);
}

struct inode {
	dev_t dev;
	ino_t ino;
};

struct du {
	uint64_t bytes;
	void *seen; /* tsearch() tree of the struct inode of files with several links */
	bool oom;
};

static _Thread_local struct du *du_state;

static int
inode_cmp(const void *a, const void *b)
{
	const struct inode *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static int
du_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	struct du *d = du_state;

	if (type == FTW_NS)
		return 0; /* vanished while we looked */
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		struct inode *k = malloc(sizeof(*k));
		void *found;

		if (k)
			*k = (struct inode){st->st_dev, st->st_ino};
		if (!k || !(found = tsearch(k, &d->seen, inode_cmp))) {
			free(k);
			d->oom = true;
			return 1;
		}
		if (*(struct inode **)found != k) {
			free(k);
			return 0; /* another name of a file already counted */
		}
	}
	d->bytes += (uint64_t)st->st_blocks * 512;
	return 0;
}

/* Bytes allocated to the tree at path (du -s --bytes of st_blocks), on its own file system. */
static int
du_tree(const char *path, uint64_t *ret, struct hv_error **reterr)
{
	struct du d = {};
	int r;

	du_state = &d;
	r = nftw(path, du_one, NFTW_FDS, FTW_PHYS | FTW_MOUNT);
	du_state = NULL;
	tdestroy(d.seen, free);
	if (d.oom)
		return -ENOMEM;
	if (r != 0)
		return hv_error_set(reterr, -errno, "cannot measure '%s': %m", path);
	*ret = d.bytes;
	return 0;
}

struct writer {
	const char *src;
	char *const *skip;
	int fd;
	int r;
	struct hv_error *error;
};

static void *
writer_run(void *userdata)
{
	struct writer *w = userdata;

	w->r = hv_tar_write(w->src, w->skip, w->fd, &w->error);
	w->fd = safe_close(w->fd);
	return NULL;
}

static void
drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Hand a worker's error on: *reterr takes over *e (or, without one, names path). */
static int
pass_error(struct hv_error **reterr, struct hv_error **e, int code, const char *path)
{
	if (!*e)
		return hv_error_set(reterr, code, "cannot copy '%s': %m", path);
	if (reterr) {
		hv_error_free(*reterr);
		*reterr = TAKE_PTR(*e);
	}
	return code;
}

/*
 * Copy src into the existing, empty dst: a tar writer on a thread, into a
 * pipe that we extract from. The thread blocks every signal, so a reader
 * that stops early gives it EPIPE rather than the process SIGPIPE.
 */
static int
copy_tree(const char *src, const char *dst, char *const *skip, struct hv_error **reterr)
{
	_cleanup_hv_error_ struct hv_error *rerr = NULL;
	_cleanup_close_ int rfd = -EBADF;
	struct writer w = {.src = src, .skip = skip, .fd = -EBADF};
	sigset_t all, old;
	pthread_t thread;
	int fds[2], r;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return hv_error_set(reterr, -errno, "cannot copy '%s': %m", src);
	rfd = fds[0];
	w.fd = fds[1];
	(void)sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&thread, NULL, writer_run, &w);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		(void)safe_close(w.fd);
		return hv_error_set(reterr, r, "cannot copy '%s': %m", src);
	}

	r = hv_tar_extract(rfd, dst, &rerr);
	if (r >= 0)
		drain(rfd); /* nothing should follow the archive, but let the writer finish */
	rfd = safe_close(rfd);
	(void)pthread_join(thread, NULL);

	/* The writer's failure is the cause, unless it only saw the reader give up. */
	if (w.r < 0 && (w.r != -EPIPE || r >= 0))
		r = pass_error(reterr, &w.error, w.r, src);
	else if (r < 0)
		r = pass_error(reterr, &rerr, r, dst);
	hv_error_free(w.error);
	return r;
}

/* Is dst inside the tree that a copy of src (less skip) reads? 1 yes, 0 no. */
static int
inside_copy(const char *src, const char *dst, char *const *skip)
{
	_cleanup_free_ char *s = strdup(src), *d = strdup(dst);
	const char *rel;

	if (!s || !d)
		return -ENOMEM;
	rel = startswith(path_simplify(d), path_simplify(s));
	if (!rel || (*rel && *rel != '/' && !streq(s, "/")))
		return 0;
	while (*rel == '/')
		rel++;
	STRV_FOREACH (n, skip) {
		const char *tail = startswith(rel, *n);

		if (*rel && tail && (!*tail || *tail == '/'))
			return 0; /* in a nested dataset, which the copy leaves out */
	}
	return 1;
}

/* ---- pools ---- */

static int
dir_is_empty(const char *path)
{
	_cleanup_closedir_ DIR *d = opendir(path);
	struct dirent *de;

	if (!d)
		return -errno;
	errno = 0;
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			return 0;
	return errno > 0 ? -errno : 1;
}

static int
dir_pool_create(struct hv_pool_spec *spec, struct hv_error **reterr)
{
	int r;

	r = mkdir_p(spec->mountpoint, 0755);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot create '%s': %m", spec->mountpoint);
	r = dir_is_empty(spec->mountpoint);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot read '%s': %m", spec->mountpoint);
	if (r == 0)
		return hv_error_set(reterr, -EEXIST,
		                    "'%s' is not empty: a dir pool needs a new or empty directory",
		                    spec->mountpoint);
	spec->quota_mode = HV_QUOTA_NONE;
	return 0;
}

/* 1 if the pool's database is there, 0 if not. */
static int
pool_db_exists(const struct hv_pool_spec *spec, struct hv_error **reterr)
{
	_cleanup_free_ char *db = NULL;
	struct stat st;

	if (path_join(spec->mountpoint, ".sable/pool.json", &db) < 0)
		return -ENOMEM;
	if (stat(db, &st) >= 0)
		return 1;
	if (errno == ENOENT || errno == ENOTDIR)
		return 0;
	return hv_error_set(reterr, -errno, "cannot look for '%s': %m", db);
}

static int
dir_pool_import(struct hv_pool_spec *spec, struct hv_error **reterr)
{
	int r = pool_db_exists(spec, reterr);

	if (r < 0)
		return r;
	if (r == 0)
		return hv_error_set(reterr, -ENOENT, "no dir pool at '%s'", spec->mountpoint);
	spec->quota_mode = HV_QUOTA_NONE;
	return 0;
}

static int
dir_pool_export(const struct hv_pool_spec *spec, struct hv_error **reterr)
{
	return 0; /* nothing is mounted */
}

static int
dir_pool_is_imported(const struct hv_pool_spec *spec, struct hv_error **reterr)
{
	return pool_db_exists(spec, reterr);
}

static int
dir_pool_status(struct hv_pool *p, struct hv_pool_status *ret, struct hv_error **reterr)
{
	_cleanup_free_ char *health = strdup("ONLINE"), *profile = strdup("-");
	_cleanup_free_ char *path = strdup(p->spec.mountpoint);
	_cleanup_free_ struct hv_pool_device *dev = calloc(1, sizeof(*dev));
	struct statvfs sv;

	if (!health || !profile || !path || !dev)
		return -ENOMEM;
	if (statvfs(p->spec.mountpoint, &sv) < 0)
		return hv_error_set(reterr, -errno, "cannot query '%s': %m", p->spec.mountpoint);
	ret->size = (uint64_t)sv.f_blocks * sv.f_frsize;
	ret->used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	ret->free = (uint64_t)sv.f_bavail * sv.f_frsize;
	ret->quota_mode = HV_QUOTA_NONE;
	dev->path = TAKE_PTR(path);
	dev->size = ret->size;
	ret->health = TAKE_PTR(health);
	ret->profile = TAKE_PTR(profile);
	ret->devices = TAKE_PTR(dev);
	ret->n_devices = 1;
	return 0;
}

static int
dir_pool_scrub(struct hv_pool *p, struct hv_scrub_result *ret, struct hv_error **reterr)
{
	return hv_error_set(reterr, -EOPNOTSUPP,
	                    "the dir backend keeps no checksums: nothing to scrub");
}

/* ---- datasets ---- */

static int
dir_subvol_create(struct hv_pool *p, const char *path, const uint64_t *groups, size_t n,
                  struct hv_error **reterr)
{
	if (mkdir(path, 0755) >= 0)
		return 0;
	if (errno == EEXIST)
		return hv_error_set(reterr, -EEXIST, "'%s' already exists", path);
	if (errno == ENOENT)
		return hv_error_set(reterr, -ENOENT,
		                    "cannot create '%s': its parent does not exist", path);
	return hv_error_set(reterr, -errno, "cannot create '%s': %m", path);
}

static int
dir_subvol_snapshot(struct hv_pool *p, const char *src, const char *dst, bool readonly,
                    char *const *skip, const uint64_t *groups, size_t n, struct hv_error **reterr)
{
	int r;

	r = inside_copy(src, dst, skip);
	if (r < 0)
		return r;
	if (r > 0)
		return hv_error_set(reterr, -EINVAL, "cannot copy '%s' into itself ('%s')", src,
		                    dst);
	if (mkdir(dst, 0700) < 0) {
		if (errno == EEXIST)
			return hv_error_set(reterr, -EEXIST, "'%s' already exists", dst);
		return hv_error_set(reterr, -errno, "cannot create '%s': %m", dst);
	}
	r = copy_tree(src, dst, skip, reterr);
	if (r < 0)
		(void)rm_tree(dst, NULL);
	return r;
}

static int
dir_subvol_delete(struct hv_pool *p, const char *path, struct hv_error **reterr)
{
	_cleanup_strv_free_ char **mounts = NULL;
	struct stat st;
	int r;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return hv_error_set(reterr, -ENOENT, "'%s' does not exist", path);
		return hv_error_set(reterr, -errno, "cannot remove '%s': %m", path);
	}
	r = hv_mounts_below(path, &mounts);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot read the mount table: %m");
	if (strv_length(mounts) > 0)
		return hv_error_set(reterr, -EBUSY, "cannot remove '%s': '%s' is mounted", path,
		                    mounts[0]);
	return rm_tree(path, reterr);
}

static int
dir_subvol_set_readonly(struct hv_pool *p, const char *path, bool readonly,
                        struct hv_error **reterr)
{
	return 0; /* see the top of the file */
}

static int
dir_group_create(struct hv_pool *p, uint64_t group, struct hv_error **reterr)
{
	return 0;
}

static int
dir_group_destroy(struct hv_pool *p, uint64_t group, struct hv_error **reterr)
{
	return 0;
}

static int
dir_group_limit(struct hv_pool *p, uint64_t group, uint64_t bytes, struct hv_error **reterr)
{
	if (bytes == 0)
		return 0;
	return hv_error_set(reterr, -EOPNOTSUPP, "the dir backend cannot enforce quotas");
}

static int
dir_space(struct hv_pool *p, struct hv_space *items, size_t n, struct hv_error **reterr)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t bytes;
		int r = du_tree(items[i].path, &bytes, reterr);

		if (r < 0)
			return r;
		items[i].used = items[i].refer = bytes;
	}
	return 0;
}

static int
dir_set_compression(struct hv_pool *p, const char *path, const char *alg, struct hv_error **reterr)
{
	if (streq(alg, "off"))
		return 0;
	return hv_error_set(reterr, -EOPNOTSUPP, "the dir backend cannot compress ('%s')", alg);
}

static int
dir_send(struct hv_pool *p, const char *snap_path, const char *base_path, int fd,
         struct hv_error **reterr)
{
	if (base_path)
		return hv_error_set(reterr, -EOPNOTSUPP, "the dir backend sends full streams only");
	return hv_tar_write(snap_path, NULL, fd, reterr);
}

static int
dir_receive(struct hv_pool *p, const char *format, int fd, const char *dir, char **ret_path,
            struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL;
	int r;

	if (streq(format, "btrfs"))
		return hv_error_set(reterr, -EPROTONOSUPPORT,
		                    "a 'btrfs' stream can only be received into a btrfs pool");
	if (!streq(format, "tar"))
		return hv_error_set(reterr, -EPROTONOSUPPORT, "unknown stream format '%s'", format);
	if (path_join(dir, "received", &path) < 0)
		return -ENOMEM;
	if (mkdir(path, 0700) < 0)
		return hv_error_set(reterr, -errno, "cannot create '%s': %m", path);
	r = hv_tar_extract(fd, path, reterr);
	if (r < 0) {
		(void)rm_tree(path, NULL);
		return r;
	}
	*ret_path = TAKE_PTR(path);
	return 0;
}

/* Plain directories have no accounting: membership is nothing to change. */
static int
dir_group_assign(struct hv_pool *p, const char *path, uint64_t group, bool add,
                 struct hv_error **reterr)
{
	return 0;
}

const struct hv_pool_ops hv_pool_dir_ops = {
        .name = "dir",
        .pool_create = dir_pool_create,
        .pool_import = dir_pool_import,
        .pool_export = dir_pool_export,
        .pool_is_imported = dir_pool_is_imported,
        .pool_status = dir_pool_status,
        .pool_scrub = dir_pool_scrub,
        .subvol_create = dir_subvol_create,
        .subvol_snapshot = dir_subvol_snapshot,
        .subvol_delete = dir_subvol_delete,
        .subvol_set_readonly = dir_subvol_set_readonly,
        .group_create = dir_group_create,
        .group_destroy = dir_group_destroy,
        .group_assign = dir_group_assign,
        .group_limit = dir_group_limit,
        .space = dir_space,
        .set_compression = dir_set_compression,
        .send_format = "tar",
        .send = dir_send,
        .receive = dir_receive,
};
