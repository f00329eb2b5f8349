/* SPDX-License-Identifier: MIT */
/*
 * QEMU's jail: theory of operation.
 *
 * A KVM VM is a zone whose only process is QEMU. Its supervisor is the
 * zone's zoneadmd, as for every zone (one small supervisor per guest, its
 * lock, its control and console sockets, its run record, its cgroups and
 * its NICs are all reused): zoneadmd starts QEMU through this file instead
 * of hv_zone_start(), and records QEMU as the zone's "init". So what
 * holds for zones holds for VMs: killing zoneadmd leaves QEMU running (it
 * was never QEMU's session or parent in any way QEMU notices), and a new
 * zoneadmd re-adopts it by pid and start time, holds it by pidfd again and
 * reconnects to its sockets, which QEMU serves (server=on, wait=off), so
 * nothing of the guest's is lost but what it printed in between.
 *
 * hv_vm_jail_start() clone3()s QEMU into new mount, pid, ipc, uts and
 * network namespaces, straight into the zone's cgroup2 node
 * (CLONE_INTO_CGROUP; its memory limit is max_physical_memory, which
 * vmadm keeps >= ram + overhead). The child then, before exec:
 *
 *   1. builds a root on a tmpfs holding only what QEMU needs, read-only:
 *      the QEMU binary, /usr/lib (its libraries and option ROMs),
 *      /usr/share/qemu and /usr/share/seabios (firmware), ld.so.cache,
 *      /dev/null, zero, random, urandom (and /dev/kvm when KVM is used),
 *      a fresh /proc of its own pid namespace; and, writable, the VM's
 *      disks at /vm/disk<N> and its socket directory at /vm/run
 *      (<zonepath>/root/tmp); cdroms read-only at /vm/cdrom<N>; this
 *      boot's cdroms (read-only) and disks from vmadm start at /vm/once<N>
 *      and /vm/oncedisk<N>, files opened inside the zone root (no symlinks);
 *   2. pivots into it and detaches the host's tree: no other guest's disk
 *      exists in QEMU's world, whatever it does;
 *   3. becomes the VM's own unprivileged host user (the first id of the
 *      zone's id range: no two VMs share it, and it owns the VM's disks and
 *      sockets, mode 0600/0700), with the group of /dev/kvm as its only
 *      extra group, so it keeps no capability;
 *   4. sets no_new_privs and loads our seccomp filter (no mount, no
 *      namespaces, no module or kexec calls, no ptrace, bpf or keyrings);
 *      QEMU adds its own (-sandbox on) once it has set up;
 *   5. execs QEMU with the NICs' tap fds (opened by the supervisor: QEMU
 *      never sees /dev/net/tun, and its network namespace is empty) and
 *      stdout/stderr on <zonepath>/logs/qemu.log.
 *
 * A failure before exec comes back over a close-on-exec pipe as one line.
 * After exec we wait for QEMU's supervisor monitor (vm.sup) to answer; a
 * QEMU that exits first is reaped and the tail of what it wrote to its
 * log is the error, so a bad option or a disk it cannot open reads as
 * QEMU said it.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/path.h"
#include "basic/time-util.h"
#include "vm/machine.h"
#include "vm/qmp.h"

/*
 * Where the child builds QEMU's root: <zonepath>/root/jail, an empty
 * directory on the host; the tmpfs on it exists only in the child's mount
 * namespace, and it shadows nothing the jail needs.
 */
static char jail_root[4096];
#define START_TIMEOUT_MS 30000
#define LOG_TAIL_MAX     2048

/* In the child: write one error line to the parent and die. */
_noreturn_ static void child_fail(int pipe_fd, int err, const char *fmt, ...) _printf_(3, 4);
_noreturn_ static void
child_fail(int pipe_fd, int err, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "%d ", err < 0 ? -err : err);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	(void)!write(pipe_fd, buf, strlen(buf));
	_exit(127);
}

static int
make_target(const char *target, bool dir)
{
	_cleanup_free_ char *parent = NULL;
	int fd;

	if (path_dirname(target, &parent) < 0)
		return -ENOMEM;
	if (mkdir_p(parent, 0755) < 0)
		return -errno;
	if (dir)
		return mkdir(target, 0755) < 0 && errno != EEXIST ? -errno : 0;
	fd = open(target, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* Bind src at JAIL_ROOT/dst (read-only unless rw); a missing optional src is skipped. */
static int
bind(const char *src, const char *dst, bool rw, bool optional)
{
	_cleanup_free_ char *target = NULL;
	struct stat st;
	int r;

	if (stat(src, &st) < 0)
		return optional && errno == ENOENT ? 0 : -errno;
	if (asprintf(&target, "%s%s", jail_root, dst) < 0)
		return -ENOMEM;
	if ((r = make_target(target, S_ISDIR(st.st_mode))) < 0)
		return r;
	if (mount(src, target, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -errno;
	if (!rw &&
	    mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID, NULL) < 0)
		return -errno;
	return 0;
}

static int
load_filter(void)
{
	static const int denied[] = {
	        SCMP_SYS(mount),
	        SCMP_SYS(umount2),
	        SCMP_SYS(pivot_root),
	        SCMP_SYS(chroot),
	        SCMP_SYS(unshare),
	        SCMP_SYS(setns),
	        SCMP_SYS(ptrace),
	        SCMP_SYS(process_vm_readv),
	        SCMP_SYS(process_vm_writev),
	        SCMP_SYS(kexec_load),
	        SCMP_SYS(kexec_file_load),
	        SCMP_SYS(init_module),
	        SCMP_SYS(finit_module),
	        SCMP_SYS(delete_module),
	        SCMP_SYS(bpf),
	        SCMP_SYS(perf_event_open),
	        SCMP_SYS(keyctl),
	        SCMP_SYS(add_key),
	        SCMP_SYS(request_key),
	        SCMP_SYS(reboot),
	        SCMP_SYS(swapon),
	        SCMP_SYS(swapoff),
	        SCMP_SYS(open_by_handle_at),
	        SCMP_SYS(name_to_handle_at),
	        SCMP_SYS(acct),
	        SCMP_SYS(quotactl),
	        SCMP_SYS(syslog),
	        SCMP_SYS(fsopen),
	        SCMP_SYS(fsmount),
	        SCMP_SYS(move_mount),
	        SCMP_SYS(open_tree),
	        SCMP_SYS(mount_setattr),
	        SCMP_SYS(userfaultfd),
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r = 0;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(denied); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), denied[i], 0);
	/* New namespaces through clone: QEMU's threads never ask for one. */
	if (r >= 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
		                     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWNS, CLONE_NEWNS));
	if (r >= 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
		                     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
	if (r >= 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

static void
jail_disk(int pipe_fd, const struct hv_vm_disk *d, const char *name)
{
	char dst[64];
	int r;

	snprintf(dst, sizeof(dst), "/vm/%s", name);
	r = bind(d->path, dst, d->media == HV_VM_MEDIA_DISK, false);
	if (r < 0)
		child_fail(pipe_fd, r, "disk '%s': cannot show it to QEMU: %s", d->path,
		           strerror(-r));
}

/*
 * This boot's cdroms and disks (vmadm start cdrom= disk=) are files in the
 * zone root that an operator named: opened inside it without following a
 * symlink (one swapped in since vmadm looked is refused), and shown to
 * QEMU from the open file. A disk becomes the VM's user's, as its own
 * disks are. In the child, before its root is built: a bind mount's
 * source must be in the caller's mount namespace.
 */
static void
jail_once(int pipe_fd, const struct hv_vm_jail *j, const struct hv_vm_disk *d, const char *name)
{
	bool disk = d->media == HV_VM_MEDIA_DISK;
	struct open_how how = {.flags = (disk ? O_RDWR : O_RDONLY) | O_NOCTTY | O_CLOEXEC,
	                       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
	                                  RESOLVE_NO_SYMLINKS};
	const char *what = disk ? "disk" : "cdrom", *rel;
	char root[4096], src[64], dst[64];
	struct stat st;
	int rfd, fd, r;

	snprintf(root, sizeof(root), "%s/root", j->m->zonepath);
	rel = startswith(d->path, root);
	if (!rel || rel[0] != '/' || !rel[1])
		child_fail(pipe_fd, EINVAL, "%s '%s': not inside the zone root '%s'", what, d->path,
		           root);
	rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		child_fail(pipe_fd, errno, "zone root '%s': %m", root);
	fd = (int)syscall(SYS_openat2, rfd, rel + 1, &how, sizeof(how));
	if (fd < 0)
		child_fail(pipe_fd, errno, "%s '%s': %m", what, d->path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		child_fail(pipe_fd, EINVAL, "%s '%s': expected a regular file", what, d->path);
	if (disk && (fchown(fd, j->uid, j->uid) < 0 || fchmod(fd, 0600) < 0))
		child_fail(pipe_fd, errno, "%s '%s': %m", what, d->path);
	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	snprintf(dst, sizeof(dst), "/vm/%s", name);
	if ((r = bind(src, dst, disk, false)) < 0)
		child_fail(pipe_fd, r, "%s '%s': cannot show it to QEMU: %s", what, d->path,
		           strerror(-r));
	close(fd);
	close(rfd);
}

_noreturn_ static void
child_main(const struct hv_vm_jail *j, int pipe_fd, int log_fd, gid_t kvm_gid)
{
	static const char *const ro[] = {"/usr/lib", "/usr/lib64", "/usr/share/qemu",
	                                 "/usr/share/seabios", "/etc/ld.so.cache"};
	static const char *const devs[] = {"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"};
	const struct hv_vm_machine *m = j->m;
	_cleanup_free_ char *run = NULL;
	const char *env[] = {"PATH=/usr/bin", "HOME=/", NULL};
	int r, null;

	if (j->join && (r = hv_cgroup_join(j->join, NULL)) < 0)
		child_fail(pipe_fd, r, "cannot join the VM's cgroups: %s", strerror(-r));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", jail_root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
		child_fail(pipe_fd, errno, "cannot make QEMU's root: %m");
	for (size_t i = 0; i < ELEMENTSOF(ro); i++)
		if ((r = bind(ro[i], ro[i], false, true)) < 0)
			child_fail(pipe_fd, r, "cannot show %s to QEMU: %s", ro[i], strerror(-r));
	if ((r = bind(j->qemu, j->qemu, false, false)) < 0)
		child_fail(pipe_fd, r, "QEMU '%s': %s", j->qemu, strerror(-r));
	for (size_t i = 0; i < ELEMENTSOF(devs); i++)
		if ((r = bind(devs[i], devs[i], true, false)) < 0)
			child_fail(pipe_fd, r, "cannot show %s to QEMU: %s", devs[i], strerror(-r));
	if (j->kvm && (r = bind("/dev/kvm", "/dev/kvm", true, false)) < 0)
		child_fail(pipe_fd, r, "cannot show /dev/kvm to QEMU: %s", strerror(-r));
	if (hv_vm_run_dir(m->zonepath, &run) < 0)
		child_fail(pipe_fd, ENOMEM, "out of memory");
	if ((r = bind(run, "/vm/run", true, false)) < 0)
		child_fail(pipe_fd, r, "cannot show QEMU its socket directory: %s", strerror(-r));
	for (size_t i = 0; i < m->n_disks; i++) {
		char name[32];
		snprintf(name, sizeof(name), "%s%zu",
		         m->disks[i].media == HV_VM_MEDIA_CDROM ? "cdrom" : "disk", i);
		jail_disk(pipe_fd, &m->disks[i], name);
	}
	for (size_t i = 0; i < m->n_once_cdroms; i++) {
		char name[32];
		snprintf(name, sizeof(name), "once%zu", i);
		jail_once(pipe_fd, j, &m->once_cdroms[i], name);
	}
	for (size_t i = 0; i < m->n_once_disks; i++) {
		char name[32];
		snprintf(name, sizeof(name), "oncedisk%zu", i);
		jail_once(pipe_fd, j, &m->once_disks[i], name);
	}
	if (chdir(jail_root) < 0 || symlink("usr/lib", "lib") < 0 ||
	    symlink("usr/lib64", "lib64") < 0 || symlink("usr/bin", "bin") < 0 ||
	    mkdir("proc", 0555) < 0 ||
	    mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ||
	    mkdir(".old", 0700) < 0)
		child_fail(pipe_fd, errno, "cannot make QEMU's root: %m");
	if (syscall(SYS_pivot_root, ".", ".old") < 0 || chdir("/") < 0 ||
	    umount2("/.old", MNT_DETACH) < 0 || rmdir("/.old") < 0 ||
	    mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
		child_fail(pipe_fd, errno, "cannot enter QEMU's root: %m");
	(void)sethostname("hvm", 3);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
		child_fail(pipe_fd, errno, "cannot set up QEMU's stdio: %m");
	if ((kvm_gid ? setgroups(1, &kvm_gid) : setgroups(0, NULL)) < 0 ||
	    setresgid(j->uid, j->uid, j->uid) < 0 || setresuid(j->uid, j->uid, j->uid) < 0)
		child_fail(pipe_fd, errno, "cannot become user %u: %m", (unsigned)j->uid);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(pipe_fd, errno, "no_new_privs: %m");
	if ((r = load_filter()) < 0)
		child_fail(pipe_fd, r, "cannot load QEMU's seccomp filter: %s", strerror(-r));
	/* The taps are QEMU's; everything else of ours closes at exec. */
	for (size_t i = 0; i < m->n_nics; i++)
		if (fcntl(m->nics[i].fd, F_SETFD, 0) < 0)
			child_fail(pipe_fd, errno, "tap fd: %m");
	execve(j->qemu, j->argv, (char *const *)env);
	child_fail(pipe_fd, errno, "cannot run QEMU '%s': %m", j->qemu);
}

/* The new end of QEMU's log since offset: what it said before it died. */
static char *
log_tail(const char *path, off_t from)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[LOG_TAIL_MAX + 1], *p, *s;
	off_t end;
	ssize_t n;

	if (fd < 0 || (end = lseek(fd, 0, SEEK_END)) < 0)
		return NULL;
	if (end - from > LOG_TAIL_MAX)
		from = end - LOG_TAIL_MAX;
	n = pread(fd, buf, LOG_TAIL_MAX, from);
	if (n <= 0)
		return NULL;
	buf[n] = 0;
	/* One line for the user: the lines joined with "; ", without timestamps. */
	for (p = buf; *p; p++)
		if (*p == '\n')
			*p = p[1] ? ';' : 0;
	while ((s = strstr(buf, "qemu-system-x86_64: ")))
		memmove(s, s + 20, strlen(s + 20) + 1);
	return strdup(buf);
}

static int
owned_by_vm(const struct hv_vm_jail *j, struct hv_error **reterr)
{
	_cleanup_free_ char *run = NULL;

	if (hv_vm_run_dir(j->m->zonepath, &run) < 0)
		return -ENOMEM;
	if (mkdir_p(run, 0700) < 0 || chown(run, j->uid, j->uid) < 0 || chmod(run, 0700) < 0)
		return hv_error_set(reterr, -errno, "VM socket directory '%s': %m", run);
	for (size_t i = 0; i < j->m->n_disks; i++) {
		const struct hv_vm_disk *d = &j->m->disks[i];
		if (d->media == HV_VM_MEDIA_DISK &&
		    (chown(d->path, j->uid, j->uid) < 0 || chmod(d->path, 0600) < 0))
			return hv_error_set(reterr, -errno, "disk '%s': %m", d->path);
	}
	return 0;
}

/* Wait for QEMU's supervisor monitor to answer, or for QEMU to die with its reason. */
static int
wait_started(const struct hv_vm_jail *j, int pidfd, off_t log_start, struct hv_qmp **ret_qmp,
             struct hv_error **reterr)
{
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + START_TIMEOUT_MS * USEC_PER_MSEC;
	_cleanup_free_ char *sock = NULL;

	if (hv_vm_socket_path(j->m->zonepath, "vm.sup", &sock) < 0)
		return -ENOMEM;
	for (;;) {
		struct pollfd p = {.fd = pidfd, .events = POLLIN};
		siginfo_t si = {0};
		int r;

		if (poll(&p, 1, 10) > 0) {
			_cleanup_free_ char *tail = NULL;
			int status;

			(void)waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
			status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
			tail = log_tail(j->log, log_start);
			return hv_error_set(reterr, -EIO, "QEMU exited with status %d at start: %s",
			                    status, tail ? tail : "(it said nothing)");
		}
		r = hv_qmp_connect(sock, 5000, ret_qmp, NULL);
		if (r >= 0)
			return 0;
		if (now_usec(CLOCK_MONOTONIC) > deadline) {
			(void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
			(void)waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
			return hv_error_set(reterr, -ETIMEDOUT,
			                    "QEMU did not open its monitor within %d s",
			                    START_TIMEOUT_MS / 1000);
		}
	}
}

int
hv_vm_jail_start(const struct hv_vm_jail *j, pid_t *ret_pid, int *ret_pidfd,
                 struct hv_qmp **ret_qmp, struct hv_error **reterr)
{
	_cleanup_close_ int log_fd = -EBADF, pidfd = -EBADF;
	int p[2] = {-EBADF, -EBADF}, r;
	struct clone_args args = {
	        .flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET |
	                 CLONE_PIDFD | (j->cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0),
	        .exit_signal = SIGCHLD,
	        .cgroup = (uint64_t)(j->cgroup_fd >= 0 ? j->cgroup_fd : 0),
	};
	struct stat st;
	gid_t kvm_gid = 0;
	char msg[512];
	off_t log_start;
	ssize_t n;
	pid_t pid;

	if ((r = owned_by_vm(j, reterr)) < 0)
		return r;
	r = snprintf(jail_root, sizeof(jail_root), "%s/root/jail", j->m->zonepath);
	if (r < 0 || (size_t)r >= sizeof(jail_root) - 256)
		return hv_error_set(reterr, -ENAMETOOLONG, "zonepath '%s' is too long",
		                    j->m->zonepath);
	if (mkdir(jail_root, 0755) < 0 && errno != EEXIST)
		return hv_error_set(reterr, -errno, "cannot create '%s': %m", jail_root);
	log_fd = open(j->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (log_fd < 0)
		return hv_error_set(reterr, -errno, "QEMU's log '%s': %m", j->log);
	log_start = lseek(log_fd, 0, SEEK_END);
	if (j->kvm && stat("/dev/kvm", &st) == 0)
		kvm_gid = st.st_gid;
	if (pipe2(p, O_CLOEXEC) < 0)
		return hv_error_set(reterr, -errno, "pipe: %m");
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0) {
		r = hv_error_set(reterr, -errno, "cannot create QEMU's namespaces: %m");
		safe_close(p[0]);
		safe_close(p[1]);
		return r;
	}
	if (pid == 0) {
		close(p[0]);
		child_main(j, p[1], log_fd, kvm_gid);
	}
	p[1] = safe_close(p[1]);
	n = read(p[0], msg, sizeof(msg) - 1);
	p[0] = safe_close(p[0]);
	if (n > 0) {
		int err = atoi(msg);
		char *text = strchr(msg, ' ');
		msg[n] = 0;
		(void)waitid(P_PIDFD, (id_t)pidfd, &(siginfo_t){0}, WEXITED);
		return hv_error_set(reterr, -(err ? err : EIO), "%s", text ? text + 1 : msg);
	}
	if ((r = wait_started(j, pidfd, log_start, ret_qmp, reterr)) < 0)
		return r;
	*ret_pid = pid;
	*ret_pidfd = TAKE_FD(pidfd);
	return 0;
}
