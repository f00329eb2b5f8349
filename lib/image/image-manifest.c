/* SPDX-License-Identifier: MIT */
/*
 * Image manifests, version 2 (smartos.md §4.2): the check every manifest
 * passes before Sable uses it, whether it came from an IMGAPI server, a
 * file given to `imgadm install`, or Sable's own image store.
 *
 * One table (manifest_fields, with member tables for the objects inside)
 * says what each known field must be; one walker applies it in table
 * order and stops at the first problem. "v" is checked before the table,
 * so a version 1 manifest is named as such instead of as a list of
 * missing fields. Every problem is one line that starts with the path of
 * the bad value ("files.0.sha1: expected 40 hexadecimal digits, got
 * 'abc'"), and the same path is in hv_error.path.
 *
 * What holds after a successful parse: every known field has its type and
 * range; the required ones are there (files[0] and published_at too when
 * the image is active, the four KVM defaults when it is a zvol); UUIDs are
 * lower case; sha1 is 40 lower-case hex digits in the parsed struct.
 * Unknown fields stay in the JSON, unchecked: servers add their own.
 * Everything a manifest can make us walk is bounded: the text
 * (HV_IMAGE_MANIFEST_SIZE_MAX), each array and object we look into, each
 * string's length.
 *
 * The parsed struct's strings point into the JSON; the manifest holds a
 * reference to it, dropped by hv_image_manifest_done().
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/macro.h"
#include "image/manifest.h"
#include "json/json.h"

#define NAME_MAX_CHARS        512
#define VERSION_MAX_CHARS     128
#define DESCRIPTION_MAX_CHARS 512
#define URL_MAX_CHARS         128
#define BILLING_TAG_MAX_CHARS 128
#define STACK_MAX_CHARS       16384 /* error.stack: a server's stack trace */
#define STRING_MAX_CHARS      1024  /* every other string we check */
#define ACL_MAX               1024
#define TAGS_MAX              256
#define LIST_MAX              256 /* other arrays and objects we walk */
#define NETWORKS_MAX          32
#define USERS_MAX             64
#define KEY_MAX               64 /* bytes of a user's key shown in a path */
#define PATH_LEN              (2 * KEY_MAX + 64)

static const char *const type_names[_HV_IMAGE_TYPE_MAX + 1] = {
        [HV_IMAGE_ZONE_DATASET] = "zone-dataset",
        [HV_IMAGE_LX_DATASET] = "lx-dataset",
        [HV_IMAGE_ZVOL] = "zvol",
        [HV_IMAGE_DOCKER] = "docker",
        [HV_IMAGE_LXD] = "lxd",
        [HV_IMAGE_OTHER] = "other",
};

static const char *const compression_names[_HV_IMAGE_COMPRESSION_MAX + 1] = {
        [HV_IMAGE_COMPRESSION_NONE] = "none",   [HV_IMAGE_COMPRESSION_GZIP] = "gzip",
        [HV_IMAGE_COMPRESSION_BZIP2] = "bzip2", [HV_IMAGE_COMPRESSION_XZ] = "xz",
        [HV_IMAGE_COMPRESSION_ZSTD] = "zstd",
};

static const char *const os_names[] = {
        "smartos", "linux", "windows", "bsd", "illumos", "other", NULL,
};

static const char *const state_names[] = {
        "active", "unactivated", "disabled", "creating", "failed", NULL,
};

static const char *const bootrom_names[] = {"bios", "uefi", NULL};

const char *
hv_image_type_to_string(enum hv_image_type t)
{
	return t >= 0 && t < _HV_IMAGE_TYPE_MAX ? type_names[t] : NULL;
}

enum hv_image_type
hv_image_type_from_string(const char *s)
{
	for (int i = 0; s && i < _HV_IMAGE_TYPE_MAX; i++)
		if (streq(type_names[i], s))
			return (enum hv_image_type)i;
	return _HV_IMAGE_TYPE_INVALID;
}

const char *
hv_image_compression_to_string(enum hv_image_compression c)
{
	return c >= 0 && c < _HV_IMAGE_COMPRESSION_MAX ? compression_names[c] : NULL;
}

enum hv_image_compression
hv_image_compression_from_string(const char *s)
{
	for (int i = 0; s && i < _HV_IMAGE_COMPRESSION_MAX; i++)
		if (streq(compression_names[i], s))
			return (enum hv_image_compression)i;
	return _HV_IMAGE_COMPRESSION_INVALID;
}

bool
hv_image_type_fits_brand(enum hv_image_type t, const char *brand)
{
	if (!brand)
		return false;
	if (streq(brand, "lx"))
		return t == HV_IMAGE_LX_DATASET || t == HV_IMAGE_DOCKER;
	if (streq(brand, "joyent") || streq(brand, "joyent-minimal"))
		return t == HV_IMAGE_ZONE_DATASET;
	if (streq(brand, "kvm") || streq(brand, "bhyve"))
		return t == HV_IMAGE_ZVOL;
	return false;
}

/* ---- Messages ---- */

/* How many bytes of s fit in max without cutting a UTF-8 sequence. */
static size_t
cut(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* "PATH: message", with PATH as the error's path; the manifest itself has an empty path. */
static int fail(struct hv_error **reterr, const char *path, const char *fmt, ...) _printf_(3, 4);

static int
fail(struct hv_error **reterr, const char *path, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	if (isempty(path))
		return hv_error_set(reterr, -EINVAL, "manifest: %s", msg);
	return hv_error_set_path(reterr, -EINVAL, path, "%s: %s", path, msg);
}

static int
expected(struct hv_error **reterr, const char *path, const char *what, const json_t *v)
{
	char buf[HV_JSON_DESCRIBE_MAX];

	return fail(reterr, path, "expected %s, got %s", what,
	            v ? hv_json_describe(v, buf) : "nothing");
}

/* prefix.key; a key from the manifest is cut short and its control characters become '?'. */
static const char *
path_key(char buf[static PATH_LEN], const char *prefix, const char *key)
{
	size_t n = cut(key, KEY_MAX);
	char *p;

	snprintf(buf, PATH_LEN, "%s%s%.*s%s", prefix, *prefix ? "." : "", (int)n, key,
	         key[n] ? "..." : "");
	for (p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return buf;
}

static const char *
path_index(char buf[static PATH_LEN], const char *prefix, size_t i)
{
	snprintf(buf, PATH_LEN, "%s.%zu", prefix, i);
	return buf;
}

/* "a, b or c" */
static const char *
names_join(const char *const *names, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = 0;
	for (size_t i = 0; names[i]; i++)
		n += (size_t)snprintf(buf + MIN(n, size - 1), size - MIN(n, size - 1), "%s%s",
		                      i == 0         ? ""
		                      : names[i + 1] ? ", "
		                                     : " or ",
		                      names[i]);
	return buf;
}

/* ---- Values ---- */

static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static bool
has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

enum {
	STR_NONEMPTY = 1 << 0,
	STR_PLAIN = 1 << 1, /* no control characters */
};

static int
check_string(const json_t *v, const char *path, size_t max, unsigned flags,
             struct hv_error **reterr)
{
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return expected(reterr, path, "a string", v);
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return fail(reterr, path, "expected a string without NUL characters");
	n = utf8_chars(s);
	if (n == 0 && (flags & STR_NONEMPTY))
		return expected(reterr, path, "a non-empty string", v);
	if (n > max)
		return fail(reterr, path, "expected at most %zu characters, got %zu", max, n);
	if ((flags & STR_PLAIN) && has_control(s))
		return expected(reterr, path, "a string without control characters", v);
	return 0;
}

static int
check_uuid(const json_t *v, const char *path, struct hv_error **reterr)
{
	const char *s = json_string_value(v);

	if (!s || !uuid_is_valid(s))
		return expected(reterr, path, "a UUID", v);
	for (; *s; s++)
		if (isupper((unsigned char)*s))
			return expected(reterr, path, "a lower-case UUID", v);
	return 0;
}

/* http:// or https://, a host, no spaces or control characters. */
static bool
url_is_valid(const char *s)
{
	const char *rest = NULL;

	if (strncasecmp(s, "http://", 7) == 0)
		rest = s + 7;
	else if (strncasecmp(s, "https://", 8) == 0)
		rest = s + 8;
	if (!rest || !*rest || strchr("/?#", *rest))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int
check_url(const json_t *v, const char *path, struct hv_error **reterr)
{
	int r = check_string(v, path, URL_MAX_CHARS, 0, reterr);

	if (r < 0)
		return r;
	if (!url_is_valid(json_string_value(v)))
		return expected(reterr, path, "an http:// or https:// URL", v);
	return 0;
}

/* n decimal digits at s */
static unsigned
digits(const char *s, size_t n)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	return v;
}

/* ISO 8601 in UTC as IMGAPI writes it: YYYY-MM-DDTHH:MM:SS, optional fraction, Z. */
static bool
date_is_valid(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y, mo, d, days;
	size_t i;

	/* A short string stops at its NUL, which matches neither a digit nor a separator. */
	for (i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
			return false;
	y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
	if (mo < 1 || mo > 12 || d < 1)
		return false;
	days = mdays[mo - 1] + (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
	if (d > days || digits(s + 11, 2) > 23 || digits(s + 14, 2) > 59 || digits(s + 17, 2) > 59)
		return false;
	s += i;
	if (*s == '.') {
		size_t n = strspn(s + 1, "0123456789");
		if (n < 1 || n > 9)
			return false;
		s += 1 + n;
	}
	return streq(s, "Z");
}

static int
check_date(const json_t *v, const char *path, struct hv_error **reterr)
{
	if (!json_is_string(v) || !date_is_valid(json_string_value(v)))
		return expected(reterr, path,
		                "an ISO 8601 date in UTC such as '2024-01-31T12:00:00Z'", v);
	return 0;
}

static int
check_enum(const json_t *v, const char *path, const char *const *names, struct hv_error **reterr)
{
	const char *s = json_string_value(v);
	char what[256];

	for (size_t i = 0; s && names[i]; i++)
		if (streq(names[i], s))
			return 0;
	return expected(reterr, path, names_join(names, what, sizeof(what)), v);
}

static int
check_positive(const json_t *v, const char *path, struct hv_error **reterr)
{
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return expected(reterr, path, "a positive integer", v);
	return 0;
}

/* An array of at most max entries; its length in *ret. */
static int
check_array(const json_t *v, const char *path, size_t max, size_t *ret, struct hv_error **reterr)
{
	if (!json_is_array(v))
		return expected(reterr, path, "an array", v);
	if (json_array_size(v) > max)
		return fail(reterr, path, "expected at most %zu entries, got %zu", max,
		            json_array_size(v));
	*ret = json_array_size(v);
	return 0;
}

static int
check_object(const json_t *v, const char *path, size_t max, struct hv_error **reterr)
{
	if (!json_is_object(v))
		return expected(reterr, path, "an object", v);
	if (json_object_size(v) > max)
		return fail(reterr, path, "expected at most %zu members, got %zu", max,
		            json_object_size(v));
	return 0;
}

/* ---- The fields ---- */

struct ctx {
	enum hv_image_type type; /* as the manifest says, or _HV_IMAGE_TYPE_INVALID */
	bool active;             /* state is 'active' */
};

enum kind {
	K_STRING,     /* at most .max characters (default STRING_MAX_CHARS) */
	K_URL,        /* http(s), at most URL_MAX_CHARS */
	K_DATE,       /* ISO 8601, UTC */
	K_BOOL,       /* true or false */
	K_UUID,       /* lower case */
	K_POSITIVE,   /* an integer > 0 */
	K_ENUM,       /* one of .names */
	K_STRINGS,    /* an array of at most .max strings of at most .item_max characters */
	K_UUIDS,      /* an array of at most .max UUIDs */
	K_STRING_MAP, /* an object of at most .max strings of at most .item_max characters */
	K_OBJECT,     /* an object whose members .fields describes, then .check */
	K_OBJECTS,    /* an array of at most .max of those */
	K_CUSTOM,     /* .check says */
};

/* Field flags; STR_NONEMPTY and STR_PLAIN apply to its strings. */
enum {
	F_REQUIRED = 1 << 4,
	F_ACTIVE = 1 << 5,       /* required when state is 'active' */
	F_ZVOL = 1 << 6,         /* required in zvol images */
	F_ZONE_DATASET = 1 << 7, /* allowed only in zone-dataset images */
};

struct field {
	const char *key;
	enum kind kind;
	unsigned flags;
	size_t max;
	size_t item_max;
	const char *const *names;
	const struct field *fields; /* ends with a NULL key */
	int (*check)(const json_t *v, const char *path, const struct ctx *c,
	             struct hv_error **reterr);
};

static int
check_sha1(const json_t *v, const char *path, const struct ctx *c, struct hv_error **reterr)
{
	const char *s = json_string_value(v);

	if (!s || strlen(s) != HV_SHA1_HEX_LEN || strspn(s, "0123456789abcdefABCDEF") != strlen(s))
		return expected(reterr, path, "40 hexadecimal digits", v);
	return 0;
}

static int
check_file_size(const json_t *v, const char *path, const struct ctx *c, struct hv_error **reterr)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > HV_IMAGE_FILE_SIZE_MAX)
		return expected(reterr, path, "an integer from 0 to 21474836480 (20 GiB)", v);
	return 0;
}

/* requirements: a sane RAM interval (equal bounds are fine). */
static int
check_ram(const json_t *v, const char *path, const struct ctx *c, struct hv_error **reterr)
{
	const json_t *min = json_object_get(v, "min_ram"), *max = json_object_get(v, "max_ram");
	char p[PATH_LEN];

	if (!min || !max || json_integer_value(min) <= json_integer_value(max))
		return 0;
	return fail(reterr, path_key(p, path, "min_ram"),
	            "expected at most max_ram (%" JSON_INTEGER_FORMAT
	            "), got %" JSON_INTEGER_FORMAT,
	            json_integer_value(max), json_integer_value(min));
}

/* tags: scalars (docker:* may hold any JSON, as docker:config does); kernel_version a string. */
static int
check_tags(const json_t *v, const char *path, const struct ctx *c, struct hv_error **reterr)
{
	char p[PATH_LEN];
	const char *key;
	json_t *value;
	int r = check_object(v, path, TAGS_MAX, reterr);

	if (r < 0)
		return r;
	json_object_foreach ((json_t *)v, key, value) {
		path_key(p, path, key);
		if (streq(key, "kernel_version"))
			r = check_string(value, p, STRING_MAX_CHARS, STR_NONEMPTY | STR_PLAIN,
			                 reterr);
		else if (startswith(key, "docker:"))
			r = 0;
		else if (json_is_string(value))
			r = check_string(value, p, STRING_MAX_CHARS, 0, reterr);
		else if (!json_is_number(value) && !json_is_boolean(value))
			r = expected(reterr, p, "a string, number or boolean", value);
		if (r < 0)
			return r;
	}
	return 0;
}

static int check_files(const json_t *v, const char *path, const struct ctx *c,
                       struct hv_error **reterr);

static const struct field error_fields[] = {
        {.key = "message", .kind = K_STRING, .flags = F_REQUIRED},
        {.key = "code", .kind = K_STRING, .flags = STR_NONEMPTY | STR_PLAIN},
        {.key = "stack", .kind = K_STRING, .max = STACK_MAX_CHARS},
        {0},
};

static const struct field file_fields[] = {
        {.key = "sha1", .kind = K_CUSTOM, .flags = F_REQUIRED, .check = check_sha1},
        {.key = "size", .kind = K_CUSTOM, .flags = F_REQUIRED, .check = check_file_size},
        {.key = "compression", .kind = K_ENUM, .flags = F_REQUIRED, .names = compression_names},
        {.key = "dataset_guid", .kind = K_STRING, .flags = STR_NONEMPTY | STR_PLAIN},
        {.key = "digest", .kind = K_STRING, .flags = STR_NONEMPTY | STR_PLAIN},
        {.key = "uncompressedDigest", .kind = K_STRING, .flags = STR_NONEMPTY | STR_PLAIN},
        {0},
};

static const struct field network_fields[] = {
        {.key = "name", .kind = K_STRING, .flags = F_REQUIRED | STR_NONEMPTY | STR_PLAIN},
        {.key = "description", .kind = K_STRING, .flags = F_REQUIRED},
        {0},
};

static const struct field user_fields[] = {
        {.key = "name", .kind = K_STRING, .flags = F_REQUIRED | STR_NONEMPTY | STR_PLAIN},
        {0},
};

static const struct field requirement_fields[] = {
        {.key = "networks", .kind = K_OBJECTS, .max = NETWORKS_MAX, .fields = network_fields},
        {.key = "brand", .kind = K_STRING, .flags = STR_NONEMPTY | STR_PLAIN},
        {.key = "ssh_key", .kind = K_BOOL},
        {.key = "min_ram", .kind = K_POSITIVE},
        {.key = "max_ram", .kind = K_POSITIVE},
        {.key = "min_platform", .kind = K_STRING_MAP, .max = LIST_MAX},
        {.key = "max_platform", .kind = K_STRING_MAP, .max = LIST_MAX},
        {.key = "bootrom", .kind = K_ENUM, .names = bootrom_names},
        {0},
};

/* In checking order: what later rules depend on (type, state) is checked first. */
static const struct field manifest_fields[] = {
        {.key = "uuid", .kind = K_UUID, .flags = F_REQUIRED},
        {.key = "owner", .kind = K_UUID, .flags = F_REQUIRED},
        {.key = "name",
         .kind = K_STRING,
         .flags = F_REQUIRED | STR_NONEMPTY | STR_PLAIN,
         .max = NAME_MAX_CHARS},
        {.key = "version",
         .kind = K_STRING,
         .flags = F_REQUIRED | STR_NONEMPTY | STR_PLAIN,
         .max = VERSION_MAX_CHARS},
        {.key = "description", .kind = K_STRING, .max = DESCRIPTION_MAX_CHARS},
        {.key = "type", .kind = K_ENUM, .flags = F_REQUIRED, .names = type_names},
        {.key = "os", .kind = K_ENUM, .flags = F_REQUIRED, .names = os_names},
        {.key = "state", .kind = K_ENUM, .flags = F_REQUIRED, .names = state_names},
        {.key = "disabled", .kind = K_BOOL, .flags = F_REQUIRED},
        {.key = "public", .kind = K_BOOL, .flags = F_REQUIRED},
        {.key = "published_at", .kind = K_DATE, .flags = F_ACTIVE},
        {.key = "files", .kind = K_CUSTOM, .flags = F_ACTIVE, .check = check_files},
        {.key = "origin", .kind = K_UUID},
        {.key = "homepage", .kind = K_URL},
        {.key = "eula", .kind = K_URL},
        {.key = "icon", .kind = K_BOOL},
        {.key = "error", .kind = K_OBJECT, .fields = error_fields},
        {.key = "acl", .kind = K_UUIDS, .max = ACL_MAX},
        {.key = "requirements", .kind = K_OBJECT, .fields = requirement_fields, .check = check_ram},
        {.key = "users", .kind = K_OBJECTS, .max = USERS_MAX, .fields = user_fields},
        {.key = "generate_passwords", .kind = K_BOOL},
        {.key = "billing_tags",
         .kind = K_STRINGS,
         .flags = STR_NONEMPTY | STR_PLAIN,
         .max = LIST_MAX,
         .item_max = BILLING_TAG_MAX_CHARS},
        {.key = "traits", .kind = K_OBJECT},
        {.key = "tags", .kind = K_CUSTOM, .check = check_tags},
        {.key = "inherited_directories",
         .kind = K_STRINGS,
         .flags = F_ZONE_DATASET | STR_NONEMPTY | STR_PLAIN,
         .max = LIST_MAX},
        {.key = "nic_driver", .kind = K_STRING, .flags = F_ZVOL | STR_NONEMPTY | STR_PLAIN},
        {.key = "disk_driver", .kind = K_STRING, .flags = F_ZVOL | STR_NONEMPTY | STR_PLAIN},
        {.key = "cpu_type", .kind = K_STRING, .flags = F_ZVOL | STR_NONEMPTY | STR_PLAIN},
        {.key = "image_size", .kind = K_POSITIVE, .flags = F_ZVOL},
        {.key = "channels", .kind = K_STRINGS, .flags = STR_NONEMPTY | STR_PLAIN, .max = LIST_MAX},
        {.key = "urn", .kind = K_STRING, .flags = STR_NONEMPTY | STR_PLAIN},
        {0},
};

static int check_fields(const json_t *obj, const char *prefix, const struct field *fields,
                        const struct ctx *c, struct hv_error **reterr);

/* files: one file; none is fine until the image is active. */
static int
check_files(const json_t *v, const char *path, const struct ctx *c, struct hv_error **reterr)
{
	char p[PATH_LEN];
	const json_t *file;
	int r;

	if (!json_is_array(v))
		return expected(reterr, path, "an array", v);
	if (json_array_size(v) > 1)
		return expected(reterr, path, "an array of one file", v);
	if (json_array_size(v) == 0)
		return c->active ? expected(reterr, path,
		                            "an array of one file (the image is active)", v)
		                 : 0;
	file = json_array_get(v, 0);
	path_index(p, path, 0);
	r = check_object(file, p, LIST_MAX, reterr);
	if (r < 0)
		return r;
	return check_fields(file, p, file_fields, c, reterr);
}

/* K_STRINGS, K_UUIDS, K_OBJECTS */
static int
check_list(const json_t *v, const char *path, const struct field *f, const struct ctx *c,
           struct hv_error **reterr)
{
	char p[PATH_LEN];
	size_t n;
	int r = check_array(v, path, f->max, &n, reterr);

	for (size_t i = 0; r >= 0 && i < n; i++) {
		const json_t *item = json_array_get(v, i);

		path_index(p, path, i);
		if (f->kind == K_STRINGS)
			r = check_string(item, p, f->item_max ? f->item_max : STRING_MAX_CHARS,
			                 f->flags, reterr);
		else if (f->kind == K_UUIDS)
			r = check_uuid(item, p, reterr);
		else {
			r = check_object(item, p, LIST_MAX, reterr);
			if (r >= 0)
				r = check_fields(item, p, f->fields, c, reterr);
		}
	}
	return r;
}

static int
check_string_map(const json_t *v, const char *path, const struct field *f, struct hv_error **reterr)
{
	char p[PATH_LEN];
	const char *key;
	json_t *value;
	int r = check_object(v, path, f->max, reterr);

	if (r < 0)
		return r;
	json_object_foreach ((json_t *)v, key, value) {
		r = check_string(value, path_key(p, path, key),
		                 f->item_max ? f->item_max : STRING_MAX_CHARS,
		                 STR_NONEMPTY | STR_PLAIN, reterr);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
check_value(const json_t *v, const char *path, const struct field *f, const struct ctx *c,
            struct hv_error **reterr)
{
	int r;

	switch (f->kind) {
	case K_STRING:
		return check_string(v, path, f->max ? f->max : STRING_MAX_CHARS, f->flags, reterr);
	case K_URL:
		return check_url(v, path, reterr);
	case K_DATE:
		return check_date(v, path, reterr);
	case K_BOOL:
		return json_is_boolean(v) ? 0 : expected(reterr, path, "a boolean", v);
	case K_UUID:
		return check_uuid(v, path, reterr);
	case K_POSITIVE:
		return check_positive(v, path, reterr);
	case K_ENUM:
		return check_enum(v, path, f->names, reterr);
	case K_STRINGS:
	case K_UUIDS:
	case K_OBJECTS:
		return check_list(v, path, f, c, reterr);
	case K_STRING_MAP:
		return check_string_map(v, path, f, reterr);
	case K_OBJECT:
		r = check_object(v, path, LIST_MAX, reterr);
		if (r >= 0 && f->fields)
			r = check_fields(v, path, f->fields, c, reterr);
		if (r >= 0 && f->check)
			r = f->check(v, path, c, reterr);
		return r;
	case K_CUSTOM:
		return f->check(v, path, c, reterr);
	}
	return -EINVAL;
}

static int
check_missing(const struct field *f, const char *path, const struct ctx *c,
              struct hv_error **reterr)
{
	if (f->flags & F_REQUIRED)
		return fail(reterr, path, "missing (required)");
	if ((f->flags & F_ACTIVE) && c->active)
		return fail(reterr, path, "missing (required when state is 'active')");
	if ((f->flags & F_ZVOL) && c->type == HV_IMAGE_ZVOL)
		return fail(reterr, path, "missing (required in zvol images)");
	return 0;
}

static int
check_fields(const json_t *obj, const char *prefix, const struct field *fields, const struct ctx *c,
             struct hv_error **reterr)
{
	char path[PATH_LEN];
	int r;

	for (const struct field *f = fields; f->key; f++) {
		const json_t *v = json_object_get(obj, f->key);

		path_key(path, prefix, f->key);
		if (!v)
			r = check_missing(f, path, c, reterr);
		else if ((f->flags & F_ZONE_DATASET) && c->type != HV_IMAGE_ZONE_DATASET)
			r = fail(reterr, path,
			         "allowed only in zone-dataset images, not in %s ones",
			         strempty(hv_image_type_to_string(c->type)));
		else
			r = check_value(v, path, f, c, reterr);
		if (r < 0)
			return r;
	}
	return 0;
}

/* "v" first: without it, the manifest is a version 1 one, which Sable does not read. */
static int
check_v(const json_t *j, struct hv_error **reterr)
{
	const json_t *v = json_object_get(j, "v");

	if (!v)
		return fail(
		        reterr, "v",
		        "version 1 manifests (no \"v\") are not supported: re-create the image");
	if (!json_is_integer(v))
		return expected(reterr, "v", "the integer 2", v);
	if (json_integer_value(v) == 1)
		return fail(reterr, "v",
		            "version 1 manifests are not supported: re-create the image");
	if (json_integer_value(v) != 2)
		return fail(reterr, "v",
		            "expected 2, got %" JSON_INTEGER_FORMAT
		            " (only version 2 manifests are supported)",
		            json_integer_value(v));
	return 0;
}

static int
check_manifest(const json_t *j, struct hv_error **reterr)
{
	struct ctx c;
	int r;

	if (!json_is_object(j))
		return expected(reterr, "", "an object", j);
	r = check_v(j, reterr);
	if (r < 0)
		return r;
	/* Rules that depend on these run after the table has checked them. */
	c.type = hv_image_type_from_string(json_string_value(json_object_get(j, "type")));
	c.active = streq_ptr(json_string_value(json_object_get(j, "state")), "active");
	return check_fields(j, "", manifest_fields, &c, reterr);
}

/* ---- The parsed manifest ---- */

static const char *
member_string(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* j has passed check_manifest(). */
static void
fill(json_t *j, struct hv_image_manifest *m)
{
	const json_t *file = json_array_get(json_object_get(j, "files"), 0);
	const json_t *image_size = json_object_get(j, "image_size");

	*m = (struct hv_image_manifest){.json = j};
	memcpy(m->uuid, member_string(j, "uuid"), UUID_STRING_LEN);
	memcpy(m->owner, member_string(j, "owner"), UUID_STRING_LEN);
	m->name = member_string(j, "name");
	m->version = member_string(j, "version");
	m->description = member_string(j, "description");
	m->type = hv_image_type_from_string(member_string(j, "type"));
	m->os = member_string(j, "os");
	m->state = member_string(j, "state");
	m->disabled = json_is_true(json_object_get(j, "disabled"));
	m->public_ = json_is_true(json_object_get(j, "public"));
	m->published_at = member_string(j, "published_at");
	m->origin = member_string(j, "origin");
	if (file) {
		const char *sha1 = member_string(file, "sha1");

		m->has_file = true;
		for (size_t i = 0; i < HV_SHA1_HEX_LEN; i++)
			m->file.sha1[i] = (char)tolower((unsigned char)sha1[i]);
		m->file.size = (uint64_t)json_integer_value(json_object_get(file, "size"));
		m->file.compression =
		        hv_image_compression_from_string(member_string(file, "compression"));
		m->file.dataset_guid = member_string(file, "dataset_guid");
	}
	m->requirements_brand = member_string(json_object_get(j, "requirements"), "brand");
	m->kernel_version = member_string(json_object_get(j, "tags"), "kernel_version");
	m->image_size = image_size ? (uint64_t)json_integer_value(image_size) : 0;
}

int
hv_image_manifest_parse(json_t *j, struct hv_image_manifest *ret, struct hv_error **reterr)
{
	int r;

	if (!ret)
		return -EINVAL;
	r = check_manifest(j, reterr);
	if (r < 0)
		return r;
	fill(json_incref(j), ret);
	return 0;
}

int
hv_image_manifest_load(const char *buf, size_t size, const char *source,
                       struct hv_image_manifest *ret, struct hv_error **reterr)
{
	json_t *j = NULL;
	int r;

	if (!buf || !ret)
		return -EINVAL;
	if (!source)
		source = "manifest";
	if (size > HV_IMAGE_MANIFEST_SIZE_MAX)
		return hv_error_set(reterr, -EFBIG, "%s: larger than %d bytes", source,
		                    HV_IMAGE_MANIFEST_SIZE_MAX);
	r = hv_json_load_buf(buf, size, source, &j, reterr);
	if (r < 0)
		return r;
	r = hv_image_manifest_parse(j, ret, reterr);
	json_decref(j);
	return r;
}

void
hv_image_manifest_done(struct hv_image_manifest *m)
{
	if (!m)
		return;
	json_decref(m->json);
	*m = (struct hv_image_manifest){0};
}
