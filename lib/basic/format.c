/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "basic/format.h"

char *
format_bytes(char buf[static FORMAT_BYTES_MAX], uint64_t bytes)
{
	static const char units[] = "BKMGTPE";
	unsigned u = 0;
	double v = (double)bytes;

	if (bytes < 1024) {
		snprintf(buf, FORMAT_BYTES_MAX, "%uB", (unsigned)bytes);
		return buf;
	}
	while (v >= 1024 && u < sizeof(units) - 2) {
		v /= 1024;
		u++;
	}
	/* Rounding may reach the next unit (1023.9K is "1.00M"). */
	if (v >= 999.5 && u < sizeof(units) - 2) {
		v /= 1024;
		u++;
	}
	if (v < 9.995)
		snprintf(buf, FORMAT_BYTES_MAX, "%.2f%c", v, units[u]);
	else if (v < 99.95)
		snprintf(buf, FORMAT_BYTES_MAX, "%.1f%c", v, units[u]);
	else
		snprintf(buf, FORMAT_BYTES_MAX, "%.0f%c", v, units[u]);
	return buf;
}
