/*
 * The sender of each outbox kind: what a row of that kind adds to the
 * request every row gets (send.c), and how its answer is judged.
 *
 * - status: a forge's commit status.  The daemon's auth header for the
 *   row's project, asked at send time (a line break in it is refused: no
 *   header injection); the daemon's delivered() judges the answer.
 * - webhook: a JSON body signed with the entry's secret, asked at send
 *   time: X-Pipewright-Timestamp (Unix seconds of this attempt),
 *   X-Pipewright-Delivery (the row's delivery id, the same on every
 *   attempt) and X-Pipewright-Signature-256: "sha256=" and the hex
 *   HMAC-SHA256 of "<timestamp>.<delivery id>.<body>", so that a receiver
 *   can drop duplicates and refuse replays.  Any 2xx delivers.
 * - slack: a Slack or Mattermost incoming webhook; its URL may be a secret
 *   (read from a file), then it is asked at send time too.  Any 2xx.
 * - otlp: spans as OTLP/HTTP JSON; the configured otel headers (values
 *   may be secrets) asked at send time, a line break refused.  Any 2xx
 *   delivers; a 4xx other than 408 and 429 fails the row at once, since
 *   OTLP says such a request will never be accepted; the rest retries
 *   until the row expires.
 * - email: SMTP (smtp:// with STARTTLS unless the entry says not, or
 *   smtps://) through libcurl on the same multi handle, so nothing blocks
 *   the loop.  The row's body is the whole message; its header lines hold
 *   the envelope ("mail-from: A", "rcpt-to: B" per recipient); the
 *   password is asked at send time.  Delivered when curl ends the
 *   dialogue without error (the server took the message with 250).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipewright/auth.h"
#include "pipewright/log.h"
#include "notify-int.h"

#define NOTIFY_KEY_PREFIX "notify:"

void
notify_target_clear(struct notify_target *t)
{
	if (t->secret != NULL)
		explicit_bzero(t->secret, t->secret_len);
	if (t->password != NULL)
		explicit_bzero(t->password, strlen(t->password));
	if (t->url != NULL)
		explicit_bzero(t->url, strlen(t->url));
	free(t->url);
	free(t->secret);
	free(t->user);
	free(t->password);
	free(t->ca_file);
	for (char **h = t->headers; h != NULL && *h != NULL; h++) {
		explicit_bzero(*h, strlen(*h));
		free(*h);
	}
	free(t->headers);
	memset(t, 0, sizeof(*t));
}

static int
add(struct curl_slist **h, const char *line)
{
	struct curl_slist *t = curl_slist_append(*h, line);

	if (t == NULL)
		return -ENOMEM;
	*h = t;
	return 0;
}

static int
status_headers(struct notify_req *r, struct curl_slist **h)
{
	struct notify *n = r->n;
	char *auth;
	int rc = 0;

	if (n->o.auth_header == NULL ||
	    (auth = n->o.auth_header(n->o.arg, r->row->project)) == NULL)
		return 0;
	if (strpbrk(auth, "\r\n") != NULL)
		log_warnx("notify.auth project=%s error=\"the auth header "
			  "holds a line break: not sent\"", r->row->project);
	else
		rc = add(h, auth);
	free(auth);
	return rc;
}

/* The delivery id: the key after its prefix (the daemon makes both). */
static const char *
delivery_id(const struct store_outbox *row)
{
	size_t len = strlen(NOTIFY_KEY_PREFIX);

	return strncmp(row->key, NOTIFY_KEY_PREFIX, len) == 0 ?
		       row->key + len : row->key;
}

static int
webhook_headers(struct notify_req *r, struct curl_slist **h)
{
	const char *id = delivery_id(r->row), *body;
	unsigned char mac[32];
	char hex[65], line[128];
	unsigned long long ts = notify_now(r->n) / 1000;
	struct buf msg;
	size_t i;
	int rc;

	if (strpbrk(id, "\r\n") != NULL)
		return -EINVAL;
	snprintf(line, sizeof(line), "X-Pipewright-Timestamp: %llu", ts);
	if ((rc = add(h, line)) < 0)
		return rc;
	snprintf(line, sizeof(line), "X-Pipewright-Delivery: %.80s", id);
	if ((rc = add(h, line)) < 0)
		return rc;
	if (r->tgt.secret == NULL)
		return 0; /* an entry without a secret: unsigned */
	body = r->row->body != NULL ? r->row->body : "";
	buf_init(&msg, 0);
	buf_addf(&msg, "%llu.%s.", ts, id);
	if (buf_append(&msg, body, strlen(body)) < 0) {
		buf_free(&msg);
		return -ENOMEM;
	}
	rc = auth_hmac_sha256(r->tgt.secret, r->tgt.secret_len, msg.data,
			      msg.len, mac);
	buf_free(&msg);
	if (rc < 0)
		return rc;
	for (i = 0; i < sizeof(mac); i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	snprintf(line, sizeof(line), "X-Pipewright-Signature-256: sha256=%s",
		 hex);
	return add(h, line);
}

static size_t
on_read(char *p, size_t size, size_t nmemb, void *arg)
{
	struct notify_req *r = arg;
	const char *body = r->row->body != NULL ? r->row->body : "";
	size_t len = strlen(body), room = size * nmemb, left;

	left = r->upload_off < len ? len - r->upload_off : 0;
	if (left > room)
		left = room;
	memcpy(p, body + r->upload_off, left);
	r->upload_off += left;
	return left;
}

/* The envelope from the row's "mail-from:" and "rcpt-to:" lines. */
static int
envelope(struct notify_req *r)
{
	const char *p = r->row->headers, *eol, *v;
	struct curl_slist *t;
	char *line;
	size_t len;

	for (; p != NULL && *p != '\0'; p = *eol != '\0' ? eol + 1 : eol) {
		eol = strchrnul(p, '\n');
		len = (size_t)(eol - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		line = xstrndup(p, len);
		if (strncmp(line, "mail-from: ", 11) == 0) {
			free(r->mail_from);
			r->mail_from = xstrdup(line + 11);
		} else if (strncmp(line, "rcpt-to: ", 9) == 0) {
			v = line + 9;
			if ((t = curl_slist_append(r->rcpt, v)) == NULL) {
				free(line);
				return -ENOMEM;
			}
			r->rcpt = t;
		}
		free(line);
	}
	return r->mail_from != NULL && r->rcpt != NULL ? 0 : -EINVAL;
}

static int
email_options(struct notify_req *r)
{
	CURL *e = r->easy;
	const char *body = r->row->body != NULL ? r->row->body : "";
	CURLcode rc = CURLE_OK;
	int err;

	if ((err = envelope(r)) < 0) {
		snprintf(r->errbuf, sizeof(r->errbuf), "the row has no sender "
			 "or no recipient");
		return err;
	}
#define SET(opt, val) \
	do { \
		if (rc == CURLE_OK) \
			rc = curl_easy_setopt(e, opt, val); \
	} while (0)
	SET(CURLOPT_MAIL_FROM, r->mail_from);
	SET(CURLOPT_MAIL_RCPT, r->rcpt);
	SET(CURLOPT_UPLOAD, 1L);
	SET(CURLOPT_READFUNCTION, on_read);
	SET(CURLOPT_READDATA, r);
	SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)strlen(body));
	if (r->tgt.user != NULL)
		SET(CURLOPT_USERNAME, r->tgt.user);
	if (r->tgt.password != NULL)
		SET(CURLOPT_PASSWORD, r->tgt.password);
	/* smtps:// is TLS from the start; smtp:// upgrades or fails. */
	SET(CURLOPT_USE_SSL, (long)(r->tgt.starttls ? CURLUSESSL_ALL :
				    CURLUSESSL_NONE));
#undef SET
	return rc == CURLE_OK ? 0 : -EINVAL;
}

static int
otlp_headers(struct notify_req *r, struct curl_slist **h)
{
	char **l;
	int rc;

	for (l = r->tgt.headers; l != NULL && *l != NULL; l++) {
		if (strpbrk(*l, "\r\n") != NULL)
			return -EINVAL;
		if ((rc = add(h, *l)) < 0)
			return rc;
	}
	return 0;
}

/* OTLP/HTTP: 400, 401, 403, 404, 413, ... will not be accepted later. */
static bool
otlp_final(int status)
{
	return status >= 400 && status < 500 && status != 408 && status != 429;
}

/*
 * Several ExportTraceServiceRequest bodies as one: their resourceSpans
 * one after the other (a receiver takes any number).  NULL if one is not
 * such a body; the rows then go one by one.
 */
static char *
otlp_merge(const char *const *bodies, size_t n)
{
	cJSON *out = NULL, *all = NULL, *doc, *rs, *item;
	char *s;
	size_t i;

	for (i = 0; i < n; i++) {
		doc = cJSON_Parse(bodies[i]);
		rs = doc != NULL ? cJSON_GetObjectItem(doc, "resourceSpans") : NULL;
		if (!cJSON_IsArray(rs)) {
			cJSON_Delete(doc);
			cJSON_Delete(out);
			return NULL;
		}
		if (out == NULL) {
			out = doc;
			all = rs;
			continue;
		}
		while ((item = cJSON_DetachItemFromArray(rs, 0)) != NULL)
			cJSON_AddItemToArray(all, item);
		cJSON_Delete(doc);
	}
	s = out != NULL ? cJSON_PrintUnformatted(out) : NULL;
	cJSON_Delete(out);
	return s;
}

static const struct notify_kind kinds[] = {
	{"status", "http,https", true, false, 1, status_headers, NULL, NULL,
	 NULL},
	{"webhook", "http,https", true, true, 1, webhook_headers, NULL, NULL,
	 NULL},
	{"slack", "http,https", true, true, 1, NULL, NULL, NULL, NULL},
	{"email", "smtp,smtps", false, true, 1, NULL, email_options, NULL,
	 NULL},
	{"otlp", "http,https", true, true, NOTIFY_OTLP_BATCH, otlp_headers,
	 NULL, otlp_final, otlp_merge},
};

const struct notify_kind *
notify_kind_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return &kinds[0];
	for (i = 0; i < PW_ARRAY_LEN(kinds); i++)
		if (strcmp(kinds[i].name, name) == 0)
			return &kinds[i];
	return NULL;
}
