/*
 * exec: the one place that starts processes.
 *
 * A job attempt runs under pipewright-supervisor, a separate small binary
 * (libc only) that owns the job's process tree and output pipe, writes the
 * output to <dir>/log and the result to <dir>/status, and serves both on the
 * unix socket <dir>/sock (protocol in supervisor-proto.h).  exec binds and
 * listens on that socket itself and hands the listening descriptor to the
 * supervisor, so the socket exists before the supervisor runs and connecting
 * to it never races the supervisor's start.
 *
 * exec_helper() runs a short unsandboxed command (git for scm, the CLI's
 * look at the current branch) and collects its output.
 *
 * All callbacks run on the loop thread.  If a function fails, its callbacks
 * are never called.
 */
#ifndef PIPEWRIGHT_EXEC_H
#define PIPEWRIGHT_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "pipewright/util.h"

struct exec;
struct exec_attempt;

/* How a job is confined; docs/internals/sandbox.md says what strict gives. */
enum exec_sandbox {
	EXEC_SANDBOX_NONE,        /* unconfined, as the caller (the zero value) */
	EXEC_SANDBOX_STRICT,      /* namespaces, cgroups, seccomp; refuses to
	                             start if any of it is missing */
};

/* A job's limits under strict; 0: no limit. */
struct exec_resources {
	uint64_t memory;          /* bytes, cgroup */
	uint64_t pids;            /* processes and threads, cgroup */
	uint64_t cpu_seconds;     /* RLIMIT_CPU, per process */
	uint64_t file_size;       /* bytes, RLIMIT_FSIZE */
	uint64_t open_files;      /* RLIMIT_NOFILE */
};

/*
 * A service beside the job (docs/internals/supervisor.md, "Services"):
 * started by the job's first process inside its sandbox, in the order
 * given, before the script; stopped after it.  Its output goes to
 * <dir>/services/<name>.log.
 */
struct exec_service {
	const char *name;         /* [a-z][a-z0-9_-]*, at most 32 bytes */
	const char *const *argv;  /* NULL-terminated; `$NAME`s expanded by
	                             the supervisor; with shell, one command
	                             for sh -c */
	bool shell;
	const char *const *setup; /* sh -e -c commands before it; NULL-term. */
	const char *const *env;   /* "K=V" over the job's, values expanded */
	const char *ready;        /* "tcp:PORT", "http:URL", "command:CMD"; NULL */
	uint64_t ready_timeout_ms;
};

struct exec_spec {
	const char *dir;          /* attempt directory; created (0700) if missing,
	                             with a writable dir/home for HOME */
	const char *const *argv;  /* what the job runs, NULL-terminated */
	const char *const *env;   /* its complete environment, "K=V", NULL-terminated */
	const char *cwd;          /* its working directory; NULL: ours */
	uint64_t timeout_ms;      /* 0: none; enforced by the supervisor */
	uint64_t kill_grace_ms;   /* SIGTERM → SIGKILL delay on timeout/cancel,
	                             and for processes left behind when the
	                             job's main process exits; 0: SIGKILL now */
	uint64_t max_log;         /* log cap in bytes; 0: the default (64 MiB) */
	bool tied;                /* the job dies with this process (pipewright
	                             run): when its last thread has gone (a pipe,
	                             the supervisor's --tie-fd), or when
	                             exec_destroy lets a detached one go.
	                             Untied (the daemon), the supervisor runs in
	                             a session of its own and outlives us */
	/* Sandbox; all zero: unconfined, as before. */
	enum exec_sandbox sandbox;
	const char *workspace;    /* strict: bound writable at its path; NULL: cwd */
	const char *workspace_at; /* strict: the path the job sees it at
	                             instead (/builds/<project>); cwd is then
	                             a path inside the sandbox; NULL: its own */
	bool network;             /* strict: granted outbound network (a
	                             namespace of its own through slirp4netns,
	                             never the host's), not loopback only */
	struct exec_resources resources; /* strict only */
	uint32_t uid;             /* strict: host uid of the job's root (or of
	                             its `user`), required; a workspace of
	                             another owner is idmapped to it; without
	                             root, ours.  none: 0 runs the job as us,
	                             else (we being root) as this host user */
	uint32_t gid;             /* its host gid; 0: equal to the uid
	                             (never the workspace's group); the job
	                             has no supplementary groups */
	const char *rootfs;       /* strict: a ready directory tree (an
	                             unpacked image, never written) that is
	                             the job's / instead of the host's system
	                             directories; NULL: the host's */
	const char *const *mounts; /* strict: host paths bound read-only at
	                             the same path inside (the admin's, never
	                             a pipeline's); NULL-terminated or NULL */
	const char *user;         /* strict: who the script runs as inside:
	                             "N", "N:G" or a name (resolved in the
	                             job's root's /etc/passwd and /etc/group),
	                             given the host uid above; NULL: uid 0 */
	const char *const *mask;  /* names of variables in env whose values are
	                             replaced by "***" in the log; NULL-terminated
	                             or NULL (any mode) */
	const struct exec_service *services; /* in start order; any mode */
	size_t nservices;         /* at most 8 */
};

enum exec_result {
	EXEC_SUCCESS,
	EXEC_FAILED,
	EXEC_TIMED_OUT,
	EXEC_CANCELED,
	EXEC_LOST,        /* the supervisor went away without a result */
};

struct exec_status {
	enum exec_result result;
	int exit_code;    /* the script's exit status; -1 if killed by a signal */
	int term_signal;  /* the signal that ended it, or 0 */
	const char *reason; /* for people: "exit status 2", "killed: timeout 1m exceeded" */
	uint64_t log_bytes; /* bytes in the log, marker included */
	uint64_t started_ms, finished_ms; /* UTC ms, as the supervisor saw them */
	uint64_t execve_mono_us;  /* CLOCK_MONOTONIC µs just before the job's execve; 0: unknown */
	uint64_t exited_mono_us;  /* CLOCK_MONOTONIC µs the supervisor saw it exit; 0: unknown */
	/* The hand-off's other stamps (CLOCK_MONOTONIC µs, 0: unknown), for
	 * debug lines: a pooled supervisor got its spec, the output was
	 * drained and the status begun. */
	uint64_t spec_mono_us, drained_mono_us;
};

/*
 * Log bytes as the supervisor recorded them, in order, without gaps.  With
 * exec_log_notes on, data is NULL and len says by how many bytes dir/log
 * has grown: the bytes are in the file, before the call.
 */
typedef void (*exec_output_cb)(struct exec_attempt *a, const char *data,
			       size_t len, void *arg);
/*
 * The attempt ended; `a` must not be used after this returns.  It can come
 * before the supervisor process has exited: keep running the loop until
 * its handles are closed (uv_loop_close() tells).
 */
typedef void (*exec_end_cb)(struct exec_attempt *a,
			    const struct exec_status *st, void *arg);

/*
 * supervisor_path: the pipewright-supervisor binary.  Caller destroys with
 * exec_destroy() once every attempt and helper has ended (exec_active() is
 * 0), which may be inside the last end callback.
 */
int exec_create(uv_loop_t *loop, const char *supervisor_path,
		struct exec **out) PW_WUR;
void exec_destroy(struct exec *e);
/*
 * Keeps up to `size` empty network namespaces made ahead of time (by a
 * helper process) for strict jobs without network; each is used by one
 * job.  Without a pool, or when it is empty, the supervisor makes one.
 */
int exec_netns_pool(struct exec *e, size_t size) PW_WUR;
/* Namespaces in the pool now (for tests and benchmarks). */
size_t exec_netns_available(const struct exec *e);

/*
 * Keeps `size` supervisors (at most 64) started ahead, each waiting for
 * one attempt's spec, so that exec_start costs a message instead of a
 * fork and an exec (docs/internals/supervisor.md, "Pre-started
 * supervisors").  Filled in this call, refilled from the loop after each
 * start; 0 drains the pool: its supervisors exit (call it before an
 * upgrade, whose binary may be new, and at a stop).  A start finds the
 * pool empty, or its supervisor gone, and spawns a fresh one as without
 * a pool.  An error says a spawn failed; the pool keeps what it has.
 */
int exec_supervisor_pool(struct exec *e, size_t size) PW_WUR;
/* Supervisors waiting in the pool now (for tests and benchmarks). */
size_t exec_supervisor_pooled(const struct exec *e);

/*
 * Whether attempts started or attached from now on hand output_cb the
 * bytes (off, the default) or only notes of how far dir/log has grown
 * (on): the caller reads the file itself, off the loop or only when it
 * needs the bytes, and the bytes never cross the socket.  Supervisors of
 * an older protocol still send bytes; exec turns them into notes.
 */
void exec_log_notes(struct exec *e, bool on);

/* Starts one supervised attempt. */
int exec_start(struct exec *e, const struct exec_spec *spec,
	       exec_output_cb output_cb, exec_end_cb end_cb, void *arg,
	       struct exec_attempt **out) PW_WUR;
/*
 * Asks the supervisor to end the job: SIGTERM to its whole tree, SIGKILL
 * after the grace.  end_cb follows with EXEC_CANCELED (or the result it had
 * already reached).
 */
int exec_cancel(struct exec_attempt *a) PW_WUR;
const char *exec_attempt_dir(const struct exec_attempt *a);
/*
 * Takes up an attempt that an earlier exec started (another process, maybe
 * an older pipewright speaking an older protocol version): output_cb gets
 * the log from byte `offset` on, then end_cb its end, exactly as after
 * exec_start.  What decides is what answers, never a pid:
 *  - the socket in dir answers: attached, the supervisor streams the rest;
 *  - nothing listens but dir/status exists: the job ended while nobody
 *    was attached; the log file from `offset` and that status are
 *    delivered from the loop (never inside this call);
 *  - neither: -ESRCH (it ran and vanished), or -ENOENT if there is not
 *    even a log: no supervisor ever started the job there; no callback
 *    ever runs.
 * Other errors (-ENOMEM, an unreadable dir...) are returned likewise.
 */
int exec_attach(struct exec *e, const char *dir, uint64_t offset,
		exec_output_cb output_cb, exec_end_cb end_cb, void *arg,
		struct exec_attempt **out) PW_WUR;
/*
 * Lets go of an attempt without ending it: our connection closes, the
 * supervisor (started without `tied`) goes on with the job, writes its log
 * and status, and a later exec_attach continues where the caller's stored
 * log ends.  No callback runs after this; `a` must not be used again.
 * A supervisor that is our child is still reaped when it exits, without
 * keeping the loop alive, until exec_destroy (then by whoever inherits it
 * once this process exits): a process that lives on after letting go of
 * its jobs (an upgrade that failed) leaves no zombies.
 */
void exec_detach(struct exec_attempt *a);

/* The number of attempts and helpers that have not ended yet. */
size_t exec_active(const struct exec *e);

/*
 * Runs argv unsandboxed in cwd (NULL: inherit) with env (NULL: inherit),
 * stdin /dev/null, stdout and stderr captured together up to max_output
 * bytes (more is dropped).  cb gets the exit status (128+signal if killed)
 * and the output (NUL-terminated, valid during the call), or -ETIMEDOUT
 * (exec_helper_spawn with a timeout only).  A program that cannot be
 * started fails the call itself (UV_ENOENT...) and cb never runs.
 */
typedef void (*exec_helper_cb)(int status, const char *output, size_t len,
			       void *arg);
int exec_helper(struct exec *e, const char *const *argv, const char *cwd,
		const char *const *env, size_t max_output, exec_helper_cb cb,
		void *arg) PW_WUR;

/* exec_helper()'s arguments, and a deadline. */
struct exec_helper_spec {
	const char *const *argv;  /* argv[0] looked up in env's PATH */
	const char *cwd;          /* NULL: ours */
	const char *const *env;   /* NULL: ours */
	size_t max_output;
	uint64_t timeout_ms;      /* 0: none.  Else the helper runs in a
	                             process group of its own (a new session),
	                             which gets SIGKILL when the time is up; cb
	                             then gets -ETIMEDOUT and the output so far,
	                             without waiting more than a second for
	                             descendants that left the group to close
	                             the output. */
};
int exec_helper_spawn(struct exec *e, const struct exec_helper_spec *spec,
		      exec_helper_cb cb, void *arg) PW_WUR;

#endif
