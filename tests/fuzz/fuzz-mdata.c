/* SPDX-License-Identifier: MIT */
/*
 * Metadata requests: the input is what a guest sends, split into lines as
 * the server splits it, each answered against a small in-memory VM (whose
 * writes stick, so later lines see them). Checks: a frame that parses has
 * its fields inside the line, reformats to the same line when its payload
 * is canonical base64, and every answer is whole lines.
 */
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "fuzz.h"
#include "json/json.h"
#include "mdata/proto.h"
#include "mdata/server.h"

static int
load(void *userdata, json_t **ret, struct hv_error **reterr)
{
	*ret = json_incref(userdata);
	return 0;
}

static int
set(void *userdata, const char *map, const char *key, const char *value, size_t size,
    struct hv_error **reterr)
{
	json_t *m = json_object_get(userdata, map);

	if (!value)
		return json_object_del(m, key) < 0 ? 0 : 0;
	return json_object_set_new(m, key, json_stringn(value, size)) < 0 ? -EINVAL : 0;
}

static const struct hv_mdata_store store = {load, set};

static void
check_frame(const char *line, size_t n)
{
	struct hv_mdata_frame f;
	_cleanup_free_ char *payload = NULL, *again = NULL, *reqid = NULL, *code = NULL;
	size_t size = 0, len = 0;

	if (hv_mdata_frame_parse(line, n, &f) < 0)
		return;
	if (f.reqid < line || f.reqid + f.reqid_len > line + n || f.code + f.code_len > line + n ||
	    (f.payload && f.payload + f.payload_len != line + n))
		abort();
	if (f.payload && hv_mdata_base64_decode(f.payload, f.payload_len, &payload, &size) < 0)
		return;
	if (f.payload && size == 0)
		return; /* "GET " has an empty payload; formatting leaves the space out */
	reqid = strndup(f.reqid, f.reqid_len);
	code = strndup(f.code, f.code_len);
	if (!reqid || !code || hv_mdata_frame_format(reqid, code, payload, size, &again, &len) < 0)
		return;
	/* a canonical frame (no leading zeros in <len>, 8-digit CRC) comes back the same */
	if (len == n + 1 && memcmp(again, line, n) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_auto_t *vm = json_pack(
	        "{s:s, s:{s:s, s:s}, s:{s:s}, s:[s], s:[{s:s, s:[s]}], s:{s:s}}", "uuid",
	        "4f0d9a6e-3c1b-4c8e-9a57-2d6f1b0e7c11", "customer_metadata", "user-script",
	        "#!/bin/sh\n", "a", "b", "internal_metadata", "docker:x", "y",
	        "internal_metadata_namespaces", "docker", "nics", "mac", "90:b8:d0:aa:bb:01", "ips",
	        "198.51.100.10/24", "routes", "10.0.0.0/8", "nics[0]");
	const char *p = (const char *)data, *end = p + size;

	if (!vm)
		return 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		_cleanup_free_ char *ans = NULL;
		size_t ans_len = 0;

		check_frame(p, n);
		if (hv_mdata_handle(&store, vm, p, n, &ans, &ans_len) >= 0 && ans &&
		    (ans_len == 0 || ans[ans_len - 1] != '\n' || strlen(ans) != ans_len))
			abort();
		p += n + 1;
	}
	{
		_cleanup_free_ char *dec = NULL, *enc = NULL, *dec2 = NULL;
		size_t n, n2;
		/* what decodes re-encodes to itself, and back */
		if (hv_mdata_base64_decode((const char *)data, size, &dec, &n) == 0) {
			if (hv_mdata_base64_encode(dec, n, &enc, NULL) < 0 ||
			    hv_mdata_base64_decode(enc, strlen(enc), &dec2, &n2) < 0 || n2 != n ||
			    memcmp(dec, dec2, n) != 0)
				abort();
		}
	}
	return 0;
}
