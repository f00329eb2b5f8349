/* SPDX-License-Identifier: MIT */
/*
 * Image manifests: loading any text either fails with a one-line message
 * (and, for a bad value, its path) or gives a manifest whose parsed fields
 * hold what the header promises. A manifest that passed must pass again
 * from its own dump and give the same fields.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "image/manifest.h"
#include "json/json.h"

static void
check_failure(int r, const struct hv_error *e)
{
	if (r == -ENOMEM)
		return;
	if (r != -EINVAL || !e || !e->msg || strchr(e->msg, '\n'))
		abort();
	if (e->path && strncmp(e->msg, e->path, strlen(e->path)) != 0)
		abort(); /* the message starts with its path */
}

static void
check_manifest(const struct hv_image_manifest *m)
{
	if (!m->json || !uuid_is_valid(m->uuid) || !uuid_is_valid(m->owner))
		abort();
	if (!m->name || !*m->name || !m->version || !*m->version || !m->os || !m->state)
		abort();
	if (!hv_image_type_to_string(m->type))
		abort();
	if (streq(m->state, "active") && (!m->has_file || !m->published_at))
		abort();
	if (m->type == HV_IMAGE_ZVOL && m->image_size == 0)
		abort();
	if (m->origin && !uuid_is_valid(m->origin))
		abort();
	if (m->has_file) {
		if (strlen(m->file.sha1) != HV_SHA1_HEX_LEN ||
		    strspn(m->file.sha1, "0123456789abcdef") != HV_SHA1_HEX_LEN)
			abort();
		if (m->file.size > HV_IMAGE_FILE_SIZE_MAX ||
		    !hv_image_compression_to_string(m->file.compression))
			abort();
	}
	(void)hv_image_type_fits_brand(m->type, m->requirements_brand);
}

static bool
same(const char *a, const char *b)
{
	return streq_ptr(a, b);
}

/* Our own dump of a manifest that passed must pass again, to the same fields. */
static void
check_round_trip(const struct hv_image_manifest *m)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *s = hv_json_dumps(m->json);
	struct hv_image_manifest again = {0};
	int r;

	if (!s)
		return;
	r = hv_image_manifest_load(s, strlen(s), "dump", &again, &e);
	if (r == -ENOMEM || r == -EFBIG)
		return; /* the indented dump may be larger than the text */
	if (r < 0)
		abort();
	if (!streq(m->uuid, again.uuid) || !same(m->name, again.name) ||
	    !same(m->version, again.version) || m->type != again.type ||
	    m->has_file != again.has_file || !streq(m->file.sha1, again.file.sha1) ||
	    m->file.size != again.file.size || m->image_size != again.image_size ||
	    !same(m->kernel_version, again.kernel_version))
		abort();
	hv_image_manifest_done(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_image_manifest m = {0};
	int r;

	r = hv_image_manifest_load((const char *)data, size, "fuzz", &m, &e);
	if (r < 0) {
		if (r != -EFBIG || size <= HV_IMAGE_MANIFEST_SIZE_MAX)
			check_failure(r, e);
		return 0;
	}
	check_manifest(&m);
	check_round_trip(&m);
	hv_image_manifest_done(&m);
	return 0;
}
