/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Running helper programs (mkfs.btrfs, qemu-img, …). A child is held by a
 * pidfd from the moment it exists, so waiting, signalling and timeouts
 * never race with pid reuse. Failure to exec (missing program, no
 * permission) is reported to the parent as that errno, not as an exit code.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SPAWN_FD_INHERIT (-1) /* keep ours */
#define SPAWN_FD_NULL    (-2) /* /dev/null */

/* Upper limit on what spawn_run() captures from one stream. */
#define SPAWN_CAPTURE_MAX (64u * 1024 * 1024)

struct child {
	pid_t pid; /* 0 when there is no child */
	int pidfd; /* -EBADF when there is no child */
	bool reaped;
};

#define CHILD_NULL ((struct child){.pid = 0, .pidfd = -EBADF, .reaped = false})

/*
 * Start argv (argv[0] is looked up in PATH if it has no '/'), with
 * fds[0..2] as stdin/stdout/stderr (an fd, SPAWN_FD_INHERIT or
 * SPAWN_FD_NULL). All other fds are closed in the child.
 */
int spawn_start(char *const argv[], const int fds[3], struct child *ret);

/*
 * Wait for the child to exit; timeout_ms < 0 waits forever. *ret_status
 * (nullable) is its exit code, or 128 + signal number. -ETIMEDOUT if it is
 * still running; it is then left running.
 */
int child_wait(struct child *c, int64_t timeout_ms, int *ret_status);

int child_signal(const struct child *c, int sig);

/* Release the child: if it still runs, SIGKILL and reap it, then close the pidfd. */
void child_done(struct child *c);

enum {
	SPAWN_STDIN_NULL = 1 << 0,     /* stdin is /dev/null (else inherited) */
	SPAWN_CAPTURE_STDOUT = 1 << 1, /* collect stdout into *ret_out */
	SPAWN_CAPTURE_STDERR = 1 << 2, /* collect stderr into *ret_err */
	SPAWN_STDOUT_NULL = 1 << 3,
	SPAWN_STDERR_NULL = 1 << 4,
};

/*
 * Run argv to completion, at most timeout_ms (< 0: no limit; on expiry the
 * child is killed and -ETIMEDOUT returned). Captured output is
 * NUL-terminated; ret_out/ret_err may be NULL when not captured.
 */
int spawn_run(char *const argv[], unsigned flags, int64_t timeout_ms, int *ret_status,
              char **ret_out, char **ret_err);
