/* SPDX-License-Identifier: MIT */
/*
 * Tar streams of directory trees: the dir backend's send format, and (a
 * tar written straight into an extraction) its copy engine.
 *
 * Writing walks the tree by directory fd (openat, fstatat, O_NOFOLLOW) and
 * asks libarchive only for each file's metadata: xattrs, ACLs, file flags
 * and the sparse map come from sym_archive_read_disk_entry_from_file(), given
 * the open fd and, where it needs a path, a /proc/self/fd one (so /proc
 * must be mounted). libarchive's own tree walk is not used: it fchdir()s
 * the whole process while it reads, which a library must not do, and
 * walking by fd means that a tree changing under us (a running zone)
 * cannot turn the walk through a symlink out of it. Entries are "." and
 * "./<path>", sorted, with numeric owners only (the host's user names mean
 * nothing inside a zone) and mtime as the only time, so the same tree
 * gives the same bytes. Skipped paths (nested datasets) and directories
 * with another file system mounted on them are written as empty
 * directories; sockets are left out, as tar cannot hold them. A write that
 * fails is abandoned without the end-of-archive blocks, so a reader cannot
 * take it for a whole archive.
 *
 * Extraction trusts nothing in the stream. Each name and hard-link target
 * must be relative and free of "..", and is then made absolute below the
 * target directory (realpath()ed first), so the process's cwd plays no
 * part; libarchive's SECURE_SYMLINKS refuses to write through a symlink,
 * and a hard-link target must resolve below the target without any
 * symlink (openat2). Metadata that cannot be restored (an owner, an
 * xattr) fails the extraction, not a warning: a copy that quietly lost
 * file capabilities would be worse than no copy. A stream that stops
 * between two entries, without the end-of-archive blocks, is truncated,
 * not short. Compressed streams are read with libarchive's built-in
 * decompressors only, never an external program.
 */

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/path.h"
#include "basic/strv.h"
#include "storage/storage-archive.h"
#include "storage/storage-internal.h"

#define DATA_CHUNK (128u * 1024)
#define READ_BLOCK (64u * 1024)
#define DEPTH_MAX  256 /* directory levels below the tree's root */

static void
writer_freep(struct archive **a)
{
	if (*a)
		(void)sym_archive_write_free(*a);
}

static void
reader_freep(struct archive **a)
{
	if (*a)
		(void)sym_archive_read_free(*a);
}

static void
entry_freep(struct archive_entry **e)
{
	if (*e)
		sym_archive_entry_free(*e);
}

static void
namelist_free(struct dirent **l, int n)
{
	for (int i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

/* libarchive's error as -errno; a malformed archive is -EBADMSG. */
static int
archive_code(struct archive *a)
{
	int e = sym_archive_errno(a);

	if (e == EILSEQ) /* libarchive's ARCHIVE_ERRNO_FILE_FORMAT on Linux */
		return -EBADMSG;
	return e > 0 ? -e : -EIO;
}

static const char *
archive_message(struct archive *a)
{
	return sym_archive_error_string(a) ?: "unknown error";
}

/* Set "<prefix>'<name>': <what>", with %m in fmt meaning code. */
static int
vfail(struct hv_error **reterr, int code, const char *prefix, const char *name, const char *fmt,
      va_list ap)
{
	_cleanup_free_ char *what = NULL, *shown = strdup(name);

	errno = code < 0 ? -code : code;
	if (vasprintf(&what, fmt, ap) < 0 || !shown)
		return hv_error_set(reterr, code, "%s", "out of memory");
	return hv_error_set(reterr, code, "%s'%s': %s", prefix, shown, what);
}

/* ---- writing ---- */

/*
 * The writer's output. Once abandoned (the walk failed), nothing more
 * reaches fd: freeing the writer then cannot append the end-of-archive
 * blocks that would make a truncated stream look whole.
 */
struct sink {
	int fd;
	bool abandoned;
};

struct walk {
	const char *root; /* the tree, as the caller named it (for messages) */
	char **skip;      /* relative, simplified */
	struct sink sink;
	struct archive *out; /* the pax writer, into sink */
	struct archive *rd;  /* archive_read_disk, for metadata only (never opened) */
	struct archive_entry_linkresolver *links;
	dev_t dev;         /* the root's file system ... */
	uint64_t mnt_id;   /* ... and mount (0: unknown) */
	char *buf, *zeros; /* DATA_CHUNK each */
	struct hv_error **reterr;
};

static void
walk_done(struct walk *w)
{
	w->sink.abandoned = true; /* after a successful close, there is nothing left to write */
	if (w->out)
		(void)sym_archive_write_free(w->out);
	if (w->rd)
		(void)sym_archive_read_free(w->rd);
	if (w->links)
		sym_archive_entry_linkresolver_free(w->links);
	free(w->buf);
	free(w->zeros);
	strv_free(w->skip);
}

static la_ssize_t
sink_write(struct archive *a, void *userdata, const void *buf, size_t size)
{
	struct sink *s = userdata;
	int r;

	if (s->abandoned) {
		sym_archive_set_error(a, ECANCELED, "the stream was abandoned");
		return -1;
	}
	r = loop_write(s->fd, buf, size);
	if (r < 0) {
		sym_archive_set_error(a, -r, "%s", strerror(-r));
		return -1;
	}
	return (la_ssize_t)size;
}

/* "'<root>/<rel>': <what>" */
static int walk_fail(struct walk *w, int code, const char *rel, const char *fmt, ...)
        _printf_(4, 5);

static int
walk_fail(struct walk *w, int code, const char *rel, const char *fmt, ...)
{
	_cleanup_free_ char *shown = NULL;
	va_list ap;
	int r;

	if (asprintf(&shown, "%s%s%s", w->root, *rel ? "/" : "", rel) < 0)
		return -ENOMEM;
	va_start(ap, fmt);
	r = vfail(w->reterr, code, "", shown, fmt, ap);
	va_end(ap);
	return r;
}

static int
walk_fail_archive(struct walk *w, struct archive *a, const char *rel)
{
	return walk_fail(w, archive_code(a), rel, "%s", archive_message(a));
}

static uint64_t
mount_id(int fd)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0 || !(stx.stx_mask & STATX_MNT_ID))
		return 0;
	return stx.stx_mnt_id;
}

/* Is this open directory on the root's mount? (A bind mount of the same file system is not.) */
static bool
same_mount(const struct walk *w, int fd, const struct stat *st)
{
	uint64_t id;

	if (st->st_dev != w->dev)
		return false;
	id = w->mnt_id ? mount_id(fd) : 0;
	return id == w->mnt_id;
}

/* The file's bytes, holes as zeros (the pax writer drops what its sparse map calls a hole). */
static int
write_data(struct walk *w, int fd, const char *rel, uint64_t size)
{
	uint64_t pos = 0;

	while (pos < size) {
		off_t data = lseek(fd, (off_t)pos, SEEK_DATA), hole;

		if (data < 0 && errno == ENXIO)
			data = (off_t)size; /* only a hole is left */
		else if (data < 0 && errno == EINVAL)
			data = (off_t)pos; /* no SEEK_DATA here: read it all */
		else if (data < 0)
			return walk_fail(w, -errno, rel, "cannot read: %m");
		data = MIN((uint64_t)data, size);
		hole = data < (off_t)size ? lseek(fd, data, SEEK_HOLE) : (off_t)size;
		if (hole < 0 || (uint64_t)hole > size)
			hole = (off_t)size;

		for (; pos < (uint64_t)data; pos += MIN(DATA_CHUNK, data - pos))
			if (sym_archive_write_data(w->out, w->zeros, MIN(DATA_CHUNK, data - pos)) <
			    0)
				return walk_fail_archive(w, w->out, rel);
		while (pos < (uint64_t)hole) {
			ssize_t n = pread(fd, w->buf, MIN(DATA_CHUNK, hole - pos), (off_t)pos);

			if (n < 0)
				return walk_fail(w, -errno, rel, "cannot read: %m");
			if (n == 0)
				return 0; /* shrank while we read: the writer pads the entry */
			if (sym_archive_write_data(w->out, w->buf, (size_t)n) < 0)
				return walk_fail_archive(w, w->out, rel);
			pos += (uint64_t)n;
		}
	}
	return 0;
}

struct xattr {
	char *name;
	void *value;
	size_t size;
};

static int
xattr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct xattr *)a)->name, ((const struct xattr *)b)->name);
}

static void
xattrs_free(struct xattr *x, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(x[i].name);
		free(x[i].value);
	}
	free(x);
}

/* The file system lists xattrs in no particular order; the stream has them sorted. */
static int
sort_xattrs(struct archive_entry *e)
{
	int n = sym_archive_entry_xattr_reset(e);
	struct xattr *x;
	const char *name;
	const void *value;
	size_t size, i = 0;

	if (n < 2)
		return 0;
	x = calloc((size_t)n, sizeof(*x));
	if (!x)
		return -ENOMEM;
	for (; i < (size_t)n && sym_archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK;
	     i++) {
		x[i].name = strdup(name);
		x[i].value = malloc(size ?: 1);
		x[i].size = size;
		if (!x[i].name || !x[i].value) {
			xattrs_free(x, i + 1);
			return -ENOMEM;
		}
		memcpy(x[i].value, value, size);
	}
	qsort(x, i, sizeof(*x), xattr_cmp);
	sym_archive_entry_xattr_clear(e);
	for (size_t j = 0; j < i; j++)
		sym_archive_entry_xattr_add_entry(e, x[j].name, x[j].value, x[j].size);
	xattrs_free(x, i);
	return 0;
}

/*
 * One entry: rel is its path below the root ("" for the root), fd an open
 * fd for directories and regular files (else -EBADF), dfd/name where it is.
 */
static int
write_entry(struct walk *w, int dfd, const char *name, const char *rel, int fd,
            const struct stat *st)
{
	_cleanup_(entry_freep) struct archive_entry *e = sym_archive_entry_new();
	_cleanup_(entry_freep) struct archive_entry *spare = NULL;
	_cleanup_free_ char *arcname = NULL, *source = NULL;
	int r;

	if (!e)
		return -ENOMEM;
	if (asprintf(&arcname, "%s%s", *rel ? "./" : ".", rel) < 0 ||
	    (fd >= 0 ? asprintf(&source, "/proc/self/fd/%d", fd)
	             : asprintf(&source, "/proc/self/fd/%d/%s", dfd, name)) < 0)
		return -ENOMEM;
	sym_archive_entry_copy_pathname(e, arcname);
	sym_archive_entry_copy_sourcepath(e, source);
	r = sym_archive_read_disk_entry_from_file(w->rd, e, fd, st);
	if (r != ARCHIVE_OK)
		return walk_fail_archive(w, w->rd, rel);
	sym_archive_entry_copy_sourcepath(e, NULL);
	/* Only mtime is kept (see walk_setup). */
	sym_archive_entry_unset_atime(e);
	sym_archive_entry_unset_ctime(e);
	sym_archive_entry_unset_birthtime(e);
	if (sort_xattrs(e) < 0)
		return -ENOMEM;

	if (!S_ISDIR(st->st_mode)) {
		struct archive_entry *orig = e;

		sym_archive_entry_linkify(w->links, &e, &spare);
		if (e != orig) /* the tar strategy hands back what it was given */
			return walk_fail(w, -EIO, rel, "unexpected hard link resolution");
		if (sym_archive_entry_hardlink(e))
			sym_archive_entry_set_size(e, 0);
	}
	/*
	 * ARCHIVE_WARN: a name not valid in the locale's charset (UTF-8 for
	 * pax) is stored as it is, marked hdrcharset=BINARY; that is right.
	 */
	r = sym_archive_write_header(w->out, e);
	if (r < ARCHIVE_WARN)
		return walk_fail_archive(w, w->out, rel);
	if (S_ISREG(st->st_mode) && sym_archive_entry_size(e) > 0) {
		r = write_data(w, fd, rel, (uint64_t)sym_archive_entry_size(e));
		if (r < 0)
			return r;
	}
	if (sym_archive_write_finish_entry(w->out) != ARCHIVE_OK)
		return walk_fail_archive(w, w->out, rel);
	return 0;
}

static int walk_dir(struct walk *w, int dfd, const char *rel, unsigned depth);

/* Open what needs an fd (directories, regular files) and check it is what fstatat saw. */
static int
open_checked(int dfd, const char *name, const struct stat *st, int *ret)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat st2;
	int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK;

	*ret = -EBADF;
	if (!S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode))
		return 0;
	fd = openat(dfd, name, flags | (S_ISDIR(st->st_mode) ? O_DIRECTORY : 0));
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st2) < 0)
		return -errno;
	if (st2.st_dev != st->st_dev || st2.st_ino != st->st_ino)
		return -ESTALE; /* replaced between the two looks */
	*ret = TAKE_FD(fd);
	return 0;
}

static int
walk_child(struct walk *w, int dfd, const char *name, const char *prel, unsigned depth)
{
	_cleanup_free_ char *rel = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct stat st;
	int r;

	if (asprintf(&rel, "%s%s%s", prel, *prel ? "/" : "", name) < 0)
		return -ENOMEM;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0; /* removed while we walk */
		return walk_fail(w, -errno, rel, "cannot stat: %m");
	}
	if (S_ISSOCK(st.st_mode))
		return 0;
	if (st.st_dev != w->dev && !S_ISDIR(st.st_mode))
		return 0; /* a file mounted over another one: not ours */
	r = open_checked(dfd, name, &st, &fd);
	if (r == -ENOENT)
		return 0;
	if (r == -ESTALE)
		return walk_fail(w, r, rel, "changed while being read");
	if (r < 0)
		return walk_fail(w, r, rel, "cannot open: %m");

	r = write_entry(w, dfd, name, rel, fd, &st);
	if (r < 0 || !S_ISDIR(st.st_mode))
		return r;
	if (strv_contains(w->skip, rel) || !same_mount(w, fd, &st))
		return 0; /* an empty directory in its place */
	if (depth >= DEPTH_MAX)
		return walk_fail(w, -ELOOP, rel, "directories nested more than %d levels deep",
		                 DEPTH_MAX);
	return walk_dir(w, fd, rel, depth + 1);
}

static int
not_dots(const struct dirent *d)
{
	return !streq(d->d_name, ".") && !streq(d->d_name, "..");
}

static int
walk_dir(struct walk *w, int dfd, const char *rel, unsigned depth)
{
	struct dirent **names = NULL;
	int n, r = 0;

	n = scandirat(dfd, ".", &names, not_dots, alphasort);
	if (n < 0)
		return walk_fail(w, -errno, rel, "cannot read directory: %m");
	for (int i = 0; i < n && r >= 0; i++)
		r = walk_child(w, dfd, names[i]->d_name, rel, depth);
	namelist_free(names, n);
	return r;
}

/* skip: relative paths below the tree, no "..": simplified copies. */
static int
skip_normalize(char *const *skip, char ***ret, struct hv_error **reterr)
{
	_cleanup_strv_free_ char **l = calloc(1, sizeof(char *));

	if (!l)
		return -ENOMEM;
	STRV_FOREACH (s, skip) {
		char *c;

		if (isempty(*s) || **s == '/' || !path_is_safe(*s))
			return hv_error_set(
			        reterr, -EINVAL,
			        "skip path '%s': expected a relative path below the tree", *s);
		c = strdup(*s);
		if (!c || strv_consume(&l, path_simplify(c)) < 0)
			return -ENOMEM;
		if (streq(c, "."))
			return hv_error_set(reterr, -EINVAL,
			                    "skip path '%s': expected a path below the tree", *s);
	}
	*ret = TAKE_PTR(l);
	return 0;
}

static int
walk_setup(struct walk *w, int fd)
{
	w->out = sym_archive_write_new();
	w->rd = sym_archive_read_disk_new();
	w->links = sym_archive_entry_linkresolver_new();
	w->buf = malloc(DATA_CHUNK);
	w->zeros = calloc(1, DATA_CHUNK);
	if (!w->out || !w->rd || !w->links || !w->buf || !w->zeros)
		return -ENOMEM;
	sym_archive_entry_linkresolver_set_strategy(w->links, ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE);
	/*
	 * Full pax, not "restricted": restricted pax drops the fraction of a
	 * second from mtime unless something else needs an extended header.
	 * With atime and ctime left out of every entry, full pax gives an
	 * entry an extended header exactly where restricted pax would, or
	 * where its mtime has a fraction.
	 */
	if (sym_archive_read_disk_set_symlink_physical(w->rd) != ARCHIVE_OK ||
	    sym_archive_write_set_format_pax(w->out) != ARCHIVE_OK)
		return hv_error_set(w->reterr, archive_code(w->out),
		                    "cannot set up the tar writer: %s", archive_message(w->out));
	w->sink.fd = fd;
	/* No padding of the last block: a pipe needs none. */
	if (sym_archive_write_set_bytes_in_last_block(w->out, 1) != ARCHIVE_OK ||
	    sym_archive_write_open2(w->out, &w->sink, NULL, sink_write, NULL, NULL) != ARCHIVE_OK)
		return hv_error_set(w->reterr, archive_code(w->out),
		                    "cannot write the tar stream: %s", archive_message(w->out));
	return 0;
}

int
hv_tar_write(const char *dir, char *const *skip, int fd, struct hv_error **reterr)
{
	_cleanup_(walk_done) struct walk w = {.root = dir, .reterr = reterr};
	_cleanup_close_ int root = -EBADF;
	struct stat st;
	int r;

	r = hv_archive_load(reterr);
	if (r < 0)
		return r;
	r = skip_normalize(skip, &w.skip, reterr);
	if (r < 0)
		return r;
	root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0 || fstat(root, &st) < 0)
		return hv_error_set(reterr, -errno, "cannot open '%s': %m", dir);
	w.dev = st.st_dev;
	w.mnt_id = mount_id(root);

	r = walk_setup(&w, fd);
	if (r < 0)
		return r;
	r = write_entry(&w, root, ".", "", root, &st);
	if (r < 0)
		return r;
	r = walk_dir(&w, root, "", 0);
	if (r < 0)
		return r;
	if (sym_archive_write_close(w.out) != ARCHIVE_OK)
		return hv_error_set(reterr, archive_code(w.out), "cannot write the tar stream: %s",
		                    archive_message(w.out));
	return 0;
}

/* ---- extraction ---- */

/*
 * No ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS: name_below() refuses absolute
 * names in the archive itself, and libarchive would refuse the absolute
 * paths below the target that we hand it.
 */
#define EXTRACT_FLAGS                                                           \
	(ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_TIME |  \
	 ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_FFLAGS | \
	 ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS)

/* "archive entry '<name>': <what>" */
static int entry_fail(struct hv_error **reterr, int code, const char *name, const char *fmt, ...)
        _printf_(4, 5);

static int
entry_fail(struct hv_error **reterr, int code, const char *name, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(reterr, code, "archive entry ", name ?: "", fmt, ap);
	va_end(ap);
	return r;
}

/* An archive name, checked, as an absolute path below root. */
static int
name_below(const char *root, const char *entry, const char *name, const char *what, char **ret,
           struct hv_error **reterr)
{
	_cleanup_free_ char *full = NULL;

	if (isempty(name))
		return entry_fail(reterr, -EINVAL, entry, "%s is empty", what);
	if (name[0] == '/')
		return entry_fail(reterr, -EINVAL, entry,
		                  "%s is absolute, expected a path relative to the target", what);
	if (!path_is_safe(name))
		return entry_fail(reterr, -EINVAL, entry,
		                  "%s leaves the target, expected a path without '..'", what);
	if (path_join(root, name, &full) < 0)
		return -ENOMEM;
	if (strlen(full) >= PATH_MAX)
		return entry_fail(reterr, -ENAMETOOLONG, entry,
		                  "%s is longer than %d bytes below '%s'", what, PATH_MAX - 1,
		                  root);
	*ret = TAKE_PTR(full);
	return 0;
}

/* A hard link's target must already be below root, reached without any symlink. */
static int
check_link_target(int rootfd, const char *root, const char *full, const char *entry,
                  struct hv_error **reterr)
{
	struct open_how how = {
	        .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
	        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	const char *rel = full + strlen(root);
	int fd;

	while (*rel == '/')
		rel++;
	fd = (int)syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof(how));
	if (fd < 0)
		return entry_fail(reterr, -errno, entry,
		                  "hard link target '%s' is not a file below the target: %m", rel);
	(void)close(fd);
	return 0;
}

/* Rewrite the entry's name (and hard-link target) to absolute paths below root. */
static int
place_entry(int rootfd, const char *root, struct archive_entry *e, struct hv_error **reterr)
{
	_cleanup_free_ char *full = NULL, *target = NULL;
	const char *name = sym_archive_entry_pathname(e), *link = sym_archive_entry_hardlink(e);
	const char *sym = sym_archive_entry_symlink(e);
	int r;

	r = name_below(root, name, name, "the name", &full, reterr);
	if (r < 0)
		return r;
	if (streq(full, root) && (sym_archive_entry_filetype(e) != AE_IFDIR || link))
		return entry_fail(reterr, -EINVAL, name,
		                  "names the target itself, which must stay a directory");
	if (sym && strlen(sym) >= PATH_MAX)
		return entry_fail(reterr, -ENAMETOOLONG, name,
		                  "symlink target is longer than %d bytes", PATH_MAX - 1);
	if (link) {
		r = name_below(root, name, link, "the hard link target", &target, reterr);
		if (r < 0)
			return r;
		r = check_link_target(rootfd, root, target, name, reterr);
		if (r < 0)
			return r;
		sym_archive_entry_copy_hardlink(e, target);
	}
	sym_archive_entry_copy_pathname(e, full);
	return 0;
}

static int
copy_data(struct archive *in, struct archive *out, const char *name, struct hv_error **reterr)
{
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t offset;
		int r = sym_archive_read_data_block(in, &buf, &size, &offset);

		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK)
			return entry_fail(reterr, archive_code(in), name, "%s",
			                  archive_message(in));
		if (sym_archive_write_data_block(out, buf, size, offset) != ARCHIVE_OK)
			return entry_fail(reterr, archive_code(out), name, "%s",
			                  archive_message(out));
	}
}

static int
extract_setup(struct archive *in, struct archive *out, int fd, struct hv_error **reterr)
{
	/* Built-in decompressors only: none of those that run an external program. */
	if (sym_archive_read_support_filter_gzip(in) != ARCHIVE_OK ||
	    sym_archive_read_support_filter_bzip2(in) != ARCHIVE_OK ||
	    sym_archive_read_support_filter_xz(in) != ARCHIVE_OK ||
	    sym_archive_read_support_filter_lzma(in) != ARCHIVE_OK ||
	    sym_archive_read_support_filter_zstd(in) != ARCHIVE_OK ||
	    sym_archive_read_support_filter_lz4(in) != ARCHIVE_OK ||
	    sym_archive_read_support_format_tar(in) != ARCHIVE_OK ||
	    sym_archive_write_disk_set_options(out, EXTRACT_FLAGS) != ARCHIVE_OK)
		return hv_error_set(reterr, -EIO, "cannot set up the tar reader: %s",
		                    archive_message(in));
	/* Opening reads the start of the stream, to tell its format. */
	if (sym_archive_read_open_fd(in, fd, READ_BLOCK) != ARCHIVE_OK)
		return hv_error_set(reterr, archive_code(in), "not a tar stream: %s",
		                    archive_message(in));
	return 0;
}

struct extract {
	struct archive *in, *out;
	int rootfd;
	const char *root; /* realpath()ed */
	bool root_times;  /* the archive has an entry for root itself, with these times: */
	struct timespec times[2];
};

/* libarchive sets the times of a directory that exists already (root) before filling it. */
static void
remember_root_times(struct extract *x, struct archive_entry *e)
{
	x->root_times = true;
	x->times[0] =
	        (struct timespec){sym_archive_entry_atime(e), sym_archive_entry_atime_nsec(e)};
	x->times[1] =
	        (struct timespec){sym_archive_entry_mtime(e), sym_archive_entry_mtime_nsec(e)};
	if (!sym_archive_entry_atime_is_set(e))
		x->times[0].tv_nsec = UTIME_OMIT;
	if (!sym_archive_entry_mtime_is_set(e))
		x->times[1].tv_nsec = UTIME_OMIT;
}

static int
extract_entry(struct extract *x, struct archive_entry *e, struct hv_error **reterr)
{
	_cleanup_free_ char *name = strdup(sym_archive_entry_pathname(e) ?: "");
	struct archive *in = x->in, *out = x->out;
	int r;

	if (!name)
		return -ENOMEM;
	r = place_entry(x->rootfd, x->root, e, reterr);
	if (r < 0)
		return r;
	if (streq(sym_archive_entry_pathname(e), x->root))
		remember_root_times(x, e);
	if (sym_archive_write_header(out, e) != ARCHIVE_OK)
		return entry_fail(reterr, archive_code(out), name, "%s", archive_message(out));
	/* Read every entry to its end, so the position is known at the end of the stream. */
	if (sym_archive_entry_filetype(e) == AE_IFREG)
		r = copy_data(in, out, name, reterr);
	else if (sym_archive_read_data_skip(in) != ARCHIVE_OK)
		r = entry_fail(reterr, archive_code(in), name, "%s", archive_message(in));
	if (r < 0)
		return r;
	if (sym_archive_write_finish_entry(out) != ARCHIVE_OK)
		return entry_fail(reterr, archive_code(out), name, "%s", archive_message(out));
	return 0;
}

static int
tar_extract(int fd, const char *dir, struct hv_error **reterr)
{
	_cleanup_(reader_freep) struct archive *in = sym_archive_read_new();
	_cleanup_(writer_freep) struct archive *out = sym_archive_write_disk_new();
	_cleanup_free_ char *root = NULL, *last = NULL;
	_cleanup_close_ int rootfd = -EBADF;
	struct extract x;
	struct archive_entry *e;
	int r;

	if (!in || !out)
		return -ENOMEM;
	/* SECURE_SYMLINKS checks every component, so the target's own path must have none. */
	root = realpath(dir, NULL);
	if (!root)
		return hv_error_set(reterr, -errno, "cannot extract into '%s': %m", dir);
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return hv_error_set(reterr, -errno, "cannot extract into '%s': %m", dir);
	r = extract_setup(in, out, fd, reterr);
	if (r < 0)
		return r;
	x = (struct extract){.in = in, .out = out, .rootfd = rootfd, .root = root};

	for (;;) {
		la_int64_t pos = sym_archive_filter_bytes(in, 0);

		r = sym_archive_read_next_header(in, &e);
		/*
		 * libarchive takes a stream that stops between two entries for a
		 * whole archive; the end-of-archive blocks tell the two apart.
		 */
		if (r == ARCHIVE_EOF && last && sym_archive_filter_bytes(in, 0) == pos)
			return entry_fail(reterr, -EBADMSG, last,
			                  "the stream ends after it without the end-of-archive "
			                  "blocks (truncated)");
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			if (last)
				return entry_fail(reterr, archive_code(in), last,
				                  "the stream breaks off after it: %s",
				                  archive_message(in));
			return hv_error_set(reterr, archive_code(in), "not a tar stream: %s",
			                    archive_message(in));
		}
		free(last);
		last = strdup(sym_archive_entry_pathname(e) ?: "");
		if (!last)
			return -ENOMEM;
		r = extract_entry(&x, e, reterr);
		if (r < 0)
			return r;
	}
	/* Directory modes and times are set last, here; the target's own after that. */
	if (sym_archive_write_close(out) != ARCHIVE_OK)
		return hv_error_set(reterr, archive_code(out),
		                    "cannot finish extracting into '%s': %s", dir,
		                    archive_message(out));
	if (x.root_times && futimens(rootfd, x.times) < 0)
		return hv_error_set(reterr, -errno, "cannot set the times of '%s': %m", dir);
	return 0;
}

int
hv_tar_extract(int fd, const char *dir, struct hv_error **reterr)
{
	int r = hv_archive_load(reterr);

	return r < 0 ? r : tar_extract(fd, dir, reterr);
}
