/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Zones: SmartOS's OS-level virtual machines, built from Linux namespaces.
 * A zone is its dataset (zonepath = $SABLE_ROOT/<pool>/<uuid>), its root
 * (<zonepath>/root), its config (<zonepath>/config/zone.json, written by
 * vmadm or by hand), its id range, its cgroups and, while it runs, one
 * zoneadmd (src/zoneadmd) that is the parent of its init. zone-start.c has
 * the theory of how a zone comes up.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/error.h"
#include "basic/uuid.h"
#include "zone/zone-limits.h"

#define HV_ZONE_ID_COUNT 65536u

struct hv_zone_config {
	char uuid[UUID_STRING_LEN + 1];
	char *pool;     /* "zones" */
	char *zonepath; /* $SABLE_ROOT/zones/<uuid> */
	char *root;     /* <zonepath>/root */
	char *brand;    /* "lx" */
	char *hostname;
	char **init; /* argv of the zone's init (default /sbin/init) */
	char **env;  /* its environment */
	bool restart_init;
	int stop_signal;   /* sent to init for a graceful stop (default SIGPWR) */
	uint32_t uid_base; /* host id of the zone's root (0: none assigned yet) */
	struct hv_zone_limits limits;
	char *native; /* host directory shown read-only at /native, or NULL */
	char *prefix; /* the state root's kernel-object prefix */
};

void hv_zone_config_done(struct hv_zone_config *c);

/* Read and check <zonepath>/config/zone.json of a zone in the pool (default pool "zones"). */
int hv_zone_config_load(const char *uuid, struct hv_zone_config *ret, struct hv_error **reterr);

/* Parse a config from JSON text (source names it in errors). Paths are filled in from uuid. */
int hv_zone_config_parse(const char *text, size_t size, const char *source,
                         struct hv_zone_config *ret, struct hv_error **reterr);

/* Zone states, as SmartOS names them. */
enum hv_zone_state {
	HV_ZONE_CONFIGURED,
	HV_ZONE_INSTALLED,
	HV_ZONE_READY,
	HV_ZONE_RUNNING,
	HV_ZONE_SHUTTING_DOWN,
	HV_ZONE_DOWN,
	_HV_ZONE_STATE_MAX,
	_HV_ZONE_STATE_INVALID = -EINVAL,
};
const char *hv_zone_state_to_string(enum hv_zone_state s);
enum hv_zone_state hv_zone_state_from_string(const char *s);

/* What zoneadmd records about a running zone ($SABLE_ROOT/var/run/sable/zones/<uuid>.json). */
struct hv_zone_runtime {
	enum hv_zone_state state;
	pid_t init_pid;          /* host pid of the zone's init */
	uint64_t init_starttime; /* its start time (clock ticks), to tell it from pid reuse */
	pid_t zoneadmd_pid;
	uint64_t boot_timestamp; /* seconds */
	int exit_status;         /* of the last init: exit code, 128+signal, or -1 unknown */
	uint64_t exit_timestamp;
	uint64_t zoneid; /* this boot's id: the zone's cgroup id, as BPF sees it (0: none) */
	int vnc_port;    /* kvm: the TCP port zoneadmd listens on for VNC (0: none) */
	bool paused;     /* kvm: QEMU stopped the guest's CPUs (QMP STOP, until RESUME) */
	/*
	 * kvm: while a graceful stop or reboot (the ACPI power button) waits for
	 * the guest, where it ends ("stopped" or "start", SmartOS's
	 * transition_to; "" when none) and when it is forced (ms since the
	 * epoch, SmartOS's transition_expire).
	 */
	char transition_to[16];
	uint64_t transition_expire;
};

int hv_zone_runtime_path(const char *uuid, const char *suffix, char **ret);
int hv_zone_runtime_load(const char *uuid, struct hv_zone_runtime *ret, struct hv_error **reterr);
int hv_zone_runtime_save(const char *uuid, const struct hv_zone_runtime *rt,
                         struct hv_error **reterr);
int hv_zone_runtime_remove(const char *uuid);

/*
 * The zone's control directory, $SABLE_ROOT/var/run/sable/zonecontrol/<uuid>:
 * the zone sees it read-only at /.zonecontrol and /native/.zonecontrol, and
 * zoneadmd serves the metadata socket in it. It belongs to the zone's root
 * (mode 0700), so only that user of only that zone reaches what is inside.
 * hv_zone_control_dir() makes it when missing.
 */
int hv_zone_control_dir(const struct hv_zone_config *c, char **ret);
int hv_zone_control_dir_remove(const char *uuid);

/* Start time (field 22 of /proc/<pid>/stat) of a live process; -ESRCH if it is gone. */
int hv_proc_starttime(pid_t pid, uint64_t *ret);

/*
 * A pidfd of the zone's init if it still runs (same pid and start time as
 * recorded); -ESRCH when the zone is down.
 */
int hv_zone_init_pidfd(const struct hv_zone_runtime *rt, int *ret_pidfd);

/* Id ranges: one per zone, no two overlapping, recorded in $SABLE_ROOT/var/lib/sable/idmap. */
int hv_zone_ids_allocate(const char *uuid, uint32_t *ret_base, struct hv_error **reterr);
int hv_zone_ids_free(const char *uuid, struct hv_error **reterr);
/* The registry gives base to this zone (and to no other); -EEXIST or -ENOENT otherwise. */
int hv_zone_ids_check(const char *uuid, uint32_t base, struct hv_error **reterr);

/* Start a zone (zone-start.c). */
struct hv_zone_started {
	pid_t pid; /* host pid of init */
	int pidfd;
	int console_fd; /* pty master of /dev/console */
};

/*
 * What the caller does once the zone's namespaces exist and before its init
 * runs: zoneadmd plugs the zone's NICs into its network namespace
 * (/proc/<pid>/ns/net), so that init finds them up and addressed.
 */
struct hv_zone_hook {
	int (*prepare)(pid_t pid, void *userdata, struct hv_error **reterr);
	void *userdata;
};

/*
 * Build the zone and start its init, as a child of the caller; init runs in
 * the zone's cgroups. hook may be NULL. On failure nothing is left (no
 * process; the cgroups stay for the caller to remove, and what the hook
 * made is the caller's).
 */
struct hv_cgroup;
int hv_zone_start(const struct hv_zone_config *c, struct hv_cgroup *cg,
                  const struct hv_zone_hook *hook, struct hv_zone_started *ret,
                  struct hv_error **reterr);

/*
 * Enter a running zone (zone-enter.c), for zlogin: join its cgroups and
 * every namespace of its init. The caller must then fork (to be inside the
 * zone's pid namespace) and call hv_zone_become() in the child.
 */
int hv_zone_enter(const struct hv_zone_config *c, int init_pidfd, struct hv_error **reterr);

/*
 * Become user (a name from the zone's /etc/passwd, or NULL for root) with
 * the capabilities and seccomp filter of the zone's own processes; fill
 * ret_home and ret_shell from the passwd entry (caller frees).
 */
int hv_zone_become(const char *user, char **ret_home, char **ret_shell, struct hv_error **reterr);

/*
 * Administering zones from programs (zone-admin.c). hv_zone_boot starts
 * the zone's zoneadmd (found beside the calling program) and returns when
 * the zone runs or with zoneadmd's reason. The requests go to a running
 * zone's zoneadmd and return when it is done: -ESRCH when the zone does
 * not run (hv_zone_halt also stops a zone whose zoneadmd died).
 */
int hv_zone_boot(const char *uuid, struct hv_error **reterr);
int hv_zone_halt(const char *uuid, struct hv_error **reterr);
int hv_zone_shutdown(const char *uuid, bool reboot, unsigned timeout_s, struct hv_error **reterr);
int hv_zone_reboot(const char *uuid, struct hv_error **reterr);
/* Make a running zone apply its config's limits again. */
int hv_zone_apply_config(const char *uuid, struct hv_error **reterr);
/*
 * Send cmd to the zone's zoneadmd and read its one-line answer; returns when
 * zoneadmd is done with the request (for a zone that went down: when
 * zoneadmd has exited).
 */
int hv_zone_request(const char *uuid, const char *cmd, char *answer, size_t size);
/* 1 when the zone's init runs (filling ret, nullable), else 0. */
int hv_zone_running(const char *uuid, struct hv_zone_runtime *ret);
/* Give the zone an id range and record it in its config; uninstall frees it (zone halted). */
int hv_zone_install(const char *uuid, uint32_t *ret_base, struct hv_error **reterr);
int hv_zone_uninstall(const char *uuid, struct hv_error **reterr);
/*
 * Remove what a stopped zone left on the host: its cgroups and its run
 * files. -EBUSY while it runs.
 */
int hv_zone_cleanup(const char *uuid, struct hv_error **reterr);
