/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Path strings. Sable builds many paths from untrusted parts (payload
 * fields, image manifests, dataset names); path_join_beneath() is how such
 * a part is put below a trusted base, and it refuses every ".." so the
 * result cannot escape. (Symlinks are a separate matter: opening files a
 * guest controls goes through openat2(RESOLVE_IN_ROOT).)
 */

#include <stdbool.h>

/* True if p has no ".." component. Empty components and "." are harmless. */
bool path_is_safe(const char *p);

/*
 * Collapse "//" and "/./" and drop a trailing "/" (but keep "/"), in place;
 * "./" becomes ".", "" stays "". Returns p.
 */
char *path_simplify(char *p);

/* a + "/" + b, simplified. Any b (absolute or not) is appended. */
int path_join(const char *a, const char *b, char **ret);

/*
 * rel below base: rel may be absolute ("/foo" means base/foo, as a path
 * inside a zone root) or relative, but must not contain "..". -EINVAL
 * otherwise.
 */
int path_join_beneath(const char *base, const char *rel, char **ret);

/* The last component of p ("/a/b/" gives "b"), as a new string. */
int path_basename(const char *p, char **ret);

/* p without its last component ("/a/b" gives "/a", "b" gives "."), as a new string. */
int path_dirname(const char *p, char **ret);
