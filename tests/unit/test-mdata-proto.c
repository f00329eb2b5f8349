/* SPDX-License-Identifier: MIT */
/*
 * The metadata wire format: CRC-32 (zlib's), strict base64, V2 frames,
 * against the worked examples of smartos.md §5.4.
 */
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "mdata/proto.h"
#include "tests.h"

TEST(crc32_is_zlibs)
{
	ASSERT_UEQ(hv_mdata_crc32("", 0), 0);
	ASSERT_UEQ(hv_mdata_crc32("123456789", 9), 0xcbf43926u);
	ASSERT_UEQ(hv_mdata_crc32("0a1b2c3d GET c2RjOnV1aWQ=", 25), 0xc0eeb3c6u);
	ASSERT_UEQ(hv_mdata_crc32("dc4fae17 SUCCESS W10=", 21), 0x265ae1d8u);
}

static void
roundtrip(const char *plain, const char *b64)
{
	_cleanup_free_ char *enc = NULL, *dec = NULL;
	size_t n;

	ASSERT_OK(hv_mdata_base64_encode(plain, strlen(plain), &enc, &n));
	ASSERT_STREQ(enc, b64);
	ASSERT_UEQ(n, strlen(b64));
	ASSERT_OK(hv_mdata_base64_decode(b64, strlen(b64), &dec, &n));
	ASSERT_UEQ(n, strlen(plain));
	ASSERT_STREQ(dec, plain);
}

TEST(base64_rfc4648_vectors)
{
	roundtrip("", "");
	roundtrip("f", "Zg==");
	roundtrip("fo", "Zm8=");
	roundtrip("foo", "Zm9v");
	roundtrip("foob", "Zm9vYg==");
	roundtrip("fooba", "Zm9vYmE=");
	roundtrip("foobar", "Zm9vYmFy");
	roundtrip("sdc:uuid", "c2RjOnV1aWQ=");
	roundtrip("\xff\xfe?>", "//4/Pg==");
}

TEST(base64_binary_with_nuls)
{
	_cleanup_free_ char *enc = NULL, *dec = NULL;
	const char bin[] = {0, 1, 0, (char)0xff, 0};
	size_t n;

	ASSERT_OK(hv_mdata_base64_encode(bin, sizeof(bin), &enc, NULL));
	ASSERT_OK(hv_mdata_base64_decode(enc, strlen(enc), &dec, &n));
	ASSERT_UEQ(n, sizeof(bin));
	ASSERT_TRUE(memcmp(dec, bin, n) == 0);
}

TEST(base64_rejects_what_is_not_base64)
{
	static const char *const bad[] = {"Zg=",  "Zg",       "Z===",     "Zm9v=",    "=Zm9",
	                                  "Zg=a", "Zm9v Zm9", "Zm9v\nYg", "Zm9v_-==", "Zm=v"};
	char *out = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_ERR(hv_mdata_base64_decode(bad[i], strlen(bad[i]), &out, NULL), -EINVAL);
}

static const char *const good_frames[] = {
        "V2 25 c0eeb3c6 0a1b2c3d GET c2RjOnV1aWQ=",
        "V2 65 62451742 0a1b2c3d SUCCESS NGYwZDlhNmUtM2MxYi00YzhlLTlhNTctMmQ2ZjFiMGU3YzEx",
        "V2 17 d4f4ebcc 0a1b2c3d NOTFOUND",
        "V2 21 265ae1d8 dc4fae17 SUCCESS W10=",
        "V2 13 e8f9ea40 55667788 KEYS",
        "V2 61 9e539f16 55667788 SUCCESS cm9vdF9hdXRob3JpemVkX2tleXMKdXNlci1zY3JpcHQ=",
        "V2 37 360edcfc 11223344 PUT Wm05diBZbUZ5SUdKaGVnPT0=",
        "V2 21 8bf03bb3 11223344 SUCCESS T0s=",
        "V2 20 48ab290e 99aabbcc DELETE Zm9v",
        "V2 65 1947e461 99aabbcc FAILURE Q2Fubm90IHVwZGF0ZSB0aGUgInNkYyIgTmFtZXNwYWNlLg==",
};

TEST(frames_of_the_reference_parse_and_format_back)
{
	for (size_t i = 0; i < sizeof(good_frames) / sizeof(good_frames[0]); i++) {
		const char *l = good_frames[i];
		_cleanup_free_ char *payload = NULL, *again = NULL, *reqid = NULL, *code = NULL;
		struct hv_mdata_frame f;
		size_t n = 0;

		ASSERT_OK(hv_mdata_frame_parse(l, strlen(l), &f));
		reqid = strndup(f.reqid, f.reqid_len);
		code = strndup(f.code, f.code_len);
		if (f.payload)
			ASSERT_OK(hv_mdata_base64_decode(f.payload, f.payload_len, &payload, &n));
		ASSERT_OK(hv_mdata_frame_format(reqid, code, payload, n, &again, NULL));
		ASSERT_UEQ(strlen(again), strlen(l) + 1);
		ASSERT_TRUE(strncmp(again, l, strlen(l)) == 0 && again[strlen(l)] == '\n');
	}
}

TEST(frame_fields)
{
	const char *l = good_frames[0];
	struct hv_mdata_frame f;

	ASSERT_OK(hv_mdata_frame_parse(l, strlen(l), &f));
	ASSERT_TRUE(f.reqid_len == 8 && strncmp(f.reqid, "0a1b2c3d", 8) == 0);
	ASSERT_TRUE(f.code_len == 3 && strncmp(f.code, "GET", 3) == 0);
	ASSERT_TRUE(f.payload_len == 12 && strncmp(f.payload, "c2RjOnV1aWQ=", 12) == 0);
	l = good_frames[4];
	ASSERT_OK(hv_mdata_frame_parse(l, strlen(l), &f));
	ASSERT_TRUE(f.payload == NULL && f.payload_len == 0);
}

TEST(bad_frames_are_refused)
{
	static const char *const bad[] = {
	        "",
	        "V2",
	        "V2 ",
	        "v2 25 c0eeb3c6 0a1b2c3d GET c2RjOnV1aWQ=",
	        "V2 25 c0eeb3c7 0a1b2c3d GET c2RjOnV1aWQ=",   /* CRC */
	        "V2 24 c0eeb3c6 0a1b2c3d GET c2RjOnV1aWQ=",   /* length */
	        "V2 26 c0eeb3c6 0a1b2c3d GET c2RjOnV1aWQ=",   /* length */
	        "V2 25 C0EEB3C6 0a1b2c3d GET c2RjOnV1aWQ=",   /* upper-case CRC */
	        "V2 25  c0eeb3c6 0a1b2c3d GET c2RjOnV1aWQ=",  /* two spaces */
	        "V2 0 00000000 ",                             /* empty body */
	        "V2 99999999999 c0eeb3c6 0a1b2c3d GET x",     /* huge length */
	        "V2 -1 c0eeb3c6 0a1b2c3d GET c2RjOnV1aWQ=",   /* sign */
	        "V2 25 c0eeb3c6",                             /* no body */
	        "V2 25 c0eeb3c6 0a1b2c3d GET c2RjOnV1aWQ=\n", /* the newline is not the frame's */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hv_mdata_frame f;
		if (hv_mdata_frame_parse(bad[i], strlen(bad[i]), &f) != -EBADMSG)
			tests_fail(__FILE__, __LINE__, "accepted bad frame '%s'", bad[i]);
	}
}

/* A body that is well framed but whose request id or code is not: refused too. */
static void
framed(const char *body, int expect)
{
	_cleanup_free_ char *l = NULL;
	struct hv_mdata_frame f;

	ASSERT_TRUE(asprintf(&l, "V2 %zu %08x %s", strlen(body), hv_mdata_crc32(body, strlen(body)),
	                     body) > 0);
	ASSERT_ERR(hv_mdata_frame_parse(l, strlen(l), &f), expect);
}

TEST(request_ids_and_codes_are_checked)
{
	framed("0a1b2c3d GET", 0);
	framed("0A1B2C3D GET", -EBADMSG);
	framed("0123456789abcdef0 GET", -EBADMSG); /* 17 digits */
	framed("0123456789abcdef GET", 0);
	framed("0a1b2c3d get", -EBADMSG);
	framed("0a1b2c3d", -EBADMSG);
	framed("0a1b2c3d ", -EBADMSG);
	framed("0a1b2c3d GET ", 0); /* an empty payload */
	framed("0a1b2c3d GET  x", 0);
}
