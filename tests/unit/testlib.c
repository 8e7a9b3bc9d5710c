/*
 * The unit tests' shared helpers (testlib.h).  Failures go through
 * cmocka's fail_msg, so a helper fails the test that called it.
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "testlib.h"

/* nftw gives its callback no argument: the first failure of one walk. */
static int rm_first_error;

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (remove(path) < 0 && rm_first_error == 0)
		rm_first_error = -errno;
	return 0;  /* keep going: remove as much as possible */
}

int
tl_rm_tree(const char *dir)
{
	rm_first_error = 0;
	if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return -errno;
	return rm_first_error;
}

static void
on_deadline(uv_timer_t *t)
{
	fail_msg("test deadline of %llu ms passed",
		 (unsigned long long)(uintptr_t)t->data);
}

void
tl_deadline_start(uv_loop_t *loop, uv_timer_t *t, uint64_t ms)
{
	assert_int_equal(uv_timer_init(loop, t), 0);
	t->data = (void *)(uintptr_t)ms;
	assert_int_equal(uv_timer_start(t, on_deadline, ms, 0), 0);
}

void
tl_job_init(struct tl_job *j, const char *name)
{
	memset(j, 0, sizeof(*j));
	snprintf(j->tmp, sizeof(j->tmp), "/tmp/%s-XXXXXX", name);
	assert_non_null(mkdtemp(j->tmp));
	snprintf(j->dir, sizeof(j->dir), "%s/attempt", j->tmp);
	snprintf(j->pidfile, sizeof(j->pidfile), "%s/pid", j->tmp);
	snprintf(j->pf_env, sizeof(j->pf_env), "PF=%s", j->pidfile);
	snprintf(j->home_env, sizeof(j->home_env), "HOME=%s/home", j->dir);
	j->env[0] = "PATH=/usr/bin:/bin";
	j->env[1] = j->home_env;
	j->env[2] = j->pf_env;
	j->env[3] = NULL;
	j->spec.dir = j->dir;
	j->spec.env = j->env;
	j->spec.cwd = j->tmp;
}

void
tl_job_cleanup(struct tl_job *j)
{
	(void)tl_rm_tree(j->tmp);
}
