/* SPDX-License-Identifier: MIT */
#pragma once

/* Between the files of the generic layer. */

#include "storage/storage-internal.h"

static inline void
hv_pool_status_freep(struct hv_pool_status **s)
{
	*s = hv_pool_status_free(*s);
}

/* Undo or finish the operation the database's "pending" intent records, and save. */
int hv_pool_recover(struct hv_pool *p, struct hv_error **reterr);

/* Destroy the quota groups that were still busy when their datasets went. */
int hv_pool_drop_stale_groups(struct hv_pool *p, struct hv_error **reterr);
