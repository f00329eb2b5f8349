/* SPDX-License-Identifier: MIT */
#pragma once

/* Between the two files of the btrfs backend (storage-btrfs.c, storage-btrfs-pool.c). */

#include <btrfsutil.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/storage-internal.h"

/*
 * Simple quotas (Linux 6.7): BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA and the
 * status flag that marks them. Debian 12's <linux/btrfs.h> (6.1) lacks both.
 */
#define QUOTA_CTL_ENABLE_SIMPLE        UINT64_C(4)
#define QGROUP_STATUS_FLAG_SIMPLE_MODE (UINT64_C(1) << 3)

/* The kernel resets a limit when it is given this value. */
#define QGROUP_LIMIT_CLEAR UINT64_MAX

#define MKFS_TIMEOUT_MS    (10 * 60 * 1000)
#define SEARCH_BUF_SMALL   4096
#define SEARCH_BUF_LARGE   (1024 * 1024)
#define COMPRESSION_XATTR  "btrfs.compression"
#define RECEIVED_SUBVOL    "received"
#define QGROUP_LEVEL_SHIFT 48
#define QGROUP_ID(g)       ((g) & ((UINT64_C(1) << QGROUP_LEVEL_SHIFT) - 1))
#define QGROUP_LEVEL(g)    ((g) >> QGROUP_LEVEL_SHIFT)

typedef int (*search_fn)(const struct btrfs_ioctl_search_header *h, const void *data,
                         void *userdata);

int hv_btrfs_open_dir(const char *path);
int hv_btrfs_open_pool(struct hv_pool *p, struct hv_error **reterr);
int hv_btrfs_util_error(struct hv_error **reterr, enum btrfs_util_error err, const char *fmt, ...)
        _printf_(3, 4);
void hv_btrfs_format_qgroup(uint64_t g, char buf[static 32]);
int hv_btrfs_tree_search(int fd, uint64_t tree, uint64_t objectid, uint32_t type,
                         uint64_t min_offset, uint64_t max_offset, size_t buf_size, search_fn f,
                         void *userdata);
int hv_btrfs_quota_mode_of(int fd, enum hv_quota_mode *ret, uint64_t *ret_flags);
int hv_btrfs_quota_ctl(int fd, uint64_t cmd);
int hv_btrfs_quota_enable(int fd, const char *name, enum hv_quota_mode want,
                          enum hv_quota_mode *ret, struct hv_error **reterr);
/* Full qgroups mark their numbers inconsistent after some changes: start a rescan then. */
void hv_btrfs_quota_rescan(int fd);

/* The meaningful lines of a btrfs-progs tool's stderr ("ERROR: …"), joined; caller frees. */
char *hv_btrfs_tool_reason(const char *text);

/* Pool level (storage-btrfs-pool.c). */
int hv_btrfs_pool_create(struct hv_pool_spec *spec, struct hv_error **reterr);
int hv_btrfs_pool_import(struct hv_pool_spec *spec, struct hv_error **reterr);
int hv_btrfs_pool_export(const struct hv_pool_spec *spec, struct hv_error **reterr);
int hv_btrfs_pool_is_imported(const struct hv_pool_spec *spec, struct hv_error **reterr);
int hv_btrfs_pool_status(struct hv_pool *p, struct hv_pool_status *ret, struct hv_error **reterr);
int hv_btrfs_pool_scrub(struct hv_pool *p, struct hv_scrub_result *ret, struct hv_error **reterr);
