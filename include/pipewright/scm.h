/*
 * scm: a run's source, checked out with git at exactly one commit.
 *
 * Each project has one bare mirror, <mirrors_dir>/<project>.git, made on
 * first use and updated with `git fetch` of the ref a run asks for; fetches
 * into one mirror (and the workspace fetches that read it) run one at a
 * time, first come first served, while different projects proceed in
 * parallel.
 * A run's workspace is then a fresh repository of its own, filled with
 * `git fetch --depth=50 file://<mirror> <sha>` and checked out detached at
 * that sha: no worktree, no alternates, nothing that points into the
 * mirror, which the sandbox hides from jobs.
 *
 * git runs through exec_helper_spawn() (unsandboxed, as the daemon) with a
 * minimal environment: no terminal prompts, ssh in batch mode, no system or
 * user git config, and a timeout on every call.  A clone token travels as an
 * http.extraHeader in GIT_CONFIG_* variables: never in a URL, an argument
 * (visible in ps) or the log.  docs/internals/scm.md has the details.
 *
 * All callbacks run on the loop thread.  If a function fails, its callback
 * is never called.
 */
#ifndef PIPEWRIGHT_SCM_H
#define PIPEWRIGHT_SCM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "pipewright/exec.h"
#include "pipewright/util.h"

struct scm;

/* Per git call when a request says 0. */
#define SCM_DEFAULT_TIMEOUT_MS (10 * 60 * 1000)
/* History a workspace gets (git fetch --depth). */
#define SCM_DEPTH 50

struct scm_request {
	const char *project;      /* names the mirror: [A-Za-z0-9_.-]+, not
	                             "." or ".." (config's project names) */
	const char *repo;         /* https or ssh URL, scp-like host:path, or
	                             a local path (absolute, or taken from the
	                             daemon's working directory) */
	const char *fetch_ref;    /* full ref to fetch into the mirror:
	                             refs/heads/main, refs/tags/v1,
	                             refs/pull/7/head, refs/merge-requests/3/head */
	const char *sha;          /* the commit to check out, 40 (or 64) hex;
	                             it must be on fetch_ref */
	const char *workspace;    /* a directory to fill: absent (made, 0755,
	                             its parent must exist) or empty */
	const char *clone_token;  /* NULL: none; sent to https remotes as
	                             "Authorization: Basic base64(x-access-token:
	                             TOKEN)" */
	uint64_t timeout_ms;      /* per git call; 0: SCM_DEFAULT_TIMEOUT_MS */
	char *head;               /* NULL, or SCM_SHA_MAX + 1 bytes of the
	                             caller's, valid until the callback, that
	                             receive the commit fetch_ref names on
	                             repo as fetched ("" if unknown): the
	                             ref is then always fetched, never taken
	                             from the mirror's copy, so that a pushed
	                             sha can be told from the ref's head */
};

/* A commit id's hex digits at most (SHA-256). */
#define SCM_SHA_MAX 64

/*
 * rc: 0 (the workspace holds the commit, HEAD detached at sha) or
 *   -ETIMEDOUT  a git call timed out (killed with its process group)
 *   -ENOENT     the sha is not on fetch_ref of repo after fetching it
 *   -EIO        git failed (its message is in the log)
 *   other -errno: git could not be started, the mirror could not be made
 * log: the git commands run and what git said, for the run's log; the last
 * line says what failed.  It never contains the clone token.  Valid during
 * the call only.  Called exactly once.
 */
typedef void (*scm_done_cb)(int rc, const char *log, size_t len, void *arg);

/*
 * mirrors_dir is made (0700) if missing; it also holds `home`, the empty
 * HOME git runs with.  exec runs the git processes; both must outlive the
 * scm.
 */
int scm_create(uv_loop_t *loop, struct exec *exec, const char *mirrors_dir,
	       struct scm **out) PW_WUR;
/* Only when idle (scm_active() is 0), which may be inside the last done
 * callback. */
void scm_destroy(struct scm *s);
/* Checkouts asked for whose callback has not run yet. */
size_t scm_active(const struct scm *s);

/*
 * Starts a checkout; the request's strings are copied.  Fails at once with
 * -EINVAL for a request that is malformed (a project name that is not a
 * plain name, a ref that is not refs/..., a sha that is not hex, a repo or
 * workspace starting with '-', a token with a line break) and -ENOTEMPTY
 * for a workspace that already holds something.
 */
int scm_checkout(struct scm *s, const struct scm_request *req,
		 scm_done_cb cb, void *arg) PW_WUR;

/*
 * A job's workspace: a repository of its own at `sha`, fetched from a
 * local repository that has it (the run's checkout), shallow past
 * SCM_DEPTH commits, no remote; every file's mtime is the newest commit
 * time among the commits that touched it (the oldest commit of the
 * shallow history for a file none touched since), so that two workspaces
 * of one commit have the same times whenever they are made.  Then, with
 * uid set, the tree is handed to uid:gid (gid 0: equal to the uid).
 * Both in a worker thread.
 */
struct scm_workspace_request {
	const char *source;       /* absolute path of a local repository */
	const char *sha;          /* 40 (or 64) hex */
	const char *workspace;    /* absent (made, 0755) or empty */
	uid_t uid;                /* 0: left the daemon's */
	gid_t gid;
	uint64_t timeout_ms;      /* per git call; 0: SCM_DEFAULT_TIMEOUT_MS */
};
/*
 * cb as for scm_checkout (rc 0, -ETIMEDOUT, -EIO, -errno).  -EINVAL: a
 * source that is not absolute, a sha that is not hex, a workspace that
 * starts with '-'; -ENOTEMPTY: the workspace holds something.
 */
int scm_workspace(struct scm *s, const struct scm_workspace_request *req,
		  scm_done_cb cb, void *arg) PW_WUR;

/*
 * The commit a full ref (refs/heads/main) names on the remote now, for a
 * run no push named a commit for (a schedule): cb gets 0 and the sha, or
 * -ENOENT (no such ref), -ETIMEDOUT, -EIO.
 */
typedef void (*scm_resolve_cb)(int rc, const char *sha, void *arg);
int scm_resolve(struct scm *s, const char *repo, const char *ref,
		const char *clone_token, uint64_t timeout_ms,
		scm_resolve_cb cb, void *arg) PW_WUR;

/*
 * The remote's default branch (the branch its HEAD names) and that
 * branch's commit now, for a run that names no ref: cb gets 0, the full
 * ref (refs/heads/main) and the sha, or -ENOENT (HEAD names no branch:
 * an empty repository, a detached HEAD), -ETIMEDOUT, -EIO.  Both strings
 * are valid during the call only.
 */
typedef void (*scm_resolve_head_cb)(int rc, const char *ref, const char *sha,
				    void *arg);
int scm_resolve_head(struct scm *s, const char *repo, const char *clone_token,
		     uint64_t timeout_ms, scm_resolve_head_cb cb,
		     void *arg) PW_WUR;

/*
 * Reads `path` (relative, no ".." component, not inside .git) from a
 * checked-out workspace into *out (NUL-terminated, caller frees) and its
 * size into *len.  The file must stay beneath the workspace even through
 * symlinks (openat2 RESOLVE_BENEATH; a realpath check where the kernel
 * lacks it): a repository cannot make the daemon read /etc/shadow as its
 * pipeline.  0, or -EINVAL (bad path), -EXDEV (it leads outside),
 * -EISDIR/-EINVAL (not a regular file), -EFBIG (larger than max), -errno.
 */
int scm_read_file(const char *workspace, const char *path, size_t max,
		  char **out, size_t *len) PW_WUR;

/*
 * Hands a checked-out tree to the uid a sandboxed job runs as: lchown of
 * dir and everything beneath it, symlinks themselves never followed.  The
 * daemon checks out as root, then calls this.  0 or the first -errno.
 */
int scm_chown_tree(const char *dir, uid_t uid, gid_t gid) PW_WUR;

#endif
