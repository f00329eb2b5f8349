/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "basic/macro.h"
#include "basic/parse.h"

int
safe_atou64(const char *s, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	/* strtoull() accepts leading blanks and a minus sign; we accept digits only. */
	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int
safe_atoi64(const char *s, int64_t *ret)
{
	long long v;
	char *end;
	const char *d;

	if (!s)
		return -EINVAL;
	d = s[0] == '-' ? s + 1 : s;
	if (!isdigit((unsigned char)d[0]))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int
safe_atou32(const char *s, uint32_t *ret)
{
	uint64_t v;
	int r;

	r = safe_atou64(s, &v);
	if (r < 0)
		return r;
	if (v > UINT32_MAX)
		return -ERANGE;
	*ret = (uint32_t)v;
	return 0;
}

int
safe_atoi(const char *s, int *ret)
{
	int64_t v;
	int r;

	r = safe_atoi64(s, &v);
	if (r < 0)
		return r;
	if (v < INT_MIN || v > INT_MAX)
		return -ERANGE;
	*ret = (int)v;
	return 0;
}

static int
suffix_shift(const char *s, unsigned *ret)
{
	static const char units[] = "KMGTPE";
	const char *u;

	if (!*s) {
		*ret = 0;
		return 0;
	}
	if (strcasecmp(s, "B") == 0) {
		*ret = 0;
		return 0;
	}
	u = strchr(units, toupper((unsigned char)*s));
	if (!u)
		return -EINVAL;
	s++;
	if (*s && strcasecmp(s, "iB") != 0 && strcasecmp(s, "B") != 0)
		return -EINVAL;
	*ret = 10 * (unsigned)(u - units + 1);
	return 0;
}

int
parse_size(const char *s, uint64_t *ret)
{
	uint64_t whole = 0, frac = 0, frac_div = 1, v;
	unsigned shift;
	const char *p = s;
	int r;

	if (!s || !isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (whole > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		/* Up to 6 fractional digits are significant; more are ignored. */
		for (; isdigit((unsigned char)*p); p++)
			if (frac_div < 1000000) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				frac_div *= 10;
			}
	}
	r = suffix_shift(p, &shift);
	if (r < 0)
		return r;
	if (shift >= 64 || whole > (UINT64_MAX >> shift))
		return -ERANGE;
	v = whole << shift;
	if (frac) {
		if (shift == 0)
			return -EINVAL; /* fractions of a byte */
		if (frac > (UINT64_MAX >> shift))
			return -ERANGE;
		uint64_t add = (frac << shift) / frac_div;
		if (v > UINT64_MAX - add)
			return -ERANGE;
		v += add;
	}
	*ret = v;
	return 0;
}

int
parse_boolean(const char *s, bool *ret)
{
	static const char *const yes[] = {"1", "yes", "true", "on"};
	static const char *const no[] = {"0", "no", "false", "off"};

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

int
parse_mac(const char *s, uint8_t ret[static 6])
{
	const char *p = s;

	if (!s)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		unsigned v = 0;
		int n = 0;

		while (n < 3) {
			char c = p[n];
			unsigned d;

			if (c >= '0' && c <= '9')
				d = (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				d = (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				d = (unsigned)(c - 'A' + 10);
			else
				break;
			v = v * 16 + d;
			n++;
		}
		if (n < 1 || n > 2)
			return -EINVAL;
		if (i < 5 ? p[n] != ':' : p[n] != 0)
			return -EINVAL;
		ret[i] = (uint8_t)v;
		p += n + 1;
	}
	return 0;
}

int
mac_normalize(const char *s, char ret[static 18])
{
	uint8_t b[6];

	if (parse_mac(s, b) < 0)
		return -EINVAL;
	snprintf(ret, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
	return 0;
}
