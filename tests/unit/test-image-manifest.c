/* SPDX-License-Identifier: MIT */
/*
 * Image manifests: the golden corpus in tests/golden/manifest (see its
 * README: NAME.json and NAME.expect, the first error line and its path,
 * or "OK" and what was parsed), one TAP test per manifest, then the API
 * itself: references, normalisation, bounds, enums and brands.
 * SABLE_GOLDEN_UPDATE=1 rewrites the .expect files from what the code
 * says; read the diff before committing it.
 */
#include <stdlib.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/strv.h"
#include "image/manifest.h"
#include "json/json.h"
#include "golden.h"
#include "tests.h"

#ifndef GOLDEN_DIR
#error "GOLDEN_DIR must name tests/golden/manifest"
#endif

static const char *
or_dash(const char *s)
{
	return s ? s : "-";
}

/* What a parsed manifest says, one "field: value" a line. */
static char *
summary(const struct hv_image_manifest *m)
{
	_cleanup_free_ char *file = NULL;
	char *out = NULL;

	if (!m->has_file)
		file = strdup("none");
	else if (asprintf(&file, "%s %" PRIu64 " %s%s%s", m->file.sha1, m->file.size,
	                  hv_image_compression_to_string(m->file.compression),
	                  m->file.dataset_guid ? " guid=" : "", strempty(m->file.dataset_guid)) < 0)
		file = NULL;
	if (!file)
		return NULL;
	if (asprintf(&out,
	             "OK\nuuid: %s\nowner: %s\nname: %s\nversion: %s\ndescription: %s\n"
	             "type: %s\nos: %s\nstate: %s\ndisabled: %s\npublic: %s\npublished_at: %s\n"
	             "origin: %s\nfile: %s\nrequirements.brand: %s\ntags.kernel_version: %s\n"
	             "image_size: %" PRIu64 "\n",
	             m->uuid, m->owner, m->name, m->version, or_dash(m->description),
	             hv_image_type_to_string(m->type), m->os, m->state,
	             m->disabled ? "true" : "false", m->public_ ? "true" : "false",
	             or_dash(m->published_at), or_dash(m->origin), file,
	             or_dash(m->requirements_brand), or_dash(m->kernel_version), m->image_size) < 0)
		return NULL;
	return out;
}

/* What the .expect file should say about this text. */
static char *
outcome(const char *file, const char *text, size_t size)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_image_manifest m = {0};
	char *out = NULL;
	int r;

	r = hv_image_manifest_load(text, size, file, &m, &e);
	if (r >= 0) {
		out = summary(&m);
		hv_image_manifest_done(&m);
		return out;
	}
	ASSERT_ERR(r, -EINVAL);
	ASSERT_TRUE(e != NULL);
	ASSERT_TRUE(!strchr(e->msg, '\n'));
	if (asprintf(&out, "%s\npath: %s\n", e->msg, or_dash(e->path)) < 0)
		return NULL;
	return out;
}

/* The corpus: one TAP test per payload, registered before main() runs. */
static size_t n_cases;

__attribute__((constructor)) static void
register_golden(void)
{
	n_cases = golden_register(GOLDEN_DIR, 2 * HV_IMAGE_MANIFEST_SIZE_MAX, outcome);
}

TEST(golden_corpus_is_there)
{
	ASSERT_TRUE(n_cases >= 40);
}

/* ---- The API ---- */

static const char base[] =
        "{\"v\":2,\"uuid\":\"2f5c7e4a-1b3d-4e6f-8a9b-0c1d2e3f4a5b\","
        "\"owner\":\"00000000-0000-0000-0000-000000000000\",\"name\":\"base\","
        "\"version\":\"1.0.0\",\"type\":\"lx-dataset\",\"os\":\"linux\",\"state\":\"active\","
        "\"disabled\":false,\"public\":true,\"published_at\":\"2024-01-31T12:00:00Z\","
        "\"files\":[{\"sha1\":\"A9993E364706816ABA3E25717850C26C9CD0D89D\",\"size\":3,"
        "\"compression\":\"none\"}],\"x-server-field\":{\"kept\":true}}";

static json_t *
base_json(void)
{
	json_t *j = NULL;

	ASSERT_OK(hv_json_load_buf(base, strlen(base), "base", &j, NULL));
	return j;
}

/* Parse j after setting key to value (a JSON text); returns the code, the error in *e. */
static int
parse_with(const char *key, const char *value, struct hv_error **e)
{
	struct hv_image_manifest m = {0};
	json_t *j = base_json(), *v = NULL;
	int r;

	if (value) {
		v = json_loads(value, JSON_DECODE_ANY, NULL); /* scalars too */
		ASSERT_TRUE(v != NULL);
		ASSERT_OK(hv_json_set(j, key, v));
	} else
		ASSERT_OK(json_object_del(j, key));
	r = hv_image_manifest_parse(j, &m, e);
	hv_image_manifest_done(&m);
	json_decref(j);
	return r;
}

TEST(manifest_holds_its_json)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_image_manifest m = {0};
	json_t *j = base_json();

	ASSERT_OK(hv_image_manifest_parse(j, &m, &e));
	json_decref(j); /* the manifest's reference keeps the strings alive */
	ASSERT_STREQ(m.name, "base");
	ASSERT_STREQ(m.uuid, "2f5c7e4a-1b3d-4e6f-8a9b-0c1d2e3f4a5b");
	ASSERT_TRUE(json_object_get(m.json, "x-server-field") != NULL);        /* unknown: kept */
	ASSERT_STREQ(m.file.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"); /* lower case */
	ASSERT_UEQ(m.file.size, 3);
	ASSERT_EQ(m.file.compression, HV_IMAGE_COMPRESSION_NONE);
	ASSERT_TRUE(m.file.dataset_guid == NULL && m.origin == NULL && m.kernel_version == NULL);
	hv_image_manifest_done(&m);
	ASSERT_TRUE(m.json == NULL && m.name == NULL);
	hv_image_manifest_done(&m); /* twice is fine */
	hv_image_manifest_done(NULL);
}

TEST(failure_leaves_ret_alone)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_image_manifest m = {.name = "untouched"};
	json_t *j = json_array();

	ASSERT_ERR(hv_image_manifest_parse(j, &m, &e), -EINVAL);
	ASSERT_STREQ(e->msg, "manifest: expected an object, got an array of 0");
	ASSERT_TRUE(e->path == NULL);
	ASSERT_STREQ(m.name, "untouched");
	ASSERT_EQ(json_object_size(j), 0);
	json_decref(j);
	ASSERT_ERR(hv_image_manifest_parse(NULL, &m, NULL), -EINVAL);
	ASSERT_ERR(hv_image_manifest_parse(NULL, NULL, NULL), -EINVAL);
}

TEST(errors_name_their_path)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;

	ASSERT_ERR(
	        parse_with("files", "[{\"sha1\":\"abc\",\"size\":1,\"compression\":\"xz\"}]", &e),
	        -EINVAL);
	ASSERT_STREQ(e->msg, "files.0.sha1: expected 40 hexadecimal digits, got 'abc'");
	ASSERT_STREQ(e->path, "files.0.sha1");
	ASSERT_ERR(parse_with("requirements", "{\"min_ram\":-1}", &e), -EINVAL);
	ASSERT_STREQ(e->msg, "requirements.min_ram: expected a positive integer, got -1");
	ASSERT_STREQ(e->path, "requirements.min_ram");
	ASSERT_ERR(parse_with("requirements", "{\"networks\":[{\"name\":\"net0\"}]}", &e), -EINVAL);
	ASSERT_STREQ(e->msg, "requirements.networks.0.description: missing (required)");
	ASSERT_ERR(parse_with("users", "[{\"name\":\"root\"},{\"name\":1}]", &e), -EINVAL);
	ASSERT_STREQ(e->path, "users.1.name");
	ASSERT_ERR(parse_with("v", NULL, &e), -EINVAL);
	ASSERT_STREQ(e->msg, "v: version 1 manifests (no \"v\") are not supported: re-create "
	                     "the image");
	/* No error wanted is fine too. */
	ASSERT_ERR(parse_with("name", "7", NULL), -EINVAL);
}

TEST(user_strings_are_cut_and_cleaned)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *long_name = malloc(2000), *value = NULL;

	ASSERT_TRUE(long_name != NULL);
	memset(long_name, 'x', 1999);
	long_name[1999] = 0;
	ASSERT_TRUE(asprintf(&value, "\"%s\"", long_name) > 0);
	ASSERT_ERR(parse_with("name", value, &e), -EINVAL);
	ASSERT_STREQ(e->msg, "name: expected at most 512 characters, got 1999");
	ASSERT_ERR(parse_with("os", value, &e), -EINVAL);
	ASSERT_TRUE(strlen(e->msg) < 200);
	ASSERT_CONTAINS(e->msg, "xxx...'");

	ASSERT_ERR(parse_with("version", "\"1.0\\n2\"", &e), -EINVAL);
	ASSERT_STREQ(e->msg, "version: expected a string without control characters, got '1.0?2'");
	/* lib/json refuses \u0000, but a caller's own JSON may carry one. */
	{
		struct hv_image_manifest m = {0};
		json_t *j = base_json();
		ASSERT_OK(hv_json_set(j, "name", json_stringn("a\0b", 3)));
		ASSERT_ERR(hv_image_manifest_parse(j, &m, &e), -EINVAL);
		json_decref(j);
		ASSERT_STREQ(e->msg, "name: expected a string without NUL characters");
	}
	ASSERT_ERR(parse_with("tags", "{\"a\\nb\":[]}", &e), -EINVAL);
	ASSERT_STREQ(e->path, "tags.a?b");
	/* Characters, not bytes: 512 two-byte characters are a valid name. */
	{
		_cleanup_free_ char *wide = calloc(1, 2 * 512 + 3);
		ASSERT_TRUE(wide != NULL);
		wide[0] = '"';
		for (size_t i = 0; i < 512; i++)
			memcpy(wide + 1 + 2 * i, "\xc3\xa9", 2);
		wide[1 + 2 * 512] = '"';
		ASSERT_OK(parse_with("name", wide, NULL));
	}
}

static char *
array_of(size_t n, const char *item)
{
	size_t len = strlen(item) + 1;
	char *s = malloc(n * len + 3), *p = s;

	ASSERT_TRUE(s != NULL);
	*p++ = '[';
	for (size_t i = 0; i < n; i++) {
		memcpy(p, item, len - 1);
		p += len - 1;
		*p++ = i + 1 < n ? ',' : ']';
	}
	if (n == 0)
		*p++ = ']';
	*p = 0;
	return s;
}

TEST(arrays_and_objects_are_bounded)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *acl_ok = array_of(1024, "\"2f5c7e4a-1b3d-4e6f-8a9b-0c1d2e3f4a5b\""),
	                    *acl_big = array_of(1025, "\"2f5c7e4a-1b3d-4e6f-8a9b-0c1d2e3f4a5b\""),
	                    *tags = NULL;
	json_t *t = json_object();

	ASSERT_OK(parse_with("acl", acl_ok, &e));
	ASSERT_ERR(parse_with("acl", acl_big, &e), -EINVAL);
	ASSERT_STREQ(e->msg, "acl: expected at most 1024 entries, got 1025");
	for (int i = 0; i < 257; i++) {
		char k[16];
		snprintf(k, sizeof(k), "t%d", i);
		ASSERT_OK(hv_json_set(t, k, json_integer(i)));
	}
	tags = json_dumps(t, JSON_COMPACT);
	ASSERT_ERR(parse_with("tags", tags, &e), -EINVAL);
	ASSERT_STREQ(e->msg, "tags: expected at most 256 members, got 257");
	json_decref(t);
}

TEST(load_bounds_and_names_its_source)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *big = malloc(HV_IMAGE_MANIFEST_SIZE_MAX + 1);
	struct hv_image_manifest m = {0};

	ASSERT_TRUE(big != NULL);
	memset(big, ' ', HV_IMAGE_MANIFEST_SIZE_MAX + 1);
	ASSERT_ERR(hv_image_manifest_load(big, HV_IMAGE_MANIFEST_SIZE_MAX + 1, "big.json", &m, &e),
	           -EFBIG);
	ASSERT_CONTAINS(e->msg, "big.json: larger than");
	ASSERT_ERR(hv_image_manifest_load("{\"v\":", 5, "cut.json", &m, &e), -EINVAL);
	ASSERT_CONTAINS(e->msg, "cut.json:1:");
	ASSERT_OK(hv_image_manifest_load(base, strlen(base), NULL, &m, &e));
	ASSERT_STREQ(m.version, "1.0.0");
	hv_image_manifest_done(&m);
}

TEST(types_and_compressions)
{
	for (int i = 0; i < _HV_IMAGE_TYPE_MAX; i++)
		ASSERT_EQ(hv_image_type_from_string(hv_image_type_to_string(i)), i);
	for (int i = 0; i < _HV_IMAGE_COMPRESSION_MAX; i++)
		ASSERT_EQ(hv_image_compression_from_string(hv_image_compression_to_string(i)), i);
	ASSERT_STREQ(hv_image_type_to_string(HV_IMAGE_LX_DATASET), "lx-dataset");
	ASSERT_STREQ(hv_image_compression_to_string(HV_IMAGE_COMPRESSION_ZSTD), "zstd");
	ASSERT_TRUE(hv_image_type_to_string(_HV_IMAGE_TYPE_MAX) == NULL);
	ASSERT_TRUE(hv_image_type_to_string(_HV_IMAGE_TYPE_INVALID) == NULL);
	ASSERT_TRUE(hv_image_compression_to_string(_HV_IMAGE_COMPRESSION_MAX) == NULL);
	ASSERT_EQ(hv_image_type_from_string("vm"), _HV_IMAGE_TYPE_INVALID);
	ASSERT_EQ(hv_image_type_from_string(NULL), _HV_IMAGE_TYPE_INVALID);
	ASSERT_EQ(hv_image_compression_from_string("lz4"), _HV_IMAGE_COMPRESSION_INVALID);
	ASSERT_EQ(hv_image_compression_from_string("GZIP"), _HV_IMAGE_COMPRESSION_INVALID);
}

TEST(types_fit_brands)
{
	ASSERT_TRUE(hv_image_type_fits_brand(HV_IMAGE_LX_DATASET, "lx"));
	ASSERT_TRUE(hv_image_type_fits_brand(HV_IMAGE_DOCKER, "lx"));
	ASSERT_FALSE(hv_image_type_fits_brand(HV_IMAGE_ZONE_DATASET, "lx"));
	ASSERT_TRUE(hv_image_type_fits_brand(HV_IMAGE_ZONE_DATASET, "joyent"));
	ASSERT_TRUE(hv_image_type_fits_brand(HV_IMAGE_ZONE_DATASET, "joyent-minimal"));
	ASSERT_FALSE(hv_image_type_fits_brand(HV_IMAGE_LX_DATASET, "joyent"));
	ASSERT_TRUE(hv_image_type_fits_brand(HV_IMAGE_ZVOL, "kvm"));
	ASSERT_TRUE(hv_image_type_fits_brand(HV_IMAGE_ZVOL, "bhyve"));
	ASSERT_FALSE(hv_image_type_fits_brand(HV_IMAGE_LX_DATASET, "bhyve"));
	ASSERT_FALSE(hv_image_type_fits_brand(HV_IMAGE_LXD, "lx"));
	ASSERT_FALSE(hv_image_type_fits_brand(HV_IMAGE_OTHER, "kvm"));
	ASSERT_FALSE(hv_image_type_fits_brand(HV_IMAGE_ZVOL, "LX"));
	ASSERT_FALSE(hv_image_type_fits_brand(HV_IMAGE_ZVOL, NULL));
	ASSERT_FALSE(hv_image_type_fits_brand(_HV_IMAGE_TYPE_INVALID, "kvm"));
}

TEST(dates)
{
	static const char *const good[] = {
	        "\"2024-02-29T00:00:00Z\"", "\"2000-02-29T23:59:59.999Z\"",
	        "\"2013-01-02T03:04:05.123456Z\"", "\"1999-12-31T00:00:00.1Z\""};
	static const char *const bad[] = {"\"2023-02-29T00:00:00Z\"",
	                                  "\"1900-02-29T00:00:00Z\"",
	                                  "\"2024-04-31T00:00:00Z\"",
	                                  "\"2024-00-10T00:00:00Z\"",
	                                  "\"2024-01-01T24:00:00Z\"",
	                                  "\"2024-01-01T00:60:00Z\"",
	                                  "\"2024-01-01T00:00:00\"",
	                                  "\"2024-01-01T00:00:00+01:00\"",
	                                  "\"2024-01-01 00:00:00Z\"",
	                                  "\"2024-01-01T00:00:00.Z\"",
	                                  "\"2024-01-01T00:00:00.1234567890Z\"",
	                                  "\"2024-01-01\"",
	                                  "\"\"",
	                                  "1706702400"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (parse_with("published_at", good[i], NULL) < 0)
			tests_fail(__FILE__, __LINE__, "refused %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_with("published_at", bad[i], NULL) != -EINVAL)
			tests_fail(__FILE__, __LINE__, "accepted %s", bad[i]);
}
