/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "basic/cleanup.h"
#include "basic/config.h"
#include "basic/fileio.h"
#include "basic/lock.h"
#include "basic/path.h"
#include "basic/root.h"

#define CONFIG_LOCK_TIMEOUT_MS 10000

struct hv_config *
hv_config_free(struct hv_config *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n_entries; i++) {
		free(c->entries[i].key);
		free(c->entries[i].value);
	}
	free(c->entries);
	free(c->source);
	free(c);
	return NULL;
}

bool
hv_config_key_is_valid(const char *key)
{
	if (!key || !(isalpha((unsigned char)key[0]) || key[0] == '_'))
		return false;
	for (const char *p = key; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return false;
	return strlen(key) <= 128;
}

const char *
hv_config_get(const struct hv_config *c, const char *key)
{
	for (size_t i = 0; c && i < c->n_entries; i++)
		if (streq(c->entries[i].key, key))
			return c->entries[i].value;
	return NULL;
}

/* Characters a shell takes literally outside quotes. */
static bool
is_plain(char c)
{
	/* Not '~': a shell expands it at the start of a value and after ':'. */
	return c && (isalnum((unsigned char)c) || strchr("_-.,:/@%+=^!", c));
}

/*
 * Parse the value part of one line (after '='), as sh would: words made of
 * plain characters, '…' and "…" strings, concatenated, up to whitespace;
 * then only a comment may follow.
 */
static int
parse_value(const char *s, char **ret, const char **ret_problem)
{
	_cleanup_free_ char *v = malloc(strlen(s) + 1);
	char *o = v;

	if (!v)
		return -ENOMEM;
	while (*s && !isblank((unsigned char)*s)) {
		if (*s == '\'') {
			const char *e = strchr(s + 1, '\'');
			if (!e) {
				*ret_problem = "unterminated single quote";
				return -EINVAL;
			}
			memcpy(o, s + 1, (size_t)(e - s - 1));
			o += e - s - 1;
			s = e + 1;
		} else if (*s == '"') {
			for (s++; *s != '"'; s++) {
				if (!*s) {
					*ret_problem = "unterminated double quote";
					return -EINVAL;
				}
				if (*s == '$' || *s == '`') {
					*ret_problem = "'$' and '`' would be expanded by a shell; "
					               "use single quotes";
					return -EINVAL;
				}
				if (*s == '\\' && s[1] && strchr("\"\\$`", s[1]))
					s++;
				*o++ = *s;
			}
			s++;
		} else if (*s == '\\') {
			/* Outside quotes a backslash makes the next character literal. */
			if (!s[1]) {
				*ret_problem = "a value cannot continue on the next line";
				return -EINVAL;
			}
			*o++ = s[1];
			s += 2;
		} else if (is_plain(*s)) {
			*o++ = *s++;
		} else {
			*ret_problem = "value has a character a shell would interpret; quote it";
			return -EINVAL;
		}
	}
	while (isblank((unsigned char)*s))
		s++;
	if (*s && *s != '#') {
		*ret_problem = "unexpected text after the value";
		return -EINVAL;
	}
	*o = 0;
	*ret = TAKE_PTR(v);
	return 0;
}

/* Parse one line; *ret_key NULL for blank and comment lines. */
static int
parse_line(const char *line, char **ret_key, char **ret_value, const char **ret_problem)
{
	_cleanup_free_ char *key = NULL;
	const char *eq;

	while (isblank((unsigned char)*line))
		line++;
	if (!*line || *line == '#') {
		*ret_key = *ret_value = NULL;
		return 0;
	}
	eq = strchr(line, '=');
	if (!eq) {
		*ret_problem = "expected key=value";
		return -EINVAL;
	}
	key = strndup(line, (size_t)(eq - line));
	if (!key)
		return -ENOMEM;
	if (!hv_config_key_is_valid(key)) {
		*ret_problem = "expected key=value with a key of letters, digits and '_'";
		return -EINVAL;
	}
	int r = parse_value(eq + 1, ret_value, ret_problem);
	if (r < 0)
		return r;
	*ret_key = TAKE_PTR(key);
	return 0;
}

static int
add_entry(struct hv_config *c, char *key, char *value, unsigned line)
{
	struct hv_config_entry *n;

	n = reallocarray(c->entries, c->n_entries + 1, sizeof(*n));
	if (!n) {
		free(key);
		free(value);
		return -ENOMEM;
	}
	c->entries = n;
	c->entries[c->n_entries++] = (struct hv_config_entry){key, value, line};
	return 0;
}

int
hv_config_parse(const char *text, size_t size, const char *source, struct hv_config **ret,
                struct hv_error **reterr)
{
	_cleanup_hv_config_ struct hv_config *c = calloc(1, sizeof(*c));
	const char *p = text, *end = text + size;
	unsigned lineno = 0;
	int r;

	if (!c || !(c->source = strdup(source)))
		return -ENOMEM;
	if (memchr(text, 0, size))
		return hv_error_set(reterr, -EINVAL, "%s: contains a NUL byte, expected text",
		                    source);

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		_cleanup_free_ char *line = strndup(p, len), *key = NULL, *value = NULL;
		const char *problem = NULL;

		if (!line)
			return -ENOMEM;
		lineno++;
		if (len > 0 && line[len - 1] == '\r')
			line[len - 1] = 0;
		r = parse_line(line, &key, &value, &problem);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			return hv_error_set(reterr, r, "%s:%u: %s, got '%s'", source, lineno,
			                    problem, line);
		if (key) {
			for (size_t i = 0; i < c->n_entries; i++)
				if (streq(c->entries[i].key, key))
					return hv_error_set(
					        reterr, -EINVAL,
					        "%s:%u: key '%s' is already set on line %u", source,
					        lineno, key, c->entries[i].line);
			r = add_entry(c, TAKE_PTR(key), TAKE_PTR(value), lineno);
			if (r < 0)
				return r;
		}
		p += len + 1;
	}
	*ret = TAKE_PTR(c);
	return 0;
}

int
hv_config_load(const char *path, struct hv_config **ret, struct hv_error **reterr)
{
	_cleanup_free_ char *text = NULL;
	size_t size = 0;
	int r;

	r = read_full_file(path, HV_CONFIG_MAX_SIZE, &text, &size);
	if (r == -ENOENT)
		return hv_config_parse("", 0, path, ret, reterr);
	if (r == -EFBIG)
		return hv_error_set(reterr, r, "%s: larger than %u bytes", path,
		                    HV_CONFIG_MAX_SIZE);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot read '%s': %m", path);
	return hv_config_parse(text, size, path, ret, reterr);
}

char *
hv_config_quote(const char *value)
{
	size_t n = 3;
	bool plain = *value;
	char *q, *o;

	for (const char *p = value; *p; p++) {
		if (!is_plain(*p))
			plain = false;
		n += *p == '\'' ? 4 : 1;
	}
	if (plain)
		return strdup(value);
	q = o = malloc(n);
	if (!q)
		return NULL;
	*o++ = '\'';
	for (const char *p = value; *p; p++) {
		if (*p == '\'')
			o = stpcpy(o, "'\\''");
		else
			*o++ = *p;
	}
	*o++ = '\'';
	*o = 0;
	return q;
}

/* Rewrite text with key's line replaced (or appended, or dropped when value is NULL). */
static int
rewrite(const char *text, size_t size, const struct hv_config *c, const char *key,
        const char *value, char **ret)
{
	_cleanup_free_ char *quoted = NULL, *out = NULL;
	unsigned target = 0, lineno = 0;
	size_t alloc, o = 0;
	const char *p = text, *end = text + size;

	for (size_t i = 0; i < c->n_entries; i++)
		if (streq(c->entries[i].key, key))
			target = c->entries[i].line;
	if (value && !(quoted = hv_config_quote(value)))
		return -ENOMEM;

	alloc = size + strlen(key) + (quoted ? strlen(quoted) : 0) + 4;
	out = malloc(alloc);
	if (!out)
		return -ENOMEM;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		lineno++;
		if (lineno == target) {
			if (quoted)
				o += (size_t)sprintf(out + o, "%s=%s\n", key, quoted);
		} else {
			memcpy(out + o, p, len);
			o += len;
			out[o++] = '\n';
		}
		p += len + 1;
	}
	if (!target && quoted)
		o += (size_t)sprintf(out + o, "%s=%s\n", key, quoted);
	out[o] = 0;
	*ret = TAKE_PTR(out);
	return 0;
}

static int
config_lock(const char *path, int *ret_fd, struct hv_error **reterr)
{
	_cleanup_free_ char *dir = NULL, *lock = NULL;
	int r;

	r = path_dirname(path, &dir);
	if (r < 0)
		return r;
	r = mkdir_p(dir, 0755);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot create '%s': %m", dir);
	if (asprintf(&lock, "%s/.config.lock", dir) < 0)
		return -ENOMEM;
	r = lock_file(lock, LOCK_EX, CONFIG_LOCK_TIMEOUT_MS, ret_fd);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot lock '%s': %m", lock);
	return 0;
}

/* With the lock held: the file as it is (a missing one is empty) and what it says. */
static int
read_locked(const char *path, char **ret_text, size_t *ret_size, struct hv_config **ret,
            struct hv_error **reterr)
{
	_cleanup_free_ char *text = NULL;
	size_t size = 0;
	int r;

	r = read_full_file(path, HV_CONFIG_MAX_SIZE, &text, &size);
	if (r == -ENOENT) {
		text = strdup("");
		if (!text)
			return -ENOMEM;
	} else if (r < 0)
		return hv_error_set(reterr, r, "cannot read '%s': %m", path);
	r = hv_config_parse(text, size, path, ret, reterr);
	if (r < 0)
		return r;
	*ret_text = TAKE_PTR(text);
	*ret_size = size;
	return 0;
}

/* A change's key is a key and its value one line. */
static int
check_change(const char *key, const char *value, struct hv_error **reterr)
{
	if (!hv_config_key_is_valid(key))
		return hv_error_set(reterr, -EINVAL,
		                    "config key '%s': expected letters, digits and '_'", key);
	if (value && strchr(value, '\n'))
		return hv_error_set(reterr, -EINVAL, "config key '%s': value has a newline", key);
	return 0;
}

/* With the lock held: read, check, rewrite. */
static int
update_locked(const char *path, const char *key, const char *value, struct hv_error **reterr)
{
	_cleanup_free_ char *text = NULL, *out = NULL;
	_cleanup_hv_config_ struct hv_config *c = NULL;
	size_t size = 0;
	int r;

	/* Never rewrite a file we cannot parse: we would lose what we do not understand. */
	r = read_locked(path, &text, &size, &c, reterr);
	if (r < 0)
		return r;
	r = rewrite(text, size, c, key, value, &out);
	if (r < 0)
		return r;
	r = write_file_atomic(path, out, strlen(out), 0644);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot write '%s': %m", path);
	return 0;
}

int
hv_config_update(const char *path, const char *key, const char *value, struct hv_error **reterr)
{
	_cleanup_close_ int lock = -EBADF;
	int r;

	r = check_change(key, value, reterr);
	if (r < 0)
		return r;
	r = config_lock(path, &lock, reterr);
	if (r < 0)
		return r;
	return update_locked(path, key, value, reterr);
}

void
hv_config_changes_free(struct hv_config_change *ch, size_t n)
{
	for (size_t i = 0; ch && i < n; i++) {
		free(ch[i].key);
		free(ch[i].value);
	}
	free(ch);
}

int
hv_config_edit(const char *path, hv_config_edit_fn edit, void *userdata, struct hv_error **reterr)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_hv_config_ struct hv_config *c = NULL;
	_cleanup_close_ int lock = -EBADF;
	struct hv_config_change *ch = NULL;
	size_t size = 0, n = 0;
	int r;

	r = config_lock(path, &lock, reterr);
	if (r < 0)
		return r;
	r = read_locked(path, &text, &size, &c, reterr);
	if (r < 0)
		return r;
	r = edit(c, userdata, &ch, &n, reterr);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		char *out = NULL;

		r = check_change(ch[i].key, ch[i].value, reterr);
		if (r < 0)
			goto out;
		r = rewrite(text, size, c, ch[i].key, ch[i].value, &out);
		if (r < 0)
			goto out;
		free(text);
		text = out;
		size = strlen(text);
		c = hv_config_free(c);
		r = hv_config_parse(text, size, path, &c, reterr);
		if (r < 0)
			goto out;
	}
	if (n > 0) {
		r = write_file_atomic(path, text, size, 0644);
		if (r < 0)
			r = hv_error_set(reterr, r, "cannot write '%s': %m", path);
	}
out:
	hv_config_changes_free(ch, n);
	return r < 0 ? r : 0;
}

int
hv_node_config_load(struct hv_config **ret, struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL;
	int r;

	r = hv_root_path(HV_CONFIG_FILE, &path);
	if (r < 0)
		return hv_error_set(reterr, r,
		                    "SABLE_ROOT: expected an absolute path without '..'");
	return hv_config_load(path, ret, reterr);
}

bool
hv_prefix_is_valid(const char *p)
{
	size_t n = p ? strlen(p) : 0;

	/* Short enough that "<prefix><name>" fits a 15-character interface name. */
	if (n < 2 || n > 8 || !islower((unsigned char)p[0]))
		return false;
	for (; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p))
			return false;
	return true;
}

static int
prefix_from(const struct hv_config *c, char **ret, struct hv_error **reterr)
{
	const char *v = hv_config_get(c, HV_PREFIX_KEY);

	if (!v)
		return -ENOENT;
	if (!hv_prefix_is_valid(v))
		return hv_error_set(reterr, -EINVAL,
		                    "%s: %s '%s': expected 2-8 lower-case letters and digits, "
		                    "starting with a letter",
		                    c->source, HV_PREFIX_KEY, v);
	*ret = strdup(v);
	return *ret ? 0 : -ENOMEM;
}

int
hv_node_prefix(bool create, char **ret, struct hv_error **reterr)
{
	_cleanup_hv_config_ struct hv_config *c = NULL;
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int lock = -EBADF;
	unsigned char rnd[2];
	char gen[8];
	int r;

	r = hv_node_config_load(&c, reterr);
	if (r < 0)
		return r;
	r = prefix_from(c, ret, reterr);
	if (r != -ENOENT || !create)
		return r;

	/* Generate under the lock, after looking again: another process may have won. */
	r = hv_root_path(HV_CONFIG_FILE, &path);
	if (r < 0)
		return r;
	r = config_lock(path, &lock, reterr);
	if (r < 0)
		return r;
	c = hv_config_free(c);
	r = hv_config_load(path, &c, reterr);
	if (r < 0)
		return r;
	r = prefix_from(c, ret, reterr);
	if (r != -ENOENT)
		return r;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return hv_error_set(reterr, -EIO, "cannot generate a prefix: %m");
	snprintf(gen, sizeof(gen), "sb%02x%02x", rnd[0], rnd[1]);
	r = update_locked(path, HV_PREFIX_KEY, gen, reterr);
	if (r < 0)
		return r;
	*ret = strdup(gen);
	return *ret ? 0 : -ENOMEM;
}
