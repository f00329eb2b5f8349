/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * imgapid's parts: the store (imgapid-store.c: DIR on disk and its index in
 * memory), listing (imgapid-list.c: filters, order, pages) and HTTP
 * (imgapid-http.c: routes, authorization, bodies, ranges, error replies).
 *
 * Store calls return -errno with a message in reterr; the HTTP layer turns
 * the errno into IMGAPI's error code:
 *   -ENOENT     404 ResourceNotFound
 *   -EEXIST     409 ImageUuidAlreadyExists
 *   -EINVAL     422 ValidationFailed (a manifest) or InvalidParameter (a
 *               query parameter); reterr's path names the field
 *   -ENODATA    422 NoActivationNoFile
 *   -EALREADY   422 ImageAlreadyActivated
 *   -EROFS      422 ImageFilesImmutable
 *   -ENOTEMPTY  422 ImageHasDependentImages
 *   -ENXIO      422 OriginDoesNotExist
 *   -EFBIG      413 PayloadTooLarge
 *   -ENOSPC     507 InsufficientStorage
 *   anything else 500 InternalError
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"
#include "basic/uuid.h"

#define MANIFEST_BODY_MAX (UINT64_C(1) << 20) /* bytes of a POST /images body */
#define LIST_LIMIT_MAX    1000u
#define MD5_BASE64_LEN    24

struct store;
struct upload;

/* Open (creating) DIR, lock it against a second server, and recover what a crash left. */
int store_open(const char *dir, struct store **ret, struct hv_error **reterr);
struct store *store_free(struct store *s);
static inline void
store_freep(struct store **s)
{
	*s = store_free(*s);
}
size_t store_count(struct store *s);

/* One manifest as JSON text; admin keeps the server's own fields (files[0].contentMD5). */
int store_get(struct store *s, const char *uuid, bool admin, char **ret_json,
              struct hv_error **reterr);

/* Add an unactivated image from a client's manifest (taken over, even on failure). */
int store_create(struct store *s, json_t *manifest, char **ret_json, struct hv_error **reterr);

/* action=activate: needs the file; state becomes active (disabled if so) and published_at now. */
int store_activate(struct store *s, const char *uuid, char **ret_json, struct hv_error **reterr);
/* action=enable / action=disable. */
int store_set_disabled(struct store *s, const char *uuid, bool disabled, char **ret_json,
                       struct hv_error **reterr);
int store_delete(struct store *s, const char *uuid, struct hv_error **reterr);

/*
 * The image's file for reading: an O_RDONLY fd (the caller owns it), its
 * size and the base64 MD5 recorded at upload.
 */
int store_open_file(struct store *s, const char *uuid, int *ret_fd, uint64_t *ret_size,
                    char ret_md5[MD5_BASE64_LEN + 1], struct hv_error **reterr);

/*
 * An upload: begin checks the image and opens an unnamed file in its
 * directory; write appends (-EFBIG past HV_IMAGE_FILE_SIZE_MAX); finish
 * checks the sha1 and puts the file and its files[0] in place. Freeing an
 * unfinished upload leaves nothing behind.
 */
struct upload_params {
	const char *compression;  /* none, gzip, bzip2, xz, zstd */
	const char *sha1;         /* 40 hex digits, or NULL */
	const char *dataset_guid; /* or NULL */
};
int store_upload_begin(struct store *s, const char *uuid, const struct upload_params *p,
                       struct upload **ret, struct hv_error **reterr);
int store_upload_write(struct upload *u, const void *data, size_t size);
int store_upload_finish(struct store *s, struct upload *u, char **ret_json,
                        struct hv_error **reterr);
uint64_t store_upload_size(const struct upload *u);
struct upload *store_upload_free(struct upload *u);

/* GET /images: what the query asks for, already checked by the HTTP layer. */
struct list_query {
	const char *name, *version; /* a leading '~' means substring */
	const char *os, *owner;
	const char *type;     /* a leading '!' excludes */
	const char *state;    /* active (default), unactivated, disabled, all */
	int public_;          /* -1: either */
	json_t *tags;         /* key -> string, ANDed; or NULL */
	json_t *billing_tags; /* strings, ANDed; or NULL */
	const char *marker;   /* a UUID or a date; or NULL */
	unsigned limit;
	bool desc;
	bool admin;
};
int store_list(struct store *s, const struct list_query *q, char **ret_json,
               struct hv_error **reterr);

/*
 * imgapid-list.c. One query parameter of GET /images into q (the strings
 * stay the caller's); -EINVAL names the parameter. Others are ignored.
 */
int list_query_set(struct list_query *q, const char *key, const char *value,
                   struct hv_error **reterr);
/* Used by store_list under the store's lock. */
bool list_match(const json_t *manifest, const struct list_query *q);
/* Sort, apply the marker and limit; marker_date is the normalized marker date or NULL. */
json_t *list_page(json_t *const *matches, size_t n, const struct list_query *q,
                  const char *marker_date);
/* A date as the marker takes it, normalized to published_at's form "YYYY-MM-DDTHH:MM:SS.mmmZ". */
int list_parse_date(const char *s, char ret[static 25]);
/* The manifest as clients see it: without the server's fields unless admin. NULL on OOM. */
json_t *manifest_view(const json_t *manifest, bool admin);

/* imgapid-http.c */
struct server_config {
	struct store *store;
	const char *token;
	int listen_fd;
	unsigned threads, connections, timeout_sec;
};
struct server;
int server_start(const struct server_config *c, struct server **ret, struct hv_error **reterr);
struct server *server_stop(struct server *srv);
