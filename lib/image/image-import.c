/* SPDX-License-Identifier: MIT */
/*
 * Import from a source and publish to one. The file of an import goes from
 * the server to hv_image_install through a pipe: a thread runs the
 * download (libcurl calls back with each piece, which is written into the
 * pipe and added to the MD5 that IMGAPI's Content-MD5 is checked against),
 * the caller's thread unpacks. If the install stops early it closes its
 * end, the next write fails and the download ends.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "basic/uuid.h"
#include "image/hash.h"
#include "image/image-internal.h"
#include "image/source.h"
#include "json/json.h"

#define ANCESTRY_MAX 32

struct download {
	char *url;
	int fd; /* the pipe's write end */
	struct hv_hash *md5;
	char content_md5[64]; /* the header, base64 */
	long status;
	int r;
	char error[512];
};

/* Only a 2xx reply's body arrives here (CURLOPT_FAILONERROR). */
static size_t
download_write(char *p, size_t sz, size_t n, void *userdata)
{
	struct download *d = userdata;
	size_t len = sz * n;

	hv_hash_update(d->md5, p, len);
	return loop_write(d->fd, p, len) < 0 ? 0 : len;
}

static size_t
download_header(char *p, size_t sz, size_t n, void *userdata)
{
	struct download *d = userdata;
	size_t len = sz * n;

	if (len > 12 && strncasecmp(p, "Content-MD5:", 12) == 0) {
		const char *v = p + 12;
		size_t vl;

		while (*v == ' ' || *v == '\t')
			v++;
		vl = strcspn(v, "\r\n");
		if (vl < sizeof(d->content_md5)) {
			memcpy(d->content_md5, v, vl);
			d->content_md5[vl] = 0;
		}
	} else if (len > 5 && strncmp(p, "HTTP/", 5) == 0)
		d->content_md5[0] = 0; /* a new response (after a redirect) */
	return len;
}

/* base64 of the raw MD5, as the header carries it. */
static void
base64(const unsigned char *in, size_t n, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
		             (i + 2 < n ? in[i + 2] : 0);
		out[o++] = t[v >> 18 & 63];
		out[o++] = t[v >> 12 & 63];
		out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? t[v & 63] : '=';
	}
	out[o] = 0;
}

static int
fail_download(struct download *d, int r, const char *what)
{
	snprintf(d->error, sizeof(d->error), "%s: %s", d->url, what);
	d->r = r;
	return r;
}

static void *
download_thread(void *arg)
{
	struct download *d = arg;
	struct curl_slist *h = NULL;
	unsigned char raw[16];
	char b64[32];
	sigset_t pipe;
	CURLcode cc;
	CURL *c;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);
	c = image_curl_new(d->url, NULL, &h);
	if (!c) {
		fail_download(d, -ENOMEM, "out of memory");
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, download_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, d);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, download_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, d);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &d->status);
	if (cc == CURLE_HTTP_RETURNED_ERROR) {
		char why[64];
		snprintf(why, sizeof(why), "the server answered HTTP %ld", d->status);
		fail_download(d, d->status == 404 ? -ENOENT : -EPROTO, why);
	} else if (cc != CURLE_OK && cc != CURLE_WRITE_ERROR)
		fail_download(d, -EHOSTUNREACH, curl_easy_strerror(cc));
	else if (cc == CURLE_OK && d->content_md5[0] &&
	         hv_hash_final_raw(d->md5, raw, sizeof(raw)) == 16) {
		base64(raw, 16, b64);
		if (!streq(b64, d->content_md5))
			fail_download(d, -EBADMSG,
			              "the file does not match the server's Content-MD5");
	}
out:
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	d->fd = safe_close(d->fd);
	return NULL;
}

/* Install the image whose manifest m came from url, its file streamed from there. */
static int
fetch_and_install(const char *url, const struct hv_image_manifest *m,
                  const struct hv_image_install_opts *o, struct hv_error **reterr)
{
	struct hv_image_install_opts opts = o ? *o : (struct hv_image_install_opts){0};
	struct download d = {.fd = -1};
	size_t n = strlen(url);
	pthread_t t;
	int p[2], r;

	while (n > 0 && url[n - 1] == '/')
		n--;
	if (asprintf(&d.url, "%.*s/images/%s/file", (int)n, url, m->uuid) < 0)
		return -ENOMEM;
	if (hv_hash_new(HV_HASH_MD5, &d.md5) < 0 || pipe2(p, O_CLOEXEC) < 0) {
		free(d.url);
		hv_hash_free(d.md5);
		return -ENOMEM;
	}
	d.fd = p[1];
	if (pthread_create(&t, NULL, download_thread, &d) != 0) {
		close(p[0]);
		close(p[1]);
		free(d.url);
		hv_hash_free(d.md5);
		return -EAGAIN;
	}
	opts.source = url;
	r = hv_image_install(m, p[0], &opts, reterr);
	close(p[0]);
	pthread_join(t, NULL);
	/* What the download said comes first: the install only saw its effect. */
	if (d.r < 0 && r < 0)
		r = hv_error_set(reterr, d.r, "image %s: %s", m->uuid, d.error);
	free(d.url);
	hv_hash_free(d.md5);
	return r;
}

/* The manifest of uuid from the first source that has it. */
static int
find_manifest(char **sources, const char *uuid, json_t **ret, const char **ret_url,
              struct hv_error **reterr)
{
	_cleanup_hv_error_ struct hv_error *last = NULL;
	int r, lastr = -ENOENT;

	STRV_FOREACH (s, sources) {
		_cleanup_hv_error_ struct hv_error *e = NULL;

		r = hv_image_source_manifest(*s, uuid, ret, &e);
		if (r >= 0) {
			*ret_url = *s;
			return 0;
		}
		if (r != -ENOENT) {
			hv_error_free(last);
			last = TAKE_PTR(e);
			lastr = r;
		}
	}
	if (lastr != -ENOENT)
		return hv_error_set(reterr, lastr, "%s", hv_error_message(last, lastr));
	return hv_error_set(reterr, -ENOENT, "image %s was not found in any source", uuid);
}

static int
import_one(char **sources, const char *uuid, const struct hv_image_install_opts *o, unsigned depth,
           struct hv_error **reterr)
{
	struct hv_image_manifest m = {0};
	json_t *j = NULL;
	const char *url = NULL;
	int r;

	if (depth > ANCESTRY_MAX)
		return hv_error_set(reterr, -ELOOP, "image %s: its ancestry is over %d images deep",
		                    uuid, ANCESTRY_MAX);
	if (image_installed(o && o->zpool ? o->zpool : "zones", uuid))
		return hv_error_set(reterr, -EEXIST, "image %s is already installed", uuid);
	if ((r = find_manifest(sources, uuid, &j, &url, reterr)) < 0)
		return r;
	r = hv_image_manifest_parse(j, &m, reterr);
	json_decref(j);
	if (r < 0)
		return hv_error_prefix(reterr, r, "%s: image %s: bad manifest", url, uuid);
	if (!streq(m.state, "active") || m.disabled)
		r = hv_error_set(reterr, -EPERM, "image %s is %s at %s: only active images import",
		                 uuid, m.disabled ? "disabled" : m.state, url);
	/* Ancestry first, as SmartOS gathers it. */
	if (r >= 0 && m.origin && !image_installed(o && o->zpool ? o->zpool : "zones", m.origin)) {
		r = import_one(sources, m.origin, o, depth + 1, reterr);
		if (r == -EEXIST)
			r = 0;
	}
	if (r >= 0)
		r = fetch_and_install(url, &m, o, reterr);
	hv_image_manifest_done(&m);
	return r;
}

int
hv_image_import(const char *uuid, const char *source, const struct hv_image_install_opts *o,
                struct hv_error **reterr)
{
	_cleanup_strv_free_ char **sources = NULL;
	int r;

	if (!uuid_is_valid(uuid))
		return hv_error_set(reterr, -EINVAL, "'%s' is not an image UUID", uuid);
	if (source) {
		if ((r = strv_push(&sources, source)) < 0)
			return r;
	} else if ((r = hv_image_sources(&sources, reterr)) < 0)
		return r;
	if (strv_length(sources) == 0)
		return hv_error_set(reterr, -ENOENT,
		                    "no image sources: add one with "
		                    "'imgadm sources -a URL'");
	return import_one(sources, uuid, o, 0, reterr);
}
