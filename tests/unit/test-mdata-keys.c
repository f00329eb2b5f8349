/* SPDX-License-Identifier: MIT */
/*
 * What requests mean, as transcripts: the golden corpus in
 * tests/golden/mdata. Each NAME.json holds a VM ("vm") and the requests a
 * guest sends ("requests"): a string is a line sent as it is (V1, or a
 * hand-made V2 frame, bad ones included); an object {"cmd", "payload"} or
 * {"cmd": "PUT", "key", "value"} is framed here as mdata-client would
 * (request id "id", default 0a1b2c3d; "b64" puts its text in the frame
 * as the payload, unchecked). NAME.expect shows every line sent
 * and answered, each V2 answer decoded, and the metadata maps at the end.
 * "busy": N makes the first N writes find the VM locked.
 * SABLE_GOLDEN_UPDATE=1 rewrites the .expect files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "golden.h"
#include "json/json.h"
#include "mdata/proto.h"
#include "mdata/server.h"
#include "tests.h"

#ifndef GOLDEN_DIR
#error "GOLDEN_DIR must name tests/golden/mdata"
#endif

struct memstore {
	json_t *vm;
	int busy; /* writes that find the VM locked, still to come */
};

static int
mem_load(void *userdata, json_t **ret, struct hv_error **reterr)
{
	struct memstore *m = userdata;

	*ret = json_incref(m->vm);
	return 0;
}

static int
mem_set(void *userdata, const char *map, const char *key, const char *value, size_t size,
        struct hv_error **reterr)
{
	struct memstore *m = userdata;
	json_t *o;

	if (m->busy > 0) {
		m->busy--;
		return -EAGAIN;
	}
	o = json_object_get(m->vm, map);
	if (!o)
		json_object_set_new(m->vm, map, o = json_object());
	if (value)
		return json_object_set_new(o, key, json_stringn(value, size)) < 0 ? -EINVAL : 0;
	(void)json_object_del(o, key);
	return 0;
}

static const struct hv_mdata_store mem_store = {mem_load, mem_set};

static char *
b64(const char *s)
{
	char *out = NULL;

	ASSERT_OK(hv_mdata_base64_encode(s, strlen(s), &out, NULL));
	return out;
}

/* The line a request item stands for. */
static char *
request_line(const json_t *item)
{
	_cleanup_free_ char *payload = NULL, *frame = NULL;
	const char *cmd, *id = "0a1b2c3d", *p = NULL, *k = NULL, *v = NULL, *raw = NULL;

	if (json_is_string(item))
		return strdup(json_string_value(item));
	ASSERT_TRUE(json_unpack((json_t *)item, "{s:s, s?s, s?s, s?s, s?s, s?s}", "cmd", &cmd, "id",
	                        &id, "payload", &p, "key", &k, "value", &v, "b64", &raw) == 0);
	if (raw) {
		_cleanup_free_ char *body = NULL;
		ASSERT_TRUE(asprintf(&body, "%s %s %s", id, cmd, raw) > 0);
		ASSERT_TRUE(asprintf(&frame, "V2 %zu %08x %s", strlen(body),
		                     hv_mdata_crc32(body, strlen(body)), body) > 0);
		return TAKE_PTR(frame);
	}
	if (k) {
		_cleanup_free_ char *bk = b64(k), *bv = b64(v ? v : "");
		ASSERT_TRUE(asprintf(&payload, "%s %s", bk, bv) > 0);
		p = payload;
	}
	ASSERT_OK(hv_mdata_frame_format(id, cmd, p, p ? strlen(p) : 0, &frame, NULL));
	frame[strlen(frame) - 1] = 0;
	return TAKE_PTR(frame);
}

static void
show_answer(FILE *f, const char *ans, size_t n)
{
	const char *line = ans;

	while (line < ans + n) {
		const char *nl = memchr(line, '\n', (size_t)(ans + n - line));
		size_t l = nl ? (size_t)(nl - line) : (size_t)(ans + n - line);
		struct hv_mdata_frame fr;

		fprintf(f, "< %.*s\n", (int)l, line);
		if (hv_mdata_frame_parse(line, l, &fr) == 0) {
			_cleanup_free_ char *dec = NULL;
			json_auto_t *s = NULL;
			_cleanup_free_ char *q = NULL;
			size_t dn = 0;

			if (fr.payload)
				ASSERT_OK(hv_mdata_base64_decode(fr.payload, fr.payload_len, &dec,
				                                 &dn));
			s = json_stringn(dec ? dec : "", dn);
			q = s ? json_dumps(s, JSON_ENCODE_ANY) : strdup("(not UTF-8)");
			fprintf(f, "  = %.*s %s\n", (int)fr.code_len, fr.code, q);
		}
		line += l + 1;
	}
}

static char *
outcome(const char *file, const char *text, size_t size)
{
	json_auto_t *c = NULL;
	struct memstore m = {0};
	json_t *reqs, *item;
	char *buf = NULL;
	size_t bufsize = 0, i;
	FILE *f;

	ASSERT_OK(hv_json_load_buf(text, size, file, &c, NULL));
	m.vm = json_incref(json_object_get(c, "vm"));
	ASSERT_TRUE(json_is_object(m.vm));
	m.busy = (int)json_integer_value(json_object_get(c, "busy"));
	reqs = json_object_get(c, "requests");
	ASSERT_TRUE(json_is_array(reqs));
	f = open_memstream(&buf, &bufsize);
	ASSERT_TRUE(f != NULL);
	json_array_foreach (reqs, i, item) {
		_cleanup_free_ char *line = request_line(item), *ans = NULL;
		size_t n = 0;
		int r;

		fprintf(f, "> %s\n", line);
		while ((r = hv_mdata_handle(&mem_store, &m, line, strlen(line), &ans, &n)) ==
		       -EAGAIN)
			fprintf(f, "  (the VM is busy: asked again)\n");
		ASSERT_OK(r);
		if (!ans)
			fprintf(f, "< (no answer)\n");
		else
			show_answer(f, ans, n);
	}
	{
		_cleanup_free_ char *cm = NULL, *im = NULL;
		json_t *e = json_object();
		cm = json_dumps(json_object_get(m.vm, "customer_metadata") ?: e,
		                JSON_COMPACT | JSON_SORT_KEYS);
		im = json_dumps(json_object_get(m.vm, "internal_metadata") ?: e,
		                JSON_COMPACT | JSON_SORT_KEYS);
		fprintf(f, "customer_metadata: %s\ninternal_metadata: %s\n", cm, im);
		json_decref(e);
	}
	fclose(f);
	json_decref(m.vm);
	return buf;
}

static size_t n_cases;

__attribute__((constructor)) static void
register_golden(void)
{
	n_cases = golden_register(GOLDEN_DIR, 1024 * 1024, outcome);
}

TEST(golden_corpus_is_there)
{
	ASSERT_TRUE(n_cases >= 8);
}

TEST(oversized_lines_are_answered_with_their_request_id)
{
	_cleanup_free_ char *a = NULL, *b = NULL;
	size_t n;

	ASSERT_OK(hv_mdata_handle_oversized("V2 999999 0123abcd 5a5a5a5a PUT xxxx", 36, &a, &n));
	ASSERT_TRUE(strncmp(a + strcspn(a, " ") + 1, "", 0) == 0);
	ASSERT_CONTAINS(a, " 5a5a5a5a FAILURE ");
	ASSERT_OK(hv_mdata_handle_oversized("GET aaaaaaaa", 12, &b, &n));
	ASSERT_STREQ(b, "FAILURE\n");
}
