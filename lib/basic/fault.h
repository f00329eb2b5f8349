/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Fault injection for crash-consistency tests. Multi-step operations call
 * fault_point("clone:subvol") after each step. When the point's name is in
 * SABLE_FAULT_KILL (comma-separated), the process kills itself with
 * SIGKILL right there, exactly as `kill -9` would; when it is in
 * SABLE_FAULT_FAIL, fault_point() returns -EIO, as a failing step would.
 * Without those variables it costs one getenv().
 */

int fault_point(const char *where);
