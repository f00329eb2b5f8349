/* SPDX-License-Identifier: MIT */
/*
 * The btrfs pool backend against the real kernel, on loop-file pools in the
 * test's scratch directory. Needs root, btrfs and loop devices (else every
 * test skips). The tests run in order on one pool and build on each other.
 * Whatever happens, an exit handler unmounts everything below the scratch
 * directory and waits for its loop devices to detach; the last test checks
 * that nothing is left.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <linux/btrfs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <btrfsutil.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/spawn.h"
#include "basic/strv.h"
#include "basic/uuid.h"
#include "storage/storage-internal.h"
#include "tests.h"

#define MiB (UINT64_C(1) << 20)
#define G1  (HV_QGROUP_LEVEL1 | 1)
#define G2  (HV_QGROUP_LEVEL1 | 2)

static struct {
	const char *skip; /* why nothing can run, or NULL */
	bool checked;
	char label[32];
	char *dir;
	struct hv_pool pool; /* the main pool, from create_pool on */
	bool created;
	enum hv_quota_mode mode;
	int loop_fds[8];
	size_t n_loop_fds;
} T;

static char *
at(const char *fmt, ...)
{
	_cleanup_free_ char *rel = NULL;
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&rel, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (asprintf(&s, "%s/%s", T.dir, rel) < 0)
		abort();
	return s;
}

/* Loop devices whose backing file lies in our scratch directory. */
static int
our_loop_devices(void)
{
	_cleanup_closedir_ DIR *d = opendir("/sys/block");
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		_cleanup_free_ char *p = NULL, *backing = NULL;

		if (strncmp(de->d_name, "loop", 4) != 0)
			continue;
		if (asprintf(&p, "/sys/block/%s/loop/backing_file", de->d_name) < 0)
			abort();
		if (read_one_line_file(p, &backing) >= 0 &&
		    strncmp(backing, T.dir, strlen(T.dir)) == 0)
			n++;
	}
	return n;
}

/* Loop devices detach just after the unmount that released them: wait a little. */
static int
wait_loops_gone(void)
{
	for (int i = 0; i < 100 && our_loop_devices() > 0; i++)
		(void)usleep(50 * 1000);
	return our_loop_devices();
}

static void
close_loop_fds(void)
{
	for (size_t i = 0; i < T.n_loop_fds; i++)
		(void)safe_close(T.loop_fds[i]);
	T.n_loop_fds = 0;
}

static void
cleanup_all(void)
{
	_cleanup_strv_free_ char **mounts = NULL;

	if (!T.dir)
		return;
	if (hv_mounts_below(T.dir, &mounts) >= 0)
		STRV_FOREACH (m, mounts) {
			if (umount2(*m, UMOUNT_NOFOLLOW) < 0)
				(void)umount2(*m, UMOUNT_NOFOLLOW | MNT_DETACH);
		}
	close_loop_fds();
	(void)wait_loops_gone();
	free(T.pool.spec.uuid);
	T.pool.spec.uuid = NULL;
}

/*
 * What the tests make, for the signal handler (which cannot read
 * mountinfo or walk directories): mount points, then files, then
 * directories, in the order they can be removed.
 */
/* clang-format off */
static const char *const known_names[] = {
        "mnt/a/sub", "mnt", "mnt2", "mnt3", "mnt4", "sp ace", /* mount points */
        "pool.img", "pool2.img", "r1.img", "r2.img", "tiny.img", "t.tar", "inc.stream",
        "tarsrc/hello", "tarsrc", "mnt", "mnt2", "mnt3", "mnt4", "sp ace", "",
};
/* clang-format on */
#define N_KNOWN_MOUNTS 6
static char *known[ELEMENTSOF(known_names)];

/*
 * Killed (a timeout, ^C): detach what is mounted and close our loop
 * devices with async-signal-safe calls only, then die of the signal.
 */
static void
on_fatal_signal(int sig)
{
	for (size_t i = 0; i < ELEMENTSOF(known) && known[i]; i++) {
		if (i < N_KNOWN_MOUNTS)
			(void)umount2(known[i], UMOUNT_NOFOLLOW | MNT_DETACH);
		else if (unlink(known[i]) < 0 && errno == EISDIR)
			(void)rmdir(known[i]);
	}
	for (size_t i = 0; i < T.n_loop_fds; i++)
		(void)close(T.loop_fds[i]);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
check_environment(void)
{
	_cleanup_free_ char *fs = NULL;
	int r, status = 0;

	T.checked = true;
	if (geteuid() != 0) {
		T.skip = "needs root (mounts and loop devices)";
		return;
	}
	if (read_full_file("/proc/filesystems", 1 << 20, &fs, NULL) < 0 ||
	    !strstr(fs, "\tbtrfs\n")) {
		T.skip = "the kernel has no btrfs (CONFIG_BTRFS_FS)";
		return;
	}
	if (access("/dev/loop-control", F_OK) < 0) {
		T.skip = "no loop devices (/dev/loop-control, CONFIG_BLK_DEV_LOOP)";
		return;
	}
	r = spawn_run((char *[]){"mkfs.btrfs", "--version", NULL},
	              SPAWN_STDIN_NULL | SPAWN_STDOUT_NULL | SPAWN_STDERR_NULL, 10000, &status,
	              NULL, NULL);
	if (r < 0 || status != 0) {
		T.skip = "mkfs.btrfs is missing (btrfs-progs)";
		return;
	}
	T.dir = strdup(tests_tmpdir());
	if (!T.dir)
		abort();
	/* Registered after tests_tmpdir()'s handler, so it runs before the directory goes. */
	atexit(cleanup_all);
	snprintf(T.label, sizeof(T.label), "sabletest-%d", (int)getpid());
	T.pool.spec.name = T.label;
	T.pool.spec.mountpoint = at("mnt");
	T.pool.spec.backend = HV_POOL_BACKEND_BTRFS;
	T.pool.spec.file = at("pool.img");
	T.pool.ops = &hv_pool_btrfs_ops;
	T.pool.lock_fd = -EBADF;
	for (size_t i = 0; i < ELEMENTSOF(known_names); i++)
		known[i] = at("%s", known_names[i]);
	signal(SIGTERM, on_fatal_signal);
	signal(SIGINT, on_fatal_signal);
	signal(SIGHUP, on_fatal_signal);
}

/* Skip unless the environment works (and, if need_pool, the main pool was made). */
static void
setup(bool need_pool)
{
	if (!T.checked)
		check_environment();
	if (T.skip)
		SKIP(T.skip);
	if (need_pool && !T.created)
		SKIP("the pool could not be created");
}

static const struct hv_pool_ops *ops = &hv_pool_btrfs_ops;

/* size bytes of a pattern that depends on seed; the first error as -errno. */
static int
write_pattern(const char *path, uint64_t size, unsigned seed)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	static char buf[1 << 16];
	int r;

	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(rand_r(&seed) & 0xff);
	for (uint64_t done = 0; done < size; done += sizeof(buf)) {
		r = loop_write(fd, buf, MIN(sizeof(buf), (size_t)(size - done)));
		if (r < 0)
			return r;
	}
	return RET_NERRNO(fsync(fd));
}

static bool
same_content(const char *a, const char *b)
{
	_cleanup_free_ char *x = NULL, *y = NULL;
	size_t nx = 0, ny = 0;

	if (read_full_file(a, 256 * MiB, &x, &nx) < 0 || read_full_file(b, 256 * MiB, &y, &ny) < 0)
		return false;
	return nx == ny && memcmp(x, y, nx) == 0;
}

static int
sync_pool(void)
{
	return btrfs_util_sync(T.pool.spec.mountpoint) == BTRFS_UTIL_OK ? 0 : -errno;
}

static bool
is_readonly(const char *path)
{
	bool ro = false;

	return btrfs_util_get_subvolume_read_only(path, &ro) == BTRFS_UTIL_OK && ro;
}

/* r is the failure code expected, *e (read after the call) names needle. */
static void
expect_error(int r, int code, struct hv_error **e, const char *needle)
{
	ASSERT_ERR(r, code);
	ASSERT_TRUE(*e != NULL);
	ASSERT_CONTAINS((*e)->msg, needle);
	printf("# error as expected: %s\n", (*e)->msg);
}

TEST(mountinfo)
{
	setup(false);
	_cleanup_free_ char *odd = at("sp ace"), *fstype = NULL;
	_cleanup_strv_free_ char **below = NULL;

	/* mountinfo escapes the space as \040. */
	ASSERT_OK(mkdir(odd, 0755));
	ASSERT_OK(mount("tmpfs", odd, "tmpfs", 0, "size=1m"));
	ASSERT_OK(hv_mount_fstype(odd, &fstype));
	ASSERT_STREQ(fstype, "tmpfs");
	ASSERT_OK(hv_mounts_below(T.dir, &below));
	ASSERT_EQ(strv_length(below), 1);
	ASSERT_STREQ(below[0], odd);
	ASSERT_OK(umount2(odd, 0));
	ASSERT_ERR(hv_mount_fstype(odd, &fstype), -ENOENT);
	ASSERT_OK(rmdir(odd));
}

TEST(create_pool)
{
	setup(false);
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *fstype = NULL;
	int r;

	T.pool.spec.file_size = 300 * MiB;
	T.pool.spec.quota_mode = HV_QUOTA_AUTO;
	r = ops->pool_create(&T.pool.spec, &e);
	if (r < 0)
		tests_fail(__FILE__, __LINE__, "create: %s", hv_error_message(e, r));
	T.created = true;
	T.mode = T.pool.spec.quota_mode;
	ASSERT_TRUE(uuid_is_valid(T.pool.spec.uuid));
	/* Simple quotas exist from Linux 6.7 on; AUTO falls back to full qgroups before. */
	ASSERT_TRUE(T.mode == HV_QUOTA_SIMPLE || T.mode == HV_QUOTA_FULL);
	printf("# uuid %s, quotas %s\n", T.pool.spec.uuid,
	       T.mode == HV_QUOTA_SIMPLE ? "simple" : "full");
	ASSERT_EQ(ops->pool_is_imported(&T.pool.spec, &e), 1);
	ASSERT_OK(hv_mount_fstype(T.pool.spec.mountpoint, &fstype));
	ASSERT_STREQ(fstype, "btrfs");
	ASSERT_EQ(our_loop_devices(), 1);
	ASSERT_STREQ(ops->name, "btrfs");
	ASSERT_STREQ(ops->send_format, "btrfs");
}

TEST(subvolumes_and_groups)
{
	setup(true);
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *a = NULL, *snap = NULL, *b = NULL, *data = NULL, *bdata = NULL;
	const uint64_t g1[] = {G1}, g2[] = {G2};
	int fd;

	a = at("mnt/a");
	snap = at("mnt/a@s");
	b = at("mnt/b");
	data = at("mnt/a/data");
	bdata = at("mnt/b/data");

	ASSERT_OK(ops->group_create(&T.pool, G1, &e));
	ASSERT_OK(ops->group_create(&T.pool, G1, &e)); /* again: fine */
	ASSERT_OK(ops->group_create(&T.pool, G2, &e));
	ASSERT_OK(ops->subvol_create(&T.pool, a, g1, 1, &e));
	ASSERT_EQ(btrfs_util_is_subvolume(a), BTRFS_UTIL_OK);
	expect_error(ops->subvol_create(&T.pool, a, g1, 1, &e), -EEXIST, &e, "mnt/a'");
	expect_error(
	        ops->subvol_create(&T.pool, b, (const uint64_t[]){HV_QGROUP_LEVEL1 | 99}, 1, &e),
	        -ENOENT, &e, "quota group");
	ASSERT_OK(write_pattern(data, 8 * MiB, 1));

	ASSERT_OK(ops->subvol_snapshot(&T.pool, a, snap, true, NULL, g1, 1, &e));
	ASSERT_TRUE(is_readonly(snap));
	fd = open(snap, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	ASSERT_TRUE(openat(fd, "new", O_WRONLY | O_CREAT | O_CLOEXEC, 0644) < 0 && errno == EROFS);
	close(fd);

	ASSERT_OK(ops->subvol_snapshot(&T.pool, snap, b, false, NULL, g2, 1, &e));
	ASSERT_FALSE(is_readonly(b));
	ASSERT_TRUE(same_content(data, bdata));
	ASSERT_OK(ops->subvol_set_readonly(&T.pool, b, true, &e));
	ASSERT_ERR(write_pattern(bdata, 4096, 2), -EROFS);
	ASSERT_OK(ops->subvol_set_readonly(&T.pool, b, false, &e));
	ASSERT_OK(write_pattern(bdata, 8 * MiB, 1));
	expect_error(
	        ops->subvol_snapshot(&T.pool, "/nonexistent-sable", b, true, NULL, NULL, 0, &e),
	        -ENOENT, &e, "nonexistent-sable");
}

TEST(quota_limit)
{
	setup(true);
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *big = at("mnt/b/big");

	ASSERT_OK(ops->group_limit(&T.pool, G2, 16 * MiB, &e));
	ASSERT_ERR(write_pattern(big, 64 * MiB, 3), -EDQUOT);
	ASSERT_OK(unlink(big));
	ASSERT_OK(sync_pool());
	ASSERT_OK(ops->group_limit(&T.pool, G2, 0, &e));
	ASSERT_OK(write_pattern(big, 32 * MiB, 3));
	ASSERT_OK(unlink(big));
	ASSERT_OK(sync_pool());
}

TEST(space)
{
	setup(true);
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *a = at("mnt/a"), *snap = at("mnt/a@s"), *b = at("mnt/b"),
	                    *none = at("mnt/none");
	struct hv_space items[] = {
	        {.path = a, .group = G1},
	        {.path = snap, .group = 0},
	        {.path = b, .group = G2},
	        {.path = none, .group = 0},
	};
	_cleanup_free_ struct hv_space *many = NULL;
	struct timespec t0, t1;
	double ms;

	ASSERT_OK(sync_pool());
	ASSERT_OK(ops->space(&T.pool, items, ELEMENTSOF(items), &e));
	for (size_t i = 0; i < ELEMENTSOF(items); i++)
		printf("# %s: used %" PRIu64 " refer %" PRIu64 "\n", items[i].path, items[i].used,
		       items[i].refer);
	/* a's group holds a's 8 MiB (and its snapshot, which shares them). */
	ASSERT_TRUE(items[0].used >= 8 * MiB && items[0].used < 64 * MiB);
	ASSERT_TRUE(items[0].refer >= 8 * MiB && items[0].refer < 64 * MiB);
	ASSERT_TRUE(items[1].used != UINT64_MAX && items[1].refer != UINT64_MAX);
	/* b rewrote its 8 MiB, so they are its own. */
	ASSERT_TRUE(items[2].used >= 8 * MiB && items[2].used < 64 * MiB);
	ASSERT_TRUE(items[2].refer >= 8 * MiB);
	ASSERT_UEQ(items[3].used, UINT64_MAX);
	ASSERT_UEQ(items[3].refer, UINT64_MAX);

	/* `pooladm list` of 2,000 datasets: one quota-tree pass plus a lookup each. */
	many = calloc(2000, sizeof(*many));
	ASSERT_TRUE(many != NULL);
	for (size_t i = 0; i < 2000; i++)
		many[i] = items[i % 3];
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_OK(ops->space(&T.pool, many, 2000, &e));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	printf("# space() of 2000 items: %.1f ms\n", ms);
	ASSERT_TRUE(ms < 300);
	ASSERT_UEQ(many[1999].used, items[1999 % 3].used);
}

TEST(compression)
{
	setup(true);
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *a = at("mnt/a"), *f = at("mnt/a/compressed");
	char v[32] = {};

	ASSERT_OK(ops->set_compression(&T.pool, a, "zstd", &e));
	ASSERT_EQ(getxattr(a, "btrfs.compression", v, sizeof(v) - 1), 4);
	ASSERT_STREQ(v, "zstd");
	/* New files inherit the property. */
	ASSERT_OK(write_pattern(f, 4096, 4));
	memset(v, 0, sizeof(v));
	ASSERT_EQ(getxattr(f, "btrfs.compression", v, sizeof(v) - 1), 4);
	ASSERT_OK(unlink(f));
	ASSERT_OK(ops->set_compression(&T.pool, a, "lzo", &e));
	ASSERT_OK(ops->set_compression(&T.pool, a, "off", &e));
	ASSERT_TRUE(getxattr(a, "btrfs.compression", v, sizeof(v)) < 0 && errno == ENODATA);
	ASSERT_OK(ops->set_compression(&T.pool, a, "off", &e)); /* already off */
	expect_error(ops->set_compression(&T.pool, a, "gzip", &e), -EINVAL, &e, "'gzip'");
}

struct send_job {
	const char *snap;
	int fd, r;
};

static void *
send_thread(void *userdata)
{
	struct send_job *j = userdata;

	j->r = ops->send(&T.pool, j->snap, NULL, j->fd, NULL);
	j->fd = safe_close(j->fd);
	return NULL;
}

TEST(send_receive)
{
	setup(true);
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *a = at("mnt/a"), *snap = at("mnt/a@s"), *snap2 = at("mnt/a@s2"),
	                    *r1 = at("mnt/.recv1"), *r2 = at("mnt/.recv2"),
	                    *more = at("mnt/a/more"), *inc = at("inc.stream"), *got1 = NULL,
	                    *got2 = NULL, *x = NULL, *y = NULL;
	const uint64_t g1[] = {G1};
	struct send_job job = {.snap = snap};
	_cleanup_close_ int sfd = -EBADF;
	pthread_t t;
	int p[2], r;
	struct stat st;

	/* Full send through a pipe, received by `btrfs receive` on the same pool. */
	ASSERT_OK(mkdir(r1, 0700));
	ASSERT_OK(pipe2(p, O_CLOEXEC));
	job.fd = p[1];
	ASSERT_EQ(pthread_create(&t, NULL, send_thread, &job), 0);
	ASSERT_OK(ops->receive(&T.pool, "btrfs", p[0], r1, &got1, &e));
	close(p[0]);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_OK(job.r);
	printf("# received %s\n", got1);
	ASSERT_TRUE(is_readonly(got1));
	ASSERT_OK(asprintf(&x, "%s/data", got1));
	ASSERT_OK(asprintf(&y, "%s/data", snap));
	ASSERT_TRUE(same_content(x, y));

	/* Incremental, through a file. */
	ASSERT_OK(write_pattern(more, 1 * MiB, 5));
	ASSERT_OK(ops->subvol_snapshot(&T.pool, a, snap2, true, NULL, g1, 1, &e));
	sfd = open(inc, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_TRUE(sfd >= 0);
	ASSERT_OK(ops->send(&T.pool, snap2, snap, sfd, &e));
	ASSERT_OK(fstat(sfd, &st));
	printf("# incremental stream: %jd bytes\n", (intmax_t)st.st_size);
	ASSERT_TRUE(st.st_size > (off_t)MiB && st.st_size < (off_t)(4 * MiB));
	ASSERT_OK(lseek(sfd, 0, SEEK_SET));
	ASSERT_OK(mkdir(r2, 0700));
	ASSERT_OK(ops->receive(&T.pool, "btrfs", sfd, r2, &got2, &e));
	free(x);
	free(y);
	ASSERT_OK(asprintf(&x, "%s/more", got2));
	ASSERT_TRUE(same_content(x, more));
	free(x);
	ASSERT_OK(asprintf(&x, "%s/data", got2));
	y = at("mnt/a/data");
	ASSERT_TRUE(same_content(x, y));

	/* Only read-only snapshots can be sent. */
	expect_error(ops->send(&T.pool, a, NULL, sfd, &e), -EPERM, &e, "read-only");
	expect_error(ops->receive(&T.pool, "zfs", sfd, r2, &got1, &e), -EPROTONOSUPPORT, &e,
	             "'zfs'");
	/* Garbage is refused and leaves nothing behind. */
	ASSERT_OK(lseek(sfd, 0, SEEK_SET));
	ASSERT_OK(ftruncate(sfd, 0));
	ASSERT_OK(loop_write(sfd, "garbage", 7));
	ASSERT_OK(lseek(sfd, 0, SEEK_SET));
	free(got1);
	got1 = NULL;
	free(x);
	x = at("mnt/.recv3");
	ASSERT_OK(mkdir(x, 0700));
	r = ops->receive(&T.pool, "btrfs", sfd, x, &got1, &e);
	ASSERT_TRUE(r < 0);
	printf("# garbage: %s\n", hv_error_message(e, r));
	ASSERT_OK(rmdir(x)); /* empty again */
}

TEST(receive_tar)
{
	setup(true);
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *src = at("tarsrc"), *hello = at("tarsrc/hello"), *tar = at("t.tar"),
	                    *dir = at("mnt/.recv4"), *got = NULL, *x = NULL;
	_cleanup_close_ int fd = -EBADF;
	int status = -1;

	ASSERT_OK(mkdir(src, 0755));
	ASSERT_OK(write_pattern(hello, 1000, 6));
	ASSERT_OK(spawn_run((char *[]){"tar", "--format=pax", "-C", src, "-cf", tar, ".", NULL},
	                    SPAWN_STDIN_NULL, 60000, &status, NULL, NULL));
	ASSERT_EQ(status, 0);
	fd = open(tar, O_RDONLY | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	ASSERT_OK(mkdir(dir, 0700));
	ASSERT_OK(ops->receive(&T.pool, "tar", fd, dir, &got, &e));
	ASSERT_CONTAINS(got, "/.recv4/received");
	ASSERT_TRUE(is_readonly(got));
	ASSERT_OK(asprintf(&x, "%s/hello", got));
	ASSERT_TRUE(same_content(x, hello));
}

TEST(status)
{
	setup(true);
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_pool_status s = {};

	ASSERT_OK(ops->pool_status(&T.pool, &s, &e));
	printf("# size %" PRIu64 " used %" PRIu64 " free %" PRIu64 " %s %s %s\n", s.size, s.used,
	       s.free, s.health, s.profile, s.n_devices ? s.devices[0].path : "-");
	ASSERT_TRUE(s.size > 200 * MiB && s.size <= 300 * MiB);
	ASSERT_TRUE(s.used > 16 * MiB && s.used < s.size);
	ASSERT_TRUE(s.free > 0 && s.free < s.size);
	ASSERT_STREQ(s.health, "ONLINE");
	ASSERT_STREQ(s.profile, "single");
	ASSERT_EQ(s.n_devices, 1);
	ASSERT_TRUE(strncmp(s.devices[0].path, "/dev/loop", 9) == 0);
	ASSERT_UEQ(s.devices[0].size, 300 * MiB);
	ASSERT_UEQ(s.devices[0].errors, 0);
	ASSERT_FALSE(s.devices[0].missing);
	ASSERT_EQ(s.quota_mode, T.mode);
	ASSERT_TRUE(s.name == NULL && s.uuid == NULL); /* the caller's */
	free(s.health);
	free(s.profile);
	for (size_t i = 0; i < s.n_devices; i++)
		free(s.devices[i].path);
	free(s.devices);
}

TEST(scrub)
{
	setup(true);
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_scrub_result s = {};

	ASSERT_OK(sync_pool());
	ASSERT_OK(ops->pool_scrub(&T.pool, &s, &e));
	printf("# scrubbed %" PRIu64 " bytes\n", s.bytes);
	ASSERT_TRUE(s.bytes > 16 * MiB);
	ASSERT_UEQ(s.csum_errors, 0);
	ASSERT_UEQ(s.read_errors, 0);
	ASSERT_UEQ(s.uncorrectable, 0);
}

TEST(delete)
{
	setup(true);
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *b = at("mnt/b"), *r1 = at("mnt/.recv1/a@s");

	ASSERT_OK(ops->subvol_delete(&T.pool, b, &e));
	ASSERT_TRUE(access(b, F_OK) < 0 && errno == ENOENT);
	expect_error(ops->subvol_delete(&T.pool, b, &e), -ENOENT, &e, "mnt/b'");
	ASSERT_OK(ops->subvol_delete(&T.pool, r1, &e)); /* read-only: fine */
	/*
	 * b's group stays busy until the cleaner has dropped b: destroy says
	 * so at once (-EBUSY) instead of waiting, and succeeds once it has.
	 */
	int r = -EBUSY;
	for (int i = 0; i < 600 && r == -EBUSY; i++) {
		r = ops->group_destroy(&T.pool, G2, &e);
		if (r == -EBUSY) {
			(void)sync_pool();
			(void)usleep(50 * 1000);
		}
	}
	ASSERT_OK(r);
	ASSERT_OK(ops->group_destroy(&T.pool, G2, &e)); /* gone: fine */
}

TEST(export_busy)
{
	setup(true);
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *data = at("mnt/a/data"), *sub = at("mnt/a/sub");
	int fd;

	fd = open(data, O_RDONLY | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	expect_error(ops->pool_export(&T.pool.spec, &e), -EBUSY, &e, "busy");
	close(fd);
	ASSERT_OK(mkdir(sub, 0755));
	ASSERT_OK(mount("tmpfs", sub, "tmpfs", 0, "size=1m"));
	expect_error(ops->pool_export(&T.pool.spec, &e), -EBUSY, &e, "mnt/a/sub'");
	ASSERT_OK(umount2(sub, 0));
	ASSERT_OK(rmdir(sub));
	ASSERT_EQ(ops->pool_is_imported(&T.pool.spec, &e), 1);
}

static void
export_main(void)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;

	ASSERT_OK(ops->pool_export(&T.pool.spec, &e));
	ASSERT_EQ(ops->pool_is_imported(&T.pool.spec, &e), 0);
	ASSERT_EQ(wait_loops_gone(), 0);
}

TEST(export_import_by_file)
{
	setup(true);
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *uuid = NULL, *other = NULL;
	struct hv_pool_spec s;

	export_main();
	expect_error(ops->pool_export(&T.pool.spec, &e), -ENOENT, &e, "not imported");
	uuid = T.pool.spec.uuid; /* import checks the uuid it is given */
	T.pool.spec.uuid = strdup(uuid);
	T.pool.spec.quota_mode = HV_QUOTA_NONE;
	ASSERT_OK(ops->pool_import(&T.pool.spec, &e));
	ASSERT_STREQ(T.pool.spec.uuid, uuid);
	ASSERT_EQ(T.pool.spec.quota_mode, T.mode);
	ASSERT_EQ(our_loop_devices(), 1);
	expect_error(ops->pool_import(&T.pool.spec, &e), -EEXIST, &e, "already imported");
	/* Also when it is mounted elsewhere. */
	s = T.pool.spec;
	s.mountpoint = other = at("mnt-other");
	s.file = NULL;
	expect_error(ops->pool_import(&s, &e), -EEXIST, &e, "is already mounted");
	s.uuid = NULL;
	expect_error(ops->pool_import(&s, &e), -EEXIST, &e, "is already mounted");
	s.file = T.pool.spec.file;
	expect_error(ops->pool_import(&s, &e), -EEXIST, &e, "is already mounted");
	ASSERT_TRUE(access(other, F_OK) < 0 && errno == ENOENT);
	ASSERT_EQ(our_loop_devices(), 1);
	export_main();
}

/* Import the main pool by uuid (uuid set) or by label, its file attached by hand. */
static void
import_by_device(bool by_uuid)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *dev = NULL, *uuid = strdup(T.pool.spec.uuid);
	struct hv_pool_spec s = T.pool.spec;
	int fd = -EBADF;

	ASSERT_OK(hv_loop_attach(T.pool.spec.file, &dev, &fd, &e));
	T.loop_fds[T.n_loop_fds++] = fd;
	s.file = NULL;
	s.uuid = by_uuid ? strdup(uuid) : NULL;
	s.quota_mode = HV_QUOTA_NONE;
	ASSERT_OK(ops->pool_import(&s, &e));
	close_loop_fds(); /* the mount holds the device now */
	ASSERT_STREQ(s.uuid, uuid);
	ASSERT_EQ(s.quota_mode, T.mode);
	free(s.uuid);
	ASSERT_EQ(ops->pool_is_imported(&T.pool.spec, &e), 1);
	export_main();
}

TEST(import_by_uuid)
{
	setup(true);
	import_by_device(true);
}

TEST(import_by_label)
{
	setup(true);
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_pool_spec s;

	import_by_device(false);
	s = T.pool.spec;
	s.name = "sable-no-such-pool";
	s.file = s.uuid = NULL;
	expect_error(ops->pool_import(&s, &e), -ENOENT, &e,
	             "no pool named 'sable-no-such-pool' found");
	s.uuid = "01234567-89ab-cdef-0123-456789abcdef";
	expect_error(ops->pool_import(&s, &e), -ENOENT, &e, "no pool with uuid");
}

TEST(duplicate_label)
{
	setup(true);
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *dev1 = NULL, *dev2 = NULL, *file = NULL;
	struct hv_pool nq = {.ops = ops, .lock_fd = -EBADF};
	struct hv_space sp = {.path = T.dir, .group = G1};
	struct hv_pool_spec s = {
	        .name = T.label,
	        .mountpoint = at("mnt2"),
	        .file = at("pool2.img"),
	        .file_size = 200 * MiB,
	        .quota_mode = HV_QUOTA_NONE,
	};
	int r;

	ASSERT_OK(ops->pool_create(&s, &e));
	ASSERT_EQ(s.quota_mode, HV_QUOTA_NONE);
	/* Without quotas: groups are no-ops, limits unsupported, space unknown. */
	nq.spec = s;
	ASSERT_OK(ops->group_create(&nq, G1, &e));
	ASSERT_OK(ops->group_limit(&nq, G1, 0, &e));
	expect_error(ops->group_limit(&nq, G1, MiB, &e), -EOPNOTSUPP, &e, "has no quotas");
	ASSERT_OK(ops->space(&nq, &sp, 1, &e));
	ASSERT_UEQ(sp.used, UINT64_MAX);
	ASSERT_UEQ(sp.refer, UINT64_MAX);
	ASSERT_OK(ops->group_destroy(&nq, G1, &e));
	ASSERT_OK(ops->pool_export(&s, &e));
	ASSERT_OK(hv_loop_attach(T.pool.spec.file, &dev1, &T.loop_fds[T.n_loop_fds++], &e));
	ASSERT_OK(hv_loop_attach(s.file, &dev2, &T.loop_fds[T.n_loop_fds++], &e));
	free(s.uuid);
	s.uuid = NULL;
	file = TAKE_PTR(s.file); /* by label */
	r = ops->pool_import(&s, &e);
	expect_error(r, -ENOTUNIQ, &e, "more than one filesystem");
	ASSERT_CONTAINS(e->msg, dev1);
	ASSERT_CONTAINS(e->msg, dev2);
	close_loop_fds();
	ASSERT_EQ(wait_loops_gone(), 0);
	free(s.mountpoint);
}

TEST(raid1)
{
	setup(false);
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *f1 = at("r1.img"), *f2 = at("r2.img"), *d1 = NULL, *d2 = NULL,
	                    *mnt = at("mnt3"), *sub = at("mnt3/x"), *clone = at("mnt3/y"),
	                    *snap = at("mnt3/x@s"), *data = at("mnt3/x/data"), *sys = NULL,
	                    *v = NULL;
	const uint64_t g1[] = {G1}, g2[] = {G2};
	struct hv_pool rp = {.ops = ops, .lock_fd = -EBADF};
	struct hv_pool_status st = {};
	char *devices[3] = {}, label[64];
	int fd;

	snprintf(label, sizeof(label), "%s-raid1", T.label);
	for (int i = 0; i < 2; i++) {
		fd = open(i ? f2 : f1, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		ASSERT_TRUE(fd >= 0);
		ASSERT_OK(ftruncate(fd, (off_t)(256 * MiB)));
		close(fd);
	}
	ASSERT_OK(hv_loop_attach(f1, &d1, &T.loop_fds[T.n_loop_fds++], &e));
	ASSERT_OK(hv_loop_attach(f2, &d2, &T.loop_fds[T.n_loop_fds++], &e));
	devices[0] = d1;
	devices[1] = d2;
	rp.spec = (struct hv_pool_spec){.name = label,
	                                .mountpoint = mnt,
	                                .devices = devices,
	                                .raid1 = true,
	                                .quota_mode = HV_QUOTA_FULL};
	ASSERT_OK(ops->pool_create(&rp.spec, &e));
	ASSERT_EQ(rp.spec.quota_mode, HV_QUOTA_FULL);
	ASSERT_OK(ops->pool_status(&rp, &st, &e));
	ASSERT_STREQ(st.profile, "raid1");
	ASSERT_STREQ(st.health, "ONLINE");
	ASSERT_EQ(st.n_devices, 2);
	ASSERT_EQ(st.quota_mode, HV_QUOTA_FULL);
	free(st.health);
	free(st.profile);
	for (size_t i = 0; i < st.n_devices; i++)
		free(st.devices[i].path);
	free(st.devices);

	/* Full qgroups: a clone in another group than its source's. */
	ASSERT_OK(ops->group_create(&rp, G1, &e));
	ASSERT_OK(ops->group_create(&rp, G2, &e));
	ASSERT_OK(ops->subvol_create(&rp, sub, g1, 1, &e));
	ASSERT_OK(write_pattern(data, 4 * MiB, 7));
	ASSERT_OK(ops->subvol_snapshot(&rp, sub, snap, true, NULL, g1, 1, &e));
	ASSERT_OK(ops->subvol_snapshot(&rp, snap, clone, false, NULL, g2, 1, &e));
	/* That made the numbers inconsistent: the backend started a rescan, which fixes them. */
	fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	ASSERT_OK(ioctl(fd, BTRFS_IOC_QUOTA_RESCAN_WAIT));
	close(fd);
	ASSERT_OK(asprintf(&sys, "/sys/fs/btrfs/%s/qgroups/inconsistent", rp.spec.uuid));
	ASSERT_OK(read_one_line_file(sys, &v));
	ASSERT_STREQ(v, "0");
	ASSERT_OK(ops->group_limit(&rp, G2, 64 * MiB, &e));
	ASSERT_OK(ops->pool_export(&rp.spec, &e));

	/* The devices hold a filesystem now: mkfs must not overwrite it. */
	free(rp.spec.uuid);
	rp.spec.uuid = NULL;
	expect_error(ops->pool_create(&rp.spec, &e), -EIO, &e, "wipefs -a");
	ASSERT_CONTAINS(e->msg, "existing filesystem");
	ASSERT_EQ(ops->pool_is_imported(&rp.spec, &e), 0);
	close_loop_fds();
	ASSERT_EQ(wait_loops_gone(), 0);
}

TEST(bad_inputs)
{
	setup(true);
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *mnt = at("mnt4"), *tiny = at("tiny.img"), *dev = NULL;
	int fd = -EBADF;
	char *missing[] = {"/dev/sable-no-such-device", NULL};
	char *one[] = {"/dev/null", NULL};
	struct hv_pool_spec s = {
	        .name = "sabletest-bad", .mountpoint = mnt, .quota_mode = HV_QUOTA_AUTO};

	/* An existing file is never overwritten (nor removed). */
	s.file = T.pool.spec.file;
	s.file_size = 300 * MiB;
	expect_error(ops->pool_create(&s, &e), -EEXIST, &e, "already exists");
	ASSERT_OK(access(T.pool.spec.file, F_OK));
	/* Too small for mkfs.btrfs: its reason, and the file we made is gone. */
	s.file = tiny;
	s.file_size = 16 * MiB;
	expect_error(ops->pool_create(&s, &e), -EIO, &e, "too small");
	ASSERT_TRUE(access(tiny, F_OK) < 0 && errno == ENOENT);
	s.file = NULL;
	s.devices = missing;
	expect_error(ops->pool_create(&s, &e), -ENOENT, &e, "'/dev/sable-no-such-device'");
	s.devices = one;
	expect_error(ops->pool_create(&s, &e), -ENOTBLK, &e, "not a block device");
	s.raid1 = true;
	expect_error(ops->pool_create(&s, &e), -EINVAL, &e, "raid1 needs at least two devices");
	ASSERT_TRUE(access(mnt, F_OK) < 0 && errno == ENOENT);
	expect_error(hv_loop_attach(tiny, &dev, &fd, &e), -ENOENT, &e, "tiny.img'");
	expect_error(hv_btrfs_scan_device(tiny, &e), -ENOENT, &e, "tiny.img'");
	ASSERT_EQ(wait_loops_gone(), 0);
}

TEST(nothing_left)
{
	setup(false);
	_cleanup_strv_free_ char **mounts = NULL;

	cleanup_all();
	ASSERT_OK(hv_mounts_below(T.dir, &mounts));
	ASSERT_EQ(strv_length(mounts), 0);
	ASSERT_EQ(our_loop_devices(), 0);
	free(T.pool.spec.file);
	free(T.pool.spec.mountpoint);
	T.pool.spec.file = T.pool.spec.mountpoint = NULL;
	for (size_t i = 0; i < ELEMENTSOF(known); i++) {
		free(known[i]);
		known[i] = NULL;
	}
}
