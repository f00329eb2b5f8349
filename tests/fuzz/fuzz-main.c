/* SPDX-License-Identifier: MIT */
/*
 * Corpus replay for builds without libFuzzer (gcc, the sanitizer test
 * build): run the target once on every file named on the command line or
 * found in a directory named there. `make check` replays every corpus.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "fuzz.h"

static int
run_file(const char *path)
{
	_cleanup_free_ char *buf = NULL;
	size_t n;
	int r;

	r = read_full_file(path, 16 * 1024 * 1024, &buf, &n);
	if (r < 0) {
		fprintf(stderr, "cannot read '%s'\n", path);
		return r;
	}
	(void)LLVMFuzzerTestOneInput((const uint8_t *)buf, n);
	return 1;
}

int
main(int argc, char *argv[])
{
	int count = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "cannot stat '%s'\n", argv[i]);
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			_cleanup_closedir_ DIR *d = opendir(argv[i]);
			struct dirent *de;

			while (d && (de = readdir(d))) {
				_cleanup_free_ char *p = NULL;
				if (de->d_name[0] == '.')
					continue;
				if (asprintf(&p, "%s/%s", argv[i], de->d_name) < 0)
					return 1;
				if (run_file(p) < 0)
					return 1;
				count++;
			}
		} else {
			if (run_file(argv[i]) < 0)
				return 1;
			count++;
		}
	}
	printf("replayed %d inputs\n", count);
	return count > 0 ? 0 : 1;
}
