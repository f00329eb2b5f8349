/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/spawn.h"
#include "basic/time-util.h"

/* In the child, between fork() and exec: async-signal-safe calls only. */
_noreturn_ static void
child_exec(char *const argv[], const int fds[3], int nullfd, int errpipe)
{
	sigset_t all;
	int e;

	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	(void)signal(SIGPIPE, SIG_DFL);

	for (int i = 0; i < 3; i++) {
		int fd = fds[i] == SPAWN_FD_NULL ? nullfd : fds[i];

		if (fd == SPAWN_FD_INHERIT)
			continue;
		if (fd == i) {
			/* Already in place: just make it survive exec. */
			if (fcntl(fd, F_SETFD, 0) < 0)
				goto fail;
			continue;
		}
		if (dup2(fd, i) < 0)
			goto fail;
	}
	/* Keep 0-2 and the error pipe (close-on-exec) until exec. */
	if (errpipe > 3)
		(void)close_range(3, (unsigned)errpipe - 1, 0);
	(void)close_range((unsigned)errpipe + 1, ~0U, 0);

	execvp(argv[0], argv);
fail:
	e = errno;
	(void)!write(errpipe, &e, sizeof(e));
	_exit(127);
}

int
spawn_start(char *const argv[], const int fds[3], struct child *ret)
{
	_cleanup_close_ int nullfd = -EBADF, rd = -EBADF, wr = -EBADF, pidfd = -EBADF;
	int pipefd[2], child_errno = 0;
	ssize_t n;
	pid_t pid;

	if (!argv || !argv[0])
		return -EINVAL;
	if (fds[0] == SPAWN_FD_NULL || fds[1] == SPAWN_FD_NULL || fds[2] == SPAWN_FD_NULL) {
		nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (nullfd < 0)
			return -errno;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	rd = pipefd[0];
	wr = pipefd[1];

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child_exec(argv, fds, nullfd, wr);

	/* We have not reaped pid, so it cannot have been reused: pidfd_open() is race-free. */
	pidfd = pidfd_open(pid, 0);
	wr = safe_close(wr);
	do
		n = read(rd, &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);

	if (pidfd < 0 || n > 0) {
		int r = pidfd < 0 ? -errno : -child_errno;
		(void)waitpid(pid, NULL, 0);
		return n > 0 ? -child_errno : r;
	}
	*ret = (struct child){.pid = pid, .pidfd = TAKE_FD(pidfd), .reaped = false};
	return 0;
}

static int
status_of(const siginfo_t *si)
{
	if (si->si_code == CLD_EXITED)
		return si->si_status;
	return 128 + si->si_status;
}

int
child_wait(struct child *c, int64_t timeout_ms, int *ret_status)
{
	siginfo_t si = {0};

	if (c->pid <= 0 || c->reaped)
		return -ECHILD;
	if (timeout_ms >= 0) {
		struct pollfd p = {.fd = c->pidfd, .events = POLLIN};
		uint64_t deadline = now_usec(CLOCK_MONOTONIC) + (uint64_t)timeout_ms * 1000;

		for (;;) {
			uint64_t now = now_usec(CLOCK_MONOTONIC);
			int left = now >= deadline ? 0
			                           : (int)MIN((deadline - now + 999) / 1000,
			                                      (uint64_t)INT32_MAX);
			int k = poll(&p, 1, left);

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return -errno;
			if (k == 0)
				return -ETIMEDOUT;
			break;
		}
	}
	for (;;) {
		if (waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED) == 0)
			break;
		if (errno != EINTR)
			return -errno;
	}
	c->reaped = true;
	if (ret_status)
		*ret_status = status_of(&si);
	return 0;
}

int
child_signal(const struct child *c, int sig)
{
	if (c->pid <= 0 || c->reaped)
		return -ESRCH;
	return RET_NERRNO(pidfd_send_signal(c->pidfd, sig, NULL, 0));
}

void
child_done(struct child *c)
{
	if (c->pid > 0 && !c->reaped) {
		(void)child_signal(c, SIGKILL);
		(void)child_wait(c, -1, NULL);
	}
	c->pidfd = safe_close(c->pidfd);
	c->pid = 0;
}

struct capture {
	int fd;
	char *buf;
	size_t len, alloc;
};

/* Read what is there; 0 when more may come, 1 at EOF. */
static int
capture_read(struct capture *cap)
{
	if (cap->alloc - cap->len < 4096 + 1) {
		size_t na = cap->alloc ? cap->alloc * 2 : 16384;
		char *nb;

		if (cap->len >= SPAWN_CAPTURE_MAX)
			return -EFBIG;
		nb = realloc(cap->buf, na);
		if (!nb)
			return -ENOMEM;
		cap->buf = nb;
		cap->alloc = na;
	}
	ssize_t n = read(cap->fd, cap->buf + cap->len, cap->alloc - cap->len - 1);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return 1;
	cap->len += (size_t)n;
	cap->buf[cap->len] = 0;
	return 0;
}

static int
capture_finish(struct capture *cap, char **ret)
{
	if (!ret)
		return 0;
	if (!cap->buf) {
		cap->buf = calloc(1, 1);
		if (!cap->buf)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(cap->buf);
	return 0;
}

/* Drain the capture pipes until both reach EOF or the deadline passes. */
static int
drain(struct capture caps[2], uint64_t deadline)
{
	for (;;) {
		struct pollfd p[2];
		int np = 0, k, left = -1;

		for (int i = 0; i < 2; i++)
			if (caps[i].fd >= 0)
				p[np++] = (struct pollfd){.fd = caps[i].fd, .events = POLLIN};
		if (np == 0)
			return 0;
		if (deadline != UINT64_MAX) {
			uint64_t now = now_usec(CLOCK_MONOTONIC);
			if (now >= deadline)
				return -ETIMEDOUT;
			left = (int)MIN((deadline - now + 999) / 1000, (uint64_t)INT32_MAX);
		}
		k = poll(p, (nfds_t)np, left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -ETIMEDOUT;
		for (int j = 0; j < np; j++) {
			if (!p[j].revents)
				continue;
			for (int i = 0; i < 2; i++) {
				if (caps[i].fd != p[j].fd)
					continue;
				int r = capture_read(&caps[i]);
				if (r < 0)
					return r;
				if (r > 0)
					caps[i].fd = safe_close(caps[i].fd);
			}
		}
	}
}

int
spawn_run(char *const argv[], unsigned flags, int64_t timeout_ms, int *ret_status, char **ret_out,
          char **ret_err)
{
	struct capture caps[2] = {{.fd = -EBADF}, {.fd = -EBADF}};
	_cleanup_close_ int out_w = -EBADF, err_w = -EBADF;
	struct child c = CHILD_NULL;
	int fds[3], p[2], r, status = 0;
	uint64_t deadline = UINT64_MAX;

	if (timeout_ms >= 0)
		deadline = now_usec(CLOCK_MONOTONIC) + (uint64_t)timeout_ms * 1000;

	fds[0] = flags & SPAWN_STDIN_NULL ? SPAWN_FD_NULL : SPAWN_FD_INHERIT;
	fds[1] = flags & SPAWN_STDOUT_NULL ? SPAWN_FD_NULL : SPAWN_FD_INHERIT;
	fds[2] = flags & SPAWN_STDERR_NULL ? SPAWN_FD_NULL : SPAWN_FD_INHERIT;
	if (flags & SPAWN_CAPTURE_STDOUT) {
		if (pipe2(p, O_CLOEXEC) < 0)
			return -errno;
		caps[0].fd = p[0];
		fds[1] = out_w = p[1];
	}
	if (flags & SPAWN_CAPTURE_STDERR) {
		if (pipe2(p, O_CLOEXEC) < 0) {
			r = -errno;
			goto finish;
		}
		caps[1].fd = p[0];
		fds[2] = err_w = p[1];
	}

	r = spawn_start(argv, fds, &c);
	if (r < 0)
		goto finish;
	out_w = safe_close(out_w);
	err_w = safe_close(err_w);

	r = drain(caps, deadline);
	if (r >= 0) {
		int64_t left = -1;
		if (deadline != UINT64_MAX) {
			uint64_t now = now_usec(CLOCK_MONOTONIC);
			left = now >= deadline ? 0 : (int64_t)((deadline - now + 999) / 1000);
		}
		r = child_wait(&c, left, &status);
	}
	if (r >= 0) {
		r = capture_finish(&caps[0], ret_out);
		if (r >= 0)
			r = capture_finish(&caps[1], ret_err);
		if (r >= 0 && ret_status)
			*ret_status = status;
	}
finish:
	child_done(&c);
	for (int i = 0; i < 2; i++) {
		caps[i].fd = safe_close(caps[i].fd);
		free(caps[i].buf);
	}
	return r;
}
