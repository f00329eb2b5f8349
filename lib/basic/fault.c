/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/fault.h"

static bool
listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p;) {
		size_t l = strcspn(p, ",");
		if (l == n && strncmp(p, name, n) == 0)
			return true;
		p += l;
		if (*p == ',')
			p++;
	}
	return false;
}

int
fault_point(const char *where)
{
	if (listed(getenv("SABLE_FAULT_KILL"), where))
		(void)kill(getpid(), SIGKILL);
	if (listed(getenv("SABLE_FAULT_FAIL"), where))
		return -EIO;
	return 0;
}
