/* SPDX-License-Identifier: MIT */
/*
 * zlogin(1): enter a zone.
 *
 *   zlogin UUID                 an interactive login shell on a new pty
 *   zlogin [-t] UUID CMD ARGS   CMD ARGS under the user's shell; stdin,
 *                               stdout and stderr pass straight through
 *                               (a pty only with -t); CMD's exit status
 *   zlogin -C UUID              the zone's console (leave with ~.)
 *
 * The process that runs in the zone joins the zone's cgroups and every
 * namespace of its init, and has the capabilities, seccomp filter and ids
 * the zone's own processes have (zone-enter.c). zlogin itself stays on the
 * host side to carry the pty.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sched.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/cli.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/root.h"
#include "basic/strv.h"
#include "zone/zone-cgroup.h"
#include "zone/zone.h"

static const char *arg_user;
static bool arg_tty, arg_console, arg_null_stdin, arg_quiet, arg_noescape;
static char arg_escape = '~';

static struct termios saved_tios;
static bool tios_saved;

static void
restore_tty(void)
{
	if (tios_saved)
		(void)tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_tios);
}

static void
raw_tty(void)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tios) < 0)
		return;
	tios_saved = true;
	atexit(restore_tty);
	t = saved_tios;
	cfmakeraw(&t);
	(void)tcsetattr(STDIN_FILENO, TCSADRAIN, &t);
}

static void
copy_winsize(int to)
{
	struct winsize ws;

	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
		(void)ioctl(to, TIOCSWINSZ, &ws);
}

/*
 * Carry bytes between our terminal and fd until fd ends (or, with the
 * escape enabled, until "<escape>." starts a line). Returns 0, or 1 when
 * the user left with the escape.
 */
static int
proxy(int fd, bool escape, int sigfd)
{
	bool at_line_start = true, pending_escape = false, in_open = true;
	char buf[4096];

	for (;;) {
		struct pollfd p[3] = {{.fd = fd, .events = POLLIN},
		                      {.fd = in_open ? STDIN_FILENO : -1, .events = POLLIN},
		                      {.fd = sigfd, .events = POLLIN}};
		ssize_t n;

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[2].revents) {
			struct signalfd_siginfo si;
			if (read(sigfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo == SIGWINCH)
				copy_winsize(fd);
		}
		if (p[0].revents) {
			n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				return 0; /* the other side is gone (EIO on a pty: its last user
				             left) */
			if (loop_write(STDOUT_FILENO, buf, (size_t)n) < 0)
				return 0;
		}
		if (p[1].revents) {
			char out[sizeof(buf) + 1];
			size_t o = 0;

			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0) {
				/* End of our input: pass it on (^D on a pty, shutdown on a socket).
				 */
				in_open = false;
				if (isatty(fd))
					(void)!write(fd, "\004", 1);
				else
					(void)shutdown(fd, SHUT_WR);
				continue;
			}
			for (ssize_t i = 0; i < n; i++) {
				char ch = buf[i];
				if (escape && pending_escape) {
					pending_escape = false;
					if (ch == '.')
						return 1;
					if (ch != arg_escape)
						out[o++] = arg_escape;
				} else if (escape && at_line_start && ch == arg_escape) {
					pending_escape = true;
					continue;
				}
				out[o++] = ch;
				at_line_start = ch == '\r' || ch == '\n';
			}
			if (o && loop_write(fd, out, o) < 0)
				return 0;
		}
	}
}

static int
sigwinch_fd(void)
{
	sigset_t m;

	sigemptyset(&m);
	sigaddset(&m, SIGWINCH);
	sigprocmask(SIG_BLOCK, &m, NULL);
	return signalfd(-1, &m, SFD_CLOEXEC | SFD_NONBLOCK);
}

static const char *arg_uuid;

static int
console(void)
{
	_cleanup_free_ char *path = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -EBADF, sig = -EBADF;
	int r;

	if ((r = hv_zone_runtime_path(arg_uuid, ".console", &path)) < 0)
		return log_error_errno(r, "zone %s: %m", arg_uuid), 1;
	if (strlen(path) >= sizeof(sa.sun_path))
		return log_error("zone %s: console socket path too long", arg_uuid), 1;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_error_errno(errno, "zone %s is not running (no console: %m)", arg_uuid);
		return 1;
	}
	if (!arg_quiet)
		fprintf(stderr, "[Connected to zone '%s' console]\n", arg_uuid);
	sig = sigwinch_fd();
	raw_tty();
	r = proxy(fd, !arg_noescape, sig);
	restore_tty();
	if (!arg_quiet)
		fprintf(stderr, "\n[Connection to zone '%s' console closed]\n", arg_uuid);
	return r < 0 ? 1 : 0;
}

/* The pty for an interactive session, on the zone's own devpts. */
static int
open_zone_pty(pid_t init, int *ret_master, int *ret_slave)
{
	_cleanup_close_ int master = -EBADF;
	char path[64];
	int unlock = 0, slave;

	snprintf(path, sizeof(path), "/proc/%d/root/dev/pts/ptmx", (int)init);
	master = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0)
		return -errno;
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	if (slave < 0)
		return -errno;
	copy_winsize(master);
	*ret_master = TAKE_FD(master);
	*ret_slave = slave;
	return 0;
}

/* In the zone (grandchild): become the user and run the shell or the command. */
_noreturn_ static void
run_in_zone(char **cmd, int slave)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *home = NULL, *shell = NULL, *joined = NULL, *argv0 = NULL;
	int r;

	if (slave >= 0) {
		if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0 || dup2(slave, 0) < 0 ||
		    dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
			_exit(1);
		if (slave > 2)
			close(slave);
	} else if (arg_null_stdin) {
		int null = open("/dev/null", O_RDONLY);
		if (null < 0 || dup2(null, 0) < 0)
			_exit(1);
	}
	r = hv_zone_become(arg_user, &home, &shell, &e);
	if (r < 0) {
		fprintf(stderr, "zlogin: %s\n", hv_error_message(e, r));
		_exit(1);
	}
	if (chdir(home) < 0)
		(void)!chdir("/");
	char *env[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	               "TERM=vt100", NULL, NULL, NULL};
	char henv[PATH_MAX], term[128];
	snprintf(henv, sizeof(henv), "HOME=%s", home);
	env[2] = henv;
	if (getenv("TERM") && slave >= 0) {
		snprintf(term, sizeof(term), "TERM=%s", getenv("TERM"));
		env[1] = term;
	}
	if (!cmd[0]) {
		/* A login shell: argv[0] starts with '-'. */
		const char *base = strrchr(shell, '/') ? strrchr(shell, '/') + 1 : shell;
		if (asprintf(&argv0, "-%s", base) < 0)
			_exit(1);
		execve(shell, (char *[]){argv0, NULL}, env);
	} else {
		/* As SmartOS: the command line runs under the user's shell. */
		joined = strv_join(cmd, " ");
		if (!joined)
			_exit(1);
		execve(shell, (char *[]){shell, "-c", joined, NULL}, env);
	}
	fprintf(stderr, "zlogin: cannot run '%s' in the zone: %s\n", shell, strerror(errno));
	_exit(126);
}

static int
status_of(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Child: enter the zone, fork into its pid namespace, relay the grandchild's status. */
_noreturn_ static void
enter_and_run(const struct hv_zone_config *c, int pidfd, char **cmd, int slave)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r, status;
	pid_t pid;

	r = hv_zone_enter(c, pidfd, &e);
	if (r < 0) {
		fprintf(stderr, "zlogin: %s\n", hv_error_message(e, r));
		_exit(1);
	}
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid == 0)
		run_in_zone(cmd, slave);
	if (slave >= 0)
		close(slave);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(1);
	_exit(status_of(status));
}

/*
 * Fork the process that will enter the zone straight into the cgroup2 node
 * of the zone's init (clone3 with CLONE_INTO_CGROUP): moving a process
 * there afterwards would make the kernel wait for an RCU grace period, and
 * the zone's own node may take no process once the zone's systemd has
 * enabled controllers below it (hv_cgroup_open_v2_fd_of).
 */
static pid_t
fork_into_zone_cgroup(const struct hv_zone_config *c, pid_t init)
{
	struct hv_cgroup *cg = NULL;
	struct clone_args args = {.flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD};
	int fd = -1;
	pid_t pid;

	if (hv_cgroup_open(c->prefix, c->uuid, &cg, NULL) >= 0)
		fd = hv_cgroup_open_v2_fd_of(cg, init, NULL);
	hv_cgroup_free(cg);
	if (fd < 0)
		return fork();
	args.cgroup = (uint64_t)fd;
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	close(fd); /* in both processes */
	return pid;
}

static int
login(char **cmd)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_zone_config c = {0};
	struct hv_zone_runtime rt;
	_cleanup_close_ int pidfd = -EBADF, master = -EBADF, sig = -EBADF;
	int slave = -1, status, r;
	bool interactive = arg_tty || !cmd[0];
	pid_t pid;

	if ((r = hv_zone_config_load(arg_uuid, &c, &e)) < 0) {
		log_error_errno(r, "%s", hv_error_message(e, r));
		return 1;
	}
	if (hv_zone_runtime_load(arg_uuid, &rt, NULL) < 0 || hv_zone_init_pidfd(&rt, &pidfd) < 0) {
		log_error("zone %s is not running", arg_uuid);
		hv_zone_config_done(&c);
		return 1;
	}
	if (interactive && (r = open_zone_pty(rt.init_pid, &master, &slave)) < 0) {
		log_error_errno(r, "zone %s: cannot open a pty in the zone: %m", arg_uuid);
		hv_zone_config_done(&c);
		return 1;
	}
	if (interactive)
		sig = sigwinch_fd();
	pid = fork_into_zone_cgroup(&c, rt.init_pid);
	if (pid < 0) {
		hv_zone_config_done(&c);
		return log_error_errno(errno, "fork: %m"), 1;
	}
	if (pid == 0)
		enter_and_run(&c, pidfd, cmd, slave);
	hv_zone_config_done(&c);
	if (slave >= 0)
		close(slave);
	if (interactive) {
		if (!arg_quiet && !cmd[0])
			fprintf(stderr, "[Connected to zone '%s' pts]\n", arg_uuid);
		raw_tty();
		(void)proxy(master, false, sig);
		restore_tty();
		if (!arg_quiet && !cmd[0])
			fprintf(stderr, "\n[Connection to zone '%s' pts closed]\n", arg_uuid);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	return status_of(status);
}

static const char usage_text[] = "Usage: zlogin [-ntQ] [-l user] UUID [command [args...]]\n"
                                 "       zlogin -C [-EQ] [-e c] UUID\n";

int
main(int argc, char *argv[])
{
	_cleanup_free_ char *logpath = NULL;
	int c;

	(void)hv_root_log_path("zlogin", &logpath);
	log_open("zlogin", logpath);
	log_set_file_level(LOG_WARNING);
	/* Options stop at the zone: what follows is the command's. */
	while ((c = getopt(argc, argv, "+CdEe:il:nQSt")) != -1) {
		switch (c) {
		case 'C':
			arg_console = true;
			break;
		case 'E':
			arg_noescape = true;
			break;
		case 'e':
			if (strlen(optarg) != 1) {
				log_error("escape '%s': expected one character", optarg);
				return EXIT_USAGE;
			}
			arg_escape = optarg[0];
			break;
		case 'l':
			arg_user = optarg;
			break;
		case 'n':
			arg_null_stdin = true;
			break;
		case 'Q':
			arg_quiet = true;
			break;
		case 't':
		case 'i':
			arg_tty = true;
			break;
		case 'd':
		case 'S':
			break;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	arg_uuid = argv[optind];
	if (!uuid_is_valid(arg_uuid)) {
		log_error("'%s' is not a zone UUID", arg_uuid);
		return EXIT_USAGE;
	}
	if (arg_console) {
		if (arg_user || optind + 1 < argc) {
			log_error("-C takes no user and no command");
			return EXIT_USAGE;
		}
		return console();
	}
	return login(argv + optind + 1);
}
