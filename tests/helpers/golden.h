/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Golden corpora: one TAP test per FILE.json in a directory, in name order,
 * registered before main() runs. Each turns the file into text with the
 * module's own outcome function and compares it with FILE.expect beside
 * it; SABLE_GOLDEN_UPDATE=1 writes the .expect files instead (review the
 * diff before committing them). Adding a case needs no C.
 */

#include <stddef.h>

/* What the module makes of a case (file is "NAME.json"); a malloc'd string. */
typedef char *(*golden_fn)(const char *file, const char *text, size_t size);

/* Register dir's cases (call from a constructor); returns how many there are. */
size_t golden_register(const char *dir, size_t max_size, golden_fn fn);

/* The same for files ending in ext (".d"): NAME.d is compared with NAME.expect. */
size_t golden_register_ext(const char *dir, const char *ext, size_t max_size, golden_fn fn);
