/*
 * The log's sections: each script line of a job is echoed as "$ command"
 * before it runs (sched/job.c); the line number where that echo starts
 * and the time it arrived become a section of the log viewer, which
 * folds the line's output under it and shows how long it took.
 *
 * The output is scanned as it arrives, before it is stored: only the
 * next script line's echo is looked for (its first line, as printed), so
 * a job printing "$ something" itself makes no section unless it is the
 * very command that comes next.  An attempt taken over after a restart
 * is not scanned: its line count so far is not known here.  Sections are
 * written with the log's flushes, once the attempt's row exists.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon-int.h"

#define CMD_MAX 240 /* bytes of a command kept (first line only) */

struct section_new {
	uint64_t line, at;
	char *command;
};

struct sections {
	bool off;               /* not scanned (taken over mid-way) */
	uint64_t line;          /* the current line, from 1 */
	size_t pos;             /* bytes into the current line */
	bool candidate;         /* the current line may be the next echo */
	size_t next_item;       /* the script line looked for */
	struct buf cmd;         /* the current line after "$ " */
	struct section_new *pending;
	size_t npending, cap;
};

/* The first line of script item k, as its echo prints it. */
static bool
echo_matches(const char *item, const struct buf *cmd)
{
	size_t n = strcspn(item, "\n");

	if (n > CMD_MAX)
		n = CMD_MAX;
	return cmd->len == n && memcmp(item, cmd->data, n) == 0;
}

static void
line_end(struct sections *sc, const struct pipeline *p, size_t job)
{
	const char *item;

	if (sc->candidate && sc->next_item < pipeline_job_script_count(p, job)) {
		item = pipeline_job_script(p, job, sc->next_item);
		if (echo_matches(item, &sc->cmd)) {
			sc->pending = xgrow(sc->pending, &sc->cap,
					    sc->npending + 1,
					    sizeof(*sc->pending));
			sc->pending[sc->npending++] = (struct section_new){
				sc->line, pw_now_ms(),
				xstrndup(sc->cmd.data != NULL ? sc->cmd.data : "",
					 sc->cmd.len),
			};
			sc->next_item++;
		}
	}
	sc->line++;
	sc->pos = 0;
	sc->candidate = false;
	buf_reset(&sc->cmd);
}

void
sections_scan(struct live_attempt *la, const struct pipeline *p,
	      const char *data, size_t len)
{
	struct sections *sc = la->sec;
	size_t i;
	char c;

	if (sc == NULL) {
		sc = la->sec = xcalloc(1, sizeof(*sc));
		sc->line = 1;
		buf_init(&sc->cmd, 0);
		sc->off = la->total != 0;
	}
	if (sc->off || p == NULL)
		return;
	for (i = 0; i < len; i++) {
		/*
		 * The rest of a line that cannot be an echo: to its end at
		 * memchr's pace (the output is read back from the log file for
		 * this while sections are looked for; it may be megabytes).
		 */
		if (sc->pos > 0 && !sc->candidate) {
			const char *nl = memchr(data + i, '\n', len - i);

			if (nl == NULL) {
				sc->pos += len - i;
				return;
			}
			sc->pos += (size_t)(nl - (data + i));
			i = (size_t)(nl - data);
		}
		c = data[i];
		if (c == '\n') {
			line_end(sc, p, la->job);
			continue;
		}
		if (sc->pos == 0)
			sc->candidate = c == '$';
		else if (sc->pos == 1)
			sc->candidate = sc->candidate && c == ' ';
		else if (sc->candidate && sc->cmd.len < CMD_MAX + 1)
			buf_add(&sc->cmd, &c, 1);
		sc->pos++;
	}
}

bool
sections_wanted(struct live_attempt *la, const struct pipeline *p)
{
	struct sections *sc = la->sec;

	if (p == NULL || (sc != NULL && sc->off))
		return false;
	/* Not scanned yet: a new attempt's is, one taken up is not. */
	if (sc == NULL)
		return la->total == 0;
	return sc->next_item < pipeline_job_script_count(p, la->job);
}

struct section_op {
	uint64_t attempt;
	struct section_new *v;
	size_t n;
};

static int
tx_sections(struct store_tx *tx, void *arg)
{
	struct section_op *o = arg;
	size_t i;
	int rc;

	for (i = 0; i < o->n; i++) {
		rc = store_tx_section_insert(tx, o->attempt, o->v[i].line,
					     o->v[i].command, o->v[i].at);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void
sections_done(int rc, void *arg)
{
	struct section_op *o = arg;
	size_t i;

	(void)rc; /* sections are a convenience: a lost one is not retried */
	for (i = 0; i < o->n; i++)
		free(o->v[i].command);
	free(o->v);
	free(o);
}

void
sections_flush(struct live_attempt *la)
{
	struct sections *sc = la->sec;
	struct section_op *o;

	if (sc == NULL || sc->npending == 0 || la->id == 0)
		return;
	o = xcalloc(1, sizeof(*o));
	o->attempt = la->id;
	o->v = sc->pending;
	o->n = sc->npending;
	sc->pending = NULL;
	sc->npending = sc->cap = 0;
	store_write(la->d->store, tx_sections, sections_done, o);
}

void
sections_free(struct live_attempt *la)
{
	struct sections *sc = la->sec;
	size_t i;

	if (sc == NULL)
		return;
	for (i = 0; i < sc->npending; i++)
		free(sc->pending[i].command);
	free(sc->pending);
	buf_free(&sc->cmd);
	free(sc);
	la->sec = NULL;
}
