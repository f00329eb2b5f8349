/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Logging. Two sinks: stderr for people (CLIs print errors as
 * "program: message"), and a JSON-lines file per program under the state
 * root ($SABLE_ROOT/var/log/sable/<program>.log) in bunyan's record shape,
 * so SmartOS tooling that reads the logs in /var/log/vm reads ours too.
 *
 * Library code below src/ logs at debug level only; errors travel up as
 * return values and are logged once, by the program.
 *
 * Levels are syslog's (LOG_ERR … LOG_DEBUG). SABLE_LOG_LEVEL (a level name)
 * sets the stderr threshold; the file records info and above unless
 * log_set_file_level() says otherwise.
 */

#include <stdarg.h>
#include <syslog.h>

#include "basic/macro.h"

/*
 * Name the program and, if log_path is not NULL, the file to append JSON
 * records to (created, with its directory, on the first record). Reads
 * SABLE_LOG_LEVEL.
 */
void log_open(const char *program, const char *log_path);
void log_close(void);

void log_set_max_level(int level);
int log_get_max_level(void);
void log_set_file_level(int level);

/* "err", "warning", "info", "debug", … → LOG_ERR … ; -EINVAL if unknown. */
int log_level_from_string(const char *s);

/*
 * Log a message. error is 0 or an errno (either sign); with an error, %m in
 * fmt expands to its text and the return value is -|error|, else 0.
 */
int log_internal(int level, int error, const char *fmt, ...) _printf_(3, 4);
int log_internalv(int level, int error, const char *fmt, va_list ap) _printf_(3, 0);

#define log_debug(...)   log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)    log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)  log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)   log_internal(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(e, ...)   log_internal(LOG_DEBUG, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   log_internal(LOG_ERR, (e), __VA_ARGS__)

/* Append s as a JSON string body (without quotes) to buf of size n; returns chars needed. */
size_t json_escape(char *buf, size_t n, const char *s);
