/* SPDX-License-Identifier: MIT */
/*
 * IMGAPI clients: sources, listing, import and publish over HTTP(S) with
 * libcurl. Requests carry SmartOS's headers (Accept-Version: ~2) and a
 * timeout on connecting and on a stalled transfer; replies kept in memory
 * are bounded (REPLY_MAX). An image file is never kept: a thread streams
 * it from the server into a pipe, which hv_image_install reads, hashes and
 * unpacks as it comes; its Content-MD5 is checked too.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/config.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/root.h"
#include "basic/strv.h"
#include "basic/uuid.h"
#include "image/hash.h"
#include "image/image-internal.h"
#include "image/source.h"
#include "json/json.h"

#define REPLY_MAX       (64 * 1024 * 1024) /* /images of a large server */
#define CONNECT_TIMEOUT 15L
#define STALL_SECONDS   60L
#define PAGE            1000
#define SOURCES_KEY     "imgadm_sources"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct reply {
	char *data;
	size_t size;
	bool overflow;
};

static size_t
reply_write(char *p, size_t sz, size_t n, void *userdata)
{
	struct reply *r = userdata;
	size_t len = sz * n;
	char *d;

	if (r->size + len > REPLY_MAX) {
		r->overflow = true;
		return 0;
	}
	d = realloc(r->data, r->size + len + 1);
	if (!d)
		return 0;
	memcpy(d + r->size, p, len);
	r->data = d;
	r->size += len;
	r->data[r->size] = 0;
	return len;
}

CURL *
image_curl_new(const char *url, const char *token, struct curl_slist **headers)
{
	_cleanup_free_ char *auth = NULL;
	CURL *c;

	pthread_once(&curl_once, curl_init);
	c = curl_easy_init();
	if (!c)
		return NULL;
	*headers = curl_slist_append(*headers, "Accept: application/json");
	*headers = curl_slist_append(*headers, "Accept-Version: ~2");
	if (token && asprintf(&auth, "Authorization: Bearer %s", token) >= 0)
		*headers = curl_slist_append(*headers, auth);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *headers);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "sable-imgadm/" HV_VERSION);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, STALL_SECONDS);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	return c;
}

/* The server's {"code","message"} error, or the status, as one line. */
static int
http_error(const char *url, long status, const struct reply *body, struct hv_error **reterr)
{
	json_auto_t *o = NULL;
	const char *code = NULL, *msg = NULL;
	int r = status == 404                    ? -ENOENT
	        : status == 401 || status == 403 ? -EACCES
	        : status == 409                  ? -EEXIST
	                                         : -EPROTO;

	if (body->data && hv_json_load_buf(body->data, body->size, url, &o, NULL) >= 0) {
		(void)hv_json_get_string(o, "code", &code, NULL);
		(void)hv_json_get_string(o, "message", &msg, NULL);
	}
	if (code || msg)
		return hv_error_set(reterr, r, "%s: %s: %s", url, code ?: "error", msg ?: "");
	return hv_error_set(reterr, r, "%s: the server answered HTTP %ld", url, status);
}

/* A request whose reply (JSON) is kept; ret gets it parsed (nullable). */
static int
request(const char *method, const char *url, const char *token, const char *body, json_t **ret,
        struct hv_error **reterr)
{
	struct curl_slist *headers = NULL;
	struct reply rep = {0};
	long status = 0;
	CURLcode cc;
	CURL *c;
	int r;

	if (body)
		headers = curl_slist_append(headers, "Content-Type: application/json");
	c = image_curl_new(url, token, &headers);
	if (!c) {
		curl_slist_free_all(headers);
		return -ENOMEM;
	}
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, reply_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &rep);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(headers);
	if (rep.overflow)
		r = hv_error_set(reterr, -EFBIG, "%s: the reply is over %d MiB", url,
		                 REPLY_MAX >> 20);
	else if (cc != CURLE_OK)
		r = hv_error_set(reterr, -EHOSTUNREACH, "%s: %s", url, curl_easy_strerror(cc));
	else if (status < 200 || status > 299)
		r = http_error(url, status, &rep, reterr);
	else if (ret) {
		r = hv_json_load_buf(rep.data ?: "", rep.size, url, ret, reterr);
		if (r < 0)
			r = hv_error_prefix(reterr, -EPROTO, "the server's reply is not JSON");
	} else
		r = 0;
	free(rep.data);
	return r;
}

static int
url_join(const char *base, const char *path, char **ret)
{
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	return asprintf(ret, "%.*s%s", (int)n, base, path) < 0 ? -ENOMEM : 0;
}

int
hv_image_source_ping(const char *url, struct hv_error **reterr)
{
	_cleanup_free_ char *u = NULL;
	json_auto_t *o = NULL;
	int r;

	if (url_join(url, "/ping", &u) < 0)
		return -ENOMEM;
	if ((r = request("GET", u, NULL, NULL, &o, reterr)) < 0)
		return r;
	if (!json_is_true(json_object_get(o, "imgapi")))
		return hv_error_set(reterr, -EPROTO,
		                    "%s is not an IMGAPI server (its /ping has no "
		                    "\"imgapi\": true)",
		                    url);
	return 0;
}

int
hv_image_source_manifest(const char *url, const char *uuid, json_t **ret, struct hv_error **reterr)
{
	_cleanup_free_ char *u = NULL, *path = NULL;
	int r;

	if (asprintf(&path, "/images/%s", uuid) < 0 || url_join(url, path, &u) < 0)
		return -ENOMEM;
	r = request("GET", u, NULL, NULL, ret, reterr);
	if (r >= 0 && !json_is_object(*ret)) {
		json_decref(TAKE_PTR(*ret));
		return hv_error_set(reterr, -EPROTO, "%s: expected a manifest object", u);
	}
	return r;
}

int
hv_image_source_list(const char *url, json_t **ret, struct hv_error **reterr)
{
	json_auto_t *all = json_array();
	_cleanup_free_ char *marker = NULL;

	if (!all)
		return -ENOMEM;
	/* Pages of PAGE; each after the first starts with the previous page's last image. */
	for (unsigned page = 0; page < 10000; page++) {
		_cleanup_free_ char *path = NULL, *u = NULL;
		json_auto_t *a = NULL;
		size_t i;
		json_t *m;
		int r;

		if (asprintf(&path, "/images?limit=%d%s%s", PAGE, marker ? "&marker=" : "",
		             strempty(marker)) < 0 ||
		    url_join(url, path, &u) < 0)
			return -ENOMEM;
		if ((r = request("GET", u, NULL, NULL, &a, reterr)) < 0)
			return r;
		if (!json_is_array(a))
			return hv_error_set(reterr, -EPROTO, "%s: expected an array of manifests",
			                    u);
		json_array_foreach (a, i, m) {
			if (marker && i == 0)
				continue;
			if (json_array_append(all, m) < 0)
				return -ENOMEM;
		}
		if (json_array_size(a) < PAGE)
			break;
		free(marker);
		marker = strdup(strempty(json_string_value(
		        json_object_get(json_array_get(a, json_array_size(a) - 1), "uuid"))));
		if (!marker)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(all);
	return 0;
}

/* ---- sources in the node config ------------------------------------------------- */

int
hv_image_sources(char ***ret, struct hv_error **reterr)
{
	_cleanup_(hv_config_freep) struct hv_config *cfg = NULL;
	_cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
	_cleanup_free_ char *copy = NULL;
	char *save = NULL;
	int r;

	if (!l)
		return -ENOMEM;
	r = hv_node_config_load(&cfg, reterr);
	if (r < 0 && r != -ENOENT)
		return r;
	copy = strdup(r < 0 ? "" : strempty(hv_config_get(cfg, SOURCES_KEY)));
	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save))
		if ((r = strv_push(&l, t)) < 0)
			return r;
	*ret = TAKE_PTR(l);
	return 0;
}

static int
sources_save(char **l, struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL, *joined = strv_join(l, " ");

	if (!joined || hv_root_path(HV_CONFIG_FILE, &path) < 0)
		return -ENOMEM;
	return hv_config_update(path, SOURCES_KEY, *joined ? joined : NULL, reterr);
}

static bool
url_ok(const char *url)
{
	return (startswith(url, "http://") || startswith(url, "https://")) && strlen(url) < 2048 &&
	       !strpbrk(url, " \t\n\"'\\");
}

int
hv_image_source_add(const char *url, bool force, struct hv_error **reterr)
{
	_cleanup_strv_free_ char **l = NULL;
	int r;

	if (!url_ok(url))
		return hv_error_set(reterr, -EINVAL,
		                    "source '%s': expected an http:// or https:// URL", url);
	if (!force && (r = hv_image_source_ping(url, reterr)) < 0)
		return hv_error_prefix(reterr, r, "source '%s' (add it anyway with -f)", url);
	if ((r = hv_image_sources(&l, reterr)) < 0)
		return r;
	if (strv_contains(l, url))
		return 0;
	if ((r = strv_push(&l, url)) < 0)
		return r;
	return sources_save(l, reterr);
}

int
hv_image_source_remove(const char *url, struct hv_error **reterr)
{
	_cleanup_strv_free_ char **l = NULL, **keep = calloc(1, sizeof(char *));
	int r;

	if (!keep)
		return -ENOMEM;
	if ((r = hv_image_sources(&l, reterr)) < 0)
		return r;
	if (!strv_contains(l, url))
		return hv_error_set(reterr, -ENOENT, "'%s' is not a source", url);
	STRV_FOREACH (s, l)
		if (!streq(*s, url) && (r = strv_push(&keep, *s)) < 0)
			return r;
	return sources_save(keep, reterr);
}

/* ---- publish -------------------------------------------------------------------------- */

struct upload {
	int fd;
	int err;
};

static size_t
upload_read(char *buf, size_t sz, size_t n, void *userdata)
{
	struct upload *u = userdata;
	ssize_t k;

	do
		k = read(u->fd, buf, sz * n);
	while (k < 0 && errno == EINTR);
	if (k < 0) {
		u->err = -errno;
		return CURL_READFUNC_ABORT;
	}
	return (size_t)k;
}

static int
put_file(const char *url, const char *token, int fd, uint64_t size, struct hv_error **reterr)
{
	struct curl_slist *headers =
	        curl_slist_append(NULL, "Content-Type: application/octet-stream");
	struct upload up = {.fd = fd};
	struct reply rep = {0};
	long status = 0;
	CURLcode cc;
	CURL *c = image_curl_new(url, token, &headers);
	int r;

	if (!c) {
		curl_slist_free_all(headers);
		return -ENOMEM;
	}
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, upload_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &up);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, reply_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &rep);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(headers);
	if (up.err < 0)
		r = hv_error_set(reterr, up.err, "cannot read the image file: %m");
	else if (cc != CURLE_OK)
		r = hv_error_set(reterr, -EHOSTUNREACH, "%s: %s", url, curl_easy_strerror(cc));
	else if (status < 200 || status > 299)
		r = http_error(url, status, &rep, reterr);
	else
		r = 0;
	free(rep.data);
	return r;
}

int
hv_image_publish(const char *url, const char *token, json_t *manifest, int fd,
                 struct hv_error **reterr)
{
	_cleanup_free_ char *body = NULL, *u = NULL, *path = NULL;
	struct hv_image_manifest m = {0};
	json_auto_t *created = NULL;
	struct stat st;
	int r;

	/* What is published must be what imgadm would import: a whole, valid manifest. */
	if ((r = hv_image_manifest_parse(manifest, &m, reterr)) < 0)
		return r;
	if (!m.has_file)
		r = hv_error_set(reterr, -EINVAL,
		                 "publish: the manifest has no files[0] (sha1, "
		                 "size, compression)");
	else if (fstat(fd, &st) < 0)
		r = hv_error_set(reterr, -errno, "publish: the image file: %m");
	else if ((uint64_t)st.st_size != m.file.size)
		r = hv_error_set(reterr, -EINVAL,
		                 "publish: the file has %lld bytes, the manifest says %llu",
		                 (long long)st.st_size, (unsigned long long)m.file.size);
	if (r < 0)
		goto out;
	/* The server keeps state "unactivated" until the file is there. */
	if (!(body = hv_json_dumps_compact(manifest)) || url_join(url, "/images", &u) < 0) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = request("POST", u, token, body, &created, reterr)) < 0)
		goto out;
	free(TAKE_PTR(u));
	if (asprintf(&path, "/images/%s/file?compression=%s&sha1=%s", m.uuid,
	             hv_image_compression_to_string(m.file.compression), m.file.sha1) < 0 ||
	    url_join(url, path, &u) < 0) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = put_file(u, token, fd, m.file.size, reterr)) < 0)
		goto out;
	free(TAKE_PTR(u));
	free(TAKE_PTR(path));
	if (asprintf(&path, "/images/%s?action=activate", m.uuid) < 0 ||
	    url_join(url, path, &u) < 0) {
		r = -ENOMEM;
		goto out;
	}
	r = request("POST", u, token, "", NULL, reterr);
out:
	hv_image_manifest_done(&m);
	return r;
}
