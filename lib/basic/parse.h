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
