/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "json/json.h"
#include "tests.h"

/* Run fn with stderr going to a file; return what it printed. */
static char *
capture_stderr(void (*fn)(void))
{
	_cleanup_free_ char *p = NULL;
	char *buf = NULL;
	int saved, fd;

	if (asprintf(&p, "%s/stderr", tests_tmpdir()) < 0)
		abort();
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	saved = dup(2);
	fflush(stderr);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	if (read_full_file(p, 1 << 20, &buf, NULL) < 0)
		abort();
	return buf;
}

static void
log_some(void)
{
	log_set_max_level(LOG_INFO);
	log_info("Successfully created VM %s", "x");
	log_error("bad '%s'", "payload");
	log_debug("not shown");
	(void)log_error_errno(-ENOENT, "open 'y': %m");
}

TEST(stderr_format)
{
	_cleanup_free_ char *out = NULL;

	log_open("tool", NULL);
	out = capture_stderr(log_some);
	ASSERT_STREQ(out, "Successfully created VM x\n"
	                  "tool: bad 'payload'\n"
	                  "tool: open 'y': No such file or directory\n");
	log_close();
}

TEST(error_returns_negative_errno)
{
	log_open("tool", NULL);
	log_set_max_level(LOG_EMERG - 1);
	ASSERT_ERR(log_error_errno(EEXIST, "x"), -EEXIST);
	ASSERT_ERR(log_error_errno(-EEXIST, "x"), -EEXIST);
	ASSERT_EQ(log_info("x"), 0);
	log_set_max_level(LOG_INFO);
	log_close();
}

TEST(json_lines_file)
{
	_cleanup_free_ char *p = NULL, *text = NULL;
	json_t *rec;
	char *line, *save = NULL;
	int n = 0;

	ASSERT_TRUE(asprintf(&p, "%s/logs/sub/tool.log", tests_tmpdir()) > 0);
	log_open("tool", p);
	log_set_max_level(LOG_EMERG - 1); /* keep stderr quiet */
	log_info("quote \" backslash \\ newline \n tab \t ctrl \x01 done");
	(void)log_error_errno(ENOSPC, "disk full");
	log_debug("below the file level");
	log_close();
	log_set_max_level(LOG_INFO);

	ASSERT_OK(read_full_file(p, 1 << 20, &text, NULL));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		ASSERT_OK(hv_json_load_buf(line, strlen(line), "log", &rec, NULL));
		ASSERT_STREQ(json_string_value(json_object_get(rec, "name")), "tool");
		ASSERT_EQ(json_integer_value(json_object_get(rec, "v")), 0);
		ASSERT_TRUE(json_is_string(json_object_get(rec, "time")));
		ASSERT_EQ(json_integer_value(json_object_get(rec, "pid")), getpid());
		if (n == 0) {
			ASSERT_EQ(json_integer_value(json_object_get(rec, "level")), 30);
			ASSERT_STREQ(json_string_value(json_object_get(rec, "msg")),
			             "quote \" backslash \\ newline \n tab \t ctrl \x01 done");
		} else {
			ASSERT_EQ(json_integer_value(json_object_get(rec, "level")), 50);
			ASSERT_EQ(json_integer_value(json_object_get(rec, "errno")), ENOSPC);
		}
		json_decref(rec);
		n++;
	}
	ASSERT_EQ(n, 2);
}

TEST(unwritable_log_file_is_ignored)
{
	log_open("tool", "/proc/version/cannot/log");
	log_set_max_level(LOG_EMERG - 1);
	ASSERT_EQ(log_info("nothing breaks"), 0);
	log_close();
	log_set_max_level(LOG_INFO);
}

TEST(level_names)
{
	ASSERT_EQ(log_level_from_string("debug"), LOG_DEBUG);
	ASSERT_EQ(log_level_from_string("ERROR"), LOG_ERR);
	ASSERT_EQ(log_level_from_string("warn"), LOG_WARNING);
	ASSERT_ERR(log_level_from_string("loud"), -EINVAL);
	ASSERT_ERR(log_level_from_string(NULL), -EINVAL);
}
