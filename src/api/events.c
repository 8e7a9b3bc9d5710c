/*
 * GET /api/v1/events: one Server-Sent Events stream per dashboard tab,
 * for everything the tab shows — status changes of the runs it lists
 * (`runs=1,2`), new runs and status changes of a project's runs or of
 * every run (`project=P`, `all=1`, or no parameter), and the log lines
 * of the jobs it follows (`logs=RUN:JOB,...`).  When the tab's set
 * changes it opens a new stream with a new URL (there is no control
 * channel); the browser's EventSource resumes a dropped one by itself.
 *
 * Why a poll of the store and not callbacks from the scheduler: every
 * change the stream reports is committed in the store first, and the
 * store counts its writes.  A stream looks every EV_TICK_MS whether the
 * count moved; if not, it costs nothing (an idle tab, or one on a
 * finished run).  If it did, it reads what it watches through the
 * indexes (a few rows) and sends what differs from what it sent.  So a
 * stream needs no hook in the daemon and cannot miss a change between
 * two looks: it compares states, not events.
 *
 * Every event's `id:` is the stream's position: "n=N" (the newest run
 * id of the feed it has reported) and "A=OFF" for each followed log
 * (attempt id, bytes sent).  Reconnecting with Last-Event-ID resumes
 * there: the runs created since, each log from its offset.  Statuses are
 * sent again on every (re)connect: they are state, and a page applies a
 * status it already shows without harm.
 *
 * Events (data is JSON):
 *   run   a run object as in lists (no jobs)
 *   job   {"run", "job", "status", "attempts"} for a listed run's job
 *   log   {"run", "job", "attempt", "offset", "text"}: text is valid
 *         UTF-8, offset its first byte's offset in the attempt's log
 *   end   {"run", "job", "attempt", "status", "exit_code"}: a followed
 *         log is complete (a rerun's new attempt starts at offset 0)
 * and a comment line every EV_PING_MS to keep proxies from closing it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-int.h"

#define EV_TICK_MS 200
#define EV_PING_MS 15000
#define EV_MAX_RUNS 50          /* runs= */
#define EV_MAX_LOGS 8           /* logs= */
#define EV_MAX_FEED 200         /* unfinished runs watched in a feed */
#define EV_LOG_PIECE (256 * 1024) /* per log and look */
#define EV_HIGH_WATER (1 << 20) /* bytes queued: skip the logs this look */

struct ev_run {
	uint64_t id;
	char *status;           /* as last sent; NULL: not yet */
	bool listed;            /* runs=: jobs too, kept to the end */
	bool seen;              /* in this look's unfinished list */
	size_t njobs;
	char **job_status;      /* as last sent, by job index */
	size_t *job_attempts;
};

struct ev_log {
	uint64_t run;
	char *job;
	uint64_t attempt;       /* attempt id; 0: none yet */
	int number;
	uint64_t next;          /* offset of the next byte to send */
	uint64_t from;          /* @OFFSET: where the first attempt starts */
	bool has_from;
	struct buf carry;       /* an incomplete UTF-8 sequence */
	bool ended;
};

struct events {
	struct api *a;
	struct http_request *req; /* NULL once the client has gone */
	uv_timer_t timer;
	bool feed;              /* new runs (of project, or all) */
	char *project;
	uint64_t max_seen;      /* the feed's newest run id reported */
	bool have_max;
	struct ev_run *runs;
	size_t nruns, caprun;
	struct ev_log logs[EV_MAX_LOGS];
	size_t nlogs;
	struct {
		uint64_t attempt, offset;
	} resume[EV_MAX_LOGS];  /* Last-Event-ID's logs */
	size_t nresume;
	uint64_t writes;        /* the store's write count at the last look */
	bool looked;
	bool behind;            /* a log has more stored than it has sent */
	uint64_t last_sent;     /* ms, for the pings */
	size_t queued;          /* bytes not yet written, at the last write */
};

static struct ev_run *
run_find(struct events *e, uint64_t id)
{
	size_t i;

	for (i = 0; i < e->nruns; i++)
		if (e->runs[i].id == id)
			return &e->runs[i];
	return NULL;
}

static struct ev_run *
run_add(struct events *e, uint64_t id, bool listed)
{
	struct ev_run *r = run_find(e, id);

	if (r != NULL) {
		r->listed = r->listed || listed;
		return r;
	}
	e->runs = xgrow(e->runs, &e->caprun, e->nruns + 1, sizeof(*e->runs));
	r = &e->runs[e->nruns++];
	*r = (struct ev_run){.id = id, .listed = listed};
	return r;
}

static void
run_clear(struct ev_run *r)
{
	size_t i;

	free(r->status);
	for (i = 0; i < r->njobs; i++)
		free(r->job_status[i]);
	free(r->job_status);
	free(r->job_attempts);
}

static void
run_remove(struct events *e, size_t i)
{
	run_clear(&e->runs[i]);
	e->runs[i] = e->runs[--e->nruns];
}

/* The stream's position, for `id:` (see the top). */
static void
position(struct events *e, struct buf *b)
{
	size_t i;

	buf_addf(b, "n=%llu", (unsigned long long)e->max_seen);
	for (i = 0; i < e->nlogs; i++)
		if (e->logs[i].attempt != 0)
			buf_addf(b, ";%llu=%llu",
				 (unsigned long long)e->logs[i].attempt,
				 (unsigned long long)e->logs[i].next);
}

static void
ev_send(struct events *e, const char *event, cJSON *o)
{
	char *json;
	struct buf b;

	if (e->req == NULL) {
		/* The client went away during this look. */
		cJSON_Delete(o);
		return;
	}
	json = cJSON_PrintUnformatted(o);

	buf_init(&b, 0);
	buf_addf(&b, "event: %s\nid: ", event);
	position(e, &b);
	buf_addf(&b, "\ndata: %s\n\n", json);
	e->queued = http_stream_write(e->req, b.data, b.len);
	e->last_sent = pw_mono_ms();
	buf_free(&b);
	free(json);
	cJSON_Delete(o);
}

/* The start of a job's, a log's and an end's data: {"run", "job"}. */
static cJSON *
job_object(uint64_t run, const char *job)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "run", (double)run);
	cJSON_AddStringToObject(o, "job", job);
	return o;
}

static void
send_run(struct events *e, const struct store_run *r)
{
	ev_send(e, "run", api_run_json(e->a, r, false));
}

/* A listed run: its status and its jobs' where they changed. */
static void
look_listed(struct events *e, struct ev_run *er, const struct store_run *r)
{
	size_t i;

	if (er->status == NULL || strcmp(er->status, r->status) != 0) {
		free(er->status);
		er->status = xstrdup(r->status);
		send_run(e, r);
	}
	if (er->njobs < r->njobs) {
		er->job_status = xrealloc(er->job_status,
					  r->njobs * sizeof(char *));
		er->job_attempts = xrealloc(er->job_attempts,
					    r->njobs * sizeof(size_t));
		for (i = er->njobs; i < r->njobs; i++) {
			er->job_status[i] = NULL;
			er->job_attempts[i] = 0;
		}
		er->njobs = r->njobs;
	}
	for (i = 0; i < r->njobs; i++) {
		const struct store_job *j = &r->jobs[i];
		cJSON *o;

		if (er->job_status[i] != NULL &&
		    strcmp(er->job_status[i], j->status) == 0 &&
		    er->job_attempts[i] == j->nattempts)
			continue;
		free(er->job_status[i]);
		er->job_status[i] = xstrdup(j->status);
		er->job_attempts[i] = j->nattempts;
		o = job_object(r->id, j->name);
		cJSON_AddStringToObject(o, "status", j->status);
		cJSON_AddNumberToObject(o, "attempts", (double)j->nattempts);
		ev_send(e, "job", o);
	}
}

/* A feed's run: its status if it changed; false once it is finished. */
static bool
look_fed(struct events *e, struct ev_run *er, const struct store_run *r)
{
	if (er->status == NULL || strcmp(er->status, r->status) != 0) {
		free(er->status);
		er->status = xstrdup(r->status);
		send_run(e, r);
	}
	return strcmp(r->status, "queued") == 0 ||
	    strcmp(r->status, "running") == 0;
}

static void
look_feed(struct events *e)
{
	static const char *const unfinished[] = {"queued", "running", NULL};
	struct store_run_filter f = {.project = e->project, .limit = 100};
	struct store_run **runs = NULL, *r;
	size_t n = 0, i, k;
	uint64_t next;

	/*
	 * New runs, oldest first: only those above the newest reported
	 * (usually none); the first look only marks where it is.
	 */
	if (!e->have_max) {
		f.limit = 1;
		if (store_runs_across(e->a->env.store, &f, &runs, &n, &next) < 0)
			return;
		e->max_seen = n > 0 ? runs[0]->id : 0;
		e->have_max = true;
		store_runs_free(runs, n);
		f.limit = 100;
	}
	f.after = e->max_seen;
	if (store_runs_across(e->a->env.store, &f, &runs, &n, &next) < 0)
		return;
	f.after = 0;
	for (i = n; i-- > 0;) {
		if (runs[i]->id <= e->max_seen)
			continue;
		e->max_seen = runs[i]->id;
		if (look_fed(e, run_add(e, runs[i]->id, false), runs[i]))
			continue;
	}
	store_runs_free(runs, n);
	/* Runs under way: their changes; runs that left the list: their end. */
	f.status = unfinished;
	f.limit = EV_MAX_FEED;
	if (store_runs_across(e->a->env.store, &f, &runs, &n, &next) < 0)
		return;
	for (k = 0; k < e->nruns; k++)
		e->runs[k].seen = false;
	for (i = 0; i < n; i++) {
		struct ev_run *er = run_add(e, runs[i]->id, false);

		er->seen = true;
		if (!er->listed)
			look_fed(e, er, runs[i]);
	}
	store_runs_free(runs, n);
	for (k = e->nruns; k-- > 0;) {
		struct ev_run *er = &e->runs[k];

		if (er->listed || er->seen)
			continue;
		if (store_run_get(e->a->env.store, er->id, &r) == 0) {
			look_fed(e, er, r);
			store_run_free(r);
		}
		run_remove(e, k);
	}
}

/* Sends the next piece of a followed log; true if more is stored. */
static bool
look_log(struct events *e, struct ev_log *l, const struct store_run *r)
{
	const struct store_job *j = NULL;
	const struct store_attempt *at;
	struct buf b;
	char *text;
	size_t i, used;
	bool final;
	cJSON *o;

	for (i = 0; i < r->njobs && j == NULL; i++)
		if (strcmp(r->jobs[i].name, l->job) == 0)
			j = &r->jobs[i];
	if (j == NULL || j->nattempts == 0)
		return false;
	at = &j->attempts[j->nattempts - 1];
	if (at->id != l->attempt) {
		/* A new attempt (a retry, a rerun): its log from the start. */
		/* @OFFSET applies to the attempt that was latest then. */
		l->next = l->attempt == 0 && l->has_from ?
			(l->from < at->log_bytes ? l->from : at->log_bytes) : 0;
		l->attempt = at->id;
		l->number = at->number;
		for (i = 0; i < e->nresume; i++)
			if (e->resume[i].attempt == at->id &&
			    e->resume[i].offset <= at->log_bytes)
				l->next = e->resume[i].offset;
		l->ended = false;
		buf_reset(&l->carry);
	}
	if (l->ended)
		return false;
	buf_init(&b, 0);
	buf_add(&b, l->carry.data, l->carry.len);
	if (store_log_read(e->a->env.store, at->id, l->next + l->carry.len,
			   EV_LOG_PIECE, &b) < 0) {
		buf_free(&b);
		return false;
	}
	buf_reset(&l->carry);
	/* Finished and all read: the held-back bytes go too (as U+FFFD). */
	final = at->finished_at != 0 &&
		     l->next + b.len >= at->log_bytes;
	text = api_utf8(b.data != NULL ? b.data : "", b.len, &used, final);
	if (used > 0) {
		o = job_object(r->id, l->job);
		cJSON_AddNumberToObject(o, "attempt", l->number);
		cJSON_AddNumberToObject(o, "offset", (double)l->next);
		cJSON_AddStringToObject(o, "text", text);
		l->next += used;
		ev_send(e, "log", o);
	}
	free(text);
	buf_add(&l->carry, b.data + used, b.len - used);
	buf_free(&b);
	if (final && l->carry.len == 0) {
		l->ended = true;
		o = job_object(r->id, l->job);
		cJSON_AddNumberToObject(o, "attempt", l->number);
		cJSON_AddStringToObject(o, "status", at->status);
		if (at->exit_code >= 0)
			cJSON_AddNumberToObject(o, "exit_code", at->exit_code);
		else
			cJSON_AddNullToObject(o, "exit_code");
		ev_send(e, "end", o);
	}
	return !l->ended && l->next + l->carry.len < at->log_bytes;
}

/* false: the stream's credentials no longer allow it; it must end. */
static bool
look(struct events *e)
{
	struct store_stats ss;
	struct store_run *r;
	size_t i, k;

	if (e->req == NULL)
		return true;
	store_stats(e->a->env.store, &ss);
	/*
	 * Nothing written and no log behind: nothing to send.  A log more
	 * than a piece behind (a long one, a resumed one, a slow reader's)
	 * goes on at every tick until it has caught up, store idle or not.
	 */
	if (e->looked && ss.writes == e->writes && !e->behind) {
		if (pw_mono_ms() - e->last_sent >= EV_PING_MS) {
			e->queued = http_stream_write(e->req, ": ping\n\n", 8);
			e->last_sent = pw_mono_ms();
		}
		return true;
	}
	/*
	 * Before anything more is sent: a session signed out, or a token
	 * removed or narrowed since the stream began, ends it (the first
	 * look comes right after the request's own check).
	 */
	if (e->looked && !api_still_allowed(e->a, e->req, AUTH_SCOPE_READ))
		return false;
	if (!e->looked || ss.writes != e->writes) {
		e->writes = ss.writes;
		e->looked = true;
		if (e->feed)
			look_feed(e);
		for (i = 0; i < e->nruns; i++) {
			if (!e->runs[i].listed)
				continue;
			if (store_run_get(e->a->env.store, e->runs[i].id,
					  &r) < 0)
				continue;
			look_listed(e, &e->runs[i], r);
			store_run_free(r);
		}
	}
	if (e->req == NULL)
		return true;
	/*
	 * A client that reads slowly gets its logs later, not a queue: the
	 * queue as it is now (an empty write writes nothing).
	 */
	e->queued = http_stream_write(e->req, "", 0);
	e->behind = e->nlogs > 0 && e->queued > EV_HIGH_WATER;
	if (e->behind)
		return true;
	for (i = 0; i < e->nlogs; i++) {
		if (store_run_get(e->a->env.store, e->logs[i].run, &r) < 0)
			continue;
		e->behind |= look_log(e, &e->logs[i], r);
		/* The same run for the next logs: read once. */
		for (k = i + 1; k < e->nlogs && e->logs[k].run == r->id; k++)
			e->behind |= look_log(e, &e->logs[k], r);
		i = k - 1;
		store_run_free(r);
	}
	return true;
}

static void events_free(struct events *e);

static void
on_closed(uv_handle_t *h)
{
	events_free(h->data);
}

static void
on_tick(uv_timer_t *t)
{
	struct events *e = t->data;
	struct api *a = e->a;

	if (e->req == NULL)
		return;
	/*
	 * Shutting down or handing over: end the stream cleanly now (the
	 * client reconnects, with Last-Event-ID, to whoever serves next)
	 * instead of holding the daemon's exit.  Signed out: end it too
	 * (the client's reconnection is then refused).
	 */
	if ((a->env.stopping != NULL && a->env.stopping(a->env.ctx)) ||
	    !look(e)) {
		http_request_on_abort(e->req, NULL, NULL);
		http_stream_end(e->req);
		e->req = NULL;
		uv_timer_stop(&e->timer);
		uv_close((uv_handle_t *)&e->timer, on_closed);
	}
}

static void
on_abort(struct http_request *req, void *arg)
{
	struct events *e = arg;

	(void)req;
	e->req = NULL;
	uv_timer_stop(&e->timer);
	uv_close((uv_handle_t *)&e->timer, on_closed);
}

/* "1,2,3" into listed runs; false on a bad entry. */
static bool
parse_runs(struct events *e, const char *s)
{
	char *end;
	unsigned long long v;

	while (s != NULL && *s != '\0') {
		if (*s < '1' || *s > '9')
			return false;
		v = strtoull(s, &end, 10);
		if (e->nruns >= EV_MAX_RUNS || (*end != ',' && *end != '\0'))
			return false;
		run_add(e, v, true);
		s = *end == ',' ? end + 1 : end;
	}
	return true;
}

/* A trailing "@DIGITS" on a job: where its log starts, not 0. */
static void
at_offset(struct ev_log *l)
{
	char *at = strrchr(l->job, '@'), *p;

	if (at == NULL || at == l->job || at[1] == '\0')
		return;
	for (p = at + 1; *p >= '0' && *p <= '9'; p++)
		;
	if (*p != '\0')
		return;
	l->from = strtoull(at + 1, NULL, 10);
	l->has_from = true;
	*at = '\0';
}

/*
 * "RUN:JOB,RUN:JOB": a job name may hold commas (a matrix leg's "build
 * (gcc, debug)"), so an entry ends only at a comma followed by digits and
 * a colon.  false on a bad entry.
 */
static bool
parse_logs(struct events *e, const char *s)
{
	const char *p, *colon, *end;
	unsigned long long run;
	char *num_end;

	while (s != NULL && *s != '\0') {
		if (*s < '1' || *s > '9' || e->nlogs >= EV_MAX_LOGS)
			return false;
		run = strtoull(s, &num_end, 10);
		colon = num_end;
		if (*colon != ':' || colon[1] == '\0')
			return false;
		for (end = colon + 1; *end != '\0'; end++) {
			if (*end != ',')
				continue;
			for (p = end + 1; *p >= '0' && *p <= '9'; p++)
				;
			if (p > end + 1 && *p == ':')
				break;
		}
		e->logs[e->nlogs].run = run;
		e->logs[e->nlogs].job = xstrndup(colon + 1,
						 (size_t)(end - colon - 1));
		at_offset(&e->logs[e->nlogs]);
		buf_init(&e->logs[e->nlogs].carry, 0);
		e->nlogs++;
		s = *end == ',' ? end + 1 : end;
	}
	return true;
}

/* Last-Event-ID: "n=N;A=OFF;...".  Parts that do not parse are ignored. */
static void
resume(struct events *e, const char *id)
{
	const char *p = id;
	unsigned long long k, v;
	char *end;

	while (p != NULL && *p != '\0') {
		if (p[0] == 'n' && p[1] == '=') {
			v = strtoull(p + 2, &end, 10);
			if (*end == ';' || *end == '\0') {
				e->max_seen = v;
				e->have_max = true;
			}
		} else if (*p >= '1' && *p <= '9') {
			k = strtoull(p, &end, 10);
			if (*end == '=' && e->nresume < EV_MAX_LOGS) {
				v = strtoull(end + 1, &end, 10);
				e->resume[e->nresume].attempt = k;
				e->resume[e->nresume].offset = v;
				e->nresume++;
			}
		}
		p = strchr(p, ';');
		if (p != NULL)
			p++;
	}
}

static void
events_free(struct events *e)
{
	size_t i;

	for (i = 0; i < e->nruns; i++)
		run_clear(&e->runs[i]);
	free(e->runs);
	for (i = 0; i < e->nlogs; i++) {
		free(e->logs[i].job);
		buf_free(&e->logs[i].carry);
	}
	free(e->project);
	free(e);
}

bool
api_events_params(const char *runs, const char *logs, const char *last_id)
{
	struct events *e = xcalloc(1, sizeof(*e));
	bool ok = parse_runs(e, runs) && parse_logs(e, logs);

	resume(e, last_id);
	events_free(e);
	return ok;
}

void
api_events(struct api *a, struct http_request *req, const char *actor)
{
	static const char *const headers[] = {
		"Cache-Control: no-cache", "X-Accel-Buffering: no", NULL,
	};
	const char *q_runs = http_request_query(req, "runs");
	const char *q_logs = http_request_query(req, "logs");
	const char *q_project = http_request_query(req, "project");
	const char *q_all = http_request_query(req, "all");
	struct events *e = xcalloc(1, sizeof(*e));

	(void)actor;
	e->a = a;
	if (!parse_runs(e, q_runs) || !parse_logs(e, q_logs)) {
		http_respond_error(req, 400, "bad_request", "expected runs=ID,... "
				   "(at most %d) and logs=RUN:JOB,... (at most "
				   "%d)", EV_MAX_RUNS, EV_MAX_LOGS);
		events_free(e);
		return;
	}
	if (q_project != NULL && *q_project != '\0') {
		if (config_project_find(api_config(a), q_project) == NULL) {
			http_respond_error(req, 404, "not_found",
					   "no project '%s'", q_project);
			events_free(e);
			return;
		}
		e->project = xstrdup(q_project);
		e->feed = true;
	}
	if ((q_all != NULL && strcmp(q_all, "0") != 0) ||
	    (q_runs == NULL && q_logs == NULL && e->project == NULL))
		e->feed = true;
	resume(e, http_request_header(req, "Last-Event-ID"));
	e->req = req;
	uv_timer_init(a->env.loop, &e->timer);
	e->timer.data = e;
	http_stream_start(req, 200, "text/event-stream", headers);
	http_request_on_abort(req, on_abort, e);
	/* The state now, then a look every tick. */
	e->last_sent = pw_mono_ms();
	(void)look(e); /* the first: right after the request's check */
	uv_timer_start(&e->timer, on_tick, EV_TICK_MS, EV_TICK_MS);
}
