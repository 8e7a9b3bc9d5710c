/*
 * A project's `notify` list: where the daemon tells people about runs.
 *
 * Each entry is one of {webhook: URL}, {slack: URL or {file: PATH}} or
 * {email: {to, from, smtp, user, password, starttls}}, with `on` (the
 * events), `branches` (glob patterns, as a project's), `secret` (a
 * webhook's signing key), `max_age` (how long a message is retried),
 * `ca_file` and `insecure` (TLS to the endpoint).  URLs are checked here
 * with libcurl's own parser, so that a malformed one is a problem at its
 * line and column rather than a message retried for a day; a URL read from
 * a file is a secret and is never quoted.  So a configuration with a
 * notify entry opens libcurl when it is loaded (include/pipewright/curlx.h);
 * one without opens it when the first status or span is due.
 */
#include <curl/curl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-int.h"
#include "pipewright/curlx.h"
#include "pipewright/glob.h"

#define N(field) offsetof(struct cf_notify, field)
#define S YN_SCALAR
#define L YN_SEQ
#define M YN_MAP

static const char *const events[] = {
	"failed", "fixed", "success", "canceled", "waiting",
};

const char *
config_notify_event_name(unsigned bit)
{
	size_t i;

	for (i = 0; i < PW_ARRAY_LEN(events); i++)
		if (bit == 1u << i)
			return events[i];
	return "?";
}

/*
 * Whether s is a URL of one of the schemes (a NULL-terminated list) with
 * a host; why says what is wrong otherwise (a static string or curl's).
 */
static bool
url_ok(const char *s, const char *const *schemes, const char **why)
{
	CURLU *u;
	CURLUcode uc;
	char *scheme = NULL, *host = NULL;
	bool ok = false;
	size_t i;

	/* A notify entry is an outbound call to come: libcurl opens here. */
	if (curlx_load(why) < 0)
		return false;
	if ((u = curl_url()) == NULL) {
		*why = "out of memory";
		return false;
	}
	uc = curl_url_set(u, CURLUPART_URL, s, 0);
	if (uc != CURLUE_OK) {
#if LIBCURL_VERSION_NUM >= 0x075000 /* 7.80 */
		*why = curl_url_strerror(uc);
#else
		*why = "not a URL";
#endif
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    host[0] == '\0') {
		*why = "no host";
		goto out;
	}
	*why = "wrong scheme";
	for (i = 0; schemes[i] != NULL; i++)
		if (strcmp(scheme, schemes[i]) == 0)
			ok = true;
	if (strpbrk(s, " \t\r\n") != NULL) {
		*why = "it holds white space";
		ok = false;
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

static const char *const http_schemes[] = {"http", "https", NULL};
static const char *const smtp_schemes[] = {"smtp", "smtps", NULL};

/* A URL value of key `name`; NULL after a problem. */
static const char *
url_value(struct cf_walk *w, const struct cf_key *row, const struct ynode *val,
	  const char *const *schemes, const char *expected)
{
	const char *s, *why;

	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL)
		return NULL;
	if (!url_ok(s, schemes, &why)) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "malformed URL '%s' for '%s'%s (%s); expected"
				 " %s", CQ(w, s), row->k.name, w->y.where, why,
				 expected);
		return NULL;
	}
	return s;
}

static void
key_webhook(struct cf_walk *w, const struct cf_key *row,
	    const struct ynode *key, const struct ynode *val)
{
	struct cf_notify *n = w->target;
	const char *s;

	(void)key;
	n->has_webhook = true;
	s = url_value(w, row, val, http_schemes, "an http:// or https:// URL");
	if (s != NULL) {
		free(n->url);
		n->url = xstrdup(s);
	}
}

/* A secret-valued key of an entry: {file: PATH} or {env: NAME}. */
static void
entry_secret(struct cf_walk *w, const struct cf_key *row,
	     const struct ynode *val, struct cf_secret *sec)
{
	char label[YAMLNODE_QUOTE_SIZE + 96];
	const char *saved = w->slabel;
	void *target = w->target;

	snprintf(label, sizeof(label), "'%s'%s", row->k.name, w->y.where);
	w->slabel = label;
	w->target = sec;
	config_secret_free(sec);
	config_secret_value(w, val, sec);
	w->target = target;
	w->slabel = saved;
}

static void
key_slack(struct cf_walk *w, const struct cf_key *row,
	  const struct ynode *key, const struct ynode *val)
{
	struct cf_notify *n = w->target;
	const char *s, *why;

	(void)key;
	n->has_slack = true;
	if (val->kind != YN_MAP) {
		s = url_value(w, row, val, http_schemes,
			      "an http:// or https:// URL or {file: PATH}");
		if (s != NULL) {
			free(n->url);
			n->url = xstrdup(s);
		}
		return;
	}
	entry_secret(w, row, val, &n->secret);
	if (n->secret.value != NULL &&
	    !url_ok(n->secret.value, http_schemes, &why)) {
		/* Never quoted: the URL is the secret. */
		yamlnode_problem(&w->y, val->line, val->column,
				 "malformed URL read for 'slack'%s (%s);"
				 " expected an http:// or https:// URL",
				 w->y.where, why);
		config_secret_free(&n->secret);
	}
}

static void
key_secret(struct cf_walk *w, const struct cf_key *row,
	   const struct ynode *key, const struct ynode *val)
{
	struct cf_notify *n = w->target;

	(void)key;
	entry_secret(w, row, val, &n->secret);
}

static void
key_password(struct cf_walk *w, const struct cf_key *row,
	     const struct ynode *key, const struct ynode *val)
{
	struct cf_notify *n = w->target;

	(void)key;
	entry_secret(w, row, val, &n->password);
}

static void
key_on(struct cf_walk *w, const struct cf_key *row,
       const struct ynode *key, const struct ynode *val)
{
	struct cf_notify *n = w->target;
	const struct ynode *one = val;
	size_t i, j, count = val->kind == YN_SEQ ? val->count : 1;
	const char *s;

	(void)key;
	n->pub.on = 0;
	for (i = 0; i < count; i++) {
		if (val->kind == YN_SEQ)
			one = val->items[i];
		s = yamlnode_string(&w->y, one, row->k.expected, row->k.name);
		if (s == NULL)
			continue;
		for (j = 0; j < PW_ARRAY_LEN(events); j++)
			if (strcmp(s, events[j]) == 0)
				break;
		if (j == PW_ARRAY_LEN(events)) {
			yamlnode_problem(&w->y, one->line, one->column,
					 "unknown event '%s' in 'on'%s;"
					 " expected failed, fixed, success,"
					 " canceled or waiting", CQ(w, s),
					 w->y.where);
			continue;
		}
		n->pub.on |= 1u << j;
	}
}

static void
key_branches(struct cf_walk *w, const struct cf_key *row,
	     const struct ynode *key, const struct ynode *val)
{
	struct cf_notify *n = w->target;

	(void)key;
	glob_read_branches(&w->y, &row->k, val, &n->branches, &n->nbranches);
}

static void
key_to(struct cf_walk *w, const struct cf_key *row,
       const struct ynode *key, const struct ynode *val)
{
	struct cf_notify *n = w->target;
	const struct ynode *one = val;
	size_t i, count = val->kind == YN_SEQ ? val->count : 1;
	const char *s;

	(void)key;
	n->to = xcalloc(count + 1, sizeof(*n->to));
	for (i = 0; i < count; i++) {
		if (val->kind == YN_SEQ)
			one = val->items[i];
		s = yamlnode_string(&w->y, one, row->k.expected, row->k.name);
		if (s == NULL)
			continue;
		/* An address, not a header: no line breaks, no brackets. */
		if (strchr(s, '@') == NULL || strpbrk(s, "<>\r\n \t,") != NULL) {
			yamlnode_problem(&w->y, one->line, one->column,
					 "invalid address '%s' in '%s'%s;"
					 " expected such as oncall@example.com",
					 CQ(w, s), row->k.name, w->y.where);
			continue;
		}
		n->to[n->nto++] = xstrdup(s);
	}
}

static void
key_from(struct cf_walk *w, const struct cf_key *row,
	 const struct ynode *key, const struct ynode *val)
{
	struct cf_notify *n = w->target;
	const char *s;

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL)
		return;
	if (strchr(s, '@') == NULL || strpbrk(s, "<>\r\n \t,") != NULL) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "invalid address '%s' in 'from'%s; expected"
				 " such as ci@example.com", CQ(w, s),
				 w->y.where);
		return;
	}
	free(n->from);
	n->from = xstrdup(s);
}

static void
key_smtp(struct cf_walk *w, const struct cf_key *row,
	 const struct ynode *key, const struct ynode *val)
{
	struct cf_notify *n = w->target;
	const char *s;

	(void)key;
	s = url_value(w, row, val, smtp_schemes,
		      "an smtp:// or smtps:// URL such as smtps://mail.example.com");
	if (s != NULL) {
		free(n->url);
		n->url = xstrdup(s);
	}
}

static void
key_user(struct cf_walk *w, const struct cf_key *row,
	 const struct ynode *key, const struct ynode *val)
{
	struct cf_notify *n = w->target;
	const char *s;

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s != NULL) {
		free(n->user);
		n->user = xstrdup(s);
	}
}

static const struct cf_key email_rows[] = {
	{{"to", S | L, "an address or a list of them"}, key_to, 0, 0, 0},
	{{"from", S, "an address such as ci@example.com"}, key_from, 0, 0, 0},
	{{"smtp", S, "an smtp:// or smtps:// URL"}, key_smtp, 0, 0, 0},
	{{"user", S, "a user name"}, key_user, 0, 0, 0},
	{{"password", S | L | M, "{file: PATH} or {env: NAME}"}, key_password,
	 0, 0, 0},
	{{"starttls", S, "a boolean"}, config_key_bool, N(pub.starttls), 0, 0},
};
static const struct yamlnode_table email_keys = CF_TABLE(email_rows);

static void
key_email(struct cf_walk *w, const struct cf_key *row,
	  const struct ynode *key, const struct ynode *val)
{
	struct cf_notify *n = w->target;
	char where[YAMLNODE_QUOTE_SIZE + 96];
	const char *saved = w->y.where;

	(void)row;
	(void)key;
	n->has_email = true;
	snprintf(where, sizeof(where), " in 'email'%s", saved);
	w->y.where = where;
	config_walk_map(w, val, &email_keys, n);
	w->y.where = saved;
	if (!yamlnode_map_has(val, "to") || !yamlnode_map_has(val, "smtp"))
		yamlnode_problem(&w->y, val->line, val->column,
				 "'email'%s needs %s", saved,
				 yamlnode_map_has(val, "to") ?
				 "'smtp' (the server, such as"
				 " smtps://mail.example.com)" :
				 "'to' (the recipients)");
}

static const struct cf_key notify_rows[] = {
	{{"webhook", S, "an http:// or https:// URL"}, key_webhook, 0, 0, 0},
	{{"slack", S | L | M, "an http:// or https:// URL or {file: PATH}"},
	 key_slack, 0, 0, 0},
	{{"email", M, "{to: ADDRESSES, smtp: URL, ...}"}, key_email, 0, 0, 0},
	{{"secret", S | L | M, "{file: PATH} or {env: NAME}"}, key_secret,
	 0, 0, 0},
	{{"on", S | L, "a list of failed, fixed, success, canceled, waiting"},
	 key_on, 0, 0, 0},
	{{"branches", S | L, "a branch pattern or a list of them"},
	 key_branches, 0, 0, 0},
	{{"max_age", S, "a duration from 1s to 720h"}, config_key_duration,
	 N(pub.max_age_ms), 1000, 720ULL * 3600 * 1000},
	{{"ca_file", S, "a file of PEM certificates"}, config_key_path,
	 N(ca_file), 0, 0},
	{{"insecure", S, "a boolean"}, config_key_bool, N(pub.insecure), 0, 0},
};
static const struct yamlnode_table notify_keys = CF_TABLE(notify_rows);

/* What the walk could not say of one entry: which kind, what it needs. */
static void
entry_check(struct cf_walk *w, const struct ynode *it, struct cf_notify *n,
	    size_t idx, const char *where)
{
	int kinds = n->has_webhook + n->has_slack + n->has_email;
	const struct ynode *k;

	if (kinds != 1) {
		yamlnode_problem(&w->y, it->line, it->column,
				 "notify #%zu%s %s", idx + 1, where,
				 kinds == 0 ? "needs one of 'webhook', 'slack'"
				 " or 'email'" : "sets more than one of"
				 " 'webhook', 'slack' and 'email'; write one"
				 " entry each");
		return;
	}
	if (!n->has_webhook && (k = config_map_key(it, "secret")) != NULL)
		yamlnode_problem(&w->y, k->line, k->column,
				 "'secret' in notify #%zu%s signs webhooks"
				 " only", idx + 1, where);
	n->pub.kind = n->has_webhook ? CONFIG_NOTIFY_WEBHOOK :
		      n->has_slack ? CONFIG_NOTIFY_SLACK : CONFIG_NOTIFY_EMAIL;
}

/* The public view of n, once its fields are final. */
static void
publish(struct cf_notify *n, int line)
{
	n->pub.url = n->url;
	n->pub.secret = n->secret.value;
	n->pub.secret_len = n->secret.len;
	n->pub.to = (const char *const *)n->to;
	n->pub.nto = n->nto;
	n->pub.from = n->from != NULL ? n->from : "pipewright@localhost";
	n->pub.user = n->user;
	n->pub.password = n->password.value;
	n->pub.ca_file = n->ca_file;
	n->pub.branches = (const char *const *)n->branches;
	n->pub.nbranches = n->nbranches;
	n->pub.line = line;
}

void
config_key_project_notify(struct cf_walk *w, const struct cf_key *row,
			  const struct ynode *key, const struct ynode *val)
{
	struct config_project *p = w->target;
	char where[YAMLNODE_QUOTE_SIZE + 64];
	const char *saved = w->y.where;
	size_t i;

	(void)row;
	(void)key;
	p->notify = xcalloc(val->count + 1, sizeof(*p->notify));
	for (i = 0; i < val->count; i++) {
		const struct ynode *it = val->items[i];
		struct cf_notify *n = &p->notify[p->nnotify];

		if (!yamlnode_visit(&w->y, it))
			break;
		if (it->kind != YN_MAP) {
			yamlnode_problem(&w->y, it->line, it->column,
					 "expected {webhook: URL}, {slack: URL}"
					 " or {email: {...}} for notify #%zu%s,"
					 " got %s", i + 1, saved,
					 yamlnode_describe(&w->y, it));
			continue;
		}
		n->pub.on = CONFIG_NOTIFY_FAILED | CONFIG_NOTIFY_FIXED;
		n->pub.starttls = true;
		n->pub.max_age_ms = CONFIG_NOTIFY_MAX_AGE_MS;
		snprintf(where, sizeof(where), " in notify #%zu%s", i + 1,
			 saved);
		w->y.where = where;
		config_walk_map(w, it, &notify_keys, n);
		w->y.where = saved;
		entry_check(w, it, n, i, saved);
		publish(n, it->line);
		p->nnotify++;
	}
}

void
config_notify_free(struct config_project *p)
{
	size_t i, j;

	for (i = 0; i < p->nnotify; i++) {
		struct cf_notify *n = &p->notify[i];

		free(n->url);
		config_secret_free(&n->secret);
		config_secret_free(&n->password);
		for (j = 0; j < n->nto; j++)
			free(n->to[j]);
		free(n->to);
		free(n->from);
		free(n->user);
		free(n->ca_file);
		for (j = 0; j < n->nbranches; j++)
			free(n->branches[j]);
		free(n->branches);
	}
	free(p->notify);
	p->notify = NULL;
	p->nnotify = 0;
}

size_t
config_project_notify_count(const struct config_project *p)
{
	return p->nnotify;
}

const struct config_notify *
config_project_notify(const struct config_project *p, size_t i)
{
	return i < p->nnotify ? &p->notify[i].pub : NULL;
}
