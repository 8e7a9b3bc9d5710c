/*
 * exec_start(): the attempt directory, the socket, the supervisor.
 *
 * Order matters and is chosen so that nothing can fail once the supervisor
 * runs: make the directories, bind and listen on DIR/sock, connect our own
 * client and send ATTACH (a connect to a listening unix socket completes at
 * once and the request waits in the socket until the supervisor reads it),
 * wrap the client in a uv_pipe_t, and spawn the supervisor last with the
 * listening socket as its fd 3.  If the spawn fails everything is undone
 * and no callback runs.
 *
 * The socket is bound through "/proc/self/fd/<dirfd>/sock" so that
 * sun_path stays short (108 bytes at most) however long the data directory
 * is.  The supervisor runs detached (its own session): a terminal's Ctrl-C
 * must not reach the job directly, the caller cancels it instead.
 *
 * The supervisor runs as root under strict, so its own environment is a
 * fixed one and never the job's (envfd.c): the job's variables go to it as
 * a sealed memfd on the descriptor after the others, named by --env-fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "exec-int.h"

void
exec_sock_addr(int dirfd, struct sockaddr_un *addr)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	snprintf(addr->sun_path, sizeof(addr->sun_path), "/proc/self/fd/%d/%s",
		 dirfd, SUPERVISOR_SOCK_FILE);
}

int
exec_connect(const struct sockaddr_un *addr, int *out)
{
	int fd, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	do {
		rc = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	} while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

/*
 * A socket file left by a supervisor that died refuses connections and is
 * replaced; one that a live supervisor still serves means the directory is
 * in use.
 */
static int
listen_at(int dirfd, const struct sockaddr_un *addr, int *out)
{
	int fd, probe = -1, rc, tries;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	for (tries = 0;; tries++) {
		if (bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0)
			break;
		rc = -errno;
		if (rc != -EADDRINUSE || tries > 0)
			goto fail;
		rc = exec_connect(addr, &probe);
		if (rc == 0) {
			close(probe);
			rc = -EADDRINUSE;
			goto fail;
		}
		if (rc != -ECONNREFUSED) {
			rc = -EADDRINUSE;
			goto fail;
		}
		unlinkat(dirfd, SUPERVISOR_SOCK_FILE, 0);
	}
	if (listen(fd, 16) < 0) {
		rc = -errno;
		unlinkat(dirfd, SUPERVISOR_SOCK_FILE, 0);
		goto fail;
	}
	*out = fd;
	return 0;
fail:
	close(fd);
	return rc;
}

int
exec_send_all(int fd, const char *s)
{
	size_t len = strlen(s), off = 0;
	ssize_t n;

	while (off < len) {
		n = send(fd, s + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

struct args {
	char *v[48];                 /* the supervisor's own options */
	char timeout[24], grace[24], max_log[24], uid[24], gid[24], envfd[24];
	char svcfd[24], tiefd[24];
	char res[5][24];
};

/* The sandbox's options (strict only); masks are added by build_args. */
static size_t
sandbox_args(const struct exec_spec *spec, int netns_fd, struct args *s,
	     size_t n)
{
	const struct {
		const char *opt;
		uint64_t v;
	} res[5] = {
		{"--memory", spec->resources.memory},
		{"--pids", spec->resources.pids},
		{"--cpu-seconds", spec->resources.cpu_seconds},
		{"--file-size", spec->resources.file_size},
		{"--open-files", spec->resources.open_files},
	};
	size_t i;

	if (spec->sandbox != EXEC_SANDBOX_STRICT) {
		/* None runs as us, or as this host user (`run` as root). */
		if (spec->uid != 0) {
			snprintf(s->uid, sizeof(s->uid), "%u", spec->uid);
			snprintf(s->gid, sizeof(s->gid), "%u",
				 spec->gid != 0 ? spec->gid : spec->uid);
			s->v[n++] = "--uid";
			s->v[n++] = s->uid;
			s->v[n++] = "--gid";
			s->v[n++] = s->gid;
		}
		return n;
	}
	s->v[n++] = "--sandbox";
	s->v[n++] = "strict";
	if (spec->workspace != NULL) {
		s->v[n++] = "--workspace";
		s->v[n++] = (char *)spec->workspace;
	}
	if (spec->workspace_at != NULL) {
		s->v[n++] = "--workspace-at";
		s->v[n++] = (char *)spec->workspace_at;
	}
	if (spec->rootfs != NULL) {
		s->v[n++] = "--rootfs";
		s->v[n++] = (char *)spec->rootfs;
	}
	if (spec->network)
		s->v[n++] = "--network";
	if (netns_fd >= 0) {
		s->v[n++] = "--netns-fd";
		s->v[n++] = "4";
	}
	if (spec->uid != 0) {
		snprintf(s->uid, sizeof(s->uid), "%u", spec->uid);
		s->v[n++] = "--uid";
		s->v[n++] = s->uid;
	}
	if (spec->gid != 0) {
		snprintf(s->gid, sizeof(s->gid), "%u", spec->gid);
		s->v[n++] = "--gid";
		s->v[n++] = s->gid;
	}
	if (spec->user != NULL) {
		s->v[n++] = "--user";
		s->v[n++] = (char *)spec->user;
	}
	for (i = 0; i < PW_ARRAY_LEN(res); i++) {
		if (res[i].v == 0)
			continue;
		snprintf(s->res[i], sizeof(s->res[i]), "%llu",
			 (unsigned long long)res[i].v);
		s->v[n++] = (char *)res[i].opt;
		s->v[n++] = s->res[i];
	}
	return n;
}

/* The supervisor's argv (caller frees the array, not the strings). */
static char **
build_args(const struct exec *e, const struct exec_spec *spec, int netns_fd,
	   int env_fd, int svc_fd, int tie_fd, struct args *s)
{
	size_t n = 0, argc = 0, nmask = 0, nmount = 0, i;
	char **v;

	snprintf(s->timeout, sizeof(s->timeout), "%llu",
		 (unsigned long long)spec->timeout_ms);
	snprintf(s->grace, sizeof(s->grace), "%llu",
		 (unsigned long long)spec->kill_grace_ms);
	snprintf(s->max_log, sizeof(s->max_log), "%llu",
		 (unsigned long long)(spec->max_log != 0
				      ? spec->max_log
				      : SUPERVISOR_DEFAULT_MAX_LOG));
	s->v[n++] = e->supervisor_path;
	s->v[n++] = "--dir";
	s->v[n++] = (char *)spec->dir;
	s->v[n++] = "--listen-fd";
	s->v[n++] = "3";
	if (spec->cwd != NULL) {
		s->v[n++] = "--cwd";
		s->v[n++] = (char *)spec->cwd;
	}
	s->v[n++] = "--timeout-ms";
	s->v[n++] = s->timeout;
	s->v[n++] = "--grace-ms";
	s->v[n++] = s->grace;
	s->v[n++] = "--max-log";
	s->v[n++] = s->max_log;
	if (spec->tied) {
		s->v[n++] = "--tied";
		snprintf(s->tiefd, sizeof(s->tiefd), "%d", tie_fd);
		s->v[n++] = "--tie-fd";
		s->v[n++] = s->tiefd;
	}
	snprintf(s->envfd, sizeof(s->envfd), "%d", env_fd);
	s->v[n++] = "--env-fd";
	s->v[n++] = s->envfd;
	if (svc_fd >= 0) {
		snprintf(s->svcfd, sizeof(s->svcfd), "%d", svc_fd);
		s->v[n++] = "--services-fd";
		s->v[n++] = s->svcfd;
	}
	n = sandbox_args(spec, netns_fd, s, n);
	while (spec->argv[argc] != NULL)
		argc++;
	while (spec->mask != NULL && spec->mask[nmask] != NULL)
		nmask++;
	while (spec->sandbox == EXEC_SANDBOX_STRICT && spec->mounts != NULL &&
	       spec->mounts[nmount] != NULL)
		nmount++;
	v = xcalloc(n + 2 * (nmask + nmount) + 1 + argc + 1, sizeof(*v));
	memcpy(v, s->v, n * sizeof(*v));
	for (i = 0; i < nmount; i++) {
		v[n++] = "--mount";
		v[n++] = (char *)spec->mounts[i];
	}
	/* Names only: the values are in the job's environment (--env-fd). */
	for (i = 0; i < nmask; i++) {
		v[n++] = "--mask";
		v[n++] = (char *)spec->mask[i];
	}
	v[n++] = "--";
	for (i = 0; i < argc; i++)
		v[n + i] = (char *)spec->argv[i];
	return v;
}

/*
 * A pre-started supervisor (pool.c) gets the argv and descriptors a fresh
 * spawn would have had, in one message; the descriptors land at the same
 * numbers (3: the listener, then the netns, env and services ones).
 * *out is NULL, and nothing has changed, when the pool has none or the
 * one taken is gone: the caller spawns a fresh supervisor.  The message
 * goes before our client is wrapped: a send that fails must leave *cfd
 * for that fresh one.
 */
static int
start_pooled(struct exec *e, const struct exec_spec *spec, char **argv,
	     int lfd, int nsfd, int efd, int sfd, int tfd,
	     exec_output_cb output_cb,
	     exec_end_cb end_cb, void *arg, int *cfd, struct exec_attempt **out)
{
	struct exec_attempt *a;
	int fds[SUPERVISOR_MAX_SPEC_FDS], rc;
	size_t n = 0, i, len;

	*out = NULL;
	for (i = 0, len = 0; argv[i] != NULL; i++)
		len += strlen(argv[i]) + 1;
	if (len > SUPERVISOR_MAX_SPEC)
		return 0;  /* a script that long: exec'd as its argv */
	fds[n++] = lfd;
	if (nsfd >= 0)
		fds[n++] = nsfd;
	fds[n++] = efd;
	if (sfd >= 0)
		fds[n++] = sfd;
	if (tfd >= 0)
		fds[n++] = tfd;
	if ((a = exec_pool_take(e)) == NULL)
		return 0;
	rc = exec_pool_send(a, argv, fds, n);
	exec_pool_sent(a, rc == 0);
	if (rc < 0)
		return 0;
	free(a->dir);
	a->dir = xstrdup(spec->dir);
	exec_attempt_notes(a, e->notes);  /* as our ATTACH said */
	a->output_cb = output_cb;
	a->end_cb = end_cb;
	a->arg = arg;
	rc = uv_pipe_init(e->loop, &a->sock, 0);
	if (rc == 0) {
		a->has_sock = true;
		a->open_handles++;
		rc = uv_pipe_open(&a->sock, *cfd);
	}
	if (rc < 0) {
		/*
		 * The supervisor has its spec and runs: it must not run the
		 * job for nobody.  Our ATTACH is in its backlog; a CANCEL
		 * after it ends the job, and the supervisor is reaped as a
		 * let-go one.
		 */
		if (exec_send_all(*cfd, "CANCEL\n") < 0)
			kill(a->pool_pid, SIGTERM);  /* a cancel too */
		close(*cfd);
		*cfd = -1;
		e->active++;
		exec_detach(a);
		return rc;
	}
	*cfd = -1;  /* the pipe owns it */
	*out = a;
	return 0;
}

int
exec_start(struct exec *e, const struct exec_spec *spec,
	   exec_output_cb output_cb, exec_end_cb end_cb, void *arg,
	   struct exec_attempt **out)
{
	struct exec_attempt *a = NULL;
	uv_process_options_t opts;
	uv_stdio_container_t stdio[8];
	struct sockaddr_un addr;
	struct args sargs;
	char **argv = NULL, **senv = NULL, *home, hello[64];
	int dirfd = -1, lfd = -1, cfd = -1, nsfd = -1, efd = -1, sfd = -1, rc;
	int tie[2] = {-1, -1}, nfd;

	if (e == NULL || spec == NULL || spec->dir == NULL ||
	    spec->argv == NULL || spec->argv[0] == NULL || end_cb == NULL)
		return -EINVAL;
	rc = exec_env_memfd(spec->env, &efd);
	if (rc < 0)
		return rc;
	if (spec->nservices > 0) {
		rc = exec_services_memfd(spec->services, spec->nservices, &sfd);
		if (rc < 0)
			goto out;
	}
	rc = pw_mkdirs(spec->dir, 0700);
	if (rc < 0)
		goto out;
	home = xasprintf("%s/home", spec->dir);
	rc = mkdir(home, 0700) < 0 && errno != EEXIST ? -errno : 0;
	free(home);
	if (rc < 0)
		goto out;
	dirfd = open(spec->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		rc = -errno;
		goto out;
	}
	exec_sock_addr(dirfd, &addr);
	rc = listen_at(dirfd, &addr, &lfd);
	if (rc < 0)
		goto out;
	rc = exec_connect(&addr, &cfd);
	if (rc < 0)
		goto out;
	snprintf(hello, sizeof(hello), "ATTACH %u 0\n", exec_greeting_version(e));
	rc = exec_send_all(cfd, hello);
	if (rc < 0)
		goto out;

	/*
	 * Tied: the supervisor learns our death from the end of a pipe
	 * whose other end only this process holds (close-on-exec), not from
	 * the death signal, which follows a thread (main.c, tie_cut).
	 */
	if (spec->tied && pipe2(tie, O_CLOEXEC) < 0) {
		rc = -errno;
		goto out;
	}

	if (spec->sandbox == EXEC_SANDBOX_STRICT && !spec->network)
		nsfd = exec_netns_take(e);
	/* Its descriptors from 3 on: listen, netns, env, services, tie. */
	nfd = nsfd >= 0 ? 5 : 4;
	argv = build_args(e, spec, nsfd, nfd, sfd < 0 ? -1 : nfd + 1,
			  tie[0] < 0 ? -1 : nfd + 1 + (sfd >= 0), &sargs);
	if (e->pool_size > 0) {
		rc = start_pooled(e, spec, argv, lfd, nsfd, efd, sfd, tie[0],
				  output_cb, end_cb, arg, &cfd, &a);
		if (rc < 0)
			goto out;
		if (a != NULL)
			goto begin;
	}

	a = exec_attempt_new(e, spec->dir, output_cb, end_cb, arg);
	rc = uv_pipe_init(e->loop, &a->sock, 0);
	if (rc < 0)
		goto out;
	a->has_sock = true;
	a->open_handles++;
	rc = uv_pipe_open(&a->sock, cfd);
	if (rc < 0)
		goto out;
	cfd = -1;  /* the pipe owns it */

	senv = exec_supervisor_env();
	memset(&opts, 0, sizeof(opts));
	memset(stdio, 0, sizeof(stdio));
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_IGNORE;
	stdio[2].flags = UV_INHERIT_FD;  /* its complaints reach our stderr */
	stdio[2].data.fd = STDERR_FILENO;
	stdio[3].flags = UV_INHERIT_FD;
	stdio[3].data.fd = lfd;
	opts.exit_cb = exec_attempt_on_exit;
	opts.file = e->supervisor_path;
	opts.args = argv;
	opts.env = senv;  /* never the job's: see envfd.c */
	opts.flags = UV_PROCESS_DETACHED;
	opts.stdio = stdio;
	opts.stdio_count = 4;
	if (nsfd >= 0) {
		/* Its pooled network namespace; the supervisor joins it. */
		stdio[4].flags = UV_INHERIT_FD;
		stdio[4].data.fd = nsfd;
		opts.stdio_count = 5;
	}
	stdio[opts.stdio_count].flags = UV_INHERIT_FD;  /* --env-fd */
	stdio[opts.stdio_count].data.fd = efd;
	opts.stdio_count++;
	if (sfd >= 0) {
		stdio[opts.stdio_count].flags = UV_INHERIT_FD; /* --services-fd */
		stdio[opts.stdio_count].data.fd = sfd;
		opts.stdio_count++;
	}
	if (tie[0] >= 0) {
		stdio[opts.stdio_count].flags = UV_INHERIT_FD; /* --tie-fd */
		stdio[opts.stdio_count].data.fd = tie[0];
		opts.stdio_count++;
	}
	rc = uv_spawn(e->loop, &a->proc, &opts);
	a->has_proc = true;  /* closed even if the spawn failed */
	a->open_handles++;
	if (rc < 0)
		goto out;
begin:
	a->tie_fd = tie[1];  /* held while the attempt is ours */
	tie[1] = -1;
	e->active++;
	exec_attempt_begin(a);
	*out = a;
out:
	free(argv);
	pw_strv_free(senv);
	if (efd >= 0)
		close(efd);  /* the supervisor has its own */
	if (sfd >= 0)
		close(sfd);
	if (nsfd >= 0)
		close(nsfd);  /* the supervisor has its own, or the job failed */
	if (lfd >= 0)
		close(lfd);
	if (tie[0] >= 0)
		close(tie[0]);
	if (tie[1] >= 0)
		close(tie[1]);
	if (rc < 0) {
		if (cfd >= 0)
			close(cfd);
		if (lfd >= 0)
			unlinkat(dirfd, SUPERVISOR_SOCK_FILE, 0);
		if (a != NULL)
			exec_attempt_abort(a);
	}
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}
