/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>

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

bool
cli_usage_or_help(int argc, char *argv[], const char *usage, int *ret_status)
{
	const char *cmd = argc >= 2 ? argv[1] : NULL;

	if (!cmd) {
		fputs(usage, stderr);
		*ret_status = EXIT_USAGE;
		return true;
	}
	if (streq(cmd, "help") || streq(cmd, "-h") || streq(cmd, "--help") || streq(cmd, "-?")) {
		fputs(usage, stdout);
		*ret_status = 0;
		return true;
	}
	return false;
}
