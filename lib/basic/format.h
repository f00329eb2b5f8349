/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#define FORMAT_BYTES_MAX 16

/*
 * Bytes as ZFS prints them: three significant digits and a binary unit
 * ("0B", "512B", "1.50K", "15.0M", "150G"). buf needs FORMAT_BYTES_MAX.
 */
char *format_bytes(char buf[static FORMAT_BYTES_MAX], uint64_t bytes);
