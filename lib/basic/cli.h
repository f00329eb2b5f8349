/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What every program's command line shares: SmartOS's exit status for a
 * usage error, a usage error logged as one line, and getopt restarted for
 * each (sub)command with its own messages off (programs word their own).
 */

#include <getopt.h>
#include <stdbool.h>

#include "basic/macro.h"

#define EXIT_USAGE 2

/* Log a usage error (one line, as log_error does) and give EXIT_USAGE. */
int usage_error(const char *fmt, ...) _printf_(1, 2);

/*
 * A program of commands, before it dispatches argv[1]: with no command, the
 * usage on stderr and EXIT_USAGE; asked for help (help, -h, --help, -?), the
 * usage on stdout and 0. True when the program is done then, its exit
 * status in *ret_status; false when argv[1] is a command to run.
 */
bool cli_usage_or_help(int argc, char *argv[], const char *usage, int *ret_status);

static inline void
opts_reset(void)
{
	optind = 0;
	opterr = 0;
}
