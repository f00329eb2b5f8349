/* SPDX-License-Identifier: MIT */
/*
 * Id ranges. Every zone gets HV_ZONE_ID_COUNT (65,536) host uids and gids of
 * its own: zone root is host id <base>, an unprivileged nobody on the host.
 * The registry $SABLE_ROOT/var/lib/sable/idmap has one line per zone,
 * "<uuid> <base>", and is changed under a lock by atomic replace; a range is
 * never handed out twice while its zone exists, and is freed with it.
 *
 * Ranges are slots above the node config's zone_uid_base (default
 * 1,000,000,000, far above /etc/subuid's usual ranges and any login uid).
 * Two state roots on one host must have different zone_uid_base values (the
 * test suite gives each of its roots its own).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/cleanup.h"
#include "basic/config.h"
#include "basic/fileio.h"
#include "basic/lock.h"
#include "basic/parse.h"
#include "basic/root.h"
#include "basic/strv.h"
#include "zone/zone.h"

#define DEFAULT_UID_BASE UINT32_C(1000000000)
#define MAX_SLOTS        4096u
#define IDMAP_FILE       HV_LIB_DIR "/idmap"
#define LOCK_TIMEOUT_MS  10000

static int
uid_base(uint32_t *ret, struct hv_error **reterr)
{
	_cleanup_hv_config_ struct hv_config *cfg = NULL;
	const char *v;
	uint32_t b;
	int r;

	if ((r = hv_node_config_load(&cfg, reterr)) < 0)
		return r;
	v = hv_config_get(cfg, "zone_uid_base");
	if (!v) {
		*ret = DEFAULT_UID_BASE;
		return 0;
	}
	if (safe_atou32(v, &b) < 0 || b < 65536 ||
	    (uint64_t)b + (uint64_t)MAX_SLOTS * HV_ZONE_ID_COUNT > UINT32_MAX)
		return hv_error_set(reterr, -EINVAL,
		                    "%s: zone_uid_base '%s': expected a number from 65536 to %u",
		                    cfg->source, v, UINT32_MAX - MAX_SLOTS * HV_ZONE_ID_COUNT);
	*ret = b;
	return 0;
}

/* Read the registry: lines "<uuid> <base>". */
static int
load(const char *path, char ***ret_lines, struct hv_error **reterr)
{
	_cleanup_free_ char *text = NULL;
	int r = read_full_file(path, 4 * 1024 * 1024, &text, NULL);

	if (r == -ENOENT) {
		*ret_lines = calloc(1, sizeof(char *));
		return *ret_lines ? 0 : -ENOMEM;
	}
	if (r < 0)
		return hv_error_set(reterr, r, "cannot read '%s': %m", path);
	if ((r = strv_split(text, '\n', ret_lines)) < 0)
		return r;
	return 0;
}

static int
save(const char *path, char **lines, struct hv_error **reterr)
{
	_cleanup_free_ char *text = NULL, *out = NULL;
	_cleanup_strv_free_ char **kept = calloc(1, sizeof(char *));
	int r;

	if (!kept)
		return -ENOMEM;
	STRV_FOREACH (l, lines)
		if (**l && (r = strv_push(&kept, *l)) < 0)
			return r;
	text = strv_join(kept, "\n");
	if (!text || asprintf(&out, "%s%s", text, *text ? "\n" : "") < 0)
		return -ENOMEM;
	r = write_file_atomic(path, out, strlen(out), 0644);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot write '%s': %m", path);
	return 0;
}

/* Run fn on the registry lines with the lock held. */
static int
with_registry(int (*fn)(char ***lines, const char *uuid, uint32_t base, uint32_t *ret,
                        struct hv_error **reterr),
              const char *uuid, uint32_t *ret, struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL, *lockpath = NULL, *dir = NULL;
	_cleanup_strv_free_ char **lines = NULL;
	_cleanup_close_ int lock = -EBADF;
	uint32_t base;
	int r;

	if (!uuid_is_valid(uuid))
		return hv_error_set(reterr, -EINVAL, "'%s' is not a zone UUID", uuid);
	if ((r = uid_base(&base, reterr)) < 0)
		return r;
	if ((r = hv_root_path(IDMAP_FILE, &path)) < 0 ||
	    (r = hv_root_path(IDMAP_FILE ".lock", &lockpath)) < 0 ||
	    (r = hv_root_path(HV_LIB_DIR, &dir)) < 0)
		return r;
	if ((r = mkdir_p(dir, 0755)) < 0)
		return hv_error_set(reterr, r, "cannot create '%s': %m", dir);
	if ((r = lock_file(lockpath, LOCK_EX, LOCK_TIMEOUT_MS, &lock)) < 0)
		return hv_error_set(reterr, r, "cannot lock '%s': %m", lockpath);
	if ((r = load(path, &lines, reterr)) < 0)
		return r;
	r = fn(&lines, uuid, base, ret, reterr);
	if (r <= 0)
		return r;
	return save(path, lines, reterr);
}

static int
do_allocate(char ***lines, const char *uuid, uint32_t base, uint32_t *ret, struct hv_error **reterr)
{
	bool used[MAX_SLOTS] = {false};
	char *line;

	STRV_FOREACH (l, *lines) {
		char u[UUID_STRING_LEN + 1];
		unsigned long b;

		if (sscanf(*l, "%36s %lu", u, &b) != 2)
			continue;
		if (strcasecmp(u, uuid) == 0) {
			*ret = (uint32_t)b; /* already has one: allocation is idempotent */
			return 0;
		}
		if (b >= base && (b - base) % HV_ZONE_ID_COUNT == 0 &&
		    (b - base) / HV_ZONE_ID_COUNT < MAX_SLOTS)
			used[(b - base) / HV_ZONE_ID_COUNT] = true;
	}
	for (uint32_t s = 0; s < MAX_SLOTS; s++) {
		if (used[s])
			continue;
		*ret = base + s * HV_ZONE_ID_COUNT;
		if (asprintf(&line, "%s %u", uuid, *ret) < 0)
			return -ENOMEM;
		return strv_consume(lines, line) < 0 ? -ENOMEM : 1;
	}
	return hv_error_set(reterr, -ENOSPC, "no free id range: all %u are taken", MAX_SLOTS);
}

static int
do_free(char ***lines, const char *uuid, uint32_t base, uint32_t *ret, struct hv_error **reterr)
{
	bool changed = false;

	STRV_FOREACH (l, *lines)
		if (strncasecmp(*l, uuid, UUID_STRING_LEN) == 0 && (*l)[UUID_STRING_LEN] == ' ') {
			(*l)[0] = 0; /* dropped by save() */
			changed = true;
		}
	return changed ? 1 : 0;
}

int
hv_zone_ids_allocate(const char *uuid, uint32_t *ret_base, struct hv_error **reterr)
{
	return with_registry(do_allocate, uuid, ret_base, reterr);
}

int
hv_zone_ids_free(const char *uuid, struct hv_error **reterr)
{
	uint32_t unused;

	return with_registry(do_free, uuid, &unused, reterr);
}

static int
do_check(char ***lines, const char *uuid, uint32_t base, uint32_t *want, struct hv_error **reterr)
{
	STRV_FOREACH (l, *lines) {
		char u[UUID_STRING_LEN + 1];
		unsigned long b;

		if (sscanf(*l, "%36s %lu", u, &b) != 2 || b != *want)
			continue;
		if (strcasecmp(u, uuid) != 0)
			return hv_error_set(reterr, -EEXIST,
			                    "zone %s: id range %u belongs to zone %s (run "
			                    "'zoneadm -z %s install' for a range of its own)",
			                    uuid, *want, u, uuid);
		return 0;
	}
	return hv_error_set(reterr, -ENOENT,
	                    "zone %s: id range %u is not registered to it (run 'zoneadm -z %s "
	                    "install')",
	                    uuid, *want, uuid);
}

int
hv_zone_ids_check(const char *uuid, uint32_t base, struct hv_error **reterr)
{
	return with_registry(do_check, uuid, &base, reterr);
}
