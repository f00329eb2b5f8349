/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/lock.h"
#include "basic/time-util.h"
#include "tests.h"

TEST(exclusive_lock_times_out_while_held)
{
	_cleanup_free_ char *p = NULL;
	_cleanup_close_ int a = -EBADF, b = -EBADF, c = -EBADF;
	uint64_t t0;

	ASSERT_TRUE(asprintf(&p, "%s/lock", tests_tmpdir()) > 0);
	ASSERT_OK(lock_file(p, LOCK_EX, 0, &a));
	/* flock() locks belong to the open file description: a second open contends. */
	t0 = now_usec(CLOCK_MONOTONIC);
	ASSERT_ERR(lock_file(p, LOCK_EX, 50, &b), -ETIMEDOUT);
	ASSERT_TRUE(now_usec(CLOCK_MONOTONIC) - t0 >= 50 * USEC_PER_MSEC);
	ASSERT_ERR(lock_file(p, LOCK_SH, 0, &b), -ETIMEDOUT);
	a = safe_close(a);
	ASSERT_OK(lock_file(p, LOCK_SH, 0, &b));
	ASSERT_OK(lock_file(p, LOCK_SH, 0, &c));
}

TEST(waiter_gets_lock_when_holder_exits)
{
	_cleanup_free_ char *p = NULL;
	_cleanup_close_ int fd = -EBADF;
	pid_t pid;
	int fds[2], status;
	char x;

	ASSERT_TRUE(asprintf(&p, "%s/lock2", tests_tmpdir()) > 0);
	ASSERT_OK(pipe(fds));
	pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		int l;
		if (lock_file(p, LOCK_EX, 0, &l) < 0)
			_exit(1);
		(void)!write(fds[1], "x", 1);
		usleep(100 * 1000);
		_exit(0); /* dying releases the lock */
	}
	ASSERT_EQ(read(fds[0], &x, 1), 1);
	ASSERT_OK(lock_file(p, LOCK_EX, 5000, &fd));
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_EQ(WEXITSTATUS(status), 0);
	close(fds[0]);
	close(fds[1]);
}

TEST(bad_operation)
{
	int fd;

	ASSERT_ERR(lock_file("/tmp/whatever", LOCK_UN, 0, &fd), -EINVAL);
	ASSERT_ERR(lock_file("/nonexistent/dir/lock", LOCK_EX, 0, &fd), -ENOENT);
}
