/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "basic/time-util.h"

uint64_t
now_usec(clockid_t clock)
{
	struct timespec ts;

	(void)clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

char *
format_iso8601_usec(char buf[static 25], uint64_t usec)
{
	time_t sec = (time_t)(usec / USEC_PER_SEC);
	struct tm tm;

	gmtime_r(&sec, &tm);
	if (strftime(buf, 20, "%Y-%m-%dT%H:%M:%S", &tm) != 19) {
		snprintf(buf, 25, "invalid time");
		return buf;
	}
	snprintf(buf + 19, 6, ".%03uZ", (unsigned)(usec % USEC_PER_SEC / USEC_PER_MSEC));
	return buf;
}
