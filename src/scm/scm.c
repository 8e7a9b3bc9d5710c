/*
 * scm: the module root, request checks and the per-mirror queue.
 *
 * A request is checked in full before anything runs: everything in it
 * ends up in a git command line or a path, and some of it (refs, shas)
 * comes from webhook payloads.  A ref must be refs/... without anything
 * that would make it a pattern or a second refspec (':', '*', "..",
 * spaces); a repo or workspace must not start with '-' (git would read an
 * option); a token must not hold a line break (a second header).
 *
 * Mirrors: one holder at a time, the rest wait in the order they came.
 * Ending a job hands its mirror on before its callback runs, and the next
 * one starts after the callback, so a callback that starts another
 * checkout queues behind the ones already waiting.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipewright/log.h"
#include "scm-int.h"

int
scm_create(uv_loop_t *loop, struct exec *exec, const char *mirrors_dir,
	   struct scm **out)
{
	struct scm *s;
	char real[PATH_MAX];
	char *home;

	if (loop == NULL || exec == NULL || mirrors_dir == NULL ||
	    mirrors_dir[0] == '\0')
		return -EINVAL;
	if (mkdir(mirrors_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	/* Absolute: file://<mirror> is handed to git in the workspace. */
	if (realpath(mirrors_dir, real) == NULL)
		return -errno;
	home = xasprintf("%s/home", real);
	if (mkdir(home, 0700) < 0 && errno != EEXIST) {
		int rc = -errno;

		free(home);
		return rc;
	}
	s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->exec = exec;
	s->mirrors_dir = xstrdup(real);
	s->home = home;
	*out = s;
	return 0;
}

void
scm_destroy(struct scm *s)
{
	if (s == NULL)
		return;
	if (s->active != 0 || s->mirrors != NULL) {
		/* A broken invariant: their callbacks would use freed memory. */
		log_warnx("%s: %zu checkouts still running", __func__, s->active);
		abort();
	}
	free(s->mirrors_dir);
	free(s->home);
	free(s);
}

size_t
scm_active(const struct scm *s)
{
	return s->active;
}

/* The config's rule for project names, which become directory names. */
static bool
valid_project(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) > 100 ||
	    strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("_.-", s[i]) == NULL)
			return false;
	return true;
}

/* A full ref that git takes as one name: no pattern, no second side. */
static bool
valid_ref(const char *s)
{
	size_t i, len;

	if (s == NULL || strncmp(s, "refs/", 5) != 0 || s[5] == '\0')
		return false;
	len = strlen(s);
	if (len > 255 || s[len - 1] == '/' || s[len - 1] == '.' ||
	    strstr(s, "..") != NULL || strstr(s, "//") != NULL ||
	    strstr(s, "@{") != NULL || strstr(s, "/.") != NULL ||
	    (len >= 5 && strcmp(s + len - 5, ".lock") == 0))
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] == 0x7f ||
		    strchr(":?*[\\^~", s[i]) != NULL)
			return false;
	return true;
}

static bool
valid_sha(const char *s)
{
	size_t i, len = s != NULL ? strlen(s) : 0;

	if (len != 40 && len != 64)
		return false;
	for (i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* Goes into argv or a path: no option look-alike, no line breaks. */
static bool
valid_arg(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || s[0] == '-')
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < ' ')
			return false;
	return true;
}

static bool
valid_token(const char *s)
{
	return s == NULL || (s[0] != '\0' && strpbrk(s, "\r\n") == NULL);
}

int
scm_checkout(struct scm *s, const struct scm_request *req, scm_done_cb cb,
	     void *arg)
{
	struct scm_job *j;
	size_t i;
	int rc;

	if (s == NULL || req == NULL || cb == NULL ||
	    !valid_project(req->project) || !valid_arg(req->repo) ||
	    !valid_ref(req->fetch_ref) || !valid_sha(req->sha) ||
	    !valid_arg(req->workspace) || !valid_token(req->clone_token))
		return -EINVAL;
	rc = scm_dir_prepare(req->workspace);
	if (rc < 0)
		return rc;

	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->project = xstrdup(req->project);
	j->repo = xstrdup(req->repo);
	j->fetch_ref = xstrdup(req->fetch_ref);
	j->sha = xstrdup(req->sha);
	for (i = 0; j->sha[i] != '\0'; i++)
		j->sha[i] = (char)tolower((unsigned char)j->sha[i]);
	j->workspace = xstrdup(req->workspace);
	j->dst_ref = scm_mirror_ref(req->fetch_ref);
	j->head = req->head;
	if (j->head != NULL)
		j->head[0] = '\0';
	j->timeout_ms = req->timeout_ms != 0 ? req->timeout_ms :
					       SCM_DEFAULT_TIMEOUT_MS;
	j->env = scm_env_new(s->home, NULL);
	if (req->clone_token != NULL) {
		j->secrets[0] = xstrdup(req->clone_token);
		j->secrets[2] = scm_auth_header(req->clone_token);
		/* The base64 alone, as a server might echo it. */
		j->secrets[1] = xstrdup(j->secrets[2] +
					strlen("Authorization: Basic "));
		j->env_token = scm_env_new(s->home, j->secrets[2]);
	}
	buf_init(&j->log, SCM_MAX_LOG);
	j->cb = cb;
	j->arg = arg;
	rc = scm_job_start(j);
	if (rc < 0) {
		scm_job_free(j);
		return rc;
	}
	s->active++;
	return 0;
}

void
scm_job_free(struct scm_job *j)
{
	size_t i;

	free(j->project);
	free(j->repo);
	free(j->fetch_ref);
	free(j->sha);
	free(j->workspace);
	free(j->dst_ref);
	free(j->mirror_new);
	scm_env_free(j->env);
	scm_env_free(j->env_token);
	for (i = 0; i < PW_ARRAY_LEN(j->secrets); i++) {
		if (j->secrets[i] != NULL)
			explicit_bzero(j->secrets[i], strlen(j->secrets[i]));
		free(j->secrets[i]);
	}
	buf_free(&j->log);
	free(j);
}

void
scm_mirror_acquire(struct scm_job *j)
{
	struct scm *s = j->s;
	struct scm_mirror *m;
	struct scm_job **tail;

	for (m = s->mirrors; m != NULL; m = m->next)
		if (strcmp(m->name, j->project) == 0)
			break;
	if (m != NULL) {
		j->m = m;
		for (tail = &m->waiting; *tail != NULL;
		     tail = &(*tail)->next_waiting)
			;
		*tail = j;
		return;
	}
	m = xcalloc(1, sizeof(*m));
	m->name = xstrdup(j->project);
	m->path = xasprintf("%s/%s.git", s->mirrors_dir, j->project);
	m->holder = j;
	m->next = s->mirrors;
	s->mirrors = m;
	j->m = m;
	scm_job_run(j);
}

/* Lets go of the mirror; returns the job that holds it now, not started. */
static struct scm_job *
mirror_pass(struct scm_job *j)
{
	struct scm_mirror *m = j->m, **pp;
	struct scm_job *next;

	j->m = NULL;
	if (m == NULL || m->holder != j)
		return NULL;
	next = m->waiting;
	if (next != NULL) {
		m->waiting = next->next_waiting;
		next->next_waiting = NULL;
		m->holder = next;
		return next;
	}
	for (pp = &j->s->mirrors; *pp != m; pp = &(*pp)->next)
		;
	*pp = m->next;
	free(m->name);
	free(m->path);
	free(m);
	return NULL;
}

void
scm_mirror_release(struct scm_job *j)
{
	struct scm_job *next = mirror_pass(j);

	if (next != NULL)
		scm_job_run(next);
}

void
scm_job_finish(struct scm_job *j, int rc, const char *fmt, ...)
{
	struct scm *s = j->s;
	struct scm_job *next;
	va_list ap;
	char *msg;

	if (fmt != NULL) {
		va_start(ap, fmt);
		msg = xvasprintf(fmt, ap);
		va_end(ap);
		scm_log_scrubbed(&j->log, msg, strlen(msg), j->secrets,
				 PW_ARRAY_LEN(j->secrets));
		scm_log_scrubbed(&j->log, "\n", 1, NULL, 0);
		free(msg);
	}
	next = mirror_pass(j);
	s->active--;
	j->cb(rc, j->log.data != NULL ? j->log.data : "", j->log.len, j->arg);
	scm_job_free(j);
	/* s is alive: next is one of its active jobs. */
	if (next != NULL)
		scm_job_run(next);
}
