/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The node config: SmartOS's /usbkey/config, a bash-sourceable file of
 * key=value lines. We read the subset of shell that such files use (plain
 * words, 'single' and "double" quotes, comments) and refuse anything that a
 * shell would expand or execute ($, backticks, ;, |, …), so what Sable reads
 * is exactly what `. /usbkey/config` would set. A broken line is an error
 * that names the file and line; a key set twice is an error too (a shell
 * would silently keep the last one).
 *
 * Updates rewrite the file atomically under a lock, keeping comments, order
 * and every other line as they were.
 */

#include <stddef.h>

#include "basic/error.h"

#define HV_CONFIG_MAX_SIZE (1024u * 1024u)

struct hv_config_entry {
	char *key;
	char *value;
	unsigned line;
};

struct hv_config {
	char *source; /* file name used in messages */
	struct hv_config_entry *entries;
	size_t n_entries;
};

/* Parse text; source names it in error messages ("…/usbkey/config:3: …"). */
int hv_config_parse(const char *text, size_t size, const char *source, struct hv_config **ret,
                    struct hv_error **reterr);

/* Load a file; a missing file is an empty config. */
int hv_config_load(const char *path, struct hv_config **ret, struct hv_error **reterr);

/* The value of key, or NULL. */
const char *hv_config_get(const struct hv_config *c, const char *key);

bool hv_config_key_is_valid(const char *key);

/*
 * Set key to value (NULL removes it) in the file at path, atomically and
 * under the config lock. The file and its directory are created if needed.
 */
int hv_config_update(const char *path, const char *key, const char *value,
                     struct hv_error **reterr);

/*
 * Several changes in one atomic write under the config lock. edit sees the
 * file as it is once the lock is held, and either refuses (an error:
 * nothing is written) or returns the changes (ret_changes, an array it
 * allocates; a NULL value removes the key), applied in order.
 */
struct hv_config_change {
	char *key;
	char *value;
};
typedef int (*hv_config_edit_fn)(const struct hv_config *c, void *userdata,
                                 struct hv_config_change **ret_changes, size_t *ret_n,
                                 struct hv_error **reterr);
int hv_config_edit(const char *path, hv_config_edit_fn edit, void *userdata,
                   struct hv_error **reterr);
void hv_config_changes_free(struct hv_config_change *ch, size_t n);

/*
 * value quoted so that a shell reads it back unchanged: as is when it is
 * made of safe characters, else in single quotes.
 */
char *hv_config_quote(const char *value);

struct hv_config *hv_config_free(struct hv_config *c);

static inline void
hv_config_freep(struct hv_config **c)
{
	*c = hv_config_free(*c);
}
#define _cleanup_hv_config_ _cleanup_(hv_config_freep)

/* The node config of this state root ($SABLE_ROOT/usbkey/config). */
int hv_node_config_load(struct hv_config **ret, struct hv_error **reterr);

/*
 * The short prefix that names this root's kernel objects (cgroups, links,
 * nftables tables, mount points): the config key sable_prefix. Generated
 * and stored on first use when create is true; with create false a root
 * without one gives -ENOENT.
 */
#define HV_PREFIX_KEY "sable_prefix"
int hv_node_prefix(bool create, char **ret, struct hv_error **reterr);
bool hv_prefix_is_valid(const char *p);
