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
 * Failed authentication, where it can be guessed online:
 * http.max_auth_failures (10) failures of one key within
 * API_THROTTLE_WINDOW_MS block it for API_THROTTLE_BLOCK_MS (429 with
 * Retry-After).  Refusing rather than delaying keeps no request, timer
 * or socket waiting on the loop.  What is counted, and under what key:
 *
 *  - A bearer token that is not valid, under the client's address.
 *    While blocked, a request with a token that is not valid is answered
 *    429, but a valid token is still served: tokens are 32 random bytes,
 *    which no number of tries guesses, so the block protects nothing by
 *    refusing them — and refusing them would let a neighbour behind the
 *    same NAT (or /64) lock an admin out with ten bad requests.  Checking
 *    a token costs one SHA-256 and an indexed lookup, no more than the
 *    401 it would otherwise get.  The block is the signal to a broken or
 *    probing client, and its log line the admin's.
 *
 *  - A webhook secret sent as-is (GitLab's X-Gitlab-Token; see
 *    forge_verify_guessable), under the address and the project.  The
 *    secret is the admin's choice and may be weak, so while blocked the
 *    pair is refused before the token is compared (no oracle).  The
 *    project is in the key because a forge sends every project's hooks
 *    from a few shared addresses: anyone can point a hook with a wrong
 *    token at one project, and that must not stop the others' hooks.
 *
 *  - HMAC signatures (GitHub, Gitea/Forgejo, GitLab's signed
 *    webhook-signature, the generic one) are not counted: a wrong MAC
 *    teaches nothing about a 256-bit key, and counting them would let
 *    anyone with a forge account block the forge's address, and so
 *    every project's genuine deliveries (forges do not redeliver).
 *
 * The address is http_request_client's (behind a trusted proxy, the
 * client it names), an IPv6 one counted by its /64 (http_addr_group).
 * The table is bounded; when it is full the entry least recently failed
 * is dropped (a flood of keys forgets early ones rather than growing).
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
	const struct config *c = api_config(a);
	const char *const *names;
	const char *url = api_public_url(a), *p, *e;
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
 * The key failures are counted under: the client's address (an IPv6
 * one's /64, see http_addr_group), and for a webhook the project after
 * it — a forge delivers every project's hooks from the same few
 * addresses, so one project's failures must not block another's.
 */
static void
fail_key(struct http_request *req, const char *project, char *out,
	 size_t len)
{
	char addr[HTTP_ADDR_GROUP_LEN];

	http_addr_group(http_request_client(req), addr, sizeof(addr));
	if (project != NULL)
		snprintf(out, len, "%s %s", addr, project);
	else
		snprintf(out, len, "%s", addr);
}

static struct api_fail *
fail_find(struct api *a, const char *key)
{
	size_t i;

	for (i = 0; i < a->nfails; i++)
		if (strcmp(a->fails[i].key, key) == 0)
			return &a->fails[i];
	return NULL;
}

bool
api_throttled(struct api *a, struct http_request *req, const char *project)
{
	char key[sizeof(a->fails[0].key)], hdr[64];
	const char *headers[] = { hdr, NULL };
	struct api_fail *f;
	uint64_t now = pw_now_ms();
	unsigned long long secs;

	fail_key(req, project, key, sizeof(key));
	f = fail_find(a, key);
	if (f == NULL || f->blocked_until <= now)
		return false;
	secs = (f->blocked_until - now + 999) / 1000;
	snprintf(hdr, sizeof(hdr), "Retry-After: %llu", secs);
	http_respond_error_with(req, 429, "too_many_requests", headers,
				"too many failed authentications from %s%s%s; "
				"try again in %llu s",
				http_request_client(req),
				project != NULL ? " for project " : "",
				project != NULL ? project : "", secs);
	return true;
}

void
api_auth_failed(struct api *a, struct http_request *req, const char *project)
{
	char key[sizeof(a->fails[0].key)];
	struct api_fail *f;
	uint64_t now = pw_now_ms();
	size_t i, old = 0;

	fail_key(req, project, key, sizeof(key));
	f = fail_find(a, key);
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
		snprintf(f->key, sizeof(f->key), "%s", key);
	}
	if (now - f->window_start > API_THROTTLE_WINDOW_MS) {
		f->window_start = now;
		f->count = 0;
	}
	f->last = now;
	if (++f->count >= config_http_max_auth_failures(api_config(a)) &&
	    f->blocked_until <= now) {
		f->blocked_until = now + API_THROTTLE_BLOCK_MS;
		log_warnx("http.throttled client=%s project=%s failures=%u "
			  "block_ms=%llu", http_request_client(req),
			  project != NULL ? project : "-", f->count,
			  (unsigned long long)API_THROTTLE_BLOCK_MS);
	}
}
