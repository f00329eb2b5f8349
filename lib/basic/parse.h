/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Strict number parsing: the whole string must be the number, in base 10,
 * with no sign on unsigned values and no surrounding whitespace. Overflow is
 * -ERANGE, anything else malformed is -EINVAL. *ret is untouched on failure.
 */

#include <stdbool.h>
#include <stdint.h>

int safe_atou64(const char *s, uint64_t *ret);
int safe_atoi64(const char *s, int64_t *ret);
int safe_atou32(const char *s, uint32_t *ret);
int safe_atoi(const char *s, int *ret);

/*
 * A size in bytes with an optional binary suffix: "512", "20G", "1.5T",
 * "64MiB", "8k". Suffixes K, M, G, T, P, E (case-insensitive, optionally
 * followed by "iB" or "B") multiply by powers of 1024.
 */
int parse_size(const char *s, uint64_t *ret);

/* "true/false", "yes/no", "on/off", "1/0". */
int parse_boolean(const char *s, bool *ret);

/*
 * A MAC address as bytes: six octets of 1 or 2 hex digits in any case,
 * separated by ':' ("02:aa:bb:cc:dd:ee", or "0:c:29:a:b:c" as SmartOS
 * writes them). Anything else, NULL included, is -EINVAL.
 */
int parse_mac(const char *s, uint8_t ret[static 6]);

/* The same MAC in canonical form: lower case, two digits an octet. */
int mac_normalize(const char *s, char ret[static 18]);
