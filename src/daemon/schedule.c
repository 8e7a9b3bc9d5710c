/*
 * Schedules: `schedules: [{cron, ref}]` of each project start runs with
 * trigger "schedule".  One uv_timer waits for the earliest next fire time
 * (UTC, cron_next); each fire is recorded with its run in one transaction,
 * so a slot missed while the daemon was down runs once at start — not once
 * per missed slot.  A project with a repository runs the commit its ref
 * names at that moment (scm_resolve).  The table is rebuilt on SIGHUP.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon-int.h"
#include "pipewright/cron.h"
#include "pipewright/scm.h"

struct schedule {
	char *project;
	size_t index;             /* in the project's `schedules` */
	char *spec, *ref;         /* as written, the store's key */
	uint64_t next;            /* UTC ms of the next fire */
};

/* A fire on its way: the commit is being looked up. */
struct fire {
	struct daemon *d;
	char *project, *spec, *ref, *full_ref;
	uint64_t when;
};

static void
fire_free(struct fire *f)
{
	free(f->project);
	free(f->spec);
	free(f->ref);
	free(f->full_ref);
	free(f);
}

static void
fired(int rc, uint64_t run, const char *message, void *arg)
{
	struct fire *f = arg;

	if (rc < 0)
		log_warnx("schedule.failed project=%s cron=\"%s\" ref=%s: %s",
			  f->project, f->spec, f->ref,
			  message != NULL ? message : strerror(-rc));
	else
		log_info("schedule.fired project=%s cron=\"%s\" ref=%s run=%llu",
			 f->project, f->spec, f->ref, (unsigned long long)run);
	fire_free(f);
}

static void
trigger(struct fire *f, const char *sha)
{
	struct daemon_trigger t = {
		.project = f->project,
		.ref = f->full_ref,
		.commit = sha,
		.actor = "schedule",
		.trigger = "schedule",
		.schedule_spec = f->spec,
		.schedule_ref = f->ref,
		.schedule_fire = f->when,
	};

	daemon_trigger(f->d, &t, fired, f);
}

static void
on_resolved(int rc, const char *sha, void *arg)
{
	struct fire *f = arg;

	if (rc < 0) {
		fired(rc, 0, "cannot tell which commit the ref names", f);
		return;
	}
	trigger(f, sha);
}

static void
fire(struct daemon *d, const struct schedule *s, uint64_t when)
{
	const struct config_project *p = config_project_find(d->config, s->project);
	struct fire *f;
	int rc;

	if (p == NULL)
		return;
	f = xcalloc(1, sizeof(*f));
	f->d = d;
	f->project = xstrdup(s->project);
	f->spec = xstrdup(s->spec);
	f->ref = xstrdup(s->ref);
	f->full_ref = strncmp(s->ref, "refs/", 5) == 0 ?
			      xstrdup(s->ref) :
			      xasprintf("refs/heads/%s", s->ref);
	f->when = when;
	if (config_project_repo(p) == NULL) {
		trigger(f, NULL);
		return;
	}
	rc = scm_resolve(d->scm, config_project_repo(p), f->full_ref,
			 config_project_clone_token(p), 0, on_resolved, f);
	if (rc < 0)
		fired(rc, 0, "cannot ask git for the ref's commit", f);
}

static void arm(struct daemon *d);

static void
on_timer(uv_timer_t *t)
{
	struct daemon *d = container_of(t, struct daemon, schedule_timer);
	uint64_t now = pw_now_ms();
	size_t i;

	for (i = 0; i < d->nschedules; i++) {
		struct schedule *s = &d->schedules[i];
		const struct config_project *p;

		if (s->next == 0 || s->next > now)
			continue;
		fire(d, s, now);
		p = config_project_find(d->config, s->project);
		s->next = p != NULL ?
			cron_next(config_project_schedule(p, s->index), now) : 0;
	}
	arm(d);
}

/* The timer for the earliest next fire (libuv timers are monotonic). */
static void
arm(struct daemon *d)
{
	uint64_t first = 0, now = pw_now_ms();
	size_t i;

	for (i = 0; i < d->nschedules; i++)
		if (d->schedules[i].next != 0 &&
		    (first == 0 || d->schedules[i].next < first))
			first = d->schedules[i].next;
	if (first == 0 || d->draining) {
		uv_timer_stop(&d->schedule_timer);
		return;
	}
	uv_timer_start(&d->schedule_timer, on_timer,
		       first > now ? first - now : 0, 0);
}

void
schedules_free(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->nschedules; i++) {
		free(d->schedules[i].project);
		free(d->schedules[i].spec);
		free(d->schedules[i].ref);
	}
	free(d->schedules);
	d->schedules = NULL;
	d->nschedules = 0;
}

void
schedules_load(struct daemon *d)
{
	const struct config *c = d->config;
	uint64_t now = pw_now_ms(), last;
	size_t i, k, n = 0;

	schedules_free(d);
	for (i = 0; i < config_project_count(c); i++)
		n += config_project_schedule_count(config_project(c, i));
	d->schedules = xcalloc(n ? n : 1, sizeof(*d->schedules));
	for (i = 0; i < config_project_count(c); i++) {
		const struct config_project *p = config_project(c, i);

		for (k = 0; k < config_project_schedule_count(p); k++) {
			struct schedule *s = &d->schedules[d->nschedules++];
			const struct cron *cr = config_project_schedule(p, k);

			s->project = xstrdup(config_project_name(p));
			s->index = k;
			s->spec = xstrdup(config_project_schedule_cron(p, k));
			s->ref = xstrdup(config_project_schedule_ref(p, k));
			/*
			 * A slot missed since the last fire is due now, once;
			 * a schedule never fired waits for its first slot.
			 */
			if (store_schedule_last(d->store, s->project, s->spec,
						s->ref, &last) == 0 &&
			    cron_next(cr, last) != 0 && cron_next(cr, last) <= now)
				s->next = now;
			else
				s->next = cron_next(cr, now);
		}
	}
	arm(d);
}
