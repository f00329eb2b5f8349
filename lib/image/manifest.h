/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Image manifests, version 2 (smartos.md §4.2), as IMGAPI serves them and
 * imgadm stores them. Parsing checks every field Sable uses or a server
 * is known to send, with errors that name the field's path
 * ("files.0.sha1: expected 40 hexadecimal digits, got 'xyz'"). Fields it
 * does not know are kept and ignored: manifests come from servers, which
 * add their own (admin fields, newer versions); types and required fields
 * are what must hold.
 */

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"
#include "basic/uuid.h"

enum hv_image_type {
	HV_IMAGE_ZONE_DATASET,
	HV_IMAGE_LX_DATASET,
	HV_IMAGE_ZVOL,
	HV_IMAGE_DOCKER,
	HV_IMAGE_LXD,
	HV_IMAGE_OTHER,
	_HV_IMAGE_TYPE_MAX,
	_HV_IMAGE_TYPE_INVALID = -EINVAL,
};
const char *hv_image_type_to_string(enum hv_image_type t);
enum hv_image_type hv_image_type_from_string(const char *s);

/* How the image file is compressed. zstd is Sable's addition to SmartOS's list. */
enum hv_image_compression {
	HV_IMAGE_COMPRESSION_NONE,
	HV_IMAGE_COMPRESSION_GZIP,
	HV_IMAGE_COMPRESSION_BZIP2,
	HV_IMAGE_COMPRESSION_XZ,
	HV_IMAGE_COMPRESSION_ZSTD,
	_HV_IMAGE_COMPRESSION_MAX,
	_HV_IMAGE_COMPRESSION_INVALID = -EINVAL,
};
const char *hv_image_compression_to_string(enum hv_image_compression c);
enum hv_image_compression hv_image_compression_from_string(const char *s);

#define HV_IMAGE_FILE_SIZE_MAX     (UINT64_C(20) << 30) /* IMGAPI's cap, 20 GiB */
#define HV_IMAGE_MANIFEST_SIZE_MAX (1024 * 1024)        /* hv_image_manifest_load() refuses more */
#define HV_SHA1_HEX_LEN            40

struct hv_image_file {
	char sha1[HV_SHA1_HEX_LEN + 1]; /* lower case */
	uint64_t size;                  /* bytes of the (compressed) file */
	enum hv_image_compression compression;
	const char *dataset_guid; /* or NULL */
};

/*
 * A parsed manifest. The strings point into json, which the manifest
 * holds a reference to; they live as long as the manifest.
 */
struct hv_image_manifest {
	json_t *json;
	char uuid[UUID_STRING_LEN + 1];
	char owner[UUID_STRING_LEN + 1];
	const char *name;
	const char *version;
	const char *description; /* or NULL */
	enum hv_image_type type;
	const char *os;
	const char *state; /* active, unactivated, disabled, creating, failed */
	bool disabled;
	bool public_;
	const char *published_at; /* or NULL */
	const char *origin;       /* the parent image's uuid, or NULL */
	bool has_file;            /* files[] has its one element */
	struct hv_image_file file;
	const char *requirements_brand; /* or NULL */
	const char *kernel_version;     /* tags.kernel_version, or NULL */
	uint64_t image_size;            /* MiB, zvol images (required there), else 0 */
};

/*
 * Check a manifest and fill ret (taking a reference to j). A manifest
 * without "v" is version 1 (pre-SDC 7) and is refused, naming that.
 * "active" manifests must have their file and published_at.
 */
int hv_image_manifest_parse(json_t *j, struct hv_image_manifest *ret, struct hv_error **reterr);
/* The same from JSON text; source names the text in errors ("manifest.json:3:14: ..."). */
int hv_image_manifest_load(const char *buf, size_t size, const char *source,
                           struct hv_image_manifest *ret, struct hv_error **reterr);
void hv_image_manifest_done(struct hv_image_manifest *m);

/* Which image types a brand can be made from (lx: lx-dataset, docker; kvm: zvol; ...). */
bool hv_image_type_fits_brand(enum hv_image_type t, const char *brand);
