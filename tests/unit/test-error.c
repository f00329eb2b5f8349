/* SPDX-License-Identifier: MIT */
#include "basic/error.h"
#include "tests.h"

TEST(set_returns_negative_code)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;

	ASSERT_ERR(hv_error_set(&e, ENOENT, "dataset '%s' missing", "a"), -ENOENT);
	ASSERT_EQ(e->code, -ENOENT);
	ASSERT_STREQ(e->msg, "dataset 'a' missing");
	ASSERT_TRUE(e->path == NULL);
}

TEST(percent_m_is_the_code)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;

	errno = 0;
	hv_error_set(&e, -EACCES, "open: %m");
	ASSERT_STREQ(e->msg, "open: Permission denied");
}

TEST(null_reterr_is_fine)
{
	ASSERT_ERR(hv_error_set(NULL, -EINVAL, "x"), -EINVAL);
	ASSERT_ERR(hv_error_prefix(NULL, -EINVAL, "x"), -EINVAL);
	ASSERT_ERR(hv_error_path_prefix(NULL, -EINVAL, "x"), -EINVAL);
	ASSERT_ERR(hv_error_set(NULL, 0, "x"), -EIO);
}

TEST(prefix_chains_context)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;

	hv_error_set(&e, -EEXIST, "snapshot 'a' exists");
	ASSERT_ERR(hv_error_prefix(&e, -EEXIST, "vm %s", "3f2c"), -EEXIST);
	ASSERT_STREQ(e->msg, "vm 3f2c: snapshot 'a' exists");
}

TEST(prefix_without_error_uses_strerror)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;

	hv_error_prefix(&e, -ENOSPC, "writing '%s'", "x");
	ASSERT_STREQ(e->msg, "writing 'x': No space left on device");
}

TEST(path_prefix_builds_payload_paths)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;

	hv_error_set_path(&e, -EINVAL, "0", "invalid IP address '%s'", "1.2.3");
	hv_error_path_prefix(&e, -EINVAL, "ips");
	hv_error_path_prefix(&e, -EINVAL, "1");
	hv_error_path_prefix(&e, -EINVAL, "nics");
	ASSERT_STREQ(e->path, "nics.1.ips.0");
	ASSERT_STREQ(hv_error_message(e, -EINVAL), "invalid IP address '1.2.3'");
}

TEST(set_replaces_previous)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;

	hv_error_set_path(&e, -EINVAL, "a", "first");
	hv_error_set(&e, -EIO, "second");
	ASSERT_STREQ(e->msg, "second");
	ASSERT_TRUE(e->path == NULL);
}

TEST(message_falls_back_to_strerror)
{
	ASSERT_STREQ(hv_error_message(NULL, -ENOENT), "No such file or directory");
}

TEST(messages_are_one_line)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;

	hv_error_set(&e, -EINVAL, "bad name '%s'", "a\nb\tc\x1b");
	ASSERT_STREQ(e->msg, "bad name 'a?b?c?'");
	hv_error_prefix(&e, -EINVAL, "ctx '%s'", "x\ny");
	ASSERT_STREQ(e->msg, "ctx 'x?y': bad name 'a?b?c?'");
}
