/* SPDX-License-Identifier: MIT */
/*
 * imgapid's HTTP side, on libmicrohttpd with its own pool of threads, each
 * polling its connections with poll(). Not epoll: libmicrohttpd 0.9.75's
 * edge-triggered epoll misses a client's close when the body filled its
 * buffer, so an aborted upload would hold its connection (and its file)
 * until the idle timeout. With at most --max-connections connections, poll
 * costs nothing. Each request goes through three steps:
 *
 *   begin   (headers read): route, method, token, query checks, and for an
 *           upload the store's checks and its unnamed file;
 *   body    (zero or more chunks): a manifest is collected (1 MiB at most),
 *           a file is streamed to disk while sha1 and md5 are computed;
 *   finish  (body complete): the work, and the one reply.
 *
 * An error found in begin is answered at once when no body follows, when the
 * client waits for "100 Continue", or when the body is over DISCARD_MAX (the
 * connection is then closed, as libmicrohttpd does for a request it has not
 * read, and a client still sending may see a reset instead of the reply);
 * a smaller body is read and dropped first, so the client gets to read the
 * reply on a connection that stays usable. A body that goes past its limit
 * without a Content-Length (chunked) gets the connection closed.
 *
 * Every error reply is IMGAPI's {"code", "message"} (plus "errors" naming
 * the field for InvalidParameter and ValidationFailed). Downloads are sent
 * from the file's descriptor (sendfile), never read into memory.
 */
#include <inttypes.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/cleanup.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/parse.h"
#include "image/manifest.h"
#include "imgapid.h"
#include "json/json.h"

#define DISCARD_MAX (UINT64_C(8) << 20) /* body bytes read and dropped after an early error */
#define CONN_MEMORY (128 * 1024)        /* libmicrohttpd's buffer per connection */
#define LOG_URL_MAX 200

struct server {
	struct MHD_Daemon *daemon;
	struct store *store;
	char *token;
};

enum route {
	ROUTE_NONE,
	ROUTE_PING,
	ROUTE_LIST,
	ROUTE_CREATE,
	ROUTE_GET,
	ROUTE_ACTION,
	ROUTE_DELETE,
	ROUTE_FILE_GET,
	ROUTE_FILE_PUT,
};

struct request {
	struct server *srv;
	enum route route;
	char uuid[UUID_STRING_LEN + 1];
	char method[16];
	char *url;
	unsigned status; /* what was sent, for the log */
	/* An error found before the body was read, sent once it has been. */
	unsigned err_status;
	json_t *err_body;
	const char *err_header, *err_header_value;
	uint64_t discard_max, discarded;
	struct upload *upload;
	char *body;
	size_t body_size;
};

static struct request *
request_free(struct request *req)
{
	if (!req)
		return NULL;
	store_upload_free(req->upload);
	json_decref(req->err_body);
	free(req->body);
	free(req->url);
	free(req);
	return NULL;
}

/* ---- replies --------------------------------------------------------------------- */

static json_t *
error_json(const char *code, const char *field, const char *msg)
{
	json_t *o = json_pack("{s:s, s:o}", "code", code, "message", hv_json_string_sanitized(msg));

	if (o && field &&
	    hv_json_set(o, "errors",
	                json_pack("[{s:o, s:s, s:o}]", "field", hv_json_string_sanitized(field),
	                          "code", "Invalid", "message", hv_json_string_sanitized(msg))) < 0)
		return json_decref(o), NULL;
	return o;
}

static void set_error(struct request *req, unsigned status, const char *code, const char *field,
                      const char *fmt, ...) _printf_(5, 6);

/* Record the request's error; the first one found is the one reported. */
static void
set_error(struct request *req, unsigned status, const char *code, const char *field,
          const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	if (req->err_status)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	req->err_status = status;
	req->err_body = error_json(code, field, msg ?: "out of memory");
}

static const struct {
	int err;
	unsigned status;
	const char *code;
} error_map[] = {
        {ENOENT, MHD_HTTP_NOT_FOUND, "ResourceNotFound"},
        {EEXIST, MHD_HTTP_CONFLICT, "ImageUuidAlreadyExists"},
        {ENODATA, MHD_HTTP_UNPROCESSABLE_CONTENT, "NoActivationNoFile"},
        {EALREADY, MHD_HTTP_UNPROCESSABLE_CONTENT, "ImageAlreadyActivated"},
        {EROFS, MHD_HTTP_UNPROCESSABLE_CONTENT, "ImageFilesImmutable"},
        {ENOTEMPTY, MHD_HTTP_UNPROCESSABLE_CONTENT, "ImageHasDependentImages"},
        {ENXIO, MHD_HTTP_UNPROCESSABLE_CONTENT, "OriginDoesNotExist"},
        {EFBIG, MHD_HTTP_CONTENT_TOO_LARGE, "PayloadTooLarge"},
        {ENOSPC, MHD_HTTP_INSUFFICIENT_STORAGE, "InsufficientStorage"},
        {EDQUOT, MHD_HTTP_INSUFFICIENT_STORAGE, "InsufficientStorage"},
};

/* A store call's failure as IMGAPI's error; -EINVAL becomes invalid_code. */
static void
set_store_error(struct request *req, int r, const struct hv_error *e, const char *invalid_code)
{
	const char *msg = hv_error_message(e, r);

	if (r == -EINVAL) {
		set_error(req, MHD_HTTP_UNPROCESSABLE_CONTENT, invalid_code, e ? e->path : NULL,
		          "%s", msg);
		return;
	}
	for (size_t i = 0; i < ELEMENTSOF(error_map); i++)
		if (-r == error_map[i].err) {
			set_error(req, error_map[i].status, error_map[i].code, NULL, "%s", msg);
			return;
		}
	log_error("%s %s: %s", req->method, strempty(req->url), msg);
	set_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "InternalError", NULL, "%s", msg);
}

static enum MHD_Result
queue(struct request *req, struct MHD_Connection *c, unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result ok;

	if (!resp)
		return MHD_NO;
	(void)MHD_add_response_header(resp, "Server", "imgapid/" HV_VERSION);
	ok = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	req->status = status;
	return ok;
}

/* Send JSON text (taken over). */
static enum MHD_Result
send_text(struct request *req, struct MHD_Connection *c, unsigned status, char *text,
          const char *header, const char *value)
{
	struct MHD_Response *resp;

	if (!text)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") !=
	            MHD_YES ||
	    (header && MHD_add_response_header(resp, header, value) != MHD_YES)) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	return queue(req, c, status, resp);
}

static enum MHD_Result
send_json(struct request *req, struct MHD_Connection *c, unsigned status, json_t *body)
{
	char *text = body ? hv_json_dumps(body) : NULL;

	json_decref(body);
	return send_text(req, c, status, text, NULL, NULL);
}

static enum MHD_Result
send_error(struct request *req, struct MHD_Connection *c)
{
	char *text = req->err_body ? hv_json_dumps(req->err_body) : NULL;

	return send_text(req, c, req->err_status, text, req->err_header, req->err_header_value);
}

static enum MHD_Result
send_empty(struct request *req, struct MHD_Connection *c, unsigned status)
{
	return queue(req, c, status,
	             MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT));
}

/* ---- begin: route, method, token ---------------------------------------------------- */

static bool
token_equal(const char *given, const char *token)
{
	size_t lg = strlen(given), lt = strlen(token);
	volatile unsigned char d = lg != lt;

	/* Time depends on the length of what the client sent, never on the token. */
	for (size_t i = 0; i < lg; i++)
		d |= (unsigned char)given[i] ^ (unsigned char)token[i % lt];
	return d == 0;
}

static void
authorize(struct request *req, struct MHD_Connection *c)
{
	const char *h =
	        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

	if (!h)
		set_error(req, MHD_HTTP_UNAUTHORIZED, "Unauthorized", NULL,
		          "%s needs an 'Authorization: Bearer <token>' header", req->method);
	else if (strncasecmp(h, "Bearer ", 7) != 0)
		set_error(req, MHD_HTTP_UNAUTHORIZED, "Unauthorized", NULL,
		          "only bearer tokens are accepted ('Authorization: Bearer <token>')");
	else if (!token_equal(h + 7 + strspn(h + 7, " "), req->srv->token))
		set_error(req, MHD_HTTP_UNAUTHORIZED, "Unauthorized", NULL,
		          "the token is not valid");
	else
		return;
	req->err_header = MHD_HTTP_HEADER_WWW_AUTHENTICATE;
	req->err_header_value = "Bearer realm=\"imgapid\"";
}

static void
not_allowed(struct request *req, const char *path, const char *allow)
{
	set_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, "MethodNotAllowed", NULL,
	          "%s is not allowed on %s (only %s)", req->method, path, allow);
	req->err_header = MHD_HTTP_HEADER_ALLOW;
	req->err_header_value = allow;
}

static void
route(struct request *req, const char *url)
{
	bool get = streq(req->method, "GET") || streq(req->method, "HEAD");
	bool post = streq(req->method, "POST");
	const char *rest, *tail;
	size_t n;

	if (streq(url, "/ping")) {
		if (get)
			req->route = ROUTE_PING;
		else
			not_allowed(req, "/ping", "GET, HEAD");
		return;
	}
	if (streq(url, "/images")) {
		if (get || post)
			req->route = get ? ROUTE_LIST : ROUTE_CREATE;
		else
			not_allowed(req, "/images", "GET, HEAD, POST");
		return;
	}
	rest = startswith(url, "/images/");
	n = rest ? strcspn(rest, "/") : 0;
	tail = rest ? rest + n : NULL;
	if (!rest || (!streq(tail, "") && !streq(tail, "/file"))) {
		set_error(req, MHD_HTTP_NOT_FOUND, "ResourceNotFound", NULL,
		          "no such endpoint: '%.*s'", LOG_URL_MAX, url);
		return;
	}
	if (n == UUID_STRING_LEN)
		memcpy(req->uuid, rest, n);
	if (!uuid_is_valid(req->uuid)) {
		req->uuid[0] = 0;
		set_error(req, MHD_HTTP_UNPROCESSABLE_CONTENT, "InvalidParameter", "uuid",
		          "uuid: '%.*s' is not a UUID", (int)MIN(n, (size_t)64), rest);
		return;
	}
	for (char *p = req->uuid; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (streq(tail, "")) {
		if (get)
			req->route = ROUTE_GET;
		else if (post)
			req->route = ROUTE_ACTION;
		else if (streq(req->method, "DELETE"))
			req->route = ROUTE_DELETE;
		else
			not_allowed(req, "/images/:uuid", "GET, HEAD, POST, DELETE");
	} else {
		if (get)
			req->route = ROUTE_FILE_GET;
		else if (streq(req->method, "PUT"))
			req->route = ROUTE_FILE_PUT;
		else
			not_allowed(req, "/images/:uuid/file", "GET, HEAD, PUT");
	}
}

/* ---- query parameters ------------------------------------------------------------- */

struct args {
	struct request *req;
	const char *const *allowed;
	bool tags; /* tag.<key> allowed */
	json_t *seen;
};

static enum MHD_Result
check_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct args *a = cls;
	bool ok = a->tags && startswith(key, "tag.") && key[4];

	for (const char *const *p = a->allowed; !ok && *p; p++)
		ok = streq(*p, key);
	if (!ok) {
		set_error(a->req, MHD_HTTP_UNPROCESSABLE_CONTENT, "InvalidParameter", key,
		          "unknown parameter '%.100s'", key);
		return MHD_NO;
	}
	if (json_object_get(a->seen, key) && !streq(key, "billing_tag")) {
		set_error(a->req, MHD_HTTP_UNPROCESSABLE_CONTENT, "InvalidParameter", key,
		          "parameter '%.100s' given twice", key);
		return MHD_NO;
	}
	(void)json_object_set_new(a->seen, key, json_true());
	return MHD_YES;
}

/* Every query parameter must be one of allowed, and given once. */
static bool
check_args(struct request *req, struct MHD_Connection *c, const char *const *allowed, bool tags)
{
	json_auto_t *seen = json_object();
	struct args a = {req, allowed, tags, seen};

	if (!seen)
		return false;
	(void)MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, check_arg, &a);
	return req->err_status == 0;
}

static const char *
arg(struct MHD_Connection *c, const char *key)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

/* A true/false parameter; absent is false. */
static bool
bool_arg(struct request *req, struct MHD_Connection *c, const char *key, bool *ret)
{
	const char *v = arg(c, key);

	*ret = false;
	if (v && parse_boolean(v, ret) < 0) {
		set_error(req, MHD_HTTP_UNPROCESSABLE_CONTENT, "InvalidParameter", key,
		          "%.100s: expected true or false, got '%.100s'", key, v);
		return false;
	}
	return true;
}

/* ---- GET /images ------------------------------------------------------------------- */

struct list_args {
	struct request *req;
	struct list_query *q;
};

static enum MHD_Result
list_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct list_args *a = cls;
	int r;

	r = list_query_set(a->q, key, value ?: "", &e);
	if (r < 0) {
		set_store_error(a->req, r, e, "InvalidParameter");
		return MHD_NO;
	}
	return MHD_YES;
}

static enum MHD_Result
list_images(struct request *req, struct MHD_Connection *c)
{
	static const char *const allowed[] = {
	        "name",  "version", "os",   "type",    "state",   "owner",           "public",
	        "limit", "marker",  "sort", "account", "channel", "inclAdminFields", "billing_tag",
	        NULL,
	};
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_auto_t *tags = json_object(), *billing = json_array();
	struct list_query q = {
	        .public_ = -1,
	        .limit = LIST_LIMIT_MAX,
	        .tags = tags,
	        .billing_tags = billing,
	};
	struct list_args a = {req, &q};
	char *text = NULL;
	int r;

	if (!tags || !billing)
		return MHD_NO;
	if (!check_args(req, c, allowed, true) || !bool_arg(req, c, "inclAdminFields", &q.admin))
		return send_error(req, c);
	(void)MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, list_arg, &a);
	if (req->err_status)
		return send_error(req, c);
	r = store_list(req->srv->store, &q, &text, &e);
	if (r < 0) {
		set_store_error(req, r, e, "InvalidParameter");
		return send_error(req, c);
	}
	return send_text(req, c, MHD_HTTP_OK, text, NULL, NULL);
}

/* ---- downloads --------------------------------------------------------------------- */

static bool
parse_u64(const char *s, size_t n, uint64_t *ret)
{
	uint64_t v = 0;

	if (n == 0 || n > 19)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*ret = v;
	return true;
}

/*
 * One "bytes=a-b", "bytes=a-" or "bytes=-n" range of a file of size bytes.
 * -EINVAL: malformed; -EOPNOTSUPP: several ranges; -ERANGE: outside the file.
 */
static int
parse_range(const char *h, uint64_t size, uint64_t *ret_start, uint64_t *ret_len)
{
	const char *spec = startswith(h, "bytes="), *dash;
	uint64_t a, b;

	if (!spec)
		return -EINVAL;
	spec += strspn(spec, " ");
	if (strchr(spec, ','))
		return -EOPNOTSUPP;
	dash = strchr(spec, '-');
	if (!dash)
		return -EINVAL;
	if (dash == spec) {
		/* The last b bytes. */
		if (!parse_u64(dash + 1, strlen(dash + 1), &b))
			return -EINVAL;
		if (b == 0 || size == 0)
			return -ERANGE;
		b = MIN(b, size);
		*ret_start = size - b;
		*ret_len = b;
		return 0;
	}
	if (!parse_u64(spec, (size_t)(dash - spec), &a))
		return -EINVAL;
	if (dash[1] == 0)
		b = UINT64_MAX;
	else if (!parse_u64(dash + 1, strlen(dash + 1), &b))
		return -EINVAL;
	if (b < a)
		return -EINVAL;
	if (a >= size)
		return -ERANGE;
	b = MIN(b, size - 1);
	*ret_start = a;
	*ret_len = b - a + 1;
	return 0;
}

static enum MHD_Result
get_file(struct request *req, struct MHD_Connection *c)
{
	static const char *const allowed[] = {"account", "channel", "index", NULL};
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_close_ int fd = -EBADF;
	char md5[MD5_BASE64_LEN + 1], buf[96];
	const char *range, *index;
	uint64_t size, start = 0, len;
	struct MHD_Response *resp;
	bool partial = false;
	int r;

	if (!check_args(req, c, allowed, false))
		return send_error(req, c);
	index = arg(c, "index");
	if (index && !streq(index, "0")) {
		set_error(req, MHD_HTTP_UNPROCESSABLE_CONTENT, "InvalidParameter", "index",
		          "index: images have one file, index 0, not '%.100s'", index);
		return send_error(req, c);
	}
	r = store_open_file(req->srv->store, req->uuid, &fd, &size, md5, &e);
	if (r < 0) {
		set_store_error(req, r, e, "InvalidParameter");
		return send_error(req, c);
	}
	len = size;
	range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
	if (range) {
		r = parse_range(range, size, &start, &len);
		if (r < 0) {
			set_error(req, MHD_HTTP_RANGE_NOT_SATISFIABLE,
			          "RequestedRangeNotSatisfiable", NULL,
			          r == -EOPNOTSUPP ? "range '%.100s': only one range is supported"
			          : r == -ERANGE   ? "range '%.100s' is outside the file"
			                         : "range '%.100s' is not 'bytes=FIRST-[LAST]' or "
			                           "'bytes=-SUFFIX'",
			          range);
			snprintf(buf, sizeof(buf), "bytes */%" PRIu64, size);
			req->err_header = MHD_HTTP_HEADER_CONTENT_RANGE;
			req->err_header_value = buf;
			return send_error(req, c);
		}
		partial = true;
	}
	resp = MHD_create_response_from_fd_at_offset64(len, fd, start);
	if (!resp)
		return MHD_NO;
	fd = -EBADF; /* the response owns it now */
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	                            "application/octet-stream") != MHD_YES ||
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes") != MHD_YES)
		goto fail;
	if (partial) {
		snprintf(buf, sizeof(buf), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, start,
		         start + len - 1, size);
		if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, buf) != MHD_YES)
			goto fail;
	} else if (md5[0] && MHD_add_response_header(resp, "Content-MD5", md5) != MHD_YES)
		goto fail;
	return queue(req, c, partial ? MHD_HTTP_PARTIAL_CONTENT : MHD_HTTP_OK, resp);
fail:
	MHD_destroy_response(resp);
	return MHD_NO;
}

/* ---- the other endpoints ------------------------------------------------------------ */

static const char *const plain_args[] = {"account", "channel", NULL};

static enum MHD_Result
ping(struct request *req, struct MHD_Connection *c)
{
	return send_json(
	        req, c, MHD_HTTP_OK,
	        json_pack("{s:s, s:s, s:b}", "ping", "pong", "version", HV_VERSION, "imgapi", 1));
}

static enum MHD_Result
get_image(struct request *req, struct MHD_Connection *c)
{
	static const char *const allowed[] = {"account", "channel", "inclAdminFields", NULL};
	_cleanup_hv_error_ struct hv_error *e = NULL;
	char *text = NULL;
	bool admin;
	int r;

	if (!check_args(req, c, allowed, false) || !bool_arg(req, c, "inclAdminFields", &admin))
		return send_error(req, c);
	r = store_get(req->srv->store, req->uuid, admin, &text, &e);
	if (r < 0) {
		set_store_error(req, r, e, "InvalidParameter");
		return send_error(req, c);
	}
	return send_text(req, c, MHD_HTTP_OK, text, NULL, NULL);
}

static enum MHD_Result
create_image(struct request *req, struct MHD_Connection *c)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_t *j = NULL;
	char *text = NULL;
	int r;

	if (!check_args(req, c, plain_args, false))
		return send_error(req, c);
	if (req->body_size == 0) {
		set_error(req, MHD_HTTP_BAD_REQUEST, "BadRequest", NULL,
		          "POST /images needs the manifest as its JSON body");
		return send_error(req, c);
	}
	r = hv_json_load_buf(req->body, req->body_size, "manifest", &j, &e);
	if (r < 0) {
		if (r == -ENOMEM)
			return MHD_NO;
		set_error(req, MHD_HTTP_BAD_REQUEST, "BadRequest", NULL, "%s",
		          hv_error_message(e, r));
		return send_error(req, c);
	}
	r = store_create(req->srv->store, j, &text, &e);
	if (r < 0) {
		set_store_error(req, r, e, "ValidationFailed");
		return send_error(req, c);
	}
	return send_text(req, c, MHD_HTTP_OK, text, NULL, NULL);
}

static enum MHD_Result
image_action(struct request *req, struct MHD_Connection *c)
{
	static const char *const allowed[] = {"action", "account", "channel", NULL};
	_cleanup_hv_error_ struct hv_error *e = NULL;
	const char *action;
	char *text = NULL;
	int r;

	if (!check_args(req, c, allowed, false))
		return send_error(req, c);
	action = arg(c, "action");
	if (!action) {
		set_error(req, MHD_HTTP_UNPROCESSABLE_CONTENT, "InvalidParameter", "action",
		          "action: required (activate, enable or disable)");
		return send_error(req, c);
	}
	if (streq(action, "activate"))
		r = store_activate(req->srv->store, req->uuid, &text, &e);
	else if (streq(action, "enable") || streq(action, "disable"))
		r = store_set_disabled(req->srv->store, req->uuid, streq(action, "disable"), &text,
		                       &e);
	else {
		set_error(req, MHD_HTTP_UNPROCESSABLE_CONTENT, "InvalidParameter", "action",
		          "action: '%.100s' is not one of activate, enable, disable", action);
		return send_error(req, c);
	}
	if (r < 0) {
		set_store_error(req, r, e, "ValidationFailed");
		return send_error(req, c);
	}
	log_info("image %s: %s", req->uuid, action);
	return send_text(req, c, MHD_HTTP_OK, text, NULL, NULL);
}

static enum MHD_Result
delete_image(struct request *req, struct MHD_Connection *c)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r;

	if (!check_args(req, c, plain_args, false))
		return send_error(req, c);
	r = store_delete(req->srv->store, req->uuid, &e);
	if (r < 0) {
		set_store_error(req, r, e, "InvalidParameter");
		return send_error(req, c);
	}
	log_info("image %s deleted", req->uuid);
	return send_empty(req, c, MHD_HTTP_NO_CONTENT);
}

static enum MHD_Result
finish_upload(struct request *req, struct MHD_Connection *c)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	char *text = NULL;
	int r;

	r = store_upload_finish(req->srv->store, req->upload, &text, &e);
	if (r < 0) {
		set_store_error(req, r, e, "InvalidParameter");
		return send_error(req, c);
	}
	log_info("image %s: file of %" PRIu64 " bytes stored", req->uuid,
	         store_upload_size(req->upload));
	req->upload = store_upload_free(req->upload);
	return send_text(req, c, MHD_HTTP_OK, text, NULL, NULL);
}

/* ---- the three steps ------------------------------------------------------------------ */

static bool
content_length(struct MHD_Connection *c, uint64_t *ret)
{
	const char *h =
	        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return h && safe_atou64(h, ret) >= 0;
}

static bool
has_body(struct MHD_Connection *c)
{
	uint64_t n;

	if (content_length(c, &n))
		return n > 0;
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) !=
	       NULL;
}

static void
begin_upload(struct request *req, struct MHD_Connection *c)
{
	static const char *const allowed[] = {"compression", "sha1",    "dataset_guid",
	                                      "account",     "channel", NULL};
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct upload_params p;
	uint64_t n;
	int r;

	if (content_length(c, &n) && n > HV_IMAGE_FILE_SIZE_MAX) {
		set_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "PayloadTooLarge", NULL,
		          "the file is %" PRIu64 " bytes; image files may have at most %" PRIu64, n,
		          HV_IMAGE_FILE_SIZE_MAX);
		return;
	}
	if (!check_args(req, c, allowed, false))
		return;
	p = (struct upload_params){
	        .compression = arg(c, "compression"),
	        .sha1 = arg(c, "sha1"),
	        .dataset_guid = arg(c, "dataset_guid"),
	};
	r = store_upload_begin(req->srv->store, req->uuid, &p, &req->upload, &e);
	if (r < 0)
		set_store_error(req, r, e, "InvalidParameter");
}

static void
begin(struct request *req, struct MHD_Connection *c, const char *url)
{
	uint64_t n;

	route(req, url);
	if (req->err_status)
		return;
	switch (req->route) {
	case ROUTE_CREATE:
		authorize(req, c);
		if (!req->err_status && content_length(c, &n) && n > MANIFEST_BODY_MAX)
			set_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "PayloadTooLarge", NULL,
			          "the manifest is %" PRIu64 " bytes; at most %" PRIu64
			          " are accepted",
			          n, MANIFEST_BODY_MAX);
		break;
	case ROUTE_ACTION:
	case ROUTE_DELETE:
		authorize(req, c);
		break;
	case ROUTE_FILE_PUT:
		authorize(req, c);
		if (!req->err_status)
			begin_upload(req, c);
		break;
	default:
		break;
	}
}

static enum MHD_Result
body(struct request *req, const char *data, size_t n)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r;

	if (!req->err_status && req->route == ROUTE_CREATE) {
		char *b;

		if (n > MANIFEST_BODY_MAX - req->body_size)
			return MHD_NO; /* chunked, past the limit */
		b = realloc(req->body, req->body_size + n + 1);
		if (!b)
			return MHD_NO;
		memcpy(b + req->body_size, data, n);
		req->body = b;
		req->body_size += n;
		return MHD_YES;
	}
	if (!req->err_status && req->route == ROUTE_FILE_PUT) {
		r = store_upload_write(req->upload, data, n);
		if (r == -EFBIG)
			return MHD_NO; /* chunked, past the limit */
		if (r >= 0)
			return MHD_YES;
		hv_error_set(&e, r, "image '%.100s': cannot write the upload: %m", req->uuid);
		set_store_error(req, r, e, "InvalidParameter");
		req->upload = store_upload_free(req->upload);
		req->discard_max = HV_IMAGE_FILE_SIZE_MAX; /* read on, to be able to reply */
		return MHD_YES;
	}
	req->discarded += n;
	return req->discarded > MAX(req->discard_max, DISCARD_MAX) ? MHD_NO : MHD_YES;
}

static enum MHD_Result
finish(struct request *req, struct MHD_Connection *c)
{
	if (req->err_status)
		return send_error(req, c);
	switch (req->route) {
	case ROUTE_PING:
		return ping(req, c);
	case ROUTE_LIST:
		return list_images(req, c);
	case ROUTE_CREATE:
		return create_image(req, c);
	case ROUTE_GET:
		return get_image(req, c);
	case ROUTE_ACTION:
		return image_action(req, c);
	case ROUTE_DELETE:
		return delete_image(req, c);
	case ROUTE_FILE_GET:
		return get_file(req, c);
	case ROUTE_FILE_PUT:
		return finish_upload(req, c);
	case ROUTE_NONE:
		break;
	}
	return MHD_NO;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct request *req = *con_cls;
	const char *expect;
	uint64_t n;

	if (!req) {
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		*con_cls = req;
		req->srv = cls;
		snprintf(req->method, sizeof(req->method), "%s", method);
		req->url = strndup(url, LOG_URL_MAX);
		begin(req, c, url);
		if (!req->err_status)
			return MHD_YES;
		/* Answer now, or read a small body first so that the client can read the answer. */
		expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
		if (!has_body(c) || (expect && strcasecmp(expect, "100-continue") == 0) ||
		    !content_length(c, &n) || n > DISCARD_MAX)
			return send_error(req, c);
		req->discard_max = n;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t size = *upload_data_size;

		*upload_data_size = 0;
		return body(req, upload_data, size);
	}
	return finish(req, c);
}

static const char *
termination_string(enum MHD_RequestTerminationCode toe)
{
	switch (toe) {
	case MHD_REQUEST_TERMINATED_COMPLETED_OK:
		return "completed";
	case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
		return "timed out";
	case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
		return "server stopping";
	case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
	case MHD_REQUEST_TERMINATED_READ_ERROR:
		return "the client went away";
	default:
		return "error";
	}
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct request *req = *con_cls;

	if (!req)
		return;
	if (req->upload && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		log_info("image %s: upload stopped after %" PRIu64 " bytes (%s); nothing kept",
		         req->uuid, store_upload_size(req->upload), termination_string(toe));
	if (req->status)
		log_debug("%s %s %u", req->method, strempty(req->url), req->status);
	else
		log_debug("%s %s: no reply (%s)", req->method, strempty(req->url),
		          termination_string(toe));
	*con_cls = request_free(req);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) _printf_(2, 0);

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = 0;
	log_notice("libmicrohttpd: %s", buf);
}

int
server_start(const struct server_config *cfg, struct server **ret, struct hv_error **reterr)
{
	struct server *srv;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->store = cfg->store;
	srv->token = strdup(cfg->token);
	if (!srv->token)
		return server_stop(srv), -ENOMEM;
	srv->daemon = MHD_start_daemon(
	        MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, srv,
	        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, cfg->listen_fd,
	        MHD_OPTION_THREAD_POOL_SIZE, cfg->threads, MHD_OPTION_CONNECTION_LIMIT,
	        cfg->connections, MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout_sec,
	        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
	        MHD_OPTION_NOTIFY_COMPLETED, completed, srv, MHD_OPTION_END);
	if (!srv->daemon) {
		server_stop(srv);
		return hv_error_set(reterr, -EIO, "cannot start the HTTP server (libmicrohttpd)");
	}
	*ret = srv;
	return 0;
}

struct server *
server_stop(struct server *srv)
{
	if (!srv)
		return NULL;
	if (srv->daemon)
		MHD_stop_daemon(srv->daemon);
	free(srv->token);
	free(srv);
	return NULL;
}
