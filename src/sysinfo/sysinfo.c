/* SPDX-License-Identifier: MIT */
/*
 * sysinfo(8): print what this node is, as SmartOS's sysinfo does.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "basic/log.h"
#include "basic/root.h"
#include "core/sysinfo.h"
#include "json/json.h"

static bool arg_parsable;

static void
usage(FILE *f)
{
	fputs("Usage: sysinfo [-f] [-p] [-u]\n"
	      "\n"
	      "Print facts about this node as JSON (SmartOS's sysinfo).\n"
	      "\n"
	      "  -p  print shell-sourceable Key_Name='value' lines instead of JSON\n"
	      "  -f  force a fresh read (always the case: Sable keeps no cache)\n"
	      "  -u  update the cache and print nothing (nothing to do: no cache)\n"
	      "  -h  show this help\n",
	      f);
}

/* 0 to go on, 1 to exit successfully, < 0 for a usage error. */
static int
parse_argv(int argc, char *argv[], bool *ret_quiet)
{
	int c;

	*ret_quiet = false;
	opterr = 0;
	while ((c = getopt(argc, argv, "fpuh?")) != -1) {
		switch (c) {
		case 'p':
			arg_parsable = true;
			break;
		case 'f':
			break;
		case 'u':
			*ret_quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			if (optopt == '?') {
				usage(stdout);
				return 1;
			}
			log_error("unknown option '-%c'; expected -f, -p, -u or -h", optopt);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s'; sysinfo takes only options", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *err = NULL;
	_cleanup_free_ char *logpath = NULL, *text = NULL;
	json_auto_t *info = NULL;
	bool quiet;
	int r;

	(void)hv_root_log_path("sysinfo", &logpath);
	log_open("sysinfo", logpath);

	r = parse_argv(argc, argv, &quiet);
	if (r < 0)
		return 2;
	if (r > 0)
		return 0;

	r = hv_sysinfo_collect(&info, &err);
	if (r < 0) {
		log_error_errno(r, "%s", hv_error_message(err, r));
		return 1;
	}
	if (quiet)
		return 0;
	if (arg_parsable)
		r = hv_sysinfo_format_parsable(info, &text);
	else
		text = hv_json_dumps(info), r = text ? 0 : -ENOMEM;
	if (r < 0) {
		log_error_errno(r, "cannot format output: %m");
		return 1;
	}
	if (fputs(text, stdout) == EOF || fflush(stdout) == EOF) {
		log_error_errno(errno, "cannot write output: %m");
		return 1;
	}
	return 0;
}
