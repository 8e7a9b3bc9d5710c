/*
 * The api's view of the daemon: the api_env the daemon gives api_create.
 * The api knows the daemon only through these functions, so that it does
 * not depend on the daemon (which depends on it) and can be driven by a
 * test with an env of its own.  Each is a thin call of the daemon
 * function of the same name; the api's request and counter types carry
 * the fields the api uses of the daemon's.
 */
#include <string.h>

#include "daemon-int.h"
#include "pipewright/api.h"

_Static_assert(sizeof(((struct api_stats *)0)->jobs_finished) ==
		       sizeof(((struct daemon_stats *)0)->jobs_finished),
	       "the api's finished-job counters are the daemon's");

static const struct config *
env_config(void *ctx)
{
	return daemon_config(ctx);
}

static const char *
env_public_url(void *ctx)
{
	return daemon_public_url(ctx);
}

static bool
env_ready(void *ctx)
{
	return daemon_ready(ctx);
}

static bool
env_stopping(void *ctx)
{
	return ((struct daemon *)ctx)->draining;
}

static void
env_trigger(void *ctx, const struct api_trigger *t, api_done_cb cb, void *arg)
{
	struct daemon_trigger dt = {
		.project = t->project,
		.ref = t->ref,
		.commit = t->commit,
		.env = t->env,
		.idempotency_key = t->idempotency_key,
		.actor = t->actor,
		.trigger = t->trigger,
		.branch = t->branch,
		.pr = t->pr,
		.fork = t->fork,
		.forge = t->forge,
		.delivery = t->delivery,
		.push = t->push,
		.before = t->before,
	};

	daemon_trigger(ctx, &dt, cb, arg);
}

static void
env_cancel(void *ctx, uint64_t run, const char *actor, api_done_cb cb,
	   void *arg)
{
	daemon_cancel(ctx, run, actor, cb, arg);
}

static void
env_rerun(void *ctx, uint64_t run, const char *const *names, const char *actor,
	  api_done_cb cb, void *arg)
{
	daemon_rerun(ctx, run, names, actor, cb, arg);
}

static void
env_approve(void *ctx, uint64_t run, const char *job, const char *actor,
	    api_done_cb cb, void *arg)
{
	daemon_approve(ctx, run, job, actor, cb, arg);
}

static void
env_queue_pause(void *ctx, bool paused, const char *actor, api_done_cb cb,
		void *arg)
{
	daemon_queue_pause(ctx, paused, actor, cb, arg);
}

static void
env_queue_state(void *ctx, bool *paused, size_t *queued, size_t *running)
{
	daemon_queue_state(ctx, paused, queued, running);
}

static int
env_follow(void *ctx, uint64_t attempt, uint64_t offset,
	   const struct api_follow_cbs *cbs, void **handle)
{
	struct daemon_follow_cbs dc = {cbs->data, cbs->end, cbs->arg};
	struct daemon_follow *f;
	int rc;

	rc = daemon_follow(ctx, attempt, offset, &dc, &f);
	if (rc == 0)
		*handle = f;
	return rc;
}

static void
env_unfollow(void *ctx, void *handle)
{
	(void)ctx;
	daemon_unfollow(handle);
}

static void
env_stats(void *ctx, struct api_stats *out)
{
	struct daemon_stats st;

	daemon_stats(ctx, &st);
	memset(out, 0, sizeof(*out));
	out->jobs_running = st.jobs_running;
	out->runs_active = st.runs_active;
	out->log_bytes = st.log_bytes;
	memcpy(out->jobs_finished, st.jobs_finished, sizeof(out->jobs_finished));
	out->duration_bounds = daemon_duration_bounds;
	out->durations = st.durations;
	out->ndurations = st.ndurations;
	out->cache_hits = st.cache_hits;
	out->cache_misses = st.cache_misses;
	out->cache_evictions = st.cache_evictions;
	out->reuse_bytes_restored = st.reuse_bytes_restored;
	out->reuse_bytes_saved = st.reuse_bytes_saved;
	out->blob_bytes = st.blob_bytes;
	cicd_active(ctx);
	out->run_durations = ((struct daemon *)ctx)->run_durations;
	out->nrun_durations = ((struct daemon *)ctx)->nrun_durations;
	out->run_active = ((struct daemon *)ctx)->run_active;
	out->nrun_active = ((struct daemon *)ctx)->nrun_active;
	out->worker_slots = config_max_jobs(daemon_config(ctx));
}

static int
env_blob_open(void *ctx, const char *digest, int *fd, uint64_t *size,
	      void **handle)
{
	return daemon_blob_open(ctx, digest, fd, size, handle);
}

static void
env_blob_close(void *ctx, void *handle)
{
	daemon_blob_close(ctx, handle);
}

static void
env_blob_extract(void *ctx, const char *digest, const char *path,
		 api_extract_cb cb, void *arg)
{
	daemon_blob_extract(ctx, digest, path, cb, arg);
}

static void
env_cache_delete(void *ctx, const char *project, const char *key,
		 const char *scope, const char *actor, api_done_cb cb,
		 void *arg)
{
	daemon_cache_delete(ctx, project, key, scope, actor, cb, arg);
}

void
daemon_api_env(struct daemon *d, struct api_env *env)
{
	*env = (struct api_env){
		.store = daemon_store(d),
		.config = env_config,
		.public_url = env_public_url,
		.ready = env_ready,
		.stopping = env_stopping,
		.trigger = env_trigger,
		.cancel = env_cancel,
		.rerun = env_rerun,
		.approve = env_approve,
		.queue_pause = env_queue_pause,
		.queue_state = env_queue_state,
		.follow = env_follow,
		.unfollow = env_unfollow,
		.stats = env_stats,
		.blob_open = env_blob_open,
		.blob_close = env_blob_close,
		.blob_extract = env_blob_extract,
		.cache_delete = env_cache_delete,
		.loop = &d->loop,
		.ctx = d,
	};
}
