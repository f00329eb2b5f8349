/* SPDX-License-Identifier: MIT */
#pragma once

/* What the files of lib/image share (image-store.c has the theory). */

#include <curl/curl.h>
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

/*
 * A libcurl handle for url with Sable's conventions: SmartOS's headers
 * (Accept-Version: ~2; a bearer token when given), our user agent, http and
 * https only, timeouts on connecting and on a stalled transfer. headers
 * (to free with curl_slist_free_all) gets the header list; NULL on OOM.
 */
CURL *image_curl_new(const char *url, const char *token, struct curl_slist **headers);
