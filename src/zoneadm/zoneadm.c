/* SPDX-License-Identifier: MIT */
/*
 * zoneadm(8): boot, stop and list zones, as on SmartOS. Booting starts the
 * zone's zoneadmd (detached; it outlives this command) and waits until the
 * zone runs or says why it cannot; halt, shutdown and reboot ask zoneadmd
 * over its control socket and wait until it is done.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/cli.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/parse.h"
#include "basic/path.h"
#include "basic/root.h"
#include "basic/strv.h"
#include "json/json.h"
#include "zone/zone-cgroup.h"
#include "zone/zone.h"

static const char *arg_uuid;

static int
fail(int r, struct hv_error *e)
{
	log_error_errno(r, "%s", hv_error_message(e, r));
	return EXIT_FAILURE;
}

static int
cmd_boot(void)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r = hv_zone_boot(arg_uuid, &e);

	return r < 0 ? fail(r, e) : 0;
}

static int
cmd_stop(const char *verb, int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	uint32_t timeout = 60;
	bool reboot = streq(verb, "reboot");
	int c, r;

	optind = 0;
	while ((c = getopt(argc, argv, "rt:")) != -1) {
		if (c == 'r' && streq(verb, "shutdown"))
			reboot = true;
		else if (c == 't' && streq(verb, "shutdown") && safe_atou32(optarg, &timeout) >= 0)
			continue;
		else {
			log_error("%s: unknown option (shutdown takes -r and -t SECONDS)", verb);
			return EXIT_USAGE;
		}
	}
	if (streq(verb, "halt"))
		r = hv_zone_halt(arg_uuid, &e);
	else if (streq(verb, "shutdown"))
		r = hv_zone_shutdown(arg_uuid, reboot, timeout, &e);
	else
		r = hv_zone_reboot(arg_uuid, &e);
	if (r == -ESRCH) {
		log_info("zone %s is not running", arg_uuid);
		return 0; /* as SmartOS: stopping a stopped zone is not an error */
	}
	return r < 0 ? fail(r, e) : 0;
}

static int
cmd_update(void)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r = hv_zone_apply_config(arg_uuid, &e);

	if (r == -ESRCH) {
		log_info("zone %s is not running: its config applies at boot", arg_uuid);
		return 0;
	}
	return r < 0 ? fail(r, e) : 0;
}

static int
cmd_install(bool install)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r = install ? hv_zone_install(arg_uuid, NULL, &e) : hv_zone_uninstall(arg_uuid, &e);

	return r < 0 ? fail(r, e) : 0;
}

static const char *
zone_state(const char *uuid)
{
	struct hv_zone_runtime rt;
	int pidfd;

	if (hv_zone_runtime_load(uuid, &rt, NULL) < 0)
		return "installed";
	if (hv_zone_init_pidfd(&rt, &pidfd) < 0)
		return rt.state == HV_ZONE_READY ? "ready" : "installed";
	close(pidfd);
	return hv_zone_state_to_string(rt.state);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmd_list(int argc, char *argv[])
{
	_cleanup_free_ char *pool = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_strv_free_ char **uuids = calloc(1, sizeof(char *));
	bool verbose = false, parsable = false;
	struct dirent *de;
	int c, r;

	optind = 0;
	while ((c = getopt(argc, argv, "cvpi")) != -1) {
		if (c == 'v')
			verbose = true;
		else if (c == 'p')
			parsable = true;
		else if (c != 'c' && c != 'i') {
			log_error("list: unknown option (expected -c, -i, -v, -p)");
			return EXIT_USAGE;
		}
	}
	if ((r = hv_root_path("/zones", &pool)) < 0)
		return fail(r, NULL);
	d = opendir(pool);
	while (d && (de = readdir(d))) {
		char cfg[PATH_MAX];
		snprintf(cfg, sizeof(cfg), "%s/%s/config/zone.json", pool, de->d_name);
		if (uuid_is_valid(de->d_name) && access(cfg, F_OK) == 0 &&
		    strv_push(&uuids, de->d_name) < 0)
			return fail(-ENOMEM, NULL);
	}
	qsort(uuids, strv_length(uuids), sizeof(char *), cmp_str);
	if (verbose && !parsable)
		printf("%-36s  %-14s  %s\n", "UUID", "STATUS", "PATH");
	STRV_FOREACH (u, uuids) {
		if (parsable)
			printf("%s:%s:%s/%s:lx\n", *u, zone_state(*u), pool, *u);
		else if (verbose)
			printf("%-36s  %-14s  %s/%s\n", *u, zone_state(*u), pool, *u);
		else if (streq(zone_state(*u), "running"))
			printf("%s\n", *u);
	}
	return 0;
}

static const char usage_text[] =
        "Usage: zoneadm list [-cipv]\n"
        "       zoneadm -z UUID boot|halt|reboot|update|install|uninstall\n"
        "       zoneadm -z UUID shutdown [-r] [-t SECONDS]\n";

int
main(int argc, char *argv[])
{
	_cleanup_free_ char *logpath = NULL;
	const char *verb;
	int i = 1;

	(void)hv_root_log_path("zoneadm", &logpath);
	log_open("zoneadm", logpath);
	if (argc >= 3 && streq(argv[1], "-z")) {
		arg_uuid = argv[2];
		i = 3;
		if (!uuid_is_valid(arg_uuid)) {
			log_error("'%s' is not a zone UUID", arg_uuid);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	verb = argv[i];
	if (streq(verb, "help") || streq(verb, "-h")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (streq(verb, "list"))
		return cmd_list(argc - i, argv + i);
	if (!arg_uuid) {
		log_error("%s: expected -z UUID", verb);
		return EXIT_USAGE;
	}
	if (streq(verb, "boot") && i + 1 == argc)
		return cmd_boot();
	if ((streq(verb, "install") || streq(verb, "uninstall")) && i + 1 == argc)
		return cmd_install(streq(verb, "install"));
	if (streq(verb, "halt") || streq(verb, "reboot") || streq(verb, "shutdown"))
		return cmd_stop(verb, argc - i, argv + i);
	if (streq(verb, "update") && i + 1 == argc)
		return cmd_update();
	log_error("unknown command '%s' (see zoneadm help)", verb);
	return EXIT_USAGE;
}
