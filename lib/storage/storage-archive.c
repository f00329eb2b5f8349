/* SPDX-License-Identifier: MIT */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "storage/storage-archive.h"

#define LIBARCHIVE_SONAME "libarchive.so.13"

#define HV_ARCHIVE_DEFINE(f) __typeof__(f) *sym_##f;
HV_ARCHIVE_SYMBOLS(HV_ARCHIVE_DEFINE)
#undef HV_ARCHIVE_DEFINE

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256];

static void
load(void)
{
	void *dl = dlopen(LIBARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);

	if (!dl) {
		snprintf(load_error, sizeof(load_error), "%s", dlerror());
		return;
	}
#define HV_ARCHIVE_RESOLVE(f)                                                                    \
	if (!(sym_##f = (__typeof__(f) *)dlsym(dl, #f))) {                                       \
		snprintf(load_error, sizeof(load_error), "%s has no %s", LIBARCHIVE_SONAME, #f); \
		return;                                                                          \
	}
	HV_ARCHIVE_SYMBOLS(HV_ARCHIVE_RESOLVE)
#undef HV_ARCHIVE_RESOLVE
}

int
hv_archive_load(struct hv_error **reterr)
{
	(void)pthread_once(&once, load);
	if (load_error[0])
		return hv_error_set(reterr, -EOPNOTSUPP,
		                    "tar streams need libarchive, which cannot be loaded: %s",
		                    load_error);
	return 0;
}
