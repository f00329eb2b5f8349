/* SPDX-License-Identifier: MIT */
/*
 * zprobe: the payload that tests run inside zones (crun's tests/init.c
 * idea). One static binary with no dependencies, so it runs in any zone
 * root; each subcommand looks at one thing from inside and prints one JSON
 * object on stdout (hand-built: the binary must stay static and tiny).
 *
 *   zprobe id | caps | ns | mounts | limits | hostname | pid
 *   zprobe syscall NAME       try a dangerous syscall with harmless arguments
 *   zprobe mknod PATH         try to make a block device (loop0, 7:0)
 *   zprobe open PATH          open O_RDONLY
 *   zprobe sethostname NAME
 *   zprobe settime            clock_settime to the current time
 *   zprobe forkbomb N         fork up to N sleeping children, count, kill them
 *   zprobe alloc MIB          allocate and touch MIB MiB (progress on stderr)
 *   zprobe spin SECONDS       burn CPU, report CPU seconds used
 *   zprobe write PATH MIB     write MIB MiB of zeros, fsync
 *   zprobe sleep SECONDS | true | exit N
 *
 * A probe whose attempt fails still succeeds: it reports the errno (with
 * its name) and exits 0. Exit 1 means the probe itself could not look,
 * exit 2 a usage error. The syscall probes pass arguments the kernel would
 * reject even from full root (bad flags, bad fds, NULL pointers), so
 * running zprobe on the host by mistake changes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024u * 1024u)

static void
json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", (unsigned)*p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* ,"errno":N,"error":"EXXX" (or 0 and "") */
static void
json_errno(int e)
{
	const char *name = e ? strerrorname_np(e) : "";

	printf(",\"errno\":%d,\"error\":", e);
	json_str(name ? name : "?");
}

static int
usage(void)
{
	fprintf(stderr, "usage: zprobe id|caps|ns|mounts|limits|hostname|pid|settime|true\n"
	                "       zprobe syscall NAME | mknod PATH | open PATH | sethostname NAME\n"
	                "       zprobe forkbomb N | alloc MIB | spin S | write PATH MIB | sleep S\n"
	                "       zprobe exit N\n");
	return 2;
}

static bool
parse_num(const char *s, long max, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > max)
		return false;
	*ret = v;
	return true;
}

static int
probe_id(void)
{
	int n = getgroups(0, NULL);
	gid_t *groups = calloc((size_t)(n > 0 ? n : 1), sizeof(gid_t));

	if (n < 0 || !groups || (n = getgroups(n, groups)) < 0) {
		free(groups);
		return 1;
	}
	printf("{\"uid\":%u,\"gid\":%u,\"euid\":%u,\"egid\":%u,\"groups\":[", (unsigned)getuid(),
	       (unsigned)getgid(), (unsigned)geteuid(), (unsigned)getegid());
	for (int i = 0; i < n; i++)
		printf("%s%u", i ? "," : "", (unsigned)groups[i]);
	printf("]}\n");
	free(groups);
	return 0;
}

static const char *const cap_names[] = {
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
};

static int
probe_caps(void)
{
	static const char *const fields[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};
	unsigned long long bnd = 0;
	char line[256];
	bool first = true;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 1;
	putchar('{');
	while (fgets(line, sizeof(line), f))
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			size_t l = strlen(fields[i]);
			unsigned long long v;

			if (strncmp(line, fields[i], l) || sscanf(line + l, ":\t%llx", &v) != 1)
				continue;
			printf("%s\"%s\":\"%016llx\"", first ? "" : ",", fields[i], v);
			first = false;
			if (i == 3)
				bnd = v;
		}
	fclose(f);
	printf(",\"bounding\":[");
	first = true;
	for (unsigned c = 0; c < 64; c++) {
		if (!(bnd & (1ULL << c)))
			continue;
		if (c < sizeof(cap_names) / sizeof(cap_names[0]))
			printf("%s\"%s\"", first ? "" : ",", cap_names[c]);
		else
			printf("%s\"CAP_%u\"", first ? "" : ",", c);
		first = false;
	}
	printf("]}\n");
	return 0;
}

static int
probe_ns(void)
{
	static const char *const names[] = {"cgroup", "ipc",  "mnt",  "net",
	                                    "pid",    "time", "user", "uts"};

	putchar('{');
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[64];
		struct stat st;

		snprintf(path, sizeof(path), "/proc/self/ns/%s", names[i]);
		printf("%s\"%s\":", i ? "," : "", names[i]);
		if (stat(path, &st) == 0)
			printf("%ju", (uintmax_t)st.st_ino);
		else
			printf("null");
	}
	printf("}\n");
	return 0;
}

/* mountinfo: id parent maj:min root target options [optional…] - fstype source super */
static int
probe_mounts(void)
{
	char line[4096];
	bool first = true;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return 1;
	printf("{\"mounts\":[");
	while (fgets(line, sizeof(line), f)) {
		char *field[6] = {0}, *dash = strstr(line, " - "), *save = NULL;
		char *tail[3] = {0};
		int n = 0;

		if (!dash)
			continue;
		*dash = '\0';
		for (char *t = strtok_r(line, " ", &save); t && n < 6;
		     t = strtok_r(NULL, " ", &save))
			field[n++] = t;
		n = 0;
		for (char *t = strtok_r(dash + 3, " \n", &save); t && n < 3;
		     t = strtok_r(NULL, " \n", &save))
			tail[n++] = t;
		if (!field[5] || !tail[2])
			continue;
		printf("%s{\"target\":", first ? "" : ",");
		json_str(field[4]);
		printf(",\"fstype\":");
		json_str(tail[0]);
		printf(",\"source\":");
		json_str(tail[1]);
		printf(",\"options\":");
		json_str(field[5]);
		printf(",\"super\":");
		json_str(tail[2]);
		putchar('}');
		first = false;
	}
	fclose(f);
	printf("]}\n");
	return 0;
}

static void
print_rlimit(const char *name, int resource)
{
	struct rlimit rl;

	printf("\"%s\":", name);
	if (getrlimit(resource, &rl) < 0) {
		printf("null,");
		return;
	}
	/* -1 is unlimited */
	printf("{\"soft\":%jd,\"hard\":%jd},",
	       rl.rlim_cur == RLIM_INFINITY ? (intmax_t)-1 : (intmax_t)rl.rlim_cur,
	       rl.rlim_max == RLIM_INFINITY ? (intmax_t)-1 : (intmax_t)rl.rlim_max);
}

static void
print_cgroup_dir(const char *dir, const char *path, bool *first)
{
	static const char *const files[] = {"memory.max",
	                                    "memory.swap.max",
	                                    "memory.limit_in_bytes",
	                                    "memory.memsw.limit_in_bytes",
	                                    "pids.max",
	                                    "cpu.max",
	                                    "cpu.weight",
	                                    "cpu.cfs_quota_us",
	                                    "cpu.cfs_period_us",
	                                    "cpu.shares",
	                                    "io.weight",
	                                    "blkio.weight"};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char p[2048], value[256];
		FILE *f;

		snprintf(p, sizeof(p), "/sys/fs/cgroup%s%s%s/%s", *dir ? "/" : "", dir,
		         strcmp(path, "/") ? path : "", files[i]);
		f = fopen(p, "re");
		if (!f)
			continue;
		if (fgets(value, sizeof(value), f)) {
			value[strcspn(value, "\n")] = '\0';
			printf("%s", *first ? "" : ",");
			json_str(p);
			putchar(':');
			json_str(value);
			*first = false;
		}
		fclose(f);
	}
}

/*
 * The limit files the zone can read, for every hierarchy /proc/self/cgroup
 * names: v2 ("0::/x") at the top or, on a hybrid host, under unified/; v1
 * under the hierarchy's directory ("cpu,cpuacct", else one per controller).
 */
static void
print_cgroup_files(void)
{
	char line[1024];
	bool first = true;
	FILE *f = fopen("/proc/self/cgroup", "re");

	printf("\"cgroup\":{");
	while (f && fgets(line, sizeof(line), f)) {
		char *ctrls = strchr(line, ':'), *path, *save = NULL, joined[256];
		struct stat st;

		if (!ctrls || !(path = strchr(++ctrls, ':')))
			continue;
		*path++ = '\0';
		path[strcspn(path, "\n")] = '\0';
		snprintf(joined, sizeof(joined), "/sys/fs/cgroup/%s", ctrls);
		if (!*ctrls) {
			print_cgroup_dir("", path, &first);
			print_cgroup_dir("unified", path, &first);
		} else if (stat(joined, &st) == 0) {
			print_cgroup_dir(ctrls, path, &first);
		} else {
			for (char *c = strtok_r(ctrls, ",", &save); c;
			     c = strtok_r(NULL, ",", &save))
				print_cgroup_dir(c, path, &first);
		}
	}
	if (f)
		fclose(f);
	putchar('}');
}

static int
probe_limits(void)
{
	putchar('{');
	print_rlimit("nofile", RLIMIT_NOFILE);
	print_rlimit("nproc", RLIMIT_NPROC);
	print_rlimit("memlock", RLIMIT_MEMLOCK);
	print_cgroup_files();
	printf("}\n");
	return 0;
}

static int
probe_hostname(void)
{
	struct utsname u;

	if (uname(&u) < 0)
		return 1;
	printf("{\"hostname\":");
	json_str(u.nodename);
	printf(",\"domainname\":");
	json_str(u.domainname);
	printf("}\n");
	return 0;
}

struct dangerous {
	const char *name;
	long nr;
	unsigned long a[6];
};

/* Arguments that change nothing even from full root (bad flags, fds or pointers; no-ops). */
static int
probe_syscall(const char *name)
{
	const struct dangerous table[] = {
	        {"kexec_load", SYS_kexec_load, {0, 0, 0, 0xdead8000UL}},
	        {"kexec_file_load", SYS_kexec_file_load, {-1UL, -1UL, 0, 0, 0x80000000UL}},
	        {"init_module", SYS_init_module, {0, 0, (unsigned long)""}},
	        {"finit_module", SYS_finit_module, {-1UL, (unsigned long)"", 0}},
	        {"delete_module", SYS_delete_module, {(unsigned long)"zprobe_none", O_NONBLOCK}},
	        {"bpf", SYS_bpf, {0x7fffffff, 0, 0}},
	        {"perf_event_open", SYS_perf_event_open, {0, 0, -1UL, -1UL, 0}},
	        {"keyctl", SYS_keyctl, {0x7fff}},
	        {"add_key", SYS_add_key, {0}},
	        {"request_key", SYS_request_key, {0}},
	        {"open_by_handle_at", SYS_open_by_handle_at, {-1UL, 0, O_RDONLY}},
	        {"swapon", SYS_swapon, {0, 0}},
	        {"swapoff", SYS_swapoff, {0}},
	        {"settimeofday", SYS_settimeofday, {0, 0}},
	        {"clock_settime", SYS_clock_settime, {CLOCK_REALTIME, 0}},
	        {"clock_adjtime", SYS_clock_adjtime, {CLOCK_REALTIME, 0}},
	        {"adjtimex", SYS_adjtimex, {0}},
	        {"acct", SYS_acct, {(unsigned long)"/nonexistent/zprobe-acct"}},
	        {"syslog", SYS_syslog, {99, 0, 0}},
#ifdef SYS_iopl
	        {"iopl", SYS_iopl, {4}},
	        {"ioperm", SYS_ioperm, {0, 0, 0}},
#endif
	        {"io_uring_setup", SYS_io_uring_setup, {0, 0}},
	        {"personality", SYS_personality, {READ_IMPLIES_EXEC}},
	        {"userfaultfd", SYS_userfaultfd, {0x7fffffff}},
	};
	long r;
	int e;

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct dangerous *d = &table[i];

		if (strcmp(name, d->name))
			continue;
		r = syscall(d->nr, d->a[0], d->a[1], d->a[2], d->a[3], d->a[4], d->a[5]);
		e = r < 0 ? errno : 0;
		printf("{\"syscall\":");
		json_str(name);
		printf(",\"ret\":%ld", r);
		json_errno(e);
		printf("}\n");
		return 0;
	}
	fprintf(stderr, "zprobe: unknown syscall probe '%s'\n", name);
	return 2;
}

static int
report(const char *what, const char *arg, int r)
{
	int e = r < 0 ? errno : 0;

	printf("{\"%s\":", what);
	json_str(arg);
	printf(",\"ret\":%d", r < 0 ? -1 : 0);
	json_errno(e);
	printf("}\n");
	return 0;
}

static int
probe_open(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	report("path", path, fd);
	if (fd >= 0)
		close(fd);
	return 0;
}

static int
probe_settime(void)
{
	struct timespec ts;
	int r, e;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		return 1;
	r = clock_settime(CLOCK_REALTIME, &ts);
	e = r < 0 ? errno : 0;
	printf("{\"ret\":%d", r);
	json_errno(e);
	printf("}\n");
	return 0;
}

static int
probe_forkbomb(long n)
{
	pid_t *pids = calloc((size_t)n + 1, sizeof(pid_t));
	long forked = 0;
	int err = 0;

	if (!pids)
		return 1;
	while (forked < n) {
		pid_t pid = fork();

		if (pid == 0) {
			for (;;)
				pause();
		}
		if (pid < 0) {
			err = errno;
			break;
		}
		pids[forked++] = pid;
	}
	for (long i = 0; i < forked; i++)
		kill(pids[i], SIGKILL);
	for (long i = 0; i < forked; i++)
		while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
			;
	free(pids);
	printf("{\"requested\":%ld,\"forked\":%ld", n, forked);
	json_errno(err);
	printf("}\n");
	return 0;
}

static int
probe_alloc(long mib)
{
	long done = 0;
	int err = 0;

	for (; done < mib; done++) {
		char *p =
		        mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			err = errno;
			break;
		}
		for (size_t off = 0; off < MIB; off += 4096)
			p[off] = 1;
		fprintf(stderr, "zprobe: allocated %ld MiB\n", done + 1);
	}
	printf("{\"requested_mib\":%ld,\"allocated_mib\":%ld", mib, done);
	json_errno(err);
	printf("}\n");
	return 0;
}

static double
seconds(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
probe_spin(long secs)
{
	double start = seconds(CLOCK_MONOTONIC), cpu0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
	volatile unsigned long x = 0;

	while (seconds(CLOCK_MONOTONIC) - start < (double)secs)
		for (int i = 0; i < 100000; i++)
			x += (unsigned long)i;
	printf("{\"wall\":%.3f,\"cpu\":%.3f}\n", seconds(CLOCK_MONOTONIC) - start,
	       seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0);
	return 0;
}

static int
probe_write(const char *path, long mib)
{
	static char zeros[MIB];
	long long bytes = 0;
	int err = 0, fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		err = errno;
	for (long i = 0; fd >= 0 && !err && i < mib; i++)
		for (size_t off = 0; off < MIB;) {
			ssize_t n = write(fd, zeros + off, MIB - off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				err = n < 0 ? errno : ENOSPC;
				break;
			}
			off += (size_t)n;
			bytes += n;
		}
	if (fd >= 0 && fsync(fd) < 0 && !err)
		err = errno;
	if (fd >= 0)
		close(fd);
	printf("{\"path\":");
	json_str(path);
	printf(",\"bytes\":%lld", bytes);
	json_errno(err);
	printf("}\n");
	return 0;
}

static int
probe_sleep(long secs)
{
	struct timespec ts = {.tv_sec = secs};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	printf("{\"slept\":%ld}\n", secs);
	return 0;
}

static int
run(int argc, char *argv[])
{
	const char *cmd = argv[1];
	long n = 0;

	if (argc == 2) {
		if (!strcmp(cmd, "id"))
			return probe_id();
		if (!strcmp(cmd, "caps"))
			return probe_caps();
		if (!strcmp(cmd, "ns"))
			return probe_ns();
		if (!strcmp(cmd, "mounts"))
			return probe_mounts();
		if (!strcmp(cmd, "limits"))
			return probe_limits();
		if (!strcmp(cmd, "hostname"))
			return probe_hostname();
		if (!strcmp(cmd, "pid"))
			return printf("{\"pid\":%d,\"ppid\":%d}\n", (int)getpid(), (int)getppid()) <
			       0;
		if (!strcmp(cmd, "settime"))
			return probe_settime();
		if (!strcmp(cmd, "true"))
			return 0;
	}
	if (argc == 3) {
		const char *a = argv[2];

		if (!strcmp(cmd, "syscall"))
			return probe_syscall(a);
		if (!strcmp(cmd, "mknod"))
			return report("path", a, mknod(a, S_IFBLK | 0600, makedev(7, 0)));
		if (!strcmp(cmd, "open"))
			return probe_open(a);
		if (!strcmp(cmd, "sethostname"))
			return report("hostname", a, sethostname(a, strlen(a)));
		if (!strcmp(cmd, "forkbomb") && parse_num(a, 1000000, &n))
			return probe_forkbomb(n);
		if (!strcmp(cmd, "alloc") && parse_num(a, 1L << 30, &n))
			return probe_alloc(n);
		if (!strcmp(cmd, "spin") && parse_num(a, 86400, &n))
			return probe_spin(n);
		if (!strcmp(cmd, "sleep") && parse_num(a, INT_MAX, &n))
			return probe_sleep(n);
		if (!strcmp(cmd, "exit") && parse_num(a, 255, &n))
			return (int)n;
	}
	if (argc == 4 && !strcmp(cmd, "write") && parse_num(argv[3], 1L << 30, &n))
		return probe_write(argv[2], n);
	return usage();
}

int
main(int argc, char *argv[])
{
	int r;

	if (argc < 2)
		return usage();
	r = run(argc, argv);
	if (fflush(stdout) != 0)
		return 1;
	return r;
}
