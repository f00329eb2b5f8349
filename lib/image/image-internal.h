/* SPDX-License-Identifier: MIT */
#pragma once

/* What the files of lib/image share (image-store.c has the theory). */

#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"

/* $SABLE_ROOT/var/imgadm/images/<zpool>-<uuid>.json */
int image_cache_path(const char *zpool, const char *uuid, char **ret);
/* $SABLE_ROOT/var/imgadm/importing/<uuid>.json */
int image_intent_path(const char *uuid, char **ret);
/* The per-image lock of installs and deletes (wait at most timeout_ms). */
int image_lock(const char *uuid, uint64_t timeout_ms, int *ret_fd, struct hv_error **reterr);
/* True when the image's manifest is in the cache. */
bool image_installed(const char *zpool, const char *uuid);
