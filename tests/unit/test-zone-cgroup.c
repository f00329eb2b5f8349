/* SPDX-License-Identifier: MIT */
/*
 * The zone cgroup layer. The translation tests (limits → files, mountinfo →
 * layout) are pure and run anywhere; the rest needs root and creates zone
 * cgroups under a prefix unique to this run ("sbt" + pid digits), puts
 * forked children into them and checks what the kernel enforces: limits
 * read back, membership in every hierarchy, OOM, pids.max, the CFS quota,
 * the devices controller and the BPF device filter, kill_all, destroy and
 * the cgroup id. Written for this hybrid host (v1 controllers plus a
 * controller-less cgroup2); on a host without v1 controllers the v1 tests
 * skip and the v2-node tests (BPF, kill, destroy, id) still run.
 *
 * The test process is a child subreaper, so every process a test starts
 * ends up reaped here. An exit handler (and the last test) kills whatever
 * is left in the prefix's cgroups, reaps it and removes every directory
 * under the prefix in every hierarchy.
 */
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/parse.h"
#include "basic/time-util.h"
#include "zone/zone-cgroup-internal.h"
#include "tests.h"

#define MiB (UINT64_C(1) << 20)

static struct {
	char prefix[16];
	bool atexit_set;
	char blockdev[300]; /* a block device the test process can open, or "" */
} T;

/* ---- helpers ---- */

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	(void)nanosleep(&ts, NULL);
}

static int
rmdir_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP)
		(void)rmdir(path);
	return 0;
}

static int
thaw_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP)
		(void)hv_cgroup_write_file(path, "freezer.state", "THAWED", NULL);
	return 0;
}

/* Reap children (our own and orphans, as subreaper) until none is left or timeout_ms passes. */
static unsigned
reap_all(unsigned timeout_ms)
{
	unsigned reaped = 0, waited = 0;

	for (;;) {
		pid_t p = waitpid(-1, NULL, WNOHANG);

		if (p > 0) {
			reaped++;
			continue;
		}
		if (p < 0 || waited >= timeout_ms)
			return reaped;
		sleep_ms(10);
		waited += 10;
	}
}

/* Kill and remove everything under our prefix, in every hierarchy. */
static void
cleanup_prefix(void)
{
	struct hv_cgroup_mounts m = {};
	char dir[512];

	if (!T.prefix[0] || geteuid() != 0 || hv_cgroup_mounts_read(&m, NULL) < 0)
		return;
	if (m.v2) {
		snprintf(dir, sizeof(dir), "%s/%s", m.v2, T.prefix);
		(void)hv_cgroup_write_file(dir, "cgroup.kill", "1", NULL);
		(void)hv_cgroup_tree_kill(dir, NULL, NULL);
	}
	for (size_t i = 0; i < m.n_v1; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", m.v1[i].mount, T.prefix);
		if (m.v1[i].mask & (1u << HV_CG_FREEZER))
			(void)nftw(dir, thaw_cb, 16, FTW_DEPTH | FTW_PHYS);
		(void)hv_cgroup_tree_kill(dir, NULL, NULL);
	}
	(void)reap_all(5000);
	if (m.v2) {
		snprintf(dir, sizeof(dir), "%s/%s", m.v2, T.prefix);
		(void)nftw(dir, rmdir_cb, 16, FTW_DEPTH | FTW_PHYS);
	}
	for (size_t i = 0; i < m.n_v1; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", m.v1[i].mount, T.prefix);
		(void)nftw(dir, rmdir_cb, 16, FTW_DEPTH | FTW_PHYS);
	}
	hv_cgroup_mounts_done(&m);
}

static void
need_root(void)
{
	if (geteuid() != 0)
		SKIP("needs root (creates cgroups)");
	if (!T.atexit_set) {
		ASSERT_OK(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
		atexit(cleanup_prefix);
		T.atexit_set = true;
	}
}

static struct hv_cgroup *
make(const char *name)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_cgroup *cg = NULL;
	int r;

	need_root();
	r = hv_cgroup_create(T.prefix, name, &cg, &e);
	if (r < 0)
		tests_fail(__FILE__, __LINE__, "create '%s': %s", name, hv_error_message(e, r));
	return cg;
}

static void
hv_cgroup_freep(struct hv_cgroup **cg)
{
	*cg = hv_cgroup_free(*cg);
}
#define _cleanup_cg_ _cleanup_(hv_cgroup_freep)

/*
 * Skips come before anything is allocated: SKIP() jumps out of the test,
 * past the cleanup of its variables.
 */
static void
need_v1(const char *controller)
{
	static char why[128];
	struct hv_cgroup_mounts m = {};
	bool found = false;

	need_root();
	ASSERT_OK(hv_cgroup_mounts_read(&m, NULL));
	if (hv_cgroup_mounts_layout(&m) == HV_CGROUP_V1)
		for (size_t i = 0; i < m.n_v1; i++)
			for (unsigned c = 0; c < _HV_CG_MAX; c++)
				if ((m.v1[i].mask & (1u << c)) &&
				    streq(hv_cgroup_controller_to_string(c), controller))
					found = true;
	hv_cgroup_mounts_done(&m);
	if (!found) {
		snprintf(why, sizeof(why),
		         "no v1 '%s' controller mounted (a pure cgroup v2 host): v1 only",
		         controller);
		SKIP(why);
	}
}

static void
need_v2_node(void)
{
	struct hv_cgroup_mounts m = {};
	bool found;

	need_root();
	ASSERT_OK(hv_cgroup_mounts_read(&m, NULL));
	found = m.v2 != NULL;
	hv_cgroup_mounts_done(&m);
	if (!found)
		SKIP("no cgroup2 filesystem mounted (kernel or host without cgroup2)");
}

static char *
read_line(const char *dir, const char *file)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	char *s = NULL;
	int r;

	r = hv_cgroup_read_file(dir, file, &s, &e);
	if (r < 0)
		tests_fail(__FILE__, __LINE__, "%s", hv_error_message(e, r));
	return s;
}

static void
assert_file(const char *dir, const char *file, const char *want)
{
	_cleanup_free_ char *s = read_line(dir, file);

	if (!streq(s, want))
		tests_fail(__FILE__, __LINE__, "%s/%s: '%s', expected '%s'", dir, file, s, want);
}

static void
set_limits_ok(struct hv_cgroup *cg, const struct hv_zone_limits *l)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r = hv_cgroup_set_limits(cg, l, &e);

	if (r < 0)
		tests_fail(__FILE__, __LINE__, "set_limits: %s", hv_error_message(e, r));
}

/* A forked child that waits for "go" and then runs fn; fn's result is its exit code. */
struct kid {
	pid_t pid;
	int go;  /* we write one byte to start it */
	int out; /* what it reports */
};

static void
kid_start(struct kid *k, int (*fn)(int out, void *u), void *u)
{
	int go[2], out[2];
	pid_t pid;

	ASSERT_OK(pipe2(go, O_CLOEXEC));
	ASSERT_OK(pipe2(out, O_CLOEXEC));
	pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		char c;

		close(go[1]);
		close(out[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(100);
		_exit(fn(out[1], u));
	}
	close(go[0]);
	close(out[1]);
	*k = (struct kid){.pid = pid, .go = go[1], .out = out[0]};
}

static void
kid_go(struct kid *k)
{
	ASSERT_EQ(write(k->go, "g", 1), 1);
}

/* What the kid reported (one write), NUL-terminated. */
static void
kid_read(struct kid *k, char *buf, size_t size)
{
	ssize_t n = read(k->out, buf, size - 1);

	ASSERT_TRUE(n > 0);
	buf[n] = 0;
}

/* Its wait status (-1 if it was reaped elsewhere); SIGKILL after timeout_ms. */
static int
kid_wait(struct kid *k, unsigned timeout_ms)
{
	int status = -1;

	for (unsigned waited = 0;; waited += 10) {
		pid_t p = waitpid(k->pid, &status, WNOHANG);

		if (p == k->pid)
			break;
		if (p < 0) {
			status = -1;
			break;
		}
		if (waited >= timeout_ms)
			(void)kill(k->pid, SIGKILL);
		sleep_ms(10);
	}
	k->go = safe_close(k->go);
	k->out = safe_close(k->out);
	k->pid = 0;
	return status;
}

static void
attach_ok(struct hv_cgroup *cg, pid_t pid)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r = hv_cgroup_attach(cg, pid, &e);

	if (r < 0)
		tests_fail(__FILE__, __LINE__, "attach: %s", hv_error_message(e, r));
}

static void
kill_reap_destroy(struct hv_cgroup *cg)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	unsigned n = 1;
	int r;

	ASSERT_OK(hv_cgroup_kill_all(cg, &e));
	for (unsigned i = 0; i < 500 && n > 0; i++) {
		(void)reap_all(0);
		ASSERT_OK(hv_cgroup_count_procs(cg, &n, &e));
		if (n > 0)
			sleep_ms(10);
	}
	(void)reap_all(0);
	ASSERT_EQ(n, 0);
	r = hv_cgroup_destroy(cg, &e);
	if (r < 0)
		tests_fail(__FILE__, __LINE__, "destroy: %s", hv_error_message(e, r));
}

/* ---- pure translations ---- */

static char *
values_err(const struct hv_zone_limits *l)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_cgroup_values v;

	if (hv_cgroup_values_from_limits(l, &v, &e) != -EINVAL)
		tests_fail(__FILE__, __LINE__, "expected -EINVAL");
	return strdup(e->msg);
}

TEST(bad_values_name_the_property)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *f = NULL, *g = NULL;
	struct hv_cgroup_values v;

	a = values_err(&(struct hv_zone_limits){.memory = 1000});
	ASSERT_CONTAINS(a, "max_physical_memory: expected at least 1048576 bytes");
	b = values_err(&(struct hv_zone_limits){.swap = 64 * MiB});
	ASSERT_CONTAINS(b, "max_swap: expected max_physical_memory to be set too");
	c = values_err(&(struct hv_zone_limits){.memory = 64 * MiB, .swap = 32 * MiB});
	ASSERT_CONTAINS(c, "max_swap: expected at least max_physical_memory");
	d = values_err(&(struct hv_zone_limits){.cpu_shares = 70000});
	ASSERT_CONTAINS(d, "cpu_shares: expected 1..65535");
	f = values_err(&(struct hv_zone_limits){.max_lwps = 5000000});
	ASSERT_CONTAINS(f, "max_lwps: expected at most 4194304");
	g = values_err(&(struct hv_zone_limits){.io_priority = 1001});
	ASSERT_CONTAINS(g, "zfs_io_priority: expected 1..1000");

	/* Zero is "no limit" (memory, swap, cap, lwps) or the default (shares, io). */
	ASSERT_OK(hv_cgroup_values_from_limits(&(struct hv_zone_limits){}, &v, NULL));
	ASSERT_UEQ(v.memory, HV_CGROUP_NO_LIMIT);
	ASSERT_UEQ(v.memsw, HV_CGROUP_NO_LIMIT);
	ASSERT_UEQ(v.cpu_quota_us, HV_CGROUP_NO_LIMIT);
	ASSERT_UEQ(v.pids, HV_CGROUP_NO_LIMIT);
	ASSERT_EQ(v.shares, 100);
	ASSERT_EQ(v.io_weight, 100);
	/* Any cap fits the kernel's quota range. */
	ASSERT_OK(hv_cgroup_values_from_limits(&(struct hv_zone_limits){.cpu_cap = UINT32_MAX}, &v,
	                                       NULL));
	ASSERT_UEQ(v.cpu_quota_us, (uint64_t)UINT32_MAX * 1000);
	/* locked and tmpfs are not cgroup knobs. */
	ASSERT_OK(hv_cgroup_values_from_limits(&(struct hv_zone_limits){.locked = 1, .tmpfs = 1},
	                                       &v, NULL));
}

TEST(share_and_weight_scales)
{
	ASSERT_EQ(hv_cgroup_v1_cpu_shares(100), 1024);
	ASSERT_EQ(hv_cgroup_v1_cpu_shares(50), 512);
	ASSERT_EQ(hv_cgroup_v1_cpu_shares(1), 10);
	ASSERT_EQ(hv_cgroup_v1_cpu_shares(65535), 262144);
	ASSERT_EQ(hv_cgroup_v2_cpu_weight(100), 100);
	ASSERT_EQ(hv_cgroup_v2_cpu_weight(1), 1);
	ASSERT_EQ(hv_cgroup_v2_cpu_weight(250), 250);
	ASSERT_EQ(hv_cgroup_v2_cpu_weight(65535), 10000);
	ASSERT_EQ(hv_cgroup_v1_blkio_weight(1), 10);
	ASSERT_EQ(hv_cgroup_v1_blkio_weight(500), 500);
	ASSERT_EQ(hv_cgroup_v1_blkio_weight(1000), 1000);
}

static const struct hv_cgroup_write *
find_write(const struct hv_cgroup_write *plan, size_t n, const char *file)
{
	for (size_t i = 0; i < n; i++)
		if (streq(plan[i].file, file))
			return &plan[i];
	tests_fail(__FILE__, __LINE__, "no write of %s in the plan", file);
}

static void
assert_write(const struct hv_cgroup_write *plan, size_t n, const char *file, const char *value,
             bool optional)
{
	const struct hv_cgroup_write *w = find_write(plan, n, file);

	if (!streq(w->value, value) || w->optional != optional)
		tests_fail(__FILE__, __LINE__, "%s: '%s'%s, expected '%s'%s", file, w->value,
		           w->optional ? " (optional)" : "", value, optional ? " (optional)" : "");
}

TEST(v2_plan)
{
	struct hv_cgroup_write plan[HV_CGROUP_PLAN_MAX];
	struct hv_cgroup_values v;
	size_t n;

	ASSERT_OK(hv_cgroup_values_from_limits(&(struct hv_zone_limits){.memory = 64 * MiB,
	                                                                .swap = 96 * MiB,
	                                                                .cpu_cap = 20,
	                                                                .cpu_shares = 200,
	                                                                .max_lwps = 100,
	                                                                .io_priority = 300},
	                                       &v, NULL));
	n = hv_cgroup_v2_plan(&v, plan);
	assert_write(plan, n, "memory.max", "67108864", false);
	assert_write(plan, n, "memory.swap.max", "33554432", true); /* swap - memory */
	assert_write(plan, n, "cpu.max", "20000 100000", false);
	assert_write(plan, n, "cpu.weight", "200", false);
	assert_write(plan, n, "pids.max", "100", false);
	assert_write(plan, n, "io.weight", "300", true);
	assert_write(plan, n, "io.bfq.weight", "300", true);
	ASSERT_STREQ(find_write(plan, n, "memory.swap.max")->property, "max_swap");

	/* Everything removed: "max", and optional, so a missing controller is no error. */
	ASSERT_OK(hv_cgroup_values_from_limits(&(struct hv_zone_limits){}, &v, NULL));
	n = hv_cgroup_v2_plan(&v, plan);
	assert_write(plan, n, "memory.max", "max", true);
	assert_write(plan, n, "memory.swap.max", "max", true);
	assert_write(plan, n, "cpu.max", "max 100000", true);
	assert_write(plan, n, "cpu.weight", "100", true);
	assert_write(plan, n, "pids.max", "max", true);
	assert_write(plan, n, "io.weight", "100", true);

	/* Swap equal to memory: no swap at all. */
	ASSERT_OK(hv_cgroup_values_from_limits(
	        &(struct hv_zone_limits){.memory = 64 * MiB, .swap = 64 * MiB}, &v, NULL));
	n = hv_cgroup_v2_plan(&v, plan);
	assert_write(plan, n, "memory.swap.max", "0", true);
	/* Shares above cpu.weight's range are clamped. */
	ASSERT_OK(hv_cgroup_values_from_limits(&(struct hv_zone_limits){.cpu_shares = 50000}, &v,
	                                       NULL));
	n = hv_cgroup_v2_plan(&v, plan);
	assert_write(plan, n, "cpu.weight", "10000", false);
}

static size_t
index_of(const struct hv_cgroup_write *plan, size_t n, const char *file)
{
	return (size_t)(find_write(plan, n, file) - plan);
}

TEST(v1_plan_keeps_memsw_above_memory)
{
	struct hv_cgroup_write plan[HV_CGROUP_PLAN_MAX];
	struct hv_cgroup_values v;
	size_t n;

	ASSERT_OK(hv_cgroup_values_from_limits(&(struct hv_zone_limits){.memory = 128 * MiB,
	                                                                .swap = 256 * MiB,
	                                                                .cpu_cap = 50,
	                                                                .cpu_shares = 200,
	                                                                .max_lwps = 100,
	                                                                .io_priority = 5},
	                                       &v, NULL));
	/* Raising memory above the current memsw (64 MiB): memsw first. */
	n = hv_cgroup_v1_plan(&v, 64 * MiB, plan);
	ASSERT_TRUE(index_of(plan, n, "memory.memsw.limit_in_bytes") <
	            index_of(plan, n, "memory.limit_in_bytes"));
	/* Staying below the current memsw (512 MiB), or not knowing it: memory first. */
	n = hv_cgroup_v1_plan(&v, 512 * MiB, plan);
	ASSERT_TRUE(index_of(plan, n, "memory.limit_in_bytes") <
	            index_of(plan, n, "memory.memsw.limit_in_bytes"));
	n = hv_cgroup_v1_plan(&v, UINT64_MAX, plan);
	ASSERT_TRUE(index_of(plan, n, "memory.limit_in_bytes") <
	            index_of(plan, n, "memory.memsw.limit_in_bytes"));

	assert_write(plan, n, "memory.limit_in_bytes", "134217728", false);
	assert_write(plan, n, "memory.memsw.limit_in_bytes", "268435456", true);
	assert_write(plan, n, "cpu.cfs_period_us", "100000", false);
	assert_write(plan, n, "cpu.cfs_quota_us", "50000", false);
	ASSERT_TRUE(index_of(plan, n, "cpu.cfs_period_us") < index_of(plan, n, "cpu.cfs_quota_us"));
	assert_write(plan, n, "cpu.shares", "2048", false);
	assert_write(plan, n, "pids.max", "100", false);
	assert_write(plan, n, "blkio.weight", "10", true); /* clamped to 10..1000 */
	assert_write(plan, n, "blkio.bfq.weight", "5", true);
	ASSERT_EQ(find_write(plan, n, "pids.max")->controller, HV_CG_PIDS);

	ASSERT_OK(hv_cgroup_values_from_limits(&(struct hv_zone_limits){}, &v, NULL));
	n = hv_cgroup_v1_plan(&v, 64 * MiB, plan);
	/* Removing the memory limit (-1 is above any memsw): memsw goes first. */
	ASSERT_TRUE(index_of(plan, n, "memory.memsw.limit_in_bytes") <
	            index_of(plan, n, "memory.limit_in_bytes"));
	assert_write(plan, n, "memory.limit_in_bytes", "-1", true);
	assert_write(plan, n, "memory.memsw.limit_in_bytes", "-1", true);
	assert_write(plan, n, "cpu.cfs_quota_us", "-1", true);
	assert_write(plan, n, "cpu.shares", "1024", true);
	assert_write(plan, n, "pids.max", "max", true);
}

TEST(mountinfo_layouts)
{
	struct hv_cgroup_mounts m = {};
	char hybrid[] = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	                "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:5 - cgroup "
	                "cgroup rw,cpu,cpuacct\n"
	                "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
	                "40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup "
	                "rw,xattr,name=systemd\n"
	                "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n"
	                "42 31 0:32 / /mnt/mem\\040again rw - cgroup cgroup rw,memory\n"
	                "43 31 0:40 / /sys/fs/cgroup/net_cls rw - cgroup cgroup rw,net_cls\n"
	                "garbage\n";
	char pure[] = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"
	              "44 30 0:40 / /sys/fs/cgroup/net_cls rw - cgroup cgroup rw,net_cls\n"
	              "45 30 0:41 / /run/systemd/x rw - cgroup cgroup rw,name=systemd\n";
	char escaped[] = "50 1 0:50 / /cg\\040v2 rw - cgroup2 none rw\n";
	char none[] = "1 0 8:1 / / rw - ext4 /dev/vda rw\n";

	ASSERT_OK(hv_cgroup_mounts_parse(hybrid, &m));
	ASSERT_EQ(hv_cgroup_mounts_layout(&m), HV_CGROUP_V1);
	ASSERT_STREQ(m.v2, "/sys/fs/cgroup/unified");
	ASSERT_EQ(m.n_v1, 3); /* cpu+cpuacct, memory, name=systemd; not the second memory mount */
	ASSERT_STREQ(m.v1[0].mount, "/sys/fs/cgroup/cpu,cpuacct");
	ASSERT_EQ(m.v1[0].mask, 1u << HV_CG_CPU | 1u << HV_CG_CPUACCT);
	ASSERT_STREQ(m.v1[1].mount, "/sys/fs/cgroup/memory");
	ASSERT_EQ(m.v1[2].mask, 1u << HV_CG_SYSTEMD);
	hv_cgroup_mounts_done(&m);

	/* A stray v1 hierarchy (name=systemd) does not make a v2 host v1. */
	ASSERT_OK(hv_cgroup_mounts_parse(pure, &m));
	ASSERT_EQ(hv_cgroup_mounts_layout(&m), HV_CGROUP_V2);
	ASSERT_STREQ(m.v2, "/sys/fs/cgroup");
	ASSERT_EQ(m.n_v1, 1);
	hv_cgroup_mounts_done(&m);

	ASSERT_OK(hv_cgroup_mounts_parse(escaped, &m));
	ASSERT_STREQ(m.v2, "/cg v2");
	hv_cgroup_mounts_done(&m);

	ASSERT_OK(hv_cgroup_mounts_parse(none, &m));
	ASSERT_EQ(hv_cgroup_mounts_layout(&m), _HV_CGROUP_LAYOUT_INVALID);
	hv_cgroup_mounts_done(&m);

	ASSERT_STREQ(hv_cgroup_layout_to_string(HV_CGROUP_V1), "v1");
	ASSERT_STREQ(hv_cgroup_layout_to_string(HV_CGROUP_V2), "v2");
	ASSERT_TRUE(hv_cgroup_layout_to_string(_HV_CGROUP_LAYOUT_INVALID) == NULL);
}

/* ---- against the kernel ---- */

TEST(detect)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	enum hv_cgroup_layout l;
	struct stat st;

	ASSERT_OK(hv_cgroup_detect(&l, &e));
	/* This machine's layout: v1 memory beside a controller-less cgroup2. */
	if (stat("/sys/fs/cgroup/memory/memory.limit_in_bytes", &st) == 0)
		ASSERT_EQ(l, HV_CGROUP_V1);
	else if (stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0)
		ASSERT_EQ(l, HV_CGROUP_V2);
}

TEST(create_open_paths)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_cg_ struct hv_cgroup *cg = NULL, *again = NULL, *opened = NULL, *missing = NULL;
	struct hv_cgroup_mounts m = {};
	char want[512];
	struct stat st;

	need_root();
	ASSERT_ERR(hv_cgroup_open(T.prefix, "main", &missing, &e), -ENOENT);
	ASSERT_CONTAINS(e->msg, "main");
	cg = make("main");
	ASSERT_OK(hv_cgroup_create(T.prefix, "main", &again, &e)); /* idempotent */
	ASSERT_OK(hv_cgroup_open(T.prefix, "main", &opened, &e));
	ASSERT_UEQ(hv_cgroup_id(opened), hv_cgroup_id(cg));

	ASSERT_OK(hv_cgroup_mounts_read(&m, NULL));
	if (hv_cgroup_layout(cg) == HV_CGROUP_V1)
		for (size_t i = 0; i < m.n_v1; i++)
			for (unsigned c = 0; c < _HV_CG_MAX; c++) {
				if (!(m.v1[i].mask & (1u << c)))
					continue;
				snprintf(want, sizeof(want), "%s/%s/main", m.v1[i].mount, T.prefix);
				ASSERT_STREQ(hv_cgroup_path(cg, hv_cgroup_controller_to_string(c)),
				             want);
				ASSERT_OK(stat(want, &st));
				ASSERT_TRUE(S_ISDIR(st.st_mode));
			}
	if (m.v2) {
		snprintf(want, sizeof(want), "%s/%s/main", m.v2, T.prefix);
		ASSERT_STREQ(hv_cgroup_path(cg, NULL), want);
		ASSERT_OK(stat(want, &st));
	}
	hv_cgroup_mounts_done(&m);

	ASSERT_ERR(hv_cgroup_create(T.prefix, "../etc", &missing, &e), -EINVAL);
	ASSERT_CONTAINS(e->msg, "zone cgroup name '../etc'");
	ASSERT_ERR(hv_cgroup_create("Bad", "x", &missing, &e), -EINVAL);
	ASSERT_CONTAINS(e->msg, "cgroup prefix 'Bad'");
	ASSERT_ERR(hv_cgroup_create(T.prefix, "", &missing, &e), -EINVAL);
	kill_reap_destroy(cg);
}

TEST(limits_read_back)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_cg_ struct hv_cgroup *cg = NULL;
	const char *mem, *cpu, *pids, *blkio;
	char p[512];
	bool memsw, bfq;

	need_v1("memory");
	cg = make("limits");
	mem = hv_cgroup_path(cg, "memory");
	cpu = hv_cgroup_path(cg, "cpu");
	pids = hv_cgroup_path(cg, "pids");
	blkio = hv_cgroup_path(cg, "blkio");
	/* Both exist only when the kernel has them (swap accounting, BFQ). */
	snprintf(p, sizeof(p), "%s/memory.memsw.limit_in_bytes", mem);
	memsw = access(p, F_OK) == 0;
	snprintf(p, sizeof(p), "%s/blkio.bfq.weight", strempty(blkio));
	bfq = blkio && access(p, F_OK) == 0;

	set_limits_ok(cg, &(struct hv_zone_limits){.memory = 64 * MiB,
	                                           .swap = 96 * MiB,
	                                           .cpu_cap = 50,
	                                           .cpu_shares = 200,
	                                           .max_lwps = 100,
	                                           .io_priority = 500,
	                                           .locked = 1,
	                                           .tmpfs = 1});
	assert_file(mem, "memory.limit_in_bytes", "67108864");
	if (memsw)
		assert_file(mem, "memory.memsw.limit_in_bytes", "100663296");
	assert_file(cpu, "cpu.cfs_period_us", "100000");
	assert_file(cpu, "cpu.cfs_quota_us", "50000");
	assert_file(cpu, "cpu.shares", "2048");
	assert_file(pids, "pids.max", "100");
	if (bfq)
		assert_file(blkio, "blkio.bfq.weight", "500");

	/* Lower memory below the current memsw, then raise both past it. */
	set_limits_ok(cg, &(struct hv_zone_limits){.memory = 32 * MiB, .swap = 32 * MiB});
	assert_file(mem, "memory.limit_in_bytes", "33554432");
	if (memsw)
		assert_file(mem, "memory.memsw.limit_in_bytes", "33554432");
	assert_file(cpu, "cpu.cfs_quota_us", "-1");
	assert_file(cpu, "cpu.shares", "1024");
	assert_file(pids, "pids.max", "max");
	set_limits_ok(cg, &(struct hv_zone_limits){.memory = 128 * MiB, .swap = 256 * MiB});
	assert_file(mem, "memory.limit_in_bytes", "134217728");
	if (memsw)
		assert_file(mem, "memory.memsw.limit_in_bytes", "268435456");
	set_limits_ok(cg, &(struct hv_zone_limits){.memory = 128 * MiB});
	if (memsw)
		assert_file(mem, "memory.memsw.limit_in_bytes", "9223372036854771712");

	/* All removed. */
	set_limits_ok(cg, &(struct hv_zone_limits){});
	assert_file(mem, "memory.limit_in_bytes", "9223372036854771712");
	if (bfq)
		assert_file(blkio, "blkio.bfq.weight", "100");

	/* A bad value names the property and changes nothing. */
	ASSERT_ERR(hv_cgroup_set_limits(cg, &(struct hv_zone_limits){.memory = 64 * MiB, .swap = 1},
	                                &e),
	           -EINVAL);
	ASSERT_CONTAINS(e->msg, "max_swap");
	ASSERT_STREQ(e->path, "max_swap");
	assert_file(mem, "memory.limit_in_bytes", "9223372036854771712");
	kill_reap_destroy(cg);
}

/* On a v2 host: what this host's delegation allows is read back; a missing controller is named. */
TEST(v2_limits)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_cg_ struct hv_cgroup *cg = NULL;
	enum hv_cgroup_layout l;
	const char *dir;
	char p[512];

	need_root();
	ASSERT_OK(hv_cgroup_detect(&l, NULL));
	if (l != HV_CGROUP_V2)
		SKIP("v1/hybrid host: the v2 controllers (memory, cpu, pids, io) are bound to v1 "
		     "here; the v2 mapping is checked by v2_plan");
	cg = make("v2lim");
	dir = hv_cgroup_path(cg, NULL);
	/* Removing limits never needs a controller. */
	set_limits_ok(cg, &(struct hv_zone_limits){});
	snprintf(p, sizeof(p), "%s/memory.max", dir);
	if (access(p, F_OK) == 0) {
		set_limits_ok(cg, &(struct hv_zone_limits){.memory = 64 * MiB});
		assert_file(dir, "memory.max", "67108864");
	} else {
		ASSERT_ERR(
		        hv_cgroup_set_limits(cg, &(struct hv_zone_limits){.memory = 64 * MiB}, &e),
		        -EOPNOTSUPP);
		ASSERT_CONTAINS(e->msg, "max_physical_memory: cgroup '");
		ASSERT_CONTAINS(e->msg, "has no memory.max: the memory controller is not enabled");
	}
	snprintf(p, sizeof(p), "%s/cpu.max", dir);
	if (access(p, F_OK) == 0) {
		set_limits_ok(cg, &(struct hv_zone_limits){.cpu_cap = 20, .cpu_shares = 200});
		assert_file(dir, "cpu.max", "20000 100000");
		assert_file(dir, "cpu.weight", "200");
	}
	snprintf(p, sizeof(p), "%s/pids.max", dir);
	if (access(p, F_OK) == 0) {
		set_limits_ok(cg, &(struct hv_zone_limits){.max_lwps = 100});
		assert_file(dir, "pids.max", "100");
	}
	kill_reap_destroy(cg);
}

static int
wait_forever(int out, void *u)
{
	for (;;)
		pause();
	return 0;
}

TEST(attach_joins_every_hierarchy)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_cg_ struct hv_cgroup *cg = make("attach");
	_cleanup_free_ char *text = NULL;
	char path[64], want[64], *save = NULL;
	unsigned n, seen = 0, expected = 0;
	struct kid k;

	kid_start(&k, wait_forever, NULL);
	attach_ok(cg, k.pid);
	ASSERT_ERR(hv_cgroup_attach(cg, 0, &e), -EINVAL);

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)k.pid);
	snprintf(want, sizeof(want), "/%s/attach", T.prefix);
	ASSERT_OK(read_full_file(path, 64 * 1024, &text, NULL));
	for (unsigned c = 0; c < _HV_CG_MAX; c++)
		if (hv_cgroup_layout(cg) == HV_CGROUP_V1 &&
		    hv_cgroup_path(cg, hv_cgroup_controller_to_string(c)))
			expected |= 1u << c;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		/* "7:blkio:/sbt123/attach", "0::/sbt123/attach" */
		char *ctrls = strchr(l, ':'), *where = ctrls ? strchr(ctrls + 1, ':') : NULL;
		bool ours = false;

		ASSERT_TRUE(where);
		*where++ = 0;
		ctrls++;
		if (!*ctrls)
			ours = hv_cgroup_path(cg, NULL) != NULL;
		for (unsigned c = 0; c < _HV_CG_MAX; c++) {
			char *dup = strdup(ctrls), *s2 = NULL;

			for (char *t = strtok_r(dup, ",", &s2); t; t = strtok_r(NULL, ",", &s2))
				if (streq(t, hv_cgroup_controller_to_string(c)) &&
				    (expected & (1u << c))) {
					ours = true;
					seen |= 1u << c;
				}
			free(dup);
		}
		if (ours && !streq(where, want))
			tests_fail(__FILE__, __LINE__, "'%s' is in '%s', expected '%s'", ctrls,
			           where, want);
	}
	ASSERT_EQ(seen, expected);
	ASSERT_OK(hv_cgroup_count_procs(cg, &n, &e));
	ASSERT_EQ(n, 1);
	kill_reap_destroy(cg);
	(void)kid_wait(&k, 1000);
}

static int
alloc_past_limit(int out, void *u)
{
	size_t size = 256 * MiB;
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return 2;
	for (size_t i = 0; i < size; i += 4096)
		p[i] = 1;
	return 0; /* survived: the limit did not hold */
}

TEST(memory_limit_oom_kills_the_zone_only)
{
	_cleanup_cg_ struct hv_cgroup *cg = NULL;
	_cleanup_free_ char *oom = NULL, *p = NULL;
	struct kid k;
	int status;

	need_v1("memory");
	cg = make("oom");
	/* memory + swap = memory: the child cannot escape into swap either. */
	set_limits_ok(cg, &(struct hv_zone_limits){.memory = 32 * MiB, .swap = 32 * MiB});
	kid_start(&k, alloc_past_limit, NULL);
	attach_ok(cg, k.pid);
	kid_go(&k);
	status = kid_wait(&k, 30000);
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(WTERMSIG(status), SIGKILL);
	ASSERT_TRUE(asprintf(&p, "%s/memory.oom_control", hv_cgroup_path(cg, "memory")) > 0);
	ASSERT_OK(read_full_file(p, 4096, &oom, NULL));
	ASSERT_CONTAINS(oom, "oom_kill 1");
	/* We are still here: the OOM kill stayed inside the zone's cgroup. */
	kill_reap_destroy(cg);
}

static int
hold_memory(int out, void *u)
{
	size_t size = 32 * MiB;
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return 2;
	memset(p, 1, size);
	dprintf(out, "ready\n");
	for (;;)
		pause();
	return 0;
}

TEST(refused_write_names_property_file_and_value)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_cg_ struct hv_cgroup *cg = NULL;
	_cleanup_free_ char *want = NULL;
	char buf[16];
	struct kid k;

	need_v1("memory");
	/* v1 refuses a limit below what it cannot reclaim (no swap for anonymous memory). */
	if (access("/proc/swaps", F_OK) == 0) {
		_cleanup_free_ char *swaps = NULL;

		ASSERT_OK(read_full_file("/proc/swaps", 64 * 1024, &swaps, NULL));
		if (strchr(swaps, '\n') && strchr(swaps, '\n')[1])
			SKIP("swap is on: the kernel would swap the memory out instead of "
			     "refusing");
	}
	cg = make("refused");
	kid_start(&k, hold_memory, NULL);
	attach_ok(cg, k.pid);
	kid_go(&k);
	kid_read(&k, buf, sizeof(buf));
	ASSERT_ERR(hv_cgroup_set_limits(cg, &(struct hv_zone_limits){.memory = 4 * MiB}, &e),
	           -EBUSY);
	ASSERT_TRUE(asprintf(&want,
	                     "max_physical_memory: cgroup '%s': cannot write '4194304' to "
	                     "memory.limit_in_bytes: ",
	                     hv_cgroup_path(cg, "memory")) > 0);
	ASSERT_CONTAINS(e->msg, want);
	kill_reap_destroy(cg);
	(void)kid_wait(&k, 1000);
}

static int
fork_until_refused(int out, void *u)
{
	unsigned n = 0;
	int e = 0;

	for (; n < 1000; n++) {
		pid_t p = fork();

		if (p == 0)
			for (;;)
				pause();
		if (p < 0) {
			e = errno;
			break;
		}
	}
	dprintf(out, "%u %d\n", n, e);
	for (;;)
		pause();
	return 0;
}

TEST(pids_max_holds)
{
	_cleanup_cg_ struct hv_cgroup *cg = NULL;
	unsigned forked = 0;
	char buf[64];
	int err = 0;
	struct kid k;

	need_v1("pids");
	cg = make("pids");
	set_limits_ok(cg, &(struct hv_zone_limits){.max_lwps = 8});
	kid_start(&k, fork_until_refused, NULL);
	attach_ok(cg, k.pid);
	kid_go(&k);
	kid_read(&k, buf, sizeof(buf));
	ASSERT_EQ(sscanf(buf, "%u %d", &forked, &err), 2);
	ASSERT_EQ(err, EAGAIN);
	ASSERT_EQ(forked, 7); /* the child itself is the 8th */
	assert_file(hv_cgroup_path(cg, "pids"), "pids.current", "8");
	kill_reap_destroy(cg);
	(void)kid_wait(&k, 1000);
}

static int
spin(int out, void *u)
{
	for (volatile unsigned long i = 0;; i++)
		;
	return 0;
}

static uint64_t
cpuacct_usage(const char *dir)
{
	_cleanup_free_ char *s = read_line(dir, "cpuacct.usage");
	uint64_t v = 0;

	ASSERT_OK(safe_atou64(s, &v));
	return v;
}

TEST(cpu_cap_20_percent)
{
	_cleanup_cg_ struct hv_cgroup *cg = NULL;
	uint64_t u0, u1, t0, t1;
	const char *acct;
	double share;
	struct kid k;

	need_v1("cpu");
	need_v1("cpuacct");
	cg = make("cpu");
	acct = hv_cgroup_path(cg, "cpuacct");
	set_limits_ok(cg, &(struct hv_zone_limits){.cpu_cap = 20});
	kid_start(&k, spin, NULL);
	attach_ok(cg, k.pid);
	kid_go(&k);
	sleep_ms(300);
	u0 = cpuacct_usage(acct);
	t0 = now_usec(CLOCK_MONOTONIC);
	sleep_ms(2000);
	u1 = cpuacct_usage(acct);
	t1 = now_usec(CLOCK_MONOTONIC);
	share = (double)(u1 - u0) / 1000.0 / (double)(t1 - t0);
	printf("# cpu_cap 20: %.1f %% of one CPU over %.2f s\n", share * 100,
	       (double)(t1 - t0) / 1e6);
	ASSERT_TRUE(share >= 0.10 && share <= 0.30);
	kill_reap_destroy(cg);
	(void)kid_wait(&k, 1000);
}

/* Pick a block device this process can open (and so a zone must not). */
static const char *
block_device(void)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (T.blockdev[0])
		return T.blockdev;
	d = opendir("/sys/block");
	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		char p[sizeof(T.blockdev)];
		struct stat st;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/dev/%s", de->d_name);
		if (stat(p, &st) < 0 || !S_ISBLK(st.st_mode))
			continue;
		fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		close(fd);
		snprintf(T.blockdev, sizeof(T.blockdev), "%s", p);
		return T.blockdev;
	}
	return NULL;
}

static int
try_open(const char *p, int flags)
{
	int fd = open(p, flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* Reports: errno of opening /dev/null, /dev/zero, /dev/urandom, /dev/ptmx, the block device,
 * /dev/kmsg. */
static int
open_devices(int out, void *u)
{
	dprintf(out, "%d %d %d %d %d %d\n", try_open("/dev/null", O_RDWR),
	        try_open("/dev/zero", O_RDONLY), try_open("/dev/urandom", O_RDONLY),
	        try_open("/dev/ptmx", O_RDWR), try_open(u, O_RDONLY),
	        access("/dev/kmsg", F_OK) == 0 ? try_open("/dev/kmsg", O_RDONLY) : EPERM);
	return 0;
}

/* Start a kid, put it where place says, and check it may open exactly the allowed nodes. */
static void
check_devices(struct hv_cgroup *cg, void (*place)(struct hv_cgroup *cg, pid_t pid))
{
	int null, zero, urandom, ptmx, blk, kmsg;
	const char *dev = block_device();
	char buf[128];
	struct kid k;

	ASSERT_TRUE(dev);
	kid_start(&k, open_devices, (void *)dev);
	place(cg, k.pid);
	kid_go(&k);
	kid_read(&k, buf, sizeof(buf));
	ASSERT_EQ(kid_wait(&k, 5000), 0);
	ASSERT_EQ(sscanf(buf, "%d %d %d %d %d %d", &null, &zero, &urandom, &ptmx, &blk, &kmsg), 6);
	ASSERT_EQ(null, 0);
	ASSERT_EQ(zero, 0);
	ASSERT_EQ(urandom, 0);
	ASSERT_EQ(ptmx, 0);
	if (blk != EPERM)
		tests_fail(__FILE__, __LINE__, "opening %s in the zone: %s, expected EPERM", dev,
		           strerror(blk));
	ASSERT_EQ(kmsg, EPERM); /* a char device not on the list */
}

static void
place_everywhere(struct hv_cgroup *cg, pid_t pid)
{
	attach_ok(cg, pid);
}

static void
place_in_v2_node_only(struct hv_cgroup *cg, pid_t pid)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d", (int)pid);
	ASSERT_OK(hv_cgroup_write_file(hv_cgroup_path(cg, NULL), "cgroup.procs", buf, NULL));
}

TEST(devices_v1_controller)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_cg_ struct hv_cgroup *cg = NULL;
	_cleanup_free_ char *list = NULL, *p = NULL;
	int r;

	need_v1("devices");
	cg = make("devv1");
	/* Only the v1 half: devices.deny "a" and the allow list. */
	r = cg->ops->limit_devices(cg, &e);
	if (r < 0)
		tests_fail(__FILE__, __LINE__, "%s", hv_error_message(e, r));
	ASSERT_TRUE(asprintf(&p, "%s/devices.list", hv_cgroup_path(cg, "devices")) > 0);
	ASSERT_OK(read_full_file(p, 4096, &list, NULL));
	ASSERT_STREQ(list, "c 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\nc 5:0 rwm\n"
	                   "c 5:1 rwm\nc 5:2 rwm\nc 136:* rwm\n");
	check_devices(cg, place_everywhere);
	kill_reap_destroy(cg);
}

TEST(devices_bpf_filter_on_the_v2_node)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_cg_ struct hv_cgroup *cg = NULL;
	int r;

	need_v2_node();
	cg = make("devbpf");
	r = hv_cgroup_device_filter_attach(hv_cgroup_path(cg, NULL), &e);
	if (r == -EINVAL || r == -EOPNOTSUPP)
		SKIP("kernel without BPF_PROG_TYPE_CGROUP_DEVICE (CONFIG_CGROUP_BPF)");
	if (r < 0)
		tests_fail(__FILE__, __LINE__, "%s", hv_error_message(e, r));
	/* Attaching again replaces the program. */
	ASSERT_OK(hv_cgroup_device_filter_attach(hv_cgroup_path(cg, NULL), &e));
	/* The kid joins only the cgroup2 node: its v1 devices cgroup allows everything. */
	check_devices(cg, place_in_v2_node_only);
	kill_reap_destroy(cg);
}

TEST(limit_devices_whole)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_cg_ struct hv_cgroup *cg = make("devall");
	int r;

	r = hv_cgroup_limit_devices(cg, &e);
	if (r < 0)
		tests_fail(__FILE__, __LINE__, "%s", hv_error_message(e, r));
	ASSERT_OK(hv_cgroup_limit_devices(cg, &e)); /* idempotent */
	check_devices(cg, place_everywhere);
	kill_reap_destroy(cg);
}

/* A chain of three processes; the last reports "ready". */
static int
process_tree(int out, void *u)
{
	for (int depth = 0; depth < 2; depth++) {
		pid_t p = fork();

		if (p < 0)
			return 1;
		if (p > 0)
			for (;;)
				pause();
	}
	dprintf(out, "ready\n");
	for (;;)
		pause();
	return 0;
}

static void
check_kill(struct hv_cgroup *cg, int (*kill_fn)(struct hv_cgroup *cg, struct hv_error **reterr))
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	unsigned n = 0, reaped = 0;
	char buf[16];
	struct kid k;
	int r;

	kid_start(&k, process_tree, NULL);
	attach_ok(cg, k.pid);
	kid_go(&k);
	kid_read(&k, buf, sizeof(buf));
	ASSERT_STREQ(buf, "ready\n");
	ASSERT_OK(hv_cgroup_count_procs(cg, &n, &e));
	ASSERT_EQ(n, 3);
	r = kill_fn(cg, &e);
	if (r < 0)
		tests_fail(__FILE__, __LINE__, "kill: %s", hv_error_message(e, r));
	/* The kid and its two descendants (orphans reparented to us, the subreaper). */
	for (unsigned waited = 0; reaped < 3 && waited < 5000; waited += 10) {
		int status;
		pid_t p = waitpid(-1, &status, WNOHANG);

		if (p > 0) {
			ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
			reaped++;
		} else
			sleep_ms(10);
	}
	ASSERT_EQ(reaped, 3);
	ASSERT_OK(hv_cgroup_count_procs(cg, &n, &e));
	ASSERT_EQ(n, 0);
	k.go = safe_close(k.go);
	k.out = safe_close(k.out);
}

TEST(kill_all_kills_a_tree)
{
	_cleanup_cg_ struct hv_cgroup *cg = make("kill");

	check_kill(cg, hv_cgroup_kill_all);
	ASSERT_OK(hv_cgroup_destroy(cg, NULL));
}

TEST(kill_all_v1_freezer_fallback)
{
	_cleanup_cg_ struct hv_cgroup *cg = NULL;

	need_v1("freezer");
	cg = make("freeze");
	check_kill(cg, cg->ops->kill_all);
	assert_file(hv_cgroup_path(cg, "freezer"), "freezer.state", "THAWED");
	ASSERT_OK(hv_cgroup_destroy(cg, NULL));
}

/* Kernels before 5.14 (no cgroup.kill): cgroup.freeze, SIGKILL, thaw; runs on the unified node
 * here. */
TEST(kill_all_v2_freeze_fallback)
{
	_cleanup_cg_ struct hv_cgroup *cg = NULL;

	need_v2_node();
	cg = make("freeze2");
	check_kill(cg, hv_cgroup_v2_ops.kill_all);
	assert_file(hv_cgroup_path(cg, NULL), "cgroup.freeze", "0");
	ASSERT_OK(hv_cgroup_destroy(cg, NULL));
}

TEST(destroy_refuses_while_busy)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_cg_ struct hv_cgroup *cg = make("busy"), *gone = NULL;
	_cleanup_free_ char *sub_v1 = NULL, *sub_v2 = NULL;
	const char *mem = hv_cgroup_path(cg, "memory"), *v2 = hv_cgroup_path(cg, NULL);
	struct stat st;
	struct kid k;

	/* Sub-cgroups (a zone may make them) go first. */
	if (mem && hv_cgroup_layout(cg) == HV_CGROUP_V1) {
		ASSERT_TRUE(asprintf(&sub_v1, "%s/sub", mem) > 0);
		ASSERT_OK(mkdir(sub_v1, 0755));
	}
	if (v2) {
		ASSERT_TRUE(asprintf(&sub_v2, "%s/sub/deeper", v2) > 0);
		ASSERT_OK(mkdir_p(sub_v2, 0755));
	}
	kid_start(&k, wait_forever, NULL);
	attach_ok(cg, k.pid);
	ASSERT_ERR(hv_cgroup_destroy(cg, &e), -EBUSY);
	ASSERT_CONTAINS(e->msg, "/busy' still has 1 process");
	ASSERT_OK(stat(hv_cgroup_path(cg, NULL) ?: mem, &st)); /* nothing removed */
	if (sub_v2)
		ASSERT_OK(stat(sub_v2, &st));

	kill_reap_destroy(cg);
	(void)kid_wait(&k, 1000);
	if (mem)
		ASSERT_ERR(stat(mem, &st) < 0 ? -errno : 0, -ENOENT);
	if (v2)
		ASSERT_ERR(stat(v2, &st) < 0 ? -errno : 0, -ENOENT);
	ASSERT_OK(hv_cgroup_destroy(cg, &e)); /* already gone: fine */
	ASSERT_ERR(hv_cgroup_open(T.prefix, "busy", &gone, &e), -ENOENT);
}

TEST(cgroup_id_is_the_v2_inode)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_cg_ struct hv_cgroup *cg = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct stat st, fst;

	need_v2_node();
	cg = make("id");
	ASSERT_OK(stat(hv_cgroup_path(cg, NULL), &st));
	ASSERT_TRUE(hv_cgroup_id(cg) != 0);
	ASSERT_UEQ(hv_cgroup_id(cg), st.st_ino);
	fd = hv_cgroup_open_v2_fd(cg, &e);
	ASSERT_OK(fd);
	ASSERT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ASSERT_OK(fstat(fd, &fst));
	ASSERT_UEQ(fst.st_ino, st.st_ino);
	kill_reap_destroy(cg);
}

TEST(nothing_left_behind)
{
	struct hv_cgroup_mounts m = {};
	char dir[512];

	need_root();
	cleanup_prefix();
	ASSERT_OK(hv_cgroup_mounts_read(&m, NULL));
	if (m.v2) {
		snprintf(dir, sizeof(dir), "%s/%s", m.v2, T.prefix);
		ASSERT_ERR(access(dir, F_OK) < 0 ? -errno : 0, -ENOENT);
	}
	for (size_t i = 0; i < m.n_v1; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", m.v1[i].mount, T.prefix);
		if (access(dir, F_OK) == 0)
			tests_fail(__FILE__, __LINE__, "'%s' is left", dir);
	}
	hv_cgroup_mounts_done(&m);
	/* No process of ours is left either. */
	ASSERT_ERR(waitpid(-1, NULL, WNOHANG) < 0 ? -errno : 0, -ECHILD);
}

__attribute__((constructor)) static void
init_prefix(void)
{
	snprintf(T.prefix, sizeof(T.prefix), "sbt%u", (unsigned)getpid() % 100000);
}
