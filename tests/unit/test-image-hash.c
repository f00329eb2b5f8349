/* SPDX-License-Identifier: MIT */
/* Image file digests: the published sha1 and md5 test vectors, whole and in chunks. */
#include <stdlib.h>

#include "basic/cleanup.h"
#include "image/hash.h"
#include "tests.h"

static void
hex_of(enum hv_hash_kind kind, const void *data, size_t size, char *ret, size_t ret_size)
{
	_cleanup_(hv_hash_freep) struct hv_hash *h = NULL;

	ASSERT_OK(hv_hash_new(kind, &h));
	hv_hash_update(h, data, size);
	ASSERT_OK(hv_hash_final_hex(h, ret, ret_size));
}

/* A million 'a's, fed in uneven chunks (1, 2, ... bytes) so chunk edges fall everywhere. */
static void
million_a(enum hv_hash_kind kind, char *ret, size_t ret_size)
{
	_cleanup_(hv_hash_freep) struct hv_hash *h = NULL;
	char chunk[1000];
	size_t done = 0, n = 1;

	memset(chunk, 'a', sizeof(chunk));
	ASSERT_OK(hv_hash_new(kind, &h));
	while (done < 1000000) {
		size_t k = n < 1000000 - done ? n : 1000000 - done;
		hv_hash_update(h, chunk, k);
		done += k;
		n = n % sizeof(chunk) + 1;
	}
	ASSERT_OK(hv_hash_final_hex(h, ret, ret_size));
}

TEST(sha1_vectors)
{
	static const char two_blocks[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char hex[41];

	hex_of(HV_HASH_SHA1, "", 0, hex, sizeof(hex));
	ASSERT_STREQ(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	hex_of(HV_HASH_SHA1, "abc", 3, hex, sizeof(hex));
	ASSERT_STREQ(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
	hex_of(HV_HASH_SHA1, two_blocks, strlen(two_blocks), hex, sizeof(hex));
	ASSERT_STREQ(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	million_a(HV_HASH_SHA1, hex, sizeof(hex));
	ASSERT_STREQ(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(md5_vectors)
{
	char hex[33];

	hex_of(HV_HASH_MD5, "", 0, hex, sizeof(hex));
	ASSERT_STREQ(hex, "d41d8cd98f00b204e9800998ecf8427e");
	hex_of(HV_HASH_MD5, "abc", 3, hex, sizeof(hex));
	ASSERT_STREQ(hex, "900150983cd24fb0d6963f7d28e17f72");
	hex_of(HV_HASH_MD5, "message digest", 14, hex, sizeof(hex));
	ASSERT_STREQ(hex, "f96b697d7cb7938d525a2f31aaf161d0");
	million_a(HV_HASH_MD5, hex, sizeof(hex));
	ASSERT_STREQ(hex, "7707d6ae4e027c70eea2a935c2296f21");
}

TEST(streaming_equals_one_shot)
{
	_cleanup_(hv_hash_freep) struct hv_hash *h = NULL;
	char whole[41], parts[41];

	hex_of(HV_HASH_SHA1, "The quick brown fox", 19, whole, sizeof(whole));
	ASSERT_OK(hv_hash_new(HV_HASH_SHA1, &h));
	hv_hash_update(h, "The ", 4);
	hv_hash_update(h, NULL, 0);
	hv_hash_update(h, "quick brown", 11);
	hv_hash_update(h, " fox", 4);
	ASSERT_OK(hv_hash_final_hex(h, parts, sizeof(parts)));
	ASSERT_STREQ(whole, parts);
}

TEST(raw_digest)
{
	static const unsigned char abc_md5[16] = {0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2, 0x4f, 0xb0,
	                                          0xd6, 0x96, 0x3f, 0x7d, 0x28, 0xe1, 0x7f, 0x72};
	_cleanup_(hv_hash_freep) struct hv_hash *h = NULL, *s = NULL;
	unsigned char raw[20];

	ASSERT_OK(hv_hash_new(HV_HASH_MD5, &h));
	hv_hash_update(h, "abc", 3);
	ASSERT_EQ(hv_hash_final_raw(h, raw, sizeof(raw)), 16);
	ASSERT_TRUE(memcmp(raw, abc_md5, 16) == 0);

	ASSERT_OK(hv_hash_new(HV_HASH_SHA1, &s));
	hv_hash_update(s, "abc", 3);
	ASSERT_EQ(hv_hash_final_raw(s, raw, sizeof(raw)), 20);
	ASSERT_EQ(raw[0], 0xa9);
	ASSERT_EQ(raw[19], 0x9d);
}

TEST(small_buffers_and_second_final)
{
	_cleanup_(hv_hash_freep) struct hv_hash *h = NULL;
	unsigned char raw[20];
	char hex[41];

	ASSERT_OK(hv_hash_new(HV_HASH_SHA1, &h));
	hv_hash_update(h, "abc", 3);
	/* Too small leaves the hash as it was: the caller can try again. */
	ASSERT_ERR(hv_hash_final_hex(h, hex, 40), -ENOBUFS);
	ASSERT_ERR(hv_hash_final_raw(h, raw, 19), -ENOBUFS);
	ASSERT_OK(hv_hash_final_hex(h, hex, sizeof(hex)));
	ASSERT_STREQ(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
	/* Finished is finished: no second digest, no updates. */
	ASSERT_ERR(hv_hash_final_hex(h, hex, sizeof(hex)), -ESTALE);
	hv_hash_update(h, "more", 4);
	ASSERT_ERR(hv_hash_final_raw(h, raw, sizeof(raw)), -ESTALE);
}

TEST(bad_arguments)
{
	struct hv_hash *h = NULL;
	char hex[41];

	ASSERT_ERR(hv_hash_new((enum hv_hash_kind)42, &h), -EINVAL);
	ASSERT_TRUE(h == NULL);
	ASSERT_ERR(hv_hash_final_hex(NULL, hex, sizeof(hex)), -EINVAL);
	hv_hash_update(NULL, "x", 1);
	ASSERT_TRUE(hv_hash_free(NULL) == NULL);
}
