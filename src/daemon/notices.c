/*
 * Notifications: a project's `notify` entries turn run events into outbox
 * rows, in the same transaction as the state change (they travel with the
 * commit statuses in struct status_rows), so that a crash loses neither
 * the change's message nor sends one for a change that never committed.
 *
 * Events: a run ending failed or error (also before it started: a failed
 * checkout, a pipeline with problems) → failed; canceled → canceled;
 * success → fixed if the branch's previous run that ended success, failed
 * or error failed (else success); a manual job waiting for approval →
 * waiting.  An entry takes the events of its `on` and the runs of its
 * `branches` (none: every run).  When a success is both, an entry that
 * wants fixed gets fixed, else success: one message per run and entry.
 *
 * A message is built from run data only (project, run, status, branch,
 * commit, job name, the run's URL): never a secret, never job output.
 * Each row has a delivery id of its own (a random UUID, also its key, so
 * rows are never coalesced), an expiry (now + the entry's max_age) and a
 * target: the entry's index and a fingerprint of where it sends, by which
 * the sender's callback finds the entry's secrets at send time — in the
 * configuration of that moment, so a reload that moves or drops the entry
 * cannot hand a message to another endpoint's secret.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "daemon-int.h"
#include "pipewright/auth.h"
#include "pipewright/glob.h"
#include "pipewright/notify.h"

static const char *const kind_names[] = {
	[CONFIG_NOTIFY_WEBHOOK] = "webhook",
	[CONFIG_NOTIFY_SLACK] = "slack",
	[CONFIG_NOTIFY_EMAIL] = "email",
};

/* What identifies an entry across reloads: its kind and where it sends. */
static int
fingerprint(const struct config_notify *e, char out[17])
{
	char hex[AUTH_HASH_HEX];
	struct buf b;
	size_t i;
	int rc;

	buf_init(&b, 0);
	buf_addf(&b, "%s\n%s\n", kind_names[e->kind],
		 e->url != NULL ? e->url : "");
	if (e->kind == CONFIG_NOTIFY_SLACK && e->url == NULL &&
	    e->secret != NULL)
		buf_addf(&b, "%s\n", e->secret);
	for (i = 0; i < e->nto; i++)
		buf_addf(&b, "%s\n", e->to[i]);
	rc = auth_hash(b.data != NULL ? b.data : "", hex);
	if (b.data != NULL)
		explicit_bzero(b.data, b.len);
	buf_free(&b);
	if (rc < 0)
		return rc;
	memcpy(out, hex, 16);
	out[16] = '\0';
	return 0;
}

static int
new_uuid(char out[37])
{
	unsigned char r[16];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -EIO;
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4],
		 r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
		 r[14], r[15]);
	return 0;
}

/* The run an event is about. */
struct notice_run {
	uint64_t id;
	const char *project, *branch, *ref, *commit; /* NULL if none */
};

/* The facts of one event: run data only. */
struct notice {
	const char *event;      /* failed, fixed, success, canceled, waiting */
	const char *status;     /* the run's status, or "running" (waiting) */
	struct notice_run r;
	const char *job;        /* waiting: the manual job; else NULL */
	uint64_t time_ms;
	char *url;              /* the run's page in the API */
	char *short_sha;
};

static void
iso_time(uint64_t ms, char *out, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void
add_str_or_null(cJSON *o, const char *name, const char *v)
{
	if (v != NULL)
		cJSON_AddStringToObject(o, name, v);
	else
		cJSON_AddNullToObject(o, name);
}

/* The generic webhook's body (docs/operations.md, "Notifications"). */
static char *
webhook_body(const struct notice *nt, const char *id)
{
	cJSON *o = cJSON_CreateObject(), *run;
	char when[96];
	char *s;

	iso_time(nt->time_ms, when, sizeof(when));
	cJSON_AddStringToObject(o, "delivery", id);
	cJSON_AddStringToObject(o, "event", nt->event);
	cJSON_AddStringToObject(o, "time", when);
	cJSON_AddStringToObject(o, "project", nt->r.project);
	run = cJSON_AddObjectToObject(o, "run");
	cJSON_AddNumberToObject(run, "id", (double)nt->r.id);
	cJSON_AddStringToObject(run, "status", nt->status);
	add_str_or_null(run, "branch", nt->r.branch);
	add_str_or_null(run, "ref", nt->r.ref);
	add_str_or_null(run, "commit", nt->r.commit);
	cJSON_AddStringToObject(run, "url", nt->url);
	add_str_or_null(o, "job", nt->job);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

/* One line for people: Slack's text and the mail's subject. */
static char *
summary(const struct notice *nt)
{
	const char *what = strcmp(nt->event, "fixed") == 0 ? "fixed" :
			   strcmp(nt->event, "waiting") == 0 ? "waiting" :
			   nt->status;

	if (nt->job != NULL)
		return xasprintf("%s run %llu: job %s is waiting for approval",
				 nt->r.project,
				 (unsigned long long)nt->r.id, nt->job);
	return xasprintf("%s run %llu %s%s%s%s%s", nt->r.project,
			 (unsigned long long)nt->r.id,
			 strcmp(what, "fixed") == 0 ? "fixed the build" : what,
			 nt->r.branch != NULL ? " on " : "",
			 nt->r.branch != NULL ? nt->r.branch : "",
			 nt->short_sha != NULL ? " at " : "",
			 nt->short_sha != NULL ? nt->short_sha : "");
}

static char *
slack_body(const struct notice *nt)
{
	cJSON *o = cJSON_CreateObject();
	char *line = summary(nt), *text, *s;

	/* Slack's and Mattermost's link form: <url|label>. */
	text = xasprintf("pipewright: %s (<%s|run %llu>)", line, nt->url,
			 (unsigned long long)nt->r.id);
	cJSON_AddStringToObject(o, "text", text);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	free(text);
	free(line);
	return s;
}

/* A whole RFC 5322 message, CRLF lines, the subject plain ASCII or not. */
static char *
email_body(const struct notice *nt, const struct config_notify *e,
	   const char *id)
{
	char date[64], when[96];
	time_t t = (time_t)(nt->time_ms / 1000);
	struct tm tm;
	struct buf b;
	char *line = summary(nt);
	size_t i;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	iso_time(nt->time_ms, when, sizeof(when));
	buf_init(&b, 0);
	buf_addf(&b, "Date: %s\r\nFrom: %s\r\nTo: ", date, e->from);
	for (i = 0; i < e->nto; i++)
		buf_addf(&b, "%s%s", i > 0 ? ", " : "", e->to[i]);
	buf_addf(&b, "\r\nSubject: [pipewright] %s\r\n"
		 "Message-ID: <%s@pipewright>\r\n"
		 "X-Pipewright-Delivery: %s\r\n"
		 "MIME-Version: 1.0\r\n"
		 "Content-Type: text/plain; charset=utf-8\r\n"
		 "Content-Transfer-Encoding: 8bit\r\n\r\n", line, id, id);
	buf_addf(&b, "%s\r\n\r\nevent:   %s\r\nproject: %s\r\nrun:     %llu"
		 "\r\nstatus:  %s\r\n", line, nt->event, nt->r.project,
		 (unsigned long long)nt->r.id, nt->status);
	if (nt->r.branch != NULL)
		buf_addf(&b, "branch:  %s\r\n", nt->r.branch);
	if (nt->r.commit != NULL)
		buf_addf(&b, "commit:  %s\r\n", nt->r.commit);
	if (nt->job != NULL)
		buf_addf(&b, "job:     %s\r\n", nt->job);
	buf_addf(&b, "time:    %s\r\n\r\n%s\r\n", when, nt->url);
	free(line);
	return buf_steal(&b);
}

static void
add_notice(struct daemon *d, struct status_rows *out, const struct notice *nt,
	   const struct config_notify *e, size_t idx)
{
	struct status_row *row;
	char id[37], fp[17];
	struct buf h;
	size_t i;

	if (new_uuid(id) < 0 || fingerprint(e, fp) < 0) {
		log_warnx("notify.skipped run=%llu event=%s: no delivery id",
			  (unsigned long long)nt->r.id, nt->event);
		return;
	}
	out->rows = xrealloc(out->rows, (out->n + 1) * sizeof(*out->rows));
	row = &out->rows[out->n++];
	memset(row, 0, sizeof(*row));
	row->key = xasprintf("notify:%s", id);
	row->run = nt->r.id;
	row->project = xstrdup(nt->r.project);
	row->kind = xstrdup(kind_names[e->kind]);
	row->target = xasprintf("%zu:%s", idx, fp);
	row->expires_at = nt->time_ms + e->max_age_ms;
	/* A URL read from a file is a secret: the sender looks it up. */
	row->url = xstrdup(e->url != NULL ? e->url : "(read from a file)");
	switch (e->kind) {
	case CONFIG_NOTIFY_WEBHOOK:
		row->headers = xstrdup("Content-Type: application/json\n");
		row->body = webhook_body(nt, id);
		break;
	case CONFIG_NOTIFY_SLACK:
		row->headers = xstrdup("Content-Type: application/json\n");
		row->body = slack_body(nt);
		break;
	case CONFIG_NOTIFY_EMAIL:
		buf_init(&h, 0);
		buf_addf(&h, "mail-from: %s\n", e->from);
		for (i = 0; i < e->nto; i++)
			buf_addf(&h, "rcpt-to: %s\n", e->to[i]);
		row->headers = buf_steal(&h);
		row->body = email_body(nt, e, id);
		break;
	}
	(void)d;
}

static bool
branch_wanted(const struct config_notify *e, const char *branch)
{
	size_t i;

	if (e->nbranches == 0)
		return true;
	if (branch == NULL)
		return false;
	for (i = 0; i < e->nbranches; i++)
		if (glob_match(e->branches[i], branch))
			return true;
	return false;
}

/* Whether the branch's previous run that ended either way failed. */
static bool
was_failing(struct daemon *d, const struct notice_run *lr)
{
	char *status = NULL;
	bool failing;

	if (lr->branch == NULL ||
	    store_run_last_outcome(d->store, lr->project, lr->branch, lr->id,
				   &status) < 0)
		return false;
	failing = strcmp(status, "success") != 0;
	free(status);
	return failing;
}

/* The messages of the entries that want one of bits (one at most each). */
static void
notices_event(struct daemon *d, struct notice *nt, unsigned bits,
	      struct status_rows *out)
{
	const struct config_project *p;
	const struct config_notify *e;
	bool fixed_checked = false, fixed = false;
	size_t i;

	p = config_project_find(d->config, nt->r.project);
	if (p == NULL || config_project_notify_count(p) == 0)
		return;
	nt->url = xasprintf("%s/api/v1/runs/%llu", d->public_url,
			    (unsigned long long)nt->r.id);
	if (nt->r.commit != NULL)
		nt->short_sha = xstrndup(nt->r.commit, 12);
	for (i = 0; i < config_project_notify_count(p); i++) {
		unsigned want;

		e = config_project_notify(p, i);
		want = e->on & bits;
		if (want == 0 || !branch_wanted(e, nt->r.branch))
			continue;
		if (want & (CONFIG_NOTIFY_SUCCESS | CONFIG_NOTIFY_FIXED)) {
			if (!fixed_checked) {
				fixed = was_failing(d, &nt->r);
				fixed_checked = true;
			}
			if (fixed && (want & CONFIG_NOTIFY_FIXED))
				nt->event = "fixed";
			else if (want & CONFIG_NOTIFY_SUCCESS)
				nt->event = "success";
			else
				continue; /* fixed only, and nothing was broken */
		} else {
			nt->event = config_notify_event_name(want);
		}
		add_notice(d, out, nt, e, i);
	}
	free(nt->url);
	free(nt->short_sha);
}

void
notices_for(struct daemon *d, const struct sched_event *ev,
	    struct status_rows *out)
{
	struct live_run *lr = live_run_find(d, ev->run_id);
	struct notice nt = {0};
	unsigned bits = 0;

	if (lr == NULL)
		return;
	if (ev->kind == SCHED_EVENT_RUN) {
		switch ((enum sched_run_state)ev->state) {
		case SCHED_RUN_FAILED:
		case SCHED_RUN_ERROR:
			bits = CONFIG_NOTIFY_FAILED;
			break;
		case SCHED_RUN_CANCELED:
			bits = CONFIG_NOTIFY_CANCELED;
			break;
		case SCHED_RUN_SUCCESS:
			bits = CONFIG_NOTIFY_SUCCESS | CONFIG_NOTIFY_FIXED;
			break;
		default:
			return;
		}
		nt.status = sched_run_state_name(ev->state);
	} else if (ev->state == SCHED_JOB_WAITING) {
		bits = CONFIG_NOTIFY_WAITING;
		nt.status = "running";
		nt.job = ev->job_name;
	} else {
		return;
	}
	nt.r = (struct notice_run){
		.id = lr->id, .project = lr->project, .branch = lr->branch,
		.ref = lr->ref, .commit = lr->commit,
	};
	nt.time_ms = ev->time_ms;
	notices_event(d, &nt, bits, out);
}

void
notices_error(struct daemon *d, const char *project, uint64_t run,
	      const char *branch, const char *ref, const char *commit,
	      struct status_rows *out)
{
	struct notice nt = {0};

	nt.r = (struct notice_run){
		.id = run, .project = project, .branch = branch, .ref = ref,
		.commit = commit,
	};
	nt.status = "error";
	nt.time_ms = pw_now_ms();
	notices_event(d, &nt, CONFIG_NOTIFY_FAILED, out);
}

/* notify's target callback: the entry a row names, as configured now. */
int
notices_target(void *arg, const struct store_outbox *row,
	       struct notify_target *out)
{
	struct daemon *d = arg;
	const struct config_project *p;
	const struct config_notify *e;
	const char *colon;
	char fp[17];
	size_t i;

	memset(out, 0, sizeof(*out));
	if (row->kind != NULL && strcmp(row->kind, "otlp") == 0)
		return traces_target(d, row, out);
	p = config_project_find(d->config, row->project);
	if (p == NULL || row->target == NULL ||
	    (colon = strchr(row->target, ':')) == NULL)
		return -ENOENT;
	for (i = 0; i < config_project_notify_count(p); i++) {
		e = config_project_notify(p, i);
		if (strcmp(kind_names[e->kind], row->kind) != 0 ||
		    fingerprint(e, fp) < 0 || strcmp(fp, colon + 1) != 0)
			continue;
		if (e->kind == CONFIG_NOTIFY_SLACK && e->url == NULL &&
		    e->secret != NULL)
			out->url = xstrdup(e->secret);
		if (e->kind == CONFIG_NOTIFY_WEBHOOK && e->secret != NULL) {
			out->secret = xmalloc(e->secret_len + 1);
			memcpy(out->secret, e->secret, e->secret_len);
			out->secret[e->secret_len] = '\0';
			out->secret_len = e->secret_len;
		}
		if (e->user != NULL)
			out->user = xstrdup(e->user);
		if (e->password != NULL)
			out->password = xstrdup(e->password);
		if (e->ca_file != NULL)
			out->ca_file = xstrdup(e->ca_file);
		out->insecure = e->insecure;
		out->starttls = e->starttls &&
				strncmp(row->url, "smtp://", 7) == 0;
		return 0;
	}
	return -ENOENT;
}
