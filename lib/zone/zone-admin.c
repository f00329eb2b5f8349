/* SPDX-License-Identifier: MIT */
/*
 * Administering zones from a program (zoneadm, vmadm, vmadmd): boot one by
 * starting its zoneadmd, ask a running one's zoneadmd to halt, shut down,
 * reboot or apply its config, give it an id range, and tell its state.
 *
 * zoneadmd is found beside the calling program (installed: the same
 * directory; a build tree: ../zoneadmd/). A zone whose zoneadmd died keeps
 * running; halting it then goes by its cgroups.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/config.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/path.h"
#include "basic/root.h"
#include "basic/strv.h"
#include "json/json.h"
#include "zone/zone-cgroup.h"
#include "zone/zone.h"

#define ANSWER_MAX 1024

static int
find_zoneadmd(char **ret)
{
	static const char *const rel[] = {"zoneadmd", "../zoneadmd/zoneadmd"};
	_cleanup_free_ char *dir = NULL;
	char self[PATH_MAX];
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

/* The detached zoneadmd: a new session, reparented to init, stdio on /dev/null. */
_noreturn_ static void
exec_zoneadmd(const char *zoneadmd, const char *uuid, int notify)
{
	char fdarg[16];
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (setsid() < 0 || null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
		_exit(1);
	if (fork() != 0)
		_exit(0);
	snprintf(fdarg, sizeof(fdarg), "%d", notify);
	(void)fcntl(notify, F_SETFD, 0);
	execl(zoneadmd, "zoneadmd", "-z", uuid, "--notify-fd", fdarg, (char *)NULL);
	_exit(127);
}

int
hv_zone_boot(const char *uuid, struct hv_error **reterr)
{
	_cleanup_free_ char *zoneadmd = NULL, *out = NULL;
	struct hv_zone_config c = {0};
	int pipefd[2], r;
	pid_t pid;

	/* What can be checked here comes back at once. */
	r = hv_zone_config_load(uuid, &c, reterr);
	hv_zone_config_done(&c);
	if (r < 0)
		return r;
	if ((r = find_zoneadmd(&zoneadmd)) < 0)
		return hv_error_set(reterr, r, "cannot find zoneadmd beside this program: %m");
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return hv_error_set(reterr, -errno, "pipe: %m");
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return hv_error_set(reterr, r, "fork: %m");
	}
	if (pid == 0)
		exec_zoneadmd(zoneadmd, uuid, pipefd[1]);
	close(pipefd[1]);
	(void)waitpid(pid, NULL, 0);
	r = read_full_fd(pipefd[0], ANSWER_MAX, &out, NULL);
	close(pipefd[0]);
	if (r < 0)
		return hv_error_set(reterr, r, "zone %s: no answer from zoneadmd: %m", uuid);
	if (startswith(out, "ok"))
		return 0;
	out[strcspn(out, "\n")] = 0;
	return hv_error_set(reterr, -EIO, "%s",
	                    startswith(out, "error: ")
	                            ?: (*out ? out : "zoneadmd failed to start"));
}

int
hv_zone_request(const char *uuid, const char *cmd, char *answer, size_t size)
{
	_cleanup_free_ char *path = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -EBADF;
	ssize_t n;
	int r;

	if ((r = hv_zone_runtime_path(uuid, ".ctl", &path)) < 0)
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
	/* Then the connection's end: zoneadmd closes it when it is done with the zone. */
	while (recv(fd, &(char){0}, 1, 0) > 0)
		;
	return 0;
}

/* No zoneadmd, but the zone may still run (its zoneadmd was killed): stop it by cgroup. */
static int
halt_orphan(const char *uuid, struct hv_error **reterr)
{
	struct hv_zone_config c = {0};
	struct hv_cgroup *cg = NULL;
	int r;

	if (hv_zone_running(uuid, NULL) <= 0)
		return -ESRCH;
	r = hv_zone_config_load(uuid, &c, reterr);
	if (r >= 0)
		r = hv_cgroup_open(c.prefix, c.uuid, &cg, reterr);
	if (r >= 0)
		r = hv_cgroup_kill_all(cg, reterr);
	for (int i = 0; r >= 0 && i < 500; i++) {
		unsigned n = 1;

		if (hv_cgroup_count_procs(cg, &n, NULL) < 0 || n == 0)
			break;
		usleep(10000);
	}
	if (r >= 0)
		r = hv_cgroup_destroy(cg, reterr);
	hv_cgroup_free(cg);
	hv_zone_config_done(&c);
	if (r >= 0)
		(void)hv_zone_runtime_remove(uuid);
	return r;
}

/* Ask and expect "ok"; anything else is the zone's error. */
static int
request_ok(const char *uuid, const char *cmd, struct hv_error **reterr)
{
	char answer[ANSWER_MAX];
	int r = hv_zone_request(uuid, cmd, answer, sizeof(answer));

	if (r == -ESRCH)
		return r;
	if (r < 0)
		return hv_error_set(reterr, r, "zone %s: cannot reach its zoneadmd: %m", uuid);
	if (!streq(answer, "ok"))
		return hv_error_set(reterr, -EIO, "zone %s: %s", uuid,
		                    startswith(answer, "error: ") ?: answer);
	return 0;
}

int
hv_zone_halt(const char *uuid, struct hv_error **reterr)
{
	int r = request_ok(uuid, "halt", reterr);

	return r == -ESRCH ? halt_orphan(uuid, reterr) : r;
}

int
hv_zone_shutdown(const char *uuid, bool reboot, unsigned timeout_s, struct hv_error **reterr)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "%s %u", reboot ? "reboot" : "shutdown", timeout_s);
	return request_ok(uuid, cmd, reterr);
}

int
hv_zone_reboot(const char *uuid, struct hv_error **reterr)
{
	return request_ok(uuid, "reboot", reterr);
}

int
hv_zone_apply_config(const char *uuid, struct hv_error **reterr)
{
	return request_ok(uuid, "update", reterr);
}

int
hv_zone_running(const char *uuid, struct hv_zone_runtime *ret)
{
	struct hv_zone_runtime rt;
	int pidfd;

	if (hv_zone_runtime_load(uuid, &rt, NULL) < 0 || hv_zone_init_pidfd(&rt, &pidfd) < 0)
		return 0;
	close(pidfd);
	if (ret)
		*ret = rt;
	return 1;
}

/* Write uid_base into (or, base 0, out of) the zone's config. */
static int
set_uid_base(const char *uuid, uint32_t base, struct hv_error **reterr)
{
	_cleanup_free_ char *rel = NULL, *path = NULL, *text = NULL;
	json_auto_t *o = NULL;
	int r;

	if (asprintf(&rel, "/zones/%s/config/zone.json", uuid) < 0 || hv_root_path(rel, &path) < 0)
		return -ENOMEM;
	if ((r = hv_json_load_file(path, 1024 * 1024, &o, reterr)) < 0)
		return r;
	r = 0;
	if (base)
		r = hv_json_set(o, "uid_base", json_integer(base));
	else
		(void)json_object_del(o, "uid_base");
	if (r < 0 || !(text = hv_json_dumps(o)))
		return -ENOMEM;
	r = write_file_atomic(path, text, strlen(text), 0644);
	return r < 0 ? hv_error_set(reterr, r, "cannot write '%s': %m", path) : 0;
}

int
hv_zone_install(const char *uuid, uint32_t *ret_base, struct hv_error **reterr)
{
	struct hv_zone_config c = {0};
	uint32_t base = 0;
	int r;

	r = hv_zone_config_load(uuid, &c, reterr);
	hv_zone_config_done(&c);
	if (r < 0)
		return r;
	r = hv_zone_ids_allocate(uuid, &base, reterr);
	if (r >= 0)
		r = set_uid_base(uuid, base, reterr);
	if (r < 0) {
		(void)hv_zone_ids_free(uuid, NULL);
		return r;
	}
	if (ret_base)
		*ret_base = base;
	return 0;
}

int
hv_zone_uninstall(const char *uuid, struct hv_error **reterr)
{
	struct hv_zone_config c = {0};
	int r;

	if (hv_zone_running(uuid, NULL) > 0)
		return hv_error_set(reterr, -EBUSY, "zone %s is running; halt it first", uuid);
	r = hv_zone_config_load(uuid, &c, reterr);
	hv_zone_config_done(&c);
	if (r < 0)
		return r;
	r = hv_zone_ids_free(uuid, reterr);
	if (r >= 0)
		r = set_uid_base(uuid, 0, reterr);
	return r;
}

int
hv_zone_cleanup(const char *uuid, struct hv_error **reterr)
{
	static const char *const suffixes[] = {".json", ".ctl", ".console", ".lock"};
	_cleanup_free_ char *prefix = NULL;
	struct hv_cgroup *cg = NULL;
	int r;

	if (hv_zone_running(uuid, NULL) > 0)
		return hv_error_set(reterr, -EBUSY, "zone %s is running; halt it first", uuid);
	/* Make every hierarchy's node (some may be missing), then remove them all. */
	r = hv_node_prefix(false, &prefix, NULL);
	if (r >= 0 && prefix) {
		r = hv_cgroup_create(prefix, uuid, &cg, reterr);
		if (r >= 0)
			r = hv_cgroup_destroy(cg, reterr);
		hv_cgroup_free(cg);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
		_cleanup_free_ char *p = NULL;

		if (hv_zone_runtime_path(uuid, suffixes[i], &p) >= 0 && unlink(p) < 0 &&
		    errno != ENOENT)
			return hv_error_set(reterr, -errno, "cannot remove '%s': %m", p);
	}
	return 0;
}
