/* SPDX-License-Identifier: MIT */
#include "basic/uuid.h"
#include "tests.h"

TEST(generate_v4)
{
	char a[UUID_STRING_LEN + 1], b[UUID_STRING_LEN + 1];

	ASSERT_OK(uuid_generate_v4(a));
	ASSERT_OK(uuid_generate_v4(b));
	ASSERT_TRUE(uuid_is_valid(a));
	ASSERT_EQ(a[14], '4');
	ASSERT_TRUE(strchr("89ab", a[19]) != NULL);
	ASSERT_TRUE(strcmp(a, b) != 0);
	for (const char *p = a; *p; p++)
		ASSERT_TRUE(*p == '-' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
}

TEST(validate)
{
	ASSERT_TRUE(uuid_is_valid("54f1cc77-68f1-42ab-acac-5c4f64f5d6e0"));
	ASSERT_TRUE(uuid_is_valid("54F1CC77-68F1-42AB-ACAC-5C4F64F5D6E0"));
	ASSERT_FALSE(uuid_is_valid(NULL));
	ASSERT_FALSE(uuid_is_valid(""));
	ASSERT_FALSE(uuid_is_valid("54f1cc77-68f1-42ab-acac-5c4f64f5d6e"));
	ASSERT_FALSE(uuid_is_valid("54f1cc77-68f1-42ab-acac-5c4f64f5d6e00"));
	ASSERT_FALSE(uuid_is_valid("54f1cc7768f1-42ab-acac-5c4f64f5d6e0-"));
	ASSERT_FALSE(uuid_is_valid("54f1cc77-68f1-42ab-acac-5c4f64f5d6eg"));
}

TEST(format)
{
	unsigned char b[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
	                       0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
	char s[UUID_STRING_LEN + 1];

	uuid_format(b, s);
	ASSERT_STREQ(s, "00112233-4455-6677-8899-aabbccddeeff");
}
