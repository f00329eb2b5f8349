/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The error value. Fallible functions return int: >= 0 on success, -errno
 * on failure (never -1). From L1 up they also take `struct hv_error
 * **reterr` (nullable) as their last parameter, which carries what a user
 * must read: a one-line message chain ("vm 3f2c…: snapshot 'a': exists")
 * and, for payload validation, the path of the offending value
 * ("nics.1.ips.0").
 *
 * Setting an error never fails visibly: without memory the message is
 * dropped and the caller still sees the code. Every setter returns the
 * (negative) code so that `return hv_error_set(reterr, -EINVAL, …);` reads
 * naturally.
 */

#include "basic/cleanup.h"
#include "basic/macro.h"

struct hv_error {
	int code;   /* negative errno */
	char *msg;  /* "context: context: cause", never NULL */
	char *path; /* payload path such as "nics.1.ips.0", or NULL */
};

/* Replace *reterr with a new error. In fmt, %m is strerror(-code). Returns code (made negative). */
int hv_error_set(struct hv_error **reterr, int code, const char *fmt, ...) _printf_(3, 4);

/* As hv_error_set(), recording the payload path of the bad value. */
int hv_error_set_path(struct hv_error **reterr, int code, const char *path, const char *fmt, ...)
        _printf_(4, 5);

/*
 * Add context in front of the message: "ctx: old message". Without an error
 * in *reterr, the message becomes "ctx: strerror(code)". Returns code.
 */
int hv_error_prefix(struct hv_error **reterr, int code, const char *fmt, ...) _printf_(3, 4);

/* Put a path component in front of the payload path: "1.ips.0" becomes "nics.1.ips.0". */
int hv_error_path_prefix(struct hv_error **reterr, int code, const char *component);

/* The message to show for this failure: the error's message, or strerror(-code). */
const char *hv_error_message(const struct hv_error *e, int code);

struct hv_error *hv_error_free(struct hv_error *e);

static inline void
hv_error_freep(struct hv_error **e)
{
	*e = hv_error_free(*e);
}
#define _cleanup_hv_error_ _cleanup_(hv_error_freep)
