/*
 * scm's private layout, shared by its own files only.
 *
 * A checkout is a job walking through a fixed list of git calls (enum
 * scm_step).  The steps that touch a mirror run while the job holds it:
 * each mirror has at most one holder and a queue of jobs waiting, in the
 * order they came to it (after their workspace's git init).  A mirror
 * entry exists while it has a holder; the directory on disk stays for
 * good.
 */
#ifndef PW_SCM_INT_H
#define PW_SCM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "pipewright/scm.h"
#include "pipewright/util.h"

#define SCM_MAX_OUTPUT (256 * 1024)  /* of one git call, in the log */
#define SCM_MAX_LOG (1024 * 1024)    /* of one checkout */
#define SCM_PATH "PATH=/usr/local/bin:/usr/bin:/bin"

struct scm_job;

struct scm_mirror {
	struct scm_mirror *next;     /* in scm.mirrors */
	char *name;                  /* the project */
	char *path;                  /* <mirrors_dir>/<name>.git, absolute */
	struct scm_job *holder;      /* fetching into it or reading it; never NULL */
	struct scm_job *waiting;     /* first in line, then job->next_waiting */
};

struct scm {
	uv_loop_t *loop;
	struct exec *exec;
	char *mirrors_dir;           /* absolute */
	char *home;                  /* the empty HOME git runs with */
	struct scm_mirror *mirrors;  /* the ones held now */
	size_t active;               /* jobs before their callback */
};

enum scm_step {
	SCM_STEP_INIT_WS,            /* git init, in the workspace */
	SCM_STEP_INIT_MIRROR,        /* git init --bare <mirror>.new */
	SCM_STEP_CONFIG_MIRROR,      /* allowAnySHA1InWant; then renamed */
	SCM_STEP_HAVE_SHA,           /* sha on the mirror's copy of the ref
	                                already?  Then no fetch at all */
	SCM_STEP_FETCH_MIRROR,       /* the ref from the repo, with the token */
	SCM_STEP_REF_HEAD,           /* the ref's commit, for the caller */
	SCM_STEP_IS_ANCESTOR,        /* sha on the ref? */
	SCM_STEP_FETCH_WS,           /* sha from the mirror; then released */
	SCM_STEP_CHECKOUT,
	SCM_STEP_VERIFY,             /* HEAD == sha */
};

struct scm_job {
	struct scm *s;
	struct scm_mirror *m;        /* set once it asked for the mirror */
	struct scm_job *next_waiting;
	char *project, *repo, *fetch_ref, *sha, *workspace;
	char *dst_ref;               /* the mirror's ref for fetch_ref */
	char *head;                  /* the caller's buffer, or NULL */
	char *mirror_new;            /* the mirror while it is being made */
	uint64_t timeout_ms;
	enum scm_step step;
	char **env;                  /* git's environment, no token */
	char **env_token;            /* with the token: the mirror fetch only */
	char *secrets[3];            /* token, its base64, the header: scrubbed */
	struct buf log;
	scm_done_cb cb;
	void *arg;
};

/* env.c */
/* "Authorization: Basic base64(x-access-token:TOKEN)" (caller frees). */
char *scm_auth_header(const char *token);
/*
 * git's environment: the minimal one and GIT_CONFIG_* keys; with header
 * (not NULL) also http.extraHeader.  NULL-terminated; scm_env_free().
 */
char **scm_env_new(const char *home, const char *header);
void scm_env_free(char **env);
/* url with the password of its user info (scheme://user:PASS@host) as ***
 * (caller frees). */
char *scm_redact_url(const char *url);
/* Appends data to b with every non-empty secret in secrets[n] as ***. */
void scm_log_scrubbed(struct buf *b, const char *data, size_t len,
		      char *const *secrets, size_t n);
/* refs/heads/a/b -> refs/pipewright/heads%2Fa%2Fb (caller frees): flat, so
 * no ref is ever a directory of another. */
char *scm_mirror_ref(const char *fetch_ref);

/* steps.c */
/* Runs the job's current step; on failure finishes the job. */
void scm_job_run(struct scm_job *j);
/* Starts the first step (the workspace's git init); -errno if git cannot
 * be started (nothing called). */
int scm_job_start(struct scm_job *j) PW_WUR;

/* scm.c, for steps.c */
/* The job holds the mirror or waits for it; runs it when it holds it. */
void scm_mirror_acquire(struct scm_job *j);
/* The job is done with its mirror: the next in line starts. */
void scm_mirror_release(struct scm_job *j);
/* Ends the job: the message as the log's last line, the callback, free. */
void scm_job_finish(struct scm_job *j, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void scm_job_free(struct scm_job *j);

/* files.c */
int scm_dir_prepare(const char *dir) PW_WUR;   /* absent: made; else empty */
/* scm_read_file with a choice of openat2 or the realpath check. */
int scm_read_file_how(const char *workspace, const char *path, size_t max,
		      bool use_openat2, char **out, size_t *len) PW_WUR;

/* workspace.c */
/*
 * Gives each file the log names (git log --format=%ct --name-only -z
 * --root output) the newest of its commit times, beneath workspace and
 * never through a symlink.  Blocking: a worker thread's.  0 or -errno
 * (the workspace cannot be opened); a file missing is skipped.
 */
int scm_set_mtimes(const char *workspace, const char *log, size_t len) PW_WUR;

#endif
