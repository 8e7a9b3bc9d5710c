/*
 * The pipewright command line: one row per subcommand in main.c's table,
 * one file per subcommand.  Exit codes are the same for every subcommand.
 */
#ifndef PIPEWRIGHT_CLI_H
#define PIPEWRIGHT_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "pipewright/pipeline.h"
#include "pipewright/reuse.h"

enum cli_exit {
	CLI_OK = 0,           /* success */
	CLI_FAILED = 1,       /* the run (or the server's answer) failed */
	CLI_USAGE = 2,        /* invalid input or usage */
	CLI_INTERRUPTED = 130,
};

/*
 * A row of main.c's table.  A command's usage is its own `--help` (made
 * from its options table, below); `pipewright help NAME` runs that.
 */
struct cli_command {
	const char *name;
	const char *summary;  /* one line for `pipewright help` */
	int (*run)(int argc, char **argv);
};

/*
 * opts.c: one table per command gives getopt what it accepts and --help
 * what it says, so the two cannot differ.
 */
struct cli_opt {
	const char *name;   /* long name, without "--" */
	int short_name;     /* 'f' for -f, or 0 */
	bool has_arg;
	const char *arg;    /* the argument's name in --help, e.g. "N" */
	const char *help;   /* its help; each '\n' starts an aligned line */
};

#define CLI_OPT_HELP {"help", 'h', false, NULL, "show this help"}
#define CLI_OPT_CONFIG {"config", 'c', true, "FILE", \
	"the configuration (default $PIPEWRIGHT_CONFIG)"}
#define CLI_OPT_NONE {NULL, 0, false, NULL, NULL}

struct cli_usage {
	const char *name;             /* "run", "token create" */
	const char *args;             /* positional arguments; "" for none */
	const struct cli_opt *opts;   /* ends with CLI_OPT_NONE */
	const char *notes;            /* lines after the options, or NULL */
};

/* "usage: pipewright NAME [OPTIONS] ARGS", a line per option, the notes. */
void cli_usage_print(FILE *f, const struct cli_usage *u);
/* The usage on stderr; returns CLI_USAGE. */
int cli_usage_error(const struct cli_usage *u);
void cli_opt_print(FILE *f, const struct cli_opt *o);

#define CLI_OPTS_MAX 24
#define CLI_OPT_END (-1)
#define CLI_OPT_BAD (-2)

struct cli_getopt {
	const struct cli_usage *u;
	struct option lo[CLI_OPTS_MAX + 1];
	char so[2 * CLI_OPTS_MAX + 2];
};

/* Readies getopt for u's options (and restarts it at argv[1]). */
void cli_getopt_init(struct cli_getopt *g, const struct cli_usage *u);
/*
 * The next option: the index of its row in u->opts, with *arg its
 * argument (NULL without); CLI_OPT_END after the last; CLI_OPT_BAD after
 * saying which option is unknown or lacks its argument.  Options may
 * follow the arguments; "--" ends them.
 */
int cli_getopt_next(struct cli_getopt *g, int argc, char **argv,
		    const char **arg);
/*
 * --env's KEY=VALUE, by util's one rule for names (run and trigger take
 * what the server takes): the length of KEY, or -1 after saying why not.
 */
int cli_env_arg(const char *arg);

/*
 * The local commands' configuration (local.c): --config's FILE if given,
 * else $PIPEWRIGHT_CONFIG.  cli_config_path returns it, or NULL after
 * saying that neither names one.  cli_config_load also loads it and
 * prints its problems on stderr as `serve --check` does: CLI_OK and *out
 * (config_destroy it), or CLI_USAGE with *nproblems (if not NULL) the
 * number printed.
 */
struct config;
const char *cli_config_path(const char *given);
int cli_config_load(const char *given, struct config **out,
		    size_t *nproblems);

int cmd_run(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_serve(int argc, char **argv);
/* The on-call client commands (client*.c); they talk to a daemon. */
int cmd_status(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_trigger(int argc, char **argv);
int cmd_rerun(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_approve(int argc, char **argv);
int cmd_queue(int argc, char **argv);
int cmd_artifacts(int argc, char **argv);
int cmd_tests(int argc, char **argv);
int cmd_cache(int argc, char **argv);
/* Local commands on the daemon's configuration and database. */
int cmd_token(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_upgrade(int argc, char **argv);

/*
 * Reads and parses a pipeline file.  Problems are printed to `err` as
 * "FILE:LINE:COLUMN: error: MESSAGE"; returns CLI_OK and *out, or
 * CLI_USAGE.
 */
int cli_load_pipeline(const char *path, FILE *err, struct pipeline **out);
/*
 * The same for `pipewright run`: a relative path is read beneath dir (the
 * workspace) and refused, with one line saying so, if it leads outside
 * (a symlink a job planted); an absolute path is read as given.
 */
int cli_load_workspace_pipeline(const char *dir, const char *path, FILE *err,
				struct pipeline **out);

/*
 * The pipewright-supervisor binary: $PIPEWRIGHT_SUPERVISOR if set, else
 * the one next to this program (the build tree), else the installed one:
 * PW_LIBEXEC_REL from this program's directory, then PW_LIBEXEC_DIR
 * (both set by CMakeLists.txt from the install directories).  0 or -ENOENT;
 * buf then holds the last path tried.
 */
int cli_supervisor_path(char *buf, size_t len);

/*
 * Text on its way to a terminal (escape.c), for run, logs and show alike:
 * every control character but newline and tab shown as an escape (C0 and
 * DEL as \xNN, C1 as \uNNNN, bytes that are not UTF-8 as \xNN), the rest
 * as it is, appended to out (an unlimited buf).  Returns the bytes of s
 * consumed: all with TERM_ESC_FINAL; without, it may stop before a
 * sequence the next chunk of a stream can complete (the caller passes
 * those bytes again, in front of that chunk).
 */
#define TERM_ESC_SGR   1u  /* keep colour sequences, ESC [ 0-9;: m */
#define TERM_ESC_FINAL 2u  /* the end of the text: nothing held back */
struct buf;
size_t term_escape(struct buf *out, const char *s, size_t len,
		   unsigned flags);
/* A whole string escaped (caller frees); NULL for NULL. */
char *term_escape_str(const char *s);

/*
 * term: what `pipewright run` shows.  Output lines prefixed with the job's
 * name (coloured on a terminal), one line per job state change, a live
 * line of how many jobs run on a terminal, and a summary table.
 */
struct term;
struct sched_event;
struct sched_run;

/* color: keep the jobs' own colour sequences (run --color). */
struct term *term_create(FILE *out, bool tty, bool color,
			 const struct pipeline *p);
void term_destroy(struct term *t);
void term_output(struct term *t, size_t job, const char *data, size_t len);
void term_event(struct term *t, const struct sched_event *ev);
void term_note(struct term *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void term_summary(struct term *t, const struct sched_run *r);

/*
 * runreports: `pipewright run`'s test reports (runreports.c).  start:
 * false if the job has none (or the attempt had no result); else the
 * reports are read in a worker, their lines added to the job's output,
 * and then(arg) is called on the loop.  summary: a line of counts after
 * the run's table, and the failed tests by name (nothing if no job had
 * reports).
 */
struct run_reports;
void run_reports_create(uv_loop_t *loop, const struct pipeline *p,
			struct run_reports **out);
void run_reports_destroy(struct run_reports *rr);
bool run_reports_start(struct run_reports *rr, struct sched_run *run,
		       size_t job, enum sched_job_state state,
		       void (*then)(void *arg), void *arg);
void run_reports_summary(const struct run_reports *rr, FILE *out);

/*
 * runcache: `pipewright run`'s caches and artifacts, in a cache
 * directory of its own, through the daemon's reuse step (runcache.c says
 * what differs locally).
 */
struct run_cache;
struct run_cache_params {
	const char *dir;            /* the cache directory (made 0700) */
	const char *project;        /* the checkout's path */
	const char *branch, *tag;   /* the scope; NULL if none */
	const char *default_branch; /* whose caches every branch reads */
	bool artifacts;             /* --clean: saved and restored */
	bool caches;                /* false: --no-cache */
};
struct run_cache_ids {
	uid_t uid;                  /* restored files belong to them */
	gid_t gid;
};
/* $XDG_CACHE_HOME/pipewright, else ~/.cache/pipewright; NULL if neither
 * is known (caller frees). */
char *run_cache_default_dir(void);
/* 0, or -errno and *err (caller frees) for people. */
int run_cache_open(uv_loop_t *loop, const struct run_cache_params *p,
		   struct run_cache **out, char **err);
/* Where its caches are saved; NULL: nowhere (HEAD is detached). */
const char *run_cache_write_scope(const struct run_cache *rc);
/* Records the run (--clean: its artifacts are the run's); cb on the loop,
 * rc < 0 if it could not be. */
void run_cache_begin(struct run_cache *rc, const char *commit,
		     void (*cb)(int rc, void *arg), void *arg);
/* reuse_step_restore and _save for the run's job. */
void run_cache_restore(struct run_cache *rc, struct sched_run *run,
		       size_t job, const struct run_cache_ids *ids,
		       reuse_step_cb cb, void *arg);
void run_cache_save(struct run_cache *rc, struct sched_run *run, size_t job,
		    const struct run_cache_ids *ids,
		    enum sched_job_state state, reuse_step_cb cb, void *arg);
/*
 * After the run (the loop idle but for the store): drops the run and its
 * artifacts, evicts caches past the budget, removes the blobs no row
 * names, closes.  rc NULL: nothing.  0, or -errno and *err.
 */
int run_cache_close(struct run_cache *rc, bool success, char **err);

#endif
