/*
 * pipewright-supervisor's private declarations: the one struct supervisor
 * that main() builds and passes down, and what each file offers the others.
 *
 * The supervisor holds one job: it forks it in its own process group, reads
 * its output pipe into DIR/log, serves the log and the result on the
 * listening socket it was given, and kills whatever is left of the job's
 * process tree once the job's main process has exited (or on timeout or
 * cancel).  It is a child subreaper, so everything the job starts stays
 * below it; the tree is empty exactly when waitpid(-1) reports ECHILD.
 *
 * Invariants: one thread; every descriptor is O_CLOEXEC; nothing blocks
 * except poll(); the status file is written once, after the tree is gone
 * and the log is complete, and only then are END frames sent.
 */
#ifndef PW_SUPERVISOR_H
#define PW_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pipewright/supervisor-proto.h"
#include "pipewright/util.h"

#define SV_PREFIX "pipewright-supervisor: "
#define SV_CHUNK (64 * 1024)      /* LOG frames, at most */
#define SV_PIPE_SIZE (1024 * 1024) /* the job's output pipe */
/*
 * Our reads of it, a round's at most: small enough that the bytes are
 * still in the CPU's cache when they are written to the log (a 1 MiB
 * buffer took 1.6 times the CPU of this one for the same 512 MiB).
 */
#define SV_READ_BUF (256 * 1024)
#define SV_ATTACH_WAIT_MS 5000    /* after the end, time a client has to attach */
#define SV_LINGER_MS 30000        /* after the end, time a client may stall */
#define SV_NOTE_MS 10             /* a version-2 client's notes, at most one per */
#define SV_RESCAN_MS 100          /* period of scan+SIGKILL until the tree is gone */
#define SV_MAX_CLIENTS 64         /* more connections are closed at once */

enum sv_cause {
	SV_CAUSE_NONE,
	SV_CAUSE_TIMEOUT,
	SV_CAUSE_CANCEL,
	SV_CAUSE_ORPHANED,        /* --tied and the parent went away */
	SV_CAUSE_MEMORY,          /* the memory cgroup OOM-killed something */
	SV_CAUSE_PIDS,            /* a fork failed at the pids limit */
};

#define SV_MAX_MASKS 64           /* secrets masked in the log */
#define SV_CG_CHECK_MS 100        /* period of the cgroup event check */

/* The controllers a job's cgroups use; one directory each (or -1). */
enum sv_ctl {
	SV_CG_MEMORY,
	SV_CG_PIDS,
	SV_CG_CPU,
	SV_CG_COUNT,
};

#define SV_MASK_ENCODE_MIN 8      /* shorter secrets: no encoded forms */

/* One form of a secret: the value, reversed, hex, base64 (mask.c). */
struct sv_mask_pat {
	char *s;                  /* not NUL-terminated */
	size_t len;
};

/* Bytes of one output held back because a pattern may start there. */
struct sv_mask_held {
	char *p;                  /* at most longest-1 bytes not yet written */
	size_t n;
};

/* Secret masking: the patterns, and the job's log's held bytes. */
struct sv_mask {
	struct sv_mask_pat *pats; /* every form of every secret, by first byte */
	size_t npats;
	size_t start[257];        /* pats[start[c]..start[c+1]]: first byte c */
	size_t count;             /* secrets added */
	size_t longest;           /* longest pattern */
	struct sv_mask_held held; /* the job's log's */
};

#define SV_MAX_BINDS 48
#define SV_MAX_MOUNTS 32         /* --mount: the admin's host paths (a
                                     project's and the top level's) */

/* One entry of the job's root: a host path bound in, or a symlink. */
struct sv_bind {
	char *path;               /* absolute, inside (the same as outside but
	                             for the workspace's --workspace-at) */
	int fd;                   /* O_PATH of the host's, opened by us; -1 */
	char *link;               /* a symlink's target instead of a bind */
	bool writable;
	bool file;                /* a file (device node), not a directory */
};

/* What --sandbox strict asks for (all zero: no limit). */
struct sv_sandbox {
	bool strict;
	bool network;             /* granted: outbound through slirp4netns */
	int netns_fd;             /* a pre-made empty netns to join, or -1 */
	pid_t slirp_pid;          /* network: slirp4netns, our child; or 0 */
	int slirp_exit;           /* its --exit-fd's write end, or -1 */
	int resolv_fd;            /* network: the job's resolv.conf, or -1 */
	bool netns_joined;        /* we are in it: the job needs no new one */
	uid_t uid;                /* host uid of the job's root (or of its
	                             `user:`); never 0 */
	gid_t gid;
	const char *user;         /* --user as given; NULL: uid 0 inside */
	bool rootless;            /* we are not root (rootless.c) */
	bool ws_root_ids;         /* the workspace is idmapped to root's
	                             uid or gid on disk (idmap.c) */
	unsigned long subuid, subgid; /* rootless: our ranges' starts; 0: none
	                             (our own ids alone are mapped) */
	uid_t in_uid;             /* --user resolved: ids inside; 0 without */
	gid_t in_gid;
	const char *workspace;    /* bound writable; NULL: cwd */
	const char *workspace_at; /* where the job sees it (a fixed path such
	                             as /builds/<project>); NULL: its host path */
	const char *rootfs;       /* --rootfs: the job's / (an image's tree,
	                             read-only); NULL: the host's system dirs */
	int rootfs_fd;            /* its detached clone (rootfs.c), or -1 */
	const char *mounts[SV_MAX_MOUNTS]; /* --mount: host paths bound
	                             read-only at the same path inside */
	size_t nmounts;
	char *home;               /* the attempt's home/ (real path): a tmpfs
	                             is mounted there, nothing of the host's */
	uint64_t memory, pids, cpu_seconds, file_size, open_files;
	char *cg[SV_CG_COUNT];    /* the job's cgroup directories, or NULL */
	bool cg_v2[SV_CG_COUNT];  /* that directory is in the v2 hierarchy */
	int status_rd;            /* init's report pipe (read end), or -1 */
	struct sv_bind binds[SV_MAX_BINDS];
	size_t nbinds;
	uint64_t cg_check_at;     /* mono ms of the next event check */
};

enum sv_kill {
	SV_KILL_NONE,
	SV_KILL_TERM,             /* SIGTERM sent; SIGKILL at kill_at */
	SV_KILL_KILL,             /* SIGKILL sent; again every SV_RESCAN_MS */
};

struct sv_client {
	struct sv_client *next;
	int fd;                   /* -1 once dropped (swept later) */
	bool attached;            /* ATTACH accepted, "OK" queued */
	unsigned version;         /* the protocol version agreed with it */
	bool closing;             /* close when out is written */
	bool end_queued;          /* the END frame is in out (or sent) */
	char line[SUPERVISOR_MAX_LINE]; /* request bytes not yet parsed */
	size_t line_len;
	uint64_t offset;          /* next log byte to send (version 2: to note) */
	uint64_t noted_at;        /* mono ms of its last note; 0: none yet */
	char *out;                /* frame being sent: header + data */
	size_t out_len, out_off;
	uint64_t since;           /* mono ms: accepted, or last progress */
};

#define SV_MAX_SERVICES 8         /* a job's services (the pipeline's limit) */
#define SV_SVC_READ 4096          /* a service's output is read in pieces of */
#define SV_SVC_TAIL 10            /* lines of a failed service's log shown */

/*
 * One of the job's services (--services-fd, services.c).  The spec's
 * strings point into svc_buf.  The output pipe is made by the supervisor
 * before the job's fork; the manager (the job's first process) gives its
 * write end to the service, the supervisor reads the other end into
 * DIR/services/<name>.log.
 */
struct sv_service {
	const char *name;
	const char **argv;        /* NULL-terminated; shell: one command */
	bool shell;
	const char **setup;       /* NULL-terminated */
	const char **env;         /* "K=V", NULL-terminated, unexpanded */
	const char *ready;        /* "tcp:N", "http:URL", "command:C"; NULL */
	uint64_t ready_timeout_ms;
	size_t nargv, nsetup, nenv;
	/* The supervisor's side. */
	int rd, wr;               /* its output pipe; -1 when closed */
	int file;                 /* its log file, or -1 */
	uint64_t bytes;           /* kept in the file */
	bool capped;              /* the cap's marker is written */
	char *line;               /* its read buffer (SV_SVC_READ) */
	struct sv_mask_held held; /* output not yet masked */
	/* The manager's side. */
	pid_t pid;                /* 0: not started */
	bool alive;
	int wstatus;
};

struct supervisor {
	/* Options. */
	const char *dir;
	const char *cwd;          /* NULL: the supervisor's own */
	char **argv;              /* the job, NULL-terminated */
	char **env;               /* the job's environment (--env-fd), into
	                             env_buf; NULL: ours (env.c) */
	char *env_buf;
	int listen_fd;
	uint64_t timeout_ms;      /* 0: none */
	uint64_t grace_ms;
	uint64_t max_log;
	bool tied;
	pid_t parent;             /* getppid() at start, for --tied */
	int tie_fd;               /* --tie-fd: its end of stream is the
	                             starter's death, or -1 (main.c) */

	/* Files. */
	int dir_fd;
	int log_fd;
	uint64_t log_bytes;       /* bytes in DIR/log, marker included */
	uint64_t log_kept;        /* job bytes kept (the cap applies to these) */
	uint64_t log_dropped;     /* job bytes dropped past the cap or on error */
	bool log_truncated;       /* the marker is written */
	bool log_midline;         /* the log ends inside a line */
	uint64_t log_lost;        /* job bytes a write failed on, not yet in a
	                             lost marker */
	int log_lost_errno;       /* why the first of them was lost */
	char lost_mark[128];      /* a lost marker being written: */
	size_t lost_len, lost_off; /* its length and what is written */

	/* The job. */
	pid_t pid;                /* its main process (and process group) */
	int out_fd;               /* read end of its output pipe; -1 at EOF */
	char *out_buf;            /* SV_READ_BUF bytes for its reads, or NULL */
	bool running;             /* the main process has not been reaped */
	bool tree_gone;           /* running is false and waitpid saw ECHILD */
	int exit_code;            /* -1 if killed by a signal or never started */
	int term_signal;
	char *start_error;        /* the job could not be started: why */
	struct sv_sandbox sb;
	struct sv_mask mask;
	uint64_t deadline;        /* mono ms of the timeout; 0: none */
	/*
	 * A MAP_SHARED page made before the job is forked: [0] is the
	 * CLOCK_MONOTONIC µs the job's process took just before its execve
	 * (written there, through the sandbox's init and namespaces); NULL
	 * if it could not be mapped.
	 */
	volatile uint64_t *stamps;
	uint64_t exited_mono_us;  /* we saw the main process exit; 0: not yet */
	uint64_t spec_mono_us;    /* a pooled one got its spec; 0: not pooled */

	/* Killing the tree. */
	enum sv_cause cause;
	enum sv_kill kill;
	uint64_t kill_at;         /* mono ms of the next SIGKILL round */

	/* The end. */
	bool done;                /* status written (or tried) */
	bool synced;              /* ... and durable, named "status" */
	bool status_failed;
	int status_fd;            /* status.tmp until synced, or -1 */
	char *status;             /* the status file's contents, for END */
	size_t status_len;
	uint64_t started_ms, finished_ms; /* UTC */
	uint64_t done_at;         /* mono ms */

	struct sv_client *clients;
	size_t nclients;
	int sig_fd;               /* read end of the signal self-pipe */

	/* Services (services.c, svclog.c). */
	struct sv_service *svcs;  /* in start order; NULL: none */
	size_t nsvcs;
	char *svc_buf;            /* the spec's bytes, owned */
	int svc_fd;               /* --services-fd until read, then -1 */
	int report_rd, report_wr; /* the manager's report of a service's
	                             failure; -1 when closed */
	char *svc_failure;        /* that report: "E|F<name>\t<why>"; owned */
};

/* warn.c: a message on stderr, sv_warn with strerror(errno) */
void sv_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sv_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* signals.c */
int sv_signals_init(int *read_fd) PW_WUR;
/* Drains the self-pipe; sets *chld and *term if those arrived. */
void sv_signals_read(int fd, bool *chld, bool *term);
/* At exit: blocks the signals and closes both ends. */
void sv_signals_close(int read_fd);

/* job.c */
int sv_job_start(struct supervisor *sv) PW_WUR;
/*
 * A child of the job (the script, a service, its setup or check): own
 * process group, stdin /dev/null, stdout and stderr `out`, descriptors
 * past 2 closed, the job's cwd, default signals, then env and execvp.
 */
void sv_child_exec(const struct supervisor *sv, int out, char *const *argv,
		   char **env, bool stamp) __attribute__((noreturn));
/* CLOCK_MONOTONIC in µs (not namespaced: the job's clock is ours). */
uint64_t sv_mono_us(void);
/* Every CPU for the job and its supervisor, whatever the daemon's pinning. */
void sv_reset_affinity(void);
/* The job's side after fork: stdio, descriptors, signals, exec. */
void sv_job_exec(struct supervisor *sv, int out_wr) __attribute__((noreturn));
void sv_reset_signals(void);

/* ns.c: the strict sandbox's start (*why: for people, caller frees). */
int sv_sandbox_start(struct supervisor *sv, int out_wr, char **why) PW_WUR;
/* After the job's init was reaped: its report of the script's status. */
void sv_sandbox_reaped(struct supervisor *sv, int *wstatus);

/* mounts.c: in the job's fresh namespaces, build its root and enter it. */
int sv_mounts_setup(const struct supervisor *sv, char *err, size_t errlen);
/* Opened by the supervisor before clone, used by the child. */
int sv_mounts_prepare(struct supervisor *sv, char *err, size_t errlen);

/*
 * rootfs.c: --rootfs.  prepare: the tree cloned, read-only, nosuid,
 * nodev (as host root, before clone); idmap: after the job's maps are
 * written, the clone shows the tree's ids through them (the image's root
 * is the job's root); stage: in the init, the tree under a writable
 * overlay at `stage`, so mount points can be made anywhere in it (the
 * root turns read-only before the job runs); hosts: the job's /etc/hosts.
 */
int sv_rootfs_prepare(struct supervisor *sv, char *err, size_t errlen);
int sv_rootfs_idmap(struct supervisor *sv, pid_t pid, char *err,
		    size_t errlen);
int sv_rootfs_stage(const struct supervisor *sv, const char *stage,
		    char *err, size_t errlen);
int sv_rootfs_hosts(const struct supervisor *sv, const char *stage,
		    char *err, size_t errlen);

/*
 * user.c: --user resolved beneath root ("/" or an image's root) into the
 * ids inside the job; err for people.
 */
#define SV_INSIDE_IDS 65536       /* a job's user namespace maps 0..65535 */
int sv_user_resolve(const char *root, const char *spec, uid_t *uid, gid_t *gid,
		    char *err, size_t errlen) PW_WUR;
/*
 * The same on the files' texts (NUL-terminated; NULL: unreadable, why in
 * passwd_errno), `where` naming whose they are in messages.
 */
int sv_user_parse(const char *spec, const char *passwd, int passwd_errno,
		  const char *group, const char *where, uid_t *uid, gid_t *gid,
		  char *err, size_t errlen) PW_WUR;
/* The host's passwd name of uid (caller frees), or NULL. */
char *sv_user_name(uid_t uid);
/* In the script's process, before its exec: become --user (0 or -errno). */
int sv_user_enter(const struct supervisor *sv) PW_WUR;
/* --sandbox none with --uid (as root): become that host user (0, -errno). */
int sv_user_unconfined(const struct supervisor *sv) PW_WUR;

/*
 * rootless.c: strict without root.  prepare checks and picks the ids (our
 * own, and subordinate ranges if we have them); maps writes the job's.
 */
int sv_rootless_prepare(struct supervisor *sv, char **why) PW_WUR;
int sv_rootless_maps(const struct supervisor *sv, pid_t pid, char **why)
	PW_WUR;

/*
 * idmap.c: the workspace's detached tree (tree_fd) idmapped so that its
 * owner's ids are the job's host ids, if the owner is another (host root
 * only; else nothing to do).  0, or -errno with err for people.
 */
int sv_workspace_idmap(struct supervisor *sv, int tree_fd,
		       const char *ws, char *err, size_t errlen) PW_WUR;

/* init.c: PID 1 of the job's namespace; never returns. */
void sv_init_main(struct supervisor *sv, int out_wr, int report_wr)
	__attribute__((noreturn));

/* seccomp.c: loads the job's filter into this process (inherited). */
int sv_proc_write(pid_t pid, const char *file, const char *text);
int sv_seccomp_load(void);
int sv_seccomp_load_setid(void);

/* cgroup.c */
void sv_cgroup_ahead(struct supervisor *sv);
int sv_cgroup_create(struct supervisor *sv, char **why) PW_WUR;
int sv_cgroup_enter(struct supervisor *sv, pid_t pid) PW_WUR;
int sv_cgroup_join(const struct supervisor *sv) PW_WUR;
/* Sets sv->cause if a limit was hit; true if so. */
bool sv_cgroup_check(struct supervisor *sv);
void sv_cgroup_remove(struct supervisor *sv);

/* env.c: the job's environment, read once from --env-fd. */
/* The whole of fd from offset 0, at most SUPERVISOR_MAX_ENV bytes. */
int sv_read_capped(int fd, char **out, size_t *len) PW_WUR;
int sv_env_read(struct supervisor *sv, int fd) PW_WUR;
/* What the job's execve gets (NULL-terminated; never NULL). */
char **sv_env(const struct supervisor *sv);
/* A variable of the job's environment, or NULL. */
const char *sv_env_get(const struct supervisor *sv, const char *name);
/* Masks the values of the job's variables named (mask.c). */
void sv_env_mask(struct supervisor *sv, char **names, size_t n);
void sv_env_free(struct supervisor *sv);

/* mask.c */
/* Masks value (copied) and its encodings; empty or past SV_MAX_MASKS: no. */
void sv_mask_add(struct sv_mask *m, const char *value, size_t len);
/* Writes data to the log with every secret replaced by "***". */
void sv_mask_feed(struct supervisor *sv, const char *data, size_t len);
/* End of output: writes what was held back. */
void sv_mask_flush(struct supervisor *sv);
/* Hands a piece of one output to emit, every secret replaced, holding
 * back in h what the next piece decides (final: nothing). */
void sv_mask_stream(const struct sv_mask *m, struct sv_mask_held *h,
		    const char *data, size_t len, bool final,
		    void (*emit)(void *arg, const char *p, size_t n), void *arg);
void sv_mask_free(struct sv_mask *m);

/*
 * slirp.c: a granted job's network namespace (outbound only, the host's
 * addresses prohibited), joined by us for the clone; *why for people.
 */
int sv_slirp_start(struct supervisor *sv, char **why) PW_WUR;
/* The job is over: slirp4netns may go. */
void sv_slirp_stop(struct supervisor *sv);

/*
 * spec.c: --pooled N: waits on N for one attempt's spec (its arguments and
 * descriptors, supervisor-proto.h), puts the descriptors at 3, 4... and
 * sets *argc and *argv to the arguments: the caller frees (*argv)[0], the
 * one buffer that holds them all, then *argv.
 * 0 with *argv set; 1 when the pool was closed before a spec came (exit 0
 * quietly); -1 on anything else, said on stderr (exit 2).
 */
int sv_spec_wait(int fd, int *argc, char ***argv);
/*
 * The message's arguments: buf[0..len) must be NUL-terminated strings,
 * at least one; *argv points into buf (the array: caller frees).  0 or -1.
 */
int sv_spec_split(char *buf, size_t len, int *argc, char ***argv);

/* netns.c: --make-netns N: make N empty network namespaces, send them. */
int sv_netns_make(int count, int sock_fd);
/* Brings up loopback in our current network namespace (0 or -errno). */
int sv_loopback_up(void);

/* tree.c */
/*
 * Sends sig once to every process of the job: its process group and each
 * descendant of ours outside it (strict sandbox: SIGTERM to the job's
 * init, which forwards it to its namespace).
 */
void sv_tree_kill(struct supervisor *sv, int sig);

/*
 * tree.c: sig once to the process group pgid (0: none) and to every
 * descendant of root outside it; the count of processes signalled.
 */
size_t sv_tree_signal(pid_t root, pid_t pgid, int sig);

/* svclog.c: the supervisor's side of the services. */
/* Reads the services' spec from fd (--services-fd); usage error: < 0. */
int sv_services_read(struct supervisor *sv, int fd) PW_WUR;
/* Before the fork: DIR/services/, each log file and pipe, the report. */
int sv_services_prepare(struct supervisor *sv, char **why) PW_WUR;
/* After the fork: the write ends are the job's alone. */
void sv_services_forked(struct supervisor *sv);
/* Reads service i's output; `last`: everything, then close. */
void sv_services_output(struct supervisor *sv, size_t i, bool last);
/* The job is gone: the rest of the output, the report, the tail lines. */
void sv_services_finish(struct supervisor *sv);
void sv_services_free(struct supervisor *sv);

/* services.c: the manager, in the job's first process; never returns. */
void sv_services_main(struct supervisor *sv, int out_wr)
	__attribute__((noreturn));

/* log.c: the cap; the mask (mask.c) is in front of it. */
void sv_log_write(struct supervisor *sv, const char *data, size_t len);
/* At the end: the last try to say what output was lost (a full disk). */
void sv_log_finish(struct supervisor *sv);
/* Writes n as "64M", "4K" or "1000 bytes". */
void sv_size_format(uint64_t n, char *out, size_t len);

/* prelude.c: DIR/prelude, if the starter left one, begins the log. */
void sv_prelude_copy(struct supervisor *sv);

/* status.c */
/* Decides the result, writes DIR/status atomically, keeps its contents. */
void sv_status_write(struct supervisor *sv);
/* After END went to the clients attached: durable, renamed into place. */
void sv_status_sync(struct supervisor *sv);

/* serve.c */
void sv_serve_accept(struct supervisor *sv);
void sv_serve_read(struct supervisor *sv, struct sv_client *c);
void sv_serve_write(struct supervisor *sv, struct sv_client *c);
bool sv_serve_wants_write(const struct supervisor *sv,
			  const struct sv_client *c);
/* Drops stalled clients after the end, frees dropped ones. */
void sv_serve_sweep(struct supervisor *sv, uint64_t now);
/* The earliest mono ms at which sweep has something to do; 0: none. */
uint64_t sv_serve_next_deadline(const struct supervisor *sv);
/* When the next note to a version-2 client is due (mono ms); 0: none waits. */
uint64_t sv_serve_next_note(const struct supervisor *sv);
void sv_serve_free(struct supervisor *sv);

/* loop.c */
int sv_run(struct supervisor *sv) PW_WUR;
void sv_cancel(struct supervisor *sv, enum sv_cause cause);

#endif
