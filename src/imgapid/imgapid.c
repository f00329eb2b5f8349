/* SPDX-License-Identifier: MIT */
/*
 * imgapid(8): an image server that speaks the part of IMGAPI that imgadm
 * and `imgadm publish` use. Anyone may read (ping, list, get, download);
 * publishing (create, upload, activate, enable/disable, delete) needs the
 * server's bearer token. Images live as plain files in DIR (see
 * imgapid-store.c for the layout and its crash rules); the HTTP side is in
 * imgapid-http.c.
 *
 * The process: parse options, take DIR (one server per DIR), bind the
 * listening socket ourselves (so that port 0 can be reported), start the
 * HTTP thread pool with every signal blocked, then wait for SIGTERM or
 * SIGINT and stop, which ends every connection and drops unfinished uploads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/cli.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/parse.h"
#include "imgapid.h"

#define TOKEN_MAX   4096
#define THREADS_MAX 16u

static const char usage_text[] =
        "Usage: imgapid --dir DIR --listen ADDR:PORT [--token TOKEN | --token-file FILE]\n"
        "               [--max-connections N] [--timeout SECONDS] [--threads N]\n"
        "\n"
        "Serve the images in DIR over HTTP as an IMGAPI. ADDR is an IPv4 address or an\n"
        "IPv6 address in brackets ([::1]:8080); port 0 picks a free port. Publishing\n"
        "needs 'Authorization: Bearer TOKEN'; the token comes from --token, --token-file\n"
        "or the environment variable IMGAPI_TOKEN.\n";

static const char *arg_dir;
static const char *arg_listen;
static const char *arg_token;
static const char *arg_token_file;
static unsigned arg_connections = 64;
static unsigned arg_timeout = 60;
static unsigned arg_threads;

static int
parse_unsigned(const char *opt, const char *s, unsigned min, unsigned max, unsigned *ret)
{
	uint32_t v;

	if (safe_atou32(s, &v) < 0 || v < min || v > max)
		return usage_error("%s: expected a number from %u to %u, got '%s'", opt, min, max,
		                   s);
	*ret = v;
	return 0;
}

static int
parse_args(int argc, char *argv[])
{
	enum {
		OPT_TOKEN = 0x100,
		OPT_TOKEN_FILE,
		OPT_CONNECTIONS,
		OPT_TIMEOUT,
		OPT_THREADS,
		OPT_VERSION
	};
	static const struct option options[] = {
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, OPT_VERSION},
	        {"dir", required_argument, NULL, 'd'},
	        {"listen", required_argument, NULL, 'l'},
	        {"token", required_argument, NULL, OPT_TOKEN},
	        {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
	        {"max-connections", required_argument, NULL, OPT_CONNECTIONS},
	        {"timeout", required_argument, NULL, OPT_TIMEOUT},
	        {"threads", required_argument, NULL, OPT_THREADS},
	        {},
	};
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hd:l:", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		case OPT_VERSION:
			printf("imgapid %s\n", HV_VERSION);
			return 1;
		case 'd':
			arg_dir = optarg;
			break;
		case 'l':
			arg_listen = optarg;
			break;
		case OPT_TOKEN:
			arg_token = optarg;
			break;
		case OPT_TOKEN_FILE:
			arg_token_file = optarg;
			break;
		case OPT_CONNECTIONS:
			r = parse_unsigned("--max-connections", optarg, 1, 10000, &arg_connections);
			if (r)
				return r;
			break;
		case OPT_TIMEOUT:
			r = parse_unsigned("--timeout", optarg, 1, 86400, &arg_timeout);
			if (r)
				return r;
			break;
		case OPT_THREADS:
			r = parse_unsigned("--threads", optarg, 1, 256, &arg_threads);
			if (r)
				return r;
			break;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!arg_dir)
		return usage_error("--dir DIR is required");
	if (!arg_listen)
		return usage_error("--listen ADDR:PORT is required");
	if (arg_token && arg_token_file)
		return usage_error("give --token or --token-file, not both");
	return 0;
}

/* The token: printable ASCII without spaces, so that it fits a header unchanged. */
static int
check_token(const char *t, const char *source)
{
	if (isempty(t)) {
		log_error("the token from %s is empty", source);
		return -EINVAL;
	}
	if (strlen(t) > TOKEN_MAX) {
		log_error("the token from %s is longer than %d bytes", source, TOKEN_MAX);
		return -EINVAL;
	}
	for (const char *p = t; *p; p++)
		if (*p <= ' ' || *p > '~') {
			log_error("the token from %s may only have printable ASCII characters, "
			          "without spaces",
			          source);
			return -EINVAL;
		}
	return 0;
}

static int
load_token(char **ret)
{
	_cleanup_free_ char *buf = NULL;
	const char *env = getenv("IMGAPI_TOKEN");
	size_t n;
	int r;

	if (arg_token) {
		r = check_token(arg_token, "--token");
		*ret = r < 0 ? NULL : strdup(arg_token);
	} else if (arg_token_file) {
		r = read_full_file(arg_token_file, TOKEN_MAX + 2, &buf, &n);
		if (r < 0) {
			log_error("cannot read the token file '%s': %s", arg_token_file,
			          r == -EFBIG ? "too large" : strerror(-r));
			return r;
		}
		/* One line; its newline (and trailing white space) is not part of the token. */
		while (n > 0 && strchr(" \t\r\n", buf[n - 1]))
			buf[--n] = 0;
		r = check_token(buf, arg_token_file);
		*ret = r < 0 ? NULL : TAKE_PTR(buf);
	} else if (env) {
		r = check_token(env, "IMGAPI_TOKEN");
		*ret = r < 0 ? NULL : strdup(env);
	} else {
		log_error("no token: give --token, --token-file or IMGAPI_TOKEN");
		return -EINVAL;
	}
	if (r < 0)
		return r;
	return *ret ? 0 : -ENOMEM;
}

/* "127.0.0.1:8080" or "[::1]:8080", numeric only. */
static int
parse_listen(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	_cleanup_free_ char *host = NULL;
	const char *colon;
	uint32_t port;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		host = strndup(s + 1, (size_t)(end - s - 1));
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		host = strndup(s, (size_t)(colon - s));
	}
	if (!host)
		return -ENOMEM;
	if (safe_atou32(colon + 1, &port) < 0 || port > 65535)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	if (s[0] != '[') {
		struct sockaddr_in *in = (struct sockaddr_in *)ret;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -EINVAL;
		*ret_len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ret;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -EINVAL;
		*ret_len = sizeof(*in6);
	}
	return 0;
}

static int
format_address(const struct sockaddr_storage *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		return snprintf(buf, size, "%s:%u", host, ntohs(in->sin_port));
	}
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

	inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
	return snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port));
}

static int
listen_on(const char *spec, char *ret_addr, size_t size)
{
	struct sockaddr_storage sa;
	socklen_t len;
	_cleanup_close_ int fd = -EBADF;
	int one = 1, r;

	r = parse_listen(spec, &sa, &len);
	if (r < 0) {
		log_error("--listen: '%s' is not ADDR:PORT (127.0.0.1:8080, [::1]:8080)", spec);
		return r;
	}
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return log_error_errno(errno, "cannot create a socket: %m");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, len) < 0)
		return log_error_errno(errno, "cannot listen on %s: %m", spec);
	if (listen(fd, 128) < 0)
		return log_error_errno(errno, "cannot listen on %s: %m", spec);
	len = sizeof(sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return log_error_errno(errno, "getsockname: %m");
	format_address(&sa, ret_addr, size);
	return TAKE_FD(fd);
}

int
main(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_(store_freep) struct store *store = NULL;
	_cleanup_free_ char *token = NULL;
	struct server *srv = NULL;
	char addr[INET6_ADDRSTRLEN + 16];
	sigset_t mask;
	int fd, sig, r;
	long cpus;

	log_open("imgapid", NULL);
	r = parse_args(argc, argv);
	if (r != 0)
		return r < 0 ? EXIT_USAGE : (r == 1 ? 0 : r);
	if (load_token(&token) < 0)
		return EXIT_FAILURE;
	r = store_open(arg_dir, &store, &e);
	if (r < 0) {
		log_error("%s", hv_error_message(e, r));
		return EXIT_FAILURE;
	}
	fd = listen_on(arg_listen, addr, sizeof(addr));
	if (fd < 0)
		return EXIT_FAILURE;

	/* Signals are ours (SIGPIPE is a closed connection, sendfile may raise it). */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	(void)pthread_sigmask(SIG_BLOCK, &mask, NULL);
	(void)signal(SIGPIPE, SIG_IGN);

	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	cpus = MAX(cpus, 2L);
	r = server_start(
	        &(struct server_config){
	                .store = store,
	                .token = token,
	                .listen_fd = fd,
	                .threads = arg_threads ?: (unsigned)MIN(cpus, (long)THREADS_MAX),
	                .connections = arg_connections,
	                .timeout_sec = arg_timeout,
	        },
	        &srv, &e);
	if (r < 0) {
		safe_close(fd);
		log_error("%s", hv_error_message(e, r));
		return EXIT_FAILURE;
	}
	log_info("serving %zu images from %s on http://%s", store_count(store), arg_dir, addr);
	printf("listening on http://%s\n", addr);
	fflush(stdout);

	do
		sig = sigwaitinfo(&mask, NULL);
	while (sig < 0 && errno == EINTR);
	log_info("stopping (%s)", sig >= 0 ? strsignal(sig) : "sigwaitinfo failed");
	/* Ends every connection; the daemon closes the listening socket it was given. */
	server_stop(srv);
	return EXIT_SUCCESS;
}
