/*
 * What `pipewright run` prints.  Output is line-buffered per job, so that
 * two jobs writing at once never interleave within a line; a partial last
 * line is flushed when its job ends.  On a terminal each job's prefix has
 * its own colour and a status line at the bottom says how many jobs run and
 * how many are done; it is erased before anything else is printed.
 *
 * Everything a job or the pipeline chose (output, names, reasons) goes
 * through term_escape, on a terminal or not (a transcript is read on one
 * later): a job cannot move our cursor, clear the screen or write the
 * clipboard.  Only our own colours and status line are raw.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pipewright/sched.h"

#define LINE_LIMIT (64 * 1024) /* a longer line is printed in pieces */

struct term_job {
	struct buf line;  /* the partial line not printed yet */
	bool running;     /* counted in term.running */
	bool done;        /* counted in term.done */
};

struct term {
	FILE *out;
	bool tty;
	bool color;         /* the jobs' colour sequences pass */
	struct buf esc;     /* scratch for term_escape */
	const struct pipeline *p;
	size_t njobs;
	struct term_job *jobs;
	int running, done;
	bool status_shown;  /* the status line is on screen */
	int name_width;
};

static const int colours[] = {36, 33, 35, 32, 34, 91, 96, 93, 95, 92};

struct term *
term_create(FILE *out, bool tty, bool color, const struct pipeline *p)
{
	struct term *t = xcalloc(1, sizeof(*t));
	size_t j;

	t->out = out;
	t->tty = tty;
	t->color = color;
	buf_init(&t->esc, 0);
	t->p = p;
	t->njobs = pipeline_job_count(p);
	t->jobs = xcalloc(t->njobs ? t->njobs : 1, sizeof(*t->jobs));
	for (j = 0; j < t->njobs; j++) {
		int w = (int)strlen(pipeline_job_name(p, j));

		buf_init(&t->jobs[j].line, 0);
		if (w > t->name_width)
			t->name_width = w;
	}
	return t;
}

void
term_destroy(struct term *t)
{
	size_t j;

	if (t == NULL)
		return;
	for (j = 0; j < t->njobs; j++)
		buf_free(&t->jobs[j].line);
	buf_free(&t->esc);
	free(t->jobs);
	free(t);
}

static void
clear_status(struct term *t)
{
	if (t->status_shown) {
		fputs("\r\033[K", t->out);
		t->status_shown = false;
	}
}

static void
show_status(struct term *t)
{
	if (!t->tty)
		return;
	fprintf(t->out, "\033[2m-- %d running, %d of %zu done\033[0m",
		t->running, t->done, t->njobs);
	t->status_shown = true;
	fflush(t->out);
}

/* Writes s escaped; with `color`, the job's colour sequences kept. */
static void
put_escaped(struct term *t, const char *s, size_t len, bool color)
{
	buf_reset(&t->esc);
	(void)term_escape(&t->esc, s, len, TERM_ESC_FINAL |
			  (color ? TERM_ESC_SGR : 0));
	fwrite(t->esc.data != NULL ? t->esc.data : "", 1, t->esc.len, t->out);
}

static void
prefix(struct term *t, size_t job)
{
	const char *name = pipeline_job_name(t->p, job);

	if (t->tty)
		fprintf(t->out, "\033[%dm[",
			colours[job % PW_ARRAY_LEN(colours)]);
	else
		fputc('[', t->out);
	put_escaped(t, name, strlen(name), false);
	fputs(t->tty ? "]\033[0m " : "] ", t->out);
}

static void
print_line(struct term *t, size_t job, const char *s, size_t len)
{
	prefix(t, job);
	/* A CRLF line end is a line end. */
	if (len > 0 && s[len - 1] == '\r')
		len--;
	put_escaped(t, s, len, t->color);
	/* The job's colours end with its line, not in our next one. */
	if (t->color && memchr(s, '\033', len) != NULL)
		fputs("\033[0m", t->out);
	fputc('\n', t->out);
}

void
term_output(struct term *t, size_t job, const char *data, size_t len)
{
	struct buf *line = &t->jobs[job].line;
	const char *nl;

	clear_status(t);
	while (len > 0) {
		nl = memchr(data, '\n', len);
		size_t take = nl != NULL ? (size_t)(nl - data) : len;

		if (line->len + take > LINE_LIMIT)
			take = LINE_LIMIT - line->len;
		buf_add(line, data, take);
		data += take;
		len -= take;
		if (nl != NULL && data == nl) {
			data++;
			len--;
		} else if (line->len < LINE_LIMIT) {
			break; /* a partial line: wait for the rest */
		}
		print_line(t, job, line->data, line->len);
		buf_reset(line);
	}
	show_status(t);
}

static void
flush_job(struct term *t, size_t job)
{
	struct buf *line = &t->jobs[job].line;

	if (line->len > 0) {
		print_line(t, job, line->data, line->len);
		buf_reset(line);
	}
}

void
term_note(struct term *t, const char *fmt, ...)
{
	va_list ap;
	char *s;

	clear_status(t);
	fputs("==> ", t->out);
	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	/* Names and reasons in it come from the pipeline and the job. */
	put_escaped(t, s, strlen(s), false);
	free(s);
	fputc('\n', t->out);
	show_status(t);
}

/* Keeps the running/done counts of the status line. */
static void
count(struct term *t, struct term_job *tj, enum sched_job_state st)
{
	bool running = st == SCHED_JOB_RUNNING;
	bool done = sched_job_state_final(st);

	t->running += (int)running - (int)tj->running;
	t->done += (int)done - (int)tj->done;
	tj->running = running;
	tj->done = done;
}

void
term_event(struct term *t, const struct sched_event *ev)
{
	enum sched_job_state st = ev->state;

	if (ev->kind == SCHED_EVENT_RUN) {
		if (ev->state >= SCHED_RUN_SUCCESS)
			term_note(t, "run %s", sched_run_state_name(ev->state));
		return;
	}
	count(t, &t->jobs[ev->job], st);
	if (st == SCHED_JOB_PENDING || st == SCHED_JOB_READY)
		return;
	if (st == SCHED_JOB_RUNNING) {
		term_note(t, "%s: running (attempt %d)", ev->job_name,
			  ev->attempt);
		return;
	}
	flush_job(t, ev->job);
	/* "exit status 0" says nothing a success does not. */
	if (ev->reason != NULL && st != SCHED_JOB_SUCCESS)
		term_note(t, "%s: %s: %s", ev->job_name,
			  sched_job_state_name(st), ev->reason);
	else
		term_note(t, "%s: %s", ev->job_name, sched_job_state_name(st));
}

void
term_summary(struct term *t, const struct sched_run *r)
{
	int w = t->name_width > 3 ? t->name_width : 3;
	char *name;
	size_t j;

	clear_status(t);
	fprintf(t->out, "\n%-*s  %-8s  %-9s  %-8s  %s\n", w, "JOB", "STAGE",
		"STATUS", "ATTEMPTS", "DURATION");
	for (j = 0; j < t->njobs; j++) {
		uint64_t a = sched_run_job_started_ms(r, j);
		uint64_t b = sched_run_job_finished_ms(r, j);
		char dur[32] = "-";

		if (a != 0 && b >= a)
			pw_duration_format(b - a, dur, sizeof(dur));
		name = term_escape_str(pipeline_job_name(t->p, j));
		fprintf(t->out, "%-*s  %-8s  %-9s  %-8d  %s\n", w, name,
			pipeline_stage(t->p, pipeline_job_stage(t->p, j)),
			sched_job_state_name(sched_run_job_state(r, j)),
			sched_run_job_attempts(r, j), dur);
		free(name);
	}
	fflush(t->out);
}
