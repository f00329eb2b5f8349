/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/path.h"

int
read_full_fd(int fd, size_t max_size, char **ret, size_t *ret_size)
{
	_cleanup_free_ char *buf = NULL;
	size_t size = 0, alloc = 0;

	for (;;) {
		ssize_t n;

		if (alloc - size < 2) {
			size_t na = alloc ? alloc * 2 : 4096;
			char *nb;

			if (na > max_size + 2)
				na = max_size + 2;
			if (na <= alloc)
				return -EFBIG;
			nb = realloc(buf, na);
			if (!nb)
				return -ENOMEM;
			buf = nb;
			alloc = na;
		}
		n = read(fd, buf + size, alloc - size - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		size += (size_t)n;
		if (size > max_size)
			return -EFBIG;
	}
	if (!buf) {
		buf = malloc(1);
		if (!buf)
			return -ENOMEM;
	}
	buf[size] = 0;
	*ret = TAKE_PTR(buf);
	if (ret_size)
		*ret_size = size;
	return 0;
}

int
read_full_file(const char *path, size_t max_size, char **ret, size_t *ret_size)
{
	_cleanup_close_ int fd = -EBADF;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	return read_full_fd(fd, max_size, ret, ret_size);
}

int
read_one_line_file(const char *path, char **ret)
{
	char *buf;
	int r;

	r = read_full_file(path, 64 * 1024, &buf, NULL);
	if (r < 0)
		return r;
	buf[strcspn(buf, "\n")] = 0;
	*ret = buf;
	return 0;
}

int
loop_write(int fd, const void *buf, size_t size)
{
	const char *p = buf;

	while (size > 0) {
		ssize_t n = write(fd, p, size);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		size -= (size_t)n;
	}
	return 0;
}

int
fsync_parent_dir(const char *path)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int fd = -EBADF;
	int r;

	r = path_dirname(path, &dir);
	if (r < 0)
		return r;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return RET_NERRNO(fsync(fd));
}

static int
write_atomic(const char *path, const void *data, size_t size, mode_t mode, bool sync_file,
             bool sync_dir)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;

	r = RET_NERRNO(fchmod(fd, mode));
	if (r >= 0)
		r = loop_write(fd, data, size);
	if (r >= 0 && sync_file)
		r = RET_NERRNO(fsync(fd));
	if (r >= 0)
		r = RET_NERRNO(rename(tmp, path));
	if (r < 0) {
		(void)unlink(tmp);
		return r;
	}
	return sync_dir ? fsync_parent_dir(path) : 0;
}

int
write_file_atomic(const char *path, const void *data, size_t size, mode_t mode)
{
	return write_atomic(path, data, size, mode, true, true);
}

int
write_file_atomic_nodirsync(const char *path, const void *data, size_t size, mode_t mode)
{
	return write_atomic(path, data, size, mode, true, false);
}

int
write_file_replace(const char *path, const void *data, size_t size, mode_t mode)
{
	return write_atomic(path, data, size, mode, false, false);
}

/* mkdir that accepts a directory already there (and only a directory). */
static int
mkdir_or_dir(const char *p, mode_t mode)
{
	struct stat st;

	if (mkdir(p, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (stat(p, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* The leaf first: parents are only walked when they are missing. */
static int
mkdir_parents_on_demand(char *p, mode_t mode)
{
	char *slash;
	int r;

	r = mkdir_or_dir(p, mode);
	if (r != -ENOENT)
		return r;
	slash = strrchr(p, '/');
	if (!slash || slash == p)
		return r;
	*slash = 0;
	r = mkdir_parents_on_demand(p, mode);
	*slash = '/';
	if (r < 0)
		return r;
	return mkdir_or_dir(p, mode);
}

int
mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	path_simplify(p);
	return mkdir_parents_on_demand(p, mode);
}

int
read_magic_line(int fd, const char *magic, size_t max, char **ret, size_t *ret_size)
{
	size_t m = strlen(magic), n = 0;
	_cleanup_free_ char *buf = malloc(max + 1);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t k = read(fd, buf + n, 1);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -ENODATA;
		if (buf[n] == '\n')
			break;
		if (++n == max)
			return -EFBIG;
		/* Say no as soon as the stream is not what it should be. */
		if (n == m && memcmp(buf, magic, m) != 0)
			return -EBADMSG;
	}
	buf[n] = 0;
	if (n < m || memcmp(buf, magic, m) != 0)
		return -EBADMSG;
	memmove(buf, buf + m, n - m + 1);
	if (ret_size)
		*ret_size = n - m;
	*ret = TAKE_PTR(buf);
	return 0;
}
