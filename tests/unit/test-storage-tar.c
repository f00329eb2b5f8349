/* SPDX-License-Identifier: MIT */
/*
 * hv_tar_write() and hv_tar_extract(): a tree survives a round trip with
 * everything a dataset holds, and hostile archives fail, name the entry
 * and leave nothing outside the target.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/fs.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/path.h"
#include "storage/storage-internal.h"
#include "tests.h"

/* A libc call that must succeed (errno shown if not). */
#define SYS(expr)                                                               \
	do {                                                                    \
		if ((expr) < 0)                                                 \
			tests_fail(__FILE__, __LINE__, "%s failed: %m", #expr); \
	} while (0)

static char *
tmp(const char *name)
{
	char *p = NULL;

	if (path_join(tests_tmpdir(), name, &p) < 0)
		tests_fail(__FILE__, __LINE__, "out of memory");
	return p;
}

static char *
join(const char *a, const char *b)
{
	char *p = NULL;

	if (path_join(a, b, &p) < 0)
		tests_fail(__FILE__, __LINE__, "out of memory");
	return p;
}

/* dir/name in one of a few static buffers, for paths used once. */
static const char *
at(const char *dir, const char *name)
{
	static char ring[8][PATH_MAX];
	static unsigned i;
	char *p = ring[i++ % ELEMENTSOF(ring)];

	snprintf(p, PATH_MAX, "%s/%s", dir, name);
	return p;
}

static void
put(const char *dir, const char *name, const char *content, mode_t mode)
{
	_cleanup_free_ char *p = join(dir, name);
	_cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	ASSERT_TRUE(fd >= 0);
	ASSERT_OK(loop_write(fd, content, strlen(content)));
	SYS(fchmod(fd, mode)); /* past the umask */
}

static void
set_mtime(const char *dir, const char *name, time_t sec, long nsec)
{
	_cleanup_free_ char *p = join(dir, name);
	struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};

	SYS(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW));
}

static int
tar_to(const char *dir, char *const *skip, const char *file, struct hv_error **e)
{
	_cleanup_close_ int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	return hv_tar_write(dir, skip, fd, e);
}

static int
untar(const char *file, const char *dir, struct hv_error **e)
{
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return hv_tar_extract(fd, dir, e);
}

/* A POSIX access ACL granting uid 12345 read, as the kernel's xattr blob. */
static int
set_acl(const char *path, const char *name)
{
	static const struct {
		uint16_t tag, perm;
		uint32_t id;
	} acl[] = {{0x01, 6, UINT32_MAX},
	           {0x02, 4, 12345},
	           {0x04, 4, UINT32_MAX},
	           {0x10, 4, UINT32_MAX},
	           {0x20, 0, UINT32_MAX}};
	char blob[4 + sizeof(acl)];
	uint32_t version = 2;

	memcpy(blob, &version, 4);
	memcpy(blob + 4, acl, sizeof(acl));
	return RET_NERRNO(setxattr(path, name, blob, sizeof(blob), 0));
}

/* The inode flags a file's owner may set and a copy must keep (chattr +d +A). */
#define KEPT_FLAGS (FS_NODUMP_FL | FS_NOATIME_FL)

static int
get_flags(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	int flags;

	if (fd < 0 || ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
		return -errno;
	return flags & KEPT_FLAGS;
}

static int
set_flags(const char *path, int add)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	int flags;

	if (fd < 0 || ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
		return -errno;
	flags |= add;
	return ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0 ? -errno : 0;
}

/*
 * The tree every round trip uses. Returns whether ACLs could be set (the
 * file system may not have them).
 */
static bool
make_tree(const char *root)
{
	_cleanup_free_ char *dir = join(root, "dir"), *sub = join(root, "dir/sub"),
	                    *xa = join(root, "xattrs"), *sparse = join(root, "sparse"),
	                    *hard1 = join(root, "hard1"), *hard2 = join(root, "dir/hard2"),
	                    *acl = join(root, "acl"), *fifo = join(root, "fifo");
	_cleanup_close_ int fd = -EBADF;
	bool acls;

	ASSERT_OK(mkdir_p(sub, 0755));
	put(root, "file", "hello\n", 0640);
	put(root, "empty", "", 0600);
	put(root, "setuid", "#!/bin/sh\n", 04755);
	put(root, "with space", "a b\n", 0644);
	put(root, "new\nline", "nl\n", 0644);
	put(root, "latin-\xe9\xff", "bytes\n", 0644);
	put(sub, "deep", "deep\n", 0444);
	put(root, "hard1", "linked\n", 0644);
	SYS(link(hard1, hard2));
	put(root, "xattrs", "x\n", 0644);
	SYS(setxattr(xa, "user.test", "value", 5, 0));
	SYS(setxattr(xa, "user.bin", "\0\1\2", 3, 0));
	if (set_flags(xa, KEPT_FLAGS) < 0)
		printf("# no inode flags on this file system: not checked\n");
	put(root, "acl", "acl\n", 0640);
	acls = set_acl(acl, "system.posix_acl_access") >= 0;
	SYS(symlink("file", at(root, "link")));
	SYS(symlink("/nonexistent/target", at(root, "dangling")));
	SYS(mkfifo(fifo, 0620));
	SYS(mkdir(at(root, "emptydir"), 0750));
	if (acls)
		ASSERT_OK(set_acl(dir, "system.posix_acl_default"));

	/* 8 MiB with 4 KiB of data in the middle. */
	fd = open(sparse, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	ASSERT_TRUE(fd >= 0);
	SYS(ftruncate(fd, 8 << 20));
	ASSERT_EQ(pwrite(fd, "data", 4, 4 << 20), 4);

	if (geteuid() == 0) {
		put(root, "owned", "theirs\n", 0600);
		SYS(lchown(at(root, "owned"), 1234, 5678));
		SYS(lchown(at(root, "dangling"), 4321, 8765));
		SYS(mknod(at(root, "null"), S_IFCHR | 0666, makedev(1, 3)));
	}
	set_mtime(root, "file", 1234567890, 123456789);
	set_mtime(root, "link", 1000000000, 0);
	set_mtime(sub, ".", 1500000000, 5);
	set_mtime(root, "dir", 1400000000, 0);
	set_mtime(root, "emptydir", 1300000000, 0);
	set_mtime(root, ".", 1200000000, 0);
	return acls;
}

/* ---- comparing trees ---- */

static const char *cmp_a, *cmp_b;
static char cmp_diff[8192];
static size_t cmp_count;

static bool
differ(const char *rel, const char *what)
{
	snprintf(cmp_diff, sizeof(cmp_diff), "'%s': %s", rel, what);
	return true;
}

static bool
xattrs_differ(const char *a, const char *b, const char *rel)
{
	char la[4096], lb[4096];
	ssize_t na = llistxattr(a, la, sizeof(la)), nb = llistxattr(b, lb, sizeof(lb));

	/* Same total length, and every name of a has the same value in b: the same set. */
	if (na < 0 || nb != na)
		return differ(rel, "xattr names differ");
	for (char *n = la; n < la + na; n += strlen(n) + 1) {
		char va[4096], vb[4096];
		ssize_t sa = lgetxattr(a, n, va, sizeof(va)), sb = lgetxattr(b, n, vb, sizeof(vb));

		if (sa < 0 || sa != sb || memcmp(va, vb, (size_t)sa) != 0)
			return differ(rel, n); /* this xattr differs */
	}
	return false;
}

static bool
content_differs(const char *a, const char *b, const struct stat *st)
{
	_cleanup_free_ char *ca = NULL, *cb = NULL;
	size_t na, nb;

	if (read_full_file(a, 16 << 20, &ca, &na) < 0 || read_full_file(b, 16 << 20, &cb, &nb) < 0)
		return true;
	return na != nb || memcmp(ca, cb, na) != 0;
}

static int
cmp_one(const char *path, const struct stat *sa, int type, struct FTW *ftw)
{
	_cleanup_free_ char *other = NULL;
	const char *rel = path + strlen(cmp_a);
	struct stat sb;

	cmp_count++;
	if (asprintf(&other, "%s%s", cmp_b, rel) < 0 || lstat(other, &sb) < 0)
		return differ(rel, "missing");
	if (sa->st_mode != sb.st_mode)
		return differ(rel, "mode differs");
	if (sa->st_uid != sb.st_uid || sa->st_gid != sb.st_gid)
		return differ(rel, "owner differs");
	if (sa->st_mtim.tv_sec != sb.st_mtim.tv_sec || sa->st_mtim.tv_nsec != sb.st_mtim.tv_nsec)
		return differ(rel, "mtime differs");
	if (!S_ISDIR(sa->st_mode) && sa->st_nlink != sb.st_nlink)
		return differ(rel, "link count differs");
	if (S_ISCHR(sa->st_mode) && sa->st_rdev != sb.st_rdev)
		return differ(rel, "device differs");
	if (S_ISREG(sa->st_mode) && (sa->st_size != sb.st_size || content_differs(path, other, sa)))
		return differ(rel, "content differs");
	if (S_ISLNK(sa->st_mode)) {
		char ta[PATH_MAX] = "", tb[PATH_MAX] = "";
		if (readlink(path, ta, sizeof(ta) - 1) < 0 ||
		    readlink(other, tb, sizeof(tb) - 1) < 0 || !streq(ta, tb))
			return differ(rel, "symlink target differs");
	}
	if ((S_ISREG(sa->st_mode) || S_ISDIR(sa->st_mode)) && get_flags(path) != get_flags(other))
		return differ(rel, "inode flags differ");
	return xattrs_differ(path, other, rel);
}

static int
count_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	cmp_count++;
	return 0;
}

/* Every entry of a is in b with the same metadata and content, and b has nothing more. */
static void
assert_same_tree(const char *a, const char *b)
{
	size_t n;

	cmp_a = a, cmp_b = b, cmp_count = 0, cmp_diff[0] = 0;
	if (nftw(a, cmp_one, 16, FTW_PHYS) != 0)
		tests_fail(__FILE__, __LINE__, "%s",
		           cmp_diff[0] ? cmp_diff : "cannot walk the tree");
	n = cmp_count;
	cmp_count = 0;
	ASSERT_EQ(nftw(b, count_one, 16, FTW_PHYS), 0);
	ASSERT_EQ(cmp_count, n);
}

static size_t
count_entries(const char *dir)
{
	cmp_count = 0;
	if (nftw(dir, count_one, 16, FTW_PHYS) != 0)
		return SIZE_MAX;
	return cmp_count;
}

/* ---- round trips ---- */

TEST(round_trip_keeps_everything)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *a = tmp("rt-a"), *b = tmp("rt-b"), *t = tmp("rt.tar"),
	                    *sparse = join(b, "sparse");
	struct stat st;
	int r;

	ASSERT_OK(mkdir_p(a, 0755));
	ASSERT_OK(mkdir_p(b, 0700));
	if (!make_tree(a))
		printf("# no POSIX ACLs on this file system: ACLs not checked\n");
	r = tar_to(a, NULL, t, &e);
	if (r < 0)
		tests_fail(__FILE__, __LINE__, "write: %s", hv_error_message(e, r));
	r = untar(t, b, &e);
	if (r < 0)
		tests_fail(__FILE__, __LINE__, "extract: %s", hv_error_message(e, r));
	assert_same_tree(a, b);

	/* The hole stayed a hole. */
	SYS(stat(sparse, &st));
	ASSERT_EQ(st.st_size, 8 << 20);
	ASSERT_TRUE(st.st_blocks * 512 < (1 << 20));
}

TEST(round_trip_of_a_round_trip_is_byte_identical)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *a = tmp("id-a"), *b = tmp("id-b"), *t1 = tmp("id1.tar"),
	                    *t2 = tmp("id2.tar"), *c1 = NULL, *c2 = NULL;
	size_t n1, n2;

	ASSERT_OK(mkdir_p(a, 0755));
	ASSERT_OK(mkdir_p(b, 0700));
	make_tree(a);
	ASSERT_OK(tar_to(a, NULL, t1, &e));
	ASSERT_OK(untar(t1, b, &e));
	ASSERT_OK(tar_to(b, NULL, t2, &e));
	ASSERT_OK(read_full_file(t1, 64 << 20, &c1, &n1));
	ASSERT_OK(read_full_file(t2, 64 << 20, &c2, &n2));
	/* Sorted, numeric owners, nothing from the host: the same tree gives the same bytes. */
	ASSERT_EQ(n1, n2);
	ASSERT_TRUE(memcmp(c1, c2, n1) == 0);
}

TEST(skipped_paths_become_empty_directories)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *a = tmp("skip-a"), *b = tmp("skip-b"), *t = tmp("skip.tar"),
	                    *nested = join(a, "nested"), *deep = join(a, "dir/sub/child");
	char *skip[] = {"nested", "./dir/sub/child/", NULL};
	struct stat st;

	ASSERT_OK(mkdir_p(nested, 0711));
	ASSERT_OK(mkdir_p(deep, 0755));
	put(nested, "inner", "not copied\n", 0644);
	put(deep, "inner", "not copied\n", 0644);
	put(a, "kept", "kept\n", 0644);
	ASSERT_OK(tar_to(a, skip, t, &e));
	ASSERT_OK(mkdir_p(b, 0700));
	ASSERT_OK(untar(t, b, &e));

	SYS(lstat(at(b, "nested"), &st));
	ASSERT_TRUE(S_ISDIR(st.st_mode));
	ASSERT_EQ(st.st_mode & 07777, 0711);
	ASSERT_EQ(count_entries(at(b, "nested")), 1);
	ASSERT_EQ(count_entries(at(b, "dir/sub/child")), 1);
	SYS(access(at(b, "kept"), F_OK));
}

TEST(sockets_are_left_out)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *a = tmp("sock-a"), *b = tmp("sock-b"), *t = tmp("sock.tar");
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	ASSERT_TRUE(fd >= 0);
	ASSERT_OK(mkdir_p(a, 0755));
	ASSERT_OK(mkdir_p(b, 0700));
	put(a, "file", "x\n", 0644);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", a);
	SYS(bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
	ASSERT_OK(tar_to(a, NULL, t, &e));
	ASSERT_OK(untar(t, b, &e));
	ASSERT_EQ(count_entries(b), 2); /* the root and file */
}

TEST(bad_skip_paths_are_refused)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *a = tmp("badskip"), *t = tmp("badskip.tar");
	char *abs[] = {"/etc", NULL}, *up[] = {"a/../..", NULL}, *self[] = {".", NULL};

	ASSERT_OK(mkdir_p(a, 0755));
	ASSERT_ERR(tar_to(a, abs, t, &e), -EINVAL);
	ASSERT_STREQ(e->msg, "skip path '/etc': expected a relative path below the tree");
	ASSERT_ERR(tar_to(a, up, t, &e), -EINVAL);
	ASSERT_ERR(tar_to(a, self, t, &e), -EINVAL);
}

TEST(missing_tree_is_an_error)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *a = tmp("absent"), *t = tmp("absent.tar"), *want = NULL;

	ASSERT_ERR(tar_to(a, NULL, t, &e), -ENOENT);
	ASSERT_TRUE(asprintf(&want, "cannot open '%s': No such file or directory", a) > 0);
	ASSERT_STREQ(e->msg, want);
}

TEST(other_mounts_are_not_crossed)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *t = NULL;
	pid_t pid;
	int status;

	if (geteuid() != 0)
		SKIP("mounting needs root");
	a = tmp("mnt-a"), b = tmp("mnt-b"), t = tmp("mnt.tar");
	ASSERT_OK(mkdir_p(at(a, "tmpfs"), 0755));
	ASSERT_OK(mkdir_p(at(a, "bind"), 0755));
	ASSERT_OK(mkdir_p(at(a, "src"), 0755));
	ASSERT_OK(mkdir_p(b, 0700));
	put(at(a, "src"), "file", "x\n", 0644);

	pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		/* A private mount namespace: nothing leaks out, even if we die. */
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("tmpfs", at(a, "tmpfs"), "tmpfs", 0, NULL) < 0 ||
		    mount(at(a, "src"), at(a, "bind"), NULL, MS_BIND, NULL) < 0)
			_exit(2);
		put(at(a, "tmpfs"), "inside", "x\n", 0644);
		if (tar_to(a, NULL, t, NULL) < 0)
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	ASSERT_OK(untar(t, b, NULL));
	ASSERT_EQ(count_entries(at(b, "tmpfs")), 1); /* the mount point, empty */
	ASSERT_EQ(count_entries(at(b, "bind")), 1);
	SYS(access(at(b, "src/file"), F_OK));
}

/* ---- hostile archives ---- */

struct fake {
	const char *name;
	mode_t type;      /* AE_IFREG, AE_IFDIR, AE_IFLNK */
	const char *link; /* symlink target; for AE_IFREG a hard link target */
	const char *data;
};

static void
make_archive(const char *file, const struct fake *f, size_t n)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();

	ASSERT_TRUE(a && e);
	ASSERT_EQ(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	ASSERT_EQ(archive_write_open_filename(a, file), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		size_t size = f[i].data ? strlen(f[i].data) : 0;

		archive_entry_clear(e);
		archive_entry_copy_pathname(e, f[i].name);
		archive_entry_set_mode(e, f[i].type | (f[i].type == AE_IFDIR ? 0755 : 0644));
		archive_entry_set_uid(e, geteuid()); /* extractable without root */
		archive_entry_set_gid(e, getegid());
		if (f[i].type == AE_IFLNK)
			archive_entry_copy_symlink(e, f[i].link);
		else if (f[i].link)
			archive_entry_copy_hardlink(e, f[i].link);
		archive_entry_set_size(e, (la_int64_t)size);
		ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK);
		if (size)
			ASSERT_EQ(archive_write_data(a, f[i].data, size), (la_ssize_t)size);
	}
	ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(e);
}

/*
 * Extract the fake archive into <box>/target, where <box> also holds
 * "secret" ("secret\n"), expecting code (0: any error). Returns the error message; the box must
 * hold nothing new and secret must be untouched.
 */
static char *
extract_hostile(const char *box_name, const struct fake *f, size_t n, int code)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *box = tmp(box_name), *target = join(box, "target"),
	                    *file = join(box, "archive.tar"), *secret = join(box, "secret"),
	                    *content = NULL;
	int r;

	ASSERT_OK(mkdir_p(target, 0755));
	put(box, "secret", "secret\n", 0644);
	make_archive(file, f, n);
	r = untar(file, target, &e);
	if (code ? r != code : r >= 0)
		tests_fail(__FILE__, __LINE__, "extraction returned %d (%s), expected %d", r,
		           hv_error_message(e, r), code);
	ASSERT_TRUE(e && !strchr(e->msg, '\n'));
	/* box: target, archive.tar, secret; nothing else appeared beside them. */
	ASSERT_EQ(count_entries(box) - count_entries(target), 3);
	ASSERT_OK(read_full_file(secret, 1024, &content, NULL));
	ASSERT_STREQ(content, "secret\n");
	return strdup(e->msg);
}

TEST(dotdot_is_refused)
{
	const struct fake f[] = {{"ok", AE_IFREG, NULL, "fine\n"},
	                         {"a/../../escaped", AE_IFREG, NULL, "x\n"}};
	_cleanup_free_ char *m = extract_hostile("h-dotdot", f, ELEMENTSOF(f), -EINVAL);

	ASSERT_STREQ(m, "archive entry 'a/../../escaped': the name leaves the target, expected a "
	                "path without '..'");
}

TEST(absolute_paths_are_refused)
{
	_cleanup_free_ char *abs = tmp("h-abs-escaped"), *m = NULL;
	const struct fake f[] = {{abs, AE_IFREG, NULL, "x\n"}};

	m = extract_hostile("h-abs", f, ELEMENTSOF(f), -EINVAL);
	ASSERT_CONTAINS(m, "the name is absolute, expected a path relative to the target");
	ASSERT_CONTAINS(m, abs);
	ASSERT_TRUE(access(abs, F_OK) < 0 && errno == ENOENT);
}

TEST(writing_through_a_symlink_is_refused)
{
	_cleanup_free_ char *box = tmp("h-sym"), *m = NULL, *m2 = NULL;
	const struct fake f[] = {{"evil", AE_IFLNK, box, NULL},
	                         {"evil/planted", AE_IFREG, NULL, "x\n"}};
	const struct fake g[] = {{"evil", AE_IFLNK, "..", NULL},
	                         {"evil/secret", AE_IFREG, NULL, "x\n"}};

	m = extract_hostile("h-sym", f, ELEMENTSOF(f), 0);
	ASSERT_CONTAINS(m, "archive entry 'evil/planted': ");
	ASSERT_CONTAINS(m, "symlink");
	m2 = extract_hostile("h-sym2", g, ELEMENTSOF(g), 0);
	ASSERT_CONTAINS(m2, "archive entry 'evil/secret': ");
}

TEST(hard_links_out_are_refused)
{
	const struct fake up[] = {{"h", AE_IFREG, "../secret", NULL}};
	const struct fake abs[] = {{"h", AE_IFREG, "/etc/passwd", NULL}};
	const struct fake via[] = {{"evil", AE_IFLNK, "..", NULL},
	                           {"h", AE_IFREG, "evil/secret", NULL},
	                           {"h", AE_IFREG, NULL, "overwritten\n"}};
	_cleanup_free_ char *m1 = NULL, *m2 = NULL, *m3 = NULL;

	m1 = extract_hostile("h-link1", up, ELEMENTSOF(up), -EINVAL);
	ASSERT_STREQ(m1, "archive entry 'h': the hard link target leaves the target, expected a "
	                 "path without '..'");
	m2 = extract_hostile("h-link2", abs, ELEMENTSOF(abs), -EINVAL);
	ASSERT_CONTAINS(m2, "archive entry 'h': the hard link target is absolute");
	m3 = extract_hostile("h-link3", via, ELEMENTSOF(via), -ELOOP);
	ASSERT_CONTAINS(m3, "archive entry 'h': hard link target 'evil/secret' is not a file "
	                    "below the target");
}

TEST(the_target_itself_stays_a_directory)
{
	const struct fake f[] = {{"./", AE_IFLNK, "/", NULL}, {"x", AE_IFREG, NULL, "x\n"}};
	_cleanup_free_ char *m = extract_hostile("h-root", f, ELEMENTSOF(f), -EINVAL);

	ASSERT_STREQ(m, "archive entry './': names the target itself, which must stay a directory");
}

TEST(overlong_names_are_refused)
{
	_cleanup_free_ char *name = malloc(PATH_MAX + 2), *m = NULL;
	struct fake f[1] = {{NULL, AE_IFREG, NULL, "x\n"}};

	ASSERT_TRUE(name);
	for (size_t i = 0; i < PATH_MAX; i += 2)
		memcpy(name + i, "a/", 2);
	memcpy(name + PATH_MAX, "z", 2);
	f[0].name = name;
	m = extract_hostile("h-long", f, ELEMENTSOF(f), -ENAMETOOLONG);
	ASSERT_CONTAINS(m, "the name is longer than 4095 bytes below");
}

TEST(truncated_and_garbage_streams_fail)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *a = tmp("trunc-a"), *b = tmp("trunc-b"), *t = tmp("trunc.tar"),
	                    *big = malloc(65536), *g = tmp("garbage"), *empty = tmp("empty.tar");
	struct stat st;

	ASSERT_TRUE(big);
	memset(big, 'x', 65535);
	big[65535] = 0;
	ASSERT_OK(mkdir_p(a, 0755));
	ASSERT_OK(mkdir_p(b, 0700));
	put(a, "big", big, 0644);
	ASSERT_OK(tar_to(a, NULL, t, &e));
	SYS(stat(t, &st));
	ASSERT_TRUE(st.st_size > 65536);
	SYS(truncate(t, 10000)); /* inside big's data */
	ASSERT_TRUE(untar(t, b, &e) < 0);
	ASSERT_CONTAINS(e->msg, "archive entry './big': ");
	ASSERT_CONTAINS(e->msg, "runcated");

	/* Cut exactly between entries: only the missing end-of-archive blocks tell. */
	ASSERT_OK(tar_to(a, NULL, t, &e));
	SYS(stat(t, &st));
	SYS(truncate(t, st.st_size - 1024));
	ASSERT_ERR(untar(t, b, &e), -EBADMSG);
	ASSERT_STREQ(e->msg, "archive entry './big': the stream ends after it without the "
	                     "end-of-archive blocks (truncated)");

	put(tests_tmpdir(), "garbage", "this is not a tar archive at all\n", 0644);
	ASSERT_TRUE(untar(g, b, &e) < 0);
	ASSERT_CONTAINS(e->msg, "not a tar stream: ");

	put(tests_tmpdir(), "empty.tar", "", 0644);
	ASSERT_TRUE(untar(empty, b, &e) < 0);
	ASSERT_CONTAINS(e->msg, "not a tar stream: ");
}

TEST(missing_target_is_an_error)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *t = tmp("nowhere.tar"), *b = tmp("nowhere");
	const struct fake f[] = {{"x", AE_IFREG, NULL, "x\n"}};

	make_archive(t, f, ELEMENTSOF(f));
	ASSERT_ERR(untar(t, b, &e), -ENOENT);
	ASSERT_CONTAINS(e->msg, "cannot extract into '");
}
