/*
 * The daemon's life: start-up (config, data directory, store, scheduler,
 * HTTP), signals (SIGTERM/SIGINT drain, SIGHUP reload, SIGUSR2 upgrade),
 * and shutdown.
 *
 * On SIGTERM or SIGINT the daemon stops accepting, then leaves the running
 * jobs to their supervisors and the next daemon (drain: detach, the
 * default), waits for the active runs (drain: wait, at most drain_timeout,
 * then cancels them) or cancels them at once (drain: cancel); once none is
 * left and the responses under way are sent, it closes the HTTP server and
 * the store cleanly.  A second signal cancels at once (not after detach:
 * the jobs are no longer ours).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon-int.h"
#include "pipewright/reuse.h"
#include "pipewright/api.h"
#include "pipewright/notify.h"
#include "pipewright/scm.h"

const double daemon_duration_bounds[API_DURATION_BUCKETS] = {
	0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 1e300,
};

struct store *
daemon_store(struct daemon *d)
{
	return d->store;
}

const struct config *
daemon_config(const struct daemon *d)
{
	return d->config;
}

const char *
daemon_public_url(const struct daemon *d)
{
	return d->public_url;
}

bool
daemon_ready(struct daemon *d)
{
	int rc = store_check(d->store);

	/*
	 * The store retries a failed disk by itself: its word is the newest,
	 * so readiness comes back once there is space even if we write
	 * nothing.
	 */
	daemon_note_store(d, rc);
	return !d->draining && !d->store_failed && rc == 0;
}

void
daemon_stats(const struct daemon *d, struct daemon_stats *out)
{
	const struct live_run *lr;

	*out = d->stats;
	out->durations = d->durations;
	out->ndurations = d->ndurations;
	out->jobs_running = sched_running(d->sched);
	out->runs_active = 0;
	if (d->reuse != NULL) {
		struct reuse_stats rs;

		reuse_step_stats(d->reuse, &rs);
		out->cache_hits = rs.cache_hits;
		out->cache_misses = rs.cache_misses;
		out->reuse_bytes_restored = rs.bytes_restored;
		out->reuse_bytes_saved = rs.bytes_saved;
	}
	out->cache_evictions = d->evictions;
	out->blob_bytes = d->blob_bytes;
	for (lr = d->runs; lr != NULL; lr = lr->next)
		out->runs_active++;
}

void
daemon_note_store(struct daemon *d, int rc)
{
	if (rc == -ENOSPC || rc == -EROFS || rc == -EIO) {
		if (!d->store_failed)
			log_warnx("store.unavailable error=\"%s\"", strerror(-rc));
		d->store_failed = true;
	} else if (rc == 0 && d->store_failed) {
		log_info("store.available");
		d->store_failed = false;
	}
}

struct plain_write {
	struct daemon *d;
	store_write_fn fn;
	void *arg;
	void (*free_arg)(void *);
};

static int
plain_fn(struct store_tx *tx, void *arg)
{
	struct plain_write *w = arg;

	return w->fn(tx, w->arg);
}

static void
plain_done(int rc, void *arg)
{
	struct plain_write *w = arg;

	daemon_note_store(w->d, rc);
	if (rc < 0)
		log_warnx("store.write error=\"%s\"", strerror(-rc));
	if (w->free_arg != NULL)
		w->free_arg(w->arg);
	free(w);
}

void
daemon_write(struct daemon *d, store_write_fn fn, void *arg,
	     void (*free_arg)(void *))
{
	struct plain_write *w = xmalloc(sizeof(*w));

	w->d = d;
	w->fn = fn;
	w->arg = arg;
	w->free_arg = free_arg;
	store_write(d->store, plain_fn, plain_done, w);
}

/* ---- shutdown ---- */

static void
on_http_closed(void *arg)
{
	struct daemon *d = arg;

	d->http = NULL;
}

static void
on_store_closed(void *arg)
{
	(void)arg;
}

#define CLOSE_POLL_MS 20
#define CLOSE_WAIT_MS 5000    /* for responses under way, at most */

static void
on_close_timer(uv_timer_t *t)
{
	daemon_run_gone(container_of(t, struct daemon, close_timer));
}

/* The daemon's own signals and timers (daemon_create starts them). */
static void
close_handles(struct daemon *d)
{
	uv_handle_t *h[] = {
		(uv_handle_t *)&d->sigterm,     (uv_handle_t *)&d->sigint,
		(uv_handle_t *)&d->sighup,      (uv_handle_t *)&d->sigusr2,
		(uv_handle_t *)&d->drain_timer, (uv_handle_t *)&d->flush_timer,
		(uv_handle_t *)&d->schedule_timer,
		(uv_handle_t *)&d->close_timer, (uv_handle_t *)&d->retain_timer,
		(uv_handle_t *)&d->prune_timer,
	};
	size_t i;

	for (i = 0; i < PW_ARRAY_LEN(h); i++)
		uv_close(h[i], NULL);
}

/* Once no run is active: close everything so that the loop ends. */
static void
maybe_finish(struct daemon *d)
{
	if (!d->draining || d->runs != NULL || d->http == NULL ||
	    d->upgrade != NULL || uv_is_closing((uv_handle_t *)&d->sigterm) ||
	    d->checkouts != NULL || (d->scm != NULL && scm_active(d->scm) > 0) ||
	    d->retaining || d->pruning || (d->reuse != NULL && reuse_step_busy(d->reuse) > 0) ||
	    d->reports_busy > 0)
		return;
	/* Requests being answered finish, with "Connection: close". */
	if (d->close_deadline == 0)
		d->close_deadline = pw_mono_ms() + CLOSE_WAIT_MS;
	if (http_server_connections(d->http) > 0 &&
	    pw_mono_ms() < d->close_deadline) {
		uv_timer_start(&d->close_timer, on_close_timer, CLOSE_POLL_MS, 0);
		return;
	}
	log_info("shutdown.done");
	/* After an upgrade the service goes on in the new daemon. */
	if (d->handed_fd < 0)
		daemon_sd_notify("STOPPING=1");
	close_handles(d);
	if (d->successor_fd >= 0)
		uv_close((uv_handle_t *)&d->predecessor, NULL);
	http_server_close(d->http, on_http_closed, d);
	if (d->notify != NULL) {
		notify_close(d->notify, NULL, NULL);
		d->notify = NULL;
	}
}

void
daemon_run_gone(struct daemon *d)
{
	maybe_finish(d);
}

static void
cancel_all(struct daemon *d)
{
	struct live_run *lr;
	int rc;

	for (lr = d->runs; lr != NULL; lr = lr->next) {
		rc = sched_run_cancel(lr->run);
		(void)rc; /* a finished one is on its way out */
	}
}

static void
on_drain_timeout(uv_timer_t *t)
{
	struct daemon *d = container_of(t, struct daemon, drain_timer);

	log_warnx("shutdown.drain_timeout: canceling the runs left");
	cancel_all(d);
}

static void
on_signal(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;

	if (d->draining) {
		if (d->detached) {
			log_info("shutdown.again signal=%d: the jobs are left "
				 "to their supervisors already", signum);
			return;
		}
		log_info("shutdown.again signal=%d: canceling every run", signum);
		cancel_all(d);
		return;
	}
	d->draining = true;
	log_info("shutdown.start signal=%s drain=%s", strsignal(signum),
		 config_drain_name(config_drain(d->config)));
	daemon_supervisor_pool(d, false);
	daemon_sd_notify("STOPPING=1");
	http_server_stop_accepting(d->http);
	if (d->detached)
		upgrade_stop_successor(d); /* the service is being stopped */
	else if (config_drain(d->config) == CONFIG_DRAIN_DETACH)
		handover_begin(d, daemon_run_gone);
	else if (config_drain(d->config) == CONFIG_DRAIN_CANCEL)
		cancel_all(d);
	else if (d->runs != NULL)
		uv_timer_start(&d->drain_timer, on_drain_timeout,
			       config_drain_timeout_ms(d->config), 0);
	maybe_finish(d);
}

static void
on_sighup(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;
	struct pipeline_problems pp;
	struct config *c;
	size_t i;

	(void)signum;
	pipeline_problems_init(&pp);
	if (config_load(d->config_path, &c, &pp) < 0) {
		for (i = 0; i < pp.count; i++)
			log_warnx("config.invalid %s:%d:%d: %s", pp.items[i].file,
				  pp.items[i].line, pp.items[i].column,
				  pp.items[i].message);
		log_warnx("config.reload failed: keeping the running configuration");
		pipeline_problems_free(&pp);
		return;
	}
	pipeline_problems_free(&pp);
	config_destroy(d->config);
	d->config = c;
	jobreuse_config(d);
	jobimage_config(d);
	log_init(config_log_format(c) == CONFIG_LOG_JSON ? LOG_JSON : LOG_TEXT,
		 d->debug);
	if (!d->detached)
		schedules_load(d);
	if (!d->detached && !d->draining && d->upgrade == NULL)
		daemon_supervisor_pool(d, true);  /* its new size */
	log_info("config.reloaded path=%s projects=%zu", d->config_path,
		 config_project_count(c));
}

/* ---- start ---- */

void
daemon_supervisor_pool(struct daemon *d, bool on)
{
	size_t n = on ? config_supervisor_pool(d->config) : 0;
	int rc;

	if ((rc = exec_supervisor_pool(d->exec, n)) < 0)
		log_warnx("supervisor_pool error=\"%s\": jobs start supervisors "
			  "of their own", strerror(-rc));
}

int
daemon_sched_create(struct daemon *d, char **err)
{
	struct sched_options so = {
		.max_jobs = (int)config_max_jobs(d->config),
		.attempts_dir = d->attempts_dir,
		.kill_grace_ms = config_kill_grace_ms(d->config),
		/* Jobs outlive the daemon: the next one takes them up. */
		.tied = false,
		.max_log = config_max_log(d->config),
		.sandbox = config_sandbox(d->config) == CONFIG_SANDBOX_STRICT ?
				   EXEC_SANDBOX_STRICT :
				   EXEC_SANDBOX_NONE,
	};
	struct sched_callbacks cb = {
		.event = record_event,
		.output = record_output,
		.attempt_prepare = record_prepare,
		.attempt_finish = attempt_finish,
		.arg = d,
	};
	int rc = sched_create(&d->loop, d->exec, &so, &cb, &d->sched);

	if (rc < 0)
		*err = xasprintf("cannot start the scheduler: %s", strerror(-rc));
	return rc;
}

static void
on_sigusr2(uv_signal_t *h, int signum)
{
	(void)signum;
	upgrade_start(h->data);
}

/* *path (freed) becomes its real path; -errno if it cannot be had. */
static int
real_path(char **path)
{
	char *r = realpath(*path, NULL);

	if (r == NULL)
		return -errno;
	free(*path);
	*path = r;
	return 0;
}

int
daemon_create(const struct daemon_options *opts, struct daemon **out,
	      char **err)
{
	struct daemon *d = xcalloc(1, sizeof(*d));
	struct pipeline_problems pp;
	const struct http_route *routes;
	struct http_limits limits;
	struct api_env env;
	char *msg = NULL, *mirrors;
	size_t nroutes, i;
	struct buf b;
	int rc;

	d->pid_fd = -1;
	d->successor_fd = -1;
	d->handed_fd = -1;
	d->config_path = xstrdup(opts->config_path);
	d->self_path = opts->self_path != NULL ? xstrdup(opts->self_path) : NULL;
	pipeline_problems_init(&pp);
	if (config_load(opts->config_path, &d->config, &pp) < 0) {
		buf_init(&b, 0);
		for (i = 0; i < pp.count; i++)
			buf_addf(&b, "%s%s:%d:%d: error: %s",
				 i > 0 ? "\n" : "", pp.items[i].file,
				 pp.items[i].line, pp.items[i].column,
				 pp.items[i].message);
		*err = buf_steal(&b);
		pipeline_problems_free(&pp);
		free(d->config_path);
		free(d->self_path);
		free(d);
		return -EINVAL;
	}
	pipeline_problems_free(&pp);
	d->debug = getenv("PIPEWRIGHT_DEBUG") != NULL;
	log_init(config_log_format(d->config) == CONFIG_LOG_JSON ? LOG_JSON :
								    LOG_TEXT,
		 d->debug);
	uv_loop_init(&d->loop);
	d->attempts_dir = xasprintf("%s/attempts", config_data_dir(d->config));
	d->workspaces_dir = xasprintf("%s/workspaces",
				      config_data_dir(d->config));
	if ((rc = pw_mkdirs(d->attempts_dir, 0700)) < 0 ||
	    (rc = pw_mkdirs(d->workspaces_dir, 0700)) < 0) {
		*err = xasprintf("cannot create the data directory %s: %s",
				 config_data_dir(d->config), strerror(-rc));
		goto fail;
	}
	/*
	 * Their real paths: a strict job sees its workspace and HOME only at
	 * their real paths, so `data_dir: ../var` must not leave a ".." in
	 * the directory the job is started in.
	 */
	if ((rc = real_path(&d->attempts_dir)) < 0 ||
	    (rc = real_path(&d->workspaces_dir)) < 0) {
		*err = xasprintf("cannot resolve the data directory %s: %s",
				 config_data_dir(d->config), strerror(-rc));
		goto fail;
	}
	if ((rc = daemon_pid_file_take(d, err)) < 0)
		goto fail;
	rc = store_open(&d->loop, config_db_path(d->config), &d->store, &msg);
	if (rc < 0) {
		*err = msg;
		goto fail;
	}
	if ((rc = jobreuse_open(d, err)) < 0)
		goto fail;
	rc = exec_create(&d->loop, opts->supervisor_path, &d->exec);
	if (rc < 0) {
		*err = xasprintf("cannot start the executor: %s", strerror(-rc));
		goto fail;
	}
	/* The store's writer reads logs from the files (live.c). */
	exec_log_notes(d->exec, true);
	if ((rc = jobimage_open(d, err)) < 0)
		goto fail;
	mirrors = xasprintf("%s/mirrors", config_data_dir(d->config));
	if ((rc = pw_mkdirs(mirrors, 0700)) == 0)
		rc = scm_create(&d->loop, d->exec, mirrors, &d->scm);
	free(mirrors);
	if (rc < 0) {
		*err = xasprintf("cannot prepare the repository mirrors: %s",
				 strerror(-rc));
		goto fail;
	}
	if (config_sandbox(d->config) == CONFIG_SANDBOX_STRICT &&
	    (rc = exec_netns_pool(d->exec, config_max_jobs(d->config))) < 0)
		log_warnx("sandbox.netns_pool error=\"%s\": jobs make their own",
			  strerror(-rc));
	daemon_supervisor_pool(d, true);
	if ((rc = daemon_sched_create(d, err)) < 0)
		goto fail;
	/* A paused queue stays paused across a restart: before any run. */
	if ((rc = queue_restore(d, err)) < 0)
		goto fail;
	if ((rc = daemon_notify_create(d, err)) < 0)
		goto fail;
	daemon_api_env(d, &env);
	rc = api_create(&env, &d->api);
	if (rc == 0) {
		nroutes = api_routes(d->api, &routes);
		limits = (struct http_limits){
			.max_body = config_http_max_body(d->config),
			.max_connections = config_http_max_connections(d->config),
			.read_timeout_ms = config_http_read_timeout_ms(d->config),
			.idle_timeout_ms = config_http_idle_timeout_ms(d->config),
			.max_connections_per_address =
				config_http_max_connections_per_address(d->config),
			.header_timeout_ms = config_http_header_timeout_ms(d->config),
		};
		rc = http_server_create(&d->loop, &limits, routes, nroutes,
					d->api, &d->http);
	}
	if (rc == 0) {
		const char *const *proxies;
		size_t nproxies;

		proxies = config_http_trusted_proxies(d->config, &nproxies);
		rc = http_server_set_trusted_proxies(d->http, proxies, nproxies);
	}
	if (rc == 0) {
		http_server_set_log(d->http, api_log_request, d->api);
		http_server_set_guard(d->http, api_guard, d->api);
		rc = http_server_listen(d->http, config_listen(d->config),
					opts->listen_fd, d->host,
					sizeof(d->host), &d->port);
	}
	if (rc < 0) {
		*err = xasprintf("cannot listen on %s: %s",
				 config_listen(d->config), strerror(-rc));
		goto fail;
	}
	if (config_public_url_set(d->config))
		d->public_url = xstrdup(config_public_url(d->config));
	else
		d->public_url = xasprintf(strchr(d->host, ':') != NULL ?
						  "http://[%s]:%d" :
						  "http://%s:%d",
					  d->host, d->port);
	uv_timer_init(&d->loop, &d->drain_timer);
	uv_timer_init(&d->loop, &d->flush_timer);
	uv_signal_init(&d->loop, &d->sigterm);
	uv_signal_init(&d->loop, &d->sigint);
	uv_signal_init(&d->loop, &d->sighup);
	uv_signal_init(&d->loop, &d->sigusr2);
	uv_timer_init(&d->loop, &d->close_timer);
	uv_timer_init(&d->loop, &d->retain_timer);
	uv_timer_init(&d->loop, &d->prune_timer);
	d->sigterm.data = d->sigint.data = d->sighup.data = d->sigusr2.data = d;
	uv_signal_start(&d->sigterm, on_signal, SIGTERM);
	uv_signal_start(&d->sigint, on_signal, SIGINT);
	uv_signal_start(&d->sighup, on_sighup, SIGHUP);
	uv_signal_start(&d->sigusr2, on_sigusr2, SIGUSR2);
	/*
	 * libuv writes to sockets with write(2): a client that resets its
	 * connection while an answer or a stream is being written would
	 * raise SIGPIPE and end the daemon.  Ignored, the write fails with
	 * EPIPE and the connection is closed.  Children get the default back
	 * (uv_spawn resets every disposition; the supervisor resets them for
	 * the job).
	 */
	signal(SIGPIPE, SIG_IGN);
	uv_timer_init(&d->loop, &d->schedule_timer);
	if ((rc = runs_recover(d, err)) < 0)
		goto fail_started;
	schedules_load(d);
	retain_start(d);
	d->successor_fd = opts->upgrade_fd;
	*out = d;
	return 0;
fail_started:
	/* Handles are open: the caller's daemon_destroy cannot run the loop. */
	close_handles(d);
fail:
	daemon_destroy(d);
	return rc < 0 ? rc : -EINVAL;
}

int
daemon_run(struct daemon *d)
{
	log_info("pipewright.start version=%s data_dir=%s projects=%zu",
		 PW_VERSION_STRING, config_data_dir(d->config),
		 config_project_count(d->config));
	log_plain("listening on http://%s%s%s:%d",
		  strchr(d->host, ':') != NULL ? "[" : "", d->host,
		  strchr(d->host, ':') != NULL ? "]" : "", d->port);
	if (d->successor_fd >= 0)
		upgrade_report_ready(d);
	else
		daemon_sd_notify("READY=1");
	files_sweep(d);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	return d->exit_status;
}

void
daemon_destroy(struct daemon *d)
{
	if (d == NULL)
		return;
	while (d->runs != NULL)
		live_run_remove(d, d->runs);
	if (d->http != NULL) {
		http_server_close(d->http, on_http_closed, d);
		uv_run(&d->loop, UV_RUN_DEFAULT);
	}
	if (d->notify != NULL) {
		notify_close(d->notify, NULL, NULL);
		d->notify = NULL;
		uv_run(&d->loop, UV_RUN_DEFAULT);
	}
	if (d->store != NULL) {
		store_close(d->store, on_store_closed, d);
		uv_run(&d->loop, UV_RUN_DEFAULT);
	}
	api_destroy(d->api);
	sched_destroy(d->sched);
	jobreuse_close(d);
	jobimage_close(d);
	if (d->scm != NULL) {
		uv_run(&d->loop, UV_RUN_DEFAULT);
		scm_destroy(d->scm);
	}
	if (d->exec != NULL) {
		uv_run(&d->loop, UV_RUN_DEFAULT);
		exec_destroy(d->exec);
	}
	uv_run(&d->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&d->loop) != 0)
		log_warnx("shutdown: handles left open");
	upgrade_free(d);
	daemon_pid_file_remove(d);
	free(d->self_path);
	schedules_free(d);
	prune_free(d);
	durations_free(d);
	cicd_free(d);
	free(d->held);
	free(d->run_index);
	config_destroy(d->config);
	free(d->public_url);
	free(d->attempts_dir);
	free(d->workspaces_dir);
	free(d->config_path);
	free(d);
}
