/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The state root. Everything Sable keeps lives below $SABLE_ROOT (default
 * "/"): the node config, the pool mountpoint, run and log files. Tests and
 * demos point SABLE_ROOT at a scratch directory and run beside a real
 * installation; kernel objects carry the root's prefix (hv_node_prefix())
 * so two roots never collide.
 */

#define HV_CONFIG_FILE "/usbkey/config"
#define HV_POOL_DIR    "/zones"
#define HV_RUN_DIR     "/var/run/sable"
#define HV_LOG_DIR     "/var/log/sable"
#define HV_LIB_DIR     "/var/lib/sable"

/*
 * The root in canonical form ("/" or "/a/b", no trailing slash). -EINVAL if
 * SABLE_ROOT is set but relative or has a ".." component.
 */
int hv_root(char **ret);

/* rel (an absolute path such as HV_CONFIG_FILE) below the root. */
int hv_root_path(const char *rel, char **ret);

/* The log file for a program: $SABLE_ROOT/var/log/sable/<program>.log. */
int hv_root_log_path(const char *program, char **ret);
