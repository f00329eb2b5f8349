/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The metadata protocol's wire format (smartos.md §5): CRC-32, base64 and
 * V2 frames. Pure functions over byte buffers, libc only, so the in-guest
 * tools (src/mdata-client) link this file statically and the fuzzer can
 * drive it without a server.
 *
 *   V2 <len> <crc> <body>\n      body = <reqid> <CODE>[ <payload-b64>]
 *
 * <len> is the decimal length of body, <crc> the CRC-32 of body in 8
 * lower-case hex digits. A request and its answer are one line each; the
 * '\n' is never part of a frame as these functions see it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The longest request line the server reads (without its '\n'). A PUT
 * carries its value base64'd twice, so a value may be about 9/16 of this:
 * some 140 KiB. Longer lines are answered FAILURE and dropped unread.
 */
#define HV_MDATA_LINE_MAX (256u * 1024u)

/* The longest request id (lower-case hex) a frame may carry; clients send 8 digits. */
#define HV_MDATA_REQID_MAX 16

/* zlib's crc32(): reflected, polynomial 0xEDB88320, init and final xor 0xFFFFFFFF. */
uint32_t hv_mdata_crc32(const void *buf, size_t n);

/* Standard base64 with '=' padding and no line breaks; ret is malloc'd and NUL-terminated. */
int hv_mdata_base64_encode(const void *in, size_t n, char **ret, size_t *ret_size);

/*
 * Strict decode: a multiple of 4 characters of the standard alphabet,
 * padding only at the end; anything else is -EINVAL. ret is malloc'd and
 * NUL-terminated (the data itself may hold NULs: ret_size counts them).
 */
int hv_mdata_base64_decode(const char *in, size_t n, char **ret, size_t *ret_size);

/* A parsed V2 frame; the pointers point into the line it was parsed from. */
struct hv_mdata_frame {
	const char *reqid; /* [0-9a-f]{1,HV_MDATA_REQID_MAX} */
	size_t reqid_len;
	const char *code; /* [A-Z0-9_]+: GET, SUCCESS, … */
	size_t code_len;
	const char *payload; /* base64 as sent (not decoded), or NULL when there is none */
	size_t payload_len;
};

/*
 * Parse one V2 line (without '\n'). -EBADMSG when it is not a well-formed
 * frame: the wrong prefix, a length or CRC that does not match the body,
 * a bad request id or code. The server drops such frames without a word,
 * as SmartOS's does; a client ignores them.
 */
int hv_mdata_frame_parse(const char *line, size_t n, struct hv_mdata_frame *ret);

/*
 * Format "V2 <len> <crc> <reqid> <code>[ <b64(payload)>]\n"; without a
 * payload (payload NULL) no separating space either. ret is malloc'd.
 */
int hv_mdata_frame_format(const char *reqid, const char *code, const void *payload, size_t n,
                          char **ret, size_t *ret_size);
