/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "basic/cleanup.h"
#include "storage/storage-name.h"
#include "tests.h"

static void
good(const char *name, bool snap)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r = hv_dataset_name_check(name, snap, &e);

	if (r < 0)
		tests_fail(__FILE__, __LINE__, "'%s' refused: %s", name, e->msg);
}

static char *
bad(const char *name, bool snap)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;

	if (hv_dataset_name_check(name, snap, &e) >= 0)
		tests_fail(__FILE__, __LINE__, "'%s' accepted", name);
	return strdup(e->msg);
}

TEST(valid_names)
{
	good("zones", false);
	good("zones/54f1cc77-68f1-42ab-acac-5c4f64f5d6e0", false);
	good("zones/a/data", false);
	good("zones/a.b:c_d-e", false);
	good("zones/img@final", true);
	good("zones/a@vmsnap-2026%x", true);
}

TEST(invalid_names_say_why)
{
	_cleanup_free_ char *a = bad("zones/../etc", false), *b = bad("zones//a", false),
	                    *c = bad("zones/a@s", false), *d = bad("zones@s", true),
	                    *e = bad("zones/a@b@c", true), *f = bad("zones/a@b/c", true),
	                    *g = bad("zones/.x", false), *h = bad("zones/a b", false),
	                    *i = bad("", false), *j = bad("zones/a/", false);
	char longname[300];

	ASSERT_CONTAINS(a, "starts with '.'");
	ASSERT_CONTAINS(b, "empty component");
	ASSERT_CONTAINS(c, "is a snapshot name");
	ASSERT_CONTAINS(d, "root dataset has no snapshots");
	ASSERT_CONTAINS(e, "more than one '@'");
	ASSERT_CONTAINS(f, "'/' after the '@'");
	ASSERT_CONTAINS(g, "starts with '.'");
	ASSERT_CONTAINS(h, "character other than");
	ASSERT_CONTAINS(i, "empty");
	ASSERT_CONTAINS(j, "empty component");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	memcpy(longname, "zones/", 6);
	ASSERT_ERR(hv_dataset_name_check(longname, false, NULL), -ENAMETOOLONG);
}

TEST(name_helpers)
{
	_cleanup_free_ char *ds = NULL, *snap = NULL, *pool = NULL, *parent = NULL;

	ASSERT_OK(hv_name_split_snapshot("zones/a@s", &ds, &snap));
	ASSERT_STREQ(ds, "zones/a");
	ASSERT_STREQ(snap, "s");
	ASSERT_OK(hv_name_pool("zones/a/b@s", &pool));
	ASSERT_STREQ(pool, "zones");
	ASSERT_OK(hv_name_parent("zones/a/b", &parent));
	ASSERT_STREQ(parent, "zones/a");
	ASSERT_ERR(hv_name_parent("zones", &parent), -ENOENT);
	ASSERT_TRUE(hv_name_is_descendant("zones/a/b", "zones/a"));
	ASSERT_FALSE(hv_name_is_descendant("zones/ab", "zones/a"));
	ASSERT_FALSE(hv_name_is_descendant("zones/a", "zones/a"));
	ASSERT_TRUE(hv_pool_name_is_valid("zones"));
	ASSERT_FALSE(hv_pool_name_is_valid("Zones"));
	ASSERT_FALSE(hv_pool_name_is_valid("z-1"));
}
