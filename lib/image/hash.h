/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Streaming digests for image files (sha1, as manifests carry it; md5, as
 * IMGAPI's Content-MD5 header does), on OpenSSL's libcrypto.
 */

#include <stddef.h>

enum hv_hash_kind {
	HV_HASH_SHA1,
	HV_HASH_MD5,
};

struct hv_hash;
int hv_hash_new(enum hv_hash_kind kind, struct hv_hash **ret);
void hv_hash_update(struct hv_hash *h, const void *data, size_t size);
/* Lower-case hex into ret (41 bytes for sha1, 33 for md5); the hash may not be updated after. */
int hv_hash_final_hex(struct hv_hash *h, char *ret, size_t size);
/* Raw digest bytes (20 or 16) into ret; returns the length. */
int hv_hash_final_raw(struct hv_hash *h, unsigned char *ret, size_t size);
struct hv_hash *hv_hash_free(struct hv_hash *h);

static inline void
hv_hash_freep(struct hv_hash **h)
{
	*h = hv_hash_free(*h);
}
