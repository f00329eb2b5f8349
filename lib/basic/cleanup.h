/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Scope-bound ownership. A variable marked _cleanup_xxx_ releases what it
 * holds when it goes out of scope; TAKE_PTR()/TAKE_FD() hand ownership on
 * and leave the variable empty. Destructors accept "nothing" (NULL, -EBADF)
 * and preserve errno, so they are safe on every error path.
 */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

#define TAKE_PTR(p)                     \
	__extension__({                 \
		__typeof__(p) _p = (p); \
		(p) = NULL;             \
		_p;                     \
	})

#define TAKE_FD(fd)             \
	__extension__({         \
		int _fd = (fd); \
		(fd) = -EBADF;  \
		_fd;            \
	})

/* Close fd if it is one; keep errno; always return -EBADF (so `fd = safe_close(fd);`). */
static inline int
safe_close(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		(void)close(fd);
		errno = saved;
	}
	return -EBADF;
}

static inline void
freep(void *p)
{
	int saved = errno;
	free(*(void **)p);
	errno = saved;
}

static inline void
closep(int *fd)
{
	(void)safe_close(*fd);
}

static inline void
fclosep(FILE **f)
{
	if (*f) {
		int saved = errno;
		(void)fclose(*f);
		errno = saved;
	}
}

static inline void
closedirp(DIR **d)
{
	if (*d) {
		int saved = errno;
		(void)closedir(*d);
		errno = saved;
	}
}

#define _cleanup_free_     _cleanup_(freep)
#define _cleanup_close_    _cleanup_(closep)
#define _cleanup_fclose_   _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)
