/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The pool database, <mountpoint>/.sable/pool.json: what datasets and
 * snapshots exist, with the facts the filesystem does not keep (origins,
 * quotas, creation times, guids, quota groups). It is replaced atomically,
 * so readers always see one consistent state, and it carries the intent of
 * the one operation in progress ("pending"), which is how a crash is
 * repaired (storage-pool.c).
 *
 *   { "version": 1, "pool": "zones", "backend": "btrfs", "quota_mode": "simple",
 *     "next": {"group": 2, "seq": 1, "tx": 1},
 *     "datasets": { "zones": {…}, "zones/a": {
 *         "guid": "9f…", "type": "filesystem", "creation": 1795307865,
 *         "group": 3, "quota": 0, "volsize": 0, "compression": "zstd",
 *         "origin": "<snapshot guid>",
 *         "snapshots": { "s1": {"guid": "…", "creation": …, "seq": 4} } } },
 *     "pending": { "op": "create", … } }
 */

#include <jansson.h>
#include <stdint.h>

#include "storage/storage-internal.h"

#define HV_DB_VERSION 1
#define HV_GUID_LEN   16

/* A fresh database for a new pool, with its root dataset. */
int hv_db_init(struct hv_pool *p, struct hv_error **reterr);
int hv_db_load(struct hv_pool *p, struct hv_error **reterr);
int hv_db_save(struct hv_pool *p, struct hv_error **reterr);
/*
 * Save an intent that a filesystem step will follow: the directory is not
 * synced, because that step (a btrfs subvolume operation commits the
 * transaction) makes the rename durable; the commit write that ends the
 * operation syncs everything.
 */
int hv_db_save_intent(struct hv_pool *p, struct hv_error **reterr);

/* Borrowed references into p->db; NULL when absent. */
json_t *hv_db_datasets(struct hv_pool *p);
json_t *hv_db_dataset(struct hv_pool *p, const char *name);
json_t *hv_db_snapshot(json_t *dataset, const char *snap);

/* The dataset and snapshot records of a snapshot guid; -ENOENT if none. */
int hv_db_find_snapshot(struct hv_pool *p, const char *guid, const char **ret_dataset,
                        const char **ret_snap);

/* Take the next value of a counter ("group", "seq", "tx"). */
uint64_t hv_db_next(struct hv_pool *p, const char *counter);

int hv_db_new_guid(char ret[static HV_GUID_LEN + 1]);

/* Record accessors (records were checked at load). */
const char *hv_rec_str(const json_t *rec, const char *key);
uint64_t hv_rec_u64(const json_t *rec, const char *key);

/* Sorted dataset names (borrowed strings; free only the array). */
int hv_db_sorted_names(struct hv_pool *p, const char ***ret, size_t *ret_n);
