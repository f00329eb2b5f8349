/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <sys/file.h>

/*
 * Advisory lock on a lock file (created if missing), as flock(2) with
 * LOCK_SH or LOCK_EX. Waits at most timeout_ms (0: try once) and then
 * fails with -ETIMEDOUT. The lock lives as long as the returned fd: close
 * it (or let _cleanup_close_ do so) to release it. A process that dies
 * releases its locks, so a crash never leaves a node wedged.
 */
int lock_file(const char *path, int operation, uint64_t timeout_ms, int *ret_fd);
