/*
 * The scheduler's events, into the store.
 *
 * sched reports every state change in order; each becomes a store write,
 * and store writes commit in queue order, so the history is the event
 * order.  An attempt's row (with its directory) is committed before its
 * supervisor starts (attempt_prepare → commit → sched_attempt_proceed);
 * its end is settled through attempt.c's attempt_finish first, and lines
 * the daemon adds meanwhile come through record_output like the job's.
 * Log bytes are batched: up to LOG_FLUSH_BYTES, or what waited
 * LOG_FLUSH_MS since its attempt's oldest unwritten byte came, per write,
 * keyed by byte offset; live followers get bytes as they arrive (live.c),
 * and the attempt's end is written after its last log bytes, in the same
 * loop iteration as the next attempt's row: one transaction (the
 * store hands an iteration's writes over together).  The wait is the
 * attempt's own, not a timer shared by all: a job that ends within
 * LOG_FLUSH_MS of its first output has its log, its end and the next
 * job's row in one commit, whatever another job's output started.  The job's
 * own bytes are not here but in its log file (exec_log_notes): a write
 * names a range of it, which the writer thread reads and stores; one such
 * write is in flight per attempt, so that while the writer is behind the
 * next one takes everything that came meanwhile (bigger chunks under a
 * backlog, up to LOG_FILE_OP bytes a write), except at the end, when all
 * of it goes before the attempt's end.  Log bytes
 * and state changes go through store_write_retry: a full disk or a
 * read-only file delays them (kept in memory, in order) instead of losing
 * them.  This file decides when runs and attempts leave memory; live.c
 * keeps the lists.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon-int.h"
#include "pipewright/notify.h"
#include "pipewright/trace.h"

/* A write about `la` is done; true if `la` is let go of (and maybe freed). */
static bool
attempt_op_done(struct live_attempt *la)
{
	la->ops--;
	if (!la->orphan)
		return false;
	if (la->ops == 0)
		live_attempt_free(la->d, la);
	return true;
}

/*
 * A hand-off's stage, stamped for the debug log (bench/handoff.py pairs
 * them with the supervisors' stamps of attempt.stamps).
 */
static void
stage(const struct live_attempt *la, const char *what)
{
	log_debug("attempt.stage run=%llu job=%zu attempt=%d stage=%s "
		  "mono_us=%llu", (unsigned long long)la->lr->id, la->job,
		  la->number, what, (unsigned long long)pw_mono_us());
}

/* ---- writes ---- */

struct op {
	struct daemon *d;
	uint64_t run;
	int job;
	const char *status;      /* a state name: static */
	uint64_t started_at, finished_at;
	int exit_code;
	char *reason;
	char *dir;
	struct live_attempt *la;
	uint64_t id;             /* the attempt's row */
	uint64_t offset;
	char *data;
	size_t len;
	bool file;               /* a range of the log file, not data */
	int fd;                  /* its descriptor (ours), or -1 */
	struct status_rows st;   /* commit statuses this change causes */
	uint32_t uid;            /* the attempt's host uid; 0: none */
	int ids_rc;              /* jobids_assign's failure: fails it */
	struct traces_op *tr;    /* spans this change puts; NULL: none */
	char trace[TRACE_ID_HEX];   /* fresh ids for the attempt's row ... */
	char run_span[TRACE_SPAN_HEX];
	char span[TRACE_SPAN_HEX];
	char queue_span[TRACE_SPAN_HEX]; /* its "queue" step's */
	char got_trace[TRACE_ID_HEX]; /* ... and the run's, as stored */
	char got_span[TRACE_SPAN_HEX];
	uint64_t queue_from;     /* the job became ready; 0: unknown */
	uint64_t script_from;    /* its supervisor started; 0: unknown */
};

static struct op *
op_new(struct daemon *d, uint64_t run)
{
	struct op *o = xcalloc(1, sizeof(*o));

	o->d = d;
	o->run = run;
	o->fd = -1;
	return o;
}

static void
op_free(void *arg)
{
	struct op *o = arg;

	free(o->reason);
	free(o->dir);
	free(o->data);
	if (o->fd >= 0)
		close(o->fd);
	status_rows_free(&o->st);
	traces_op_free(o->tr);
	free(o);
}

/* A change's transaction is over: statuses it put are for notify to send. */
static void
op_committed(struct op *o, int rc)
{
	daemon_note_store(o->d, rc);
	if (rc == 0 && (o->st.n > 0 || o->tr != NULL) && o->d->notify != NULL)
		notify_kick(o->d->notify);
}

static int
tx_run_status(struct store_tx *tx, void *arg)
{
	struct op *o = arg;
	int rc;

	rc = store_tx_run_set_status(tx, o->run, o->status, o->started_at,
				     o->finished_at);
	/* The trace's ids are chosen when the run starts. */
	if (rc == 0 && o->started_at != 0)
		rc = store_tx_run_trace(tx, o->run, o->trace, o->run_span,
					o->got_trace, o->got_span);
	if (rc == 0)
		rc = status_rows_put(tx, &o->st, pw_now_ms());
	if (rc == 0 && o->finished_at != 0)
		rc = traces_put_run(tx, o->tr, o->run, o->finished_at);
	return rc;
}

static int
tx_job_status(struct store_tx *tx, void *arg)
{
	struct op *o = arg;
	int rc = 0;

	if (o->status != NULL)
		rc = store_tx_job_set_status(tx, o->run, o->job, o->status);
	return rc == 0 ? status_rows_put(tx, &o->st, pw_now_ms()) : rc;
}

static int
tx_attempt_insert(struct store_tx *tx, void *arg)
{
	struct op *o = arg;
	struct store_attempt_new a = {
		.run = o->run,
		.idx = o->job,
		.number = o->la->number,
		.status = "running",
		.dir = o->dir,
		.started_at = o->started_at,
	};
	int rc;

	rc = store_tx_attempt_insert(tx, &a, &o->id);
	if (rc == 0 && o->uid != 0)
		rc = store_tx_attempt_set_uid(tx, o->id, o->uid);
	/* Its span id before the job starts: TRACEPARENT names it. */
	if (rc == 0)
		rc = store_tx_attempt_set_span(tx, o->id, o->span);
	if (rc == 0)
		rc = store_tx_run_trace(tx, o->run, o->trace, o->run_span,
					o->got_trace, o->got_span);
	if (rc == 0 && o->queue_from != 0 && o->queue_from <= o->started_at) {
		struct store_step_new q = {
			.attempt = o->id,
			.span_id = o->queue_span,
			.name = "queue",
			.started_at = o->queue_from,
			.finished_at = o->started_at,
		};

		rc = store_tx_step_insert(tx, &q);
	}
	return rc;
}

static int
tx_attempt_finish(struct store_tx *tx, void *arg)
{
	struct op *o = arg;
	int rc;

	rc = store_tx_attempt_finish(tx, o->id, o->status, o->exit_code,
				     o->reason, o->finished_at);
	if (rc == 0)
		rc = status_rows_put(tx, &o->st, pw_now_ms());
	if (rc == 0)
		rc = traces_put_attempt(tx, o->tr, o->run, o->id,
					o->script_from, o->finished_at);
	return rc;
}

static int
tx_log(struct store_tx *tx, void *arg)
{
	struct op *o = arg;

	if (o->file && o->fd < 0)
		return -EBADF;  /* dir/log could not be opened: said once */
	if (o->file)
		return store_tx_log_append_file(tx, o->id, o->offset, o->fd,
						o->len);
	return store_tx_log_append(tx, o->id, o->offset, o->data, o->len);
}

/* ---- logs ---- */

static void flush(struct live_attempt *la, bool all);
static void log_pending(struct live_attempt *la);

static void
log_done(int rc, void *arg)
{
	struct op *o = arg;
	struct live_attempt *la = o->la;

	op_committed(o, rc);
	if (o->file)
		la->file_ops--;
	if (attempt_op_done(la)) {
		op_free(o);
		return;
	}
	if (rc != 0 && o->file && !la->file_warned) {
		/* Tried again at each flush: said once an attempt. */
		la->file_warned = true;
		log_warnx("log.store run=%llu attempt=%llu offset=%llu: %s",
			  (unsigned long long)o->run,
			  (unsigned long long)o->id,
			  (unsigned long long)o->offset, strerror(-rc));
	}
	if (rc == 0 && o->file) {
		la->committed += o->len;
		/* What came while it was written goes now, whole. */
		if (la->file_ops == 0 && la->queued < la->file_end) {
			if (la->file_end - la->queued >= LOG_FLUSH_BYTES)
				flush(la, false);
			else
				log_pending(la);
		}
	} else if (rc == 0) {
		la->committed += o->len;
		la->mem_off += o->len;
		/* Compacted once the dead prefix is half the buffer: O(n). */
		if (la->mem_off >= la->mem.len / 2) {
			memmove(la->mem.data, la->mem.data + la->mem_off,
				la->mem.len - la->mem_off);
			la->mem.len -= la->mem_off;
			la->mem_off = 0;
		}
	} else {
		/*
		 * Later batches were queued at offsets past this one and fail
		 * too; the next flush sends everything again from here.
		 */
		la->queued = la->committed;
		if (la->queued < la->total)
			log_pending(la);
	}
	op_free(o);
}

/* A range of the log file, [queued, file_end) or its first LOG_FILE_OP. */
static void
flush_file(struct live_attempt *la)
{
	struct op *o;
	int fd = live_attempt_log_fd(la);

	o = op_new(la->d, la->lr->id);
	o->la = la;
	o->id = la->id;
	o->offset = la->queued;
	o->len = la->file_end - la->queued;
	if (o->len > LOG_FILE_OP)
		o->len = LOG_FILE_OP;
	/*
	 * Its own descriptor: the attempt may close its own meanwhile.  Without
	 * one the write fails (logged) and the next flush tries the bytes again.
	 */
	o->file = true;
	o->fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1;
	la->unflushed_ms = 0;
	la->queued += o->len;
	la->file_ops++;
	la->ops++;
	store_write_retry(la->d->store, tx_log, log_done, o);
}

/* all: everything now (the end, a handover); else what is due. */
static void
flush(struct live_attempt *la, bool all)
{
	struct op *o;
	size_t from;

	sections_flush(la);
	if (la->id == 0)
		return;
	while (la->queued < la->file_end) {
		if (la->file_ops > 0 && !all)
			return;  /* its done takes what came meanwhile */
		flush_file(la);
		if (!all)
			return;
	}
	if (la->total == la->queued)
		return;
	la->unflushed_ms = 0;
	o = op_new(la->d, la->lr->id);
	o->la = la;
	o->id = la->id;
	o->offset = la->queued;
	o->len = la->total - la->queued;
	from = la->mem_off + (size_t)(la->queued - live_attempt_mem_base(la));
	o->data = xmalloc(o->len);
	memcpy(o->data, la->mem.data + from, o->len);
	la->queued = la->total;
	la->ops++;
	store_write_retry(la->d->store, tx_log, log_done, o);
}

void
record_flush_all(struct daemon *d)
{
	struct live_attempt *la;

	for (la = d->attempts; la != NULL; la = la->next)
		flush(la, true);
}

/*
 * Writes what waited LOG_FLUSH_MS, and sets the timer for the next
 * attempt whose bytes will have: never earlier, so the bytes of a job
 * that ends before then go with its end.
 */
static void
on_flush_timer(uv_timer_t *t)
{
	struct daemon *d = container_of(t, struct daemon, flush_timer);
	uint64_t now = uv_now(&d->loop), next = 0, due;
	struct live_attempt *la;

	for (la = d->attempts; la != NULL; la = la->next) {
		if (la->unflushed_ms == 0)
			continue;
		due = la->unflushed_ms + LOG_FLUSH_MS;
		if (due <= now) {
			flush(la, false);
			/* Not written (no row yet): its next bytes start over. */
			la->unflushed_ms = 0;
		} else if (next == 0 || due < next) {
			next = due;
		}
	}
	if (next != 0)
		uv_timer_start(t, on_flush_timer, next - now, 0);
}

/* Bytes wait to be written: from now, unless older ones wait already. */
static void
log_pending(struct live_attempt *la)
{
	struct daemon *d = la->d;

	if (la->unflushed_ms != 0)
		return;
	la->unflushed_ms = uv_now(&d->loop);
	/* An armed timer is due no later than this attempt's turn. */
	if (!uv_is_active((uv_handle_t *)&d->flush_timer))
		uv_timer_start(&d->flush_timer, on_flush_timer, LOG_FLUSH_MS,
			       0);
}

void
record_output(void *arg, struct sched_run *run, size_t job, int attempt,
	      const char *data, size_t len)
{
	struct daemon *d = arg;
	struct live_attempt *la;

	la = live_attempt_find(d, sched_run_id(run), job, attempt);
	if (la == NULL)
		return;
	if (data == NULL) {
		live_attempt_grew(la, sched_run_pipeline(run), len);
	} else {
		sections_scan(la, sched_run_pipeline(run), data, len);
		live_attempt_append(la, data, len);
	}
	d->stats.log_bytes += len;
	if (la->total - la->queued >= LOG_FLUSH_BYTES)
		flush(la, false);
	else
		log_pending(la);
}

/* ---- attempts ---- */

/* The attempt's workspace is ready (or not): its supervisor starts. */
static void
workspace_ready(int rc, const char *why, void *arg)
{
	struct live_attempt *la = arg;
	struct daemon *d = la->d;
	uint64_t now = pw_now_ms();
	int prc;

	stage(la, "workspace_ready");
	if (!attempt_op_done(la)) {
		traces_step(d, la->id, "workspace", la->ws_from, now,
			    rc < 0 ? why : NULL);
		if (rc < 0) {
			prc = sched_attempt_fail(la->lr->run, la->job, why);
			(void)prc; /* the attempt is prepared: it cannot refuse */
		} else {
			la->ops++;
			jobimage_prepare(la);
		}
	}
	/* A shutdown may have waited for this checkout to end. */
	daemon_run_gone(d);
}

/*
 * The attempt is recorded: its workspace is made, then it starts.  One
 * flow from the row to the supervisor's start, extended in jobws.c.
 */
static void
prepare_done(int rc, void *arg)
{
	struct op *o = arg;
	struct live_attempt *la = o->la;
	int prc;

	op_committed(o, rc);
	stage(la, "row_committed");
	if (attempt_op_done(la)) {
		op_free(o);
		return;
	}
	if (rc == 0)
		la->id = o->id;
	else
		log_warnx("attempt run=%llu job=%d: cannot record it: %s",
			  (unsigned long long)o->run, o->job, strerror(-rc));
	if (rc < 0 || o->ids_rc < 0) {
		prc = sched_attempt_proceed(la->lr->run, la->job,
					    rc < 0 ? rc : o->ids_rc);
		(void)prc; /* the attempt is prepared: it cannot refuse */
	} else {
		traces_attempt_env(o->d, la, o->got_trace, o->span);
		la->ws_from = pw_now_ms();
		la->ops++;
		jobws_prepare(o->d, la->lr, la->job, workspace_ready, la);
	}
	op_free(o);
}

void
record_prepare(void *arg, struct sched_run *run, size_t job, int attempt,
	       const char *dir)
{
	struct daemon *d = arg;
	struct live_attempt *la;
	struct op *o;

	la = live_attempt_new(d, live_run_of(d, run), job, attempt);
	o = op_new(d, la->lr->id);
	o->job = (int)job;
	o->la = la;
	o->dir = xstrdup(dir);
	la->dir = xstrdup(dir);
	o->started_at = la->started_ms = pw_now_ms();
	/* Its uid, before the row that records it (jobids.c). */
	o->ids_rc = jobids_assign(d, la->lr);
	o->uid = la->lr->job_uid;
	trace_id_new(o->trace);
	trace_span_id_new(o->run_span);
	trace_span_id_new(o->span);
	trace_span_id_new(o->queue_span);
	if (job < la->lr->nready)
		o->queue_from = la->lr->ready_ms[job];
	la->ops++;
	stage(la, "row_queued");
	store_write(d->store, tx_attempt_insert, prepare_done, o);
}

void
record_adopt(struct daemon *d, struct live_run *lr, size_t job,
	     const struct store_attempt *sa)
{
	struct live_attempt *la = live_attempt_new(d, lr, job, sa->number);

	la->id = sa->id;
	jobids_adopt(lr, sa->job_uid);
	la->started_ms = sa->started_at;
	/* The supervisor goes on from the last byte the store has. */
	la->total = la->queued = la->committed = sa->log_bytes;
	la->file_end = la->total;  /* the file holds what the store has */
	la->dir = sa->dir != NULL ? xstrdup(sa->dir) : NULL;
	jobimage_adopt(la, sa->dir);
}

static void
finish_done(int rc, void *arg)
{
	struct op *o = arg;

	op_committed(o, rc);
	stage(o->la, "end_committed");
	if (!attempt_op_done(o->la))
		live_attempt_end(o->d, o->la);
	op_free(o);
}

/* st: the statuses the end causes; they move into the end's write. */
static void
attempt_end(struct daemon *d, struct live_attempt *la,
	    const struct sched_event *ev, struct status_rows *st)
{
	uint64_t ms = ev->time_ms > la->started_ms ?
			      ev->time_ms - la->started_ms : 0;
	struct op *o;

	la->ended = true;
	la->status = xstrdup(sched_job_state_name(ev->state));
	la->reason = ev->reason != NULL ? xstrdup(ev->reason) : NULL;
	la->exit_code = ev->exit_code;
	durations_add(d, la->lr->project, ev->job_name, ms);
	if ((size_t)ev->state < PW_ARRAY_LEN(d->stats.jobs_finished))
		d->stats.jobs_finished[ev->state]++;
	if (la->id == 0) {
		/* Its row could not be written: there is nothing to finish. */
		live_attempt_end(d, la);
		return;
	}
	flush(la, true);
	o = op_new(d, la->lr->id);
	o->la = la;
	o->id = la->id;
	o->status = sched_job_state_name(ev->state);
	o->exit_code = ev->exit_code;
	o->reason = ev->reason != NULL ? xstrdup(ev->reason) : NULL;
	o->finished_at = ev->time_ms;
	o->tr = traces_op_new(d, la->lr->project);
	o->script_from = la->script_from;
	o->st = *st;
	st->rows = NULL;
	st->n = 0;
	la->ops++;
	stage(la, "end_queued");
	store_write_retry(d->store, tx_attempt_finish, finish_done, o);
}

/* ---- runs ---- */

void
record_run_gone(struct daemon *d, struct live_run *lr)
{
	files_remove_run(d, lr->id);
	/* Retention later, between hand-offs (prune.c). */
	prune_due(d, lr->project);
	live_run_remove(d, lr);
	daemon_run_gone(d);
}

static void
run_final_done(int rc, void *arg)
{
	struct op *o = arg;
	struct live_run *lr = live_run_find(o->d, o->run);

	op_committed(o, rc);
	if (lr != NULL && sched_run_finished(lr->run)) {
		/*
		 * Its workspace is still being made (ahead of its turn, and it
		 * was cancelled meanwhile): it stays in memory until that is
		 * over (jobws.c), so that neither its removal nor a rerun's
		 * new one runs under the making.
		 */
		if (lr->ws == RUN_WS_MAKING)
			lr->ws_gone = true;
		else
			record_run_gone(o->d, lr);
	}
	op_free(o);
}

static void
write_done(int rc, void *arg)
{
	struct op *o = arg;

	op_committed(o, rc);
	op_free(o);
}

/* A job's queue wait starts (the attempt's "queue" step). */
static void
note_ready(struct daemon *d, const struct sched_event *ev)
{
	struct live_run *lr = live_run_find(d, ev->run_id);
	size_t cap;

	if (lr == NULL)
		return;
	if (ev->job >= lr->nready) {
		cap = lr->nready;
		lr->ready_ms = xgrow(lr->ready_ms, &cap, ev->job + 1,
				     sizeof(*lr->ready_ms));
		memset(lr->ready_ms + lr->nready, 0,
		       (cap - lr->nready) * sizeof(*lr->ready_ms));
		lr->nready = cap;
	}
	lr->ready_ms[ev->job] = ev->time_ms;
}

void
record_event(void *arg, const struct sched_event *ev)
{
	struct daemon *d = arg;
	struct live_attempt *la;
	struct op *o;

	o = op_new(d, ev->run_id);
	status_rows_for(d, ev, &o->st);
	if (ev->kind == SCHED_EVENT_RUN) {
		o->status = sched_run_state_name(ev->state);
		if (ev->state == SCHED_RUN_RUNNING) {
			struct live_run *lr = live_run_find(d, ev->run_id);

			if (lr != NULL && lr->started_ms == 0)
				lr->started_ms = ev->time_ms;
			o->started_at = ev->time_ms;
			trace_id_new(o->trace);
			trace_span_id_new(o->run_span);
		}
		if (ev->state >= SCHED_RUN_SUCCESS) {
			struct live_run *lr = live_run_find(d, ev->run_id);

			o->finished_at = ev->time_ms;
			if (lr != NULL)
				cicd_run_ended(d, lr, o->status, ev->time_ms);
			o->tr = traces_op_new(d, lr != NULL ? lr->project :
					      NULL);
			log_info("run.finished run=%llu status=%s",
				 (unsigned long long)ev->run_id, o->status);
			store_write_retry(d->store, tx_run_status,
					  run_final_done, o);
			return;
		}
		store_write_retry(d->store, tx_run_status, write_done, o);
		return;
	}
	o->job = (int)ev->job;
	o->status = sched_job_state_name(ev->state);
	if (ev->state == SCHED_JOB_READY)
		note_ready(d, ev);
	la = live_attempt_find(d, ev->run_id, ev->job, ev->attempt);
	if (la != NULL && !la->ended && sched_job_state_final(ev->state)) {
		attempt_end(d, la, ev, &o->st);
		op_free(o);
		return;
	}
	if (ev->state == SCHED_JOB_RUNNING) {
		/* The attempt's row, written by record_prepare, says it. */
		o->status = NULL;
		if (o->st.n == 0) {
			op_free(o);
			return;
		}
	}
	store_write_retry(d->store, tx_job_status, write_done, o);
}
