/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#define UUID_STRING_LEN 36

/* A random (version 4, RFC 9562) UUID in lower case. */
int uuid_generate_v4(char ret[static UUID_STRING_LEN + 1]);

/* 8-4-4-4-12 hexadecimal digits, either case. (SmartOS checks only length and dashes.) */
bool uuid_is_valid(const char *s);

/* Format 16 bytes as a lower-case UUID string. */
void uuid_format(const unsigned char bytes[static 16], char ret[static UUID_STRING_LEN + 1]);
