/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * All JSON goes through here. Parsing is strict: duplicate keys are an
 * error (a payload with "ram" twice is a mistake, not a choice), and every
 * parse error names its source, line and column. Output is deterministic:
 * keys sorted, two-space indent, a final newline, so golden tests and
 * diffs stay stable and SmartOS's `vmadm get` shape is kept.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "basic/error.h"

#define HV_JSON_DUMP_FLAGS (JSON_SORT_KEYS | JSON_INDENT(2))

/* Parse buf; source ("payload", a file name) is named in errors: "payload:3:14: …". */
int hv_json_load_buf(const char *buf, size_t size, const char *source, json_t **ret,
                     struct hv_error **reterr);

/* Read and parse a file of at most max_size bytes; path "-" is stdin. */
int hv_json_load_file(const char *path, size_t max_size, json_t **ret, struct hv_error **reterr);

/* Serialize with HV_JSON_DUMP_FLAGS and a trailing newline; NULL on OOM. */
char *hv_json_dumps(const json_t *j);

/* Write hv_json_dumps(j) to f. */
int hv_json_dumpf(const json_t *j, FILE *f);

/*
 * A JSON string from bytes that should be UTF-8 but come from outside (a
 * hostname, a CPU model): invalid bytes become '?'. NULL only on OOM.
 */
json_t *hv_json_string_sanitized(const char *s);

/*
 * Typed member access. Absent members give -ENOENT without an error
 * message (callers decide whether that is fine); a member of the wrong
 * type gives -EINVAL with its key as the error path.
 */
int hv_json_get_string(const json_t *obj, const char *key, const char **ret,
                       struct hv_error **reterr);
int hv_json_get_int(const json_t *obj, const char *key, int64_t *ret, struct hv_error **reterr);
int hv_json_get_bool(const json_t *obj, const char *key, bool *ret, struct hv_error **reterr);

/* Set a member, taking ownership of value (which may be NULL after a failed constructor). */
int hv_json_set(json_t *obj, const char *key, json_t *value);

/*
 * The node's facts as a VM's record shows them: server_uuid (when the host
 * has one) and each of keys (NULL-terminated) that the node config sets,
 * sanitized. lib/core's computed members and lib/mdata's record, which may
 * not use lib/core, both start from it. NULL only on OOM.
 */
json_t *hv_json_node_facts(const char *const *keys);

/* The name of a JSON type as messages use it: "string", "number", … */
const char *hv_json_type_name(const json_t *j);

/* Compact (one line, sorted keys) serialization for files Sable keeps for itself; NULL on OOM. */
char *hv_json_dumps_compact(const json_t *j);

/*
 * A user's value as messages show it: 'text' (at most 64 bytes, cut on a
 * character boundary, "..." after), 256, 2.0 (a real never reads as an
 * integer), true, null, "an object", "an array of 3".
 */
#define HV_JSON_QUOTE_MAX    64
#define HV_JSON_DESCRIBE_MAX (HV_JSON_QUOTE_MAX + 16)
const char *hv_json_quote(const char *s, char buf[static HV_JSON_DESCRIBE_MAX]);
const char *hv_json_describe(const json_t *v, char buf[static HV_JSON_DESCRIBE_MAX]);
