/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "basic/cleanup.h"
#include "basic/error.h"
#include "basic/fileio.h"
#include "basic/uuid.h"

void
uuid_format(const unsigned char b[static 16], char ret[static UUID_STRING_LEN + 1])
{
	snprintf(ret, UUID_STRING_LEN + 1,
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
	         b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
	         b[15]);
}

int
uuid_generate_v4(char ret[static UUID_STRING_LEN + 1])
{
	unsigned char b[16];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10 */
	uuid_format(b, ret);
	return 0;
}

bool
uuid_is_valid(const char *s)
{
	if (!s || strlen(s) != UUID_STRING_LEN)
		return false;
	for (size_t i = 0; i < UUID_STRING_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

int
hv_host_uuid(char ret[static UUID_STRING_LEN + 1], struct hv_error **reterr)
{
	_cleanup_free_ char *s = NULL;
	unsigned char b[16];
	int r;

	r = read_one_line_file("/sys/class/dmi/id/product_uuid", &s);
	if (r >= 0 && uuid_is_valid(s) && strspn(s, "0-") != UUID_STRING_LEN &&
	    strspn(s, "fF-") != UUID_STRING_LEN) {
		for (size_t i = 0; i < UUID_STRING_LEN; i++)
			ret[i] = (char)tolower((unsigned char)s[i]);
		ret[UUID_STRING_LEN] = 0;
		return 0;
	}
	s = (free(s), NULL);

	r = read_one_line_file("/etc/machine-id", &s);
	if (r < 0)
		return hv_error_set(reterr, r,
		                    "no host UUID: no SMBIOS product_uuid and cannot read "
		                    "'/etc/machine-id': %m");
	if (strlen(s) != 32 || strspn(s, "0123456789abcdef") != 32)
		return hv_error_set(reterr, -EINVAL,
		                    "no host UUID: '/etc/machine-id' is '%s', expected 32 "
		                    "lower-case hex digits",
		                    s);
	for (size_t i = 0; i < 16; i++) {
		char h[3] = {s[2 * i], s[2 * i + 1], 0};
		b[i] = (unsigned char)strtoul(h, NULL, 16);
	}
	uuid_format(b, ret);
	return 0;
}
