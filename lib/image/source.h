/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Image sources: IMGAPI servers (smartos.md §4.4), spoken to with libcurl.
 * Every reply is bounded (manifests and lists in memory up to a limit, files
 * streamed), every error is one line naming the URL, and a server that
 * answers garbage is an error, not a crash.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"
#include "image/image.h"

/* The node's sources (node config imgadm_sources, space-separated URLs, in order). */
int hv_image_sources(char ***ret, struct hv_error **reterr);
/* Add (checked with /ping unless force) or remove a source. */
int hv_image_source_add(const char *url, bool force, struct hv_error **reterr);
int hv_image_source_remove(const char *url, struct hv_error **reterr);

/* GET /ping: 0 when it is an IMGAPI. */
int hv_image_source_ping(const char *url, struct hv_error **reterr);
/* GET /images (all pages): an array of manifests. */
int hv_image_source_list(const char *url, json_t **ret, struct hv_error **reterr);
/* GET /images/:uuid: the manifest, or -ENOENT. */
int hv_image_source_manifest(const char *url, const char *uuid, json_t **ret,
                             struct hv_error **reterr);

/*
 * Import: the manifest from the first source that has it, then the file,
 * streamed from the server straight into hv_image_install (no copy on
 * disk). An origin not installed is imported first (ancestry first, as
 * SmartOS does). -EEXIST when already installed.
 */
int hv_image_import(const char *uuid, const char *source, const struct hv_image_install_opts *o,
                    struct hv_error **reterr);

/*
 * Publish a manifest and its file to an IMGAPI: create (unactivated), add
 * the file, activate. token: the server's bearer token (or NULL).
 */
int hv_image_publish(const char *url, const char *token, json_t *manifest, int fd,
                     struct hv_error **reterr);
