/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What every program's command line shares: SmartOS's exit status for a
 * usage error, a usage error logged as one line, and getopt restarted for
 * each (sub)command with its own messages off (programs word their own).
 */

#include <getopt.h>

#include "basic/macro.h"

#define EXIT_USAGE 2

/* Log a usage error (one line, as log_error does) and give EXIT_USAGE. */
int usage_error(const char *fmt, ...) _printf_(1, 2);

static inline void
opts_reset(void)
{
	optind = 0;
	opterr = 0;
}
