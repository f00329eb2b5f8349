/* SPDX-License-Identifier: MIT */
/*
 * The `vmadm list` table (smartos.md §1.3). Columns (-o) and sort keys
 * (-s) are resolved once, before any VM is looked at: a listable property
 * takes its header and width from the property table; an element member
 * (nics.0.ip: a member the table knows, of an array property) or a map key
 * (tags.role, customer_metadata.x: any key of a map property) gets its
 * upper-cased name as header and width 20. "*" is refused there: a column
 * shows one value.
 *
 * Cells: the value's text form (hv_vm_scalar_text; an array of scalars
 * joined with ',', anything else compact JSON); "-" for a missing, null
 * or empty value ("" with -p). Unlike SmartOS, false and 0 are shown as
 * such, not as "-". `type` is cut to 4 characters (BHYV); `ram` of a VM
 * that is not HVM is its max_physical_memory. Widths count characters,
 * not bytes, and are minimums: a longer value is printed whole and pushes
 * the rest of its line right, as SmartOS's sprintf("%-10s") does.
 * Trailing spaces are never written. -p joins cells with ':' unescaped.
 *
 * Sorting: each VM's sort values are looked up once; numbers compare
 * numerically, anything else by its text; a missing value sorts after
 * every present one (before, with "-"). Ties go to the uuid, then to the
 * input order, so the order is total and the sort stable: O(n log n).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "core/vm-list.h"
#include "core/vm-props.h"
#include "json/json.h"

#define FIELDS_MAX      64
#define SUB_FIELD_WIDTH 20
#define TYPE_SHOWN      4
#define DEFAULT_FIELDS  "uuid,type,ram,state,alias"
#define DEFAULT_SORT    "ram,uuid"
#define FIELD_NAME_MAX  64

struct column {
	char *field;
	char *header;
	unsigned width;
	bool descending;
	bool is_type;
};

struct columns {
	struct column *c;
	size_t n;
};

static void
columns_done(struct columns *cols)
{
	for (size_t i = 0; i < cols->n; i++) {
		free(cols->c[i].field);
		free(cols->c[i].header);
	}
	free(cols->c);
	*cols = (struct columns){0};
}

/* "N.member": a decimal index and a member the array's table entry knows. */
static bool
element_field_valid(const struct hv_prop *array, const char *rest)
{
	const char *dot = strchr(rest, '.');

	if (!dot || dot == rest)
		return false;
	for (const char *c = rest; c < dot; c++)
		if (!isdigit((unsigned char)*c))
			return false;
	return hv_vm_prop_member(array, dot + 1) != NULL;
}

/* nics.0.ip, disks.1.size (array properties) or tags.x, customer_metadata.x (maps). */
static bool
sub_field_valid(const char *name)
{
	const char *dot = strchr(name, '.');
	char head[FIELD_NAME_MAX];
	const struct hv_prop *p;

	if (!dot || (size_t)(dot - name) >= sizeof head)
		return false;
	memcpy(head, name, (size_t)(dot - name));
	head[dot - name] = 0;
	p = hv_vm_prop_find(head);
	if (!p)
		return false;
	if (p->type == HV_PROP_MAP)
		return dot[1] != 0;
	if (p->type == HV_PROP_ARRAY)
		return element_field_valid(p, dot + 1);
	return false;
}

static bool
has_wildcard(const char *name)
{
	for (const char *s = name; (s = strchr(s, '*')); s++)
		if ((s == name || s[-1] == '.') && (s[1] == 0 || s[1] == '.'))
			return true;
	return false;
}

static int
column_resolve(struct column *c, const char *what, struct hv_error **reterr)
{
	const struct hv_prop *p;

	if (has_wildcard(c->field))
		return hv_error_set(reterr, -EINVAL,
		                    "invalid %s field '%s': '*' works in filters only; name one "
		                    "element, as in nics.0.ip",
		                    what, c->field);
	p = hv_vm_prop_find(c->field);
	if (p && p->header) {
		c->header = strdup(p->header);
		c->width = p->width;
	} else if (sub_field_valid(c->field)) {
		c->header = strdup(c->field);
		for (char *s = c->header; s && *s; s++)
			*s = (char)toupper((unsigned char)*s);
		c->width = SUB_FIELD_WIDTH;
	} else
		return hv_error_set(reterr, -EINVAL,
		                    "invalid %s field '%s': expected a listable property (such as "
		                    "uuid, type, ram, state, alias), an element member (nics.0.ip, "
		                    "disks.0.size) or a map key (tags.role, customer_metadata.key)",
		                    what, c->field);
	if (!c->header)
		return -ENOMEM;
	c->is_type = streq(c->field, "type");
	return 0;
}

/* Split a comma-separated list of fields; with signs, a leading '-' or '+' sets the direction. */
static int
columns_parse(const char *list, bool signs, struct columns *ret, struct hv_error **reterr)
{
	const char *what = signs ? "sort" : "output";
	_cleanup_strv_free_ char **l = NULL;
	int r;

	r = strv_split(list, ',', &l);
	if (r < 0)
		return r;
	if (strv_length(l) > FIELDS_MAX)
		return hv_error_set(reterr, -E2BIG, "too many %s fields (at most %d)", what,
		                    FIELDS_MAX);
	ret->c = calloc(strv_length(l), sizeof *ret->c);
	if (!ret->c)
		return -ENOMEM;
	STRV_FOREACH (s, l) {
		struct column *c = &ret->c[ret->n];
		const char *name = *s;

		if (signs && (name[0] == '-' || name[0] == '+'))
			c->descending = *name++ == '-';
		c->field = strdup(name);
		ret->n++;
		if (!c->field)
			return -ENOMEM;
		r = column_resolve(c, what, reterr);
		if (r < 0)
			return r;
	}
	return 0;
}

static const json_t *
field_value(const json_t *vm, const struct column *c)
{
	const json_t *v = hv_vm_lookup_key(vm, hv_vm_list_field_key(vm, c->field));

	if (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
		return NULL;
	return v;
}

/* An array of scalars joined with ',' (as JavaScript's toString); anything else compact JSON. */
static char *
compound_text(const json_t *v)
{
	_cleanup_strv_free_ char **l = NULL;
	char buf[HV_VM_TEXT_MAX];
	const json_t *e;
	size_t i;

	if (!json_is_array(v))
		return hv_json_dumps_compact(v);
	json_array_foreach (v, i, e) {
		const char *t = hv_vm_scalar_text(e, buf);

		if (!t)
			return hv_json_dumps_compact(v);
		if (strv_push(&l, t) < 0)
			return NULL;
	}
	return l ? strv_join(l, ",") : strdup("");
}

/* The text of a present value: borrowed (from v or buf) or, for arrays and objects, *owned. */
static const char *
value_text(const json_t *v, char buf[static HV_VM_TEXT_MAX], char **owned)
{
	const char *t = hv_vm_scalar_text(v, buf);

	if (t)
		return t;
	*owned = compound_text(v);
	return *owned;
}

enum { KEY_MISSING, KEY_NUMBER, KEY_TEXT };

struct sort_key {
	int kind;
	bool is_int;
	json_int_t i;
	double d;
	const char *text;
	char *owned;
	char buf[HV_VM_TEXT_MAX];
};

struct row {
	const json_t *vm;
	size_t index;
	const char *uuid;
	struct sort_key *keys;
};

static int
sort_key_fill(struct sort_key *k, const json_t *vm, const struct column *c)
{
	const json_t *v = field_value(vm, c);

	if (!v) {
		k->kind = KEY_MISSING;
		return 0;
	}
	k->text = value_text(v, k->buf, &k->owned);
	if (!k->text)
		return -ENOMEM;
	k->kind = json_is_number(v) ? KEY_NUMBER : KEY_TEXT;
	k->is_int = json_is_integer(v);
	k->i = json_integer_value(v);
	k->d = json_number_value(v);
	return 0;
}

static int
key_cmp(const struct sort_key *a, const struct sort_key *b)
{
	if (a->kind == KEY_MISSING || b->kind == KEY_MISSING)
		return (a->kind == KEY_MISSING) - (b->kind == KEY_MISSING);
	if (a->kind == KEY_NUMBER && b->kind == KEY_NUMBER) {
		if (a->is_int && b->is_int)
			return (a->i > b->i) - (a->i < b->i);
		return (a->d > b->d) - (a->d < b->d);
	}
	return strcmp(a->text, b->text);
}

static int
row_cmp(const void *pa, const void *pb, void *userdata)
{
	const struct row *a = pa, *b = pb;
	const struct columns *sorts = userdata;
	int c;

	for (size_t i = 0; i < sorts->n; i++) {
		c = key_cmp(&a->keys[i], &b->keys[i]);
		if (c != 0)
			return sorts->c[i].descending ? -c : c;
	}
	c = strcmp(strempty(a->uuid), strempty(b->uuid));
	if (c != 0)
		return c;
	return (a->index > b->index) - (a->index < b->index);
}

struct table {
	struct row *rows;
	struct sort_key *keys;
	size_t n, n_keys;
};

static void
table_done(struct table *t)
{
	for (size_t i = 0; i < t->n_keys; i++)
		free(t->keys[i].owned);
	free(t->keys);
	free(t->rows);
}

static int
table_sort(struct table *t, const json_t *vms, const struct columns *sorts,
           struct hv_error **reterr)
{
	size_t n = json_array_size(vms);
	int r;

	t->rows = calloc(MAX(n, (size_t)1), sizeof *t->rows);
	t->keys = calloc(MAX(n * sorts->n, (size_t)1), sizeof *t->keys);
	if (!t->rows || !t->keys)
		return -ENOMEM;
	for (t->n = 0; t->n < n; t->n++) {
		struct row *row = &t->rows[t->n];

		row->vm = json_array_get(vms, t->n);
		if (!json_is_object(row->vm))
			return hv_error_set(reterr, -EINVAL, "VM %zu of the list is not an object",
			                    t->n);
		row->index = t->n;
		row->uuid = json_string_value(json_object_get(row->vm, "uuid"));
		row->keys = &t->keys[t->n * sorts->n];
		for (size_t k = 0; k < sorts->n; k++, t->n_keys++) {
			r = sort_key_fill(&row->keys[k], row->vm, &sorts->c[k]);
			if (r < 0)
				return r;
		}
	}
	qsort_r(t->rows, t->n, sizeof *t->rows, row_cmp, (void *)sorts);
	return 0;
}

/* One output line; padding is held back until something follows it, so no line ends in spaces. */
struct line {
	FILE *f;
	bool parsable, first;
	size_t pending;
};

static size_t
utf8_chars(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xC0) != 0x80;
	return c;
}

static void
line_cell(struct line *l, const char *s, size_t n, unsigned width)
{
	size_t chars = utf8_chars(s, n);

	if (!l->first) {
		if (l->parsable)
			fputc(':', l->f);
		else
			l->pending += 2;
	}
	l->first = false;
	if (n > 0) {
		for (; l->pending > 0; l->pending--)
			fputc(' ', l->f);
		fwrite(s, 1, n, l->f);
	}
	if (!l->parsable && chars < width)
		l->pending += width - chars;
}

static void
line_end(struct line *l)
{
	fputc('\n', l->f);
	l->first = true;
	l->pending = 0;
}

static int
write_row(struct line *l, const json_t *vm, const struct columns *cols)
{
	for (size_t i = 0; i < cols->n; i++) {
		const struct column *c = &cols->c[i];
		const json_t *v = field_value(vm, c);
		_cleanup_free_ char *owned = NULL;
		char buf[HV_VM_TEXT_MAX];
		const char *t = l->parsable ? "" : "-";
		size_t n;

		if (v && !(t = value_text(v, buf, &owned)))
			return -ENOMEM;
		n = strlen(t);
		if (c->is_type && v)
			n = MIN(n, (size_t)TYPE_SHOWN);
		line_cell(l, t, n, c->width);
	}
	line_end(l);
	return 0;
}

static int
write_table(const struct table *t, const struct columns *cols, const struct hv_vm_list_opts *o,
            char **ret_text)
{
	_cleanup_free_ char *buf = NULL;
	size_t size = 0;
	struct line l = {.parsable = o->parsable, .first = true};
	int r = 0;

	l.f = open_memstream(&buf, &size);
	if (!l.f)
		return -ENOMEM;
	if (!o->parsable && !o->no_header) {
		for (size_t i = 0; i < cols->n; i++)
			line_cell(&l, cols->c[i].header, strlen(cols->c[i].header),
			          cols->c[i].width);
		line_end(&l);
	}
	for (size_t i = 0; i < t->n && r >= 0; i++)
		r = write_row(&l, t->rows[i].vm, cols);
	if (fclose(l.f) != 0 && r >= 0)
		r = -ENOMEM;
	if (r < 0)
		return r;
	*ret_text = TAKE_PTR(buf);
	return 0;
}

int
hv_vm_list_format(const json_t *vms, const struct hv_vm_list_opts *o, char **ret_text,
                  struct hv_error **reterr)
{
	static const struct hv_vm_list_opts defaults = {0};
	_cleanup_(columns_done) struct columns cols = {0}, sorts = {0};
	_cleanup_(table_done) struct table t = {0};
	int r;

	if (!o)
		o = &defaults;
	if (!json_is_array(vms))
		return hv_error_set(reterr, -EINVAL, "expected an array of VMs");
	r = columns_parse(o->fields ? o->fields : DEFAULT_FIELDS, false, &cols, reterr);
	if (r < 0)
		return r;
	r = columns_parse(o->sort ? o->sort : DEFAULT_SORT, true, &sorts, reterr);
	if (r < 0)
		return r;
	r = table_sort(&t, vms, &sorts, reterr);
	if (r < 0)
		return r;
	return write_table(&t, &cols, o, ret_text);
}
