/* SPDX-License-Identifier: MIT */
/*
 * What a running zone's zoneadmd records, in
 * $SABLE_ROOT/var/run/sable/zones/<uuid>.json (atomically replaced). A new
 * zoneadmd re-adopts a zone from it: the init's pid and start time identify
 * the process even if the pid was reused since.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/parse.h"
#include "basic/root.h"
#include "json/json.h"
#include "zone/zone.h"

static const char *const state_names[_HV_ZONE_STATE_MAX] = {
        [HV_ZONE_CONFIGURED] = "configured",
        [HV_ZONE_INSTALLED] = "installed",
        [HV_ZONE_READY] = "ready",
        [HV_ZONE_RUNNING] = "running",
        [HV_ZONE_SHUTTING_DOWN] = "shutting_down",
        [HV_ZONE_DOWN] = "down",
};

const char *
hv_zone_state_to_string(enum hv_zone_state s)
{
	return s >= 0 && s < _HV_ZONE_STATE_MAX ? state_names[s] : NULL;
}

enum hv_zone_state
hv_zone_state_from_string(const char *s)
{
	for (int i = 0; s && i < _HV_ZONE_STATE_MAX; i++)
		if (streq(state_names[i], s))
			return (enum hv_zone_state)i;
	return _HV_ZONE_STATE_INVALID;
}

int
hv_zone_runtime_path(const char *uuid, const char *suffix, char **ret)
{
	_cleanup_free_ char *rel = NULL;

	if (!uuid_is_valid(uuid))
		return -EINVAL;
	if (asprintf(&rel, HV_RUN_DIR "/zones/%s%s", uuid, suffix) < 0)
		return -ENOMEM;
	return hv_root_path(rel, ret);
}

int
hv_proc_starttime(pid_t pid, uint64_t *ret)
{
	_cleanup_free_ char *path = NULL, *stat = NULL;
	const char *p;
	int r;

	if (asprintf(&path, "/proc/%d/stat", (int)pid) < 0)
		return -ENOMEM;
	r = read_one_line_file(path, &stat);
	if (r == -ENOENT)
		return -ESRCH;
	if (r < 0)
		return r;
	/* The command may contain spaces and parentheses: fields start after the last ')'. */
	p = strrchr(stat, ')');
	if (!p)
		return -EIO;
	p++;
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EIO;
	}
	return sscanf(p + 1, "%" SCNu64, ret) == 1 ? 0 : -EIO;
}

int
hv_zone_init_pidfd(const struct hv_zone_runtime *rt, int *ret_pidfd)
{
	_cleanup_close_ int fd = -EBADF;
	uint64_t st;
	int r;

	if (rt->init_pid <= 0)
		return -ESRCH;
	fd = pidfd_open(rt->init_pid, 0);
	if (fd < 0)
		return -errno;
	/* Checked after the pidfd exists: from now on the pid cannot be reused under us. */
	r = hv_proc_starttime(rt->init_pid, &st);
	if (r < 0)
		return r;
	if (st != rt->init_starttime)
		return -ESRCH;
	*ret_pidfd = TAKE_FD(fd);
	return 0;
}

int
hv_zone_runtime_load(const char *uuid, struct hv_zone_runtime *ret, struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL;
	json_auto_t *o = NULL;
	const char *state;
	int64_t v;
	int r;

	if ((r = hv_zone_runtime_path(uuid, ".json", &path)) < 0)
		return r;
	r = hv_json_load_file(path, 64 * 1024, &o, reterr);
	if (r < 0)
		return r;
	*ret = (struct hv_zone_runtime){.exit_status = -1};
	if (hv_json_get_string(o, "state", &state, NULL) >= 0)
		ret->state = hv_zone_state_from_string(state);
	if ((int)ret->state < 0)
		return hv_error_set(reterr, -EUCLEAN, "%s: unknown state", path);
	if (hv_json_get_int(o, "init_pid", &v, NULL) >= 0)
		ret->init_pid = (pid_t)v;
	if (hv_json_get_int(o, "init_starttime", &v, NULL) >= 0)
		ret->init_starttime = (uint64_t)v;
	if (hv_json_get_int(o, "zoneadmd_pid", &v, NULL) >= 0)
		ret->zoneadmd_pid = (pid_t)v;
	if (hv_json_get_int(o, "boot_timestamp", &v, NULL) >= 0)
		ret->boot_timestamp = (uint64_t)v;
	if (hv_json_get_int(o, "exit_status", &v, NULL) >= 0)
		ret->exit_status = (int)v;
	if (hv_json_get_int(o, "exit_timestamp", &v, NULL) >= 0)
		ret->exit_timestamp = (uint64_t)v;
	if (hv_json_get_int(o, "zoneid", &v, NULL) >= 0)
		ret->zoneid = (uint64_t)v;
	if (hv_json_get_int(o, "vnc_port", &v, NULL) >= 0)
		ret->vnc_port = (int)v;
	ret->paused = json_is_true(json_object_get(o, "paused"));
	if (hv_json_get_string(o, "transition_to", &state, NULL) >= 0 &&
	    strlen(state) < sizeof(ret->transition_to)) {
		strcpy(ret->transition_to, state);
		if (hv_json_get_int(o, "transition_expire", &v, NULL) >= 0 && v > 0)
			ret->transition_expire = (uint64_t)v;
	}
	return 0;
}

int
hv_zone_runtime_save(const char *uuid, const struct hv_zone_runtime *rt, struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL, *dir = NULL, *text = NULL;
	json_auto_t *o = NULL;
	int r;

	if ((r = hv_zone_runtime_path(uuid, ".json", &path)) < 0 ||
	    (r = hv_root_path(HV_RUN_DIR "/zones", &dir)) < 0)
		return r;
	if ((r = mkdir_p(dir, 0700)) < 0)
		return hv_error_set(reterr, r, "cannot create '%s': %m", dir);
	o = json_pack("{s:s, s:i, s:I, s:i, s:I, s:i, s:I, s:I, s:i, s:b}", "state",
	              hv_zone_state_to_string(rt->state), "init_pid", (int)rt->init_pid,
	              "init_starttime", (json_int_t)rt->init_starttime, "zoneadmd_pid",
	              (int)rt->zoneadmd_pid, "boot_timestamp", (json_int_t)rt->boot_timestamp,
	              "exit_status", rt->exit_status, "exit_timestamp",
	              (json_int_t)rt->exit_timestamp, "zoneid", (json_int_t)rt->zoneid, "vnc_port",
	              rt->vnc_port, "paused", rt->paused);
	if (o && rt->transition_to[0] &&
	    (hv_json_set(o, "transition_to", json_string(rt->transition_to)) < 0 ||
	     hv_json_set(o, "transition_expire", json_integer((json_int_t)rt->transition_expire)) <
	             0))
		return -ENOMEM;
	if (!o || !(text = hv_json_dumps(o)))
		return -ENOMEM;
	r = write_file_replace(path, text, strlen(text), 0644);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot write '%s': %m", path);
	return 0;
}

int
hv_zone_runtime_remove(const char *uuid)
{
	_cleanup_free_ char *path = NULL;
	int r = hv_zone_runtime_path(uuid, ".json", &path);

	if (r < 0)
		return r;
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

static int
control_dir_path(const char *uuid, char **ret)
{
	_cleanup_free_ char *rel = NULL;

	if (!uuid_is_valid(uuid))
		return -EINVAL;
	if (asprintf(&rel, HV_RUN_DIR "/zonecontrol/%s", uuid) < 0)
		return -ENOMEM;
	return hv_root_path(rel, ret);
}

int
hv_zone_control_dir(const struct hv_zone_config *c, char **ret)
{
	_cleanup_free_ char *path = NULL;
	struct stat st;
	int r;

	if ((r = control_dir_path(c->uuid, &path)) < 0)
		return r;
	/* The parents are the host's (0700 root); the zone never walks them. */
	if ((r = mkdir_p(path, 0700)) < 0)
		return r;
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if ((st.st_uid != c->uid_base || st.st_gid != c->uid_base) &&
	    lchown(path, c->uid_base, c->uid_base) < 0)
		return -errno;
	if ((st.st_mode & 07777) != 0700 && chmod(path, 0700) < 0)
		return -errno;
	*ret = TAKE_PTR(path);
	return 0;
}

int
hv_zone_control_dir_remove(const char *uuid)
{
	_cleanup_free_ char *path = NULL, *sock = NULL;
	int r;

	if ((r = control_dir_path(uuid, &path)) < 0)
		return r;
	if (asprintf(&sock, "%s/metadata.sock", path) < 0)
		return -ENOMEM;
	(void)unlink(sock);
	return rmdir(path) < 0 && errno != ENOENT ? -errno : 0;
}
