/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "json/json.h"
#include "tests.h"

static char *
load_err(const char *text)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_t *j = NULL;

	if (hv_json_load_buf(text, strlen(text), "payload", &j, &e) >= 0) {
		json_decref(j);
		tests_fail(__FILE__, __LINE__, "parsed, expected an error: %s", text);
	}
	return strdup(e->msg);
}

TEST(duplicate_keys_rejected)
{
	_cleanup_free_ char *m = load_err("{\n  \"ram\": 256,\n  \"ram\": 512\n}");

	ASSERT_CONTAINS(m, "payload:3:");
	ASSERT_CONTAINS(m, "duplicate object key");
}

TEST(errors_have_line_and_column)
{
	_cleanup_free_ char *a = load_err("{\"a\": 1,\n \"b\": tru}");
	_cleanup_free_ char *b = load_err("");
	_cleanup_free_ char *c = load_err("\"just a string\"");
	_cleanup_free_ char *d = load_err("{\"a\": \"\\ud800\"}");
	_cleanup_free_ char *e = load_err("{\"a\": 1} trailing");

	ASSERT_CONTAINS(a, "payload:2:");
	ASSERT_CONTAINS(b, "payload:");
	ASSERT_CONTAINS(c, "payload:1:");
	ASSERT_CONTAINS(d, "payload:1:");
	ASSERT_CONTAINS(e, "payload:1:");
}

TEST(deep_nesting_is_an_error_not_a_crash)
{
	size_t n = 100000;
	_cleanup_free_ char *s = malloc(n + 1), *m = NULL;

	memset(s, '[', n);
	s[n] = 0;
	m = load_err(s);
	ASSERT_CONTAINS(m, "payload:");
}

TEST(dump_is_sorted_and_indented)
{
	_cleanup_free_ char *s = NULL;
	json_t *j = NULL;

	ASSERT_OK(
	        hv_json_load_buf("{\"b\":[1,2],\"a\":{\"y\":true,\"x\":null}}", 35, "t", &j, NULL));
	s = hv_json_dumps(j);
	ASSERT_STREQ(s, "{\n"
	                "  \"a\": {\n"
	                "    \"x\": null,\n"
	                "    \"y\": true\n"
	                "  },\n"
	                "  \"b\": [\n"
	                "    1,\n"
	                "    2\n"
	                "  ]\n"
	                "}\n");
	json_decref(j);
}

TEST(typed_getters)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	const char *s;
	int64_t i;
	bool b;
	json_t *j = NULL;

	ASSERT_OK(hv_json_load_buf("{\"s\":\"x\",\"i\":-5,\"b\":false,\"n\":null}", 35, "t", &j,
	                           NULL));
	ASSERT_OK(hv_json_get_string(j, "s", &s, &e));
	ASSERT_STREQ(s, "x");
	ASSERT_OK(hv_json_get_int(j, "i", &i, &e));
	ASSERT_EQ(i, -5);
	ASSERT_OK(hv_json_get_bool(j, "b", &b, &e));
	ASSERT_FALSE(b);
	ASSERT_ERR(hv_json_get_string(j, "missing", &s, &e), -ENOENT);
	ASSERT_TRUE(e == NULL);
	ASSERT_ERR(hv_json_get_int(j, "s", &i, &e), -EINVAL);
	ASSERT_STREQ(e->msg, "'s': expected an integer, got string");
	ASSERT_STREQ(e->path, "s");
	ASSERT_ERR(hv_json_get_bool(j, "n", &b, &e), -EINVAL);
	ASSERT_ERR(hv_json_get_string(j, "b", &s, &e), -EINVAL);
	json_decref(j);
}

TEST(sanitized_strings)
{
	json_t *a = hv_json_string_sanitized("caf\xc3\xa9");
	json_t *b = hv_json_string_sanitized("bad\xff\xc3(\xed\xa0\x80z");

	ASSERT_STREQ(json_string_value(a), "caf\xc3\xa9");
	ASSERT_STREQ(json_string_value(b), "bad?"
	                                   "?(???z");
	json_decref(a);
	json_decref(b);
}

TEST(load_file_limits)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *p = NULL;
	json_t *j = NULL;

	ASSERT_TRUE(asprintf(&p, "%s/payload.json", tests_tmpdir()) > 0);
	ASSERT_OK(write_file_atomic(p, "{\"a\": 1}", 8, 0600));
	ASSERT_OK(hv_json_load_file(p, 100, &j, &e));
	json_decref(j);
	ASSERT_ERR(hv_json_load_file(p, 4, &j, &e), -EFBIG);
	ASSERT_CONTAINS(e->msg, "larger than 4 bytes");
	ASSERT_ERR(hv_json_load_file("/nonexistent.json", 100, &j, &e), -ENOENT);
	ASSERT_STREQ(e->msg, "cannot read '/nonexistent.json': No such file or directory");
}
