/* SPDX-License-Identifier: MIT */
#include "basic/cleanup.h"
#include "basic/path.h"
#include "basic/root.h"
#include "tests.h"

TEST(safe)
{
	ASSERT_TRUE(path_is_safe("a/b/c"));
	ASSERT_TRUE(path_is_safe("/a/./b"));
	ASSERT_TRUE(path_is_safe("..."));
	ASSERT_TRUE(path_is_safe("a..b"));
	ASSERT_FALSE(path_is_safe(".."));
	ASSERT_FALSE(path_is_safe("a/../b"));
	ASSERT_FALSE(path_is_safe("/a/.."));
	ASSERT_FALSE(path_is_safe("../a"));
	ASSERT_FALSE(path_is_safe("a//..//b"));
}

static void
check_simplify(const char *in, const char *out)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", in);
	ASSERT_STREQ(path_simplify(buf), out);
}

TEST(simplify)
{
	check_simplify("/", "/");
	check_simplify("//", "/");
	check_simplify("/a//b/./c/", "/a/b/c");
	check_simplify("a/./", "a");
	check_simplify("./", ".");
	check_simplify("", "");
	check_simplify(".", ".");
	check_simplify("/./.", "/");
}

TEST(join_beneath_refuses_escapes)
{
	_cleanup_free_ char *p = NULL, *q = NULL;

	ASSERT_OK(path_join_beneath("/zones/z1/root", "/etc/passwd", &p));
	ASSERT_STREQ(p, "/zones/z1/root/etc/passwd");
	ASSERT_OK(path_join_beneath("/", "usbkey/config", &q));
	ASSERT_STREQ(q, "/usbkey/config");
	ASSERT_ERR(path_join_beneath("/zones/z1/root", "/../../etc/shadow", &p), -EINVAL);
	ASSERT_ERR(path_join_beneath("/zones/z1/root", "a/..", &p), -EINVAL);
}

TEST(basename_dirname)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;

	ASSERT_OK(path_basename("/a/b/", &a));
	ASSERT_STREQ(a, "b");
	ASSERT_OK(path_dirname("/a/b", &b));
	ASSERT_STREQ(b, "/a");
	ASSERT_OK(path_dirname("/a", &c));
	ASSERT_STREQ(c, "/");
	ASSERT_OK(path_dirname("b", &d));
	ASSERT_STREQ(d, ".");
	ASSERT_OK(path_basename("/", &e));
	ASSERT_STREQ(e, "/");
	free(d);
	ASSERT_OK(path_dirname("", &d));
	ASSERT_STREQ(d, ".");
}

TEST(state_root)
{
	_cleanup_free_ char *r1 = NULL, *r2 = NULL, *p = NULL, *l = NULL;

	ASSERT_OK(unsetenv("SABLE_ROOT"));
	ASSERT_OK(hv_root(&r1));
	ASSERT_STREQ(r1, "/");
	ASSERT_OK(setenv("SABLE_ROOT", "/tmp/x//y/", 1));
	ASSERT_OK(hv_root(&r2));
	ASSERT_STREQ(r2, "/tmp/x/y");
	ASSERT_OK(hv_root_path(HV_CONFIG_FILE, &p));
	ASSERT_STREQ(p, "/tmp/x/y/usbkey/config");
	ASSERT_OK(hv_root_log_path("vmadm", &l));
	ASSERT_STREQ(l, "/tmp/x/y/var/log/sable/vmadm.log");
	ASSERT_OK(setenv("SABLE_ROOT", "relative", 1));
	ASSERT_ERR(hv_root(&r1), -EINVAL);
	ASSERT_OK(setenv("SABLE_ROOT", "/tmp/../etc", 1));
	ASSERT_ERR(hv_root(&r1), -EINVAL);
	ASSERT_OK(unsetenv("SABLE_ROOT"));
}
