/* SPDX-License-Identifier: MIT */
/*
 * Installing an image from its file, in one pass (image-store.c has the
 * theory of the store). The file is read once: every byte is counted and
 * hashed on its way into libarchive, which takes off the compression
 * (gzip, bzip2, xz, zstd, or none) and hands over
 *
 *   a tar:  unpacked under the new dataset, entry by entry, after checks
 *           that nothing can land outside it: no absolute paths, no "..",
 *           no device nodes or sockets, nothing through a symlink, and for
 *           zone images nothing but root/...;
 *   raw data: a disk image written into a new volume (zvol images), or,
 *           when it begins like one, a pool send stream, received.
 *
 * Only at the end are the size and sha1 compared with the manifest's, so a
 * file that differs is found after it was unpacked; the dataset is then
 * destroyed. It is never visible as an image before: it is named
 * <uuid>-partial until it is whole and checked.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fault.h"
#include "basic/fileio.h"
#include "basic/path.h"
#include "basic/time-util.h"
#include "image/hash.h"
#include "image/image-internal.h"
#include "image/image.h"
#include "json/json.h"
#include "storage/pool.h"

#define READ_BUFFER     (1024 * 1024)
#define INSTALL_WAIT_MS (30 * 60 * 1000) /* another process installing the same image */
#define SEND_MAGIC      "SABLE-SEND/1 "
#define MIB             (UINT64_C(1) << 20)
#define PROGRESS_EVERY  (4 * MIB)

/* The file as libarchive reads it: counted, hashed, bounded by the manifest's size. */
struct source {
	int fd;
	struct hv_hash *sha1;
	uint64_t count, limit, next_progress;
	hv_image_progress_fn progress;
	void *userdata;
	int err;
	bool eof;
	unsigned char *buf;
};

static la_ssize_t
source_read(struct archive *a, void *userdata, const void **ret)
{
	struct source *s = userdata;
	ssize_t n;

	do
		n = read(s->fd, s->buf, READ_BUFFER);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		s->err = -errno;
		archive_set_error(a, errno, "cannot read the image file");
		return -1;
	}
	s->count += (uint64_t)n;
	s->eof = n == 0;
	if (s->count > s->limit) {
		s->err = -EFBIG;
		archive_set_error(a, EFBIG, "the image file is longer than its manifest says");
		return -1;
	}
	hv_hash_update(s->sha1, s->buf, (size_t)n);
	if (s->progress && (s->count >= s->next_progress || n == 0)) {
		s->progress(s->count, s->limit, s->userdata);
		s->next_progress = s->count + PROGRESS_EVERY;
	}
	*ret = s->buf;
	return n;
}

/* After the archive's end: the rest of the file (padding) is part of it too. */
static int
source_drain(struct archive *a, struct source *s)
{
	for (;;) {
		const void *p;
		la_ssize_t n = source_read(a, s, &p);

		if (n < 0)
			return s->err;
		if (n == 0)
			return 0;
	}
}

/*
 * Hand every data block of the current entry to fn, in order. Returns 0 at
 * the entry's end, fn's error, or -EPROTO when libarchive cannot read on
 * (archive_error_string(a) says why).
 */
typedef int (*block_fn)(const void *buf, size_t size, la_int64_t off, void *userdata);

static int
for_each_block(struct archive *a, block_fn fn, void *userdata)
{
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t off;
		int k = archive_read_data_block(a, &buf, &size, &off), r;

		if (k == ARCHIVE_EOF)
			return 0;
		if (k < ARCHIVE_WARN)
			return -EPROTO;
		if ((r = fn(buf, size, off, userdata)) < 0)
			return r;
	}
}

/* A block into a pipe or file descriptor, in order. */
static int
block_to_fd(const void *buf, size_t size, la_int64_t off, void *userdata)
{
	return loop_write(*(int *)userdata, buf, size);
}

/* ---- checks on tar entries ----------------------------------------------------- */

/* A relative path without "." or ".." components, "./" prefixes dropped. */
static int
entry_path(const char *raw, bool zone, const char **ret, struct hv_error **reterr)
{
	const char *p = raw;

	if (!p || !*p)
		return hv_error_set(reterr, -EINVAL, "image tar: an entry has no name");
	if (p[0] == '/')
		return hv_error_set(reterr, -EINVAL,
		                    "image tar: '%s': absolute paths are not allowed", raw);
	while (startswith(p, "./"))
		p += 2;
	if (strlen(p) >= PATH_MAX / 2)
		return hv_error_set(reterr, -ENAMETOOLONG, "image tar: '%.64s…': name too long",
		                    raw);
	for (const char *c = p; *c;) {
		size_t len = strcspn(c, "/");

		if (len == 2 && c[0] == '.' && c[1] == '.')
			return hv_error_set(reterr, -EINVAL,
			                    "image tar: '%s': '..' is not allowed in a name", raw);
		c += len;
		c += *c == '/';
	}
	if (zone && !streq(p, "root") && !streq(p, "root/") && !startswith(p, "root/"))
		return hv_error_set(
		        reterr, -EINVAL,
		        "image tar: '%s': a zone image holds only root/ (the guest's /)", raw);
	*ret = p;
	return 0;
}

static int
check_type(struct archive_entry *e, const char *name, struct hv_error **reterr)
{
	switch (archive_entry_filetype(e)) {
	case AE_IFCHR:
	case AE_IFBLK:
		return hv_error_set(reterr, -EPERM,
		                    "image tar: '%s': device nodes are not allowed (a zone's /dev "
		                    "is made at boot)",
		                    name);
	case AE_IFSOCK:
		return hv_error_set(reterr, -EPERM, "image tar: '%s': sockets are not allowed",
		                    name);
	default:
		return 0;
	}
}

/* ---- unpacking a tar ------------------------------------------------------------ */

struct unpack {
	const char *base; /* the dataset's directory, without symlinks */
	int base_fd;
	bool zone;
	struct archive *disk;
	/*
	 * The symlinks this archive made, when the dataset started empty: no
	 * entry may go through one. (Over an origin's files, libarchive looks
	 * at every component on disk instead, which costs several system
	 * calls an entry.)
	 */
	json_t *links;
};

/* "root//a/./b/" -> "root/a/b": the form names are compared in. */
static char *
canonical(const char *p)
{
	char *out = malloc(strlen(p) + 1), *o = out;

	if (!out)
		return NULL;
	while (*p) {
		size_t len = strcspn(p, "/");

		if (len > 0 && !(len == 1 && p[0] == '.')) {
			if (o != out)
				*o++ = '/';
			memcpy(o, p, len);
			o += len;
		}
		p += len;
		p += *p == '/';
	}
	*o = 0;
	return out;
}

/* Does name, or a directory on its way, stand where this archive put a symlink? */
static bool
through_symlink(const struct unpack *u, const char *name)
{
	if (!u->links)
		return false;
	for (const char *c = name;; c++)
		if (*c == '/' || *c == 0) {
			if (json_object_getn(u->links, name, (size_t)(c - name)))
				return true;
			if (!*c)
				return false;
		}
}

/* ".wh.NAME": an incremental image deletes NAME (docker's whiteout). */
static int
whiteout(struct unpack *u, const char *path, struct hv_error **reterr)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int dfd = -EBADF;
	const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
	struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
	                       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
	                                  RESOLVE_NO_MAGICLINKS};

	dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
	if (!dir)
		return -ENOMEM;
	dfd = (int)syscall(SYS_openat2, u->base_fd, dir, &how, sizeof(how));
	if (dfd < 0)
		return errno == ENOENT ? 0
		                       : hv_error_set(reterr, -errno, "image tar: '%s': %m", path);
	name += strlen(".wh.");
	if (unlinkat(dfd, name, 0) < 0 && errno == EISDIR)
		(void)unlinkat(dfd, name, AT_REMOVEDIR);
	return 0;
}

static int
block_to_disk(const void *buf, size_t size, la_int64_t off, void *userdata)
{
	return archive_write_data_block(userdata, buf, size, off) < ARCHIVE_WARN ? -EIO : 0;
}

static int
unpack_entry(struct unpack *u, struct archive *a, struct archive_entry *e, struct hv_error **reterr)
{
	_cleanup_free_ char *full = NULL, *full_link = NULL, *raw = NULL;
	const char *path, *link = archive_entry_hardlink(e);
	const char *base_name;
	int r;

	/* Our own copy: setting the entry's name below frees libarchive's. */
	if (!(raw = strdup(strempty(archive_entry_pathname(e)))))
		return -ENOMEM;
	if ((r = entry_path(raw, u->zone, &path, reterr)) < 0 ||
	    (r = check_type(e, raw, reterr)) < 0)
		return r;
	base_name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if (startswith(base_name, ".wh."))
		return whiteout(u, path, reterr);
	if (link) {
		const char *lpath;
		if ((r = entry_path(link, u->zone, &lpath, reterr)) < 0)
			return r;
		if (!(full_link = canonical(lpath)))
			return -ENOMEM;
		if (through_symlink(u, full_link))
			return hv_error_set(
			        reterr, -EPERM,
			        "image tar: '%s': a link through a symlink of the image", raw);
		archive_entry_set_hardlink(e, full_link);
	}
	/* Relative to the dataset, our working directory while we unpack. */
	if (!(full = canonical(path)))
		return -ENOMEM;
	if (through_symlink(u, full))
		return hv_error_set(
		        reterr, -EPERM,
		        "image tar: '%s': would be written through a symlink of the image", raw);
	archive_entry_set_pathname(e, full);
	if (archive_write_header(u->disk, e) < ARCHIVE_WARN)
		return hv_error_set(reterr, -EIO, "image tar: '%s': %s", raw,
		                    archive_error_string(u->disk));
	r = for_each_block(a, block_to_disk, u->disk);
	if (r == -EPROTO)
		return hv_error_set(reterr, -EIO, "image file: %s", archive_error_string(a));
	if (r < 0)
		return hv_error_set(reterr, -EIO, "image tar: '%s': %s", raw,
		                    archive_error_string(u->disk));
	if (archive_write_finish_entry(u->disk) < ARCHIVE_WARN)
		return hv_error_set(reterr, -EIO, "image tar: '%s': %s", raw,
		                    archive_error_string(u->disk));
	if (u->links && archive_entry_filetype(e) == AE_IFLNK &&
	    json_object_set_new(u->links, full, json_true()) < 0)
		return -ENOMEM;
	return 0;
}

/* Unpack the tar, whose first header is already read, under dir. */
static int
unpack_tar(struct archive *a, struct archive_entry *e, const char *dir, bool zone, bool fresh,
           struct hv_error **reterr)
{
	_cleanup_free_ char *base = realpath(dir, NULL);
	_cleanup_close_ int base_fd = -EBADF, cwd = -EBADF;
	struct unpack u = {.zone = zone};
	int r = 0, k = ARCHIVE_OK;

	if (!base)
		return hv_error_set(reterr, -errno, "'%s': %m", dir);
	base_fd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
	u.disk = archive_write_disk_new();
	if (base_fd < 0 || !u.disk) {
		archive_write_free(u.disk);
		return base_fd < 0 ? hv_error_set(reterr, -errno, "'%s': %m", base) : -ENOMEM;
	}
	u.base = base;
	u.base_fd = base_fd;
	/*
	 * Unpack with the dataset as working directory, names relative to it:
	 * where libarchive checks every component of every name for symlinks
	 * (over an origin), a relative name has only the image's own to check.
	 */
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0 || fchdir(base_fd) < 0) {
		archive_write_free(u.disk);
		return hv_error_set(reterr, -errno, "cannot enter '%s': %m", base);
	}
	if (fresh && !(u.links = json_object())) {
		archive_write_free(u.disk);
		(void)fchdir(cwd);
		return -ENOMEM;
	}
	archive_write_disk_set_options(
	        u.disk, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
	                        ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL |
	                        ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	                        (fresh ? 0 : ARCHIVE_EXTRACT_SECURE_SYMLINKS));
	while (r >= 0 && k == ARCHIVE_OK) {
		r = unpack_entry(&u, a, e, reterr);
		if (r >= 0)
			k = archive_read_next_header(a, &e);
	}
	if (r >= 0 && k != ARCHIVE_EOF)
		r = hv_error_set(reterr, -EIO, "image file: %s", archive_error_string(a));
	if (archive_write_close(u.disk) != ARCHIVE_OK && r >= 0)
		r = hv_error_set(reterr, -EIO, "image: %s", archive_error_string(u.disk));
	archive_write_free(u.disk);
	json_decref(u.links);
	if (fchdir(cwd) < 0 && r >= 0)
		r = hv_error_set(reterr, -errno, "cannot return to the working directory: %m");
	return r;
}

/* ---- raw data: a disk into a volume, or a send stream into the pool --------------- */

/* A volume being written: blocks of zeros are skipped, so it stays sparse. */
struct volume {
	int fd;
	uint64_t limit;
	struct hv_error **reterr;
};

static int
write_block(const void *buf, size_t size, la_int64_t off, void *userdata)
{
	static const unsigned char zero[64 * 1024];
	struct volume *v = userdata;

	if ((uint64_t)off + size > v->limit)
		return hv_error_set(v->reterr, -EFBIG,
		                    "the disk image is larger than its image_size (%" PRIu64
		                    " MiB)",
		                    v->limit / MIB);
	if (size <= sizeof(zero) && memcmp(buf, zero, size) == 0)
		return 0;
	for (size_t done = 0; done < size;) {
		ssize_t n = pwrite(v->fd, (const char *)buf + done, size - done,
		                   (off_t)(off + (la_int64_t)done));
		if (n < 0)
			return hv_error_set(v->reterr, -errno, "cannot write the volume: %m");
		done += (size_t)n;
	}
	return 0;
}

/* A raw disk image into the volume file at path, starting with the block already read. */
static int
write_raw(struct archive *a, const void *first, size_t first_size, const char *path, uint64_t limit,
          struct hv_error **reterr)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	struct volume v = {.fd = fd, .limit = limit, .reterr = reterr};
	int r;

	if (fd < 0)
		return hv_error_set(reterr, -errno, "'%s': %m", path);
	if ((r = write_block(first, first_size, 0, &v)) < 0)
		return r;
	r = for_each_block(a, write_block, &v);
	if (r == -EPROTO)
		return hv_error_set(reterr, -EIO, "image file: %s", archive_error_string(a));
	return r;
}

struct receive {
	const char *zpool, *name;
	int fd, r;
	struct hv_error *err;
};

static void *
receive_thread(void *arg)
{
	struct receive *rc = arg;
	struct hv_pool *p = NULL;

	rc->r = hv_pool_open(rc->zpool, HV_POOL_OPEN_WRITE, &p, &rc->err);
	if (rc->r >= 0)
		rc->r = hv_pool_receive(p, rc->name, rc->fd, &rc->err);
	hv_pool_close(p);
	rc->fd = safe_close(rc->fd);
	return NULL;
}

/* A pool send stream: the pool receives it from a pipe that the decompressed data feeds. */
static int
receive_stream(struct archive *a, const void *first, size_t first_size, const char *zpool,
               const char *name, struct hv_error **reterr)
{
	struct receive rc = {.zpool = zpool, .name = name, .fd = -1};
	pthread_t t;
	int p[2], r = 0;

	if (pipe2(p, O_CLOEXEC) < 0)
		return hv_error_set(reterr, -errno, "pipe: %m");
	rc.fd = p[0];
	if (pthread_create(&t, NULL, receive_thread, &rc) != 0) {
		close(p[0]);
		close(p[1]);
		return -EAGAIN;
	}
	r = loop_write(p[1], first, first_size);
	if (r >= 0)
		r = for_each_block(a, block_to_fd, &p[1]);
	if (r == -EPROTO)
		r = hv_error_set(reterr, -EIO, "image file: %s", archive_error_string(a));
	close(p[1]);
	pthread_join(t, NULL);
	if (rc.r < 0 && (r >= 0 || r == -EPIPE)) {
		r = hv_error_set(reterr, rc.r, "image stream: %s", hv_error_message(rc.err, rc.r));
	}
	hv_error_free(rc.err);
	return r < 0 ? r : 0;
}

/* ---- the install ------------------------------------------------------------------ */

static int
pool_do(const char *zpool, struct hv_pool **ret, struct hv_error **reterr)
{
	return hv_pool_open(zpool, HV_POOL_OPEN_WRITE, ret, reterr);
}

/* The dataset the data goes into: a volume, a clone of the origin, or a new filesystem. */
static int
make_partial(const struct hv_image_manifest *m, const char *zpool, const char *partial,
             struct hv_error **reterr)
{
	_cleanup_free_ char *origin = NULL;
	struct hv_dataset_props props = {0};
	struct hv_pool *p = NULL;
	int r;

	if ((r = pool_do(zpool, &p, reterr)) < 0)
		return r;
	if (m->type == HV_IMAGE_ZVOL) {
		props.volsize = m->image_size * MIB;
		r = hv_pool_create_dataset(p, partial, HV_DATASET_VOLUME, &props, reterr);
	} else if (m->origin) {
		if (asprintf(&origin, "%s/%s@final", zpool, m->origin) < 0)
			r = -ENOMEM;
		else
			r = hv_pool_clone(p, origin, partial, &props, reterr);
	} else
		r = hv_pool_create_dataset(p, partial, HV_DATASET_FILESYSTEM, &props, reterr);
	hv_pool_close(p);
	return r;
}

static int
partial_path(const struct hv_image_manifest *m, const char *zpool, const char *partial, char **ret,
             struct hv_error **reterr)
{
	struct hv_pool *p = NULL;
	int r = hv_pool_open(zpool, 0, &p, reterr);

	if (r >= 0)
		r = m->type == HV_IMAGE_ZVOL ? hv_pool_volume_path(p, partial, ret, reterr)
		                             : hv_pool_dataset_path(p, partial, ret, reterr);
	hv_pool_close(p);
	return r;
}

/* Where the file went wrong, in the words that help most (why: libarchive's, or NULL). */
static int
stream_error(const char *why, const struct source *s, const struct hv_image_manifest *m,
             struct hv_error **reterr)
{
	if (s->err == -EFBIG)
		return hv_error_set(reterr, -EFBIG,
		                    "image %s: the file is longer than its manifest's "
		                    "%" PRIu64 " bytes",
		                    m->uuid, m->file.size);
	if (s->err < 0)
		return hv_error_set(reterr, s->err, "image %s: cannot read its file: %m", m->uuid);
	if (s->count < s->limit)
		return hv_error_set(reterr, -EPROTO,
		                    "image %s: the file ends after %" PRIu64 " of %" PRIu64
		                    " bytes (truncated?)",
		                    m->uuid, s->count, s->limit);
	return hv_error_set(reterr, -EPROTO, "image %s: %s", m->uuid,
	                    why && *why ? why : "the file is not an image file");
}

/* The first header read: what kind of file this is decides what is made of it. */
static int
take_data(struct archive *a, struct archive_entry *e, const struct hv_image_manifest *m,
          const char *zpool, const char *partial, struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL;
	const void *buf = NULL;
	size_t size = 0;
	la_int64_t off;
	int r, k;

	if (archive_format(a) != ARCHIVE_FORMAT_RAW) {
		if (m->type == HV_IMAGE_ZVOL)
			return hv_error_set(reterr, -EINVAL,
			                    "image %s: a zvol image's file is a disk, not a tar",
			                    m->uuid);
		if ((r = make_partial(m, zpool, partial, reterr)) < 0 ||
		    (r = partial_path(m, zpool, partial, &path, reterr)) < 0)
			return r;
		return unpack_tar(a, e, path, m->type != HV_IMAGE_OTHER, !m->origin, reterr);
	}
	k = archive_read_data_block(a, &buf, &size, &off);
	if (k < ARCHIVE_WARN)
		return hv_error_set(reterr, -EPROTO, "image %s: %s", m->uuid,
		                    archive_error_string(a));
	if (k == ARCHIVE_EOF)
		size = 0;
	if (size >= strlen(SEND_MAGIC) && memcmp(buf, SEND_MAGIC, strlen(SEND_MAGIC)) == 0)
		return receive_stream(a, buf, size, zpool, partial, reterr);
	if (m->type != HV_IMAGE_ZVOL)
		return hv_error_set(reterr, -EINVAL,
		                    "image %s: the file is neither a tar nor a pool send stream "
		                    "(a %s image is a tar of root/)",
		                    m->uuid, hv_image_type_to_string(m->type));
	if ((r = make_partial(m, zpool, partial, reterr)) < 0 ||
	    (r = partial_path(m, zpool, partial, &path, reterr)) < 0)
		return r;
	return write_raw(a, buf, size, path, m->image_size * MIB, reterr);
}

/*
 * The file, decompressed by a thread of its own: it reads, counts and
 * hashes the file and writes the plain bytes into a pipe, so that
 * decompression runs beside the unpacking (as `zstd -dc | tar -x` does).
 */
struct inflate {
	struct source s;
	int out; /* the pipe's write end */
	int r;   /* 0, or how it failed */
	char why[256];
};

static void *
inflate_thread(void *arg)
{
	struct inflate *d = arg;
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	sigset_t pipe;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);
	if (!a) {
		d->r = -ENOMEM;
		goto out;
	}
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	if (archive_read_open(a, &d->s, NULL, source_read, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK)
		goto fail;
	switch (for_each_block(a, block_to_fd, &d->out)) {
	case 0:
		break;
	case -EPROTO:
		goto fail;
	default:
		d->r = -EPIPE; /* the unpacking gave up: its error says why */
		goto out;
	}
	if (source_drain(a, &d->s) >= 0)
		goto out;
fail:
	d->r = d->s.err < 0 ? d->s.err : -EPROTO;
	snprintf(d->why, sizeof(d->why), "%s", strempty(archive_error_string(a)));
out:
	archive_read_free(a);
	d->out = safe_close(d->out);
	return NULL;
}

/* Read what the inflater still writes, so that it reaches the file's end. */
static void
drain_pipe(int fd)
{
	char buf[64 * 1024];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Unpack the plain stream from the pipe. */
static int
unpack_from(int fd, const struct hv_image_manifest *m, const char *zpool, const char *partial,
            struct hv_error **reterr)
{
	struct archive *b = archive_read_new();
	struct archive_entry *e = NULL;
	int r;

	if (!b)
		return -ENOMEM;
	archive_read_support_format_tar(b);
	archive_read_support_format_raw(b);
	if (archive_read_open_fd(b, fd, 256 * 1024) != ARCHIVE_OK ||
	    archive_read_next_header(b, &e) != ARCHIVE_OK)
		r = hv_error_set(reterr, -EPROTO, "image %s: %s", m->uuid,
		                 archive_error_string(b) ?: "the file is not an image file");
	else
		r = take_data(b, e, m, zpool, partial, reterr);
	archive_read_free(b);
	return r;
}

/* Stream the file into the partial dataset and check it against the manifest. */
static int
stream_in(const struct hv_image_manifest *m, int fd, const char *zpool, const char *partial,
          const struct hv_image_install_opts *o, struct hv_error **reterr)
{
	struct inflate d = {.s = {.fd = fd,
	                          .limit = m->file.size,
	                          .progress = o ? o->progress : NULL,
	                          .userdata = o ? o->userdata : NULL}};
	char sha1[HV_SHA1_HEX_LEN + 1];
	pthread_t t;
	int p[2], r;

	d.s.buf = malloc(READ_BUFFER);
	if (!d.s.buf || hv_hash_new(HV_HASH_SHA1, &d.s.sha1) < 0) {
		r = -ENOMEM;
		goto out;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		r = hv_error_set(reterr, -errno, "pipe: %m");
		goto out;
	}
	(void)fcntl(p[1], F_SETPIPE_SZ, 1024 * 1024);
	d.out = p[1];
	if (pthread_create(&t, NULL, inflate_thread, &d) != 0) {
		close(p[0]);
		close(p[1]);
		r = -EAGAIN;
		goto out;
	}
	r = unpack_from(p[0], m, zpool, partial, reterr);
	if (r >= 0)
		r = fault_point("image-install:unpacked");
	if (r >= 0)
		drain_pipe(p[0]);
	close(p[0]);
	pthread_join(t, NULL);
	/* The file's own trouble (short, long, unreadable, not decompressible) comes first. */
	if (d.r < 0 && d.r != -EPIPE)
		r = stream_error(d.why, &d.s, m, reterr);
	else if (r < 0 && d.s.eof && d.s.count < d.s.limit)
		r = stream_error(NULL, &d.s, m, reterr);
	if (r < 0)
		goto out;
	if (d.s.count != m->file.size) {
		r = stream_error(NULL, &d.s, m, reterr);
		goto out;
	}
	if ((r = hv_hash_final_hex(d.s.sha1, sha1, sizeof(sha1))) < 0)
		goto out;
	if (!streq(sha1, m->file.sha1))
		r = hv_error_set(reterr, -EBADMSG,
		                 "image %s: the file's sha1 is %s, its manifest says %s", m->uuid,
		                 sha1, m->file.sha1);
out:
	hv_hash_free(d.s.sha1);
	free(d.s.buf);
	return r;
}

static int
write_intent(const char *uuid, const char *zpool, struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL, *dir = NULL, *text = NULL;
	json_auto_t *o =
	        json_pack("{s:s, s:s, s:i}", "uuid", uuid, "zpool", zpool, "pid", (int)getpid());
	int r;

	if (!o || image_intent_path(uuid, &path) < 0 || path_dirname(path, &dir) < 0 ||
	    !(text = hv_json_dumps_compact(o)))
		return -ENOMEM;
	if ((r = mkdir_p(dir, 0700)) < 0 ||
	    (r = write_file_atomic(path, text, strlen(text), 0600)) < 0)
		return hv_error_set(reterr, r, "cannot record the install of image %s: %m", uuid);
	return 0;
}

static int
write_cache(const struct hv_image_manifest *m, const char *zpool, const char *source,
            struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL, *dir = NULL, *text = NULL;
	json_auto_t *o = json_pack("{s:O, s:s, s:s?}", "manifest", m->json, "zpool", zpool,
	                           "source", source);
	int r;

	if (!o || image_cache_path(zpool, m->uuid, &path) < 0 || path_dirname(path, &dir) < 0 ||
	    !(text = hv_json_dumps(o)))
		return -ENOMEM;
	if ((r = mkdir_p(dir, 0755)) < 0 ||
	    (r = write_file_atomic(path, text, strlen(text), 0644)) < 0)
		return hv_error_set(reterr, r, "cannot write '%s': %m", path);
	return 0;
}

/* Whole and checked: <uuid>-partial becomes <uuid>, with @final. */
static int
commit(const char *zpool, const char *partial, const char *uuid, struct hv_error **reterr)
{
	_cleanup_free_ char *ds = NULL, *snap = NULL;
	struct hv_pool *p = NULL;
	int r;

	if (asprintf(&ds, "%s/%s", zpool, uuid) < 0 || asprintf(&snap, "%s@final", ds) < 0)
		return -ENOMEM;
	if ((r = pool_do(zpool, &p, reterr)) < 0)
		return r;
	r = hv_pool_rename(p, partial, ds, reterr);
	if (r >= 0)
		r = fault_point("image-install:renamed");
	if (r >= 0)
		r = hv_pool_snapshot(p, snap, reterr);
	hv_pool_close(p);
	return r;
}

static int
check_installable(const struct hv_image_manifest *m, const char *zpool, struct hv_error **reterr)
{
	if (!m->has_file)
		return hv_error_set(reterr, -EINVAL, "image %s: its manifest has no file (files[])",
		                    m->uuid);
	if (image_installed(zpool, m->uuid))
		return hv_error_set(reterr, -EEXIST, "image %s is already installed", m->uuid);
	if (m->origin && !image_installed(zpool, m->origin))
		return hv_error_set(reterr, -ENOENT,
		                    "image %s needs its origin image %s installed first", m->uuid,
		                    m->origin);
	if (m->type == HV_IMAGE_ZVOL && m->image_size == 0)
		return hv_error_set(reterr, -EINVAL, "image %s: a zvol image needs image_size",
		                    m->uuid);
	return 0;
}

int
hv_image_install(const struct hv_image_manifest *m, int fd, const struct hv_image_install_opts *o,
                 struct hv_error **reterr)
{
	const char *zpool = o && o->zpool ? o->zpool : "zones";
	_cleanup_close_ int lock = -EBADF;
	_cleanup_free_ char *partial = NULL;
	int r;

	if ((r = image_lock(m->uuid, INSTALL_WAIT_MS, &lock, reterr)) < 0)
		return r;
	(void)hv_image_recover(zpool, NULL);
	if ((r = check_installable(m, zpool, reterr)) < 0)
		return r;
	if (asprintf(&partial, "%s/%s-partial", zpool, m->uuid) < 0)
		return -ENOMEM;
	if ((r = write_intent(m->uuid, zpool, reterr)) < 0)
		return r;
	r = stream_in(m, fd, zpool, partial, o, reterr);
	if (r >= 0)
		r = commit(zpool, partial, m->uuid, reterr);
	if (r >= 0)
		r = write_cache(m, zpool, o ? o->source : NULL, reterr);
	/* Done or not, the intent's recovery leaves exactly the right thing. */
	lock = safe_close(lock);
	{
		_cleanup_hv_error_ struct hv_error *e = NULL;
		int k = hv_image_recover(zpool, &e);
		if (k < 0 && r >= 0)
			r = hv_error_set(reterr, k, "%s", hv_error_message(e, k));
	}
	return r;
}
