/* SPDX-License-Identifier: MIT */
/*
 * A zone's last two fences, raised in its init (and in every zlogin) just
 * before exec, while the process is root in the zone's user namespace:
 *
 *   1. the capability bounding set loses what no zone may hold (the table
 *      below, plus every capability newer than the table), and the
 *      effective, permitted, inheritable and ambient sets follow, so that
 *      nothing the zone execs can get them back;
 *
 *   2. a seccomp filter (libseccomp) that allows by default and answers
 *      EPERM to the syscalls that reach host-wide state the namespaces do
 *      not cover: the kernel itself, its keyrings, the clock, swap,
 *      accounting, raw hardware. It covers every ABI the process can enter
 *      the kernel through (x86_64, i386 and x32 on x86_64), and kills the
 *      process on any other.
 *
 * Capabilities are relative to the zone's user namespace: what the zone
 * keeps (CAP_SYS_ADMIN, CAP_NET_ADMIN, …) acts on its own namespaces and on
 * files owned by its mapped ids, which is what a full distribution init
 * (systemd) needs. The kernel checks host-wide operations against the
 * initial namespace; dropping their capabilities here is defence in depth
 * and keeps the zone honest on kernels that change such a check.
 *
 * The filter is loaded without no_new_privs, so that setuid programs and
 * file capabilities inside the zone keep working; the kernel then demands
 * CAP_SYS_ADMIN in the caller's user namespace, which the zone keeps. Load
 * it after dropping capabilities (the order zone init uses).
 */

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdint.h>
#include <sys/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/macro.h"
#include "zone/zone-security.h"

/*
 * Every capability Linux knows (6.18), and whether a zone keeps it.
 *
 *  0 CHOWN             keep  package managers, tmpfiles; only to ids mapped into the zone
 *  1 DAC_OVERRIDE      keep  zone root reads/writes its own files; only inodes with mapped owners
 *  2 DAC_READ_SEARCH   keep  the same for reading; open_by_handle_at is denied by seccomp
 *  3 FOWNER            keep  chmod/utime/xattrs on the zone's files
 *  4 FSETID            keep  setuid/setgid bits survive chown inside the zone
 *  5 KILL              keep  signals reach only the zone's pid namespace
 *  6 SETGID            keep  login, su, daemons dropping privileges (mapped ids only)
 *  7 SETUID            keep  the same
 *  8 SETPCAP           keep  systemd shrinks its services' bounding sets
 *  9 LINUX_IMMUTABLE   drop  chattr +i/+a: checked in the initial namespace, so no use in a
 *                            zone, and an immutable file would stop the host destroying it
 * 10 NET_BIND_SERVICE  keep  ports below 1024 in the zone's network namespace
 * 11 NET_BROADCAST     keep  unused by the kernel
 * 12 NET_ADMIN         keep  addresses, routes, firewall of the zone's own network namespace
 * 13 NET_RAW           keep  ping, DHCP clients; spoofing is stopped on the host's side
 * 14 IPC_LOCK          keep  SysV shm locks in the zone's IPC namespace; mlock beyond
 *                            RLIMIT_MEMLOCK is checked in the initial namespace
 * 15 IPC_OWNER         keep  the zone's IPC namespace
 * 16 SYS_MODULE        drop  kernel modules are the host's
 * 17 SYS_RAWIO         drop  I/O ports, /dev/mem, SG_IO, FIBMAP: raw hardware
 * 18 SYS_CHROOT        keep  chroot inside the zone (sshd privsep, build tools)
 * 19 SYS_PTRACE        keep  gdb/strace on the zone's processes; ptrace stays inside the
 *                            zone's user namespace, and seccomp is re-checked after a tracer
 *                            rewrites a syscall (Linux >= 4.8)
 * 20 SYS_PACCT         drop  process accounting is host-wide
 * 21 SYS_ADMIN         keep  systemd mounts, makes namespaces, sets the hostname; in a user
 *                            namespace only FS_USERNS_MOUNT filesystems mount, host-wide
 *                            operations are checked in the initial namespace
 * 22 SYS_BOOT          keep  reboot(2) in the zone's pid namespace ends the zone's init only
 * 23 SYS_NICE          keep  priorities inside the zone; raising them is checked in the
 *                            initial namespace, the cpu cgroup bounds the zone
 * 24 SYS_RESOURCE      keep  systemd raises soft limits; hard limits are checked in the initial
 *                            namespace, cgroups bound the zone
 * 25 SYS_TIME          drop  the clock is the host's
 * 26 SYS_TTY_CONFIG    keep  vhangup() of the zone's console by init and getty
 * 27 MKNOD             keep  FIFOs, overlayfs whiteouts; device nodes need it in the initial
 *                            namespace and the device cgroup refuses them anyway
 * 28 LEASE             keep  file leases (Samba, NFS servers) on the zone's files
 * 29 AUDIT_WRITE       keep  login, sshd, sudo write audit records; the kernel refuses them
 *                            from a user namespace and the programs go on
 * 30 AUDIT_CONTROL     drop  audit rules are host-wide
 * 31 SETFCAP           keep  dpkg sets file capabilities (ping): namespaced xattrs, valid only
 *                            in the zone's user namespace
 * 32 MAC_OVERRIDE      drop  the host's LSM policy binds the zone
 * 33 MAC_ADMIN         drop  the same
 * 34 SYSLOG            drop  the kernel log is the host's
 * 35 WAKE_ALARM        drop  timers that wake the host from suspend
 * 36 BLOCK_SUSPEND     drop  keeps the host from suspending
 * 37 AUDIT_READ        drop  the host's audit stream
 * 38 PERFMON           drop  performance monitoring sees the host (perf, BPF tracing)
 * 39 BPF               drop  BPF programs and maps are host-wide
 * 40 CHECKPOINT_RESTORE
 *                      drop  checkpointing zones is the host's job (CRIU from outside)
 * 41…                  drop  whatever a newer kernel adds, until this table is reviewed
 */
#define DROPPED_CAPS(X)        \
	X(CAP_LINUX_IMMUTABLE) \
	X(CAP_SYS_MODULE)      \
	X(CAP_SYS_RAWIO)       \
	X(CAP_SYS_PACCT)       \
	X(CAP_SYS_TIME)        \
	X(CAP_AUDIT_CONTROL)   \
	X(CAP_MAC_OVERRIDE)    \
	X(CAP_MAC_ADMIN)       \
	X(CAP_SYSLOG)          \
	X(CAP_WAKE_ALARM)      \
	X(CAP_BLOCK_SUSPEND)   \
	X(CAP_AUDIT_READ)      \
	X(CAP_PERFMON)         \
	X(CAP_BPF)             \
	X(CAP_CHECKPOINT_RESTORE)

/* The last capability the table above was reviewed against. */
#define REVIEWED_CAP_LAST CAP_CHECKPOINT_RESTORE

#define CAP_NAME(c)  #c,
#define CAP_VALUE(c) c,

const char *const hv_zone_dropped_capabilities[] = {DROPPED_CAPS(CAP_NAME) NULL};
static const cap_value_t dropped_caps[] = {DROPPED_CAPS(CAP_VALUE)};

/*
 * Denied with EPERM. A name the running architecture lacks (vm86 on
 * x86_64) still applies to the compat architectures that have it.
 *
 * Allowed on purpose, though other profiles deny them: kcmp (systemd
 * compares fds with it; it needs ptrace access to both processes, which
 * stays within the zone, and exposes only an order obfuscated per boot),
 * fanotify_init (the kernel gives full fanotify only to CAP_SYS_ADMIN in
 * the initial namespace and limits the rest to filesystems the zone owns),
 * userfaultfd (vm.unprivileged_userfaultfd keeps zones to user-mode
 * faults), mount, unshare, setns, pivot_root, ptrace, reboot (namespaced;
 * systemd needs them).
 */
const char *const hv_zone_denied_syscalls[] = {
        /* Replacing or extending the running kernel. */
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
        /* Programs and observation inside the kernel: host-wide, a large attack surface. */
        "bpf",
        "perf_event_open",
        /* Kernel keyrings are not namespaced: keys would be shared with the host. */
        "keyctl",
        "add_key",
        "request_key",
        /* A file handle opens any inode of the filesystem, outside the zone's root ("shocker"). */
        "open_by_handle_at",
        /* Swap is host-wide. */
        "swapon",
        "swapoff",
        /* The clock is the host's (adjtimex/clock_adjtime also for reading: no way to tell). */
        "clock_settime",
        "clock_settime64",
        "clock_adjtime",
        "clock_adjtime64",
        "settimeofday",
        "adjtimex",
        "stime",
        /* Process accounting and the kernel log are host-wide. */
        "acct",
        "syslog",
        /* Raw hardware and obsolete interfaces. */
        "iopl",
        "ioperm",
        "vm86",
        "vm86old",
        "uselib",
        "nfsservctl",
        "lookup_dcookie",
        /*
         * io_uring performs I/O the filter never sees and has been the
         * kernel's most exploited interface; Docker denies it too. Programs
         * fall back to ordinary syscalls.
         */
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
        NULL,
};

/*
 * personality(2) may select only PER_LINUX (0), PER_LINUX32 (8), either of
 * them with UNAME26 (0x20000), or query (0xffffffff), as Docker allows:
 * flags such as READ_IMPLIES_EXEC or ADDR_NO_RANDOMIZE weaken the zone's
 * processes.
 */
#define PERSONA_ALLOWED_BITS 0x20008u

/* For cap_t and the strings libcap returns. */
static void
cap_freep(void *p)
{
	void *c = *(void **)p;

	if (c)
		(void)cap_free(c);
}

/* Collect the capabilities to drop: the table's, then any newer than the table. */
static size_t
caps_to_drop(cap_value_t *ret, size_t max)
{
	cap_value_t last = cap_max_bits() - 1; /* the running kernel's last capability */
	size_t n = 0;

	for (size_t i = 0; i < ELEMENTSOF(dropped_caps) && n < max; i++)
		if (dropped_caps[i] <= last)
			ret[n++] = dropped_caps[i];
	for (cap_value_t c = REVIEWED_CAP_LAST + 1; c <= last && n < max; c++)
		ret[n++] = c;
	return n;
}

int
hv_zone_drop_capabilities(struct hv_error **reterr)
{
	_cleanup_(cap_freep) cap_t caps = NULL;
	static const cap_flag_t flags[] = {CAP_EFFECTIVE, CAP_PERMITTED, CAP_INHERITABLE};
	cap_value_t drop[64];
	size_t n = caps_to_drop(drop, ELEMENTSOF(drop));

	/* Needs CAP_SETPCAP in the effective set, which the zone keeps: bounding set first. */
	for (size_t i = 0; i < n; i++)
		if (cap_drop_bound(drop[i]) < 0) {
			int r = negative_errno();
			_cleanup_(cap_freep) char *name = cap_to_name(drop[i]);

			return hv_error_set(reterr, r, "cannot drop %s from the bounding set: %m",
			                    name ? name : "a capability");
		}

	caps = cap_get_proc();
	if (!caps)
		return hv_error_set(reterr, negative_errno(),
		                    "cannot read the capability sets: %m");
	for (size_t i = 0; i < ELEMENTSOF(flags); i++)
		if (cap_set_flag(caps, flags[i], (int)n, drop, CAP_CLEAR) < 0)
			return hv_error_set(reterr, negative_errno(),
			                    "cannot clear capabilities: %m");
	if (cap_set_proc(caps) < 0)
		return hv_error_set(reterr, negative_errno(), "cannot set the capability sets: %m");
	if (cap_reset_ambient() < 0)
		return hv_error_set(reterr, negative_errno(),
		                    "cannot clear the ambient capabilities: %m");
	return 0;
}

static void
seccomp_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

/*
 * The ABIs a process of the native architecture can also enter the kernel
 * through; each gets the same rules, so none is a way around them.
 */
static int
add_compat_arches(scmp_filter_ctx ctx, struct hv_error **reterr)
{
	static const struct {
		uint32_t native, compat;
	} table[] = {
	        {SCMP_ARCH_X86_64, SCMP_ARCH_X86},  {SCMP_ARCH_X86_64, SCMP_ARCH_X32},
	        {SCMP_ARCH_X32, SCMP_ARCH_X86_64},  {SCMP_ARCH_X32, SCMP_ARCH_X86},
	        {SCMP_ARCH_AARCH64, SCMP_ARCH_ARM}, {SCMP_ARCH_PPC64, SCMP_ARCH_PPC},
	        {SCMP_ARCH_S390X, SCMP_ARCH_S390},
	};
	uint32_t native = seccomp_arch_native();

	for (size_t i = 0; i < ELEMENTSOF(table); i++) {
		int r;

		if (table[i].native != native)
			continue;
		r = seccomp_arch_add(ctx, table[i].compat);
		if (r < 0 && r != -EEXIST)
			return hv_error_set(reterr, r, "seccomp: cannot add architecture %#x: %m",
			                    table[i].compat);
	}
	return 0;
}

/*
 * libseccomp (2.5) takes one comparison per argument in a rule, and ORs the
 * rules of a syscall, so "none of the five allowed values" is written as a
 * union of masked comparisons of the low 32 bits (the kernel reads an
 * unsigned int). A value is denied when it sets a bit outside
 * PERSONA_ALLOWED_BITS and is not all ones. Such a value, read as a cycle of
 * 32 bits, has a run of set bits holding a disallowed bit and ending before
 * a clear bit. The run ends either at a disallowed bit b (rule: b set, b+1
 * clear) or at an allowed bit b, and then b-1 is in the run and disallowed,
 * since no two allowed bits are neighbours (rule: b-1 and b set, b+1
 * clear). Every rule needs a disallowed bit set and a bit clear, so no
 * allowed value matches. 32 rules.
 */
static int
restrict_personality(scmp_filter_ctx ctx, struct hv_error **reterr)
{
	for (unsigned b = 0; b < 32; b++) {
		uint32_t bit = 1u << b, next = 1u << ((b + 1) % 32), prev = 1u << ((b + 31) % 32);
		uint32_t set = (PERSONA_ALLOWED_BITS & bit) ? prev | bit : bit;
		int r;

		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
		                     SCMP_A0_32(SCMP_CMP_MASKED_EQ, set | next, set));
		if (r < 0)
			return hv_error_set(reterr, r,
			                    "seccomp: cannot restrict 'personality': %m");
	}
	return 0;
}

static int
deny_syscalls(scmp_filter_ctx ctx, struct hv_error **reterr)
{
	for (const char *const *name = hv_zone_denied_syscalls; *name; name++) {
		int nr = seccomp_syscall_resolve_name(*name), r;

		if (nr == __NR_SCMP_ERROR)
			continue; /* unknown to libseccomp on this architecture */
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (r < 0)
			return hv_error_set(reterr, r, "seccomp: cannot deny '%s': %m", *name);
	}
	return 0;
}

static int
set_attributes(scmp_filter_ctx ctx, struct hv_error **reterr)
{
	static const struct {
		enum scmp_filter_attr attr;
		uint32_t value;
		const char *what;
	} attrs[] = {
	        {SCMP_FLTATR_API_SYSRAWRC, 1, "raw error codes"},
	        {SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS,
	         "the action for other architectures"},
	        {SCMP_FLTATR_CTL_NNP, 0, "no_new_privs"},
	        {SCMP_FLTATR_CTL_TSYNC, 1, "thread synchronisation"},
	};

	for (size_t i = 0; i < ELEMENTSOF(attrs); i++) {
		int r = seccomp_attr_set(ctx, attrs[i].attr, attrs[i].value);
		if (r < 0)
			return hv_error_set(reterr, r, "seccomp: cannot set %s: %m", attrs[i].what);
	}
	return 0;
}

/* The profile as a libseccomp filter, not yet loaded. */
static int
build_filter(scmp_filter_ctx *ret, struct hv_error **reterr)
{
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
	int r;

	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return hv_error_set(reterr, -ENOMEM, "seccomp: cannot create a filter");

	r = set_attributes(ctx, reterr);
	if (r < 0)
		return r;
	r = add_compat_arches(ctx, reterr);
	if (r < 0)
		return r;
	r = deny_syscalls(ctx, reterr);
	if (r < 0)
		return r;
	r = restrict_personality(ctx, reterr);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(ctx);
	return 0;
}

static int
load_error(int r, struct hv_error **reterr)
{
	if (r == -EACCES)
		return hv_error_set(reterr, r,
		                    "seccomp: loading the filter needs CAP_SYS_ADMIN in the zone's "
		                    "user namespace");
	return hv_error_set(reterr, r, "seccomp: cannot load the filter: %m");
}

int
hv_zone_load_seccomp(struct hv_error **reterr)
{
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
	int r;

	r = build_filter(&ctx, reterr);
	if (r < 0)
		return r;
	r = seccomp_load(ctx);
	return r < 0 ? load_error(r, reterr) : 0;
}

int
hv_zone_seccomp_export(int fd, struct hv_error **reterr)
{
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
	int r;

	r = build_filter(&ctx, reterr);
	if (r < 0)
		return r;
	/* libseccomp writes the program with one write(): one packet on a SEQPACKET socket. */
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return hv_error_set(reterr, r, "seccomp: cannot export the filter: %m");
	return 0;
}

int
hv_zone_seccomp_load_program(const void *insns, size_t size, struct hv_error **reterr)
{
	struct sock_fprog prog = {.len = (unsigned short)(size / sizeof(struct sock_filter)),
	                          .filter = (struct sock_filter *)insns};

	if (size == 0 || size % sizeof(struct sock_filter) || prog.len > BPF_MAXINSNS)
		return hv_error_set(reterr, -EBADMSG,
		                    "seccomp: a filter of %zu bytes is not a BPF program", size);
	/* The flags the profile asks libseccomp for: none but thread sync, moot here. */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return load_error(-errno, reterr);
	return 0;
}
