/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A store (server.h) over a VM's record, for zoneadmd: lib/mdata's own
 * small reader and writer of <zonepath>/config/vm.json. mdata-record.c says
 * why zoneadmd does not link lib/core for this, and what it shares with it.
 */

#include <sys/types.h>

#include "mdata/server.h"

struct hv_mdata_record;

int hv_mdata_record_new(const char *uuid, struct hv_mdata_record **ret);
struct hv_mdata_record *hv_mdata_record_free(struct hv_mdata_record *r);

/* The store's callbacks; their userdata is the struct hv_mdata_record. */
extern const struct hv_mdata_store hv_mdata_record_store;

/*
 * Listen on dir/metadata.sock (replacing a stale one), owned by uid:gid
 * with mode 0600: the guest's root, and no one else, may connect.
 */
int hv_mdata_listen(const char *dir, uid_t uid, gid_t gid, int *ret_fd);
