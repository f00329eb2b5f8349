/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "tests.h"

static char *
tmp(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", tests_tmpdir(), name) < 0)
		abort();
	return p;
}

TEST(atomic_write_and_read_back)
{
	_cleanup_free_ char *p = tmp("a"), *buf = NULL;
	struct stat st;
	size_t n;

	ASSERT_OK(write_file_atomic(p, "hello\n", 6, 0640));
	ASSERT_OK(read_full_file(p, 100, &buf, &n));
	ASSERT_EQ(n, 6);
	ASSERT_STREQ(buf, "hello\n");
	ASSERT_OK(stat(p, &st));
	ASSERT_EQ(st.st_mode & 0777, 0640);

	/* Replacing leaves no temporary files behind. */
	ASSERT_OK(write_file_atomic(p, "x", 1, 0600));
	free(buf);
	ASSERT_OK(read_full_file(p, 100, &buf, &n));
	ASSERT_STREQ(buf, "x");
	_cleanup_closedir_ DIR *d = opendir(tests_tmpdir());
	struct dirent *de;
	while ((de = readdir(d)))
		ASSERT_TRUE(!strstr(de->d_name, ".tmp"));
}

TEST(atomic_write_into_missing_dir_fails_cleanly)
{
	_cleanup_free_ char *p = tmp("nodir/file");

	ASSERT_ERR(write_file_atomic(p, "x", 1, 0600), -ENOENT);
}

TEST(read_limit)
{
	_cleanup_free_ char *p = tmp("big"), *buf = NULL;
	char data[5000];
	size_t n;

	memset(data, 'a', sizeof(data));
	ASSERT_OK(write_file_atomic(p, data, sizeof(data), 0600));
	ASSERT_ERR(read_full_file(p, 4999, &buf, &n), -EFBIG);
	ASSERT_TRUE(buf == NULL);
	ASSERT_OK(read_full_file(p, 5000, &buf, &n));
	ASSERT_EQ(n, 5000);
}

TEST(read_empty_and_missing)
{
	_cleanup_free_ char *p = tmp("empty"), *buf = NULL, *line = NULL;
	size_t n = 99;

	ASSERT_OK(write_file_atomic(p, "", 0, 0600));
	ASSERT_OK(read_full_file(p, 0, &buf, &n));
	ASSERT_EQ(n, 0);
	ASSERT_STREQ(buf, "");
	ASSERT_ERR(read_full_file("/nonexistent/x", 10, &buf, &n), -ENOENT);
	ASSERT_OK(read_one_line_file("/proc/sys/kernel/ostype", &line));
	ASSERT_STREQ(line, "Linux");
}

TEST(mkdir_p_nested_and_existing)
{
	_cleanup_free_ char *p = tmp("x/y//z/"), *f = tmp("file");
	struct stat st;

	ASSERT_OK(mkdir_p(p, 0755));
	ASSERT_OK(mkdir_p(p, 0755));
	ASSERT_OK(stat(p, &st));
	ASSERT_TRUE(S_ISDIR(st.st_mode));
	ASSERT_OK(write_file_atomic(f, "", 0, 0600));
	ASSERT_ERR(mkdir_p(f, 0755), -ENOTDIR);
	{
		/* A file in the middle of the path. */
		_cleanup_free_ char *under = tmp("file/a/b");
		ASSERT_ERR(mkdir_p(under, 0755), -ENOTDIR);
	}
}

/* A pipe holding text; the read end is returned. */
static int
pipe_with(const char *text)
{
	int p[2];

	ASSERT_OK(pipe2(p, O_CLOEXEC));
	ASSERT_TRUE(write(p[1], text, strlen(text)) == (ssize_t)strlen(text));
	close(p[1]);
	return p[0];
}

TEST(magic_line_stops_at_the_newline)
{
	_cleanup_free_ char *line = NULL, *rest = NULL;
	_cleanup_close_ int fd = pipe_with("MAGIC/1 {\"a\":1}\nPAYLOAD");
	size_t n;

	ASSERT_OK(read_magic_line(fd, "MAGIC/1 ", 1024, &line, &n));
	ASSERT_STREQ(line, "{\"a\":1}");
	ASSERT_TRUE(n == 7);
	/* Nothing past the newline was read. */
	ASSERT_OK(read_full_fd(fd, 64, &rest, NULL));
	ASSERT_STREQ(rest, "PAYLOAD");
}

TEST(magic_line_refusals)
{
	char *line = NULL;
	int fd;

	fd = pipe_with("OTHER/1 {}\n");
	ASSERT_ERR(read_magic_line(fd, "MAGIC/1 ", 1024, &line, NULL), -EBADMSG);
	close(fd);
	fd = pipe_with("MAGIC/1 {}");
	ASSERT_ERR(read_magic_line(fd, "MAGIC/1 ", 1024, &line, NULL), -ENODATA);
	close(fd);
	fd = pipe_with("MAGIC/1 0123456789abcdef\n");
	ASSERT_ERR(read_magic_line(fd, "MAGIC/1 ", 16, &line, NULL), -EFBIG);
	close(fd);
	fd = pipe_with("MAG\n");
	ASSERT_ERR(read_magic_line(fd, "MAGIC/1 ", 1024, &line, NULL), -EBADMSG);
	close(fd);
	ASSERT_TRUE(line == NULL);
}
