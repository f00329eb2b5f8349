/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/path.h"
#include "basic/time-util.h"

static char program[64] = "sable";
static char *file_path;
static int file_fd = -EBADF;
static bool file_failed;
static int max_level = LOG_INFO;
static int file_level = LOG_INFO;

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",     [LOG_CRIT] = "crit",
        [LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

int
log_level_from_string(const char *s)
{
	if (!s)
		return -EINVAL;
	if (strcasecmp(s, "error") == 0)
		return LOG_ERR;
	if (strcasecmp(s, "warn") == 0)
		return LOG_WARNING;
	for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

void
log_open(const char *name, const char *log_path)
{
	int l;

	log_close();
	snprintf(program, sizeof(program), "%s", name);
	file_path = log_path ? strdup(log_path) : NULL;
	l = log_level_from_string(getenv("SABLE_LOG_LEVEL"));
	if (l >= 0)
		max_level = l;
}

void
log_close(void)
{
	file_fd = safe_close(file_fd);
	free(file_path);
	file_path = NULL;
	file_failed = false;
}

void
log_set_max_level(int level)
{
	max_level = level;
}

int
log_get_max_level(void)
{
	return max_level;
}

void
log_set_file_level(int level)
{
	file_level = level;
}

size_t
json_escape(char *buf, size_t n, const char *s)
{
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[7];
		const char *e = NULL;

		switch (c) {
		case '"':
			e = "\\\"";
			break;
		case '\\':
			e = "\\\\";
			break;
		case '\n':
			e = "\\n";
			break;
		case '\r':
			e = "\\r";
			break;
		case '\t':
			e = "\\t";
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				e = esc;
			}
		}
		if (e) {
			for (; *e; e++, o++)
				if (o + 1 < n)
					buf[o] = *e;
		} else {
			if (o + 1 < n)
				buf[o] = (char)c;
			o++;
		}
	}
	if (n)
		buf[o < n ? o : n - 1] = 0;
	return o;
}

/* bunyan's numeric levels: 10 trace … 60 fatal */
static int
bunyan_level(int level)
{
	if (level <= LOG_CRIT)
		return 60;
	if (level == LOG_ERR)
		return 50;
	if (level == LOG_WARNING)
		return 40;
	if (level <= LOG_INFO)
		return 30;
	return 20;
}

static void
write_file_record(int level, int error, const char *msg)
{
	_cleanup_free_ char *emsg = NULL, *line = NULL;
	char host[256] = "", ehost[256 * 6], ts[25];
	size_t need;
	int n;

	if (file_fd < 0) {
		_cleanup_free_ char *dir = NULL;

		if (path_dirname(file_path, &dir) < 0 || mkdir_p(dir, 0755) < 0) {
			file_failed = true;
			return;
		}
		file_fd =
		        open(file_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
		if (file_fd < 0) {
			file_failed = true;
			return;
		}
	}

	need = json_escape(NULL, 0, msg) + 1;
	emsg = malloc(need);
	if (!emsg)
		return;
	json_escape(emsg, need, msg);
	(void)gethostname(host, sizeof(host) - 1);
	json_escape(ehost, sizeof(ehost), host);
	format_iso8601_usec(ts, now_usec(CLOCK_REALTIME));

	if (error)
		n = asprintf(&line,
		             "{\"name\":\"%s\",\"hostname\":\"%s\",\"pid\":%d,\"level\":%d,"
		             "\"errno\":%d,\"msg\":\"%s\",\"time\":\"%s\",\"v\":0}\n",
		             program, ehost, (int)getpid(), bunyan_level(level), abs(error), emsg,
		             ts);
	else
		n = asprintf(&line,
		             "{\"name\":\"%s\",\"hostname\":\"%s\",\"pid\":%d,\"level\":%d,"
		             "\"msg\":\"%s\",\"time\":\"%s\",\"v\":0}\n",
		             program, ehost, (int)getpid(), bunyan_level(level), emsg, ts);
	if (n < 0)
		return;
	/* One write(2) per record: O_APPEND keeps concurrent writers' lines whole. */
	(void)!write(file_fd, line, (size_t)n);
}

int
log_internalv(int level, int error, const char *fmt, va_list ap)
{
	_cleanup_free_ char *msg = NULL;
	bool to_stderr = level <= max_level;
	bool to_file = file_path && !file_failed && level <= file_level;
	int saved = errno;

	if (to_stderr || to_file) {
		errno = abs(error);
		if (vasprintf(&msg, fmt, ap) < 0)
			msg = NULL;
	}
	if (msg && to_stderr) {
		if (level <= LOG_WARNING || level == LOG_DEBUG)
			fprintf(stderr, "%s: %s\n", program, msg);
		else
			fprintf(stderr, "%s\n", msg);
	}
	if (msg && to_file)
		write_file_record(level, error, msg);
	errno = saved;
	return error ? -abs(error) : 0;
}

int
log_internal(int level, int error, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = log_internalv(level, error, fmt, ap);
	va_end(ap);
	return r;
}
