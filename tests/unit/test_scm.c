/*
 * scm against real git: each test makes a bare "origin" repository and a
 * work clone in a temporary directory, commits and pushes (branches, a
 * tag, refs/pull/7/head as a forge would have it), and checks out through
 * scm on a real loop with real exec helpers.  Remotes that misbehave are a
 * small HTTP listener on 127.0.0.1 in the test's own loop: one that never
 * answers (timeouts, and whether two fetches were ever connected at once)
 * and one that answers 401 (no prompt, and what Authorization git sent).
 * A uv_timer is a hard deadline that fails the test, never a way to wait.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>
#include <uv.h>

#include "pipewright/exec.h"
#include "pipewright/scm.h"
#include "../../src/scm/scm-int.h"
#include "testlib.h"

#define DEADLINE_MS 60000
#define GIT "git -c user.name=t -c user.email=t@example.com " \
	    "-c init.defaultBranch=main -c advice.detachedHead=false"

struct fx {
	uv_loop_t loop;
	uv_timer_t deadline;
	struct exec *e;
	struct scm *s;
	char tmp[64];
	char origin[128];          /* tmp/origin.git, bare */
	char work[128];            /* tmp/work, a clone that pushes */
	char mirrors[128];         /* tmp/mirrors */
	int nws;                   /* workspaces handed out */
};

struct result {
	int calls;
	int rc;
	char *log;
};

/* ---- helpers: shell, repositories ---- */

static void
sh(const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int rc;

	va_start(ap, fmt);
	cmd = xvasprintf(fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fail_msg("'%s' exited %d", cmd, rc);
	free(cmd);
}

/* The first line the command prints (caller frees). */
static char *
sh_out(const char *fmt, ...)
{
	va_list ap;
	char *cmd, line[512] = "";
	FILE *p;

	va_start(ap, fmt);
	cmd = xvasprintf(fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (fgets(line, sizeof(line), p) == NULL)
		line[0] = '\0';
	assert_int_equal(pclose(p), 0);
	free(cmd);
	line[strcspn(line, "\n")] = '\0';
	return xstrdup(line);
}

/* Writes `file` in the work clone, commits, pushes to main; the sha. */
static char *
commit(struct fx *f, const char *file, const char *content)
{
	sh("cd %s && printf '%%s' '%s' > %s && " GIT " add -A && "
	   GIT " commit -q -m 'add %s' && " GIT " push -q origin HEAD:main",
	   f->work, content, file, file);
	return sh_out("git -C %s rev-parse HEAD", f->work);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->tmp, "/tmp/pw-scm-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->origin, sizeof(f->origin), "%s/origin.git", f->tmp);
	snprintf(f->work, sizeof(f->work), "%s/work", f->tmp);
	snprintf(f->mirrors, sizeof(f->mirrors), "%s/mirrors", f->tmp);
	sh(GIT " init -q --bare %s && " GIT " init -q %s && "
	   "git -C %s remote add origin %s", f->origin, f->work, f->work,
	   f->origin);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	tl_deadline_start(&f->loop, &f->deadline, DEADLINE_MS);
	assert_int_equal(exec_create(&f->loop, PW_SUPERVISOR_PATH, &f->e), 0);
	assert_int_equal(scm_create(&f->loop, f->e, f->mirrors, &f->s), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	if (tl_rm_tree(f->tmp) < 0)
		return -1;
	free(f);
	return 0;
}

/* Everything ended: no handle left behind. */
static void
finish(struct fx *f)
{
	uv_close((uv_handle_t *)&f->deadline, NULL);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(scm_active(f->s), 0);
	scm_destroy(f->s);
	assert_int_equal(exec_active(f->e), 0);
	exec_destroy(f->e);
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* A fresh workspace path, not made yet (caller frees). */
static char *
workspace(struct fx *f)
{
	return xasprintf("%s/ws%d", f->tmp, ++f->nws);
}

static void
on_done(int rc, const char *log, size_t len, void *arg)
{
	struct result *r = arg;

	assert_int_equal(log[len], '\0');
	assert_int_equal(strlen(log), len);
	r->calls++;
	r->rc = rc;
	r->log = xstrdup(log);
}

static void
wait_for(struct fx *f, struct result *r, int n)
{
	int i;

	for (;;) {
		for (i = 0; i < n && r[i].calls > 0; i++)
			;
		if (i == n)
			break;
		uv_run(&f->loop, UV_RUN_ONCE);
	}
	for (i = 0; i < n; i++)
		assert_int_equal(r[i].calls, 1);
}

static struct scm_request
request(struct fx *f, const char *project, const char *ref, const char *sha,
	const char *ws)
{
	struct scm_request req = {
		.project = project,
		.repo = f->origin,
		.fetch_ref = ref,
		.sha = sha,
		.workspace = ws,
		.timeout_ms = 30000,
	};

	return req;
}

static void
checkout(struct fx *f, const struct scm_request *req, struct result *r)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(scm_checkout(f->s, req, on_done, r), 0);
	assert_true(scm_active(f->s) >= 1);
	wait_for(f, r, 1);
}

/* The names in dir, sorted and joined by spaces (caller frees). */
static char *
listing(const char *dir)
{
	struct dirent **names;
	struct buf b;
	int i, n = scandir(dir, &names, NULL, alphasort);

	assert_true(n >= 0);
	buf_init(&b, 0);
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' || strcmp(names[i]->d_name, ".git") == 0)
			assert_int_equal(buf_printf(&b, "%s%s", b.len > 0 ? " " : "",
						    names[i]->d_name), 0);
		free(names[i]);
	}
	free(names);
	return b.data != NULL ? buf_steal(&b) : xstrdup("");
}

/* The workspace holds exactly the commit: its files, HEAD at sha. */
static void
assert_checked_out(const char *ws, const char *sha, const char *files)
{
	char *head = sh_out("git -C %s rev-parse HEAD", ws);
	char *names = listing(ws);
	char *status = sh_out("git -C %s status --porcelain | wc -l", ws);

	assert_string_equal(head, sha);
	assert_string_equal(names, files);
	assert_string_equal(status, "0");  /* nothing modified or extra */
	free(head);
	free(names);
	free(status);
}

static void
assert_has(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("'%s' not in:\n%s", needle, hay);
}

static void
assert_lacks(const char *hay, const char *needle)
{
	if (strstr(hay, needle) != NULL)
		fail_msg("'%s' found in:\n%s", needle, hay);
}

/* ---- checkouts from a local origin ---- */

/*
 * A branch's head, an older commit on it, the mirror reused and updated
 * incrementally by the next push.
 */
static void
test_branch(void **state)
{
	struct fx *f = *state;
	char *a, *b, *c, *ws, *mirror, *range;
	struct scm_request req;
	struct result r;
	struct stat st1, st2;

	a = commit(f, "a.txt", "one");
	b = commit(f, "b.txt", "two");
	ws = workspace(f);
	req = request(f, "app", "refs/heads/main", b, ws);
	checkout(f, &req, &r);
	assert_int_equal(r.rc, 0);
	assert_checked_out(ws, b, ".git a.txt b.txt");
	assert_has(r.log, "init -q --bare");
	assert_has(r.log, "HEAD is now at ");
	free(r.log);
	free(ws);
	mirror = xasprintf("%s/app.git", f->mirrors);
	assert_int_equal(stat(mirror, &st1), 0);

	/* The commit before the head, from the same ref. */
	ws = workspace(f);
	req = request(f, "app", "refs/heads/main", a, ws);
	checkout(f, &req, &r);
	assert_int_equal(r.rc, 0);
	assert_checked_out(ws, a, ".git a.txt");
	assert_lacks(r.log, "init -q --bare");
	free(r.log);
	free(ws);

	/* One more push: the same mirror, fetched from b to c. */
	c = commit(f, "c.txt", "three");
	ws = workspace(f);
	req = request(f, "app", "refs/heads/main", c, ws);
	checkout(f, &req, &r);
	assert_int_equal(r.rc, 0);
	assert_checked_out(ws, c, ".git a.txt b.txt c.txt");
	range = xasprintf("%.7s..%.7s", b, c);
	assert_has(r.log, range);
	assert_lacks(r.log, "init -q --bare");
	assert_int_equal(stat(mirror, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	/* A shallow workspace of its own, no alternates into the mirror. */
	free(ws);
	ws = xasprintf("%s/ws3/.git/objects/info/alternates", f->tmp);
	assert_int_equal(access(ws, F_OK), -1);
	free(ws);
	ws = xasprintf("%s/ws3/.git/shallow", f->tmp);
	assert_int_equal(access(ws, F_OK), -1);  /* 3 commits < depth 50 */
	free(ws);

	free(r.log);
	free(range);
	free(mirror);
	free(a);
	free(b);
	free(c);
	finish(f);
}

/*
 * A request with a head buffer learns where the ref is on the repository,
 * also when the mirror already holds the sha (which would skip the fetch):
 * the daemon tells a stale push from the branch's head by it.
 */
static void
test_head(void **state)
{
	struct fx *f = *state;
	char head[SCM_SHA_MAX + 1], *a, *b, *c, *ws;
	struct scm_request req;
	struct result r;

	a = commit(f, "a.txt", "one");
	b = commit(f, "b.txt", "two");
	ws = workspace(f);
	req = request(f, "app", "refs/heads/main", a, ws);
	req.head = head;
	checkout(f, &req, &r);
	assert_int_equal(r.rc, 0);
	assert_checked_out(ws, a, ".git a.txt");
	assert_string_equal(head, b);
	free(r.log);
	free(ws);

	/* The mirror has a on its copy of main; the repository moved on. */
	c = commit(f, "c.txt", "three");
	ws = workspace(f);
	req = request(f, "app", "refs/heads/main", a, ws);
	req.head = head;
	checkout(f, &req, &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(head, c);
	assert_lacks(r.log, "already fetched");
	free(r.log);
	free(ws);

	/* Without a buffer the mirror's copy still does. */
	ws = workspace(f);
	req = request(f, "app", "refs/heads/main", b, ws);
	checkout(f, &req, &r);
	assert_int_equal(r.rc, 0);
	assert_has(r.log, "already fetched");
	free(r.log);
	free(ws);
	free(a);
	free(b);
	free(c);
	finish(f);
}

/* ---- what a ref, and the remote's HEAD, name now ---- */

struct resolved {
	int calls;
	int rc;
	char ref[128], sha[SCM_SHA_MAX + 1];
};

static void
on_resolved(int rc, const char *sha, void *arg)
{
	struct resolved *r = arg;

	r->calls++;
	r->rc = rc;
	snprintf(r->sha, sizeof(r->sha), "%s", sha != NULL ? sha : "");
}

static void
on_head_resolved(int rc, const char *ref, const char *sha, void *arg)
{
	struct resolved *r = arg;

	snprintf(r->ref, sizeof(r->ref), "%s", ref != NULL ? ref : "");
	on_resolved(rc, sha, arg);
}

static void
resolve_wait(struct fx *f, struct resolved *r)
{
	while (r->calls == 0)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(r->calls, 1);
}

/*
 * A branch's head; the default branch, the one the remote's HEAD names
 * (not always main); an empty repository has none; refs that are not
 * refs/... are refused before git runs.
 */
static void
test_resolve(void **state)
{
	struct fx *f = *state;
	struct resolved r = {0};
	char *a, *b;

	memset(&r, 0, sizeof(r));
	assert_int_equal(scm_resolve_head(f->s, f->origin, NULL, 30000,
					  on_head_resolved, &r), 0);
	resolve_wait(f, &r);
	assert_int_equal(r.rc, -ENOENT);    /* nothing pushed yet */
	assert_string_equal(r.ref, "");

	a = commit(f, "a.txt", "one");
	sh("cd %s && " GIT " push -q origin HEAD:refs/heads/trunk", f->work);
	b = commit(f, "b.txt", "two");
	sh("git -C %s symbolic-ref HEAD refs/heads/main", f->origin);
	memset(&r, 0, sizeof(r));
	assert_int_equal(scm_resolve_head(f->s, f->origin, NULL, 30000,
					  on_head_resolved, &r), 0);
	resolve_wait(f, &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.ref, "refs/heads/main");
	assert_string_equal(r.sha, b);

	sh("git -C %s symbolic-ref HEAD refs/heads/trunk", f->origin);
	memset(&r, 0, sizeof(r));
	assert_int_equal(scm_resolve_head(f->s, f->origin, NULL, 30000,
					  on_head_resolved, &r), 0);
	resolve_wait(f, &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.ref, "refs/heads/trunk");
	assert_string_equal(r.sha, a);

	memset(&r, 0, sizeof(r));
	assert_int_equal(scm_resolve(f->s, f->origin, "refs/heads/main", NULL,
				     30000, on_resolved, &r), 0);
	resolve_wait(f, &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.sha, b);
	memset(&r, 0, sizeof(r));
	assert_int_equal(scm_resolve(f->s, f->origin, "refs/heads/nope", NULL,
				     30000, on_resolved, &r), 0);
	resolve_wait(f, &r);
	assert_int_equal(r.rc, -ENOENT);

	assert_int_equal(scm_resolve(f->s, f->origin, "main", NULL, 30000,
				     on_resolved, &r), -EINVAL);
	assert_int_equal(scm_resolve(f->s, f->origin, "HEAD", NULL, 30000,
				     on_resolved, &r), -EINVAL);
	assert_int_equal(scm_resolve_head(f->s, "-oops", NULL, 30000,
					  on_head_resolved, &r), -EINVAL);
	free(a);
	free(b);
	finish(f);
}

/* Tags and the refs forges keep for pull and merge requests. */
static void
test_tag_and_pull(void **state)
{
	struct fx *f = *state;
	char *a, *b, *pr, *mr, *ws;
	struct scm_request req;
	struct result r;

	a = commit(f, "a.txt", "one");
	sh("cd %s && " GIT " tag -a -m v1 v1 && " GIT " push -q origin v1",
	   f->work);
	b = commit(f, "b.txt", "two");
	/* A pull request's head, on no branch of the origin. */
	sh("cd %s && " GIT " checkout -q -b topic %s && printf x > pr.txt && "
	   GIT " add -A && " GIT " commit -q -m pr && "
	   GIT " push -q origin HEAD:refs/pull/7/head", f->work, a);
	pr = sh_out("git -C %s rev-parse HEAD", f->work);
	sh("cd %s && printf y > mr.txt && " GIT " add -A && "
	   GIT " commit -q -m mr && "
	   GIT " push -q origin HEAD:refs/merge-requests/3/head", f->work);
	mr = sh_out("git -C %s rev-parse HEAD", f->work);

	ws = workspace(f);
	req = request(f, "app", "refs/tags/v1", a, ws);
	checkout(f, &req, &r);
	assert_int_equal(r.rc, 0);
	assert_checked_out(ws, a, ".git a.txt");
	free(r.log);
	free(ws);

	ws = workspace(f);
	req = request(f, "app", "refs/pull/7/head", pr, ws);
	checkout(f, &req, &r);
	assert_int_equal(r.rc, 0);
	assert_checked_out(ws, pr, ".git a.txt pr.txt");
	free(r.log);
	free(ws);

	ws = workspace(f);
	req = request(f, "app", "refs/merge-requests/3/head", mr, ws);
	checkout(f, &req, &r);
	assert_int_equal(r.rc, 0);
	assert_checked_out(ws, mr, ".git a.txt mr.txt pr.txt");
	free(r.log);
	free(ws);

	/* The branch still works beside them. */
	ws = workspace(f);
	req = request(f, "app", "refs/heads/main", b, ws);
	checkout(f, &req, &r);
	assert_int_equal(r.rc, 0);
	assert_checked_out(ws, b, ".git a.txt b.txt");
	free(r.log);
	free(ws);

	free(a);
	free(b);
	free(pr);
	free(mr);
	finish(f);
}

/* A sha that is not on the ref, even one the mirror has; a ref that is not. */
static void
test_not_on_ref(void **state)
{
	struct fx *f = *state;
	char *a, *pr, *ws, *want;
	struct scm_request req;
	struct result r;

	a = commit(f, "a.txt", "one");
	sh("cd %s && " GIT " checkout -q -b topic && printf x > pr.txt && "
	   GIT " add -A && " GIT " commit -q -m pr && "
	   GIT " push -q origin HEAD:refs/pull/7/head", f->work);
	pr = sh_out("git -C %s rev-parse HEAD", f->work);

	/* Never seen anywhere. */
	ws = workspace(f);
	req = request(f, "app", "refs/heads/main",
		      "0123456789abcdef0123456789abcdef01234567", ws);
	checkout(f, &req, &r);
	assert_int_equal(r.rc, -ENOENT);
	want = xasprintf("commit 0123456789abcdef0123456789abcdef01234567 is"
			 " not on refs/heads/main of %s\n", f->origin);
	assert_has(r.log, want);
	free(want);
	free(r.log);
	free(ws);

	/* In the mirror (fetched for the pull request), but not on main. */
	ws = workspace(f);
	req = request(f, "app", "refs/pull/7/head", pr, ws);
	checkout(f, &req, &r);
	assert_int_equal(r.rc, 0);
	free(r.log);
	free(ws);
	ws = workspace(f);
	req = request(f, "app", "refs/heads/main", pr, ws);
	checkout(f, &req, &r);
	assert_int_equal(r.rc, -ENOENT);
	want = xasprintf("commit %s is not on refs/heads/main of %s\n", pr,
			 f->origin);
	assert_has(r.log, want);
	free(want);
	free(r.log);
	/* Nothing checked out. */
	want = listing(ws);
	assert_string_equal(want, ".git");
	free(want);
	free(ws);

	/* A ref the origin does not have: git's words. */
	ws = workspace(f);
	req = request(f, "app", "refs/heads/nope", a, ws);
	checkout(f, &req, &r);
	assert_int_equal(r.rc, -EIO);
	assert_has(r.log, "couldn't find remote ref refs/heads/nope");
	assert_has(r.log, "git fetch of refs/heads/nope from ");
	free(r.log);
	free(ws);

	free(a);
	free(pr);
	finish(f);
}

/* Two at once into one mirror: both succeed, one makes the mirror. */
static void
test_concurrent(void **state)
{
	struct fx *f = *state;
	char *a, *b, *ws[4];
	struct scm_request req[4];
	struct result r[4];
	int i, inits = 0;

	a = commit(f, "a.txt", "one");
	b = commit(f, "b.txt", "two");
	memset(r, 0, sizeof(r));
	for (i = 0; i < 4; i++) {
		ws[i] = workspace(f);
		req[i] = request(f, i < 3 ? "app" : "other", "refs/heads/main",
				 i % 2 == 0 ? b : a, ws[i]);
		assert_int_equal(scm_checkout(f->s, &req[i], on_done, &r[i]), 0);
	}
	assert_int_equal(scm_active(f->s), 4);
	wait_for(f, r, 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(r[i].rc, 0);
		assert_checked_out(ws[i], i % 2 == 0 ? b : a,
				   i % 2 == 0 ? ".git a.txt b.txt" : ".git a.txt");
		if (i < 3 && strstr(r[i].log, "init -q --bare") != NULL)
			inits++;
		free(r[i].log);
		free(ws[i]);
	}
	assert_int_equal(inits, 1);
	free(a);
	free(b);
	finish(f);
}

/* ---- a remote over HTTP that misbehaves ---- */

enum srv_mode {
	SRV_HANG,                  /* reads and never answers */
	SRV_PAIR,                  /* hangs until a second connection is
	                              open at once, then closes both */
	SRV_DENY,                  /* 401 to every request */
};

struct srv;

struct conn {
	uv_tcp_t h;
	struct srv *srv;
	bool closed;               /* uv_close called */
	uv_write_t wr;
};

struct srv {
	uv_tcp_t listener;
	int port;
	enum srv_mode mode;
	struct conn conns[8];
	int nconns;
	int overlaps;              /* accepts while another was connected */
	struct buf requests;       /* every byte received */
	const char *scan;          /* look for this in every process's argv */
	int scanned, found;
};

static void
on_conn_closed(uv_handle_t *h)
{
	(void)h;
}

static void
conn_close(struct conn *c)
{
	if (!c->closed) {
		c->closed = true;
		uv_close((uv_handle_t *)&c->h, on_conn_closed);
	}
}

/* Still connected from the client's side (no FIN received)? */
static bool
peer_connected(struct conn *c)
{
	uv_os_fd_t fd;
	char ch;

	if (c->closed || uv_fileno((uv_handle_t *)&c->h, &fd) < 0)
		return false;
	return recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
	       (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Does any process's argv hold s?  (What ps would show.) */
static int
scan_cmdlines(const char *s)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	char path[300], data[8192];
	int found = 0, fd;
	ssize_t n, i;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, data, sizeof(data) - 1);
		close(fd);
		if (n <= 0)
			continue;
		for (i = 0; i < n; i++)
			if (data[i] == '\0')
				data[i] = ' ';
		data[n] = '\0';
		if (strstr(data, s) != NULL)
			found++;
	}
	closedir(d);
	return found;
}

static void
on_srv_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)h;
	buf->base = xmalloc(hint);
	buf->len = hint;
}

static void
on_written(uv_write_t *wr, int status)
{
	struct conn *c = wr->data;

	(void)status;
	conn_close(c);
}

static void
on_srv_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	static const char deny[] =
		"HTTP/1.1 401 Unauthorized\r\n"
		"WWW-Authenticate: Basic realm=\"x\"\r\n"
		"Content-Length: 0\r\nConnection: close\r\n\r\n";
	uv_buf_t out = uv_buf_init((char *)deny, sizeof(deny) - 1);

	if (nread > 0) {
		assert_int_equal(buf_append(&c->srv->requests, buf->base,
					    (size_t)nread), 0);
		if (c->srv->mode == SRV_DENY &&
		    strstr(c->srv->requests.data, "\r\n\r\n") != NULL) {
			uv_read_stop(s);
			c->wr.data = c;
			assert_int_equal(uv_write(&c->wr, s, &out, 1, on_written),
					 0);
		}
	} else if (nread < 0) {
		conn_close(c);
	}
	free(buf->base);
}

static void
on_srv_connection(uv_stream_t *l, int status)
{
	struct srv *srv = l->data;
	struct conn *c;
	int i;

	bool overlap = false;

	assert_int_equal(status, 0);
	assert_true(srv->nconns < (int)PW_ARRAY_LEN(srv->conns));
	for (i = 0; i < srv->nconns; i++)
		if (peer_connected(&srv->conns[i]))
			overlap = true, srv->overlaps++;
	c = &srv->conns[srv->nconns++];
	c->srv = srv;
	c->h.data = c;
	assert_int_equal(uv_tcp_init(l->loop, &c->h), 0);
	assert_int_equal(uv_accept(l, (uv_stream_t *)&c->h), 0);
	assert_int_equal(uv_read_start((uv_stream_t *)&c->h, on_srv_alloc,
				       on_srv_read), 0);
	if (srv->mode == SRV_PAIR && overlap) {
		/* Both were connected at once: end them, their fetches fail. */
		for (i = 0; i < srv->nconns; i++)
			conn_close(&srv->conns[i]);
		return;
	}
	if (srv->scan != NULL) {
		/* git is running and connected now: what does ps show? */
		srv->scanned++;
		srv->found += scan_cmdlines(srv->scan);
	}
}

static void
srv_start(struct fx *f, struct srv *srv, enum srv_mode mode)
{
	struct sockaddr_in addr;
	struct sockaddr_storage bound;
	int len = sizeof(bound);

	memset(srv, 0, sizeof(*srv));
	srv->mode = mode;
	buf_init(&srv->requests, 0);
	srv->listener.data = srv;
	assert_int_equal(uv_tcp_init(&f->loop, &srv->listener), 0);
	assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
	assert_int_equal(uv_tcp_bind(&srv->listener,
				     (const struct sockaddr *)&addr, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&srv->listener, 16,
				   on_srv_connection), 0);
	assert_int_equal(uv_tcp_getsockname(&srv->listener,
					    (struct sockaddr *)&bound, &len), 0);
	srv->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
}

static void
srv_stop(struct srv *srv)
{
	int i;

	for (i = 0; i < srv->nconns; i++)
		conn_close(&srv->conns[i]);
	uv_close((uv_handle_t *)&srv->listener, NULL);
}

/*
 * A remote that answers nothing until two fetches are connected to it at
 * once, then drops both.  Two checkouts of one project must never be
 * connected at once: each is killed at its timeout and says so.  Two
 * projects are: they meet at the remote and fail at once, without the
 * generous timeout (reached only if they were serialised) or any clock.
 */
static void
test_timeout_and_queue(void **state)
{
	struct fx *f = *state;
	const char *projects[] = {"app", "app", "one", "two"};
	char *url, *ws[4];
	struct scm_request req[4];
	struct result r[4];
	struct srv srv;
	int i, serial_conns;

	srv_start(f, &srv, SRV_PAIR);
	url = xasprintf("http://127.0.0.1:%d/x.git", srv.port);
	memset(r, 0, sizeof(r));
	for (i = 0; i < 2; i++) {
		ws[i] = workspace(f);
		req[i] = request(f, projects[i], "refs/heads/main",
				 "0123456789abcdef0123456789abcdef01234567",
				 ws[i]);
		req[i].repo = url;
		req[i].timeout_ms = 700;
		assert_int_equal(scm_checkout(f->s, &req[i], on_done, &r[i]), 0);
	}
	wait_for(f, r, 2);
	for (i = 0; i < 2; i++) {
		assert_int_equal(r[i].rc, -ETIMEDOUT);
		assert_has(r[i].log, "git fetch timed out after 700ms\n");
		free(r[i].log);
	}
	/* A git slow to start may be killed before it connects: at most 2. */
	assert_true(srv.nconns <= 2);
	assert_int_equal(srv.overlaps, 0);
	serial_conns = srv.nconns;

	/* Two projects: in parallel. */
	for (i = 2; i < 4; i++) {
		ws[i] = workspace(f);
		req[i] = request(f, projects[i], "refs/heads/main",
				 "0123456789abcdef0123456789abcdef01234567",
				 ws[i]);
		req[i].repo = url;
		req[i].timeout_ms = 60000;
		assert_int_equal(scm_checkout(f->s, &req[i], on_done, &r[i]), 0);
	}
	wait_for(f, r + 2, 2);
	for (i = 2; i < 4; i++) {
		assert_true(r[i].rc < 0);
		assert_int_not_equal(r[i].rc, -ETIMEDOUT);
		assert_has(r[i].log, "git fetch of refs/heads/main from ");
		free(r[i].log);
	}
	assert_int_equal(srv.nconns - serial_conns, 2);
	assert_int_equal(srv.overlaps, 1);

	for (i = 0; i < 4; i++)
		free(ws[i]);
	free(url);
	srv_stop(&srv);
	buf_free(&srv.requests);
	finish(f);
}

/*
 * The clone token reaches the remote as a Basic Authorization header and
 * nowhere else: not in any process's argv while git runs, not in the log.
 * A 401 fails at once: no prompt waits.
 */
static void
test_token(void **state)
{
	struct fx *f = *state;
	const char *token = "tok-SECRET-4711";
	char *url, *ws, *header;
	struct scm_request req;
	struct result r;
	struct srv srv;

	srv_start(f, &srv, SRV_DENY);
	srv.scan = token;
	url = xasprintf("http://127.0.0.1:%d/acme/app.git", srv.port);
	ws = workspace(f);
	req = request(f, "app", "refs/heads/main",
		      "0123456789abcdef0123456789abcdef01234567", ws);
	req.repo = url;
	req.clone_token = token;
	checkout(f, &req, &r);
	assert_int_equal(r.rc, -EIO);
	assert_has(r.log, "terminal prompts disabled");
	assert_has(r.log, "git fetch of refs/heads/main from http://127.0.0.1:");
	assert_lacks(r.log, token);
	/* base64("x-access-token:tok-SECRET-4711") */
	assert_lacks(r.log, "eC1hY2Nlc3MtdG9rZW46dG9rLVNFQ1JFVC00NzEx");
	assert_has(srv.requests.data, "GET /acme/app.git/info/refs?service="
		   "git-upload-pack HTTP/1.1\r\n");
	assert_has(srv.requests.data, "\r\nAuthorization: Basic "
		   "eC1hY2Nlc3MtdG9rZW46dG9rLVNFQ1JFVC00NzEx\r\n");
	assert_true(srv.scanned >= 1);
	assert_int_equal(srv.found, 0);
	free(r.log);
	free(ws);

	/* What the header and the environment hold. */
	header = scm_auth_header(token);
	assert_string_equal(header, "Authorization: Basic "
			    "eC1hY2Nlc3MtdG9rZW46dG9rLVNFQ1JFVC00NzEx");
	free(header);

	free(url);
	srv_stop(&srv);
	buf_free(&srv.requests);
	finish(f);
}

/* ---- the pure parts ---- */

static bool
env_has(char **env, const char *kv)
{
	size_t i;

	for (i = 0; env[i] != NULL; i++)
		if (strcmp(env[i], kv) == 0)
			return true;
	return false;
}

static void
test_env(void **state)
{
	char **env;
	struct buf b;
	char *s;
	char *secrets[] = {"abc", NULL, "abcdef"};

	(void)state;
	env = scm_env_new("/m/home", NULL);
	assert_true(env_has(env, "HOME=/m/home"));
	assert_true(env_has(env, "GIT_TERMINAL_PROMPT=0"));
	assert_true(env_has(env, "GIT_SSH_COMMAND=ssh -o BatchMode=yes"));
	assert_true(env_has(env, "GIT_CONFIG_NOSYSTEM=1"));
	assert_true(env_has(env, "LANG=C"));
	assert_true(env_has(env, SCM_PATH));
	assert_true(env_has(env, "GIT_CONFIG_COUNT=4"));
	assert_true(env_has(env, "GIT_CONFIG_KEY_0=safe.directory"));
	assert_true(env_has(env, "GIT_CONFIG_VALUE_0=*"));
	assert_false(env_has(env, "GIT_CONFIG_KEY_4=http.extraHeader"));
	scm_env_free(env);
	env = scm_env_new("/m/home", "Authorization: Basic eA==");
	assert_true(env_has(env, "GIT_CONFIG_COUNT=5"));
	assert_true(env_has(env, "GIT_CONFIG_KEY_4=http.extraHeader"));
	assert_true(env_has(env, "GIT_CONFIG_VALUE_4=Authorization: Basic eA=="));
	scm_env_free(env);

	s = scm_redact_url("https://bob:pw@git.example.com/a.git");
	assert_string_equal(s, "https://bob:***@git.example.com/a.git");
	free(s);
	s = scm_redact_url("https://bob@git.example.com/a@b.git");
	assert_string_equal(s, "https://bob@git.example.com/a@b.git");
	free(s);
	s = scm_redact_url("git@github.com:acme/app.git");
	assert_string_equal(s, "git@github.com:acme/app.git");
	free(s);

	s = scm_mirror_ref("refs/heads/release/1%x");
	assert_string_equal(s, "refs/pipewright/heads%2Frelease%2F1%25x");
	free(s);

	buf_init(&b, 0);
	scm_log_scrubbed(&b, "x abcdefabc abcde", 17, secrets, 3);
	assert_string_equal(b.data, "x ****** ***de");
	buf_free(&b);
}

static void
on_never(int rc, const char *log, size_t len, void *arg)
{
	(void)rc;
	(void)log;
	(void)len;
	(void)arg;
	fail_msg("callback of a refused checkout");
}

/* Malformed requests are refused before anything runs. */
static void
test_refused(void **state)
{
	struct fx *f = *state;
	const char *sha = "0123456789abcdef0123456789abcdef01234567";
	char *ws = workspace(f), *file;
	struct scm_request req;
	struct {
		const char *project, *ref, *sha, *repo, *token;
	} bad[] = {
		{"../x", "refs/heads/main", sha, NULL, NULL},
		{"a/b", "refs/heads/main", sha, NULL, NULL},
		{"", "refs/heads/main", sha, NULL, NULL},
		{"app", "main", sha, NULL, NULL},
		{"app", "refs/heads/a:refs/heads/b", sha, NULL, NULL},
		{"app", "refs/heads/*", sha, NULL, NULL},
		{"app", "refs/heads/a..b", sha, NULL, NULL},
		{"app", "refs/heads/a b", sha, NULL, NULL},
		{"app", "refs/heads/main", "0123abc", NULL, NULL},
		{"app", "refs/heads/main", "g123456789abcdef0123456789abcdef01234567",
		 NULL, NULL},
		{"app", "refs/heads/main", sha, "--upload-pack=touch /tmp/x", NULL},
		{"app", "refs/heads/main", sha, NULL, "a\r\nX-Evil: 1"},
		{"app", "refs/heads/main", sha, NULL, ""},
	};
	size_t i;

	for (i = 0; i < PW_ARRAY_LEN(bad); i++) {
		req = request(f, bad[i].project, bad[i].ref, bad[i].sha, ws);
		if (bad[i].repo != NULL)
			req.repo = bad[i].repo;
		req.clone_token = bad[i].token;
		assert_int_equal(scm_checkout(f->s, &req, on_never, NULL),
				 -EINVAL);
	}
	/* Nothing was made for them. */
	assert_int_equal(access(ws, F_OK), -1);
	/* A workspace that holds something already. */
	file = xasprintf("%s/x", ws);
	sh("mkdir %s", ws);
	sh("touch %s", file);
	req = request(f, "app", "refs/heads/main", sha, ws);
	assert_int_equal(scm_checkout(f->s, &req, on_never, NULL), -ENOTEMPTY);
	assert_int_equal(scm_active(f->s), 0);
	free(file);
	free(ws);
	finish(f);
}

/* ---- reading the pipeline, handing the tree over ---- */

static void
read_checks(const char *ws, bool use_openat2)
{
	char *data = NULL;
	size_t len = 0;

	assert_int_equal(scm_read_file_how(ws, ".pipewright.yml", 100,
					   use_openat2, &data, &len), 0);
	assert_string_equal(data, "jobs: {}\n");
	assert_int_equal(len, 9);
	free(data);
	/* A symlink that stays inside is fine. */
	assert_int_equal(scm_read_file_how(ws, "inside.yml", 100, use_openat2,
					   &data, &len), 0);
	assert_string_equal(data, "ci\n");
	free(data);
	assert_int_equal(scm_read_file_how(ws, "ci/p.yml", 100, use_openat2,
					   &data, &len), 0);
	free(data);
	assert_int_equal(scm_read_file_how(ws, "empty.yml", 100, use_openat2,
					   &data, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(data, "");
	free(data);
	/* Ways out. */
	data = NULL;
	assert_int_equal(scm_read_file_how(ws, "evil.yml", 100000, use_openat2,
					   &data, &len), -EXDEV);
	assert_int_equal(scm_read_file_how(ws, "up.yml", 100000, use_openat2,
					   &data, &len), -EXDEV);
	assert_int_equal(scm_read_file_how(ws, "etc/passwd", 100000, use_openat2,
					   &data, &len), -EXDEV);
	assert_int_equal(scm_read_file_how(ws, "../x", 100, use_openat2, &data,
					   &len), -EINVAL);
	assert_int_equal(scm_read_file_how(ws, "ci/../../x", 100, use_openat2,
					   &data, &len), -EINVAL);
	assert_int_equal(scm_read_file_how(ws, "/etc/passwd", 100, use_openat2,
					   &data, &len), -EINVAL);
	assert_int_equal(scm_read_file_how(ws, ".git/config", 100, use_openat2,
					   &data, &len), -EINVAL);
	assert_int_equal(scm_read_file_how(ws, "", 100, use_openat2, &data,
					   &len), -EINVAL);
	assert_int_equal(scm_read_file_how(ws, "ci/", 100, use_openat2, &data,
					   &len), -EINVAL);
	/* Not a file, too big, absent. */
	assert_int_equal(scm_read_file_how(ws, "ci", 100, use_openat2, &data,
					   &len), -EISDIR);
	assert_int_equal(scm_read_file_how(ws, ".pipewright.yml", 8, use_openat2,
					   &data, &len), -EFBIG);
	assert_int_equal(scm_read_file_how(ws, "nope.yml", 100, use_openat2,
					   &data, &len), -ENOENT);
	assert_null(data);
}

static void
test_read_and_chown(void **state)
{
	struct fx *f = *state;
	char *sha, *ws, *owner, *passwd_owner;
	struct scm_request req;
	struct result r;
	struct stat st;
	size_t len;

	sh("cd %s && mkdir -p ci etc && printf 'jobs: {}\\n' > .pipewright.yml"
	   " && printf 'ci\\n' > ci/p.yml && : > empty.yml && "
	   "ln -s ci/p.yml inside.yml && ln -s /etc/passwd evil.yml && "
	   "ln -s ../../../../../../../../etc/passwd up.yml && "
	   "ln -s /etc etc/up && ln -s up/passwd etc/passwd", f->work);
	sha = commit(f, "README", "r");
	ws = workspace(f);
	req = request(f, "app", "refs/heads/main", sha, ws);
	checkout(f, &req, &r);
	assert_int_equal(r.rc, 0);
	free(r.log);
	/* git made the links as links. */
	owner = xasprintf("%s/evil.yml", ws);
	assert_int_equal(lstat(owner, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	free(owner);
	read_checks(ws, true);
	read_checks(ws, false);
	assert_int_equal(scm_read_file(ws, "evil.yml", 1 << 20, &owner, &len),
			 -EXDEV);
	assert_int_equal(scm_read_file(ws, "inside.yml", 1 << 20, &owner, &len),
			 0);
	assert_string_equal(owner, "ci\n");
	free(owner);

	/* Handed to a job's uid: everything, the links themselves only. */
	if (geteuid() == 0) {
		assert_int_equal(scm_chown_tree(ws, 100000, 100001), 0);
		owner = sh_out("find %s \\( ! -uid 100000 -o ! -gid 100001 \\)"
			       " -print | wc -l", ws);
		assert_string_equal(owner, "0");
		free(owner);
		owner = sh_out("find %s | wc -l", ws);
		assert_true(atoi(owner) > 20);  /* .git's insides too */
		free(owner);
		passwd_owner = sh_out("stat -c %%u /etc/passwd");
		assert_string_equal(passwd_owner, "0");
		free(passwd_owner);
	}
	assert_int_equal(scm_chown_tree(ws, geteuid(), getegid()), 0);
	free(ws);
	assert_int_equal(scm_chown_tree("/nonexistent/pw", 0, 0), -ENOENT);
	free(sha);
	finish(f);
}

/* ---- a job's workspace ---- */

static void
workspace_from(struct fx *f, const char *source, const char *sha,
	       const char *ws, uid_t uid, struct result *r)
{
	struct scm_workspace_request req = {
		.source = source,
		.sha = sha,
		.workspace = ws,
		.uid = uid,
		.timeout_ms = 30000,
	};

	memset(r, 0, sizeof(*r));
	assert_int_equal(scm_workspace(f->s, &req, on_done, r), 0);
	wait_for(f, r, 1);
}

static long long
mtime_of(const char *dir, const char *name)
{
	char *path = xasprintf("%s/%s", dir, name);
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	free(path);
	return (long long)st.st_mtim.tv_sec;
}

#define T0 1000000000LL   /* commit i is at T0 + 100 i */

/*
 * 55 commits with fixed times; the run's checkout (depth 50: commits
 * 6..55) is the source of two job workspaces made one after the other.
 * Each file has the time of the newest commit that touched it, in both;
 * a file no commit of the shallow history touched has the oldest one's;
 * a path whose directory later became a symlink leading out changes
 * nothing outside.
 */
static void
test_job_workspace(void **state)
{
	struct fx *f = *state;
	char *sha, *run, *ws[2], *outside, *remotes, *owner;
	struct result r;
	struct stat st;
	long long before;
	int i, k;

	outside = xasprintf("%s/outside", f->tmp);
	sh("mkdir -p %s && touch -d @1234567 %s/passwd", outside, outside);
	for (i = 1; i <= 55; i++) {
		char *cmd;

		if (i == 1)
			cmd = xstrdup("mkdir -p d && echo old > old.txt && "
				      "echo b > d/b.txt && echo a > a.txt");
		else if (i == 10 || i == 53)
			cmd = xasprintf("echo %d >> a.txt", i);
		else if (i == 52)
			cmd = xstrdup("mkdir -p x && echo p > x/passwd");
		else if (i == 54)
			cmd = xstrdup("echo b2 >> d/b.txt && ln -s a.txt l");
		else if (i == 55)
			cmd = xasprintf("rm -r x && ln -s %s x", outside);
		else
			cmd = xasprintf("echo %d > n.txt", i);
		sh("cd %s && %s && " GIT " add -A && GIT_COMMITTER_DATE='@%lld "
		   "+0000' " GIT " commit -q -m c%d", f->work, cmd,
		   T0 + 100 * i, i);
		free(cmd);
	}
	sh("git -C %s push -q origin HEAD:main", f->work);
	sha = sh_out("git -C %s rev-parse HEAD", f->work);
	run = workspace(f);
	{
		struct scm_request req = request(f, "app", "refs/heads/main",
						 sha, run);

		checkout(f, &req, &r);
		assert_int_equal(r.rc, 0);
		free(r.log);
	}
	for (k = 0; k < 2; k++) {
		ws[k] = workspace(f);
		workspace_from(f, run, sha, ws[k], 0, &r);
		if (r.rc != 0)
			fail_msg("workspace: %d\n%s", r.rc, r.log);
		assert_has(r.log, "fetch -q --no-tags --depth=50 --upload-pack=");
		free(r.log);
		assert_checked_out(ws[k], sha,
				   ".git a.txt d l n.txt old.txt x");
		assert_int_equal(mtime_of(ws[k], "a.txt"), T0 + 5300);
		assert_int_equal(mtime_of(ws[k], "d/b.txt"), T0 + 5400);
		assert_int_equal(mtime_of(ws[k], "l"), T0 + 5400);
		assert_int_equal(mtime_of(ws[k], "x"), T0 + 5500);
		assert_int_equal(mtime_of(ws[k], "n.txt"), T0 + 5100);
		/* Untouched since before the shallow history: its oldest. */
		assert_int_equal(mtime_of(ws[k], "old.txt"), T0 + 600);
		assert_int_equal(mtime_of(outside, "passwd"), 1234567);
		/* Its own repository: shallow, no remote naming the source. */
		remotes = sh_out("git -C %s remote | wc -l", ws[k]);
		assert_string_equal(remotes, "0");
		free(remotes);
		owner = xasprintf("%s/.git/shallow", ws[k]);
		assert_int_equal(access(owner, F_OK), 0);
		free(owner);
	}
	/* Both alike, whenever made. */
	before = mtime_of(ws[0], "a.txt");
	assert_int_equal(before, mtime_of(ws[1], "a.txt"));
	assert_int_equal(mtime_of(ws[0], "d/b.txt"), mtime_of(ws[1], "d/b.txt"));

	/* Handed to a job's uid: the tree, never what a link names. */
	if (geteuid() == 0) {
		char *ws3 = workspace(f);

		workspace_from(f, run, sha, ws3, 54321, &r);
		assert_int_equal(r.rc, 0);
		free(r.log);
		owner = xasprintf("%s/d/b.txt", ws3);
		assert_int_equal(lstat(owner, &st), 0);
		assert_int_equal(st.st_uid, 54321);
		assert_int_equal(st.st_gid, 54321);
		free(owner);
		owner = xasprintf("%s/passwd", outside);
		assert_int_equal(lstat(owner, &st), 0);
		assert_int_equal(st.st_uid, 0);
		free(owner);
		free(ws3);
	} else {
		print_message("not root: the hand-over to a job's uid is not "
			      "tested\n");
	}

	/* Refused before anything runs. */
	{
		struct scm_workspace_request bad = {
			.source = "relative", .sha = sha, .workspace = ws[0],
		};

		assert_int_equal(scm_workspace(f->s, &bad, on_done, &r),
				 -EINVAL);
		bad.source = run;
		assert_int_equal(scm_workspace(f->s, &bad, on_done, &r),
				 -ENOTEMPTY);
		bad.sha = "nothex";
		assert_int_equal(scm_workspace(f->s, &bad, on_done, &r),
				 -EINVAL);
	}
	for (k = 0; k < 2; k++)
		free(ws[k]);
	free(run);
	free(sha);
	free(outside);
	finish(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_branch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tag_and_pull, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_on_ref, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_and_queue, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_workspace, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_read_and_chown, setup,
						teardown),
	};

	if (system("git --version > /dev/null 2>&1") != 0) {
		fprintf(stderr, "git is not installed (scripts/dev PACKAGES)\n");
		return 1;
	}
	return cmocka_run_group_tests_name("scm", tests, NULL, NULL);
}
