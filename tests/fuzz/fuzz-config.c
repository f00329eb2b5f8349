/* SPDX-License-Identifier: MIT */
/* Node config parsing; every parsed value must survive quoting and re-parsing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/config.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_hv_config_ struct hv_config *c = NULL;
	_cleanup_hv_error_ struct hv_error *e = NULL;

	if (hv_config_parse((const char *)data, size, "fuzz", &c, &e) < 0) {
		if (!e || !strstr(e->msg, "fuzz"))
			abort(); /* every error names its source */
		return 0;
	}
	for (size_t i = 0; i < c->n_entries; i++) {
		_cleanup_hv_config_ struct hv_config *c2 = NULL;
		_cleanup_free_ char *q = hv_config_quote(c->entries[i].value), *line = NULL;
		int n;

		if (!q)
			return 0;
		n = asprintf(&line, "%s=%s\n", c->entries[i].key, q);
		if (n < 0)
			return 0;
		if (hv_config_parse(line, (size_t)n, "requote", &c2, NULL) < 0 ||
		    strcmp(hv_config_get(c2, c->entries[i].key), c->entries[i].value) != 0)
			abort();
	}
	return 0;
}
