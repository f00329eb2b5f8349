/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <time.h>

#include "basic/cleanup.h"
#include "basic/lock.h"
#include "basic/time-util.h"

int
lock_file(const char *path, int operation, uint64_t timeout_ms, int *ret_fd)
{
	_cleanup_close_ int fd = -EBADF;
	uint64_t deadline, delay_us = 100;

	if (operation != LOCK_SH && operation != LOCK_EX)
		return -EINVAL;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return -errno;

	/*
	 * flock() has no timeout of its own; poll with a back-off that starts
	 * at 0.1 ms (uncontended locks cost one syscall) and tops out at 20 ms.
	 */
	deadline = now_usec(CLOCK_MONOTONIC) + timeout_ms * USEC_PER_MSEC;
	for (;;) {
		if (flock(fd, operation | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		uint64_t now = now_usec(CLOCK_MONOTONIC);
		if (now >= deadline)
			return -ETIMEDOUT;
		if (delay_us > deadline - now)
			delay_us = deadline - now;
		struct timespec ts = {.tv_sec = (time_t)(delay_us / USEC_PER_SEC),
		                      .tv_nsec = (long)(delay_us % USEC_PER_SEC * NSEC_PER_USEC)};
		(void)nanosleep(&ts, NULL);
		if (delay_us < 20000)
			delay_us *= 2;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}
