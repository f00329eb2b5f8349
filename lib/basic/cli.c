/* SPDX-License-Identifier: MIT */
#include <stdarg.h>

#include "basic/cli.h"
#include "basic/log.h"

int
usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_internalv(LOG_ERR, 0, fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}
