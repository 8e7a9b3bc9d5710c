/*
 * What on-call engineers do to runs: cancel, rerun, approve.  Each change
 * is recorded in the run's audit trail, and answered once committed; a
 * rerun or an approval of a finished run rebuilds it from the store.  A
 * rerun also stores which jobs it queued again, in the same transaction:
 * a restart before they start (a paused queue) still runs them.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon-int.h"

struct change_op {
	struct daemon *d;
	uint64_t run;
	char *actor, *action, *detail;
	struct live_run *launch;   /* started once the change is committed */
	int *rerun;                /* a rerun: per job, sched_run_job_rerun() */
	size_t njobs;
	daemon_done_cb cb;
	void *arg;
};

static int
tx_change(struct store_tx *tx, void *arg)
{
	struct change_op *c = arg;
	size_t j;
	int rc = 0;

	if (c->launch != NULL)
		rc = store_tx_run_set_status(tx, c->run, "queued", 0, 0);
	for (j = 0; rc == 0 && c->rerun != NULL && j < c->njobs; j++)
		rc = store_tx_job_rerun(tx, c->run, (int)j, c->rerun[j]);
	if (rc == 0)
		rc = store_tx_event(tx, c->run, pw_now_ms(), c->actor,
				    c->action, c->detail);
	return rc;
}

static void
change_done(int rc, void *arg)
{
	struct change_op *c = arg;
	char *msg = NULL;

	daemon_note_store(c->d, rc);
	if (rc < 0) {
		msg = xasprintf("cannot record the %s: %s", c->action,
				store_strerror(rc));
		if (c->launch != NULL)
			live_run_free(c->launch);
	} else {
		log_info("run.%s run=%llu actor=%s", c->action,
			 (unsigned long long)c->run, c->actor);
		if (c->launch != NULL)
			runs_launch(c->d, c->launch);
	}
	c->cb(rc, c->run, msg, c->arg);
	free(msg);
	free(c->rerun);
	free(c->actor);
	free(c->action);
	free(c->detail);
	free(c);
}

static struct change_op *
change_new(struct daemon *d, uint64_t run, const char *actor,
	   const char *action, const char *detail, struct live_run *lr,
	   daemon_done_cb cb, void *arg)
{
	struct change_op *c = xcalloc(1, sizeof(*c));

	c->d = d;
	c->run = run;
	c->actor = xstrdup(actor != NULL ? actor : "anonymous");
	c->action = xstrdup(action);
	c->detail = detail != NULL ? xstrdup(detail) : NULL;
	c->launch = lr;
	c->cb = cb;
	c->arg = arg;
	return c;
}

static void
record_change(struct daemon *d, uint64_t run, const char *actor,
	      const char *action, const char *detail, struct live_run *lr,
	      daemon_done_cb cb, void *arg)
{
	store_write(d->store, tx_change, change_done,
		    change_new(d, run, actor, action, detail, lr, cb, arg));
}

/* The stored run, for a change that needs it rebuilt. -ENOENT / -EBUSY. */
static int
load_finished(struct daemon *d, uint64_t id, struct store_run **row,
	      const struct config_project **proj, struct pipeline **p,
	      char **msg)
{
	struct pipeline_problems pp;
	int rc;

	rc = store_run_get(d->store, id, row);
	if (rc < 0) {
		*msg = xasprintf("no run %llu", (unsigned long long)id);
		return rc;
	}
	if (!runs_status_finished((*row)->status)) {
		*msg = xasprintf("run %llu is %s", (unsigned long long)id,
				 (*row)->status);
		return -EBUSY;
	}
	*proj = config_project_find(d->config, (*row)->project);
	if (*proj == NULL) {
		*msg = xasprintf("project '%s' is no longer configured",
				 (*row)->project);
		return -ENOENT;
	}
	if ((*row)->pipeline == NULL) {
		*msg = xasprintf("run %llu has no pipeline to run again",
				 (unsigned long long)id);
		return -EALREADY;
	}
	pipeline_problems_init(&pp);
	rc = pipeline_parse((*row)->pipeline_file, (*row)->pipeline,
			    (*row)->pipeline_len, p, &pp);
	if (rc < 0) {
		pipeline_problems_free(&pp);
		*msg = xasprintf("run %llu's pipeline snapshot is invalid",
				 (unsigned long long)id);
		return -EALREADY;
	}
	/* The ceilings of now: they may have been lowered since it ran. */
	runs_check_ceilings(*proj, p, &pp);
	if (*p == NULL) {
		*msg = xasprintf("run %llu asks for more than this server "
				 "allows: %s:%d:%d: %s", (unsigned long long)id,
				 pp.items[0].file, pp.items[0].line,
				 pp.items[0].column, pp.items[0].message);
		pipeline_problems_free(&pp);
		return -EALREADY;
	}
	pipeline_problems_free(&pp);
	return 0;
}

void
daemon_cancel(struct daemon *d, uint64_t run, const char *actor,
	      daemon_done_cb cb, void *arg)
{
	struct live_run *lr = live_run_find(d, run);
	struct store_run *row;
	char *msg;

	if (daemon_handing_over(d, cb, arg))
		return;
	if (lr == NULL || sched_run_finished(lr->run)) {
		if (store_run_get(d->store, run, &row) < 0) {
			msg = xasprintf("no run %llu", (unsigned long long)run);
			cb(-ENOENT, run, msg, arg);
		} else {
			msg = xasprintf("run %llu has already finished (%s)",
					(unsigned long long)run, row->status);
			cb(-EALREADY, run, msg, arg);
			store_run_free(row);
		}
		free(msg);
		return;
	}
	if (sched_run_cancel(lr->run) < 0) {
		cb(-EALREADY, run, "the run has already finished", arg);
		return;
	}
	record_change(d, run, actor, "cancel", NULL, NULL, cb, arg);
}

/*
 * Why a run still in memory cannot be rebuilt: not finished, or finished
 * while its workspace was being made, which its cleanup waits for.
 */
static const char *
lingering(const struct live_run *lr)
{
	if (sched_run_finished(lr->run) && lr->ws == RUN_WS_MAKING)
		return "the run's workspace is still being made; "
		       "try again in a moment";
	return "the run has not finished yet";
}

void
daemon_rerun(struct daemon *d, uint64_t run, const char *const *names,
	     const char *actor, daemon_done_cb cb, void *arg)
{
	struct store_run *row = NULL;
	const struct config_project *proj;
	struct pipeline *p;
	struct live_run *lr;
	struct change_op *c;
	char *msg = NULL, *detail;
	size_t j;
	int rc;

	if (daemon_handing_over(d, cb, arg))
		return;
	if ((lr = live_run_find(d, run)) != NULL) {
		cb(-EBUSY, run, lingering(lr), arg);
		return;
	}
	rc = load_finished(d, run, &row, &proj, &p, &msg);
	if (rc == 0)
		rc = runs_build(d, p, run, proj, row, true, &lr);
	if (rc == 0) {
		rc = sched_run_rerun(lr->run, names);
		if (rc <= 0) {
			msg = rc == 0 ? xstrdup("nothing to rerun: no job failed") :
					xstrdup("no such job in the run");
			rc = rc == 0 ? -EALREADY : rc;
			live_run_free(lr);
		}
	}
	store_run_free(row);
	if (rc < 0) {
		cb(rc, run, msg, arg);
		free(msg);
		return;
	}
	detail = names == NULL ? xstrdup("failed jobs") : xstrdup("named jobs");
	c = change_new(d, run, actor, "rerun", detail, lr, cb, arg);
	free(detail);
	c->njobs = pipeline_job_count(sched_run_pipeline(lr->run));
	c->rerun = xcalloc(c->njobs + 1, sizeof(*c->rerun));
	for (j = 0; j < c->njobs; j++)
		c->rerun[j] = sched_run_job_rerun(lr->run, j);
	store_write(d->store, tx_change, change_done, c);
}

void
daemon_approve(struct daemon *d, uint64_t run, const char *job,
	       const char *actor, daemon_done_cb cb, void *arg)
{
	struct live_run *lr = live_run_find(d, run);
	struct store_run *row = NULL;
	const struct config_project *proj;
	struct pipeline *p;
	char *msg = NULL;
	int rc;

	if (daemon_handing_over(d, cb, arg))
		return;
	if (lr != NULL && !sched_run_finished(lr->run)) {
		rc = sched_run_approve(lr->run, job);
		if (rc < 0) {
			msg = rc == -EALREADY ?
				      xasprintf("job '%s' is not waiting for "
						"approval", job) :
				      xstrdup("no manual job of that name "
					      "waits in the run");
			cb(rc, run, msg, arg);
			free(msg);
			return;
		}
		record_change(d, run, actor, "approve", job, NULL, cb, arg);
		return;
	}
	/* Finished, but not gone yet: a second copy of it is not built. */
	if (lr != NULL) {
		cb(-EBUSY, run, lingering(lr), arg);
		return;
	}
	rc = load_finished(d, run, &row, &proj, &p, &msg);
	if (rc == 0)
		rc = runs_build(d, p, run, proj, row, true, &lr);
	if (rc == 0 && (rc = sched_run_approve(lr->run, job)) < 0) {
		msg = rc == -EALREADY ?
			      xasprintf("job '%s' is not waiting for approval",
					job) :
			      xstrdup("no manual job of that name in the run");
		live_run_free(lr);
	}
	store_run_free(row);
	if (rc < 0) {
		cb(rc, run, msg, arg);
		free(msg);
		return;
	}
	record_change(d, run, actor, "approve", job, lr, cb, arg);
}
