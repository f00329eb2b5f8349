/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "basic/cleanup.h"
#include "basic/spawn.h"
#include "basic/time-util.h"
#include "tests.h"

TEST(run_captures_output_and_status)
{
	_cleanup_free_ char *out = NULL, *err = NULL;
	char *argv[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
	int status = -1;

	ASSERT_OK(spawn_run(argv, SPAWN_STDIN_NULL | SPAWN_CAPTURE_STDOUT | SPAWN_CAPTURE_STDERR,
	                    5000, &status, &out, &err));
	ASSERT_EQ(status, 3);
	ASSERT_STREQ(out, "out\n");
	ASSERT_STREQ(err, "err\n");
}

TEST(missing_program_is_enoent)
{
	char *argv[] = {"/nonexistent/program", NULL};
	int status;

	ASSERT_ERR(spawn_run(argv, SPAWN_STDIN_NULL, 5000, &status, NULL, NULL), -ENOENT);
}

TEST(timeout_kills_the_child)
{
	_cleanup_free_ char *out = NULL;
	char *argv[] = {"sleep", "30", NULL};
	uint64_t t0 = now_usec(CLOCK_MONOTONIC);
	int status;

	ASSERT_ERR(
	        spawn_run(argv, SPAWN_STDIN_NULL | SPAWN_CAPTURE_STDOUT, 100, &status, &out, NULL),
	        -ETIMEDOUT);
	ASSERT_TRUE(now_usec(CLOCK_MONOTONIC) - t0 < 10 * USEC_PER_SEC);
}

TEST(signal_status)
{
	char *argv[] = {"sh", "-c", "kill -TERM $$", NULL};
	int status;

	ASSERT_OK(spawn_run(argv, SPAWN_STDIN_NULL, 5000, &status, NULL, NULL));
	ASSERT_EQ(status, 128 + SIGTERM);
}

TEST(large_output)
{
	_cleanup_free_ char *out = NULL;
	char *argv[] = {"head", "-c", "3000000", "/dev/zero", NULL};
	int status;

	ASSERT_OK(spawn_run(argv, SPAWN_STDIN_NULL | SPAWN_CAPTURE_STDOUT, 10000, &status, &out,
	                    NULL));
	ASSERT_EQ(status, 0);
}

TEST(start_wait_signal)
{
	struct child c = CHILD_NULL;
	int fds[3] = {SPAWN_FD_NULL, SPAWN_FD_NULL, SPAWN_FD_INHERIT};
	char *argv[] = {"sleep", "30", NULL};
	int status;

	ASSERT_OK(spawn_start(argv, fds, &c));
	ASSERT_ERR(child_wait(&c, 10, &status), -ETIMEDOUT);
	ASSERT_OK(child_signal(&c, SIGKILL));
	ASSERT_OK(child_wait(&c, 5000, &status));
	ASSERT_EQ(status, 128 + SIGKILL);
	ASSERT_ERR(child_signal(&c, SIGKILL), -ESRCH);
	child_done(&c);
	child_done(&c); /* idempotent */
}

TEST(done_reaps_running_child)
{
	struct child c = CHILD_NULL;
	int fds[3] = {SPAWN_FD_NULL, SPAWN_FD_NULL, SPAWN_FD_NULL};
	char *argv[] = {"sleep", "30", NULL};
	pid_t pid;

	ASSERT_OK(spawn_start(argv, fds, &c));
	pid = c.pid;
	child_done(&c);
	ASSERT_ERR(kill(pid, 0) < 0 ? -errno : 0, -ESRCH);
}
