/*
 * What every request passes before its handler: the Host check, and the
 * slow-down of addresses that keep failing authentication.
 *
 * Host check (DNS rebinding): a web page on an attacker's name that
 * resolves to this daemon's address could have a browser read the API
 * with the daemon's network position.  Such a request carries the
 * attacker's name in Host, so a Host that names something else than
 * this daemon is refused with 421.  Allowed: any IP address literal (a
 * rebinding needs a name), "localhost", the host of the public URL and
 * the names in http.allowed_hosts; the port is not compared.  A request
 * without Host (HTTP/1.0) is let through: browsers always send one.
 *
 * Failed authentication (a bearer token or a webhook signature that is
 * not valid): http.max_auth_failures (10) from one client address within
 * API_THROTTLE_WINDOW_MS block it for API_THROTTLE_BLOCK_MS: while
 * blocked, every request of that address that presents credentials is
 * answered 429 with Retry-After before they are looked at, so that
 * guessing learns nothing and costs a minute per ten tries.  Refusing
 * rather than delaying keeps no request, timer or socket waiting on the
 * loop.  The address is http_request_client's (behind a trusted proxy,
 * the client it names), an IPv6 one counted by its /64.  The table is bounded; when it is full the entry
 * least recently failed is dropped (a flood of addresses forgets early
 * ones rather than growing).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api-int.h"
#include "pipewright/log.h"

/* Whether host (lower case, no port, no trailing dot) is this daemon's. */
static bool
host_allowed(struct api *a, const char *host)
{
	const struct config *c = daemon_config(a->d);
	const char *const *names;
	const char *url = daemon_public_url(a->d), *p, *e;
	unsigned char ip[16];
	size_t n, i;

	if (inet_pton(AF_INET, host, ip) == 1 || strcmp(host, "localhost") == 0)
		return true;
	names = config_http_allowed_hosts(c, &n);
	for (i = 0; i < n; i++)
		if (strcmp(names[i], host) == 0)
			return true;
	/* The public URL's host: scheme://HOST[:PORT][/...] */
	p = strstr(url, "://");
	if (p == NULL || p[3] == '[')
		return false;
	p += 3;
	e = p + strcspn(p, ":/");
	if (e > p && e[-1] == '.')
		e--;
	return (size_t)(e - p) == strlen(host) &&
	       strncasecmp(p, host, (size_t)(e - p)) == 0;
}

bool
api_guard(struct http_request *req, void *arg)
{
	struct api *a = arg;
	const char *h = http_request_header(req, "Host");
	char host[256];
	size_t len, i;

	if (h == NULL)
		return true;
	len = strlen(h);
	if (h[0] == '[' && strchr(h, ']') != NULL)
		return true; /* an IPv6 literal */
	for (i = len; i > 0 && h[i - 1] >= '0' && h[i - 1] <= '9'; i--)
		;
	if (i > 0 && i < len && h[i - 1] == ':')
		len = i - 1;
	else if (i > 0 && i == len && h[i - 1] == ':')
		len = i - 1;
	if (len > 0 && h[len - 1] == '.')
		len--;
	if (len == 0 || len >= sizeof(host))
		goto refuse;
	for (i = 0; i < len; i++)
		host[i] = (char)tolower((unsigned char)h[i]);
	host[len] = '\0';
	if (host_allowed(a, host))
		return true;
refuse:
	/* Debug only: anyone can send these, as many as they like. */
	log_debug("http.misdirected client=%s host=\"%.64s\"",
		  http_request_client(req), h);
	http_respond_error(req, 421, "misdirected_request",
			   "this daemon does not serve the host '%.64s'; "
			   "add it to http.allowed_hosts", h);
	return false;
}

/*
 * The key a client's failures are counted under: its address, or for
 * IPv6 its /64 (one subscriber gets a whole /64 and could otherwise take
 * a fresh address for every ten guesses).
 */
static void
client_key(struct http_request *req, char *out, size_t len)
{
	const char *addr = http_request_client(req);
	unsigned char ip[16];
	char text[INET6_ADDRSTRLEN];

	if (strchr(addr, ':') == NULL || inet_pton(AF_INET6, addr, ip) != 1) {
		snprintf(out, len, "%s", addr);
		return;
	}
	memset(ip + 8, 0, 8);
	inet_ntop(AF_INET6, ip, text, sizeof(text));
	snprintf(out, len, "%s/64", text);
}

static struct api_fail *
fail_find(struct api *a, const char *addr)
{
	size_t i;

	for (i = 0; i < a->nfails; i++)
		if (strcmp(a->fails[i].addr, addr) == 0)
			return &a->fails[i];
	return NULL;
}

bool
api_throttled(struct api *a, struct http_request *req)
{
	char addr[sizeof(a->fails[0].addr)], hdr[64];
	const char *headers[] = { hdr, NULL };
	struct api_fail *f;
	uint64_t now = pw_now_ms();
	unsigned long long secs;

	client_key(req, addr, sizeof(addr));
	f = fail_find(a, addr);
	if (f == NULL || f->blocked_until <= now)
		return false;
	secs = (f->blocked_until - now + 999) / 1000;
	snprintf(hdr, sizeof(hdr), "Retry-After: %llu", secs);
	http_respond_error_with(req, 429, "too_many_requests", headers,
				"too many failed authentications from %s; "
				"try again in %llu s", addr, secs);
	return true;
}

void
api_auth_failed(struct api *a, struct http_request *req)
{
	char addr[sizeof(a->fails[0].addr)];
	struct api_fail *f;
	uint64_t now = pw_now_ms();
	size_t i, old = 0;

	client_key(req, addr, sizeof(addr));
	f = fail_find(a, addr);
	if (f == NULL) {
		if (a->nfails < API_THROTTLE_ADDRS) {
			f = &a->fails[a->nfails++];
		} else {
			for (i = 1; i < a->nfails; i++)
				if (a->fails[i].last < a->fails[old].last)
					old = i;
			f = &a->fails[old];
		}
		memset(f, 0, sizeof(*f));
		snprintf(f->addr, sizeof(f->addr), "%s", addr);
	}
	if (now - f->window_start > API_THROTTLE_WINDOW_MS) {
		f->window_start = now;
		f->count = 0;
	}
	f->last = now;
	if (++f->count >= config_http_max_auth_failures(daemon_config(a->d)) &&
	    f->blocked_until <= now) {
		f->blocked_until = now + API_THROTTLE_BLOCK_MS;
		log_warnx("http.throttled client=%s failures=%u block_ms=%llu",
			  addr, f->count,
			  (unsigned long long)API_THROTTLE_BLOCK_MS);
	}
}
