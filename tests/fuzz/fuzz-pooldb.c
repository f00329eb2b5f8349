/* SPDX-License-Identifier: MIT */
/*
 * The pool database loader on arbitrary files (a damaged pool.json must be
 * an error, never a crash), and dataset names on arbitrary strings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "fuzz.h"
#include "storage/storage-db.h"
#include "storage/storage-name.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *name = strndup((const char *)data, size), *ds = NULL, *snap = NULL;
	struct hv_pool p = {.spec = {.name = (char *)"zones"}, .lock_fd = -1};
	char path[64];
	int fd = memfd_create("pooldb", MFD_CLOEXEC);

	if (fd < 0 || !name)
		abort();
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	p.db_path = path;
	if (hv_db_load(&p, &e) < 0) {
		if (!e || strchr(e->msg, '\n'))
			abort(); /* one line, always */
	}
	json_decref(p.db);
	close(fd);

	if (hv_dataset_name_check(name, true, NULL) >= 0 &&
	    hv_name_split_snapshot(name, &ds, &snap) >= 0 && (strchr(snap, '/') || !*snap))
		abort();
	return 0;
}
