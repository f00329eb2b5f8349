/* SPDX-License-Identifier: MIT */
#include "basic/strv.h"
#include "tests.h"

TEST(split_and_join)
{
	_cleanup_strv_free_ char **l = NULL;
	_cleanup_free_ char *j = NULL;

	ASSERT_OK(strv_split("a,,b", ',', &l));
	ASSERT_EQ(strv_length(l), 3);
	ASSERT_STREQ(l[1], "");
	j = strv_join(l, ":");
	ASSERT_STREQ(j, "a::b");
}

TEST(split_empty_string)
{
	_cleanup_strv_free_ char **l = NULL;

	ASSERT_OK(strv_split("", ',', &l));
	ASSERT_EQ(strv_length(l), 1);
	ASSERT_STREQ(l[0], "");
}

TEST(push_and_contains)
{
	_cleanup_strv_free_ char **l = NULL;
	_cleanup_free_ char *j = NULL;

	ASSERT_OK(strv_push(&l, "x"));
	ASSERT_OK(strv_push(&l, "y"));
	ASSERT_EQ(strv_contains(l, "y"), 1);
	ASSERT_EQ(strv_contains(l, "z"), 0);
	ASSERT_EQ(strv_contains(NULL, "z"), 0);
	j = strv_join(NULL, ",");
	ASSERT_STREQ(j, "");
}
