/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "basic/cleanup.h"
#include "basic/config.h"
#include "basic/fileio.h"
#include "basic/root.h"
#include "tests.h"

static struct hv_config *
parse_ok(const char *text)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_config *c = NULL;
	int r;

	r = hv_config_parse(text, strlen(text), "config", &c, &e);
	if (r < 0)
		tests_fail(__FILE__, __LINE__, "parse failed: %s", hv_error_message(e, r));
	return c;
}

static char *
parse_err(const char *text)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_config *c = NULL;
	char *m;

	if (hv_config_parse(text, strlen(text), "config", &c, &e) >= 0) {
		hv_config_free(c);
		tests_fail(__FILE__, __LINE__, "parsed, expected an error: %s", text);
	}
	m = strdup(e->msg);
	return m;
}

TEST(smartos_config)
{
	_cleanup_hv_config_ struct hv_config *c =
	        parse_ok("#\n"
	                 "# This file was auto-generated and must be source-able by bash.\n"
	                 "#\n"
	                 "\n"
	                 "admin_nic=0:c:29:a:b:c\n"
	                 "admin_ip=dhcp\n"
	                 "  external_nic=00:0c:29:aa:bb:cc   # the uplink\n"
	                 "dns_resolvers=8.8.8.8,8.8.4.4\n"
	                 "root_shadow='$5$abc$def'\n"
	                 "hostname=\"node-1\"\n"
	                 "motd='it'\\''s'\"x\"\n"
	                 "empty=\n"
	                 "crlf=yes\r\n");

	ASSERT_EQ(c->n_entries, 9);
	ASSERT_STREQ(hv_config_get(c, "admin_nic"), "0:c:29:a:b:c");
	ASSERT_STREQ(hv_config_get(c, "external_nic"), "00:0c:29:aa:bb:cc");
	ASSERT_STREQ(hv_config_get(c, "root_shadow"), "$5$abc$def");
	ASSERT_STREQ(hv_config_get(c, "hostname"), "node-1");
	ASSERT_STREQ(hv_config_get(c, "motd"), "it'sx");
	ASSERT_STREQ(hv_config_get(c, "empty"), "");
	ASSERT_STREQ(hv_config_get(c, "crlf"), "yes");
	ASSERT_TRUE(hv_config_get(c, "missing") == NULL);
	ASSERT_EQ(c->entries[1].line, 6);
}

TEST(errors_name_the_line)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL, *f = NULL,
	                    *g = NULL, *h = NULL;

	a = parse_err("ok=1\nthis is broken\n");
	ASSERT_STREQ(a, "config:2: expected key=value, got 'this is broken'");
	b = parse_err("a=1\n\na=2\n");
	ASSERT_STREQ(b, "config:3: key 'a' is already set on line 1");
	c = parse_err("x='unterminated\n");
	ASSERT_CONTAINS(c, "config:1: unterminated single quote");
	d = parse_err("x=$(reboot)\n");
	ASSERT_CONTAINS(d, "config:1: value has a character a shell would interpret");
	e = parse_err("x=\"$HOME\"\n");
	ASSERT_CONTAINS(e, "would be expanded");
	f = parse_err("bad-key=1\n");
	ASSERT_CONTAINS(f, "config:1: expected key=value with a key of letters");
	g = parse_err("x=a b\n");
	ASSERT_CONTAINS(g, "unexpected text after the value");
	h = parse_err("x=~/foo\n");
	ASSERT_CONTAINS(h, "config:1:");
}

TEST(nul_byte_rejected)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_config *c = NULL;

	ASSERT_ERR(hv_config_parse("a=1\0b=2\n", 8, "config", &c, &e), -EINVAL);
	ASSERT_CONTAINS(e->msg, "NUL");
}

TEST(quote_round_trips)
{
	const char *values[] = {"plain", "",          "with space",       "it's", "$HOME", "~root",
	                        "a\"b",  "tab\there", "00:0c:29:aa:bb:cc"};

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		_cleanup_free_ char *q = hv_config_quote(values[i]), *line = NULL;
		_cleanup_hv_config_ struct hv_config *c = NULL;

		ASSERT_TRUE(asprintf(&line, "k=%s\n", q) > 0);
		c = parse_ok(line);
		ASSERT_STREQ(hv_config_get(c, "k"), values[i]);
	}
}

TEST(update_keeps_other_lines)
{
	_cleanup_free_ char *p = NULL, *text = NULL;
	_cleanup_hv_error_ struct hv_error *e = NULL;

	ASSERT_TRUE(asprintf(&p, "%s/usbkey/config", tests_tmpdir()) > 0);
	ASSERT_OK(hv_config_update(p, "a", "1", &e)); /* creates dir and file */
	ASSERT_OK(write_file_atomic(p, "# comment\na=1\nb='x y'\n", 22, 0644));
	ASSERT_OK(hv_config_update(p, "a", "two words", &e));
	ASSERT_OK(hv_config_update(p, "c", "3", &e));
	ASSERT_OK(hv_config_update(p, "b", NULL, &e));
	ASSERT_OK(read_full_file(p, 4096, &text, NULL));
	ASSERT_STREQ(text, "# comment\na='two words'\nc=3\n");

	ASSERT_ERR(hv_config_update(p, "bad key", "1", &e), -EINVAL);
	ASSERT_ERR(hv_config_update(p, "k", "line\nbreak", &e), -EINVAL);
}

TEST(update_refuses_a_broken_file)
{
	_cleanup_free_ char *p = NULL, *text = NULL;
	_cleanup_hv_error_ struct hv_error *e = NULL;

	ASSERT_TRUE(asprintf(&p, "%s/broken-config", tests_tmpdir()) > 0);
	ASSERT_OK(write_file_atomic(p, "a=1\noops\n", 9, 0644));
	ASSERT_ERR(hv_config_update(p, "b", "2", &e), -EINVAL);
	ASSERT_CONTAINS(e->msg, "broken-config:2:");
	ASSERT_OK(read_full_file(p, 4096, &text, NULL));
	ASSERT_STREQ(text, "a=1\noops\n");
}

TEST(node_prefix_generated_once)
{
	_cleanup_free_ char *root = NULL, *p1 = NULL, *p2 = NULL, *p3 = NULL;
	_cleanup_hv_error_ struct hv_error *e = NULL;

	ASSERT_TRUE(asprintf(&root, "%s/root", tests_tmpdir()) > 0);
	ASSERT_OK(setenv("SABLE_ROOT", root, 1));
	ASSERT_ERR(hv_node_prefix(false, &p1, &e), -ENOENT);
	ASSERT_OK(hv_node_prefix(true, &p1, &e));
	ASSERT_TRUE(hv_prefix_is_valid(p1));
	ASSERT_OK(hv_node_prefix(true, &p2, &e));
	ASSERT_STREQ(p1, p2);
	ASSERT_OK(hv_node_prefix(false, &p3, &e));
	ASSERT_STREQ(p1, p3);
	ASSERT_OK(unsetenv("SABLE_ROOT"));
}

TEST(node_prefix_invalid)
{
	_cleanup_free_ char *root = NULL, *cfg = NULL, *p = NULL;
	_cleanup_hv_error_ struct hv_error *e = NULL;

	ASSERT_TRUE(asprintf(&root, "%s/root2", tests_tmpdir()) > 0);
	ASSERT_TRUE(asprintf(&cfg, "%s/usbkey/config", root) > 0);
	ASSERT_OK(setenv("SABLE_ROOT", root, 1));
	ASSERT_OK(hv_config_update(cfg, HV_PREFIX_KEY, "Bad-Prefix", &e));
	ASSERT_ERR(hv_node_prefix(true, &p, &e), -EINVAL);
	ASSERT_CONTAINS(e->msg, "sable_prefix 'Bad-Prefix'");
	ASSERT_OK(unsetenv("SABLE_ROOT"));
	ASSERT_FALSE(hv_prefix_is_valid("a"));
	ASSERT_FALSE(hv_prefix_is_valid("1abc"));
	ASSERT_FALSE(hv_prefix_is_valid("abcdefghi"));
	ASSERT_TRUE(hv_prefix_is_valid("sb12ab"));
}
