/*
 * exec's private layout, shared by its own files only.
 *
 * struct exec is the module root: the loop, the supervisor's path and the
 * count of attempts and helpers whose callbacks have not run yet.  An
 * attempt or helper never touches its struct exec after its final
 * callback, so the caller may destroy the exec right then; the objects
 * themselves are freed in the last uv_close callback of their handles.
 */
#ifndef PW_EXEC_INT_H
#define PW_EXEC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>
#include <uv.h>

#include "pipewright/exec.h"
#include "pipewright/supervisor-proto.h"
#include "pipewright/util.h"

#define EXEC_CHUNK (64 * 1024)       /* socket reads and file read-backs */
#define EXEC_MAX_STATUS (64 * 1024)  /* END frames longer than this are refused */

struct exec {
	uv_loop_t *loop;
	char *supervisor_path;
	size_t active;               /* attempts + helpers before their final callback */
	struct exec_attempt *let_go; /* detached, their supervisor (our child)
	                                still running: waited for till exec_destroy */
	struct exec_netns *netns;    /* the network namespace pool, or NULL */
	/* Pre-started supervisors (pool.c). */
	struct exec_attempt *pool;   /* waiting or drained ones, owned */
	size_t pool_size;            /* how many should wait */
	size_t pool_waiting;         /* how many do */
	unsigned pool_failures;      /* exits while waiting, spawns failed,
	                                in a row */
	struct exec_pool_work *pool_work; /* the refill under way, or NULL */
	bool notes;                  /* exec_log_notes: sizes, not bytes */
};

/* envfd.c, for start.c */
#define EXEC_SUPERVISOR_PATH_ENV "/usr/sbin:/usr/bin:/sbin:/bin"
/* The supervisor's fixed environment (caller frees: pw_strv_free). */
char **exec_supervisor_env(void);
/*
 * The job's environment as a sealed memfd of "K=V\0" entries (caller
 * closes): -E2BIG past SUPERVISOR_MAX_ENV(_VARS), -EINVAL for an entry
 * without a name.
 */
int exec_env_memfd(const char *const *env, int *out) PW_WUR;
/* The services' spec as a sealed memfd (--services-fd). */
int exec_services_memfd(const struct exec_service *svcs, size_t n,
			int *out) PW_WUR;

/* netns.c, for start.c and exec.c */
/* A pooled namespace (caller closes), or -1; starts a refill if low. */
int exec_netns_take(struct exec *e);
void exec_netns_free(struct exec *e);

/* pool.c, for start.c and exec.c */
/* A waiting supervisor (its state TAKEN), or NULL; arms a refill. */
struct exec_attempt *exec_pool_take(struct exec *e);
/*
 * Sends the spec: argv (NULL-terminated) and fds, which the supervisor
 * puts at 3, 4...  -E2BIG past SUPERVISOR_MAX_SPEC, -EPIPE and the like
 * when it is gone; then exec_pool_sent(a, false) and spawn a fresh one.
 */
int exec_pool_send(struct exec_attempt *a, char *const *argv, const int *fds,
		   size_t nfds) PW_WUR;
/* After exec_pool_send: ok, `a` is an attempt; else it goes back to be reaped. */
void exec_pool_sent(struct exec_attempt *a, bool ok);
/* exec_destroy: closes the pool; its supervisors exit (reaped by others). */
void exec_pool_free(struct exec *e);

/* Frames from the supervisor, fed in pieces as they arrive. */
enum exec_parse_state {
	EXEC_PARSE_GREETING,         /* waiting for "OK <version>" */
	EXEC_PARSE_HEADER,           /* waiting for "LOG n" or "END n" */
	EXEC_PARSE_LOG,              /* `remaining` log bytes to come */
	EXEC_PARSE_END,              /* `remaining` status bytes to come */
	EXEC_PARSE_DONE,             /* END complete: status in `end` */
	EXEC_PARSE_ERROR,            /* protocol error: message in `error` */
};

struct exec_parser {
	enum exec_parse_state state;
	unsigned version;            /* agreed in the greeting; 0 before */
	char line[SUPERVISOR_MAX_LINE]; /* header line so far */
	size_t line_len;
	uint64_t remaining;
	/* A "SIZE n" note (version 2): the log has n bytes; NULL: refused. */
	void (*size_cb)(uint64_t size, void *arg);
	void *size_arg;
	struct buf end;              /* the END frame's payload */
	char *error;                 /* for people; owned */
};

typedef void (*exec_parser_log_cb)(const char *data, size_t len, void *arg);

void exec_parser_init(struct exec_parser *p);
void exec_parser_free(struct exec_parser *p);
/*
 * Feeds bytes; log payload goes to cb as it comes (possibly in pieces).
 * Stops at DONE or ERROR (bytes after that are ignored).  Returns the
 * state reached.
 */
enum exec_parse_state exec_parser_feed(struct exec_parser *p,
				       const char *data, size_t len,
				       exec_parser_log_cb cb, void *arg);
/*
 * Parses a status file's contents.  st->reason points into *reason_out
 * (caller frees).  0 or -EINVAL.
 */
int exec_status_parse(const char *text, size_t len, struct exec_status *st,
		      char **reason_out) PW_WUR;

struct exec_attempt {
	struct exec *e;              /* NULL after end_cb: never touched again */
	uv_loop_t *loop;
	char *dir;
	/*
	 * Handles, each counted in open_handles from its init to its close
	 * callback: the supervisor process (exec_start only: an attached
	 * supervisor is not our child), our client connection (absent when
	 * exec_attach found only files), and the idle handle that delivers
	 * the log file's rest when the end comes from the files.
	 */
	uv_process_t proc;
	/*
	 * A pooled supervisor is spawned without uv_spawn (pool.c:
	 * posix_spawn, no copy of our address space) and watched through
	 * its pidfd: `pidpoll` then stands where `proc` would
	 * (exec_proc_handle), by_pidfd says so, and pidfd is closed when
	 * the attempt is freed.
	 */
	uv_poll_t pidpoll;
	int pidfd;
	int tie_fd;                  /* a tied attempt's end of the tie (start.c), or -1 */
	bool by_pidfd;
	uv_pipe_t sock;
	uv_idle_t tail;
	bool has_proc, has_sock, has_tail;
	struct exec *reaper;         /* in its let_go list: the process handle
	                                stays open (unref'd) to reap the child */
	struct exec_attempt *next_let_go;
	int open_handles;            /* freed when 0 and ended */
	exec_output_cb output_cb;
	bool notes;                  /* output_cb gets notes (exec_log_notes) */
	exec_end_cb end_cb;
	void *arg;
	struct exec_parser parser;
	uint64_t received;           /* log offset of the next byte for output_cb */
	bool sock_done;              /* no more frames: END, EOF or error */
	bool proc_exited;
	int64_t exit_status;         /* the supervisor's, once exited */
	int term_signal;
	bool cancel_sent;
	bool ended;                  /* end_cb has run, or detached: no more callbacks */
	/* The end from the files, delivered from the tail handle. */
	int tail_fd;                 /* DIR/log, or -1 */
	uint64_t tail_limit;         /* deliver up to here (or the file's end) */
	bool tail_lost;              /* no status file: EXEC_LOST */
	struct exec_status tail_st;  /* the status file's, unless lost */
	char *tail_reason;           /* holds what tail_st.reason points into */
	/* A pre-started supervisor (pool.c); EXEC_POOL_NONE for the others. */
	enum exec_pool_state {
		EXEC_POOL_NONE,
		EXEC_POOL_WAITING,   /* blocked on its spec socket */
		EXEC_POOL_DRAINED,   /* our end closed: exiting, to be reaped */
		EXEC_POOL_TAKEN,     /* got its spec: an attempt like any other */
	} pool_state;
	struct exec *pool_exec;      /* the pool's owner, while it has one */
	pid_t pool_pid;              /* its pid */
	int pool_fd;                 /* our end of its spec socket, or -1 */
	struct exec_attempt *next_pooled;
	/* EXEC_CHUNK bytes, allocated apart: inside the struct, calloc
	 * zeroed 64 KiB per attempt (65,000 instructions, a tenth of the
	 * daemon's per job), for a buffer every read overwrites. */
	char *rbuf;
};

/* start.c, for attach.c */
/* sun_path "/proc/self/fd/<dirfd>/sock": short whatever the dir's length. */
void exec_sock_addr(int dirfd, struct sockaddr_un *addr);
/* A blocking connect (immediate for a unix socket); 0 or -errno. */
int exec_connect(const struct sockaddr_un *addr, int *out) PW_WUR;
int exec_send_all(int fd, const char *s) PW_WUR;

/* attempt.c, for start.c and attach.c */
/* The version an ATTACH greets with: 2 (notes) only if notes are wanted. */
unsigned exec_greeting_version(const struct exec *e);
/*
 * Whether the attempt's caller gets notes (exec_log_notes) and its
 * parser takes "SIZE n": set when it is made, and again when a pooled
 * one, made earlier, is taken (the greeting is the exec's of that time).
 */
void exec_attempt_notes(struct exec_attempt *a, bool on);
/* A new attempt without handles (has_* false), not counted as active. */
struct exec_attempt *exec_attempt_new(struct exec *e, const char *dir,
				      exec_output_cb output_cb,
				      exec_end_cb end_cb, void *arg);
/* The connection is open: start reading frames. */
void exec_attempt_begin(struct exec_attempt *a);
/* Nothing to read from (exec_attach found only files): end from them. */
void exec_attempt_from_files(struct exec_attempt *a);
/* exec_start/exec_attach failed: close what was opened, free, call nothing. */
void exec_attempt_abort(struct exec_attempt *a);
void exec_attempt_on_exit(uv_process_t *proc, int64_t exit_status,
			  int term_signal);
/* exec_destroy: stops waiting for the supervisors let go of. */
void exec_let_go_close(struct exec *e);
/* The supervisor's exit, however it was watched (exit_cb's arguments). */
void exec_attempt_exited(struct exec_attempt *a, int64_t exit_status,
			 int term_signal);

/* The handle that watches the supervisor: its uv_process_t or pidfd poll. */
static inline uv_handle_t *
exec_proc_handle(struct exec_attempt *a)
{
	return a->by_pidfd ? (uv_handle_t *)&a->pidpoll
			   : (uv_handle_t *)&a->proc;
}

#endif
