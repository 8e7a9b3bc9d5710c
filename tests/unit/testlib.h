/*
 * What several unit tests need alike, written once: removing a test's
 * temporary tree, a loop's hard deadline, and the directory and
 * environment an exec test gives a job.  Linked into every unit test
 * (tests/CMakeLists.txt); each test still says in its own file what it
 * drives and why.
 */
#ifndef PIPEWRIGHT_TESTLIB_H
#define PIPEWRIGHT_TESTLIB_H

#include <stdint.h>
#include <uv.h>

#include "pipewright/exec.h"

/*
 * Removes dir and everything below it, not following symbolic links, as
 * far as it can: a failure does not stop the walk.  0, or the first
 * failure's negative errno (a test that must leave nothing asserts 0).
 */
int tl_rm_tree(const char *dir);

/*
 * Initialises t on loop and starts it: if it fires, the test fails with
 * "test deadline of <ms> ms passed".  A deadline, never a way to wait;
 * the caller closes t (and may uv_unref it, so that it keeps no loop
 * alive).
 */
void tl_deadline_start(uv_loop_t *loop, uv_timer_t *t, uint64_t ms);

/*
 * A job for exec: a fresh /tmp/<name>-XXXXXX, the attempt directory in it,
 * a pid file the job may write ($PF), HOME in the attempt directory, and
 * a spec pointing at them (working directory: tmp).  The rest of spec is
 * zero, for the test to fill.
 */
struct tl_job {
	char tmp[64];              /* mkdtemp */
	char dir[128];             /* tmp/attempt */
	char pidfile[128];         /* tmp/pid */
	char pf_env[160];          /* "PF=<pidfile>" */
	char home_env[160];        /* "HOME=<dir>/home" */
	const char *env[4];        /* PATH, HOME, PF; NULL-terminated */
	struct exec_spec spec;
};

void tl_job_init(struct tl_job *j, const char *name);
/* Removes the job's temporary tree. */
void tl_job_cleanup(struct tl_job *j);

#endif
