/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

struct hv_error;

#define UUID_STRING_LEN 36

/* A random (version 4, RFC 9562) UUID in lower case. */
int uuid_generate_v4(char ret[static UUID_STRING_LEN + 1]);

/* 8-4-4-4-12 hexadecimal digits, either case. (SmartOS checks only length and dashes.) */
bool uuid_is_valid(const char *s);

/* Format 16 bytes as a lower-case UUID string. */
void uuid_format(const unsigned char bytes[static 16], char ret[static UUID_STRING_LEN + 1]);

/*
 * The host's UUID, as SmartOS's sysinfo gives it: SMBIOS's product_uuid in
 * lower case, or (no SMBIOS, an all-0 or all-f one) /etc/machine-id as a UUID.
 */
int hv_host_uuid(char ret[static UUID_STRING_LEN + 1], struct hv_error **reterr);
