/* SPDX-License-Identifier: MIT */
/*
 * What changed between two versions of a VM object, in the shape of
 * `vmadm events` (smartos.md §7.4): an array of
 *
 *   {"path": ["nics", 1, "ips"], "prettyPath": "nics.*.ips",
 *    "action": "changed", "oldValue": [...], "newValue": [...]}
 *
 * path holds member names (strings) and array indices (integers: the new
 * index for a changed or added element, the old one for a removed
 * element); prettyPath joins them with dots, writes every index as "*"
 * and a name holding '.', '[' or ']' as "[name]" with its brackets
 * escaped, as SmartOS's diff does (tags[a.b]). "added" has only newValue,
 * "removed" only oldValue.
 *
 * The rules, applied from the top:
 *  - equal values: nothing;
 *  - two objects: their members in name order; a member only in old is
 *    "removed", only in new "added", in both compared in turn;
 *  - two arrays that hold only scalars (ips, resolvers, datasets): one
 *    "changed" with both whole arrays, since their order matters and a
 *    single line says what happened;
 *  - other arrays: elements are paired, and paired elements compared in
 *    turn; unpaired old elements are "removed", unpaired new ones "added"
 *    (removals, then changes, then additions). Elements of a top-level
 *    array whose property table entry names a key member (nics by mac,
 *    disks by path, filesystems by target) pair by that member, so a NIC
 *    inserted in the middle is one "added" and never a cascade of
 *    changes; other elements pair with an equal one;
 *  - anything else (scalars, or values of different types): "changed".
 *
 * Nothing is ignored: members that change on every write (last_modified)
 * or boot (zoneid, boot_timestamp, pid) are reported, as SmartOS does;
 * a consumer that finds them noisy filters by prettyPath.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/macro.h"
#include "core/vm-list.h"
#include "core/vm-props.h"
#include "json/json.h"

#define NO_PAIR SIZE_MAX

struct diff {
	json_t *changes;
	json_t *path; /* where we are: names and indices */
};

static void
pretty_component(FILE *f, const json_t *c, bool first)
{
	const char *s = json_string_value(c);

	if (!s) {
		fputs(first ? "*" : ".*", f);
		return;
	}
	if (!strpbrk(s, ".[]")) {
		fprintf(f, "%s%s", first ? "" : ".", s);
		return;
	}
	fputc('[', f);
	for (; *s; s++) {
		if (*s == '[' || *s == ']')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc(']', f);
}

static json_t *
pretty_path(const json_t *path)
{
	_cleanup_free_ char *buf = NULL;
	size_t size = 0;
	const json_t *c;
	size_t i;
	FILE *f;

	f = open_memstream(&buf, &size);
	if (!f)
		return NULL;
	json_array_foreach (path, i, c)
		pretty_component(f, c, i == 0);
	if (fclose(f) != 0)
		return NULL;
	return json_string(buf);
}

static int
add_change(struct diff *d, const char *action, const json_t *old, const json_t *new)
{
	json_auto_t *c = json_object();

	if (!c || hv_json_set(c, "path", json_deep_copy(d->path)) < 0 ||
	    hv_json_set(c, "prettyPath", pretty_path(d->path)) < 0 ||
	    hv_json_set(c, "action", json_string(action)) < 0)
		return -ENOMEM;
	if (old && hv_json_set(c, "oldValue", json_deep_copy(old)) < 0)
		return -ENOMEM;
	if (new &&hv_json_set(c, "newValue", json_deep_copy(new)) < 0)
		return -ENOMEM;
	return json_array_append(d->changes, c) < 0 ? -ENOMEM : 0;
}

static int
path_push(struct diff *d, json_t *component)
{
	return json_array_append_new(d->path, component) < 0 ? -ENOMEM : 0;
}

static void
path_pop(struct diff *d)
{
	json_array_remove(d->path, json_array_size(d->path) - 1);
}

static int diff_value(struct diff *d, const json_t *old, const json_t *new);

/* One change or comparison one step down: at a member name or an array index. */
static int
diff_at(struct diff *d, json_t *component, const char *action, const json_t *old, const json_t *new)
{
	int r;

	r = path_push(d, component);
	if (r < 0)
		return r;
	r = action ? add_change(d, action, old, new) : diff_value(d, old, new);
	path_pop(d);
	return r;
}

static int
strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char **
sorted_keys(const json_t *o)
{
	const char **keys = calloc(json_object_size(o) + 1, sizeof *keys), *k;
	json_t *v;
	size_t n = 0;

	if (!keys)
		return NULL;
	/* jansson iterates non-const objects; nothing is written through it */
	json_object_foreach ((json_t *)o, k, v)
		keys[n++] = k;
	qsort(keys, n, sizeof *keys, strcmp_ptr);
	return keys;
}

static int
diff_object(struct diff *d, const json_t *old, const json_t *new)
{
	_cleanup_free_ const char **ok = sorted_keys(old), **nk = sorted_keys(new);
	size_t i = 0, j = 0;
	int r = 0;

	if (!ok || !nk)
		return -ENOMEM;
	while (r >= 0 && (ok[i] || nk[j])) {
		int c = !ok[i] ? 1 : !nk[j] ? -1 : strcmp(ok[i], nk[j]);

		if (c < 0) {
			r = diff_at(d, json_string(ok[i]), "removed", json_object_get(old, ok[i]),
			            NULL);
			i++;
		} else if (c > 0) {
			r = diff_at(d, json_string(nk[j]), "added", NULL,
			            json_object_get(new, nk[j]));
			j++;
		} else {
			r = diff_at(d, json_string(ok[i]), NULL, json_object_get(old, ok[i]),
			            json_object_get(new, nk[j]));
			i++, j++;
		}
	}
	return r;
}

static bool
only_scalars(const json_t *a)
{
	const json_t *e;
	size_t i;

	json_array_foreach (a, i, e)
		if (json_is_object(e) || json_is_array(e))
			return false;
	return true;
}

/* The member that names an element of the array at the current path, if it is a keyed one. */
static const char *
array_key(const struct diff *d)
{
	static const struct {
		const char *array, *key;
	} fallback[] = {
	        {"nics", "mac"},
	        {"disks", "path"},
	        {"filesystems", "target"},
	        {"pci_devices", "path"},
	};
	const char *name = json_string_value(json_array_get(d->path, 0));
	const struct hv_prop *p;

	if (json_array_size(d->path) != 1 || !name)
		return NULL;
	p = hv_vm_prop_find(name);
	if (p)
		return p->type == HV_PROP_ARRAY ? p->key : NULL;
	/* no table entry (the table is not there): SmartOS's keys */
	for (size_t i = 0; i < ELEMENTSOF(fallback); i++)
		if (streq(name, fallback[i].array))
			return fallback[i].key;
	return NULL;
}

/* The first new element not taken yet with e's key (or, without one, equal to e). */
static size_t
find_pair(const json_t *e, const json_t *new, const bool *taken, const char *key)
{
	const json_t *k = key ? json_object_get(e, key) : NULL;

	for (size_t j = 0; j < json_array_size(new); j++) {
		const json_t *n = json_array_get(new, j);

		if (taken[j])
			continue;
		if (k && !json_is_null(k) ? json_equal(k, json_object_get(n, key))
		                          : json_equal(e, n))
			return j;
	}
	return NO_PAIR;
}

static int
diff_array(struct diff *d, const json_t *old, const json_t *new)
{
	size_t no = json_array_size(old), nn = json_array_size(new);
	_cleanup_free_ size_t *pair = calloc(no + 1, sizeof *pair);
	_cleanup_free_ bool *taken = calloc(nn + 1, sizeof *taken);
	const char *key = array_key(d);
	int r = 0;

	if (!pair || !taken)
		return -ENOMEM;
	for (size_t i = 0; i < no; i++) {
		pair[i] = find_pair(json_array_get(old, i), new, taken, key);
		if (pair[i] != NO_PAIR)
			taken[pair[i]] = true;
	}
	for (size_t i = 0; r >= 0 && i < no; i++)
		if (pair[i] == NO_PAIR)
			r = diff_at(d, json_integer((json_int_t)i), "removed",
			            json_array_get(old, i), NULL);
	for (size_t i = 0; r >= 0 && i < no; i++)
		if (pair[i] != NO_PAIR)
			r = diff_at(d, json_integer((json_int_t)pair[i]), NULL,
			            json_array_get(old, i), json_array_get(new, pair[i]));
	for (size_t j = 0; r >= 0 && j < nn; j++)
		if (!taken[j])
			r = diff_at(d, json_integer((json_int_t)j), "added", NULL,
			            json_array_get(new, j));
	return r;
}

static int
diff_value(struct diff *d, const json_t *old, const json_t *new)
{
	if (json_equal(old, new))
		return 0;
	if (json_is_object(old) && json_is_object(new))
		return diff_object(d, old, new);
	if (json_is_array(old) && json_is_array(new) && !(only_scalars(old) && only_scalars(new)))
		return diff_array(d, old, new);
	return add_change(d, "changed", old, new);
}

json_t *
hv_vm_diff(const json_t *old, const json_t *new)
{
	json_auto_t *empty = json_object(), *path = json_array();
	struct diff d = {.changes = json_array(), .path = path};

	if (!empty || !path || !d.changes)
		return json_decref(d.changes), NULL;
	if (diff_value(&d, old ? old : empty, new ? new : empty) < 0)
		return json_decref(d.changes), NULL;
	return d.changes;
}
