/*
 * A job's workspace: a fresh repository of its own at the run's commit,
 * taken from a local repository (the run's checkout, or a developer's
 * checkout for `pipewright run --clean`), with stable mtimes.
 *
 *   git init -q                                         (cwd: workspace)
 *   git fetch -q --no-tags --depth=50 --upload-pack=... file://<source> <sha>
 *   git checkout -q --detach <sha>
 *   git log --format=%ct --name-only -z --root          (the file times)
 *   then, in a worker thread: each file's mtime, the tree's owner
 *
 * A local fetch rather than `git clone --local`: git ignores --local (no
 * hard links) when the source is shallow, as the run's checkout is, and
 * objects shared by hard link would be handed to the job's uid with the
 * rest of the tree, letting one job rewrite the next one's history.  The
 * fetch copies what the commit and its 50 ancestors need, nothing more;
 * the workspace has no remote and no alternates, nothing that names the
 * source.
 *
 * Stable mtimes: each file gets the committer time of the newest commit
 * that touched it, as git-restore-mtime does, so that a restored build
 * tree (cargo's target/, make's objects) finds its sources older than
 * itself and rebuilds nothing.  `--root` makes the oldest commit of the
 * shallow history list its whole tree: a file no later commit touched
 * gets that commit's time.  Merges list nothing (their changes came with
 * the commits merged).  Paths from the log are a repository's words: each
 * file's directory is opened beneath the workspace without following any
 * symlink (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS; a walk with
 * O_NOFOLLOW where the kernel lacks it), and the time is set on the entry
 * itself (AT_SYMLINK_NOFOLLOW): a path whose directory became a link to
 * /etc in a later commit changes nothing outside.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "scm-int.h"

/* git log's output for a workspace: names of every commit of 50. */
#define WS_MAX_LOG_OUTPUT (64 * 1024 * 1024)

enum ws_step {
	WS_STEP_INIT,
	WS_STEP_FETCH,
	WS_STEP_CHECKOUT,
	WS_STEP_LOG,
};

struct scm_ws {
	struct scm *s;
	char *source, *sha, *workspace;
	uid_t uid;
	gid_t gid;
	uint64_t timeout_ms;
	enum ws_step step;
	char **env;
	struct buf log;
	char *names;                 /* git log's output, for the worker */
	size_t nameslen;
	int work_rc;                 /* the worker's result */
	char work_err[256];
	uv_work_t work;
	scm_done_cb cb;
	void *arg;
};

static void
ws_free(struct scm_ws *w)
{
	free(w->source);
	free(w->sha);
	free(w->workspace);
	free(w->names);
	scm_env_free(w->env);
	buf_free(&w->log);
	free(w);
}

static void
ws_finish(struct scm_ws *w, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
ws_finish(struct scm_ws *w, int rc, const char *fmt, ...)
{
	struct scm *s = w->s;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_addf(&w->log, "%s\n", msg);
	s->active--;
	w->cb(rc, (const char *)w->log.data, w->log.len, w->arg);
	ws_free(w);
}

static void on_git(int status, const char *output, size_t len, void *arg);

static int
ws_spawn(struct scm_ws *w)
{
	const char *argv[10];
	char *own[2] = {NULL, NULL};
	struct exec_helper_spec spec;
	size_t n = 0, i;
	int rc;

	memset(&spec, 0, sizeof(spec));
	spec.env = (const char *const *)w->env;
	spec.cwd = w->workspace;
	spec.max_output = SCM_MAX_OUTPUT;
	spec.timeout_ms = w->timeout_ms;
	argv[n++] = "git";
	switch (w->step) {
	case WS_STEP_INIT:
		argv[n++] = "init";
		argv[n++] = "-q";
		break;
	case WS_STEP_FETCH:
		argv[n++] = "fetch";
		argv[n++] = "-q";
		argv[n++] = "--no-tags";
		argv[n++] = own[0] = xasprintf("--depth=%d", SCM_DEPTH);
		/*
		 * A developer's checkout (--clean) is not ours: git would
		 * refuse it as of dubious ownership, and drops GIT_CONFIG_*
		 * for the local upload-pack it runs.
		 */
		argv[n++] = "--upload-pack=git -c safe.directory=* upload-pack";
		argv[n++] = own[1] = xasprintf("file://%s", w->source);
		argv[n++] = w->sha;
		break;
	case WS_STEP_CHECKOUT:
		argv[n++] = "checkout";
		argv[n++] = "-q";
		argv[n++] = "--detach";
		argv[n++] = w->sha;
		break;
	case WS_STEP_LOG:
		argv[n++] = "log";
		argv[n++] = "--format=%ct";
		argv[n++] = "--name-only";
		argv[n++] = "-z";
		argv[n++] = "--root";
		spec.max_output = WS_MAX_LOG_OUTPUT;
		break;
	}
	argv[n] = NULL;
	if (w->step != WS_STEP_LOG) {
		buf_adds(&w->log, "$");
		for (i = 0; i < n; i++)
			buf_addf(&w->log, " %s", argv[i]);
		buf_adds(&w->log, "\n");
	}
	spec.argv = argv;
	rc = exec_helper_spawn(w->s->exec, &spec, on_git, w);
	for (i = 0; i < PW_ARRAY_LEN(own); i++)
		free(own[i]);
	return rc;
}

/* ---- the worker: mtimes and owner ---- */

/* The directory `rel` (a path of directories, "" for the top) beneath
 * top, never through a symlink; -errno. */
static int
open_beneath(int top, const char *rel)
{
	struct open_how how;
	char part[NAME_MAX + 1];
	const char *p = rel;
	int fd, next;
	size_t n;

	if (rel[0] == '\0') {
		fd = fcntl(top, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	memset(&how, 0, sizeof(how));
	how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		      RESOLVE_NO_MAGICLINKS;
	fd = (int)syscall(SYS_openat2, top, rel, &how, sizeof(how));
	if (fd >= 0)
		return fd;
	if (errno != ENOSYS && errno != EPERM)
		return -errno;
	/* No openat2: one component at a time, none of them a link. */
	fd = fcntl(top, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	while (*p != '\0') {
		n = strcspn(p, "/");
		if (n == 0 || n > NAME_MAX || (n == 2 && memcmp(p, "..", 2) == 0) ||
		    (n == 1 && p[0] == '.')) {
			close(fd);
			return -EINVAL;
		}
		memcpy(part, p, n);
		part[n] = '\0';
		next = openat(fd, part, O_PATH | O_DIRECTORY | O_NOFOLLOW |
			      O_CLOEXEC);
		close(fd);
		if (next < 0)
			return -errno;
		fd = next;
		p += n;
		while (*p == '/')
			p++;
	}
	return fd;
}

/* Sets one file's mtime (and atime) beneath top; a file gone is fine. */
static void
set_time(int top, const char *path, time_t t, char *dir, size_t dirlen,
	 int *dirfd)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash != NULL ? slash + 1 : path;
	size_t n = slash != NULL ? (size_t)(slash - path) : 0;
	struct timespec ts[2] = {{.tv_sec = t}, {.tv_sec = t}};

	if (n >= dirlen || name[0] == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return;
	/* Files of one directory tend to come together: keep it open. */
	if (*dirfd < 0 || strlen(dir) != n || memcmp(dir, path, n) != 0) {
		if (*dirfd >= 0)
			close(*dirfd);
		memcpy(dir, path, n);
		dir[n] = '\0';
		*dirfd = open_beneath(top, dir);
		if (*dirfd < 0)
			return;
	}
	(void)utimensat(*dirfd, name, ts, AT_SYMLINK_NOFOLLOW);
}

/* One path the log named, with the time of one commit that touched it. */
struct touched {
	char *path;
	time_t t;
};

static int
cmp_touched(const void *a, const void *b)
{
	return strcmp(((const struct touched *)a)->path,
		      ((const struct touched *)b)->path);
}

/*
 * git log --format=%ct --name-only -z --root gives, per commit, "<time>"
 * then its paths, each entry "\0"-ended, the time of every commit after
 * the first preceded by "\n" (and an empty entry before it).  A path's
 * time is the newest commit time among the commits naming it.
 */
int
scm_set_mtimes(const char *workspace, const char *log, size_t len)
{
	char dir[PATH_MAX];
	struct touched *v = NULL;
	const char *p = log, *end = log + len, *entry;
	size_t n = 0, cap = 0, i, elen;
	time_t t = 0, newest;
	bool have_time = false;
	int top, dfd = -1;

	top = open(workspace, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (top < 0)
		return -errno;
	while (p < end) {
		entry = p;
		elen = strnlen(p, (size_t)(end - p));
		p += elen + 1;
		while (elen > 0 && entry[0] == '\n') {
			entry++;
			elen--;
		}
		if (elen == 0)
			continue;
		if (elen < 20 && strspn(entry, "0123456789") == elen) {
			t = (time_t)strtoll(entry, NULL, 10);
			have_time = true;
			continue;
		}
		if (!have_time || elen >= PATH_MAX)
			continue;
		v = xgrow(v, &cap, n + 1, sizeof(*v));
		v[n].path = xstrndup(entry, elen);
		v[n++].t = t;
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_touched);
	for (i = 0; i < n; i++) {
		newest = v[i].t;
		while (i + 1 < n && strcmp(v[i + 1].path, v[i].path) == 0) {
			if (v[i + 1].t > newest)
				newest = v[i + 1].t;
			free(v[i].path);
			i++;
		}
		set_time(top, v[i].path, newest, dir, sizeof(dir), &dfd);
		free(v[i].path);
	}
	free(v);
	if (dfd >= 0)
		close(dfd);
	close(top);
	return 0;
}

static void
work(uv_work_t *req)
{
	struct scm_ws *w = container_of(req, struct scm_ws, work);
	int rc;

	rc = scm_set_mtimes(w->workspace, w->names, w->nameslen);
	if (rc < 0) {
		snprintf(w->work_err, sizeof(w->work_err), "cannot set the "
			 "files' times in %s: %s", w->workspace, strerror(-rc));
	} else if (w->uid != 0 &&
		   (rc = scm_chown_tree(w->workspace, w->uid, w->gid)) < 0) {
		snprintf(w->work_err, sizeof(w->work_err), "cannot give %s to "
			 "uid %u: %s", w->workspace, (unsigned)w->uid,
			 strerror(-rc));
	}
	w->work_rc = rc;
}

static void
work_done(uv_work_t *req, int status)
{
	struct scm_ws *w = container_of(req, struct scm_ws, work);

	if (status < 0)
		ws_finish(w, status, "cannot set the files' times: %s",
			  uv_strerror(status));
	else if (w->work_rc < 0)
		ws_finish(w, w->work_rc, "%s", w->work_err);
	else
		ws_finish(w, 0, "HEAD is now at %s", w->sha);
}

static void
on_git(int status, const char *output, size_t len, void *arg)
{
	struct scm_ws *w = arg;
	char dur[32];
	int rc;

	if (w->step != WS_STEP_LOG || status != 0)
		buf_add(&w->log, output, len);
	if (status == -ETIMEDOUT) {
		pw_duration_format(w->timeout_ms, dur, sizeof(dur));
		ws_finish(w, -ETIMEDOUT, "git %s timed out after %s",
			  w->step == WS_STEP_INIT ? "init" :
			  w->step == WS_STEP_FETCH ? "fetch" :
			  w->step == WS_STEP_CHECKOUT ? "checkout" : "log",
			  dur);
		return;
	}
	if (status != 0) {
		ws_finish(w, -EIO, "git %s failed (exit status %d)",
			  w->step == WS_STEP_INIT ? "init" :
			  w->step == WS_STEP_FETCH ? "fetch" :
			  w->step == WS_STEP_CHECKOUT ? "checkout" : "log",
			  status);
		return;
	}
	if (w->step == WS_STEP_LOG) {
		w->names = xmalloc(len + 1);
		memcpy(w->names, output, len);
		w->nameslen = len;
		rc = uv_queue_work(w->s->loop, &w->work, work, work_done);
		if (rc < 0)
			ws_finish(w, rc, "cannot set the files' times: %s",
				  uv_strerror(rc));
		return;
	}
	w->step++;
	rc = ws_spawn(w);
	if (rc < 0)
		ws_finish(w, rc, "cannot run git: %s", uv_strerror(rc));
}

int
scm_workspace(struct scm *s, const struct scm_workspace_request *req,
	      scm_done_cb cb, void *arg)
{
	struct scm_ws *w;
	size_t n;
	int rc;

	if (req->source == NULL || req->source[0] != '/' ||
	    req->workspace == NULL || req->workspace[0] == '-' ||
	    req->sha == NULL)
		return -EINVAL;
	n = strlen(req->sha);
	if ((n != 40 && n != 64) || strspn(req->sha, "0123456789abcdef") != n)
		return -EINVAL;
	rc = scm_dir_prepare(req->workspace);
	if (rc < 0)
		return rc;
	w = xcalloc(1, sizeof(*w));
	w->s = s;
	w->source = xstrdup(req->source);
	w->sha = xstrdup(req->sha);
	w->workspace = xstrdup(req->workspace);
	w->uid = req->uid;
	w->gid = req->gid != 0 ? req->gid : req->uid;
	w->timeout_ms = req->timeout_ms != 0 ? req->timeout_ms :
					       SCM_DEFAULT_TIMEOUT_MS;
	w->env = scm_env_new(s->home, NULL);
	buf_init(&w->log, SCM_MAX_LOG);
	w->cb = cb;
	w->arg = arg;
	w->step = WS_STEP_INIT;
	rc = ws_spawn(w);
	if (rc < 0) {
		ws_free(w);
		return rc;
	}
	s->active++;
	return 0;
}
