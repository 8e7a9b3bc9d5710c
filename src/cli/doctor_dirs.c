/*
 * doctor's view of the daemon's directories against the store.
 *
 * The daemon names a run's workspace <data_dir>/workspaces/<run> and an
 * attempt's directory <data_dir>/attempts/r<run>-j<job>-a<attempt>, and
 * removes both once the run has finished (src/daemon/files.c); the store
 * records each attempt's directory.  So:
 *   - a workspace or attempt directory whose run is finished or not in the
 *     store is orphaned: disk space nobody will free (a warning);
 *   - a directory whose socket answers while the store runs no attempt
 *     there, and whose job has not ended (no status file), is a
 *     supervisor without an attempt: a job running that nobody records
 *     (a problem);
 *   - an attempt the store says is running, whose socket does not answer
 *     and that left no status file, has lost its supervisor: the daemon's
 *     next start marks it lost (a warning).
 *
 * The daemon keeps working while we look, so the order matters.  The
 * store's first snapshot (d->first) is taken before the directories are
 * read and the sockets probed, a second one after: a run's row is
 * committed before its directories are made, so any directory seen was
 * made for a run the second snapshot knows, and an attempt is called
 * orphaned, unattended or lost only if the snapshot after the probe agrees
 * (an attempt that started or ended meanwhile is not).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "doctor.h"
#include "pipewright/daemon.h"
#include "pipewright/supervisor-proto.h"

#define CMDLINE_MAX (64 * 1024) /* of a process, when looking for a pid */

/* An entry of the attempts directory. */
struct adir {
	char *name;
	uint64_t run;            /* 0: not an attempt directory's name */
	bool answers;            /* a supervisor answers on its socket */
	bool ended;              /* it has a status file: the job ended */
};

/* What the directories hold, read between the two snapshots. */
struct scan {
	char **ws;               /* workspace entries */
	size_t nws;
	struct adir *at;         /* attempt entries */
	size_t nat;
	bool *run_answers;       /* per d->first.running[i] */
	bool *run_ended;
	bool ws_ok, at_ok;       /* the directory could be read (or is absent) */
	char *ws_err, *at_err;
};

static const char *
base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

/* A decimal number without sign or leading zero, the whole of s. */
static bool
parse_id(const char *s, const char **end, uint64_t *v)
{
	char *e;

	if (!isdigit((unsigned char)*s) || *s == '0')
		return false;
	errno = 0;
	*v = strtoull(s, &e, 10);
	if (errno != 0)
		return false;
	*end = e;
	return true;
}

/* "r<run>-j<job>-a<attempt>": the run, or 0. */
static uint64_t
attempt_run(const char *name)
{
	const char *p;
	uint64_t run, v;

	if (name[0] != 'r' || !parse_id(name + 1, &p, &run) ||
	    strncmp(p, "-j", 2) != 0)
		return 0;
	/* job indexes start at 0 */
	if (p[2] == '0' && p[3] == '-')
		p += 3;
	else if (!parse_id(p + 2, &p, &v) || *p != '-')
		return 0;
	if (p[1] != 'a' || !parse_id(p + 2, &p, &v) || *p != '\0')
		return 0;
	return run;
}

/*
 * Connects to dir/sock and closes at once, as exec's own probe does: a
 * listening supervisor accepts (or its backlog is full), nothing else
 * does.  The path goes through /proc/self/fd so that a long data_dir
 * cannot overflow sun_path.
 */
static void
probe(const char *dir, bool *answers, bool *ended)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int dfd, fd;

	*answers = *ended = false;
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	*ended = faccessat(dfd, SUPERVISOR_STATUS_FILE, F_OK, 0) == 0;
	snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/%s", dfd,
		 SUPERVISOR_SOCK_FILE);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		*answers = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ||
			   errno == EAGAIN;
		close(fd);
	}
	close(dfd);
}

/* Entries of dir but "." and "..": true, or false and *err if unreadable. */
static bool
list_dir(const char *dir, char ***names, size_t *n, char **err)
{
	struct dirent *de;
	size_t cap = 0;
	DIR *dp;

	*names = NULL;
	*n = 0;
	dp = opendir(dir);
	if (dp == NULL) {
		if (errno == ENOENT)
			return true; /* the daemon makes it when it starts */
		*err = xasprintf("cannot read %s: %s", dir, strerror(errno));
		return false;
	}
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, DAEMON_FILES_GONE) == 0)
			continue;
		*names = xgrow(*names, &cap, *n + 1, sizeof(**names));
		(*names)[(*n)++] = xstrdup(de->d_name);
	}
	closedir(dp);
	return true;
}

static void
scan(struct doctor *d, struct scan *s)
{
	char **names, *path;
	size_t i, n;

	s->ws_ok = list_dir(d->workspaces_dir, &s->ws, &s->nws, &s->ws_err);
	s->at_ok = list_dir(d->attempts_dir, &names, &n, &s->at_err);
	s->at = xcalloc(n + 1, sizeof(*s->at));
	s->nat = n;
	for (i = 0; i < n; i++) {
		s->at[i].name = names[i];
		s->at[i].run = attempt_run(names[i]);
		path = xasprintf("%s/%s", d->attempts_dir, names[i]);
		probe(path, &s->at[i].answers, &s->at[i].ended);
		free(path);
	}
	free(names);
	n = d->first.nrunning;
	s->run_answers = xcalloc(n + 1, sizeof(bool));
	s->run_ended = xcalloc(n + 1, sizeof(bool));
	for (i = 0; i < n; i++)
		probe(d->first.running[i], &s->run_answers[i],
		      &s->run_ended[i]);
}

static void
scan_free(struct scan *s)
{
	size_t i;

	for (i = 0; i < s->nws; i++)
		free(s->ws[i]);
	free(s->ws);
	for (i = 0; i < s->nat; i++)
		free(s->at[i].name);
	free(s->at);
	free(s->run_answers);
	free(s->run_ended);
	free(s->ws_err);
	free(s->at_err);
}

static bool
unfinished(const struct store_file_check *c, uint64_t run)
{
	size_t lo = 0, hi = c->nunfinished, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (c->unfinished[mid] == run)
			return true;
		if (c->unfinished[mid] < run)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool
running(const struct store_file_check *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nrunning; i++)
		if (strcmp(base(c->running[i]), name) == 0)
			return true;
	return false;
}

static const char *
why_orphaned(const struct store_file_check *c, uint64_t run, char *buf,
	     size_t len)
{
	snprintf(buf, len, "run %llu %s", (unsigned long long)run,
		 run > c->max_run ? "is not in the store" :
				    "is finished or pruned");
	return buf;
}

static void
report_workspaces(struct doctor *d, const struct scan *s,
		  const struct store_file_check *now)
{
	struct doctor_items it = {0};
	const char *end;
	char why[64];
	uint64_t run;
	size_t i, kept = 0;

	buf_init(&it.b, 0);
	for (i = 0; i < s->nws; i++) {
		if (!parse_id(s->ws[i], &end, &run) || *end != '\0')
			doctor_item(&it, "%s/%s (not a run's workspace)",
				    d->workspaces_dir, s->ws[i]);
		else if (unfinished(now, run))
			kept++;
		else
			doctor_item(&it, "%s/%s (%s)", d->workspaces_dir,
				    s->ws[i], why_orphaned(now, run, why,
							   sizeof(why)));
	}
	if (it.n > 0)
		doctor_say(d, DOCTOR_WARNING, "workspaces", &it, "%zu orphaned"
			   " in %s: nothing will use or remove them; remove "
			   "them (rm -rf), also while the daemon runs", it.n,
			   d->workspaces_dir);
	else
		doctor_say(d, DOCTOR_OK, "workspaces", NULL, "none orphaned "
			   "(%zu of runs not finished)", kept);
	buf_free(&it.b);
}

static void
report_attempts(struct doctor *d, const struct scan *s,
		const struct store_file_check *now)
{
	struct doctor_items it = {0};
	const struct adir *a;
	char why[64];
	size_t i, kept = 0;

	buf_init(&it.b, 0);
	for (i = 0; i < s->nat; i++) {
		a = &s->at[i];
		if (a->answers && !a->ended)
			continue; /* a live job: the supervisors check */
		if (a->run == 0)
			doctor_item(&it, "%s/%s (not an attempt's directory)",
				    d->attempts_dir, a->name);
		else if (unfinished(now, a->run))
			kept++;
		else
			doctor_item(&it, "%s/%s (%s)", d->attempts_dir,
				    a->name, why_orphaned(now, a->run, why,
							  sizeof(why)));
	}
	if (it.n > 0)
		doctor_say(d, DOCTOR_WARNING, "attempts", &it, "%zu orphaned "
			   "in %s: no supervisor answers there and nothing "
			   "will remove them; remove them (rm -rf)", it.n,
			   d->attempts_dir);
	else
		doctor_say(d, DOCTOR_OK, "attempts", NULL, "none orphaned "
			   "(%zu of runs not finished)", kept);
	buf_free(&it.b);
}

/*
 * The pid of the supervisor serving dir, found by its command line
 * ("--dir DIR"): the socket cannot say, exec listened on it for the
 * supervisor.  -1 if none is found.
 */
static long
supervisor_pid(const char *dir)
{
	struct dirent *de;
	char path[64], *cmd, *p, *end;
	long pid, found = -1;
	size_t len;
	DIR *dp;

	dp = opendir("/proc");
	if (dp == NULL)
		return -1;
	while (found < 0 && (de = readdir(dp)) != NULL) {
		pid = strtol(de->d_name, &end, 10);
		if (pid <= 0 || *end != '\0')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
		if (pw_read_file(path, CMDLINE_MAX, &cmd, &len) < 0)
			continue;
		for (p = cmd; p < cmd + len; p += strlen(p) + 1) {
			if (strcmp(p, "--dir") == 0 && p + strlen(p) + 1 <
			    cmd + len && strcmp(p + strlen(p) + 1, dir) == 0) {
				found = pid;
				break;
			}
		}
		free(cmd);
	}
	closedir(dp);
	return found;
}

static void
report_supervisors(struct doctor *d, const struct scan *s,
		   const struct store_file_check *now)
{
	struct doctor_items it = {0};
	const struct adir *a;
	size_t i, served = 0, ending = 0;
	char *path;
	long pid;

	buf_init(&it.b, 0);
	for (i = 0; i < s->nat; i++) {
		a = &s->at[i];
		if (!a->answers)
			continue;
		if (running(now, a->name)) {
			served++;
		} else if (a->ended) {
			ending++; /* it exits once its clients are gone */
		} else {
			path = xasprintf("%s/%s", d->attempts_dir, a->name);
			pid = supervisor_pid(path);
			if (pid > 0)
				doctor_item(&it, "%s (pid %ld)", path, pid);
			else
				doctor_item(&it, "%s (no pipewright-supervisor"
					    " process names it)", path);
			free(path);
		}
	}
	if (it.n > 0)
		doctor_say(d, DOCTOR_PROBLEM, "supervisors", &it, "%zu answer "
			   "for attempts the store does not run: their jobs "
			   "run unrecorded; stop each with kill -TERM PID (it "
			   "cancels the job and exits), then remove its "
			   "directory", it.n);
	else
		doctor_say(d, DOCTOR_OK, "supervisors", NULL, "%zu answer%s, "
			   "each for an attempt the store runs%s", served,
			   served == 1 ? "s" : "", ending > 0 ?
			   " (and some whose job has ended, exiting)" : "");
	buf_free(&it.b);
}

static void
report_running(struct doctor *d, const struct scan *s,
	       const struct store_file_check *now)
{
	const struct store_file_check *first = &d->first;
	struct doctor_items it = {0};
	size_t i;

	buf_init(&it.b, 0);
	for (i = 0; i < first->nrunning; i++) {
		if (s->run_answers[i] || s->run_ended[i] ||
		    !running(now, base(first->running[i])))
			continue;
		doctor_item(&it, "%s", first->running[i]);
	}
	if (it.n > 0)
		doctor_say(d, DOCTOR_WARNING, "running", &it, "%zu attempt%s "
			   "the store runs %s no supervisor and no result: "
			   "the daemon's next start marks %s lost (and retries "
			   "as lost_retries allows); nothing to remove", it.n,
			   it.n == 1 ? "" : "s", it.n == 1 ? "has" : "have",
			   it.n == 1 ? "it" : "them");
	else
		doctor_say(d, DOCTOR_OK, "running", NULL, "%zu running "
			   "attempt%s, each with its supervisor or its result",
			   first->nrunning, first->nrunning == 1 ? "" : "s");
	buf_free(&it.b);
}

void
doctor_dirs(struct doctor *d)
{
	static const char *const checks[] = {
		"workspaces", "attempts", "supervisors", "running",
	};
	struct store_file_check now;
	struct scan s = {0};
	char *err = NULL;
	size_t i;
	int rc;

	if (!d->listed) {
		for (i = 0; i < PW_ARRAY_LEN(checks); i++)
			doctor_say(d, DOCTOR_WARNING, checks[i], NULL, "not "
				   "checked: the store could not be read");
		return;
	}
	scan(d, &s);
	rc = store_list_file(d->db, &now, &err);
	if (rc < 0) {
		for (i = 0; i < PW_ARRAY_LEN(checks); i++)
			doctor_say(d, DOCTOR_WARNING, checks[i], NULL, "not "
				   "checked: %s", err != NULL ? err :
				   strerror(-rc));
		free(err);
		scan_free(&s);
		return;
	}
	if (s.ws_ok)
		report_workspaces(d, &s, &now);
	else
		doctor_say(d, DOCTOR_WARNING, "workspaces", NULL, "%s",
			   s.ws_err);
	if (s.at_ok) {
		report_attempts(d, &s, &now);
		report_supervisors(d, &s, &now);
	} else {
		doctor_say(d, DOCTOR_WARNING, "attempts", NULL, "%s", s.at_err);
		doctor_say(d, DOCTOR_WARNING, "supervisors", NULL, "%s",
			   s.at_err);
	}
	report_running(d, &s, &now);
	store_file_check_free(&now);
	scan_free(&s);
}
