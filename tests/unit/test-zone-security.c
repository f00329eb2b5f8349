/* SPDX-License-Identifier: MIT */
/*
 * The zone's capability drop and seccomp filter, applied for real in a
 * forked child (once as host root, once as root of a fresh user namespace
 * mapped to unused high ids, as a zone runs), which then tries every denied
 * syscall with harmless arguments (arguments the kernel would reject even
 * from full root, so nothing happens should the filter fail), through the
 * native, the i386 (int $0x80) and the x32 entry. The child writes what it
 * saw into shared memory; the parent checks it. Needs root.
 */
#include <fcntl.h>
#include <linux/filter.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "zone/zone-security.h"
#include "tests.h"

#define MAX_PROBES 64

struct report {
	int setup;               /* 0, or -errno of the first failed step */
	char msg[256];           /* its error message */
	long native[MAX_PROBES]; /* per native probe: its result, -errno on failure */
	long compat[MAX_PROBES]; /* per i386 probe */
	bool compat_tried;
	long x32_swapoff;
	long compat_getpid, getpid;
	long pers_rie, pers_query, pers_linux32, pers_back, pers_high;
	unsigned pers_tried, pers_wrong; /* personas tried, and answered against the allowlist */
	unsigned long pers_first_wrong;
	long written;
	int exec_status;
	char status[8192]; /* /proc/self/status after all that */
};

struct probe {
	const char *name;
	long nr;
	unsigned long a[6];
};

/* Harmless calls: bad flags, bad fds, NULL pointers, nonexistent names. */
static size_t
native_probes(struct probe *p)
{
	size_t n = 0;

#define P(sys, ...)                 \
	p[n++] = (struct probe)     \
	{                           \
#sys, SYS_##sys,    \
		{                   \
			__VA_ARGS__ \
		}                   \
	}
	P(kexec_load, 0, 0, 0, 0xdead8000UL); /* unknown flags: EINVAL before anything */
#ifdef SYS_kexec_file_load
	P(kexec_file_load, -1UL, -1UL, 0, 0, 0x80000000UL);
#endif
	P(init_module, 0, 0, (unsigned long)"");
	P(finit_module, -1UL, (unsigned long)"", 0);
	P(delete_module, (unsigned long)"sable_no_such_module", O_NONBLOCK);
	P(bpf, 0x7fffffff, 0, 0);
	P(perf_event_open, 0, 0, -1UL, -1UL, 0);
	P(keyctl, 0x7fff);
	P(add_key, 0, 0, 0, 0, 0);
	P(request_key, 0, 0, 0, 0);
	P(open_by_handle_at, -1UL, 0, O_RDONLY);
	P(swapon, 0, 0);
	P(swapoff, 0);
	P(clock_settime, CLOCK_REALTIME, 0);
	P(clock_adjtime, CLOCK_REALTIME, 0);
	P(settimeofday, 0, 0); /* both NULL: changes nothing */
	P(adjtimex, 0);
	P(acct, (unsigned long)"/nonexistent/sable-acct");
	P(syslog, 99, 0, 0);
	P(iopl, 4);
	P(ioperm, 0, 0, 0);
	P(uselib, 0);
	P(nfsservctl, 0, 0, 0);
	P(lookup_dcookie, 0, 0, 0);
	P(io_uring_setup, 0, 0);
	P(io_uring_enter, -1UL, 0, 0, 0, 0, 0);
	P(io_uring_register, -1UL, 0, 0, 0);
#undef P
	return n;
}

/* The i386 ABI, entered through int $0x80: numbers from arch/x86/entry/syscalls/syscall_32.tbl. */
static size_t
compat_probes(struct probe *p)
{
	size_t n = 0;

	p[n++] = (struct probe){"stime", 25, {0}};
	p[n++] = (struct probe){"swapoff", 115, {0}};
	p[n++] = (struct probe){"vm86old", 113, {0}};
	p[n++] = (struct probe){"vm86", 166, {0, 0}};
	p[n++] = (struct probe){"clock_settime64", 404, {CLOCK_REALTIME, 0}};
	p[n++] = (struct probe){"clock_adjtime64", 405, {CLOCK_REALTIME, 0}};
	p[n++] = (struct probe){"keyctl", 288, {0x7fff}};
	p[n++] = (struct probe){"bpf", 357, {0x7fffffff, 0, 0}};
	return n;
}

/* Whether this machine has the i386 entry, decided in the parent before forking. */
static bool have_int80;

#define I386_GETPID      20
#define I386_PERSONALITY 136
#define X32_SYSCALL_BIT  0x40000000L

static long
call(const struct probe *p)
{
	long r = syscall(p->nr, p->a[0], p->a[1], p->a[2], p->a[3], p->a[4], p->a[5]);
	return r < 0 ? -errno : r;
}

#if defined(__x86_64__)
/* A 32-bit syscall from this 64-bit process: returns -errno itself. */
static long
int80(long nr, unsigned long a, unsigned long b)
{
	long ret;

	__asm__ volatile("int $0x80"
	                 : "=a"(ret)
	                 : "a"(nr), "b"(a), "c"(b)
	                 : "memory", "r8", "r9", "r10", "r11");
	return ret;
}

/*
 * int $0x80 without IA32 emulation is a #GP: find out in a throwaway child,
 * before any filter (under one, a missing architecture kills the caller).
 */
static bool
int80_works(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(int80(I386_GETPID, 0, 0) > 0 ? 0 : 1);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
#endif

static void
try_compat(struct report *rep)
{
#if defined(__x86_64__)
	struct probe p[MAX_PROBES];
	size_t n = compat_probes(p);

	if (!have_int80)
		return;
	rep->compat_tried = true;
	for (size_t i = 0; i < n; i++)
		rep->compat[i] = int80(p[i].nr, p[i].a[0], p[i].a[1]);
	rep->compat_getpid = int80(I386_GETPID, 0, 0);
	rep->x32_swapoff = syscall(X32_SYSCALL_BIT | SYS_swapoff, 0) < 0 ? -errno : 0;
	rep->pers_high = int80(I386_PERSONALITY, READ_IMPLIES_EXEC, 0);
#else
	(void)rep;
#endif
}

static long
pers(unsigned long v)
{
	long r = syscall(SYS_personality, v);
	return r < 0 ? -errno : r;
}

static bool
persona_allowed(uint32_t v)
{
	return v == PER_LINUX || v == PER_LINUX32 || v == UNAME26 || v == (PER_LINUX32 | UNAME26) ||
	       v == 0xffffffffu;
}

#define N_PERSONAS (5 + 32 * 5 + 32 * 31)

/*
 * The allowed values; each single bit, alone, with the allowed bits and
 * inverted; each pair of bits, alone and inverted.
 */
static void
try_personas(struct report *rep)
{
	uint32_t values[N_PERSONAS] = {PER_LINUX, PER_LINUX32, UNAME26, PER_LINUX32 | UNAME26,
	                               0xffffffffu};
	size_t n = 5;

	for (unsigned b = 0; b < 32; b++) {
		uint32_t bit = UINT32_C(1) << b;

		values[n++] = bit;
		values[n++] = bit | PER_LINUX32;
		values[n++] = bit | UNAME26;
		values[n++] = bit | PER_LINUX32 | UNAME26;
		values[n++] = ~bit;
		for (unsigned c = b + 1; c < 32; c++) {
			values[n++] = bit | UINT32_C(1) << c;
			values[n++] = ~(bit | UINT32_C(1) << c);
		}
	}
	for (size_t i = 0; i < n; i++) {
		bool ok = pers(values[i]) >= 0;

		if (ok)
			(void)pers(PER_LINUX);
		rep->pers_tried++;
		if (ok != persona_allowed(values[i]) && rep->pers_wrong++ == 0)
			rep->pers_first_wrong = values[i];
	}
}

static void
try_everything(struct report *rep)
{
	struct probe p[MAX_PROBES];
	size_t n = native_probes(p);
	_cleanup_free_ char *status = NULL;
	int fds[2];
	pid_t pid;

	for (size_t i = 0; i < n; i++)
		rep->native[i] = call(&p[i]);
	try_compat(rep);
	rep->getpid = getpid();

	rep->pers_rie = pers(READ_IMPLIES_EXEC);
	try_personas(rep);
	rep->pers_query = pers(0xffffffffUL);
	rep->pers_linux32 = pers(PER_LINUX32);
	rep->pers_back = pers(PER_LINUX);

	if (pipe2(fds, O_CLOEXEC) == 0) {
		rep->written = write(fds[1], "x", 1);
		close(fds[0]);
		close(fds[1]);
	}

	/* exec works under the filter and the reduced sets */
	pid = fork();
	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	if (pid > 0 && waitpid(pid, &rep->exec_status, 0) != pid)
		rep->exec_status = -1;

	if (read_full_file("/proc/self/status", sizeof(rep->status) - 1, &status, NULL) >= 0)
		snprintf(rep->status, sizeof(rep->status), "%s", status);
}

static void
zone_body(struct report *rep)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r;

	r = hv_zone_drop_capabilities(&e);
	if (r >= 0)
		r = hv_zone_load_seccomp(&e);
	if (r < 0) {
		rep->setup = r;
		snprintf(rep->msg, sizeof(rep->msg), "%s", hv_error_message(e, r));
		return;
	}
	try_everything(rep);
}

/* The zone's own path: the profile compiled and sent as a packet, then loaded from it. */
static void
zone_body_exported(struct report *rep)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	static char prog[BPF_MAXINSNS * 8 + 1];
	int sv[2], r;
	ssize_t k = -1;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		rep->setup = -errno;
		return;
	}
	r = hv_zone_seccomp_export(sv[0], &e);
	if (r >= 0)
		k = recv(sv[1], prog, sizeof(prog), 0);
	close(sv[0]);
	close(sv[1]);
	if (r >= 0)
		r = hv_zone_drop_capabilities(&e);
	if (r >= 0)
		r = k > 0 ? hv_zone_seccomp_load_program(prog, (size_t)k, &e) : -EIO;
	if (r < 0) {
		rep->setup = r;
		snprintf(rep->msg, sizeof(rep->msg), "%s", hv_error_message(e, r));
		return;
	}
	try_everything(rep);
}

static void
map_ids(pid_t pid)
{
	static const char *const files[] = {"uid_map", "gid_map"};

	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		char path[64];
		_cleanup_close_ int fd = -EBADF;

		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, files[i]);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0)
			(void)loop_write(fd, "0 2000000000 65536\n", 19);
	}
}

/*
 * Run body in a child and wait for it. With userns, the child first
 * unshares a user namespace, the parent maps root in it to host uid/gid
 * 2000000000, and the child becomes that root. Returns the shared report
 * (munmap it), or NULL if the child could not start or did not exit
 * normally (a seccomp kill, say).
 */
static struct report *
run_child(bool userns, void (*body)(struct report *))
{
	struct report *rep;
	int to_parent[2], to_child[2], status;
	char c = 0;
	pid_t pid;

	rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rep == MAP_FAILED)
		return NULL;
	if (pipe2(to_parent, O_CLOEXEC) < 0 || pipe2(to_child, O_CLOEXEC) < 0)
		return NULL;
#if defined(__x86_64__)
	have_int80 = int80_works();
#endif
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (userns) {
			if (unshare(CLONE_NEWUSER) < 0) {
				rep->setup = -errno;
				snprintf(rep->msg, sizeof(rep->msg), "unshare(CLONE_NEWUSER): %m");
				_exit(0);
			}
			(void)!write(to_parent[1], "u", 1);
			if (read(to_child[0], &c, 1) != 1 || setresgid(0, 0, 0) < 0 ||
			    setresuid(0, 0, 0) < 0) {
				rep->setup = -EPERM;
				snprintf(rep->msg, sizeof(rep->msg),
				         "becoming root in the user namespace");
				_exit(0);
			}
		}
		body(rep);
		_exit(0);
	}
	/* our copies of the child's ends go first, so a child that dies cannot leave us waiting */
	close(to_parent[1]);
	close(to_child[0]);
	if (pid > 0 && userns && read(to_parent[0], &c, 1) == 1) {
		map_ids(pid);
		(void)!write(to_child[1], "g", 1);
	}
	close(to_parent[0]);
	close(to_child[1]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		munmap(rep, sizeof(*rep));
		return NULL;
	}
	return rep;
}

static uint64_t
status_mask(const char *status, const char *field)
{
	const char *p = strstr(status, field);
	unsigned long long v = 0;

	if (!p || sscanf(p + strlen(field), ":\t%llx", &v) != 1)
		tests_fail(__FILE__, __LINE__, "no %s in /proc/self/status", field);
	return v;
}

static void
check_caps(const struct report *rep)
{
	static const cap_value_t kept[] = {CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SYS_BOOT,
	                                   CAP_SETUID,    CAP_SETGID,    CAP_CHOWN,
	                                   CAP_SETPCAP,   CAP_KILL,      CAP_DAC_OVERRIDE};
	static const char *const sets[] = {"CapBnd", "CapPrm", "CapEff"};

	for (size_t s = 0; s < ELEMENTSOF(sets); s++) {
		uint64_t mask = status_mask(rep->status, sets[s]);

		for (const char *const *name = hv_zone_dropped_capabilities; *name; name++) {
			cap_value_t v;

			ASSERT_OK(cap_from_name(*name, &v));
			if (mask & (UINT64_C(1) << v))
				tests_fail(__FILE__, __LINE__, "%s still has %s", sets[s], *name);
		}
		for (size_t i = 0; i < ELEMENTSOF(kept); i++)
			if (!(mask & (UINT64_C(1) << kept[i])))
				tests_fail(__FILE__, __LINE__, "%s lost capability %d", sets[s],
				           (int)kept[i]);
	}
	ASSERT_UEQ(status_mask(rep->status, "CapInh") & ~status_mask(rep->status, "CapBnd"), 0);
	ASSERT_UEQ(status_mask(rep->status, "CapAmb"), 0);
	ASSERT_CONTAINS(rep->status, "NoNewPrivs:\t0");
	ASSERT_CONTAINS(rep->status, "Seccomp:\t2");
}

static void
check_syscalls(const struct report *rep)
{
	struct probe p[MAX_PROBES];
	size_t n = native_probes(p);

	for (size_t i = 0; i < n; i++)
		if (rep->native[i] != -EPERM)
			tests_fail(__FILE__, __LINE__, "%s returned %ld, expected -EPERM",
			           p[i].name, rep->native[i]);
	ASSERT_EQ(rep->written, 1);
	ASSERT_TRUE(WIFEXITED(rep->exec_status) && WEXITSTATUS(rep->exec_status) == 0);

	ASSERT_ERR(rep->pers_rie, -EPERM);
	ASSERT_EQ(rep->pers_tried, N_PERSONAS);
	if (rep->pers_wrong)
		tests_fail(__FILE__, __LINE__, "%u personas answered wrongly, first %#lx",
		           rep->pers_wrong, rep->pers_first_wrong);
	ASSERT_EQ(rep->pers_query, PER_LINUX);
	ASSERT_EQ(rep->pers_linux32, PER_LINUX);
	ASSERT_EQ(rep->pers_back, PER_LINUX32);
}

static void
check_compat(const struct report *rep)
{
	struct probe p[MAX_PROBES];
	size_t n = compat_probes(p);

	if (!rep->compat_tried) {
		printf("# no i386 entry here (not x86_64, or IA32 emulation off): not tested\n");
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (rep->compat[i] != -EPERM)
			tests_fail(__FILE__, __LINE__, "i386 %s returned %ld, expected -EPERM",
			           p[i].name, rep->compat[i]);
	ASSERT_EQ(rep->compat_getpid, rep->getpid);
	ASSERT_ERR(rep->pers_high, -EPERM);
	ASSERT_ERR(rep->x32_swapoff, -EPERM);
}

static void
require_root(void)
{
	if (geteuid() != 0)
		SKIP("needs root (capabilities and seccomp are applied for real in a child)");
}

TEST(lists_are_complete)
{
	static const char *const required_syscalls[] = {"kexec_load",
	                                                "kexec_file_load",
	                                                "init_module",
	                                                "finit_module",
	                                                "delete_module",
	                                                "bpf",
	                                                "perf_event_open",
	                                                "keyctl",
	                                                "add_key",
	                                                "request_key",
	                                                "open_by_handle_at",
	                                                "swapon",
	                                                "swapoff",
	                                                "clock_settime",
	                                                "clock_settime64",
	                                                "clock_adjtime",
	                                                "clock_adjtime64",
	                                                "settimeofday",
	                                                "adjtimex",
	                                                "stime",
	                                                "acct",
	                                                "lookup_dcookie",
	                                                "iopl",
	                                                "ioperm",
	                                                "uselib",
	                                                "nfsservctl",
	                                                "vm86",
	                                                "vm86old"};
	static const char *const required_caps[] = {
	        "CAP_SYS_MODULE", "CAP_SYS_RAWIO",         "CAP_SYS_TIME",
	        "CAP_MAC_ADMIN",  "CAP_MAC_OVERRIDE",      "CAP_SYSLOG",
	        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",     "CAP_AUDIT_CONTROL",
	        "CAP_AUDIT_READ", "CAP_SYS_PACCT",         "CAP_BPF",
	        "CAP_PERFMON",    "CAP_CHECKPOINT_RESTORE"};
	size_t n = 0;

	for (size_t i = 0; i < ELEMENTSOF(required_syscalls); i++) {
		bool found = false;

		for (const char *const *s = hv_zone_denied_syscalls; *s; s++)
			found = found || streq(*s, required_syscalls[i]);
		if (!found)
			tests_fail(__FILE__, __LINE__, "%s is not denied", required_syscalls[i]);
	}
	for (size_t i = 0; i < ELEMENTSOF(required_caps); i++) {
		bool found = false;

		for (const char *const *s = hv_zone_dropped_capabilities; *s; s++)
			found = found || streq(*s, required_caps[i]);
		if (!found)
			tests_fail(__FILE__, __LINE__, "%s is not dropped", required_caps[i]);
	}
	/* every name means something to libseccomp / libcap */
	for (const char *const *s = hv_zone_denied_syscalls; *s; s++, n++)
		if (seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86, *s) == __NR_SCMP_ERROR &&
		    seccomp_syscall_resolve_name(*s) == __NR_SCMP_ERROR)
			tests_fail(__FILE__, __LINE__, "libseccomp does not know '%s'", *s);
	ASSERT_TRUE(n < MAX_PROBES);
	for (const char *const *s = hv_zone_dropped_capabilities; *s; s++) {
		cap_value_t v;

		ASSERT_OK(cap_from_name(*s, &v));
	}
}

/* Every denied syscall is probed, natively or through int $0x80. */
TEST(every_denied_syscall_is_probed)
{
	struct probe p[MAX_PROBES], c[MAX_PROBES];
	size_t n = native_probes(p), m = compat_probes(c);

	for (const char *const *s = hv_zone_denied_syscalls; *s; s++) {
		bool found = false;

		for (size_t i = 0; i < n; i++)
			found = found || streq(p[i].name, *s);
		for (size_t i = 0; i < m; i++)
			found = found || streq(c[i].name, *s);
		if (!found && seccomp_syscall_resolve_name(*s) >= 0)
			tests_fail(__FILE__, __LINE__, "no probe for '%s'", *s);
	}
}

TEST(filter_and_caps_as_host_root)
{
	struct report *rep;

	require_root();
	rep = run_child(false, zone_body);
	ASSERT_TRUE(rep);
	if (rep->setup < 0)
		tests_fail(__FILE__, __LINE__, "setup: %s", rep->msg);
	check_caps(rep);
	check_syscalls(rep);
	check_compat(rep);
	munmap(rep, sizeof(*rep));
}

TEST(filter_and_caps_in_a_user_namespace)
{
	struct report *rep;
	char msg[300];

	require_root();
	rep = run_child(true, zone_body);
	ASSERT_TRUE(rep);
	if (rep->setup < 0) {
		snprintf(msg, sizeof(msg), "%s", rep->msg);
		munmap(rep, sizeof(*rep));
		if (strstr(msg, "unshare"))
			SKIP("cannot create a user namespace here");
		tests_fail(__FILE__, __LINE__, "setup: %s", msg);
	}
	ASSERT_CONTAINS(rep->status, "Uid:\t0\t0\t0\t0");
	check_caps(rep);
	check_syscalls(rep);
	check_compat(rep);
	munmap(rep, sizeof(*rep));
}

TEST(filter_compiled_by_a_parent)
{
	struct report *rep;

	require_root();
	rep = run_child(false, zone_body_exported);
	ASSERT_TRUE(rep);
	if (rep->setup < 0)
		tests_fail(__FILE__, __LINE__, "setup: %s", rep->msg);
	check_caps(rep);
	check_syscalls(rep);
	check_compat(rep);
	munmap(rep, sizeof(*rep));
}

TEST(a_program_of_a_wrong_size_is_refused)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	static const char junk[BPF_MAXINSNS * 8 + 8];

	ASSERT_ERR(hv_zone_seccomp_load_program(junk, 0, &e), -EBADMSG);
	e = hv_error_free(e);
	ASSERT_ERR(hv_zone_seccomp_load_program(junk, 12, &e), -EBADMSG);
	ASSERT_CONTAINS(hv_error_message(e, -EBADMSG), "12 bytes");
	e = hv_error_free(e);
	ASSERT_ERR(hv_zone_seccomp_load_program(junk, sizeof(junk), &e), -EBADMSG);
}

/* Without the filter the same probes do not give EPERM: the filter, not the kernel, said no. */
static void
unfiltered_body(struct report *rep)
{
	try_everything(rep);
}

TEST(probes_are_answered_by_the_filter)
{
	struct probe p[MAX_PROBES];
	size_t n = native_probes(p), natural = 0;
	struct report *rep;

	require_root();
	rep = run_child(false, unfiltered_body);
	ASSERT_TRUE(rep);
	for (size_t i = 0; i < n; i++)
		if (rep->native[i] == -EPERM) {
			printf("# %s gives EPERM even without the filter\n", p[i].name);
			natural++;
		}
	munmap(rep, sizeof(*rep));
	/* kexec under lockdown and the like may say EPERM by themselves; most must not */
	ASSERT_TRUE(natural * 4 < n);
}

/* The filter cannot be loaded without CAP_SYS_ADMIN (and no_new_privs is not set for it). */
static void
no_sys_admin_body(struct report *rep)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	cap_value_t v = CAP_SYS_ADMIN;
	cap_t caps = cap_get_proc();

	if (!caps || cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, CAP_CLEAR) < 0 ||
	    cap_set_proc(caps) < 0) {
		rep->setup = -EIO;
		cap_free(caps);
		return;
	}
	cap_free(caps);
	rep->setup = hv_zone_load_seccomp(&e);
	snprintf(rep->msg, sizeof(rep->msg), "%s", hv_error_message(e, rep->setup));
}

TEST(load_without_sys_admin_fails_cleanly)
{
	struct report *rep;

	require_root();
	rep = run_child(false, no_sys_admin_body);
	ASSERT_TRUE(rep);
	ASSERT_ERR(rep->setup, -EACCES);
	ASSERT_CONTAINS(rep->msg, "CAP_SYS_ADMIN");
	munmap(rep, sizeof(*rep));
}

/* Without CAP_SETPCAP the bounding set cannot shrink: an error, not a half-done drop. */
static void
no_setpcap_body(struct report *rep)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	cap_value_t v = CAP_SETPCAP;
	cap_t caps = cap_get_proc();

	if (!caps || cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, CAP_CLEAR) < 0 ||
	    cap_set_proc(caps) < 0) {
		rep->setup = -EIO;
		cap_free(caps);
		return;
	}
	cap_free(caps);
	rep->setup = hv_zone_drop_capabilities(&e);
	snprintf(rep->msg, sizeof(rep->msg), "%s", hv_error_message(e, rep->setup));
}

TEST(drop_without_setpcap_fails_cleanly)
{
	struct report *rep;

	require_root();
	rep = run_child(false, no_setpcap_body);
	ASSERT_TRUE(rep);
	ASSERT_ERR(rep->setup, -EPERM);
	ASSERT_CONTAINS(rep->msg, "bounding set");
	munmap(rep, sizeof(*rep));
}
