/* SPDX-License-Identifier: MIT */
/*
 * Starting a zone: theory of operation.
 *
 * The caller (zoneadmd, host root) has made the zone's cgroups. We then:
 *
 *   0. tell the zone root its name and its machine id (/etc/hostname,
 *      /etc/machine-id when the image left it empty), as an lx brand does;
 *   1. open a pty for the zone's console (zoneadmd keeps the master);
 *   2. clone3() the zone's first process into new user, mount, pid, net,
 *      uts and ipc namespaces, straight into the zone's cgroup2 node
 *      (CLONE_INTO_CGROUP), holding it by pidfd; it waits on a socket;
 *   3. write its id maps (zone ids 0..65535 are host ids base..base+65535)
 *      and make the zone root's mount, id-mapped into the new user
 *      namespace, so files that image authors own as 0 are the zone's
 *      root's and no chown of an image is ever needed;
 *   4. run the caller's hook (zoneadmd plugs the zone's NICs into its new
 *      network namespace, so init finds them up);
 *   5. pass it that mount, the zone's control directory (zoneadmd's metadata
 *      socket), /native and the console over the socket and say go;
 *   6. compile the seccomp profile (libseccomp) while the child mounts, on
 *      the other CPU, and send it the BPF program as a second packet.
 *
 * The child then moves itself into the v1 controllers' cgroups (hybrid and
 * v1 hosts) through "tasks" files we opened before clone3 (hv_cgroup_join:
 * a move by the host side would wait for an RCU grace period), becomes root
 * of its user namespace, takes its own cgroup namespace, sets the hostname, builds
 * the filesystem view (zone-mount.c), pivots into it, drops capabilities,
 * loads the seccomp program it was sent and execs init as PID 1. Any failure before
 * exec is sent back as one error line, and the child exits; the socket is
 * close-on-exec, so end-of-file means init runs.
 *
 * Nothing of this is mounted on the host: every mount lives in the zone's
 * mount namespace and goes with its last process.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/strv.h"
#include "zone/zone-internal.h"
#include "zone/zone-security.h"

#define ERROR_MAX 1024

static int
send_fds(int sock, const int *fds, size_t n, const char *msg)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 5)] = {0};
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = strlen(msg) + 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;

	if (n) {
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* Receive up to max fds; returns how many came. */
static int
recv_fds(int sock, int *fds, size_t max)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 5)] = {0}, buf[16];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = cbuf,
	                    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;
	ssize_t k;
	size_t n;

	do
		k = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (k < 0 && errno == EINTR);
	if (k <= 0)
		return k < 0 ? -errno : -EPIPE;
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len < CMSG_LEN(sizeof(int)))
		return -EBADMSG;
	n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	if (n > max)
		return -EBADMSG;
	memcpy(fds, CMSG_DATA(cm), sizeof(int) * n);
	return (int)n;
}

/* In the child: report the error to the parent and leave. */
_noreturn_ static void
child_fail(int sock, int r, struct hv_error *e)
{
	char msg[ERROR_MAX];

	snprintf(msg, sizeof(msg), "%d %s", -r, hv_error_message(e, r));
	(void)!write(sock, msg, strlen(msg));
	_exit(127);
}

static void
set_memlock(uint64_t bytes)
{
	struct rlimit rl;

	/* A zone may be given less than the host allows, never more. */
	if (bytes == 0 || getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		return;
	if (rl.rlim_max != RLIM_INFINITY && bytes > rl.rlim_max)
		bytes = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max = bytes;
	(void)setrlimit(RLIMIT_MEMLOCK, &rl);
}

static char **
zone_environment(const struct hv_zone_config *c)
{
	char **env = NULL, id[64];

	/* systemd's container interface: what runs it, and its id (machine-id(5) may use it). */
	snprintf(id, sizeof(id), "container_uuid=%s", c->uuid);
	if (strv_push(&env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") <
	            0 ||
	    strv_push(&env, "container=sable") < 0 || strv_push(&env, id) < 0 ||
	    strv_push(&env, "TERM=vt100") < 0)
		return strv_free(env);
	STRV_FOREACH (e, c->env)
		if (strv_push(&env, *e) < 0)
			return strv_free(env);
	return env;
}

/* The seccomp program the parent compiled while we mounted (hv_zone_seccomp_export()). */
static int
load_parent_filter(int sock, struct hv_error **reterr)
{
	const size_t max = BPF_MAXINSNS * sizeof(struct sock_filter);
	_cleanup_free_ void *buf = malloc(max + 1);
	ssize_t k;

	if (!buf)
		return -ENOMEM;
	do
		k = recv(sock, buf, max + 1, 0);
	while (k < 0 && errno == EINTR);
	if (k <= 0)
		return hv_error_set(reterr, k < 0 ? -errno : -EPIPE,
		                    "cannot receive the zone's seccomp filter: %s",
		                    k < 0 ? strerror(errno) : "zoneadmd went away");
	return hv_zone_seccomp_load_program(buf, (size_t)k, reterr);
}

_noreturn_ static void
child_main(const struct hv_zone_config *c, enum hv_cgroup_layout layout,
           const struct hv_cgroup_join *join, int sock)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_zone_fds fds = {-1, -1, -1};
	int got[5], r;
	char **env;

	/* Signals as a fresh process has them: init must not inherit zoneadmd's. */
	sigset_t none;
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < _NSIG; sig++)
		(void)signal(sig, SIG_DFL);

	/* Until the parent says go we have no ids; then we are root of our namespace. */
	r = recv_fds(sock, got, 5);
	if (r < 4)
		child_fail(sock, r < 0 ? r : -EBADMSG, NULL);
	/* root, console, console tree, control directory[, native] */
	fds = (struct hv_zone_fds){got[0], r == 5 ? got[4] : -1, got[1], got[2], got[3]};
	if ((r = hv_cgroup_join(join, &e)) < 0)
		child_fail(sock, r, e);
	if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
		r = hv_error_set(&e, -errno, "cannot become root of the zone: %m");
		child_fail(sock, r, e);
	}
	if (unshare(CLONE_NEWCGROUP) < 0) {
		r = hv_error_set(&e, -errno, "cannot make a cgroup namespace: %m");
		child_fail(sock, r, e);
	}
	if (sethostname(c->hostname, strlen(c->hostname)) < 0) {
		r = hv_error_set(&e, -errno, "cannot set the hostname: %m");
		child_fail(sock, r, e);
	}
	if ((r = hv_zone_mount_all(c, &fds, layout, &e)) < 0)
		child_fail(sock, r, e);

	/* The console is init's stdin, stdout and stderr and its controlling terminal. */
	if (setsid() < 0 || dup2(fds.console, 0) < 0 || dup2(fds.console, 1) < 0 ||
	    dup2(fds.console, 2) < 0 || ioctl(0, TIOCSCTTY, 0) < 0) {
		r = hv_error_set(&e, -errno, "cannot attach the console: %m");
		child_fail(sock, r, e);
	}
	if (fds.console > 2)
		close(fds.console);
	if (fds.console_tree >= 0)
		close(fds.console_tree);
	set_memlock(c->limits.locked);
	(void)prctl(PR_SET_PDEATHSIG, 0);

	if ((r = hv_zone_drop_capabilities(&e)) < 0 || (r = load_parent_filter(sock, &e)) < 0)
		child_fail(sock, r, e);
	env = zone_environment(c);
	if (!env)
		child_fail(sock, -ENOMEM, NULL);
	execve(c->init[0], c->init, env);
	r = hv_error_set(&e, -errno, "cannot run init '%s' in the zone: %m", c->init[0]);
	child_fail(sock, r, e);
}

/* The console: a pty on the host's devpts; the zone sees its slave as /dev/console. */
static int
open_console(uint32_t base, int *ret_master, int *ret_slave, struct hv_error **reterr)
{
	_cleanup_close_ int master = -EBADF, slave = -EBADF;
	struct winsize ws = {.ws_row = 25, .ws_col = 80};
	int unlock = 0;

	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0)
		return hv_error_set(reterr, -errno, "cannot open a console pty: %m");
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return hv_error_set(reterr, -errno, "cannot open the console's slave: %m");
	/* The zone's root owns its console, as a host's root owns /dev/console. */
	if (fchown(slave, base, base + 5) < 0 && fchown(slave, base, base) < 0)
		return hv_error_set(reterr, -errno, "cannot give the console to the zone: %m");
	(void)ioctl(master, TIOCSWINSZ, &ws);
	*ret_master = TAKE_FD(master);
	*ret_slave = TAKE_FD(slave);
	return 0;
}

static int
write_map(pid_t pid, const char *which, uint32_t base, struct hv_error **reterr)
{
	char path[64], line[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, which);
	snprintf(line, sizeof(line), "0 %u %u\n", base, HV_ZONE_ID_COUNT);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		return hv_error_set(reterr, -errno, "cannot write the zone's %s: %m", which);
	return 0;
}

/* The zone root, its control directory (and /native), as detached trees for the child. */
static int
make_trees(const struct hv_zone_config *c, pid_t pid, int *ret_root, int *ret_control,
           int *ret_native, struct hv_error **reterr)
{
	_cleanup_close_ int userns = -EBADF, root = -EBADF, control = -EBADF, native = -EBADF;
	_cleanup_free_ char *dir = NULL;
	int r;
	char path[64];
	struct mount_attr idmap = {.attr_set = MOUNT_ATTR_IDMAP};
	struct mount_attr ro = {.attr_set =
	                                MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};

	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	userns = open(path, O_RDONLY | O_CLOEXEC);
	if (userns < 0)
		return hv_error_set(reterr, -errno, "cannot open the zone's user namespace: %m");
	idmap.userns_fd = (uint64_t)userns;
	root = open_tree(AT_FDCWD, c->root, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (root < 0)
		return hv_error_set(reterr, -errno, "zone root '%s': %m", c->root);
	if (mount_setattr(root, "", AT_EMPTY_PATH, &idmap, sizeof(idmap)) < 0)
		return hv_error_set(reterr, -errno,
		                    "cannot id-map the zone root '%s' (the filesystem must support "
		                    "id-mapped mounts): %m",
		                    c->root);
	if ((r = hv_zone_control_dir(c, &dir)) < 0)
		return hv_error_set(reterr, r, "cannot make the zone's control directory: %m");
	control = open_tree(AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (control < 0 || mount_setattr(control, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0)
		return hv_error_set(reterr, -errno, "control directory '%s': %m", dir);
	if (c->native) {
		_cleanup_free_ char *mp = NULL;
		/* The mount point of /native/.zonecontrol (a read-only native dir goes without). */
		if (asprintf(&mp, "%s/.zonecontrol", c->native) >= 0)
			(void)mkdir(mp, 0755);
		native = open_tree(AT_FDCWD, c->native,
		                   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		if (native < 0 ||
		    mount_setattr(native, "", AT_EMPTY_PATH | AT_RECURSIVE, &ro, sizeof(ro)) < 0)
			return hv_error_set(reterr, -errno, "native tools '%s': %m", c->native);
	}
	*ret_root = TAKE_FD(root);
	*ret_control = TAKE_FD(control);
	*ret_native = TAKE_FD(native);
	return 0;
}

/* Wait for the child's verdict: end-of-file (it exec'd init) or an error line. */
static int
await_exec(int sock, struct hv_error **reterr)
{
	char buf[ERROR_MAX + 1];
	ssize_t k;
	int code;

	do
		k = read(sock, buf, ERROR_MAX);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return hv_error_set(reterr, -errno, "lost the zone's first process: %m");
	if (k == 0)
		return 0;
	buf[k] = 0;
	code = atoi(buf);
	return hv_error_set(reterr, code > 0 ? -code : -EIO, "%s",
	                    strchr(buf, ' ') ? strchr(buf, ' ') + 1 : buf);
}

/* A file of the zone root, resolved inside it and never following a link out of it. */
static int
open_in_root(const struct hv_zone_config *c, const char *rel, uint64_t flags)
{
	struct open_how how = {.flags = flags | O_CLOEXEC | O_NOFOLLOW,
	                       .mode = 0644,
	                       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	_cleanup_close_ int root = -EBADF;
	int fd;

	root = open(c->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	fd = (int)syscall(SYS_openat2, root, rel, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

/*
 * Write /etc/hostname in the zone root, as an lx brand does at boot, so a
 * distribution's init takes the name the zone was given.
 */
static void
write_hostname(const struct hv_zone_config *c)
{
	_cleanup_close_ int fd = -EBADF;
	char line[80];

	/* A root without /etc (or a read-only one) has no file to tell: nothing to do. */
	fd = open_in_root(c, "etc/hostname", O_WRONLY | O_CREAT | O_TRUNC);
	if (fd < 0)
		return;
	snprintf(line, sizeof(line), "%s\n", c->hostname);
	(void)loop_write(fd, line, strlen(line));
}

/*
 * Give the zone its machine id (machine-id(5)): its UUID as 32 hex digits,
 * unique among zones and the same at every boot. An image leaves
 * /etc/machine-id empty (or "uninitialized") so that each machine made from
 * it gets its own; the first boot of the zone fills it in. Were it left
 * empty, systemd would take every boot for a first boot and run its
 * first-boot units (systemd-firstboot asks on the console, where no one
 * answers). An id the zone has is kept, and a missing file stays missing
 * (systemd then takes container_uuid from the environment).
 */
static void
write_machine_id(const struct hv_zone_config *c)
{
	_cleanup_close_ int fd = -EBADF;
	char cur[64], id[34];
	size_t n = 0;
	struct stat st;
	ssize_t k;

	fd = open_in_root(c, "etc/machine-id", O_RDWR);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size >= (off_t)sizeof(cur))
		return;
	k = read(fd, cur, sizeof(cur) - 1);
	if (k < 0)
		return;
	cur[k] = 0;
	cur[strcspn(cur, "\n")] = 0;
	if (!streq(cur, "") && !streq(cur, "uninitialized"))
		return;
	for (const char *p = c->uuid; *p; p++)
		if (*p != '-')
			id[n++] = *p;
	id[n++] = '\n';
	if (ftruncate(fd, 0) == 0)
		(void)!pwrite(fd, id, n, 0);
}

static int
check_root(const struct hv_zone_config *c, struct hv_error **reterr)
{
	struct stat st;

	if (c->uid_base == 0)
		return hv_error_set(reterr, -EINVAL,
		                    "zone '%s' has no id range (run 'zoneadm -z %s install')",
		                    c->uuid, c->uuid);
	if (stat(c->root, &st) < 0)
		return hv_error_set(reterr, -errno, "zone root '%s': %m", c->root);
	if (!S_ISDIR(st.st_mode))
		return hv_error_set(reterr, -ENOTDIR, "zone root '%s' is not a directory", c->root);
	return 0;
}

int
hv_zone_start(const struct hv_zone_config *c, struct hv_cgroup *cg, const struct hv_zone_hook *hook,
              struct hv_zone_started *ret, struct hv_error **reterr)
{
	_cleanup_close_ int master = -EBADF, slave = -EBADF, cgfd = -EBADF, root = -EBADF,
	                    native = -EBADF, pidfd = -EBADF, control = -EBADF;
	_cleanup_hv_error_ struct hv_error *export_err = NULL;
	int sock[2] = {-EBADF, -EBADF}, r;
	struct hv_cgroup_join join = {.n = 0};
	enum hv_cgroup_layout layout = hv_cgroup_layout(cg);
	struct clone_args args = {
	        .flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS |
	                 CLONE_NEWIPC | CLONE_PIDFD | CLONE_INTO_CGROUP,
	        .exit_signal = SIGCHLD,
	};
	pid_t pid;

	if ((r = check_root(c, reterr)) < 0)
		return r;
	write_hostname(c);
	write_machine_id(c);
	if ((r = open_console(c->uid_base, &master, &slave, reterr)) < 0)
		return r;
	/* Straight into the cgroup2 node where there is one (pure v1 hosts: attach below). */
	cgfd = hv_cgroup_open_v2_fd(cg, NULL);
	if (cgfd < 0)
		args.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
	if ((r = hv_cgroup_join_prepare(cg, cgfd < 0, &join, reterr)) < 0)
		return r;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0) {
		r = hv_error_set(reterr, -errno, "socketpair: %m");
		goto fail;
	}
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	args.cgroup = (uint64_t)cgfd;

	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0) {
		r = hv_error_set(reterr, -errno, "cannot create the zone's namespaces: %m");
		goto fail;
	}
	if (pid == 0) {
		close(sock[0]);
		child_main(c, layout, &join, sock[1]);
	}
	sock[1] = safe_close(sock[1]);
	hv_cgroup_join_done(&join);

	if ((r = write_map(pid, "uid_map", c->uid_base, reterr)) < 0 ||
	    (r = write_map(pid, "gid_map", c->uid_base, reterr)) < 0 ||
	    (r = make_trees(c, pid, &root, &control, &native, reterr)) < 0)
		goto kill;
	if (hook && hook->prepare && (r = hook->prepare(pid, hook->userdata, reterr)) < 0)
		goto kill;
	{
		/*
		 * The console slave lives on the host's devpts, a mount of another
		 * namespace: the child gets it as a detached mount it can attach.
		 */
		_cleanup_close_ int contree =
		        open_tree(slave, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
		int fds[5] = {root, slave, contree, control, native};
		if (contree < 0) {
			r = hv_error_set(reterr, -errno, "cannot prepare the zone's console: %m");
			goto kill;
		}
		if ((r = send_fds(sock[0], fds, native >= 0 ? 5 : 4, "go")) < 0) {
			hv_error_set(reterr, r, "cannot hand the zone its root: %m");
			goto kill;
		}
	}
	root = safe_close(root);
	control = safe_close(control);
	native = safe_close(native);
	slave = safe_close(slave);
	/* Compiled here while the child mounts: off the path to init on a second CPU. */
	if ((r = hv_zone_seccomp_export(sock[0], &export_err)) < 0) {
		/* A child that failed first closed its end: its own error is the one to tell. */
		if (await_exec(sock[0], reterr) < 0)
			goto reap;
		r = hv_error_set(reterr, r, "%s", hv_error_message(export_err, r));
		goto kill;
	}
	r = await_exec(sock[0], reterr);
	if (r < 0)
		goto reap;
	sock[0] = safe_close(sock[0]);
	*ret = (struct hv_zone_started){pid, TAKE_FD(pidfd), TAKE_FD(master)};
	return 0;
kill:
	(void)kill(pid, SIGKILL);
reap:
	(void)waitpid(pid, NULL, 0);
fail:
	hv_cgroup_join_done(&join);
	safe_close(sock[0]);
	safe_close(sock[1]);
	return r;
}
