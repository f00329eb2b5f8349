/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Installed images (image-store.c has the theory). An image is the dataset
 * <zpool>/<uuid> with the read-only snapshot @final that guests are cloned
 * from, and its manifest in imgadm's cache
 * ($SABLE_ROOT/var/imgadm/images/<zpool>-<uuid>.json, as on SmartOS).
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"
#include "image/manifest.h"

/* The exit status SmartOS's imgadm gives for "not installed", and its words. */
#define HV_IMAGE_EXIT_NOT_INSTALLED 3

/* One installed image, as `imgadm get` shows it (a new object): {manifest, zpool, source, clones}.
 */
int hv_image_get(const char *zpool, const char *uuid, json_t **ret, struct hv_error **reterr);

/* Every installed image of the pool, sorted by name then version (an array of get's objects). */
int hv_image_list(const char *zpool, json_t **ret, struct hv_error **reterr);

/* Remove an installed image; refused while a dataset (a VM, another image) was cloned from it. */
int hv_image_delete(const char *zpool, const char *uuid, struct hv_error **reterr);

/* Progress of a long transfer: bytes done of total (0 when unknown). */
typedef void (*hv_image_progress_fn)(uint64_t done, uint64_t total, void *userdata);

struct hv_image_install_opts {
	const char *zpool;  /* default "zones" */
	const char *source; /* recorded as where the image came from, or NULL */
	hv_image_progress_fn progress;
	void *userdata;
};

/*
 * Install an image from its manifest and its file, read from fd in one
 * pass: the bytes are counted and hashed as they stream into the new
 * dataset (a tar unpacked under the dataset, a raw disk written into a
 * volume, or a pool send stream received), and checked against the
 * manifest's size and sha1 at the end. An origin must be installed first.
 * Installing an image already installed returns -EEXIST; one being
 * installed by another process is waited for. A failure or a kill leaves
 * no dataset and no manifest (the next install, import or `imgadm` run
 * removes what a killed one left).
 */
int hv_image_install(const struct hv_image_manifest *m, int fd,
                     const struct hv_image_install_opts *o, struct hv_error **reterr);

/* Remove what killed installs left (runs at the start of every imgadm command). */
int hv_image_recover(const char *zpool, struct hv_error **reterr);
