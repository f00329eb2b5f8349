/* SPDX-License-Identifier: MIT */
/* Number, size, path and MAC parsers on arbitrary strings. */
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/parse.h"
#include "basic/path.h"
#include "basic/uuid.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *s = strndup((const char *)data, size), *j = NULL, *b = NULL, *d = NULL;
	uint64_t u;
	int64_t i;
	bool bo;
	char mac[18];

	if (!s)
		return 0;
	(void)safe_atou64(s, &u);
	(void)safe_atoi64(s, &i);
	(void)parse_size(s, &u);
	(void)parse_boolean(s, &bo);
	(void)uuid_is_valid(s);
	if (mac_normalize(s, mac) == 0 && strlen(mac) != 17)
		abort();
	if (path_join_beneath("/base", s, &j) == 0 && strncmp(j, "/base", 5) != 0)
		abort(); /* a safe join never leaves its base */
	(void)path_basename(s, &b);
	(void)path_dirname(s, &d);
	return 0;
}
