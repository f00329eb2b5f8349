/* SPDX-License-Identifier: MIT */
/*
 * Flattening and dotted keys (smartos.md §1.4). A dotted key names one
 * place in a VM object: object members by name, array elements by decimal
 * index ("nics.0.ips.1"). Map keys may contain dots themselves (a tag
 * "a.b"), so at each object a key is resolved by trying every prefix of
 * the rest that ends at a dot, shortest first: "tags.a.b" finds
 * tags["a"]["b"] or tags["a.b"], exactly what flattening would have
 * written for either. Where the caller allows it, "*" as an array index
 * stands for every element.
 *
 * The walk that resolves a key keeps the concrete steps it took, so
 * hv_vm_project() can rebuild the same nesting around what it found.
 * Nothing here changes the VM; keys are bounded (KEY_LEN_MAX bytes,
 * KEY_DEPTH_MAX components), and no key is ever split into a list: the
 * walk reads it in place.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "core/vm-list.h"
#include "core/vm-props.h"

#define KEY_LEN_MAX   4096
#define KEY_DEPTH_MAX 64

struct step {
	const char *name;   /* an object member (name[0..len)), or NULL for an array element */
	size_t len;         /* length of name */
	size_t index, size; /* the element's index and its array's size */
};

struct walk {
	bool wildcards;
	/* called with each value found; true stops the walk */
	bool (*found)(const json_t *v, struct walk *w);
	bool (*user_fn)(const json_t *v, void *userdata);
	void *userdata;
	const json_t *first;
	struct step steps[KEY_DEPTH_MAX];
	size_t n_steps;
};

static bool walk_node(struct walk *w, const json_t *node, const char *key, size_t len);

/* After a step that used key[0..used): the value itself, or what the rest after the dot names. */
static bool
walk_on(struct walk *w, const json_t *child, const char *key, size_t len, size_t used)
{
	if (used == len)
		return w->found(child, w);
	return walk_node(w, child, key + used + 1, len - used - 1);
}

static bool
walk_object(struct walk *w, const json_t *obj, const char *key, size_t len)
{
	for (size_t i = 0; i <= len; i++) {
		const json_t *child;
		bool r;

		if (i < len && key[i] != '.')
			continue;
		child = json_object_getn(obj, key, i);
		if (!child)
			continue;
		w->steps[w->n_steps++] = (struct step){.name = key, .len = i};
		r = walk_on(w, child, key, len, i);
		w->n_steps--;
		if (r)
			return true;
	}
	return false;
}

/* A decimal array index: digits only, no sign, no leading zero. */
static bool
parse_index(const char *s, size_t n, size_t *ret)
{
	size_t v = 0;

	if (n == 0 || n > 9 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	*ret = v;
	return true;
}

static bool
walk_element(struct walk *w, const json_t *arr, size_t i, const char *key, size_t len, size_t used)
{
	bool r;

	w->steps[w->n_steps++] = (struct step){.index = i, .size = json_array_size(arr)};
	r = walk_on(w, json_array_get(arr, i), key, len, used);
	w->n_steps--;
	return r;
}

static bool
walk_array(struct walk *w, const json_t *arr, const char *key, size_t len)
{
	const char *dot = memchr(key, '.', len);
	size_t used = dot ? (size_t)(dot - key) : len, index;

	if (w->wildcards && used == 1 && key[0] == '*') {
		for (size_t i = 0; i < json_array_size(arr); i++)
			if (walk_element(w, arr, i, key, len, used))
				return true;
		return false;
	}
	if (!parse_index(key, used, &index) || index >= json_array_size(arr))
		return false;
	return walk_element(w, arr, index, key, len, used);
}

static bool
walk_node(struct walk *w, const json_t *node, const char *key, size_t len)
{
	if (w->n_steps >= KEY_DEPTH_MAX)
		return false;
	if (json_is_object(node))
		return walk_object(w, node, key, len);
	if (json_is_array(node))
		return walk_array(w, node, key, len);
	return false;
}

static bool
walk_key(struct walk *w, const json_t *vm, const char *key)
{
	size_t len;

	if (!vm || !key)
		return false;
	len = strnlen(key, KEY_LEN_MAX + 1);
	if (len == 0 || len > KEY_LEN_MAX)
		return false;
	return walk_node(w, vm, key, len);
}

static bool
keep_first(const json_t *v, struct walk *w)
{
	w->first = v;
	return true;
}

const json_t *
hv_vm_lookup_key(const json_t *vm, const char *key)
{
	struct walk w = {.found = keep_first};

	return walk_key(&w, vm, key) ? w.first : NULL;
}

static bool
call_user(const json_t *v, struct walk *w)
{
	return w->user_fn(v, w->userdata);
}

bool
hv_vm_key_any(const json_t *vm, const char *key, bool (*fn)(const json_t *v, void *userdata),
              void *userdata)
{
	struct walk w = {
	        .wildcards = true, .found = call_user, .user_fn = fn, .userdata = userdata};

	return walk_key(&w, vm, key);
}

const char *
hv_vm_list_field_key(const json_t *vm, const char *field)
{
	const char *brand;
	enum hv_brand b;

	if (!streq(field, "ram"))
		return field;
	brand = json_string_value(json_object_get(vm, "brand"));
	b = brand ? hv_brand_from_string(brand) : _HV_BRAND_INVALID;
	if (b >= 0 && hv_brand_is_hvm(b))
		return field;
	return json_object_get(vm, "max_physical_memory") ? "max_physical_memory" : field;
}

/* As JavaScript prints a number: integral values without exponent below 1e21, else shortest. */
static const char *
real_text(double d, char buf[static HV_VM_TEXT_MAX])
{
	if (d == floor(d) && fabs(d) < 1e21) {
		snprintf(buf, HV_VM_TEXT_MAX, "%.0f", d);
		return buf;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, HV_VM_TEXT_MAX, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	return buf;
}

const char *
hv_vm_scalar_text(const json_t *v, char buf[static HV_VM_TEXT_MAX])
{
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING:
		return json_string_value(v);
	case JSON_INTEGER:
		snprintf(buf, HV_VM_TEXT_MAX, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	case JSON_REAL:
		return real_text(json_real_value(v), buf);
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	default:
		return NULL;
	}
}

/* Flattening: the key so far lives in a growing buffer, cut back after each member. */
struct flat {
	json_t *out;
	char *buf;
	size_t len, alloc;
};

static int
flat_append(struct flat *f, const char *s, size_t n)
{
	size_t need = f->len + 1 + n + 1;

	if (need > f->alloc) {
		size_t na = MAX(need, f->alloc * 2);
		char *nb = realloc(f->buf, na);

		if (!nb)
			return -ENOMEM;
		f->buf = nb;
		f->alloc = na;
	}
	if (f->len > 0)
		f->buf[f->len++] = '.';
	memcpy(f->buf + f->len, s, n);
	f->len += n;
	f->buf[f->len] = 0;
	return 0;
}

static int flatten_node(struct flat *f, const json_t *node);

static int
flatten_member(struct flat *f, const char *name, size_t n, const json_t *v)
{
	size_t saved = f->len;
	int r;

	r = flat_append(f, name, n);
	if (r >= 0)
		r = flatten_node(f, v);
	f->len = saved;
	return r;
}

static int
flatten_node(struct flat *f, const json_t *node)
{
	/* jansson's iterators take non-const objects; nothing here writes through them */
	json_t *o = (json_t *)node, *v;
	const char *k;
	size_t i;
	int r;

	if (json_is_object(o)) {
		json_object_foreach (o, k, v)
			if ((r = flatten_member(f, k, strlen(k), v)) < 0)
				return r;
	} else if (json_is_array(o)) {
		json_array_foreach (o, i, v) {
			char idx[24];
			int n = snprintf(idx, sizeof idx, "%zu", i);

			if ((r = flatten_member(f, idx, (size_t)n, v)) < 0)
				return r;
		}
	} else if (f->len > 0) {
		if (json_object_set_new(f->out, f->buf, json_deep_copy(node)) < 0)
			return -ENOMEM;
	}
	return 0;
}

json_t *
hv_vm_flatten(const json_t *vm)
{
	struct flat f = {.out = json_object()};
	int r;

	if (!f.out)
		return NULL;
	r = vm ? flatten_node(&f, vm) : 0;
	free(f.buf);
	if (r < 0)
		f.out = (json_decref(f.out), NULL);
	return f.out;
}

/*
 * Projection. Each value found is copied into the result at the same
 * steps; arrays are made as long as the VM's and filled with a private
 * "hole" object, so elements from several fields land in one element
 * ("nics.0.ip,nics.0.mac"). Holes are dropped at the end, so the result's
 * arrays hold only the elements that were asked for, in the VM's order.
 */
struct project {
	json_t *out, *hole;
	int r;
};

static json_t *
holes(size_t n, json_t *hole)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append(a, hole) < 0)
			a = (json_decref(a), NULL);
	return a;
}

/* Set the member or element a step names; takes v (NULL after a failed constructor). */
static int
step_set(json_t *cur, const struct step *s, json_t *v)
{
	int r;

	if (!v)
		return -ENOMEM;
	if (s->name)
		r = json_object_setn_new(cur, s->name, s->len, v);
	else
		r = json_array_set_new(cur, s->index, v);
	return r < 0 ? -ENOMEM : 0;
}

static json_t *
step_get(json_t *cur, const struct step *s, const json_t *hole)
{
	json_t *v =
	        s->name ? json_object_getn(cur, s->name, s->len) : json_array_get(cur, s->index);

	return v == hole ? NULL : v;
}

static bool
project_found(const json_t *v, struct walk *w)
{
	struct project *p = w->userdata;
	json_t *cur = p->out;

	for (size_t i = 0; i + 1 < w->n_steps; i++) {
		const struct step *s = &w->steps[i], *next = &w->steps[i + 1];
		json_t *child = step_get(cur, s, p->hole);

		if (!child) {
			child = next->name ? json_object() : holes(next->size, p->hole);
			if ((p->r = step_set(cur, s, child)) < 0)
				return true;
		}
		cur = child;
	}
	p->r = step_set(cur, &w->steps[w->n_steps - 1], json_deep_copy(v));
	return p->r < 0; /* go on: every match of a wildcard */
}

static void
drop_holes(json_t *node, const json_t *hole)
{
	json_t *v;
	const char *k;

	if (json_is_array(node)) {
		for (size_t i = json_array_size(node); i-- > 0;) {
			v = json_array_get(node, i);
			if (v == hole)
				json_array_remove(node, i);
			else
				drop_holes(v, hole);
		}
	} else if (json_is_object(node)) {
		json_object_foreach (node, k, v)
			drop_holes(v, hole);
	}
}

json_t *
hv_vm_project(const json_t *vm, const char *fields)
{
	_cleanup_strv_free_ char **l = NULL;
	json_auto_t *hole = json_object();
	struct project p = {.out = json_object(), .hole = hole};

	if (!fields)
		return json_deep_copy(vm);
	if (!p.out || !hole || strv_split(fields, ',', &l) < 0)
		return json_decref(p.out), NULL;
	STRV_FOREACH (f, l) {
		struct walk w = {.wildcards = true, .found = project_found, .userdata = &p};

		(void)walk_key(&w, vm, *f);
		if (p.r < 0)
			return json_decref(p.out), NULL;
	}
	drop_holes(p.out, hole);
	return p.out;
}
