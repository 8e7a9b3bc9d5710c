/*
 * One outbox row as an HTTP request, and its answer as the row's next
 * state.
 *
 * The request is what the row says (method, URL, "Name: value" header
 * lines, body) plus the project's auth header, asked of the daemon at
 * send time so that no token is ever stored, and refused if it holds a
 * line break (no header injection).  The transfer is locked down: http and
 * https only, TLS verified (peer and host name), no redirect followed (a
 * forge's status API does not redirect, and following one could carry
 * the token to another host), a connect timeout and a whole-request
 * timeout, no signals.
 *
 * The answer: the daemon's delivered() decides (forge_status_delivered:
 * any 2xx, GitLab's 400 "Cannot transition status"); without it, any 2xx.
 * Anything else — a network error, 5xx, 429, another 4xx — is a failed
 * attempt: retried at now + min(max, base * 2^(attempts - 1)) ± jitter
 * (a Retry-After longer than that is honoured, up to max), or failed for
 * good after max_attempts, with last_error saying why: "HTTP 500: <the
 * first 200 bytes of the body>" or curl's own error text.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pipewright/log.h"
#include "notify-int.h"

#ifndef PW_VERSION_STRING
#define PW_VERSION_STRING "0"
#endif

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct notify_req *r = arg;
	size_t len = size * nmemb, room = NOTIFY_BODY_MAX - r->answer.len;

	/* Keep the first bytes; the rest is read and dropped. */
	if (room > 0 && buf_append(&r->answer, p, len < room ? len : room) < 0)
		return 0;
	return len;
}

/* The row's header lines, then the kind's, then no "Expect". */
static int
headers(struct notify_req *r)
{
	struct curl_slist *l = NULL, *t;
	const char *p = r->row->headers, *eol;
	char *line;
	size_t len;
	int rc;

	for (; p != NULL && *p != '\0'; p = *eol != '\0' ? eol + 1 : eol) {
		eol = strchrnul(p, '\n');
		len = (size_t)(eol - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len == 0)
			continue;
		line = xstrndup(p, len);
		t = curl_slist_append(l, line);
		free(line);
		if (t == NULL)
			goto nomem;
		l = t;
	}
	if (r->kind->headers != NULL && (rc = r->kind->headers(r, &l)) < 0) {
		curl_slist_free_all(l);
		return rc;
	}
	/* curl would wait a second for "100 Continue" on a larger body. */
	if ((t = curl_slist_append(l, "Expect:")) == NULL)
		goto nomem;
	r->headers = t;
	return 0;

nomem:
	curl_slist_free_all(l);
	return -ENOMEM;
}

static int
options(struct notify_req *r)
{
	struct notify *n = r->n;
	struct store_outbox *row = r->row;
	CURL *e = r->easy;
	CURLcode rc = CURLE_OK;

#define SET(opt, val) \
	do { \
		if (rc == CURLE_OK) \
			rc = curl_easy_setopt(e, opt, val); \
	} while (0)
	SET(CURLOPT_PRIVATE, (char *)(void *)r);
	SET(CURLOPT_URL, r->tgt.url != NULL ? r->tgt.url : row->url);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: the _STR forms */
	SET(CURLOPT_PROTOCOLS_STR, r->kind->protocols);
#else
	SET(CURLOPT_PROTOCOLS, (long)(r->kind->http ?
			       CURLPROTO_HTTP | CURLPROTO_HTTPS :
			       CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SSL_VERIFYPEER, r->tgt.insecure ? 0L : 1L);
	SET(CURLOPT_SSL_VERIFYHOST, r->tgt.insecure ? 0L : 2L);
	if (r->tgt.ca_file != NULL)
		SET(CURLOPT_CAINFO, r->tgt.ca_file);
	else if (n->o.ca_file != NULL)
		SET(CURLOPT_CAINFO, n->o.ca_file);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_TIMEOUT_MS, (long)n->o.timeout_ms);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)n->o.connect_timeout_ms);
	SET(CURLOPT_ERRORBUFFER, r->errbuf);
	if (rc == CURLE_OK && r->kind->options != NULL && r->kind->options(r) < 0)
		return -EINVAL;
	if (!r->kind->http)
		return rc == CURLE_OK ? 0 : -EINVAL;
	SET(CURLOPT_USERAGENT, "pipewright/" PW_VERSION_STRING);
	SET(CURLOPT_HTTPHEADER, r->headers);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, r);
	if (strcmp(row->method, "GET") == 0) {
		SET(CURLOPT_HTTPGET, 1L);
	} else {
		/* curl sends POSTFIELDS as they are; the row outlives r. */
		const char *body = r->body != NULL ? r->body :
				   row->body != NULL ? row->body : "";

		SET(CURLOPT_POSTFIELDSIZE, (long)strlen(body));
		SET(CURLOPT_POSTFIELDS, body);
		if (strcmp(row->method, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, row->method);
	}
#undef SET
	return rc == CURLE_OK ? 0 : -EINVAL;
}

int
notify_send(struct notify_req *r)
{
	struct notify *n = r->n;
	int rc;

	r->errbuf[0] = '\0';
	buf_init(&r->answer, NOTIFY_BODY_MAX);
	r->kind = notify_kind_find(r->row->kind);
	if (r->kind == NULL) {
		snprintf(r->errbuf, sizeof(r->errbuf), "unknown kind '%s'",
			 r->row->kind != NULL ? r->row->kind : "");
		return -EINVAL;
	}
	if (r->kind->secrets) {
		rc = n->o.target != NULL ? n->o.target(n->o.arg, r->row,
						       &r->tgt) : -ENOENT;
		if (rc < 0) {
			snprintf(r->errbuf, sizeof(r->errbuf), "%s",
				 rc == -ENOENT ? "its notify entry is no longer"
				 " configured" : strerror(-rc));
			return rc;
		}
	}
	if ((r->easy = curl_easy_init()) == NULL)
		return -ENOMEM;
	if (r->kind->http && (rc = headers(r)) < 0)
		return rc;
	if ((rc = options(r)) < 0)
		return rc;
	if (curl_multi_add_handle(n->multi, r->easy) != CURLM_OK)
		return -EIO;
	n->stats.sent++;
	return 0;
}

/* The first bytes of an answer, on one line, cut at a character. */
static char *
snippet(const char *body)
{
	size_t len = strlen(body), i;
	char *s;

	if (len > NOTIFY_ERROR_BODY) {
		len = NOTIFY_ERROR_BODY;
		while (len > 0 && ((unsigned char)body[len] & 0xc0) == 0x80)
			len--;
	}
	s = xstrndup(body, len);
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = ' ';
	while (len > 0 && s[len - 1] == ' ')
		s[--len] = '\0';
	return s;
}

uint64_t
notify_backoff(struct notify *n, int attempts, uint64_t at_least)
{
	uint64_t d = n->o.backoff_base_ms, span, x;
	int i;

	for (i = 1; i < attempts && d < n->o.backoff_max_ms; i++)
		d *= 2;
	if (d > n->o.backoff_max_ms)
		d = n->o.backoff_max_ms;
	if (n->o.jitter_percent > 0) {
		/* xorshift64: spreads retries, needs nothing global. */
		x = n->rng;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n->rng = x;
		span = d * (uint64_t)n->o.jitter_percent / 100;
		d = d - span + x % (2 * span + 1);
	}
	if (d < at_least)
		d = at_least < n->o.backoff_max_ms ? at_least :
						     n->o.backoff_max_ms;
	return d;
}

void
notify_answered(struct notify_req *r, CURLcode res)
{
	struct notify *n = r->n;
	struct store_outbox *row = r->row;
	const char *body;
	curl_off_t retry_after = 0;
	long status = 0;
	bool ok = false, give_up = false;
	char *cut;

	r->now = notify_now(n);
	r->attempts = row->attempts + 1;
	if (res == CURLE_OK) {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
#if LIBCURL_VERSION_NUM >= 0x074200 /* 7.66 */
		curl_easy_getinfo(r->easy, CURLINFO_RETRY_AFTER, &retry_after);
#endif
		body = r->answer.data != NULL ? r->answer.data : "";
		if (!r->kind->http)
			ok = true; /* curl ended the SMTP dialogue with 250 */
		else if (strcmp(r->kind->name, "status") == 0 &&
			 n->o.delivered != NULL)
			ok = n->o.delivered(n->o.arg, row->project, (int)status,
					    body);
		else
			ok = status >= 200 && status < 300;
		if (!ok && r->kind->final != NULL &&
		    r->kind->final((int)status))
			give_up = r->give_up = true;
		if (!ok) {
			cut = snippet(body);
			r->error = xasprintf("HTTP %ld: %s", status, cut);
			free(cut);
		}
	} else {
		const char *why = r->errbuf[0] != '\0' ? r->errbuf :
				  curl_easy_strerror(res);

		/* The server's last reply code says more than curl's text. */
		if (r->easy != NULL && r->kind != NULL && !r->kind->http &&
		    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE,
				      &status) == CURLE_OK && status > 0)
			r->error = xasprintf("SMTP %ld: %s", status, why);
		else
			r->error = xstrdup(why);
	}
	if (r->easy != NULL) {
		curl_multi_remove_handle(n->multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	r->easy = NULL;
	curl_slist_free_all(r->headers);
	r->headers = NULL;
	buf_free(&r->answer);

	notify_target_clear(&r->tgt);
	if (ok) {
		r->state = "delivered";
		r->next_at = row->next_at;
	} else if (give_up ||
		   (row->expires_at != 0 ? r->now >= row->expires_at :
		    r->attempts >= n->o.max_attempts)) {
		r->state = "failed";
		r->next_at = row->next_at;
	} else {
		r->state = "pending";
		r->next_at = r->now + notify_backoff(n, r->attempts,
			retry_after > 0 ? (uint64_t)retry_after * 1000 : 0);
		/* One last try when its time is up, not a backoff past it. */
		if (row->expires_at != 0 && r->next_at > row->expires_at)
			r->next_at = row->expires_at;
	}
	notify_store_result(r);
}
