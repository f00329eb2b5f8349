/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A zone's control groups, one interface over two layouts, detected at run
 * time:
 *
 *   v2 (modern hosts): one directory <cgroup2>/<prefix>/<name> carrying
 *   every controller (memory, cpu, pids, io) and the device BPF program.
 *
 *   v1 / hybrid (this machine): one directory per v1 controller
 *   (/sys/fs/cgroup/<ctrl>/<prefix>/<name>: cpu, cpuacct, memory, pids,
 *   blkio, devices, freezer, and the name=systemd hierarchy when mounted),
 *   plus a node in the v2 hierarchy (/sys/fs/cgroup/unified/...) even
 *   without controllers there, so that cgroup.kill, cgroup.freeze, PSI,
 *   cgroup BPF and bpf_get_current_cgroup_id() (tracing) work per zone.
 *
 * <prefix> is the state root's prefix (hv_node_prefix()), so zones of two
 * roots never share a cgroup. All functions take the zone's name (its
 * UUID). Limits apply at once, to a running zone too.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/error.h"
#include "zone/zone-limits.h"

enum hv_cgroup_layout {
	HV_CGROUP_V1, /* v1 controllers (possibly with a controller-less v2 beside: hybrid) */
	HV_CGROUP_V2, /* everything on cgroup2 */
	_HV_CGROUP_LAYOUT_MAX,
	_HV_CGROUP_LAYOUT_INVALID = -EINVAL,
};

const char *hv_cgroup_layout_to_string(enum hv_cgroup_layout l);
int hv_cgroup_detect(enum hv_cgroup_layout *ret, struct hv_error **reterr);

struct hv_cgroup;

/* Make the zone's cgroups (existing ones are reused: a zone that restarts keeps them). */
int hv_cgroup_create(const char *prefix, const char *name, struct hv_cgroup **ret,
                     struct hv_error **reterr);
/* Open them when they exist (re-adoption, zlogin); -ENOENT if not. */
int hv_cgroup_open(const char *prefix, const char *name, struct hv_cgroup **ret,
                   struct hv_error **reterr);
struct hv_cgroup *hv_cgroup_free(struct hv_cgroup *cg);

enum hv_cgroup_layout hv_cgroup_layout(const struct hv_cgroup *cg);

/* Apply limits now; a limit of 0 removes it. -EINVAL (with the property named) for a bad value. */
int hv_cgroup_set_limits(struct hv_cgroup *cg, const struct hv_zone_limits *l,
                         struct hv_error **reterr);

/*
 * Allow only the device nodes a zone has: null, zero, full, random,
 * urandom, tty, console, ptmx and pts (char 1:3 1:5 1:7 1:8 1:9 5:0 5:1 5:2
 * 136:*); everything else, block devices included, is denied. v1: the
 * devices controller; v2 (and the unified node of a hybrid host): a
 * BPF_CGROUP_DEVICE program.
 */
int hv_cgroup_limit_devices(struct hv_cgroup *cg, struct hv_error **reterr);

/* A directory fd of the zone's cgroup2 node, for clone3(CLONE_INTO_CGROUP); caller closes. */
int hv_cgroup_open_v2_fd(struct hv_cgroup *cg, struct hv_error **reterr);

/*
 * The same for the cgroup2 node where pid, a process of the zone (its init),
 * is: the place for a process that enters the running zone (zlogin). The
 * zone's own node when pid is not in the zone's subtree.
 */
int hv_cgroup_open_v2_fd_of(struct hv_cgroup *cg, pid_t pid, struct hv_error **reterr);

/*
 * Move pid (and its threads) into every hierarchy of the zone; where it
 * is in the zone's cgroup2 node or below it already, it stays there.
 */
int hv_cgroup_attach(struct hv_cgroup *cg, pid_t pid, struct hv_error **reterr);

/*
 * Joining from inside. A process that moves itself (one thread, written as
 * "0" to a v1 "tasks" file) spares the kernel's global threadgroup lock,
 * whose every taking waits for an RCU grace period (5-35 ms here); the
 * kernel checks the credentials that opened the file, so the files are
 * opened by the host side before clone and written by the new process,
 * whatever namespaces it is already in. with_v2 adds the cgroup2 node,
 * for a process that clone3(CLONE_INTO_CGROUP) could not put there.
 */
#define HV_CGROUP_JOIN_MAX 12
struct hv_cgroup_join {
	int fd[HV_CGROUP_JOIN_MAX];
	const char *dir[HV_CGROUP_JOIN_MAX];
	size_t n;
};
int hv_cgroup_join_prepare(struct hv_cgroup *cg, bool with_v2, struct hv_cgroup_join *ret,
                           struct hv_error **reterr);
/* In the process that joins, before it takes its own cgroup namespace. */
int hv_cgroup_join(const struct hv_cgroup_join *j, struct hv_error **reterr);
void hv_cgroup_join_done(struct hv_cgroup_join *j);

/* Number of processes in the zone's cgroup (v2 node / pids controller). */
int hv_cgroup_count_procs(struct hv_cgroup *cg, unsigned *ret, struct hv_error **reterr);

/* Kill every process in the zone (cgroup.kill where there is one, else freeze, kill, thaw). */
int hv_cgroup_kill_all(struct hv_cgroup *cg, struct hv_error **reterr);

/* Remove the zone's cgroups; -EBUSY (naming the cgroup) while processes remain. */
int hv_cgroup_destroy(struct hv_cgroup *cg, struct hv_error **reterr);

/* The cgroup id that BPF sees for the zone (the v2 node's inode number). */
uint64_t hv_cgroup_id(const struct hv_cgroup *cg);

/* The zone's cgroup path in one v1 controller ("memory") or in v2 (NULL); borrowed. */
const char *hv_cgroup_path(const struct hv_cgroup *cg, const char *controller);
