/* SPDX-License-Identifier: MIT */
/*
 * Streaming digests of image files on libcrypto's EVP interface: sha1 as
 * manifests carry it (files[0].sha1), md5 as IMGAPI's Content-MD5 header
 * does. A hash is fed any number of chunks and finished once; after that
 * it only accepts hv_hash_free(). hv_hash_update() cannot report a
 * failure, so one is remembered and returned by the final call: a digest
 * is never computed over bytes that were silently left out.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>

#include "basic/macro.h"
#include "image/hash.h"

struct hv_hash {
	EVP_MD_CTX *ctx;
	enum hv_hash_kind kind;
	bool finished;
	int error; /* the first failed update, or 0 */
};

static const EVP_MD *
hash_md(enum hv_hash_kind kind)
{
	switch (kind) {
	case HV_HASH_SHA1:
		return EVP_sha1();
	case HV_HASH_MD5:
		return EVP_md5();
	}
	return NULL;
}

int
hv_hash_new(enum hv_hash_kind kind, struct hv_hash **ret)
{
	const EVP_MD *md = hash_md(kind);
	struct hv_hash *h;

	if (!md)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->kind = kind;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx) {
		free(h);
		return -ENOMEM;
	}
	/* Fails where the algorithm is not available, such as md5 in FIPS mode. */
	if (EVP_DigestInit_ex(h->ctx, md, NULL) != 1) {
		hv_hash_free(h);
		return -EOPNOTSUPP;
	}
	*ret = h;
	return 0;
}

void
hv_hash_update(struct hv_hash *h, const void *data, size_t size)
{
	if (!h || size == 0)
		return;
	if (h->finished) {
		h->error = -ESTALE;
		return;
	}
	if (h->error == 0 && EVP_DigestUpdate(h->ctx, data, size) != 1)
		h->error = -EIO;
}

/* Finish h into buf (at least EVP_MAX_MD_SIZE bytes); returns the digest's length. */
static int
hash_finish(struct hv_hash *h, unsigned char *buf)
{
	unsigned len = 0;

	if (!h)
		return -EINVAL;
	if (h->finished)
		return -ESTALE;
	h->finished = true;
	if (h->error < 0)
		return h->error;
	if (EVP_DigestFinal_ex(h->ctx, buf, &len) != 1)
		return -EIO;
	return (int)len;
}

static int
hash_length(const struct hv_hash *h)
{
	const EVP_MD *md = h ? hash_md(h->kind) : NULL;

	return md ? EVP_MD_get_size(md) : -EINVAL;
}

int
hv_hash_final_hex(struct hv_hash *h, char *ret, size_t size)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char buf[EVP_MAX_MD_SIZE];
	int n = hash_length(h);

	if (n < 0)
		return n;
	if (!ret || size < (size_t)n * 2 + 1)
		return -ENOBUFS;
	n = hash_finish(h, buf);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		ret[2 * i] = digits[buf[i] >> 4];
		ret[2 * i + 1] = digits[buf[i] & 0xf];
	}
	ret[2 * n] = 0;
	return 0;
}

int
hv_hash_final_raw(struct hv_hash *h, unsigned char *ret, size_t size)
{
	unsigned char buf[EVP_MAX_MD_SIZE];
	int n = hash_length(h);

	if (n < 0)
		return n;
	if (!ret || size < (size_t)n)
		return -ENOBUFS;
	n = hash_finish(h, buf);
	if (n < 0)
		return n;
	memcpy(ret, buf, (size_t)n);
	return n;
}

struct hv_hash *
hv_hash_free(struct hv_hash *h)
{
	if (!h)
		return NULL;
	EVP_MD_CTX_free(h->ctx);
	free(h);
	return NULL;
}
