/* SPDX-License-Identifier: MIT */
/*
 * Updates (smartos.md §1.5): a validated update payload applied to a
 * stored VM object. Plain properties replace (null, or "" for a clearable
 * integer, removes them); set_<map>/remove_<map> edit tags, metadata and
 * routes; add_/update_/remove_<array> edit nics, disks, filesystems and
 * pci_devices by their key member. Then SmartOS's memory rules (§2.1).
 * The work happens on a copy: the VM changes only when all of it worked.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/strv.h"
#include "core/core-props-internal.h"
#include "core/vm-props.h"
#include "json/json.h"

#define CPU_SHARES_MAX    65535
#define HVM_MEM_MIN_EXTRA 256
#define SWAP_MIN          256

static const char *
noun(const struct hv_prop *p)
{
	if (streq(p->name, "nics"))
		return "NIC";
	if (streq(p->name, "disks"))
		return "disk";
	if (streq(p->name, "filesystems"))
		return "filesystem";
	return "PCI device";
}

/* A list given as an array of strings or as one comma-separated string. */
static int
list_items(const json_t *v, char ***ret)
{
	_cleanup_strv_free_ char **l = NULL;
	size_t i;
	json_t *e;

	if (json_is_string(v)) {
		if (!*json_string_value(v)) {
			*ret = NULL;
			return 0;
		}
		return strv_split(json_string_value(v), ',', ret);
	}
	json_array_foreach (v, i, e) {
		if (!json_is_string(e))
			return -EINVAL;
		if (strv_push(&l, json_string_value(e)) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(l);
	return 0;
}

static bool
key_equal(const struct hv_prop *p, const char *a, const char *b)
{
	/* MACs are compared without regard to case; paths exactly. */
	return streq(p->key, "mac") ? strcasecmp(a, b) == 0 : streq(a, b);
}

static json_t *
find_element(const json_t *arr, const struct hv_prop *p, const char *key, size_t *ret_index)
{
	size_t i;
	json_t *e;

	json_array_foreach (arr, i, e) {
		const char *k = json_string_value(json_object_get(e, p->key));
		if (k && key_equal(p, k, key)) {
			if (ret_index)
				*ret_index = i;
			return e;
		}
	}
	return NULL;
}

static json_t *
ensure(json_t *vm, const char *name, json_t *(*make)(void), bool (*is)(const json_t *))
{
	json_t *v = json_object_get(vm, name);

	if (is(v))
		return v;
	v = make();
	if (!v || json_object_set_new(vm, name, v) < 0)
		return NULL;
	return v;
}

static bool
is_object(const json_t *v)
{
	return json_is_object(v);
}

static bool
is_array(const json_t *v)
{
	return json_is_array(v);
}

/* ---- plain properties and maps ---- */

static int
apply_plain(json_t *vm, const struct hv_prop *p, const json_t *v)
{
	json_t *n;

	if (json_is_null(v) ||
	    (p->type == HV_PROP_INT && json_is_string(v) && !*json_string_value(v))) {
		(void)json_object_del(vm, p->name);
		return 0;
	}
	n = hv_vm_prop_normalize(p, v);
	if (!n)
		return -ENOMEM;
	if (streq(p->name, "cpu_shares") && json_integer_value(n) > CPU_SHARES_MAX)
		json_integer_set(n, CPU_SHARES_MAX);
	return hv_json_set(vm, p->name, n);
}

static int
apply_set(json_t *vm, const struct hv_prop *p, const json_t *v)
{
	json_t *m = ensure(vm, p->name, json_object, is_object);
	const char *k;
	json_t *e;

	if (!m)
		return -ENOMEM;
	json_object_foreach ((json_t *)v, k, e)
		if (hv_json_set(m, k, json_deep_copy(e)) < 0)
			return -ENOMEM;
	return 0;
}

static int
apply_remove_map(json_t *vm, const struct hv_prop *p, const json_t *v)
{
	_cleanup_strv_free_ char **keys = NULL;
	json_t *m = json_object_get(vm, p->name);
	int r;

	if ((r = list_items(v, &keys)) < 0)
		return r;
	/* Removing a key that is not there is fine, as in SmartOS. */
	STRV_FOREACH (k, keys)
		(void)json_object_del(m, *k);
	return 0;
}

/* ---- arrays ---- */

/* A NIC that becomes primary takes the flag from every other NIC. */
static void
move_primary(json_t *arr, const json_t *primary)
{
	size_t i;
	json_t *e;

	if (!json_is_true(json_object_get(primary, "primary")))
		return;
	json_array_foreach (arr, i, e)
		if (e != primary)
			(void)json_object_del(e, "primary");
}

static int
add_one(json_t *vm, json_t *arr, const struct hv_prop *p, const json_t *v, const char *path,
        struct hv_error **reterr)
{
	const char *k = json_string_value(json_object_get(v, p->key));
	json_t *e;
	int r;

	if (k && find_element(arr, p, k, NULL))
		return hv_error_set_path(reterr, -EEXIST, path, "%s: a %s with %s '%s' exists",
		                         path, noun(p), p->key, k);
	e = json_deep_copy(v);
	if (!e)
		return -ENOMEM;
	if (json_array_append_new(arr, e) < 0)
		return -ENOMEM;
	if ((r = hv_vm_element_normalize(p, e)) < 0)
		return r;
	if (streq(p->name, "nics")) {
		if ((r = hv_vm_nic_convert_aliases(e, path, reterr)) < 0 ||
		    (r = hv_vm_nic_fill(vm, e, path, reterr)) < 0)
			return r;
		move_primary(arr, e);
	} else if (streq(p->name, "disks") && (r = hv_vm_disk_fill(vm, e, path, reterr)) < 0)
		return r;
	return 0;
}

static int
apply_add(json_t *vm, const char *form, const struct hv_prop *p, const json_t *v,
          struct hv_error **reterr)
{
	json_t *arr = ensure(vm, p->name, json_array, is_array), *e;
	size_t i;
	int r;

	if (!arr)
		return -ENOMEM;
	json_array_foreach (v, i, e) {
		char path[64];

		snprintf(path, sizeof(path), "%s.%zu", form, i);
		if ((r = add_one(vm, arr, p, e, path, reterr)) < 0)
			return r;
	}
	if (json_array_size(arr) > (size_t)p->max)
		return hv_error_set_path(reterr, -E2BIG, form,
		                         "%s: a VM has at most %" PRId64 " %s", form, p->max,
		                         p->name);
	return 0;
}

static int
update_one(json_t *arr, const struct hv_prop *p, const json_t *v, const char *path,
           struct hv_error **reterr)
{
	const char *key = json_string_value(json_object_get(v, p->key)), *k;
	json_t *target, *e;
	int r;

	if (!key)
		return hv_error_set_path(reterr, -EINVAL, path, "%s: no '%s' to name the %s", path,
		                         p->key, noun(p));
	target = find_element(arr, p, key, NULL);
	if (!target)
		return hv_error_set_path(reterr, -ENOENT, path, "%s: the VM has no %s with %s '%s'",
		                         path, noun(p), p->key, key);
	json_object_foreach ((json_t *)v, k, e) {
		const struct hv_prop *m = hv_vm_prop_member(p, k);
		json_t *n;

		if (streq(k, p->key))
			continue;
		if (json_is_null(e)) {
			(void)json_object_del(target, k);
			continue;
		}
		n = m ? hv_vm_prop_normalize(m, e) : json_deep_copy(e);
		if (!n || json_object_set_new(target, k, n) < 0)
			return -ENOMEM;
	}
	/* An instruction for this update only, never stored. */
	(void)json_object_del(target, "dangerous_allow_shrink");
	if (streq(p->name, "nics")) {
		if ((r = hv_vm_nic_convert_aliases(target, path, reterr)) < 0)
			return r;
		move_primary(arr, target);
	}
	return 0;
}

static int
apply_update_elems(json_t *vm, const char *form, const struct hv_prop *p, const json_t *v,
                   struct hv_error **reterr)
{
	json_t *arr = json_object_get(vm, p->name), *e;
	size_t i;
	int r;

	json_array_foreach (v, i, e) {
		char path[64];

		snprintf(path, sizeof(path), "%s.%zu", form, i);
		if ((r = update_one(arr, p, e, path, reterr)) < 0)
			return r;
	}
	return 0;
}

static int
apply_remove_elems(json_t *vm, const char *form, const struct hv_prop *p, const json_t *v,
                   struct hv_error **reterr)
{
	_cleanup_strv_free_ char **keys = NULL;
	json_t *arr = json_object_get(vm, p->name);
	int r;

	if ((r = list_items(v, &keys)) < 0)
		return hv_error_set_path(reterr, r, form, "%s: expected a list of %s values", form,
		                         p->key);
	STRV_FOREACH (k, keys) {
		size_t index;

		if (!find_element(arr, p, *k, &index))
			return hv_error_set_path(reterr, -ENOENT, form,
			                         "%s: the VM has no %s with %s '%s'", form, noun(p),
			                         p->key, *k);
		if (json_array_remove(arr, index) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* ---- memory ---- */

struct mem {
	int64_t mpm, locked, swap, tmpfs, ram; /* -1: absent */
};

static void
mem_get(const json_t *vm, struct mem *m)
{
	m->mpm = hv_vm_get_int(vm, "max_physical_memory", -1);
	m->locked = hv_vm_get_int(vm, "max_locked_memory", -1);
	m->swap = hv_vm_get_int(vm, "max_swap", -1);
	m->tmpfs = hv_vm_get_int(vm, "tmpfs", -1);
	m->ram = hv_vm_get_int(vm, "ram", -1);
}

/* When only max_physical_memory changes, the gaps to max_locked_memory and max_swap and the
 * tmpfs ratio stay as they were. */
static void
keep_gaps(struct mem *m, const struct mem *o, bool tmpfs_given)
{
	if (o->mpm <= 0 || m->mpm <= 0)
		return;
	if (o->locked > 0 && o->locked <= o->mpm)
		m->locked = m->mpm - (o->mpm - o->locked) >= 1 ? m->mpm - (o->mpm - o->locked)
		                                               : MIN(o->locked, m->mpm);
	if (o->swap >= o->mpm)
		m->swap = m->mpm + (o->swap - o->mpm);
	if (!tmpfs_given && o->tmpfs > 0)
		m->tmpfs = MAX(o->tmpfs * m->mpm / o->mpm, (int64_t)1);
}

static int
mem_set(json_t *vm, const char *key, int64_t v)
{
	if (v < 0)
		return 0;
	return hv_json_set(vm, key, json_integer(v));
}

static int
memory_rules(json_t *vm, const json_t *old, const json_t *payload)
{
	static const char *const family[] = {"max_physical_memory", "max_locked_memory", "max_swap",
	                                     "tmpfs", "ram"};
	bool hvm = hv_brand_is_hvm(
	        hv_brand_from_string(json_string_value(json_object_get(vm, "brand"))));
	struct mem m, o;
	bool any = false;
	int r;

	for (size_t i = 0; i < ELEMENTSOF(family); i++)
		any = any || json_object_get(payload, family[i]);
	if (!any)
		return 0;
	mem_get(vm, &m);
	mem_get(old, &o);
	if (json_object_get(payload, "max_physical_memory") &&
	    !json_object_get(payload, "max_locked_memory") && !json_object_get(payload, "max_swap"))
		keep_gaps(&m, &o, json_object_get(payload, "tmpfs"));
	if (hvm && m.ram > 0) {
		if (m.mpm >= 0)
			m.mpm = MAX(m.mpm, m.ram + HVM_MEM_MIN_EXTRA);
		if (m.locked >= 0)
			m.locked = MAX(m.locked, m.ram + HVM_MEM_MIN_EXTRA);
	}
	if (m.mpm > 0) {
		if (m.locked > m.mpm)
			m.locked = m.mpm;
		if (m.swap >= 0 && m.swap < m.mpm)
			m.swap = m.mpm;
		if (m.tmpfs > m.mpm)
			m.tmpfs = m.mpm;
	}
	if (m.swap >= 0 && m.swap < SWAP_MIN)
		m.swap = SWAP_MIN;
	if ((r = mem_set(vm, "max_physical_memory", m.mpm)) < 0 ||
	    (r = mem_set(vm, "max_locked_memory", m.locked)) < 0 ||
	    (r = mem_set(vm, "max_swap", m.swap)) < 0 || (r = mem_set(vm, "tmpfs", m.tmpfs)) < 0)
		return r;
	return 0;
}

/* ---- the update ---- */

/* set_tags, remove_nics, ...: the property an update form stands for, and its verb. */
static const struct hv_prop *
update_form(const char *name, const char **ret_verb)
{
	static const char *const verbs[] = {"set_", "remove_", "add_", "update_"};

	for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
		const char *rest = startswith(name, verbs[i]);
		const struct hv_prop *p = rest ? hv_vm_prop_find(rest) : NULL;

		if (p && (p->type == HV_PROP_MAP || p->type == HV_PROP_ROUTES ||
		          p->type == HV_PROP_ARRAY)) {
			*ret_verb = verbs[i];
			return p;
		}
	}
	return NULL;
}

static int
apply_one(json_t *vm, const char *name, const json_t *v, struct hv_error **reterr)
{
	const struct hv_prop *p = hv_vm_prop_find(name);
	const char *verb = NULL;
	bool array;

	if (p)
		return apply_plain(vm, p, v);
	p = update_form(name, &verb);
	if (!p)
		return hv_error_set_path(reterr, -EINVAL, name, "unknown property '%s'", name);
	array = p->type == HV_PROP_ARRAY;
	if (streq(verb, "set_") && !array && json_is_object(v))
		return apply_set(vm, p, v);
	if (streq(verb, "remove_"))
		return array ? apply_remove_elems(vm, name, p, v, reterr)
		             : apply_remove_map(vm, p, v);
	if (streq(verb, "add_") && array && json_is_array(v))
		return apply_add(vm, name, p, v, reterr);
	if (streq(verb, "update_") && array && json_is_array(v))
		return apply_update_elems(vm, name, p, v, reterr);
	return hv_error_set_path(reterr, -EINVAL, name, "%s: not a valid update", name);
}

int
hv_vm_apply_update(json_t *vm, const json_t *payload, struct hv_error **reterr)
{
	const char *k;
	json_t *work, *v;
	int r = 0;

	if (!json_is_object(vm) || !json_is_object(payload))
		return hv_error_set(reterr, -EINVAL, "an update needs a VM and a payload object");
	work = json_deep_copy(vm);
	if (!work)
		return -ENOMEM;
	json_object_foreach ((json_t *)payload, k, v)
		if ((r = apply_one(work, k, v, reterr)) < 0)
			break;
	if (r >= 0)
		r = memory_rules(work, vm, payload);
	if (r >= 0 && (json_object_clear(vm) < 0 || json_object_update(vm, work) < 0))
		r = -ENOMEM;
	json_decref(work);
	return r;
}

int
hv_vm_update_from_args(char *const *args, size_t n, json_t **ret, struct hv_error **reterr)
{
	json_t *o = json_object();

	if (!o)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(args[i], '=');
		_cleanup_free_ char *key = NULL;
		json_t *v;

		if (!eq || eq == args[i]) {
			json_decref(o);
			return hv_error_set(reterr, -EINVAL, "'%s': expected property=value",
			                    args[i]);
		}
		key = strndup(args[i], (size_t)(eq - args[i]));
		v = json_string(eq + 1);
		if (!key || !v) {
			json_decref(v);
			json_decref(o);
			if (key && !v)
				return hv_error_set(reterr, -EINVAL, "'%s': not valid UTF-8",
				                    args[i]);
			return -ENOMEM;
		}
		if (json_object_get(o, key)) {
			json_decref(v);
			json_decref(o);
			return hv_error_set(reterr, -EINVAL, "'%s': '%s' is given twice", args[i],
			                    key);
		}
		if (json_object_set_new(o, key, v) < 0) {
			json_decref(o);
			return -ENOMEM;
		}
	}
	*ret = o;
	return 0;
}
