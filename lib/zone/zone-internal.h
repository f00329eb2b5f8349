/* SPDX-License-Identifier: MIT */
#pragma once

/* Between the files of lib/zone. */

#include "zone/zone-cgroup.h"
#include "zone/zone.h"

/* What the parent hands the zone's first process (zone-start.c → zone-mount.c). */
struct hv_zone_fds {
	int root_tree;    /* detached, id-mapped tree of the zone root (open_tree) */
	int native_tree;  /* detached read-only tree for /native, or -1 */
	int console;      /* slave of the console pty */
	int console_tree; /* a detached mount of that slave, for /dev/console */
	int control_tree; /* detached read-only tree of the control directory, or -1 */
};

/*
 * In the zone's first process, root in its user and mount namespaces:
 * attach the root tree, give it /proc, /sys, /dev, /tmp, /run and
 * /sys/fs/cgroup, mask what must not be seen, then pivot_root into it.
 */
int hv_zone_mount_all(const struct hv_zone_config *c, const struct hv_zone_fds *fds,
                      enum hv_cgroup_layout layout, struct hv_error **reterr);

/* Read a passwd-format line for user (or uid 0 when user is NULL) from an open file. */
struct hv_passwd {
	char *name, *home, *shell;
	uid_t uid;
	gid_t gid;
};
int hv_passwd_lookup(const char *path, const char *user, struct hv_passwd *ret);
void hv_passwd_done(struct hv_passwd *p);
