/* SPDX-License-Identifier: MIT */
/*
 * Payload validation: the golden corpus in tests/golden/validate (see its
 * README: one NAME.json payload and one NAME.expect each, the action and
 * brand in the name), one TAP test per payload, then a few properties of
 * the API itself.
 * SABLE_GOLDEN_UPDATE=1 rewrites the .expect files from what the code says;
 * read the diff before committing it.
 */
#include <stdlib.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/strv.h"
#include "core/vm-props.h"
#include "json/json.h"
#include "golden.h"
#include "tests.h"

#ifndef GOLDEN_DIR
#error "GOLDEN_DIR must name tests/golden/validate"
#endif

/* create-NAME, update-BRAND-NAME. */
static int
case_action(const char *name, enum hv_vm_action *ret_action, char ret_brand[static 32])
{
	const char *rest;

	if (startswith(name, "create-")) {
		*ret_action = HV_VM_ACTION_CREATE;
		ret_brand[0] = 0;
		return 0;
	}
	rest = startswith(name, "update-");
	if (!rest || !strchr(rest, '-') || (size_t)(strchr(rest, '-') - rest) >= 32)
		return -EINVAL;
	*ret_action = HV_VM_ACTION_UPDATE;
	memcpy(ret_brand, rest, (size_t)(strchr(rest, '-') - rest));
	ret_brand[strchr(rest, '-') - rest] = 0;
	return 0;
}

/* What the .expect file should say about this payload. */
static char *
outcome(const char *name, const char *text, size_t size)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_vm_report rep = {0};
	enum hv_vm_action action;
	char brand[32], *out = NULL;
	json_t *payload = NULL, *j;
	int r;

	if (case_action(name, &action, brand) < 0)
		tests_fail(__FILE__, __LINE__, "%s: not create-* or update-<brand>-*", name);
	r = hv_json_load_buf(text, size, "payload", &payload, &e);
	if (r < 0) {
		if (asprintf(&out, "invalid JSON\n%s\n", e->msg) < 0)
			return NULL;
		return out;
	}
	r = hv_vm_validate(action, action == HV_VM_ACTION_CREATE ? NULL : brand, payload, &rep, &e);
	json_decref(payload);
	if (r == 0) {
		ASSERT_TRUE(!rep.messages && !rep.bad_brand);
		hv_vm_report_done(&rep);
		return strdup("valid\n");
	}
	ASSERT_ERR(r, -EINVAL);
	ASSERT_TRUE(e && rep.messages && streq(e->msg, rep.messages[0]));
	j = hv_vm_report_to_json(&rep);
	ASSERT_TRUE(j != NULL);
	{
		_cleanup_free_ char *js = hv_json_dumps(j), *msgs = strv_join(rep.messages, "\n");
		if (!js || !msgs || asprintf(&out, "%s%s\n", js, msgs) < 0)
			out = NULL;
	}
	json_decref(j);
	hv_vm_report_done(&rep);
	return out;
}

/* The corpus: one TAP test per payload, registered before main() runs. */
static size_t n_cases;

__attribute__((constructor)) static void
register_golden(void)
{
	n_cases = golden_register(GOLDEN_DIR, 1024 * 1024, outcome);
}

TEST(golden_corpus_is_there)
{
	ASSERT_TRUE(n_cases >= 40);
}

static int
validate_text(enum hv_vm_action action, const char *brand, const char *text,
              struct hv_vm_report *rep, struct hv_error **e)
{
	json_t *j = NULL;
	int r;

	ASSERT_OK(hv_json_load_buf(text, strlen(text), "t", &j, NULL));
	r = hv_vm_validate(action, brand, j, rep, e);
	json_decref(j);
	return r;
}

TEST(error_carries_first_message_and_path)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_vm_report rep = {0};

	ASSERT_ERR(validate_text(HV_VM_ACTION_CREATE, NULL,
	                         "{\"brand\":\"lx\",\"image_uuid\":\"7b5981c4-1889-11e7-b4c5-"
	                         "3f3bdfc9b88b\",\"nics\":[{\"ips\":[\"dhcp\",\"10.0.0.300/24\"]}],"
	                         "\"quota\":-1}",
	                         &rep, &e),
	           -EINVAL);
	ASSERT_STREQ(e->path, "nics.0.ips.1");
	ASSERT_CONTAINS(e->msg, "nics.0.ips.1: expected an address with a prefix length");
	ASSERT_CONTAINS(e->msg, "got '10.0.0.300/24'");
	ASSERT_EQ(strv_length(rep.messages), 2);
	ASSERT_EQ(strv_length(rep.bad_values), 2);
	ASSERT_STREQ(rep.bad_values[1], "quota");
	hv_vm_report_done(&rep);
	ASSERT_TRUE(rep.messages == NULL);
}

TEST(report_is_optional_and_valid_payloads_pass)
{
	ASSERT_OK(validate_text(HV_VM_ACTION_UPDATE, "lx", "{\"quota\": \"40\"}", NULL, NULL));
	ASSERT_ERR(validate_text(HV_VM_ACTION_UPDATE, "lx", "{\"quota\": \"forty\"}", NULL, NULL),
	           -EINVAL);
	ASSERT_ERR(validate_text(HV_VM_ACTION_UPDATE, NULL, "{}", NULL, NULL), -EINVAL);
	ASSERT_ERR(hv_vm_validate(HV_VM_ACTION_CREATE, NULL, NULL, NULL, NULL), -EINVAL);
}

TEST(report_json_leaves_out_empty_lists)
{
	struct hv_vm_report rep = {0};
	json_t *j = hv_vm_report_to_json(&rep);
	_cleanup_free_ char *s = NULL;

	ASSERT_TRUE(j && json_object_size(j) == 0);
	json_decref(j);
	ASSERT_OK(strv_push(&rep.missing_properties, "image_uuid"));
	j = hv_vm_report_to_json(&rep);
	s = json_dumps(j, JSON_COMPACT);
	ASSERT_STREQ(s, "{\"missing_properties\":[\"image_uuid\"]}");
	json_decref(j);
	hv_vm_report_done(&rep);
	hv_vm_report_done(NULL);
}

TEST(problems_are_bounded)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_vm_report rep = {0};
	json_t *j = json_pack("{s:s}", "brand", "lx");

	for (int i = 0; i < 5000; i++) {
		char k[32];
		snprintf(k, sizeof(k), "junk_property_%d", i);
		ASSERT_OK(hv_json_set(j, k, json_integer(i)));
	}
	ASSERT_ERR(hv_vm_validate(HV_VM_ACTION_CREATE, NULL, j, &rep, &e), -EINVAL);
	ASSERT_EQ(strv_length(rep.messages), HV_VM_MAX_PROBLEMS + 1);
	ASSERT_EQ(strv_length(rep.bad_properties), HV_VM_MAX_PROBLEMS);
	ASSERT_CONTAINS(rep.messages[HV_VM_MAX_PROBLEMS], "too many problems");
	hv_vm_report_done(&rep);
	json_decref(j);
}
