/* SPDX-License-Identifier: MIT */
#pragma once

/* Helpers on names that hv_dataset_name_check() has accepted. */

#include <stdbool.h>

#include "storage/pool.h"

/* "a/b@s" → "a/b", "s"; -EINVAL without '@'. */
int hv_name_split_snapshot(const char *name, char **ret_dataset, char **ret_snapshot);

/* The pool: the first component. */
int hv_name_pool(const char *name, char **ret);

/* "a/b/c" → "a/b"; -ENOENT for a pool's root dataset or a snapshot. */
int hv_name_parent(const char *name, char **ret);

/* name is strictly below ancestor ("a/b/c" below "a/b", not "a/bc"). */
bool hv_name_is_descendant(const char *name, const char *ancestor);

/* Pool names: lower-case letters, digits and '_', starting with a letter, at most 32. */
bool hv_pool_name_is_valid(const char *name);
