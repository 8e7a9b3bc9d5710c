/*
 * exec's root object: the loop, the supervisor's path, the active count.
 *
 * Attempts (attempt.c) and helpers (helper.c) count themselves in
 * `active` from their start until just before their final callback, so
 * exec_destroy() may be called from inside that callback.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "exec-int.h"

int
exec_create(uv_loop_t *loop, const char *supervisor_path, struct exec **out)
{
	struct exec *e;

	if (loop == NULL || supervisor_path == NULL || *supervisor_path == '\0')
		return -EINVAL;
	e = xcalloc(1, sizeof(*e));
	e->loop = loop;
	e->supervisor_path = xstrdup(supervisor_path);
	*out = e;
	return 0;
}

void
exec_destroy(struct exec *e)
{
	if (e == NULL)
		return;
	assert(e->active == 0);
	exec_let_go_close(e);
	exec_netns_free(e);
	exec_pool_free(e);
	free(e->supervisor_path);
	free(e);
}

size_t
exec_active(const struct exec *e)
{
	return e->active;
}

const char *
exec_attempt_dir(const struct exec_attempt *a)
{
	return a->dir;
}
