/* SPDX-License-Identifier: MIT */
/*
 * The zone config, <zonepath>/config/zone.json: what the runtime needs to
 * build a zone, in SmartOS's units (limits in MiB, cpu_cap in percent).
 * vmadm writes it from a VM's properties; it can be written by hand too,
 * so it is checked as strictly as a payload: unknown keys, wrong types and
 * out-of-range values are errors that name the key.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/cleanup.h"
#include "basic/config.h"
#include "basic/fileio.h"
#include "basic/path.h"
#include "basic/root.h"
#include "basic/strv.h"
#include "json/json.h"
#include "zone/zone.h"

#define CONFIG_MAX_SIZE (1024 * 1024)
#define MIB             (UINT64_C(1) << 20)

void
hv_zone_config_done(struct hv_zone_config *c)
{
	free(c->pool);
	free(c->zonepath);
	free(c->root);
	free(c->brand);
	free(c->hostname);
	strv_free(c->init);
	strv_free(c->env);
	free(c->native);
	free(c->prefix);
	*c = (struct hv_zone_config){0};
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
        {"SIGPWR", SIGPWR}, {"SIGTERM", SIGTERM}, {"SIGINT", SIGINT},
        {"SIGHUP", SIGHUP}, {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2},
};

static int
signal_from_string(const char *s)
{
	for (size_t i = 0; i < ELEMENTSOF(signals); i++)
		if (streq(s, signals[i].name))
			return signals[i].sig;
	/* systemd's poweroff request. SIGRTMIN is a function call in glibc. */
	if (streq(s, "SIGRTMIN+4"))
		return SIGRTMIN + 4;
	if (streq(s, "SIGRTMIN+3"))
		return SIGRTMIN + 3;
	return -EINVAL;
}

/* A limit in MiB: a positive integer (or, where zero_ok, zero meaning "none"). */
static int
get_mib(json_t *o, const char *key, bool zero_ok, uint64_t max, uint64_t *ret,
        struct hv_error **reterr)
{
	json_t *v = json_object_get(o, key);
	json_int_t n;

	if (!v)
		return 0;
	if (!json_is_integer(v))
		return hv_error_set_path(reterr, -EINVAL, key, "%s: expected an integer, got %s",
		                         key, hv_json_type_name(v));
	n = json_integer_value(v);
	if (n < 0 || (n == 0 && !zero_ok) || (uint64_t)n > max)
		return hv_error_set_path(
		        reterr, -EINVAL, key, "%s: %lld is out of range, expected %s to %llu", key,
		        (long long)n, zero_ok ? "0" : "1", (unsigned long long)max);
	*ret = (uint64_t)n;
	return 1;
}

static int
parse_limits(json_t *o, struct hv_zone_limits *l, struct hv_error **reterr)
{
	uint64_t v;
	int r;

	/* Memory-like limits are MiB, at most 64 TiB. */
	if ((r = get_mib(o, "max_physical_memory", false, UINT64_C(1) << 26, &v, reterr)) < 0)
		return r;
	if (r)
		l->memory = v * MIB;
	if ((r = get_mib(o, "max_swap", false, UINT64_C(1) << 26, &v, reterr)) < 0)
		return r;
	if (r)
		l->swap = v * MIB;
	if ((r = get_mib(o, "max_locked_memory", false, UINT64_C(1) << 26, &v, reterr)) < 0)
		return r;
	if (r)
		l->locked = v * MIB;
	if ((r = get_mib(o, "tmpfs", false, UINT64_C(1) << 26, &v, reterr)) < 0)
		return r;
	if (r)
		l->tmpfs = v * MIB;
	if ((r = get_mib(o, "cpu_cap", true, 100 * 4096, &v, reterr)) < 0)
		return r;
	if (r)
		l->cpu_cap = (uint32_t)v;
	if ((r = get_mib(o, "cpu_shares", false, 65535, &v, reterr)) < 0)
		return r;
	l->cpu_shares = r ? (uint32_t)v : 100;
	if ((r = get_mib(o, "max_lwps", false, 4194304, &v, reterr)) < 0)
		return r;
	if (r)
		l->max_lwps = (uint32_t)v;
	if ((r = get_mib(o, "zfs_io_priority", false, 1000, &v, reterr)) < 0)
		return r;
	l->io_priority = r ? (uint32_t)v : 100;
	if (l->swap && l->memory && l->swap < l->memory)
		return hv_error_set_path(
		        reterr, -EINVAL, "max_swap",
		        "max_swap (%llu MiB) is below max_physical_memory (%llu MiB)",
		        (unsigned long long)(l->swap / MIB), (unsigned long long)(l->memory / MIB));
	return 0;
}

static int
string_list(json_t *v, const char *key, char ***ret, struct hv_error **reterr)
{
	_cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
	size_t i;
	json_t *e;
	int r;

	if (!l)
		return -ENOMEM;
	if (json_is_string(v))
		r = strv_push(&l, json_string_value(v));
	else if (json_is_array(v) && json_array_size(v) > 0) {
		r = 0;
		json_array_foreach (v, i, e) {
			if (!json_is_string(e) || !*json_string_value(e))
				return hv_error_set_path(reterr, -EINVAL, key,
				                         "%s.%zu: expected a non-empty string", key,
				                         i);
			if ((r = strv_push(&l, json_string_value(e))) < 0)
				break;
		}
	} else
		return hv_error_set_path(reterr, -EINVAL, key,
		                         "%s: expected a string or a non-empty array of strings",
		                         key);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(l);
	return 0;
}

static const char *const known_keys[] = {
        "uuid",
        "pool",
        "brand",
        "hostname",
        "init",
        "env",
        "restart_init",
        "stop_signal",
        "uid_base",
        "native",
        "max_physical_memory",
        "max_swap",
        "max_locked_memory",
        "tmpfs",
        "cpu_cap",
        "cpu_shares",
        "max_lwps",
        "zfs_io_priority",
        NULL,
};

static int
fill_paths(struct hv_zone_config *c, struct hv_error **reterr)
{
	_cleanup_free_ char *rel = NULL;
	int r;

	if (asprintf(&rel, "/%s/%s", c->pool, c->uuid) < 0)
		return -ENOMEM;
	if ((r = hv_root_path(rel, &c->zonepath)) < 0)
		return hv_error_set(reterr, r,
		                    "SABLE_ROOT: expected an absolute path without '..'");
	if (path_join(c->zonepath, "root", &c->root) < 0)
		return -ENOMEM;
	return hv_node_prefix(true, &c->prefix, reterr);
}

static int
parse_fields(json_t *o, struct hv_zone_config *c, struct hv_error **reterr)
{
	const char *s = NULL, *key;
	json_t *v;
	int64_t n;
	bool b;
	int r;

	json_object_foreach (o, key, v)
		if (!strv_contains((char **)known_keys, key))
			return hv_error_set_path(reterr, -EINVAL, key, "unknown key '%s'", key);
	if ((r = hv_json_get_string(o, "uuid", &s, reterr)) < 0)
		return r == -ENOENT ? hv_error_set(reterr, -EINVAL, "uuid: missing") : r;
	if (!uuid_is_valid(s))
		return hv_error_set_path(reterr, -EINVAL, "uuid", "uuid '%s': expected a UUID", s);
	for (size_t i = 0; i <= UUID_STRING_LEN; i++)
		c->uuid[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] + 32 : s[i]);

	s = "zones";
	if ((r = hv_json_get_string(o, "pool", &s, reterr)) < 0 && r != -ENOENT)
		return r;
	c->pool = strdup(s);
	s = "lx";
	if ((r = hv_json_get_string(o, "brand", &s, reterr)) < 0 && r != -ENOENT)
		return r;
	/* kvm: the zone's one process is QEMU, which zoneadmd starts (lib/vm). */
	if (!streq(s, "lx") && !streq(s, "kvm"))
		return hv_error_set_path(reterr, -EINVAL, "brand",
		                         "brand '%s': zones run the 'lx' or 'kvm' brand", s);
	c->brand = strdup(s);
	s = c->uuid;
	if ((r = hv_json_get_string(o, "hostname", &s, reterr)) < 0 && r != -ENOENT)
		return r;
	if (!*s || strlen(s) > 63 || strchr(s, '/'))
		return hv_error_set_path(reterr, -EINVAL, "hostname",
		                         "hostname '%s': expected 1 to 63 characters", s);
	c->hostname = strdup(s);
	if (!c->pool || !c->brand || !c->hostname)
		return -ENOMEM;

	if ((v = json_object_get(o, "init")))
		r = string_list(v, "init", &c->init, reterr);
	else
		r = strv_push(&c->init, "/sbin/init");
	if (r < 0)
		return r;
	if ((v = json_object_get(o, "env")) && (r = string_list(v, "env", &c->env, reterr)) < 0)
		return r;
	c->restart_init = true;
	if ((r = hv_json_get_bool(o, "restart_init", &b, reterr)) < 0 && r != -ENOENT)
		return r;
	if (r >= 0)
		c->restart_init = b;
	c->stop_signal = SIGPWR;
	if ((r = hv_json_get_string(o, "stop_signal", &s, reterr)) >= 0) {
		c->stop_signal = signal_from_string(s);
		if (c->stop_signal < 0)
			return hv_error_set_path(reterr, -EINVAL, "stop_signal",
			                         "stop_signal '%s': expected SIGPWR, SIGTERM, "
			                         "SIGINT, SIGHUP, SIGUSR1, SIGUSR2 or SIGRTMIN+3/4",
			                         s);
	} else if (r != -ENOENT)
		return r;
	/* Without uid_base the zone has no id range yet: `zoneadm install` assigns one. */
	if ((r = hv_json_get_int(o, "uid_base", &n, reterr)) < 0 && r != -ENOENT)
		return r;
	if (r == -ENOENT)
		n = 0;
	else if (n < 65536 || n > (int64_t)(UINT32_MAX - HV_ZONE_ID_COUNT))
		return hv_error_set_path(reterr, -EINVAL, "uid_base",
		                         "uid_base %lld: expected 65536 to %u", (long long)n,
		                         UINT32_MAX - HV_ZONE_ID_COUNT);
	c->uid_base = (uint32_t)n;
	if ((r = hv_json_get_string(o, "native", &s, reterr)) >= 0) {
		if (s[0] != '/' || !path_is_safe(s))
			return hv_error_set_path(reterr, -EINVAL, "native",
			                         "native '%s': expected an absolute path", s);
		if (!(c->native = strdup(s)))
			return -ENOMEM;
	} else if (r != -ENOENT)
		return r;
	return parse_limits(o, &c->limits, reterr);
}

int
hv_zone_config_parse(const char *text, size_t size, const char *source, struct hv_zone_config *ret,
                     struct hv_error **reterr)
{
	struct hv_zone_config c = {0};
	json_auto_t *o = NULL;
	int r;

	r = hv_json_load_buf(text, size, source, &o, reterr);
	if (r < 0)
		return r;
	if (!json_is_object(o))
		return hv_error_set(reterr, -EINVAL, "%s: expected a JSON object", source);
	r = parse_fields(o, &c, reterr);
	if (r >= 0)
		r = fill_paths(&c, reterr);
	if (r < 0) {
		if (reterr && *reterr && !strstr((*reterr)->msg, source))
			hv_error_prefix(reterr, r, "%s", source);
		hv_zone_config_done(&c);
		return r;
	}
	*ret = c;
	return 0;
}

int
hv_zone_config_load(const char *uuid, struct hv_zone_config *ret, struct hv_error **reterr)
{
	_cleanup_free_ char *rel = NULL, *path = NULL, *text = NULL;
	size_t size;
	int r;

	if (!uuid_is_valid(uuid))
		return hv_error_set(reterr, -EINVAL, "'%s' is not a zone UUID", uuid);
	/* Zones live in the pool "zones"; the config says so again and is checked below. */
	if (asprintf(&rel, "/zones/%s/config/zone.json", uuid) < 0)
		return -ENOMEM;
	if ((r = hv_root_path(rel, &path)) < 0)
		return hv_error_set(reterr, r,
		                    "SABLE_ROOT: expected an absolute path without '..'");
	r = read_full_file(path, CONFIG_MAX_SIZE, &text, &size);
	if (r == -ENOENT)
		return hv_error_set(reterr, r, "zone '%s' does not exist (no '%s')", uuid, path);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot read '%s': %m", path);
	r = hv_zone_config_parse(text, size, path, ret, reterr);
	if (r < 0)
		return r;
	if (strcasecmp(ret->uuid, uuid) != 0) {
		hv_zone_config_done(ret);
		return hv_error_set(reterr, -EINVAL, "%s: uuid '%s' does not match the zone '%s'",
		                    path, ret->uuid, uuid);
	}
	return 0;
}
