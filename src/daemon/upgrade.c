/*
 * Zero-downtime upgrade: SIGUSR2 (or `pipewright upgrade`).
 *
 * The old daemon hands its jobs over (handover.c: nothing starts, logs and
 * changes committed, runs out of memory), lets go of the pid file's lock
 * and starts the configured binary (`binary`, else the program it was
 * started as — never /proc/self/exe, which names the replaced file) as
 * `serve --config FILE`, with the listening socket as descriptor 3
 * (PIPEWRIGHT_LISTEN_FD) and one end of a socket pair as descriptor 4
 * (PIPEWRIGHT_UPGRADE_FD).  Meanwhile it keeps accepting: reads are
 * answered, new runs are committed (the new daemon starts them), changes
 * to runs answer 503 "unavailable" (try again in a moment).  The new daemon takes the lock,
 * opens the store, takes the supervisors up and writes "READY <pid>\n" on
 * the pair; only then does the old one stop accepting, finish the answers
 * under way with "Connection: close" and exit.  Its end of the pair closes
 * with it, which tells the new daemon to recover what was committed during
 * the swap.  Two schedulers never run at once; the listening socket is
 * never closed, so no connection is refused.
 *
 * If the new daemon exits, closes the pair or is not ready within
 * upgrade_timeout (it is then killed), the old one takes the lock back and
 * resumes: a recovery in place, as at a start.  The outcome is written to
 * <data_dir>/upgrade.result ("ok PID" or "failed: why") for the CLI.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon-int.h"

extern char **environ;

struct upgrade {
	struct daemon *d;
	uv_process_t child;
	uv_pipe_t chan;           /* our end of the pair */
	uv_timer_t timer;
	int handles;              /* open among child, chan, timer */
	bool child_inited;        /* uv_spawn succeeded */
	bool child_running;
	bool stop_successor;      /* SIGTERM came meanwhile: stop it too */
	bool ready, failed;
	char line[64];
	size_t len;
	long pid;                 /* the new daemon's */
};

/* Written whole then renamed: a reader never sees half a line. */
static void
write_result(struct daemon *d, const char *text)
{
	char *path = xasprintf("%s/upgrade.result", config_data_dir(d->config));
	char *tmp = xasprintf("%s.tmp", path);
	FILE *f = fopen(tmp, "we");

	if (f != NULL) {
		fprintf(f, "%s\n", text);
		if (fclose(f) != 0 || rename(tmp, path) < 0)
			log_warnx("upgrade: cannot write %s: %s", path,
				  strerror(errno));
	}
	free(tmp);
	free(path);
}

static void
on_handle_closed(uv_handle_t *h)
{
	struct upgrade *u = h->data;
	struct daemon *d = u->d;
	char *err = NULL;

	if (--u->handles > 0)
		return;
	d->upgrade = NULL;
	free(u);
	if (d->draining) {
		daemon_run_gone(d);
		return;
	}
	if (!d->detached)
		return;
	/*
	 * The new daemon failed and is gone: this one goes on, but only with
	 * the lock — whoever took it meanwhile schedules, not two of us.
	 */
	if (daemon_pid_file_take(d, &err) < 0 || handover_resume(d, &err) < 0) {
		log_warnx("upgrade.resume failed: %s; stopping", err);
		free(err);
		d->draining = true;
		http_server_stop_accepting(d->http);
		daemon_run_gone(d);
		return;
	}
	daemon_supervisor_pool(d, true);
	log_info("upgrade.resumed: this daemon serves and schedules again");
	daemon_sd_notify("READY=1");
}

static void
close_all(struct upgrade *u)
{
	if (!uv_is_closing((uv_handle_t *)&u->timer))
		uv_close((uv_handle_t *)&u->timer, on_handle_closed);
	if (!uv_is_closing((uv_handle_t *)&u->chan))
		uv_close((uv_handle_t *)&u->chan, on_handle_closed);
	if (u->child_inited && !u->child_running &&
	    !uv_is_closing((uv_handle_t *)&u->child))
		uv_close((uv_handle_t *)&u->child, on_handle_closed);
}

static void
fail(struct upgrade *u, const char *why)
{
	char *res;

	if (u->failed || u->ready)
		return;
	u->failed = true;
	log_warnx("upgrade.failed: %s; this daemon goes on", why);
	res = xasprintf("failed: %s", why);
	write_result(u->d, res);
	free(res);
	/* Its lock must be free before this daemon takes it back. */
	if (u->child_running)
		uv_process_kill(&u->child, SIGKILL);
	close_all(u);
}

static void
ready(struct upgrade *u)
{
	struct daemon *d = u->d;
	char *res;
	uv_os_fd_t fd;

	u->ready = true;
	log_info("upgrade.ready new_pid=%ld: it serves now; this daemon "
		 "finishes its answers and exits", u->pid);
	res = xasprintf("ok %ld", u->pid);
	write_result(d, res);
	free(res);
	/*
	 * Our end of the pair stays open until this process exits: its
	 * closing tells the new daemon that nothing more is committed here.
	 */
	if (uv_fileno((uv_handle_t *)&u->chan, &fd) == 0)
		d->handed_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	/* A SIGTERM meant for the service came during the swap. */
	if (u->stop_successor && kill((pid_t)u->pid, SIGTERM) == 0)
		log_info("upgrade: stopping the new daemon too (SIGTERM came "
			 "during the swap)");
	/* Not waited for: it is the service now. */
	u->child_running = false;
	d->draining = true;
	http_server_stop_accepting(d->http);
	close_all(u);
}

static void
on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
	struct upgrade *u = h->data;

	(void)size;
	buf->base = u->line + u->len;
	buf->len = sizeof(u->line) - 1 - u->len;
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct upgrade *u = s->data;
	char *nl;

	(void)buf;
	if (n < 0) {
		uv_read_stop(s);
		fail(u, "the new daemon closed its channel before it was ready "
		     "(see its messages above)");
		return;
	}
	u->len += (size_t)n;
	u->line[u->len] = '\0';
	nl = strchr(u->line, '\n');
	if (nl == NULL && u->len < sizeof(u->line) - 1)
		return;
	uv_read_stop(s);
	if (nl != NULL && sscanf(u->line, "READY %ld", &u->pid) == 1)
		ready(u);
	else
		fail(u, "the new daemon said something else than READY");
}

static void
on_child_exit(uv_process_t *p, int64_t status, int term_signal)
{
	struct upgrade *u = p->data;
	char *why;

	u->child_running = false;
	why = term_signal != 0 ?
		      xasprintf("the new daemon was killed by signal %d",
				term_signal) :
		      xasprintf("the new daemon exited with status %lld",
				(long long)status);
	fail(u, why);
	free(why);
	if (!uv_is_closing((uv_handle_t *)p))
		uv_close((uv_handle_t *)p, on_handle_closed);
}

static void
on_timeout(uv_timer_t *t)
{
	struct upgrade *u = t->data;
	char *why = xasprintf("the new daemon was not ready within %llu ms",
			      (unsigned long long)config_upgrade_timeout_ms(
				      u->d->config));

	fail(u, why);
	free(why);
}

/* environ without our two variables, then ours. */
static char **
child_env(void)
{
	size_t n = 0, k = 0, i;
	char **env;

	while (environ[n] != NULL)
		n++;
	env = xcalloc(n + 3, sizeof(char *));
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "PIPEWRIGHT_LISTEN_FD=", 21) != 0 &&
		    strncmp(environ[i], "PIPEWRIGHT_UPGRADE_FD=", 22) != 0)
			env[k++] = environ[i];
	env[k++] = "PIPEWRIGHT_LISTEN_FD=3";
	env[k++] = "PIPEWRIGHT_UPGRADE_FD=4";
	return env;
}

/* `binary` from the config, else the program as it was started; or NULL. */
static const char *
binary(const struct daemon *d)
{
	return config_binary(d->config) != NULL ? config_binary(d->config) :
						  d->self_path;
}

/* The jobs are handed over: start the new daemon. */
static void
spawn(struct daemon *d)
{
	struct upgrade *u = d->upgrade;
	const char *bin = binary(d);
	char *args[] = {(char *)bin, "serve", "--config", d->config_path, NULL};
	char **env = child_env();
	uv_stdio_container_t stdio[5];
	uv_process_options_t o = {0};
	int sv[2], listen_fd = http_server_listen_fd(d->http), rc, i;

	uv_timer_init(&d->loop, &u->timer);
	uv_pipe_init(&d->loop, &u->chan, 0);
	u->timer.data = u->chan.data = u->child.data = u;
	u->handles = 2;
	if (d->draining) {
		free(env);
		fail(u, "the daemon is stopping");
		return;
	}
	if (listen_fd < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(env);
		fail(u, listen_fd < 0 ? "no listening socket to hand over" :
					"cannot make the channel");
		return;
	}
	/* The new daemon takes the lock; it is taken back if it fails. */
	daemon_pid_file_hand_on(d);
	for (i = 0; i < 3; i++) {
		stdio[i].flags = UV_INHERIT_FD;
		stdio[i].data.fd = i;
	}
	stdio[3].flags = UV_INHERIT_FD;
	stdio[3].data.fd = listen_fd;
	stdio[4].flags = UV_INHERIT_FD;
	stdio[4].data.fd = sv[1];
	o.file = bin;
	o.args = args;
	o.env = env;
	o.stdio = stdio;
	o.stdio_count = 5;
	o.exit_cb = on_child_exit;
	/* Its own session: not hit by signals meant for this process group. */
	o.flags = UV_PROCESS_DETACHED;
	rc = uv_spawn(&d->loop, &u->child, &o);
	free(env);
	close(sv[1]);
	uv_pipe_open(&u->chan, sv[0]);
	if (rc < 0) {
		char *why = xasprintf("cannot start %s: %s", bin, uv_strerror(rc));

		/* libuv needs the failed handle closed; not counted. */
		uv_close((uv_handle_t *)&u->child, NULL);
		fail(u, why);
		free(why);
		return;
	}
	u->handles = 3;
	u->child_inited = true;
	u->child_running = true;
	log_info("upgrade.spawned pid=%d binary=%s", u->child.pid, bin);
	uv_read_start((uv_stream_t *)&u->chan, on_alloc, on_read);
	uv_timer_start(&u->timer, on_timeout,
		       config_upgrade_timeout_ms(d->config), 0);
}

void
upgrade_start(struct daemon *d)
{
	const char *bin = binary(d);
	char *why, *res;

	if (d->draining || d->upgrade != NULL || d->detached ||
	    d->successor_fd >= 0) {
		log_warnx("upgrade.refused: %s", d->draining ?
			  "the daemon is stopping" :
			  d->successor_fd >= 0 ? "the previous daemon has not "
			  "exited yet" : "an upgrade is under way");
		return;
	}
	if (bin == NULL || access(bin, X_OK) < 0) {
		why = xasprintf("cannot run %s: %s", bin != NULL ? bin :
			"(no binary: set `binary` in the configuration)",
			strerror(bin != NULL ? errno : ENOENT));
		log_warnx("upgrade.failed: %s; this daemon goes on", why);
		res = xasprintf("failed: %s", why);
		write_result(d, res);
		free(res);
		free(why);
		return;
	}
	log_info("upgrade.start binary=%s", bin);
	daemon_sd_notify("RELOADING=1");
	d->upgrade = xcalloc(1, sizeof(*d->upgrade));
	d->upgrade->d = d;
	/*
	 * Waiting supervisors are the binary of the moment they started,
	 * which the upgrade may have replaced: none is left for a job of
	 * this daemon's to take, should it resume.
	 */
	daemon_supervisor_pool(d, false);
	handover_begin(d, spawn);
}

void
upgrade_stop_successor(struct daemon *d)
{
	if (d->upgrade != NULL)
		d->upgrade->stop_successor = true;
}

void
upgrade_free(struct daemon *d)
{
	if (d->handed_fd >= 0)
		close(d->handed_fd);
	d->handed_fd = -1;
}

/* ---- the new daemon's side ---- */

static void
on_pred_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
	struct daemon *d = h->data;

	/* Nothing is expected: only the end counts. */
	(void)size;
	buf->base = d->pred_buf;
	buf->len = sizeof(d->pred_buf);
}

static void
on_pred_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct daemon *d = s->data;
	char *err = NULL;

	(void)buf;
	if (n >= 0)
		return;
	/* The old daemon has exited: what it committed meanwhile is ours. */
	uv_close((uv_handle_t *)s, NULL);
	d->successor_fd = -1;
	if (d->detached || d->draining)
		return; /* not ours to take up any more either */
	log_info("upgrade.predecessor_gone: recovering what it committed "
		 "during the swap");
	if (runs_recover(d, &err) < 0) {
		log_warnx("upgrade.recover: %s", err);
		free(err);
	}
}

void
upgrade_report_ready(struct daemon *d)
{
	char msg[64];
	int n;

	/*
	 * systemd first: once the old daemon reads READY it exits, and
	 * systemd must know the new main process by then (it reads
	 * notifications before exits), or it takes the exit for the
	 * service's end.
	 */
	snprintf(msg, sizeof(msg), "MAINPID=%ld\nREADY=1", (long)getpid());
	daemon_sd_notify(msg);
	n = snprintf(msg, sizeof(msg), "READY %ld\n", (long)getpid());
	if (write(d->successor_fd, msg, (size_t)n) != n)
		log_warnx("upgrade: cannot tell the old daemon: %s",
			  strerror(errno));
	uv_pipe_init(&d->loop, &d->predecessor, 0);
	d->predecessor.data = d;
	if (uv_pipe_open(&d->predecessor, d->successor_fd) < 0 ||
	    uv_read_start((uv_stream_t *)&d->predecessor, on_pred_alloc,
			  on_pred_read) < 0)
		log_warnx("upgrade: cannot watch the old daemon");
}
