/* SPDX-License-Identifier: MIT */
#pragma once

/* Helpers shared by the files that change datasets. */

#include <jansson.h>

#include "storage/storage-internal.h"

/* The raw file inside a volume dataset. */
#define HV_VOLUME_FILE "volume"

int hv_ds_path(struct hv_pool *p, const char *name, char **ret);
/* Where a snapshot is: <pool>/.sable/snapshots/<guid>, or the record's "path" below .sable. */
int hv_snap_path(struct hv_pool *p, const json_t *srec, char **ret);
int hv_snap_guid_path(struct hv_pool *p, const char *guid, char **ret);
int hv_ds_need(struct hv_pool *p, const char *name, json_t **ret, struct hv_error **reterr);
int hv_snap_need(struct hv_pool *p, const char *full, json_t **ret_ds, json_t **ret_snap,
                 char **ret_dsname, char **ret_snapname, struct hv_error **reterr);
int hv_ds_groups(struct hv_pool *p, const char *name, bool self, uint64_t **ret, size_t *ret_n);
/* As hv_ds_groups() for a dataset to be made, plus a new group of its own (*ret_group). */
int hv_ds_groups_new(struct hv_pool *p, const char *name, uint64_t *ret_group, uint64_t **ret,
                     size_t *ret_n);
int hv_ds_children(struct hv_pool *p, const char *name, bool rel, char ***ret);
/* <pool>/.sable/tmp/<tx>-<what>: scratch paths of one transaction. */
int hv_tmp_path(struct hv_pool *p, uint64_t tx, const char *what, char **ret);
int hv_check_compression(const char *v, struct hv_error **reterr);
int hv_check_not_busy(const char *path, const char *name, struct hv_error **reterr);

/* Move a subtree between quota groups as a rename plan says (undo: back again). */
int hv_regroup(struct hv_pool *p, json_t *plan, bool undo, struct hv_error **reterr);

/* Transactions (see storage-pool.c). */
int hv_tx_begin(struct hv_pool *p, json_t *intent, struct hv_error **reterr);
int hv_tx_commit(struct hv_pool *p, struct hv_error **reterr);
int hv_tx_abort(struct hv_pool *p, int r);
