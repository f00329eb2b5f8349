/* SPDX-License-Identifier: MIT */
/* Strict JSON loading, and dump → load round trips. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json/json.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *s = NULL;
	json_t *j = NULL, *k = NULL;

	if (hv_json_load_buf((const char *)data, size, "fuzz", &j, &e) < 0)
		return 0;
	s = hv_json_dumps(j);
	if (s) {
		/* Our own output must load again and mean the same thing. */
		if (hv_json_load_buf(s, strlen(s), "dump", &k, NULL) < 0 || !json_equal(j, k))
			abort();
	}
	json_decref(k);
	json_decref(j);
	return 0;
}
