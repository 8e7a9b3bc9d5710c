/*
 * report: test reports a job wrote (JUnit XML), read after the job.
 *
 * Two halves.  report_junit_parse() is pure: bytes in, test cases or a
 * precise error (line, column, what) out.  It is expat underneath, with
 * every document type declaration refused (so no entity is ever declared,
 * let alone expanded or loaded from outside: no billion laughs, no XXE)
 * and limits of its own on nesting, the number of cases and the bytes of
 * a message kept.  report_gather() blocks: it finds the files a job's
 * `reports: {junit: [...]}` globs name beneath the workspace (every open
 * through openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, never a link
 * followed, sizes and counts capped) and parses each; worker threads
 * only, never the event loop.
 *
 * A file that is too large, malformed or past a limit gives one warning
 * line for the job's log and none of its cases: a report is kept whole
 * or not at all.  docs/internals/report.md has the formats read.
 */
#ifndef PIPEWRIGHT_REPORT_H
#define PIPEWRIGHT_REPORT_H

#include <stddef.h>
#include <stdint.h>

enum report_status {
	REPORT_PASSED,
	REPORT_FAILED,
	REPORT_ERROR,
	REPORT_SKIPPED,
};
#define REPORT_NSTATUS 4

/* "passed", "failed", "error", "skipped". */
const char *report_status_name(enum report_status s);
/* The status named s, or -1. */
int report_status_parse(const char *s);

struct report_case {
	char *suite;          /* the innermost <testsuite name>; owned, never
				 NULL ("" if none) */
	char *classname;      /* owned, never NULL */
	char *name;           /* owned, never NULL (a case without one is
				 refused) */
	char *file;           /* the case's `file` attribute; owned, or NULL */
	enum report_status status;
	uint64_t duration_ms;
	char *message;        /* failed, error, skipped: the message attribute
				 and the element's text, at most
				 limits.message_max bytes (whole UTF-8
				 characters); owned, or NULL */
};

struct report_cases {
	struct report_case *v; /* owned */
	size_t n, cap;
};
void report_cases_free(struct report_cases *c);

struct report_limits {
	uint64_t file_max;     /* bytes of one report file */
	uint64_t total_max;    /* bytes of all a job's report files */
	size_t files_max;      /* report files of one job */
	size_t cases_max;      /* test cases of one job, all files */
	unsigned depth_max;    /* element nesting */
	size_t message_max;    /* bytes of a message kept */
};
/* The defaults (docs/pipeline.md lists them). */
#define REPORT_FILE_MAX (64ULL << 20)
#define REPORT_TOTAL_MAX (256ULL << 20)
#define REPORT_FILES_MAX 1000
#define REPORT_CASES_MAX 100000
#define REPORT_DEPTH_MAX 32
#define REPORT_MESSAGE_MAX 4096
void report_limits_default(struct report_limits *l);

/*
 * Parses one JUnit XML document of len bytes and appends its cases to
 * out, after those already there (whose count counts against
 * lim->cases_max).  0, or -EINVAL (not well-formed, a DOCTYPE, a case
 * without a name, not JUnit), -E2BIG (a limit passed) with err saying
 * where and what ("3:14: not well-formed (invalid token)"); on failure
 * out is as it was.
 */
int report_junit_parse(const char *data, size_t len,
		       const struct report_limits *lim, struct report_cases *out,
		       char *err, size_t errlen);

struct report_gathered {
	struct report_cases cases;
	size_t files;          /* report files whose cases were kept */
	char *log;             /* lines for the job's log (a summary, one
				  warning per file left out); owned */
	size_t loglen;
};
void report_gathered_free(struct report_gathered *g);

/*
 * Blocking.  Finds the regular files beneath root that the globs
 * (relative, already checked by glob_path_check; `**` spans
 * directories) match, in sorted order, and parses each as JUnit.  A glob
 * that matches nothing, a file too large, malformed or past a limit is a
 * warning line in g->log.  0, or -errno if root cannot be opened (g->log
 * says so).  g is filled in every case; free it with
 * report_gathered_free.
 */
int report_gather(const char *root, const char *const *globs,
		  const struct report_limits *lim, struct report_gathered *g);

#endif
