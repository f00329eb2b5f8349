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
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/path.h"
#include "basic/root.h"
#include "basic/strv.h"
#include "json/json.h"
#include "zone/zone-cgroup.h"
#include "zone/zone.h"

#define EXIT_USAGE 2

static const char *arg_uuid;

static int
fail(int r, struct hv_error *e)
{
	log_error_errno(r, "%s", hv_error_message(e, r));
	return EXIT_FAILURE;
}

/* zoneadmd sits beside zoneadm when installed, in ../zoneadmd/ in a build tree. */
static int
find_zoneadmd(char **ret)
{
	static const char *const rel[] = {"zoneadmd", "../zoneadmd/zoneadmd"};
	char self[PATH_MAX];
	_cleanup_free_ char *dir = NULL;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return -errno;
	self[n] = 0;
	if (path_dirname(self, &dir) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(rel); i++) {
		char *p;
		if (path_join(dir, rel[i], &p) < 0)
			return -ENOMEM;
		if (access(p, X_OK) == 0) {
			*ret = p;
			return 0;
		}
		free(p);
	}
	return -ENOENT;
}

static int
cmd_boot(void)
{
	_cleanup_free_ char *zoneadmd = NULL, *out = NULL;
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_zone_config c = {0};
	char fdarg[16];
	int pipefd[2], r;
	pid_t pid;

	/* Check what can be checked here, so the error comes back at once. */
	r = hv_zone_config_load(arg_uuid, &c, &e);
	hv_zone_config_done(&c);
	if (r < 0)
		return fail(r, e);
	if ((r = find_zoneadmd(&zoneadmd)) < 0)
		return fail(r, NULL);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return fail(-errno, NULL);

	pid = fork();
	if (pid < 0)
		return fail(-errno, NULL);
	if (pid == 0) {
		/* Detach: a new session, reparented away from us, stdio on /dev/null. */
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (setsid() < 0 || null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
		    dup2(null, 2) < 0)
			_exit(1);
		if (fork() != 0)
			_exit(0);
		snprintf(fdarg, sizeof(fdarg), "%d", pipefd[1]);
		(void)fcntl(pipefd[1], F_SETFD, 0);
		execl(zoneadmd, "zoneadmd", "-z", arg_uuid, "--notify-fd", fdarg, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	(void)waitpid(pid, NULL, 0);
	r = read_full_fd(pipefd[0], 4096, &out, NULL);
	close(pipefd[0]);
	if (r < 0)
		return fail(r, NULL);
	if (startswith(out, "ok"))
		return 0;
	out[strcspn(out, "\n")] = 0;
	log_error("%s", startswith(out, "error: ") ?: (*out ? out : "zoneadmd failed to start"));
	return EXIT_FAILURE;
}

/* Ask zoneadmd; wait for its answer (it answers when the zone is down, or up again). */
static int
ask(const char *cmd, char *answer, size_t size)
{
	_cleanup_free_ char *path = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -EBADF;
	ssize_t n;
	int r;

	if ((r = hv_zone_runtime_path(arg_uuid, ".ctl", &path)) < 0)
		return r;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return errno == ENOENT || errno == ECONNREFUSED ? -ESRCH : -errno;
	if (send(fd, cmd, strlen(cmd), MSG_NOSIGNAL) < 0)
		return -errno;
	n = recv(fd, answer, size - 1, 0);
	if (n < 0)
		return -errno;
	answer[n] = 0;
	return 0;
}

/* No zoneadmd, but the zone may still run (its zoneadmd was killed): stop it by cgroup. */
static int
halt_orphan(void)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_zone_config c = {0};
	struct hv_zone_runtime rt;
	struct hv_cgroup *cg = NULL;
	int r, pidfd = -1;

	if (hv_zone_runtime_load(arg_uuid, &rt, NULL) < 0 || hv_zone_init_pidfd(&rt, &pidfd) < 0) {
		log_info("zone %s is not running", arg_uuid);
		return 0;
	}
	close(pidfd);
	r = hv_zone_config_load(arg_uuid, &c, &e);
	if (r >= 0)
		r = hv_cgroup_open(c.prefix, c.uuid, &cg, &e);
	if (r >= 0)
		r = hv_cgroup_kill_all(cg, &e);
	for (int i = 0; r >= 0 && i < 500; i++) {
		unsigned n = 1;
		if (hv_cgroup_count_procs(cg, &n, NULL) < 0 || n == 0)
			break;
		usleep(10000);
	}
	if (r >= 0)
		r = hv_cgroup_destroy(cg, &e);
	hv_cgroup_free(cg);
	hv_zone_config_done(&c);
	if (r < 0)
		return fail(r, e);
	(void)hv_zone_runtime_remove(arg_uuid);
	return 0;
}

static int
cmd_stop(const char *verb, int argc, char *argv[])
{
	char cmd[64], answer[256];
	unsigned timeout = 60;
	bool reboot = streq(verb, "reboot");
	int c, r;

	optind = 0;
	while ((c = getopt(argc, argv, "rt:")) != -1) {
		if (c == 'r' && streq(verb, "shutdown"))
			reboot = true;
		else if (c == 't' && streq(verb, "shutdown"))
			timeout = (unsigned)atoi(optarg);
		else {
			log_error("%s: unknown option (shutdown takes -r and -t SECONDS)", verb);
			return EXIT_USAGE;
		}
	}
	if (streq(verb, "halt"))
		snprintf(cmd, sizeof(cmd), "halt");
	else if (streq(verb, "shutdown"))
		snprintf(cmd, sizeof(cmd), reboot ? "reboot %u" : "shutdown %u", timeout);
	else
		snprintf(cmd, sizeof(cmd), "reboot");
	r = ask(cmd, answer, sizeof(answer));
	if (r == -ESRCH) {
		if (streq(verb, "halt"))
			return halt_orphan();
		log_info("zone %s is not running", arg_uuid);
		return 0; /* as SmartOS: stopping a stopped zone is not an error */
	}
	if (r < 0)
		return fail(r, NULL);
	if (!streq(answer, "ok")) {
		log_error("zone %s: %s", arg_uuid, answer);
		return EXIT_FAILURE;
	}
	return 0;
}

static int
cmd_update(void)
{
	char answer[1024];
	int r = ask("update", answer, sizeof(answer));

	if (r == -ESRCH) {
		log_info("zone %s is not running: its config applies at boot", arg_uuid);
		return 0;
	}
	if (r < 0)
		return fail(r, NULL);
	if (!streq(answer, "ok")) {
		log_error("zone %s: %s", arg_uuid, startswith(answer, "error: ") ?: answer);
		return EXIT_FAILURE;
	}
	return 0;
}

/* Write uid_base into (or out of) the zone's config. */
static int
set_uid_base(uint32_t base, struct hv_error **reterr)
{
	_cleanup_free_ char *rel = NULL, *path = NULL, *text = NULL;
	json_auto_t *o = NULL;
	int r;

	if (asprintf(&rel, "/zones/%s/config/zone.json", arg_uuid) < 0 ||
	    (r = hv_root_path(rel, &path)) < 0)
		return -ENOMEM;
	if ((r = hv_json_load_file(path, 1024 * 1024, &o, reterr)) < 0)
		return r;
	if (base)
		json_object_set_new(o, "uid_base", json_integer(base));
	else
		json_object_del(o, "uid_base");
	if (!(text = hv_json_dumps(o)))
		return -ENOMEM;
	r = write_file_atomic(path, text, strlen(text), 0644);
	return r < 0 ? hv_error_set(reterr, r, "cannot write '%s': %m", path) : 0;
}

static int
cmd_install(bool install)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_zone_config c = {0};
	struct hv_zone_runtime rt;
	uint32_t base = 0;
	int r, pidfd;

	r = hv_zone_config_load(arg_uuid, &c, &e);
	hv_zone_config_done(&c);
	if (r < 0)
		return fail(r, e);
	if (!install && hv_zone_runtime_load(arg_uuid, &rt, NULL) >= 0 &&
	    hv_zone_init_pidfd(&rt, &pidfd) >= 0) {
		close(pidfd);
		log_error("zone %s is running; halt it first", arg_uuid);
		return EXIT_FAILURE;
	}
	r = install ? hv_zone_ids_allocate(arg_uuid, &base, &e) : hv_zone_ids_free(arg_uuid, &e);
	if (r >= 0)
		r = set_uid_base(base, &e);
	if (r < 0 && install)
		(void)hv_zone_ids_free(arg_uuid, NULL);
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
