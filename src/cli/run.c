/*
 * `pipewright run`: runs a pipeline file in the current directory on the
 * same scheduler, executor and supervisor as the daemon.  The workspace is
 * the current directory, shared by the jobs, at its own path; with
 * --clean each job attempt gets a fresh workspace as on the server: the
 * checkout's HEAD commit fetched into <tmp>/jobs/<idx> (scm_workspace,
 * files at their commit times), seen under strict at /builds/<name of
 * the checkout's directory>; the checkout itself is only read.  Attempt
 * directories (logs, HOME) and those workspaces live in a temporary
 * directory removed at the end.  Ctrl-C cancels the run (every
 * job's whole process tree is killed) and exits 130; a second Ctrl-C exits
 * at once, and the supervisors, tied to this process, still clean up.
 * Jobs run in the strict sandbox unless --sandbox none; secrets a job
 * names come from our environment.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "pipewright/config.h"
#include "pipewright/exec.h"
#include "pipewright/image.h"
#include "pipewright/sched.h"
#include "pipewright/scm.h"

#define GIT_OUTPUT_MAX 4096
/*
 * Jobs of a run as root in a root-owned checkout: host ids 0x6fff0000
 * + pid % 65536, below the daemon's default job_ids (0x70000000...) and
 * apart from the ids a job's namespace maps its other users to.
 */
#define RUN_ROOT_JOB_IDS 0x6fff0000U
#define RUN_ROOT_JOB_SPAN 65536U

#define LOCAL_IMAGES_QUOTA (20ULL << 30)

struct run_opts {
	const char *file;
	int jobs;
	const char *branch;
	uint64_t grace_ms;
	enum exec_sandbox sandbox;
	bool network_deny;        /* --network deny: as a daemon's default */
	bool color;               /* --color: the jobs' colours pass */
	bool clean;               /* --clean: a fresh workspace per job */
	bool no_cache;            /* --no-cache: no restore, no save */
	const char *cache_dir;    /* --cache-dir, else the XDG one */
	const char *rootfs;       /* --rootfs: the jobs' root (strict) */
	char **only, **approve, **env;  /* NULL-terminated */
	char **mounts;            /* --mount: host paths, read-only inside */
	size_t nonly, napprove, nenv, nmounts;
	struct image_registry *regs;  /* --image-registry; hosts owned */
	size_t nregs;
};

struct run_cli {
	struct run_opts *o;
	uv_loop_t loop;
	uv_signal_t sigint, sigterm;
	struct exec *exec;
	struct scm *scm;          /* --clean: makes the jobs' workspaces */
	struct run_cache *cache;  /* NULL: no caches nor artifacts */
	struct run_reports *reports; /* test reports read after attempts */
	struct image_cache *images; /* <cache dir>/images; NULL: no job
	                             has an image */
	struct image_use **uses;  /* roots held until the run ends */
	size_t nuses, cuses;
	struct run_cache_ids ids; /* whose restored files are */
	struct sched *sched;
	struct sched_run *run;
	struct pipeline *p;       /* until the run takes it */
	struct term *term;
	char workspace[PATH_MAX];
	char tmpdir[PATH_MAX];
	uint32_t uid, gid;        /* strict: the jobs' host ids */
	uint32_t owner_uid, owner_gid; /* the checkout's: whose files the
	                             jobs' are on disk (idmapped if not the
	                             jobs' own ids) */
	char *branch, *commit, *tag; /* from git, where known */
	char *dirty;              /* git status's first line; NULL: clean */
	bool none_as_owner;       /* none, as root: jobs run as owner_uid */
	bool rootless;            /* strict without root: as ourselves */
	char **git_env;           /* git's for those questions (strings not
	                             owned) */
	int git_pending;
	bool interrupted;
	int status;               /* the exit status */
};

/* The query each git helper answers, and where its answer goes. */
struct git_query {
	struct run_cli *c;
	char **dst;
	const char *argv[6];
};

static void start_run(struct run_cli *c);

/* An attempt being prepared (its workspace, its caches) or finished. */
struct prep {
	struct run_cli *c;
	struct sched_run *run;
	size_t job;
	enum sched_job_state state;  /* finished: how */
};

/* The step's lines are the job's, before its script or after it. */
static void
on_restored(const struct reuse_result *res, void *arg)
{
	struct prep *pr = arg;
	int rc;

	if (res->len > 0)
		term_output(pr->c->term, pr->job, res->log, res->len);
	if (res->rc < 0)
		rc = sched_attempt_fail(pr->run, pr->job, res->reason);
	else
		rc = sched_attempt_proceed(pr->run, pr->job, 0);
	(void)rc; /* the attempt is held: neither refuses it */
	free(pr);
}

static void restore_or_proceed(struct prep *pr);

/* The job's image is ready (its root held until the run ends), or not. */
static void
on_image(int rc, const char *err, struct image_use *use, void *arg)
{
	struct prep *pr = arg;
	struct run_cli *c = pr->c;
	const struct image_info *info;
	char *line;

	if (rc < 0) {
		rc = sched_attempt_fail(pr->run, pr->job, err);
		(void)rc; /* the attempt is held: it cannot refuse */
		free(pr);
		return;
	}
	info = image_use_info(use);
	c->uses = xgrow(c->uses, &c->cuses, c->nuses + 1, sizeof(*c->uses));
	c->uses[c->nuses++] = use;
	line = xasprintf("image %s: %s %s\n", info->ref,
			 info->pulled ? "pulled" : "cached", info->digest);
	term_output(c->term, pr->job, line, strlen(line));
	free(line);
	rc = sched_attempt_image(pr->run, pr->job, info->rootfs, info->env,
				 info->user);
	(void)rc; /* the attempt is held: it cannot refuse */
	restore_or_proceed(pr);
}

/* The workspace is ready: the job's image, then its caches. */
static void
image_then_restore(struct prep *pr)
{
	const char *ref = pipeline_job_image(sched_run_pipeline(pr->run),
					     pr->job);

	if (ref != NULL && pr->c->images != NULL &&
	    sched_run_sandbox(pr->run) == EXEC_SANDBOX_STRICT) {
		image_prepare(pr->c->images, ref, on_image, pr);
		return;
	}
	restore_or_proceed(pr);
}

static void
restore_or_proceed(struct prep *pr)
{
	int rc;

	if (pr->c->cache != NULL) {
		run_cache_restore(pr->c->cache, pr->run, pr->job,
				  &pr->c->ids, on_restored, pr);
		return;
	}
	rc = sched_attempt_proceed(pr->run, pr->job, 0);
	(void)rc; /* the attempt is held: it cannot refuse */
	free(pr);
}

static void
on_saved(const struct reuse_result *res, void *arg)
{
	struct prep *pr = arg;
	int rc;

	if (res->len > 0) {
		rc = sched_attempt_log(pr->run, pr->job, res->log, res->len);
		(void)rc; /* past the cap: the output says so */
	}
	rc = sched_attempt_settle(pr->run, pr->job, res->rc, res->reason);
	(void)rc; /* it is finishing: settle cannot refuse it */
	free(pr);
}

/* After its reports (if any): the attempt's artifacts and caches. */
static void
save_or_settle(void *arg)
{
	struct prep *pr = arg;
	struct run_cli *c = pr->c;
	int rc;

	if (c->cache == NULL) {
		rc = sched_attempt_settle(pr->run, pr->job, 0, NULL);
		(void)rc; /* it is finishing: settle cannot refuse it */
		free(pr);
		return;
	}
	run_cache_save(c->cache, pr->run, pr->job, &c->ids, pr->state,
		       on_saved, pr);
}

/* After a job attempt: its test reports read, artifacts and caches saved. */
static void
on_finish(void *arg, struct sched_run *run, size_t job, int attempt,
	  const struct sched_attempt_result *res)
{
	struct run_cli *c = arg;
	struct prep *pr;

	(void)attempt;
	pr = xcalloc(1, sizeof(*pr));
	pr->c = c;
	pr->run = run;
	pr->job = job;
	pr->state = res->state;
	if (run_reports_start(c->reports, run, job, res->state,
			      save_or_settle, pr))
		return;
	save_or_settle(pr);
}

static void
on_workspace(int rc, const char *log, size_t len, void *arg)
{
	struct prep *pr = arg;
	struct run_cli *c = pr->c;
	const char *last = log, *p;
	char *why;

	if (rc == 0) {
		image_then_restore(pr);
		return;
	} else {
		for (p = log; len > 0 && p < log + len - 1; p++)
			if (*p == '\n')
				last = p + 1;
		fprintf(stderr, "%.*s", (int)len, log);
		why = xasprintf("cannot prepare the workspace: %.*s",
				(int)strcspn(last, "\n"), last);
		rc = sched_attempt_fail(c->run, pr->job, why);
		free(why);
	}
	(void)rc; /* the attempt is held: neither refuses it */
	free(pr);
}

/*
 * Before each attempt: with --clean its workspace afresh, the checkout's
 * HEAD commit (the previous attempt's workspace removed first); then its
 * artifacts and caches.
 */
static void
on_prepare(void *arg, struct sched_run *run, size_t job, int attempt,
	   const char *dir)
{
	struct run_cli *c = arg;
	const char *ws = sched_attempt_workspace(run, job);
	struct scm_workspace_request req = {
		.source = c->workspace,
		.sha = c->commit,
		.workspace = ws,
		/* The checkout's owner's, as its files are (0: left root's). */
		.uid = c->owner_uid,
		.gid = c->owner_gid,
	};
	struct prep *pr = xcalloc(1, sizeof(*pr));
	char *why, *parent;
	int rc;

	(void)attempt;
	(void)dir;
	pr->c = c;
	pr->run = run;
	pr->job = job;
	if (!c->o->clean) {
		image_then_restore(pr);
		return;
	}
	parent = xstrdup(ws);
	*strrchr(parent, '/') = '\0';
	rc = pw_remove_tree(ws);
	if (rc == 0 || rc == -ENOENT)
		rc = pw_mkdirs(parent, 0755);
	if (rc == 0)
		rc = scm_workspace(c->scm, &req, on_workspace, pr);
	free(parent);
	if (rc < 0) {
		why = xasprintf("cannot prepare the workspace %s: %s", ws,
				strerror(-rc));
		rc = sched_attempt_fail(run, job, why);
		(void)rc;
		free(why);
		free(pr);
	}
}

/* "/builds/<the checkout directory's name>", as a plain name. */
static char *
builds_path(const char *workspace)
{
	const char *base = strrchr(workspace, '/');
	char *name, *p;
	char *out;

	base = base != NULL && base[1] != '\0' ? base + 1 : "local";
	name = xstrdup(base);
	for (p = name; *p != '\0'; p++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			   "0123456789_.-", *p) == NULL)
			*p = '_';
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		free(name);
		name = xstrdup("local");
	}
	out = xasprintf("/builds/%s", name);
	free(name);
	return out;
}

static char *
first_line(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && s[n] != '\n' && s[n] != '\r')
		n++;
	return n > 0 ? xstrndup(s, n) : NULL;
}

static void
on_git(int status, const char *out, size_t len, void *arg)
{
	struct git_query *q = arg;
	struct run_cli *c = q->c;

	if (status == 0 && *q->dst == NULL)
		*q->dst = first_line(out, len);
	free(q);
	if (--c->git_pending == 0)
		start_run(c);
}

/* Asks git what it knows about HEAD; unknown things stay NULL. */
static void
ask_git(struct run_cli *c)
{
	static const char *const queries[][5] = {
		{"git", "rev-parse", "--verify", "-q", "HEAD"},
		{"git", "symbolic-ref", "--short", "-q", "HEAD"},
		{"git", "tag", "--points-at", "HEAD", NULL},
		{"git", "status", "--porcelain", NULL, NULL},
	};
	char **dsts[] = {&c->commit, &c->branch, &c->tag, &c->dirty};
	size_t i, k, n = 0;

	/*
	 * Ours, and the checkout's owner's repository: run as root (the
	 * strict sandbox), git would refuse it as of dubious ownership.
	 */
	for (i = 0; environ[i] != NULL; i++)
		;
	c->git_env = xcalloc(i + 4, sizeof(char *));
	for (i = 0; environ[i] != NULL; i++)
		if (strncmp(environ[i], "GIT_CONFIG_", 11) != 0)
			c->git_env[n++] = environ[i];
	c->git_env[n++] = "GIT_CONFIG_COUNT=1";
	c->git_env[n++] = "GIT_CONFIG_KEY_0=safe.directory";
	c->git_env[n++] = "GIT_CONFIG_VALUE_0=*";
	c->git_pending = 1; /* held until every query is sent */
	for (i = 0; i < PW_ARRAY_LEN(queries); i++) {
		struct git_query *q = xcalloc(1, sizeof(*q));

		q->c = c;
		q->dst = dsts[i];
		for (k = 0; k < 5; k++)
			q->argv[k] = queries[i][k];
		c->git_pending++;
		if (exec_helper(c->exec, q->argv, c->workspace,
				(const char *const *)c->git_env,
				GIT_OUTPUT_MAX, on_git, q) < 0) {
			c->git_pending--; /* no git: nothing known */
			free(q);
		}
	}
	if (--c->git_pending == 0)
		start_run(c);
}

static void
on_event(void *arg, const struct sched_event *ev)
{
	struct run_cli *c = arg;

	term_event(c->term, ev);
	if (ev->kind == SCHED_EVENT_RUN && ev->state >= SCHED_RUN_SUCCESS) {
		c->status = ev->state == SCHED_RUN_SUCCESS ? CLI_OK :
							     CLI_FAILED;
		uv_close((uv_handle_t *)&c->sigint, NULL);
		uv_close((uv_handle_t *)&c->sigterm, NULL);
	}
}

static void
on_output(void *arg, struct sched_run *run, size_t job, int attempt,
	  const char *data, size_t len)
{
	struct run_cli *c = arg;

	(void)run;
	(void)attempt;
	term_output(c->term, job, data, len);
}

static void
on_signal(uv_signal_t *h, int signum)
{
	struct run_cli *c = h->data;

	if (c->interrupted) {
		/* The supervisors are tied to us and kill their jobs. */
		fprintf(stderr, "\npipewright: interrupted again, exiting\n");
		exit(CLI_INTERRUPTED);
	}
	c->interrupted = true;
	term_note(c->term, "interrupted (%s): stopping %d running job%s",
		  signum == SIGINT ? "SIGINT" : "SIGTERM",
		  sched_running(c->sched),
		  sched_running(c->sched) == 1 ? "" : "s");
	if (c->run != NULL && sched_run_cancel(c->run) < 0)
		return; /* already finished */
}

/*
 * The secrets the pipeline's jobs name, from our own environment ("K=V",
 * NULL-terminated; caller frees the array, not the strings).  A secret we
 * do not have is left out: the job that needs it fails saying so.
 */
static char **
collect_secrets(const struct pipeline *p)
{
	char **v = NULL;
	size_t cap = 0, n = 0, j, k, i;

	v = xgrow(v, &cap, 1, sizeof(*v));
	for (j = 0; j < pipeline_job_count(p); j++) {
		const char *const *names = pipeline_job_secrets(p, j);

		for (k = 0; names[k] != NULL; k++) {
			size_t len = strlen(names[k]);
			char *kv = NULL;

			for (i = 0; environ[i] != NULL && kv == NULL; i++)
				if (strncmp(environ[i], names[k], len) == 0 &&
				    environ[i][len] == '=')
					kv = environ[i];
			for (i = 0; kv != NULL && i < n; i++)
				if (v[i] == kv)
					kv = NULL;
			if (kv == NULL)
				continue;
			v = xgrow(v, &cap, n + 2, sizeof(*v));
			v[n++] = kv;
		}
	}
	v[n] = NULL;
	return v;
}

/* Our cgroup v2 directory is ours to write, with memory and pids. */
static bool
cgroup_delegated(void)
{
	char line[PATH_MAX], *dir, *ctl;
	FILE *f = fopen("/proc/self/cgroup", "re");
	bool yes = false;
	size_t n;

	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		n = strcspn(line + 3, "\n");
		line[3 + n] = '\0';
		dir = xasprintf("/sys/fs/cgroup%s", line + 3);
		ctl = xasprintf("%s/cgroup.controllers", dir);
		if (access(dir, W_OK) == 0) {
			FILE *c = fopen(ctl, "re");
			char buf[256] = "";

			if (c != NULL && fgets(buf, sizeof(buf), c) != NULL)
				yes = strstr(buf, "memory") != NULL &&
				      strstr(buf, "pids") != NULL;
			if (c != NULL)
				fclose(c);
		}
		free(dir);
		free(ctl);
	}
	fclose(f);
	return yes;
}

/*
 * Without root, no image and no --rootfs, said before anything is pulled:
 * an image's root is unpacked with its files' own owners (root's, mostly)
 * and a job enters it through an idmapped mount, and both need root on
 * the host.  -1 (said) or 0.
 */
static int
rootless_root_refused(const struct run_cli *c)
{
	const char *what = NULL, *job = NULL;
	size_t j;

	for (j = 0; j < pipeline_job_count(c->p) && what == NULL; j++) {
		what = pipeline_job_image(c->p, j);
		job = pipeline_job_name(c->p, j);
	}
	if (c->o->rootfs != NULL) {
		fprintf(stderr, "pipewright: --rootfs %s needs root: ", c->o->rootfs);
	} else if (what != NULL) {
		fprintf(stderr, "pipewright: job '%s' has image '%s', which needs "
			"root: ", job, what);
	} else {
		return 0;
	}
	fprintf(stderr, "an image's root keeps its files' owners and a job "
		"enters it through an idmapped mount, which only root may make; "
		"run it with sudo, or without the image (its tools from this "
		"machine, --mount DIR for a toolchain outside /usr)\n");
	return -1;
}

/*
 * Strict mode's needs that we can tell before any job: say what and how.
 * The jobs run as the checkout's owner, so that what they build is the
 * developer's, with that user's primary group (never the directory's
 * group, which could be any group at all) and no supplementary groups.
 */
static int
sandbox_preflight(struct run_cli *c)
{
	const struct passwd *pw;
	struct stat st;

	if (c->o->sandbox != EXEC_SANDBOX_STRICT) {
		/*
		 * Root in another user's checkout: that user's jobs, so that
		 * nothing they leave is root's for a later strict run.
		 */
		if (geteuid() == 0 && stat(c->workspace, &st) == 0 &&
		    st.st_uid != 0) {
			pw = getpwuid(st.st_uid);
			c->uid = c->owner_uid = (uint32_t)st.st_uid;
			c->gid = c->owner_gid = pw != NULL && pw->pw_gid != 0
				? (uint32_t)pw->pw_gid : c->uid;
			/* Its jobs' HOMEs lie below: let them through. */
			c->none_as_owner = true;
		}
		return 0;
	}
	if (geteuid() != 0) {
		if (rootless_root_refused(c) < 0)
			return -1;
		/* Unprivileged user namespaces, as ourselves (the
		 * supervisor's rootless.c); said once: what does not apply. */
		c->rootless = true;
		c->uid = c->owner_uid = (uint32_t)geteuid();
		c->gid = c->owner_gid = (uint32_t)getegid();
		if (!cgroup_delegated())
			fprintf(stderr, "pipewright: without root the jobs' "
				"memory and pids limits do not apply (no cgroup"
				" of yours is delegated to you); their rlimits "
				"(cpu_seconds, file_size, open_files) do\n");
		return 0;
	}
	if (stat(c->workspace, &st) < 0) {
		fprintf(stderr, "pipewright: %s: %s\n", c->workspace,
			strerror(errno));
		return -1;
	}
	c->owner_uid = (uint32_t)st.st_uid;
	pw = getpwuid(st.st_uid);
	c->owner_gid = pw != NULL ? (uint32_t)pw->pw_gid : c->owner_uid;
	if (st.st_uid == 0) {
		/*
		 * A root-owned checkout (a CI box, a container): the jobs run
		 * as an unprivileged id of this run's, and see the checkout
		 * through an idmapped mount, so what they write is root's
		 * like the rest of it (the supervisor's idmap.c).
		 */
		c->uid = c->gid = RUN_ROOT_JOB_IDS +
				  (uint32_t)getpid() % RUN_ROOT_JOB_SPAN;
		c->owner_gid = (uint32_t)st.st_gid;
		return 0;
	}
	c->uid = c->owner_uid;
	c->gid = c->owner_gid != 0 ? c->owner_gid : c->uid;
	return 0;
}

static void
start_sched(struct run_cli *c)
{
	char **secrets = collect_secrets(c->p);
	char *jobs_dir = NULL, *builds = NULL;
	struct sched_run_params params = {
		.id = (uint64_t)getpid(),
		.project = "local",
		.workspace = c->workspace,
		.branch = c->o->branch != NULL ? c->o->branch : c->branch,
		.tag = c->tag,
		.commit = c->commit,
		.env = (const char *const *)c->o->env,
		.skip_manual = true,
		.secrets = (const char *const *)secrets,
		/* The developer is the admin here: granted unless refused. */
		.network = !c->o->network_deny && !c->rootless,
		.network_denied = c->rootless
			? "network: `network: true` under the strict sandbox "
			  "needs root (its namespace is wired up by "
			  "slirp4netns from the host's side): run as root, or "
			  "--sandbox none"
			: "network: denied by --network deny",
		.uid = c->uid,
		.gid = c->gid,
		.rootfs = c->o->rootfs,
		.mounts = (const char *const *)c->o->mounts,
	};
	size_t i;
	int rc;

	if (c->o->clean) {
		jobs_dir = xasprintf("%s/jobs", c->tmpdir);
		builds = builds_path(c->workspace);
		params.jobs_dir = jobs_dir;
		params.workspace_at = builds;
	}
	rc = sched_run_create(c->sched, c->p, &params, &c->run);
	free(secrets);  /* copied */
	free(jobs_dir);
	free(builds);
	if (rc < 0) {
		fprintf(stderr, "pipewright: cannot create the run: %s\n",
			strerror(-rc));
		c->status = CLI_FAILED;
		goto fail;
	}
	c->p = NULL;
	for (i = 0; i < c->o->nonly; i++) {
		if (sched_run_only(c->run, c->o->only[i]) < 0) {
			fprintf(stderr, "pipewright: --only: no job named '%s'\n",
				c->o->only[i]);
			c->status = CLI_USAGE;
			goto fail;
		}
	}
	for (i = 0; i < c->o->napprove; i++) {
		if (sched_run_approve(c->run, c->o->approve[i]) < 0) {
			fprintf(stderr, "pipewright: --approve: no manual job "
				"named '%s'\n", c->o->approve[i]);
			c->status = CLI_USAGE;
			goto fail;
		}
	}
	if (sched_run_start(c->run) == 0)
		return;
fail:
	uv_close((uv_handle_t *)&c->sigint, NULL);
	uv_close((uv_handle_t *)&c->sigterm, NULL);
}

/* Whether the run uses the cache directory at all: without --clean
 * artifacts are simply there, and --no-cache leaves caches alone. */
static bool
wants_reuse(const struct run_cli *c)
{
	const struct pipeline *p = c->p;
	size_t j;

	for (j = 0; j < pipeline_job_count(p); j++) {
		if (!c->o->no_cache && pipeline_job_cache_count(p, j) > 0)
			return true;
		if (c->o->clean && pipeline_job_artifacts(p, j) != NULL)
			return true;
	}
	return false;
}

/*
 * The store and blobs of caches and artifacts: in the cache directory;
 * with --no-cache (only artifacts, only this run's) or without a cache
 * directory, in the run's temporary directory.
 */
static void
open_reuse(struct run_cli *c)
{
	struct run_cache_params cp = {
		.project = c->workspace,
		.branch = c->o->branch != NULL ? c->o->branch : c->branch,
		.tag = c->tag,
		.default_branch = "main",
		.artifacts = c->o->clean,
		.caches = !c->o->no_cache,
	};
	char *dir = NULL, *err = NULL;
	int rc;

	if (!wants_reuse(c))
		return;
	if (cp.caches)
		dir = c->o->cache_dir != NULL ? xstrdup(c->o->cache_dir) :
						run_cache_default_dir();
	if (cp.caches && dir == NULL) {
		term_note(c->term, "caches off: neither $XDG_CACHE_HOME nor "
			  "$HOME is an absolute path (give --cache-dir)");
		cp.caches = false;
	}
	if (dir != NULL) {
		cp.dir = dir;
		rc = run_cache_open(&c->loop, &cp, &c->cache, &err);
		if (rc == 0) {
			term_note(c->term, "caches in %s (%s)", dir,
				  run_cache_write_scope(c->cache) != NULL ?
				  run_cache_write_scope(c->cache) :
				  "read only: no branch checked out");
		} else {
			term_note(c->term, "caches off: %s", err);
			cp.caches = false;
		}
		free(err);
		err = NULL;
		free(dir);
		dir = NULL;
	}
	if (c->cache != NULL || !cp.artifacts)
		return;
	dir = xasprintf("%s/reuse", c->tmpdir);
	cp.dir = dir;
	if (run_cache_open(&c->loop, &cp, &c->cache, &err) < 0) {
		term_note(c->term, "artifacts off: %s", err);
		free(err);
	}
	free(dir);
}

/*
 * An image is a root for the strict sandbox to enter: with --sandbox none
 * a job would run on this machine's own root instead, so the run does
 * not start.  -1 (said) or 0.
 */
static int
images_preflight(struct run_cli *c)
{
	size_t j;

	for (j = 0; j < pipeline_job_count(c->p); j++) {
		if (pipeline_job_image(c->p, j) == NULL ||
		    c->o->sandbox == EXEC_SANDBOX_STRICT)
			continue;
		fprintf(stderr, "pipewright: job '%s' has image '%s', which "
			"needs the strict sandbox; --sandbox none runs jobs on "
			"this machine's own root\n", pipeline_job_name(c->p, j),
			pipeline_job_image(c->p, j));
		return -1;
	}
	return 0;
}

/* The image cache in the cache directory, if any job has an image. */
static int
open_images(struct run_cli *c)
{
	struct image_options io = {.quota = LOCAL_IMAGES_QUOTA};
	char *base, *dir;
	size_t j;
	int rc;

	for (j = 0; j < pipeline_job_count(c->p); j++)
		if (pipeline_job_image(c->p, j) != NULL)
			break;
	if (j == pipeline_job_count(c->p))
		return 0;
	/* The cache keeps absolute paths (they outlive this directory). */
	if (c->o->cache_dir != NULL && c->o->cache_dir[0] != '/')
		base = xasprintf("%s/%s", c->workspace, c->o->cache_dir);
	else
		base = c->o->cache_dir != NULL ? xstrdup(c->o->cache_dir) :
						 run_cache_default_dir();
	if (base == NULL) {
		fprintf(stderr, "pipewright: no cache directory for images: "
			"set HOME or XDG_CACHE_HOME, or give --cache-dir\n");
		return -1;
	}
	dir = xasprintf("%s/images", base);
	io.dir = dir;
	io.registries = c->o->regs;
	io.nregistries = c->o->nregs;
	rc = image_cache_create(&c->loop, c->exec, &io, &c->images);
	if (rc < 0)
		fprintf(stderr, "pipewright: cannot use the image cache %s: "
			"%s\n", dir, strerror(-rc));
	free(base);
	free(dir);
	return rc < 0 ? -1 : 0;
}

static void
close_signals(struct run_cli *c)
{
	uv_close((uv_handle_t *)&c->sigint, NULL);
	uv_close((uv_handle_t *)&c->sigterm, NULL);
}

static void
on_begun(int rc, void *arg)
{
	struct run_cli *c = arg;

	if (rc < 0) {
		fprintf(stderr, "pipewright: cannot record the run for its "
			"artifacts: %s\n", strerror(-rc));
		c->status = CLI_FAILED;
		close_signals(c);
		return;
	}
	start_sched(c);
}

/* git has answered: the run starts. */
static void
start_run(struct run_cli *c)
{
	if (c->o->clean && c->commit == NULL) {
		fprintf(stderr, "pipewright: --clean: %s has no commit to check "
			"out (git rev-parse HEAD failed): commit first, or run "
			"without --clean\n", c->workspace);
		c->status = CLI_FAILED;
		close_signals(c);
		return;
	}
	/* What the server's clone would not have either: say so, once. */
	if (c->o->clean && c->dirty != NULL)
		fprintf(stderr, "pipewright: --clean: the jobs get commit %.12s "
			"as the server would; uncommitted changes in %s are "
			"left out (such as '%s': see git status)\n", c->commit,
			c->workspace, c->dirty);
	open_reuse(c);
	if (c->cache != NULL) {
		run_cache_begin(c->cache, c->commit, on_begun, c);
		return;
	}
	start_sched(c);
}

static bool
has_git(const char *dir)
{
	char *git = xasprintf("%s/.git", dir);
	bool yes = access(git, F_OK) == 0;

	free(git);
	return yes;
}

static void
push(char ***list, size_t *n, const char *s)
{
	*list = xrealloc(*list, (*n + 2) * sizeof(char *));
	(*list)[(*n)++] = (char *)s;
	(*list)[*n] = NULL;
}

enum {
	OPT_FILE, OPT_JOBS, OPT_ONLY, OPT_ENV, OPT_APPROVE, OPT_BRANCH,
	OPT_GRACE, OPT_SANDBOX, OPT_NETWORK, OPT_COLOR, OPT_CLEAN,
	OPT_CACHE_DIR, OPT_NO_CACHE, OPT_MOUNT, OPT_ROOTFS, OPT_REGISTRY,
	OPT_HELP,
};
static const struct cli_opt run_opts[] = {
	[OPT_FILE] = {"file", 'f', true, "FILE",
		      "the pipeline (default .pipewright.yml)"},
	[OPT_JOBS] = {"jobs", 'j', true, "N",
		      "jobs in parallel (default: cores)"},
	[OPT_ONLY] = {"only", 0, true, "JOB", "run only this job (repeatable)"},
	[OPT_ENV] = {"env", 0, true, "KEY=VALUE",
		     "set a variable for every job (repeatable)"},
	[OPT_APPROVE] = {"approve", 0, true, "JOB",
			 "run this manual job (repeatable)"},
	[OPT_BRANCH] = {"branch", 0, true, "B",
			"the branch for `branches:` filters"},
	[OPT_GRACE] = {"grace", 0, true, "DURATION", "SIGTERM to SIGKILL "
		       "delay on timeout and Ctrl-C\n(default 10s)"},
	[OPT_SANDBOX] = {"sandbox", 0, true, "strict|none", "strict (default):"
			 " each job in its own namespaces,\ncgroups and "
			 "seccomp filter (without root:\nno cgroups unless "
			 "delegated); none: as you"},
	[OPT_NETWORK] = {"network", 0, true, "allow|deny", "allow (default): "
			 "a job's `network: true` is\ngranted (its own "
			 "network namespace, outbound\nonly); deny: such a "
			 "job fails, as under a\ndaemon's default"},
	[OPT_COLOR] = {"color", 0, false, NULL, "keep the jobs' colours (SGR "
		       "sequences); every\nother control character is shown "
		       "escaped, always"},
	[OPT_CLEAN] = {"clean", 0, false, NULL, "each job in a fresh workspace "
		       "of its own, the\ncheckout's HEAD commit (committed "
		       "files only),\nas the server runs it; the checkout "
		       "is only\nread"},
	[OPT_CACHE_DIR] = {"cache-dir", 0, true, "DIR", "where caches are kept "
			   "(default\n$XDG_CACHE_HOME/pipewright, else\n"
			   "~/.cache/pipewright)"},
	[OPT_NO_CACHE] = {"no-cache", 0, false, NULL, "restore no cache and "
			  "save none (--clean\nstill passes artifacts)"},
	[OPT_MOUNT] = {"mount", 0, true, "PATH", "bind this host path read-only"
		       " at the same\npath in every job (strict; a "
		       "toolchain;\nrepeatable)"},
	[OPT_ROOTFS] = {"rootfs", 0, true, "DIR", "this directory tree (an "
			"unpacked image) is\nevery job's / instead of the "
			"host's (strict)"},
	[OPT_REGISTRY] = {"image-registry", 0, true,
			  "HOST[,insecure][,authfile=FILE]", "what a registry "
			  "of the jobs' images\nneeds, as a server's "
			  "images.registries:\nplain http, credentials other "
			  "than\nskopeo's own (repeatable)"},
	[OPT_HELP] = CLI_OPT_HELP,
	CLI_OPT_NONE,
};
static const struct cli_usage run_usage = {"run", "", run_opts, NULL};

/* --mount and --rootfs: an absolute path that exists (a directory). */
static int
host_path_arg(const char *opt, const char *arg, bool dir)
{
	struct stat st;

	if (arg[0] != '/') {
		fprintf(stderr, "pipewright: %s: expected an absolute path, "
			"got '%s'\n", opt, arg);
		return -1;
	}
	if (stat(arg, &st) < 0) {
		fprintf(stderr, "pipewright: %s %s: %s\n", opt, arg,
			strerror(errno));
		return -1;
	}
	if (dir && !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "pipewright: %s %s: not a directory\n", opt,
			arg);
		return -1;
	}
	return 0;
}

/*
 * --image-registry HOST[,insecure][,authfile=FILE]: one entry of a
 * server's images.registries, written on one line.  A registry not named
 * is used over https with skopeo's own credentials (`skopeo login`).
 */
static int
registry_arg(const char *arg, struct run_opts *o)
{
	const char *p = arg + strcspn(arg, ","), *opt, *end;
	struct image_registry r = {0};
	size_t i, hlen = (size_t)(p - arg);

	if (hlen == 0 || strcspn(arg, "/ \t@") < hlen) {
		fprintf(stderr, "pipewright: --image-registry: invalid host "
			"'%.*s'; expected a host[:port] such as "
			"registry.example.com:5000\n", (int)hlen, arg);
		return -1;
	}
	for (; *p == ','; p = end) {
		opt = p + 1;
		end = opt + strcspn(opt, ",");
		if ((size_t)(end - opt) == 8 && memcmp(opt, "insecure", 8) == 0) {
			r.insecure = true;
		} else if (strncmp(opt, "authfile=", 9) == 0 && *end == '\0' &&
			   opt[9] != '\0') {
			r.authfile = opt + 9;  /* the last: a FILE may hold ',' */
			if (access(r.authfile, R_OK) < 0) {
				fprintf(stderr, "pipewright: --image-registry "
					"%.*s: authfile %s: %s\n", (int)hlen,
					arg, r.authfile, strerror(errno));
				return -1;
			}
		} else {
			fprintf(stderr, "pipewright: --image-registry %.*s: "
				"unexpected '%.*s'; expected insecure or "
				"authfile=FILE (last)\n", (int)hlen, arg,
				(int)(end - opt), opt);
			return -1;
		}
		if (r.authfile != NULL)
			break;
	}
	for (i = 0; i < o->nregs; i++) {
		if (strlen(o->regs[i].host) == hlen &&
		    memcmp(o->regs[i].host, arg, hlen) == 0) {
			fprintf(stderr, "pipewright: --image-registry %.*s: "
				"given twice\n", (int)hlen, arg);
			return -1;
		}
	}
	r.host = xstrndup(arg, hlen);
	o->regs = xrealloc(o->regs, (o->nregs + 1) * sizeof(*o->regs));
	o->regs[o->nregs++] = r;
	return 0;
}

static int
parse_opts(int argc, char **argv, struct run_opts *o)
{
	struct cli_getopt g;
	const char *arg;
	char *end;
	long n;
	int ch;

	cli_getopt_init(&g, &run_usage);
	while ((ch = cli_getopt_next(&g, argc, argv, &arg)) != CLI_OPT_END) {
		switch (ch) {
		case OPT_FILE:
			o->file = arg;
			break;
		case OPT_JOBS:
			n = strtol(arg, &end, 10);
			if (*end != '\0' || n < 1 || n > 1024) {
				fprintf(stderr, "pipewright: --jobs: expected "
					"a number from 1 to 1024, got '%s'\n",
					arg);
				return -1;
			}
			o->jobs = (int)n;
			break;
		case OPT_ONLY:
			push(&o->only, &o->nonly, arg);
			break;
		case OPT_APPROVE:
			push(&o->approve, &o->napprove, arg);
			break;
		case OPT_ENV:
			if (cli_env_arg(arg) < 0)
				return -1;
			push(&o->env, &o->nenv, arg);
			break;
		case OPT_BRANCH:
			o->branch = arg;
			break;
		case OPT_GRACE:
			if (pw_duration_parse(arg, &o->grace_ms) < 0) {
				fprintf(stderr, "pipewright: --grace: invalid "
					"duration '%s'; expected e.g. 10s, "
					"500ms\n", arg);
				return -1;
			}
			break;
		case OPT_SANDBOX:
			if (strcmp(arg, "strict") != 0 &&
			    strcmp(arg, "none") != 0) {
				fprintf(stderr, "pipewright: --sandbox: expected "
					"strict or none, got '%s'\n", arg);
				return -1;
			}
			o->sandbox = arg[0] == 's' ? EXEC_SANDBOX_STRICT :
							EXEC_SANDBOX_NONE;
			break;
		case OPT_NETWORK:
			if (strcmp(arg, "allow") != 0 &&
			    strcmp(arg, "deny") != 0) {
				fprintf(stderr, "pipewright: --network: "
					"expected allow or deny, got '%s'\n",
					arg);
				return -1;
			}
			o->network_deny = arg[0] == 'd';
			break;
		case OPT_COLOR:
			o->color = true;
			break;
		case OPT_CLEAN:
			o->clean = true;
			break;
		case OPT_CACHE_DIR:
			if (*arg == '\0') {
				fprintf(stderr, "pipewright: --cache-dir: "
					"expected a directory, got ''\n");
				return -1;
			}
			o->cache_dir = arg;
			break;
		case OPT_NO_CACHE:
			o->no_cache = true;
			break;
		case OPT_MOUNT:
		case OPT_ROOTFS:
			if (host_path_arg(ch == OPT_MOUNT ? "--mount" :
					  "--rootfs", arg, ch == OPT_ROOTFS) < 0)
				return -1;
			if (ch == OPT_ROOTFS)
				o->rootfs = arg;
			else
				push(&o->mounts, &o->nmounts, arg);
			break;
		case OPT_REGISTRY:
			if (registry_arg(arg, o) < 0)
				return -1;
			break;
		case OPT_HELP:
			return 1;
		default:
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pipewright: run: unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	if (o->sandbox != EXEC_SANDBOX_STRICT &&
	    (o->rootfs != NULL || o->nmounts > 0)) {
		fprintf(stderr, "pipewright: --%s needs the strict sandbox "
			"(with --sandbox none a job sees the host as it is)\n",
			o->rootfs != NULL ? "rootfs" : "mount");
		return -1;
	}
	return 0;
}

int
cmd_run(int argc, char **argv)
{
	struct run_opts o = {
		.file = ".pipewright.yml",
		.grace_ms = 10000,
		.sandbox = EXEC_SANDBOX_STRICT,
	};
	struct run_cli c;
	struct sched_options so;
	struct sched_callbacks cb;
	struct config_limits lim;
	const char *tmp = getenv("TMPDIR");
	char sup[PATH_MAX];
	char *err = NULL;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int rc;

	memset(&c, 0, sizeof(c));
	c.o = &o;
	c.status = CLI_FAILED;
	rc = parse_opts(argc, argv, &o);
	if (rc != 0) {
		cli_usage_print(rc > 0 ? stdout : stderr, &run_usage);
		rc = rc > 0 ? CLI_OK : CLI_USAGE;
		goto out_opts;
	}
	if (o.jobs == 0)
		o.jobs = cores > 0 ? (int)cores : 1;
	if (getcwd(c.workspace, sizeof(c.workspace)) == NULL) {
		fprintf(stderr, "pipewright: cannot tell the current "
			"directory: %s\n", strerror(errno));
		rc = CLI_FAILED;
		goto out_opts;
	}
	rc = cli_load_workspace_pipeline(c.workspace, o.file, stderr, &c.p);
	if (rc != CLI_OK)
		goto out_opts;
	if (images_preflight(&c) < 0) {
		rc = CLI_FAILED;
		goto out_pipeline;
	}
	if (sandbox_preflight(&c) < 0) {
		rc = CLI_FAILED;
		goto out_pipeline;
	}
	/* Restored files are the checkout's owner's under strict (the
	 * jobs' ids or idmapped to them), else ours. */
	c.ids.uid = c.owner_uid != 0 ? (uid_t)c.owner_uid : geteuid();
	c.ids.gid = c.owner_uid != 0 ? (gid_t)c.owner_gid : getegid();
	snprintf(c.tmpdir, sizeof(c.tmpdir), "%s/pipewright-run.XXXXXX",
		 tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(c.tmpdir) == NULL) {
		fprintf(stderr, "pipewright: cannot create a directory in "
			"%s: %s\n", tmp != NULL ? tmp : "/tmp", strerror(errno));
		rc = CLI_FAILED;
		goto out_pipeline;
	}
	if (c.none_as_owner && chmod(c.tmpdir, 0711) < 0) {
		fprintf(stderr, "pipewright: chmod %s: %s\n", c.tmpdir,
			strerror(errno));
		rc = CLI_FAILED;
		goto out_tmp;
	}
	if (cli_supervisor_path(sup, sizeof(sup)) < 0) {
		fprintf(stderr, "pipewright: cannot find pipewright-supervisor "
			"next to this program nor at %s\n", sup);
		rc = CLI_FAILED;
		goto out_tmp;
	}

	uv_loop_init(&c.loop);
	c.term = term_create(stdout, isatty(STDOUT_FILENO), o.color, c.p);
	run_reports_create(&c.loop, c.p, &c.reports);
	rc = exec_create(&c.loop, sup, &c.exec);
	if (rc < 0) {
		fprintf(stderr, "pipewright: %s\n", strerror(-rc));
		rc = CLI_FAILED;
		goto out_loop;
	}
	/* A network namespace ready for each parallel job, and one spare. */
	if (o.sandbox == EXEC_SANDBOX_STRICT && !c.rootless &&
	    exec_netns_pool(c.exec, o.jobs < 15 ? (size_t)o.jobs + 1 : 16) < 0)
		fprintf(stderr, "pipewright: no network namespace pool; each "
			"job makes its own\n");
	/*
	 * The server's built-in defaults bound a job that asks for nothing
	 * (a fork bomb meets the pids limit); a job may ask for more: the
	 * one running it is its own admin, so there are no ceilings.
	 */
	config_limits_builtin(&lim);
	so = (struct sched_options){
		.sandbox = o.sandbox,
		.max_jobs = o.jobs,
		.attempts_dir = c.tmpdir,
		.kill_grace_ms = o.grace_ms,
		.tied = true,
		.max_log = lim.max_log,
		.resources = {
			.memory = lim.memory.dflt,
			.pids = lim.pids.dflt,
			.cpu_seconds = lim.cpu_seconds.dflt,
		},
		.timeout_ms = lim.timeout_ms.dflt,
	};
	cb = (struct sched_callbacks){
		.event = on_event,
		.output = on_output,
		/* Both set: with neither --clean nor caches they proceed. */
		.attempt_prepare = on_prepare,
		.attempt_finish = on_finish,
		.arg = &c,
	};
	if (open_images(&c) < 0) {
		rc = CLI_FAILED;
		goto out_exec;
	}
	if (o.clean) {
		char *mirrors = xasprintf("%s/git", c.tmpdir);

		rc = scm_create(&c.loop, c.exec, mirrors, &c.scm);
		free(mirrors);
		if (rc < 0) {
			fprintf(stderr, "pipewright: %s\n", strerror(-rc));
			rc = CLI_FAILED;
			goto out_exec;
		}
	}
	rc = sched_create(&c.loop, c.exec, &so, &cb, &c.sched);
	if (rc < 0) {
		fprintf(stderr, "pipewright: %s\n", strerror(-rc));
		rc = CLI_FAILED;
		goto out_exec;
	}
	/* git fetches from the top of the checkout, where .git is. */
	if (o.clean && !has_git(c.workspace)) {
		fprintf(stderr, "pipewright: --clean: %s is not the top of a git "
			"checkout (no .git there)\n", c.workspace);
		rc = CLI_FAILED;
		sched_destroy(c.sched);
		goto out_exec;
	}
	uv_signal_init(&c.loop, &c.sigint);
	uv_signal_init(&c.loop, &c.sigterm);
	c.sigint.data = c.sigterm.data = &c;
	uv_signal_start(&c.sigint, on_signal, SIGINT);
	uv_signal_start(&c.sigterm, on_signal, SIGTERM);

	ask_git(&c);
	uv_run(&c.loop, UV_RUN_DEFAULT);

	if (c.run != NULL && sched_run_finished(c.run)) {
		term_summary(c.term, c.run);
		run_reports_summary(c.reports, stdout);
	}
	rc = c.interrupted ? CLI_INTERRUPTED : c.status;
	if (run_cache_close(c.cache, rc == CLI_OK, &err) < 0) {
		fprintf(stderr, "pipewright: %s\n", err);
		free(err);
	}
	sched_run_destroy(c.run);
	sched_destroy(c.sched);
	while (c.nuses > 0)
		image_use_release(c.uses[--c.nuses]);
	free(c.uses);
out_exec:
	image_cache_destroy(c.images);
	if (c.scm != NULL)
		scm_destroy(c.scm);
	exec_destroy(c.exec);
out_loop:
	term_destroy(c.term);
	run_reports_destroy(c.reports);
	if (uv_loop_close(&c.loop) != 0)
		fprintf(stderr, "pipewright: internal error: handles left "
			"open at exit\n");
out_tmp:
	pw_remove_tree(c.tmpdir);
out_pipeline:
	pipeline_destroy(c.p);
	free(c.git_env);
	free(c.branch);
	free(c.commit);
	free(c.tag);
	free(c.dirty);
out_opts:
	free(o.only);
	free(o.approve);
	free(o.env);
	free(o.mounts);
	while (o.nregs > 0)
		free((char *)o.regs[--o.nregs].host);
	free(o.regs);
	return rc;
}
