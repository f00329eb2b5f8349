/* SPDX-License-Identifier: MIT */
/*
 * The metadata protocol's wire format: CRC-32, base64, V2 frames (proto.h).
 * Nothing here allocates more than the output it returns, and nothing here
 * trusts its input: every length is checked before it is used.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdata/proto.h"

static uint32_t crc_table[256];

static void
crc_table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t
hv_mdata_crc32(const void *buf, size_t n)
{
	const unsigned char *p = buf;
	uint32_t c = 0xFFFFFFFFu;

	if (!crc_table[1])
		crc_table_init();
	for (size_t i = 0; i < n; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

static const char b64_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
hv_mdata_base64_encode(const void *in, size_t n, char **ret, size_t *ret_size)
{
	const unsigned char *p = in;
	size_t len = (n + 2) / 3 * 4, o = 0;
	char *out;

	if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
		return -EFBIG;
	out = malloc(len + 1);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t left = n - i;

		if (left > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (left > 2)
			v |= p[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = left > 1 ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = left > 2 ? b64_alphabet[v & 63] : '=';
	}
	out[o] = 0;
	*ret = out;
	if (ret_size)
		*ret_size = o;
	return 0;
}

static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
hv_mdata_base64_decode(const char *in, size_t n, char **ret, size_t *ret_size)
{
	size_t o = 0;
	char *out;

	if (n % 4 != 0)
		return -EINVAL;
	out = malloc(n / 4 * 3 + 1);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		size_t pad = 0;

		for (size_t k = 0; k < 4; k++) {
			char c = in[i + k];
			/* '=' only in the last two places of the last quantum, and only at its end.
			 */
			if (c == '=' && i + 4 == n && k >= 2 && (k == 3 || in[i + 3] == '=')) {
				v[k] = 0;
				pad++;
				continue;
			}
			v[k] = b64_value(c);
			if (v[k] < 0 || pad) {
				free(out);
				return -EINVAL;
			}
		}
		uint32_t q = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
		             (uint32_t)v[3];
		out[o++] = (char)(q >> 16);
		if (pad < 2)
			out[o++] = (char)(q >> 8);
		if (pad < 1)
			out[o++] = (char)q;
	}
	out[o] = 0;
	*ret = out;
	if (ret_size)
		*ret_size = o;
	return 0;
}

/* A run of characters from set at *p (at most max, at least one); advances *p. */
static size_t
span(const char **p, const char *end, const char *set, size_t max)
{
	size_t k = 0;

	while (*p + k < end && k <= max && (*p)[k] && strchr(set, (*p)[k]))
		k++;
	if (k == 0 || k > max)
		return 0;
	*p += k;
	return k;
}

static bool
eat(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return false;
	(*p)++;
	return true;
}

int
hv_mdata_frame_parse(const char *line, size_t n, struct hv_mdata_frame *ret)
{
	const char *p = line, *end = line + n, *num, *crc, *body;
	size_t k, len = 0;
	uint32_t want = 0;

	if (n < 3 || memcmp(line, "V2 ", 3) != 0)
		return -EBADMSG;
	p += 3;
	num = p;
	if (!(k = span(&p, end, "0123456789", 9)) || !eat(&p, end, ' '))
		return -EBADMSG;
	for (size_t i = 0; i < k; i++)
		len = len * 10 + (size_t)(num[i] - '0');
	crc = p;
	if (!(k = span(&p, end, "0123456789abcdef", 8)) || !eat(&p, end, ' '))
		return -EBADMSG;
	for (size_t i = 0; i < k; i++)
		want = want << 4 | (uint32_t)(crc[i] <= '9' ? crc[i] - '0' : crc[i] - 'a' + 10);
	body = p;
	if (len == 0 || len != (size_t)(end - body) || hv_mdata_crc32(body, len) != want)
		return -EBADMSG;

	*ret = (struct hv_mdata_frame){.reqid = p};
	if (!(ret->reqid_len = span(&p, end, "0123456789abcdef", HV_MDATA_REQID_MAX)) ||
	    !eat(&p, end, ' '))
		return -EBADMSG;
	ret->code = p;
	if (!(ret->code_len = span(&p, end, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", 64)))
		return -EBADMSG;
	if (p == end)
		return 0;
	if (!eat(&p, end, ' '))
		return -EBADMSG;
	ret->payload = p;
	ret->payload_len = (size_t)(end - p);
	return 0;
}

int
hv_mdata_frame_format(const char *reqid, const char *code, const void *payload, size_t n,
                      char **ret, size_t *ret_size)
{
	char *b64 = NULL, *out = NULL, *body = NULL;
	size_t b64_len = 0;
	int len, r;

	if (payload && n > 0 && (r = hv_mdata_base64_encode(payload, n, &b64, &b64_len)) < 0)
		return r;
	len = asprintf(&body, "%s %s%s%s", reqid, code, b64 ? " " : "", b64 ? b64 : "");
	free(b64);
	if (len < 0)
		return -ENOMEM;
	r = asprintf(&out, "V2 %d %08x %s\n", len, hv_mdata_crc32(body, (size_t)len), body);
	free(body);
	if (r < 0)
		return -ENOMEM;
	*ret = out;
	if (ret_size)
		*ret_size = (size_t)r;
	return 0;
}
