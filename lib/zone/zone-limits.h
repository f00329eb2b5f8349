/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A zone's resource controls, in the units Sable works in (bytes, percent),
 * translated from vmadm's properties (smartos.md §2) by the caller:
 *
 *   max_physical_memory (MiB)  → memory
 *   max_swap (MiB)             → swap   (memory + swap, as SmartOS counts it)
 *   max_locked_memory (MiB)    → locked (RLIMIT_MEMLOCK of the zone's init)
 *   cpu_cap (100 = one CPU)    → cpu_cap
 *   cpu_shares                 → cpu_shares
 *   max_lwps                   → max_lwps (pids)
 *   zfs_io_priority            → io_priority
 *   tmpfs (MiB)                → tmpfs (size of /tmp)
 *
 * 0 means "no limit" everywhere except cpu_shares and io_priority, where 0
 * means the default (100).
 */

#include <stdint.h>

struct hv_zone_limits {
	uint64_t memory;      /* bytes */
	uint64_t swap;        /* bytes of memory + swap; >= memory when both are set */
	uint64_t locked;      /* bytes */
	uint64_t tmpfs;       /* bytes */
	uint32_t cpu_cap;     /* percent of one CPU */
	uint32_t cpu_shares;  /* 1..65535, default 100 */
	uint32_t max_lwps;    /* processes and threads */
	uint32_t io_priority; /* 1..1000, default 100 */
};
