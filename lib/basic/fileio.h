/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/*
 * Read a whole file (at most max_size bytes, else -EFBIG). The buffer is
 * NUL-terminated; ret_size (nullable) excludes the NUL.
 */
int read_full_file(const char *path, size_t max_size, char **ret, size_t *ret_size);

/* Read from an open fd until EOF, with the same limit and result. */
int read_full_fd(int fd, size_t max_size, char **ret, size_t *ret_size);

/* First line of a small file, without the newline (sysfs attributes and the like). */
int read_one_line_file(const char *path, char **ret);

/*
 * Replace path atomically: write a temporary file beside it, fsync it,
 * rename it over path, fsync the directory. Readers see the old or the new
 * content, never a mix, also after a crash.
 */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);

/*
 * The same without the final fsync of the directory: the new content is on
 * disk and the rename is atomic, but a power loss may undo the rename until
 * the filesystem's next commit. For writes that a committing step follows.
 */
int write_file_atomic_nodirsync(const char *path, const void *data, size_t size, mode_t mode);

/*
 * Atomic (temp + rename) but not durable: no fsync at all. For run-time
 * state that does not outlive a reboot (files under /var/run).
 */
int write_file_replace(const char *path, const void *data, size_t size, mode_t mode);

/* Write all of buf to fd, retrying on short writes and EINTR. */
int loop_write(int fd, const void *buf, size_t size);

/* mkdir -p; existing directories are fine. */
int mkdir_p(const char *path, mode_t mode);

/* fsync the directory that holds path. */
int fsync_parent_dir(const char *path);

/*
 * A stream's header line: bytes up to the first newline, read one at a
 * time so that nothing after it is consumed (the rest belongs to whoever
 * reads on). It must begin with magic, which is stripped; ret (NUL-
 * terminated, without newline) has ret_size bytes. -ENODATA: the stream
 * ended first; -EFBIG: no newline within max bytes; -EBADMSG: not magic.
 */
int read_magic_line(int fd, const char *magic, size_t max, char **ret, size_t *ret_size);
