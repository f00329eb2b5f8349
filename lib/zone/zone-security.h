/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What a zone's processes may do, beyond what namespaces already take away:
 * the capability bounding set and the seccomp filter. Both are applied in
 * the zone's init (and in every zlogin) after all set-up and just before
 * exec, when the process is root in the zone's user namespace.
 */

#include <stddef.h>

#include "basic/error.h"

/*
 * Drop from the bounding, effective, permitted and inheritable sets every
 * capability a careful container runtime keeps from a container
 * (CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_TIME, CAP_MAC_*, …); clear the
 * ambient set. The list lives in zone-security.c, with the reason for each.
 */
int hv_zone_drop_capabilities(struct hv_error **reterr);

/*
 * Load the default seccomp profile (libseccomp): allow by default, deny with
 * EPERM what a zone must not do (kexec, module loading, bpf,
 * perf_event_open, keyctl, add_key, open_by_handle_at, swapon, setting the
 * clock, …) on every architecture the process can enter. The filter is
 * inherited by everything the zone runs.
 */
int hv_zone_load_seccomp(struct hv_error **reterr);

/*
 * The same profile in two halves, so that a parent builds it while its
 * child gets ready: hv_zone_seccomp_export() writes the compiled BPF
 * program to fd (one write: one packet on a SEQPACKET socket), and the
 * child loads what it read with hv_zone_seccomp_load_program().
 */
int hv_zone_seccomp_export(int fd, struct hv_error **reterr);
int hv_zone_seccomp_load_program(const void *insns, size_t size, struct hv_error **reterr);

/* The syscalls the profile denies, NULL-terminated (tests and man page). */
extern const char *const hv_zone_denied_syscalls[];
/* The capabilities a zone never has, NULL-terminated ("CAP_SYS_MODULE", …). */
extern const char *const hv_zone_dropped_capabilities[];
