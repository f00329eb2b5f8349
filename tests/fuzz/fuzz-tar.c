/* SPDX-License-Identifier: MIT */
/*
 * Tar extraction of arbitrary bytes. hv_tar_extract() may refuse the input,
 * but it must never write outside its target, and every refusal it
 * explains is one line. Each input is extracted into <top>/box/a/target:
 * afterwards <top>, box and a must each still hold nothing but the way
 * down, and box is removed before the next input.
 */
#include <fcntl.h>
#include <ftw.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/path.h"
#include "fuzz.h"
#include "storage/storage-internal.h"

#define FILE_SIZE_MAX (64 << 20) /* per file: a small input may decompress to a lot */

static char top[] = "/tmp/sable-fuzz-tar-XXXXXX";
static bool unlock_again; /* a directory could not be read before we made it readable */

/* Make everything below removable: dirs searchable and writable, no immutable flags. */
static int
unlock_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	_cleanup_close_ int fd = -EBADF;
	int flags;

	if (type == FTW_DNR)
		unlock_again = true;
	if (type != FTW_D && type != FTW_DNR && type != FTW_F)
		return 0;
	if (type != FTW_F)
		(void)chmod(path, 0700);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) >= 0 &&
	    (flags & (FS_IMMUTABLE_FL | FS_APPEND_FL))) {
		flags &= ~(FS_IMMUTABLE_FL | FS_APPEND_FL);
		(void)ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	return 0;
}

static int
remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) < 0)
		abort(); /* a scratch we cannot clean would poison every later input */
	return 0;
}

static void
remove_tree(const char *path)
{
	if (access(path, F_OK) < 0)
		return;
	for (int i = 0; i < 64; i++) {
		unlock_again = false;
		if (nftw(path, unlock_one, 16, FTW_PHYS) != 0)
			abort();
		if (!unlock_again)
			break;
	}
	if (nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		abort();
}

static void
remove_top(void)
{
	remove_tree(top);
}

/* dir holds exactly one entry, name. */
static bool
holds_only(const char *dir, const char *name)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return false;
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (!streq(de->d_name, name))
			return false;
		n++;
	}
	return n == 1;
}

static void
setup_once(void)
{
	struct rlimit fsize = {FILE_SIZE_MAX, FILE_SIZE_MAX};

	if (top[sizeof(top) - 2] != 'X')
		return;
	if (!mkdtemp(top))
		abort();
	(void)atexit(remove_top);
	/* Bigger files fail with EFBIG instead of filling /tmp. */
	(void)signal(SIGXFSZ, SIG_IGN);
	(void)setrlimit(RLIMIT_FSIZE, &fsize);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *box = NULL, *a = NULL, *target = NULL;
	_cleanup_close_ int fd = -EBADF;
	int r;

	setup_once();
	if (path_join(top, "box", &box) < 0 || path_join(box, "a", &a) < 0 ||
	    path_join(a, "target", &target) < 0 || mkdir_p(target, 0755) < 0)
		abort();
	fd = memfd_create("fuzz-tar", MFD_CLOEXEC);
	if (fd < 0 || loop_write(fd, data, size) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		abort();

	r = hv_tar_extract(fd, target, &e);
	if (r < 0 && r != -ENOMEM && (!e || strchr(e->msg, '\n')))
		abort(); /* every refusal explained, on one line */
	if (!holds_only(top, "box") || !holds_only(box, "a") || !holds_only(a, "target"))
		abort(); /* something landed outside the target */
	remove_tree(box);
	return 0;
}
