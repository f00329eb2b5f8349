/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * sysinfo: what this node is, in SmartOS's shape (smartos.md §6.1). Field
 * names and types follow SmartOS exactly where a field has a Linux
 * meaning ("MiB of Memory" and "Boot Time" are strings there, so here too);
 * Linux-only facts get new names ("Kernel Version", "Sable Root").
 * Everything is read fresh from /proc, /sys, the node config and the pool
 * on each call; nothing is cached, because all of it together costs about
 * a millisecond.
 */

#include <jansson.h>

#include "basic/error.h"
#include "basic/uuid.h"

/* Collect the sysinfo object. */
int hv_sysinfo_collect(json_t **ret, struct hv_error **reterr);

/*
 * The host's UUID: SMBIOS product_uuid where the firmware sets one, else
 * /etc/machine-id written as a UUID. Stable across runs and reboots.
 */
int hv_sysinfo_host_uuid(char ret[static UUID_STRING_LEN + 1], struct hv_error **reterr);

/*
 * sysinfo -p: one shell-sourceable Key_Name='value' line per scalar, with
 * nested objects flattened ("Network_Interface_eth0_MAC_Address") and
 * arrays joined with ','.
 */
int hv_sysinfo_format_parsable(const json_t *info, char **ret);
