/* SPDX-License-Identifier: MIT */
/* The dir backend's ops, each on a pool in the test's temporary directory. */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
join(const char *a, const char *b)
{
	char *p = NULL;

	if (path_join(a, b, &p) < 0)
		tests_fail(__FILE__, __LINE__, "out of memory");
	return p;
}

static void
put(const char *path, const char *content)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	ASSERT_TRUE(fd >= 0);
	ASSERT_OK(loop_write(fd, content, strlen(content)));
}

static char *
get(const char *path)
{
	char *s = NULL;

	if (read_full_file(path, 1 << 20, &s, NULL) < 0)
		return NULL;
	return s;
}

/* dir/name, in one of a few static buffers, for paths used once. */
static const char *
at(const char *dir, const char *name)
{
	static char ring[8][4096];
	static unsigned i;
	char *p = ring[i++ % ELEMENTSOF(ring)];

	snprintf(p, sizeof(ring[0]), "%s/%s", dir, name);
	return p;
}

/* The pool every test uses, made on first use (and removed with the test's directory). */
static struct hv_pool *
pool(void)
{
	static struct hv_pool p;

	if (!p.ops) {
		p.spec.name = strdup("tank");
		p.spec.mountpoint = join(tests_tmpdir(), "tank");
		p.spec.backend = HV_POOL_BACKEND_DIR;
		p.ops = &hv_pool_dir_ops;
		p.meta_dir = join(p.spec.mountpoint, ".sable");
		p.db_path = join(p.meta_dir, "pool.json");
		p.lock_fd = -EBADF;
		ASSERT_OK(p.ops->pool_create(&p.spec, NULL));
		ASSERT_OK(mkdir_p(at(p.meta_dir, "snapshots"), 0700));
	}
	return &p;
}

static const char *
in_pool(const char *rel)
{
	return at(pool()->spec.mountpoint, rel);
}

TEST(ops_table)
{
	const struct hv_pool_ops *o = &hv_pool_dir_ops;

	ASSERT_STREQ(o->name, "dir");
	ASSERT_STREQ(o->send_format, "tar");
	ASSERT_TRUE(o->pool_create && o->pool_import && o->pool_export && o->pool_is_imported &&
	            o->pool_status && o->pool_scrub && o->subvol_create && o->subvol_snapshot &&
	            o->subvol_delete && o->subvol_set_readonly && o->group_create &&
	            o->group_destroy && o->group_limit && o->space && o->set_compression &&
	            o->send && o->receive);
}

TEST(pool_create_import_export)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *mp = join(tests_tmpdir(), "new/deeper/pool"), *want = NULL,
	                    *meta = join(mp, ".sable"), *db = join(meta, "pool.json"),
	                    *full = join(tests_tmpdir(), "full");
	struct hv_pool_spec spec = {.name = (char *)"new",
	                            .mountpoint = mp,
	                            .backend = HV_POOL_BACKEND_DIR,
	                            .quota_mode = HV_QUOTA_AUTO};
	struct hv_pool_spec full_spec = {.name = (char *)"full", .mountpoint = full};
	const struct hv_pool_ops *o = &hv_pool_dir_ops;

	ASSERT_OK(o->pool_create(&spec, &e));
	ASSERT_EQ(spec.quota_mode, HV_QUOTA_NONE);
	ASSERT_TRUE(spec.uuid == NULL);
	SYS(access(mp, F_OK));

	/* Without the database there is no pool. */
	ASSERT_EQ(o->pool_is_imported(&spec, &e), 0);
	ASSERT_ERR(o->pool_import(&spec, &e), -ENOENT);
	ASSERT_TRUE(asprintf(&want, "no dir pool at '%s'", mp) > 0);
	ASSERT_STREQ(e->msg, want);

	ASSERT_OK(mkdir_p(meta, 0700));
	put(db, "{}\n");
	spec.quota_mode = HV_QUOTA_AUTO;
	ASSERT_OK(o->pool_import(&spec, &e));
	ASSERT_EQ(spec.quota_mode, HV_QUOTA_NONE);
	ASSERT_EQ(o->pool_is_imported(&spec, &e), 1);
	ASSERT_OK(o->pool_export(&spec, &e));

	/* An empty directory is fine, one with something in it is not. */
	ASSERT_OK(mkdir_p(full, 0755));
	ASSERT_OK(o->pool_create(&full_spec, &e));
	put(at(full, "x"), "x");
	ASSERT_ERR(o->pool_create(&full_spec, &e), -EEXIST);
	ASSERT_CONTAINS(e->msg, "is not empty: a dir pool needs a new or empty directory");
}

TEST(pool_status)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_pool_status s = {};

	ASSERT_OK(pool()->ops->pool_status(pool(), &s, &e));
	ASSERT_STREQ(s.health, "ONLINE");
	ASSERT_STREQ(s.profile, "-");
	ASSERT_EQ(s.quota_mode, HV_QUOTA_NONE);
	ASSERT_TRUE(s.size > 0 && s.free <= s.size && s.used <= s.size);
	ASSERT_EQ(s.n_devices, 1);
	ASSERT_STREQ(s.devices[0].path, pool()->spec.mountpoint);
	ASSERT_UEQ(s.devices[0].size, s.size);
	free(s.health);
	free(s.profile);
	free(s.devices[0].path);
	free(s.devices);
}

TEST(what_a_directory_cannot_do)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_pool *p = pool();
	struct hv_scrub_result sr = {};

	ASSERT_ERR(p->ops->pool_scrub(p, &sr, &e), -EOPNOTSUPP);
	ASSERT_STREQ(e->msg, "the dir backend keeps no checksums: nothing to scrub");
	ASSERT_OK(p->ops->set_compression(p, in_pool(""), "off", &e));
	ASSERT_ERR(p->ops->set_compression(p, in_pool(""), "zstd", &e), -EOPNOTSUPP);
	ASSERT_STREQ(e->msg, "the dir backend cannot compress ('zstd')");
	ASSERT_OK(p->ops->group_create(p, HV_QGROUP_LEVEL1 | 7, &e));
	ASSERT_OK(p->ops->group_limit(p, HV_QGROUP_LEVEL1 | 7, 0, &e));
	ASSERT_ERR(p->ops->group_limit(p, HV_QGROUP_LEVEL1 | 7, 1 << 30, &e), -EOPNOTSUPP);
	ASSERT_STREQ(e->msg, "the dir backend cannot enforce quotas");
	ASSERT_OK(p->ops->group_destroy(p, HV_QGROUP_LEVEL1 | 7, &e));
	ASSERT_OK(p->ops->subvol_set_readonly(p, in_pool(""), true, &e));
}

TEST(subvol_create)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_pool *p = pool();
	const uint64_t g = HV_QGROUP_LEVEL1 | 1;
	struct stat st;

	ASSERT_OK(p->ops->subvol_create(p, in_pool("c"), &g, 1, &e));
	SYS(stat(in_pool("c"), &st));
	ASSERT_TRUE(S_ISDIR(st.st_mode));
	ASSERT_ERR(p->ops->subvol_create(p, in_pool("c"), &g, 1, &e), -EEXIST);
	ASSERT_CONTAINS(e->msg, "/tank/c' already exists");
	ASSERT_ERR(p->ops->subvol_create(p, in_pool("nope/c"), &g, 1, &e), -ENOENT);
	ASSERT_CONTAINS(e->msg, "/tank/nope/c': its parent does not exist");
}

static int
count_fds(void)
{
	_cleanup_closedir_ DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	return n;
}

/* Dataset "a" with a file, a nested dataset "a/child" and a subdirectory. */
static void
make_a(void)
{
	struct hv_pool *p = pool();

	ASSERT_OK(p->ops->subvol_create(p, in_pool("a"), NULL, 0, NULL));
	ASSERT_OK(p->ops->subvol_create(p, in_pool("a/child"), NULL, 0, NULL));
	ASSERT_OK(mkdir_p(in_pool("a/sub"), 0750));
	put(in_pool("a/file"), "from a\n");
	put(in_pool("a/sub/deep"), "deep\n");
	put(in_pool("a/child/nested"), "nested\n");
	SYS(chmod(in_pool("a/file"), 0600));
}

TEST(snapshot_clone_and_delete)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *snap = join(pool()->meta_dir, "snapshots/s1"), *c = NULL;
	struct hv_pool *p = pool();
	char *skip[] = {"child", NULL};
	struct stat a, s;
	int fds;

	make_a();
	fds = count_fds();
	ASSERT_OK(p->ops->subvol_snapshot(p, in_pool("a"), snap, true, skip, NULL, 0, &e));
	c = get(at(snap, "file"));
	ASSERT_STREQ(c, "from a\n");
	SYS(stat(in_pool("a/file"), &a));
	SYS(stat(at(snap, "file"), &s));
	ASSERT_EQ(s.st_mode, a.st_mode);
	ASSERT_EQ(s.st_mtim.tv_nsec, a.st_mtim.tv_nsec);
	/* The nested dataset is an empty directory in the snapshot. */
	SYS(stat(at(snap, "child"), &s));
	ASSERT_TRUE(S_ISDIR(s.st_mode));
	ASSERT_TRUE(access(at(snap, "child/nested"), F_OK) < 0 && errno == ENOENT);

	/* A clone is a writable copy; writing it leaves the snapshot alone. */
	ASSERT_OK(p->ops->subvol_snapshot(p, snap, in_pool("b"), false, NULL, NULL, 0, &e));
	put(in_pool("b/file"), "changed\n");
	free(c);
	c = get(at(snap, "file"));
	ASSERT_STREQ(c, "from a\n");
	free(c);
	c = get(in_pool("b/sub/deep"));
	ASSERT_STREQ(c, "deep\n");

	ASSERT_OK(p->ops->subvol_delete(p, in_pool("b"), &e));
	ASSERT_TRUE(access(in_pool("b"), F_OK) < 0 && errno == ENOENT);
	ASSERT_EQ(count_fds(), fds); /* nothing left open, by either thread */
	ASSERT_ERR(p->ops->subvol_delete(p, in_pool("b"), &e), -ENOENT);
	ASSERT_CONTAINS(e->msg, "/tank/b' does not exist");
}

TEST(snapshot_failures_leave_nothing)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_pool *p = pool();

	ASSERT_OK(p->ops->subvol_create(p, in_pool("f"), NULL, 0, NULL));
	ASSERT_OK(p->ops->subvol_create(p, in_pool("f-taken"), NULL, 0, NULL));
	ASSERT_ERR(p->ops->subvol_snapshot(p, in_pool("f"), in_pool("f-taken"), false, NULL, NULL,
	                                   0, &e),
	           -EEXIST);
	ASSERT_ERR(p->ops->subvol_snapshot(p, in_pool("missing"), in_pool("f-copy"), false, NULL,
	                                   NULL, 0, &e),
	           -ENOENT);
	ASSERT_CONTAINS(e->msg, "cannot open '");
	ASSERT_TRUE(access(in_pool("f-copy"), F_OK) < 0 && errno == ENOENT);
	ASSERT_ERR(p->ops->subvol_snapshot(p, in_pool("f"), in_pool("f/inner"), false, NULL, NULL,
	                                   0, &e),
	           -EINVAL);
	ASSERT_CONTAINS(e->msg, "into itself");
	ASSERT_TRUE(access(in_pool("f/inner"), F_OK) < 0 && errno == ENOENT);
}

TEST(snapshot_of_unreadable_tree_is_removed)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_pool *p = pool();

	if (geteuid() == 0)
		SKIP("root reads everything");
	ASSERT_OK(p->ops->subvol_create(p, in_pool("u"), NULL, 0, NULL));
	put(in_pool("u/a"), "a\n");
	put(in_pool("u/secret"), "s\n");
	SYS(chmod(in_pool("u/secret"), 0));
	ASSERT_TRUE(p->ops->subvol_snapshot(p, in_pool("u"), in_pool("u-copy"), false, NULL, NULL,
	                                    0, &e) < 0);
	ASSERT_CONTAINS(e->msg, "/tank/u/secret': cannot open: Permission denied");
	ASSERT_TRUE(access(in_pool("u-copy"), F_OK) < 0 && errno == ENOENT);
	SYS(chmod(in_pool("u/secret"), 0600));
}

TEST(delete_refuses_mount_points)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_pool *p = pool();
	pid_t pid;
	int status;

	if (geteuid() != 0)
		SKIP("mounting needs root");
	ASSERT_OK(p->ops->subvol_create(p, in_pool("m"), NULL, 0, NULL));
	ASSERT_OK(mkdir_p(in_pool("m/mnt"), 0755));
	put(in_pool("m/file"), "x\n");
	pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		/* In a private mount namespace, so nothing outlives the child. */
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("tmpfs", in_pool("m/mnt"), "tmpfs", 0, NULL) < 0)
			_exit(2);
		put(in_pool("m/mnt/inside"), "x\n");
		if (p->ops->subvol_delete(p, in_pool("m"), &e) != -EBUSY ||
		    !strstr(e->msg, "/tank/m/mnt' is mounted") ||
		    access(in_pool("m/file"), F_OK) < 0)
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	ASSERT_OK(p->ops->subvol_delete(p, in_pool("m"), &e));
}

static uint64_t
allocated(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		tests_fail(__FILE__, __LINE__, "lstat '%s': %m", path);
	return (uint64_t)st.st_blocks * 512;
}

TEST(space_counts_allocated_bytes_once)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *mib = calloc(1, 1 << 20), *dir = join(pool()->spec.mountpoint, "sp");
	struct hv_pool *p = pool();
	struct hv_space sp = {.path = dir, .group = HV_QGROUP_LEVEL1 | 3};
	_cleanup_close_ int fd = -EBADF;
	uint64_t one;

	ASSERT_TRUE(mib);
	memset(mib, 'x', 1 << 20);
	ASSERT_OK(p->ops->subvol_create(p, in_pool("sp"), NULL, 0, NULL));
	fd = open(in_pool("sp/data"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_TRUE(fd >= 0);
	ASSERT_OK(loop_write(fd, mib, 1 << 20));
	SYS(fsync(fd));

	ASSERT_OK(p->ops->space(p, &sp, 1, &e));
	one = allocated(in_pool("sp/data"));
	ASSERT_TRUE(one >= 1 << 20);
	ASSERT_UEQ(sp.used, allocated(in_pool("sp")) + one);
	ASSERT_UEQ(sp.refer, sp.used);

	/* A second name for the same file costs nothing; a copy costs its blocks. */
	SYS(link(in_pool("sp/data"), in_pool("sp/again")));
	ASSERT_OK(p->ops->space(p, &sp, 1, &e));
	ASSERT_UEQ(sp.used, allocated(in_pool("sp")) + one);
	put(in_pool("sp/small"), "small\n");
	SYS(fsync(fd));
	ASSERT_OK(p->ops->space(p, &sp, 1, &e));
	ASSERT_UEQ(sp.used, allocated(in_pool("sp")) + one + allocated(in_pool("sp/small")));

	sp.path = in_pool("absent");
	ASSERT_ERR(p->ops->space(p, &sp, 1, &e), -ENOENT);
	ASSERT_CONTAINS(e->msg, "cannot measure '");
}

/* Send the snapshot through a pipe from a child; receive it here. */
static int
send_receive(const char *snap, const char *scratch, char **ret_path, struct hv_error **e)
{
	struct hv_pool *p = pool();
	int fds[2], status, r;
	pid_t pid;

	SYS(pipe2(fds, O_CLOEXEC));
	pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		(void)close(fds[0]);
		_exit(p->ops->send(p, snap, NULL, fds[1], NULL) < 0 ? 1 : 0);
	}
	(void)close(fds[1]);
	r = p->ops->receive(p, "tar", fds[0], scratch, ret_path, e);
	(void)close(fds[0]);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return r;
}

TEST(send_and_receive)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *snap = join(pool()->meta_dir, "snapshots/sr"),
	                    *scratch = join(pool()->meta_dir, "rx"), *got = NULL, *c = NULL,
	                    *want = join(scratch, "received"),
	                    *garbage = join(tests_tmpdir(), "junk");
	struct hv_pool *p = pool();
	_cleanup_close_ int fd = -EBADF;

	ASSERT_OK(p->ops->subvol_create(p, in_pool("sr"), NULL, 0, NULL));
	put(in_pool("sr/hello"), "hello\n");
	ASSERT_OK(p->ops->subvol_snapshot(p, in_pool("sr"), snap, true, NULL, NULL, 0, &e));
	ASSERT_OK(mkdir_p(scratch, 0700));
	ASSERT_OK(send_receive(snap, scratch, &got, &e));
	ASSERT_STREQ(got, want);
	c = get(at(got, "hello"));
	ASSERT_STREQ(c, "hello\n");

	ASSERT_ERR(p->ops->send(p, snap, snap, STDOUT_FILENO, &e), -EOPNOTSUPP);
	ASSERT_STREQ(e->msg, "the dir backend sends full streams only");
	ASSERT_ERR(p->ops->receive(p, "btrfs", STDIN_FILENO, scratch, &got, &e), -EPROTONOSUPPORT);
	ASSERT_STREQ(e->msg, "a 'btrfs' stream can only be received into a btrfs pool");

	/* A bad stream leaves nothing in the scratch directory. */
	ASSERT_OK(p->ops->subvol_delete(p, want, &e));
	put(garbage, "no tar here\n");
	fd = open(garbage, O_RDONLY | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	ASSERT_TRUE(p->ops->receive(p, "tar", fd, scratch, &got, &e) < 0);
	ASSERT_CONTAINS(e->msg, "not a tar stream");
	ASSERT_TRUE(access(want, F_OK) < 0 && errno == ENOENT);
}
