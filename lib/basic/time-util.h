/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <time.h>

#define USEC_PER_SEC  UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define NSEC_PER_USEC UINT64_C(1000)

/* CLOCK_MONOTONIC (or CLOCK_REALTIME) in microseconds. */
uint64_t now_usec(clockid_t clock);

/* ISO 8601 UTC with milliseconds, "2026-11-22T00:38:20.123Z"; buf needs 25 bytes. */
char *format_iso8601_usec(char buf[static 25], uint64_t usec);
