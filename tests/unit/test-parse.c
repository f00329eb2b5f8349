/* SPDX-License-Identifier: MIT */
#include <limits.h>

#include "basic/parse.h"
#include "tests.h"

TEST(atou64)
{
	uint64_t v = 7;

	ASSERT_OK(safe_atou64("0", &v));
	ASSERT_UEQ(v, 0);
	ASSERT_OK(safe_atou64("18446744073709551615", &v));
	ASSERT_UEQ(v, UINT64_MAX);
	v = 7;
	ASSERT_ERR(safe_atou64("18446744073709551616", &v), -ERANGE);
	ASSERT_ERR(safe_atou64("-1", &v), -EINVAL);
	ASSERT_ERR(safe_atou64(" 1", &v), -EINVAL);
	ASSERT_ERR(safe_atou64("1 ", &v), -EINVAL);
	ASSERT_ERR(safe_atou64("", &v), -EINVAL);
	ASSERT_ERR(safe_atou64("+1", &v), -EINVAL);
	ASSERT_ERR(safe_atou64("0x10", &v), -EINVAL);
	ASSERT_ERR(safe_atou64(NULL, &v), -EINVAL);
	ASSERT_UEQ(v, 7); /* untouched on failure */
}

TEST(atoi_family)
{
	int64_t s;
	uint32_t u;
	int i;

	ASSERT_OK(safe_atoi64("-9223372036854775808", &s));
	ASSERT_EQ(s, INT64_MIN);
	ASSERT_ERR(safe_atoi64("-9223372036854775809", &s), -ERANGE);
	ASSERT_ERR(safe_atoi64("-", &s), -EINVAL);
	ASSERT_ERR(safe_atoi64("--1", &s), -EINVAL);
	ASSERT_OK(safe_atou32("4294967295", &u));
	ASSERT_UEQ(u, UINT32_MAX);
	ASSERT_ERR(safe_atou32("4294967296", &u), -ERANGE);
	ASSERT_OK(safe_atoi("-2147483648", &i));
	ASSERT_EQ(i, INT_MIN);
	ASSERT_ERR(safe_atoi("2147483648", &i), -ERANGE);
	ASSERT_ERR(safe_atoi("12abc", &i), -EINVAL);
}

TEST(sizes)
{
	uint64_t v;

	ASSERT_OK(parse_size("512", &v));
	ASSERT_UEQ(v, 512);
	ASSERT_OK(parse_size("20G", &v));
	ASSERT_UEQ(v, 20ull << 30);
	ASSERT_OK(parse_size("64MiB", &v));
	ASSERT_UEQ(v, 64ull << 20);
	ASSERT_OK(parse_size("8k", &v));
	ASSERT_UEQ(v, 8192);
	ASSERT_OK(parse_size("1.5T", &v));
	ASSERT_UEQ(v, 3ull << 39);
	ASSERT_OK(parse_size("10B", &v));
	ASSERT_UEQ(v, 10);
	ASSERT_OK(parse_size("15E", &v));
	ASSERT_UEQ(v, 15ull << 60);
	ASSERT_ERR(parse_size("16E", &v), -ERANGE);
	ASSERT_ERR(parse_size("99999999999999999999", &v), -ERANGE);
	ASSERT_ERR(parse_size("1.5", &v), -EINVAL);
	ASSERT_ERR(parse_size("1.G", &v), -EINVAL);
	ASSERT_ERR(parse_size("G", &v), -EINVAL);
	ASSERT_ERR(parse_size("-1G", &v), -EINVAL);
	ASSERT_ERR(parse_size("10X", &v), -EINVAL);
	ASSERT_ERR(parse_size("10GG", &v), -EINVAL);
	ASSERT_ERR(parse_size("", &v), -EINVAL);
}

TEST(booleans)
{
	bool b;

	ASSERT_OK(parse_boolean("true", &b));
	ASSERT_TRUE(b);
	ASSERT_OK(parse_boolean("OFF", &b));
	ASSERT_FALSE(b);
	ASSERT_ERR(parse_boolean("maybe", &b), -EINVAL);
	ASSERT_ERR(parse_boolean("", &b), -EINVAL);
}

TEST(macs)
{
	uint8_t b[6];
	char m[18];

	ASSERT_OK(parse_mac("02:AA:bb:0:c:D", b));
	ASSERT_EQ(b[1], 0xaa);
	ASSERT_EQ(b[5], 0x0d);
	ASSERT_OK(mac_normalize("02:AA:bb:0:c:D", m));
	ASSERT_STREQ(m, "02:aa:bb:00:0c:0d");
	ASSERT_OK(mac_normalize("0:c:29:A:b:c", m));
	ASSERT_STREQ(m, "00:0c:29:0a:0b:0c");
	ASSERT_ERR(mac_normalize("02:aa:bb:cc:dd", m), -EINVAL);
	ASSERT_ERR(mac_normalize("02:aa:bb:cc:dd:ee:ff", m), -EINVAL);
	ASSERT_ERR(mac_normalize("02:aa:bb:cc:dd:eee", m), -EINVAL);
	ASSERT_ERR(mac_normalize("000:c:29:a:b:c", m), -EINVAL);
	ASSERT_ERR(mac_normalize("02-aa-bb-cc-dd-ee", m), -EINVAL);
	ASSERT_ERR(mac_normalize("02:aa:bb:cc::ee", m), -EINVAL);
	ASSERT_ERR(mac_normalize("aggr0", m), -EINVAL);
	ASSERT_ERR(mac_normalize("", m), -EINVAL);
	ASSERT_ERR(mac_normalize(NULL, m), -EINVAL);
}

#include "basic/format.h"

TEST(format_bytes_like_zfs)
{
	char b[FORMAT_BYTES_MAX];

	ASSERT_STREQ(format_bytes(b, 0), "0B");
	ASSERT_STREQ(format_bytes(b, 1023), "1023B");
	ASSERT_STREQ(format_bytes(b, 1024), "1.00K");
	ASSERT_STREQ(format_bytes(b, 1536), "1.50K");
	ASSERT_STREQ(format_bytes(b, 15 * 1024 * 1024 + 100), "15.0M");
	ASSERT_STREQ(format_bytes(b, 150ull << 30), "150G");
	ASSERT_STREQ(format_bytes(b, 1023ull * 1024 + 1000), "1.00M");
	ASSERT_STREQ(format_bytes(b, 20ull << 30), "20.0G");
	ASSERT_STREQ(format_bytes(b, UINT64_MAX), "16.0E");
}
