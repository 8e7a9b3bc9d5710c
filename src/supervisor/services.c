/*
 * The manager of a job's services: the job's first process when the job
 * has services, in the place where the script would have been exec'd
 * (sv_job_exec: forked by the supervisor without a sandbox, by the
 * sandbox's init with one).  So the services live inside the job's
 * sandbox exactly as its script does: the same namespaces (127.0.0.1 is
 * the job's own loopback), root, limits, cgroups and user.
 *
 * In order, for each service: its own directory (PIPEWRIGHT_SERVICE_DIR,
 * under the job's HOME, which is the attempt's own), its `setup` commands
 * (sh -e -c, one by one), the service itself in a process group of its
 * own, then its readiness check every 100 ms until it passes or
 * `ready_timeout` is over.  Then the script.  When the script ends, each
 * service in reverse order gets SIGTERM (its group, and each descendant
 * that left the group), the grace, then SIGKILL; a last sweep gives what
 * their orphans left SIGTERM and the grace, then SIGKILL (this process is
 * a subreaper, so nothing escapes to the supervisor unseen), and the
 * manager exits with the script's status.
 *
 * A service that exits while the script runs fails the job: the script is
 * stopped (SIGTERM, grace, SIGKILL) and the report says which service and
 * how it ended, so that the job's failure is never taken for the
 * script's.  A service that fails its setup, exits before it is ready or
 * is not ready in time ends the job before the script starts.  Reports go
 * to the supervisor on a pipe of their own ("E" before the script, "F"
 * during it: "<kind><name>\t<why>"); the supervisor makes the reason of
 * them and copies the service's last lines into the job's log.
 *
 * Signals stay blocked (as sv_job_start forked us) and are taken with
 * sigtimedwait: SIGCHLD to reap, SIGTERM/INT/HUP as a cancel, which the
 * supervisor (or init) has already sent to every process of the job, so
 * the manager only waits for them to go, escalating after the grace.
 * The readiness checks use no name resolution: a static binary, and the
 * services are on the job's loopback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "supervisor.h"

#define PROBE_EVERY_MS 100
#define PROBE_IO_MS 1000

struct mgr {
	struct supervisor *sv;
	int out;                  /* the job's log */
	pid_t script;             /* 0: not started */
	bool script_alive;
	int script_status;
	pid_t probe;              /* a `ready: {command}` check running */
	bool probe_alive;
	int probe_status;
	bool canceled;
	char **env;               /* the service's environment being built */
	size_t nenv;
};

static void
say(struct mgr *m, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(m->out, buf, (size_t)n) < 0)
		return;
}

/* "exit status 3", "killed by signal 9" */
static void
describe(int st, char *out, size_t len)
{
	if (WIFEXITED(st))
		snprintf(out, len, "exit status %d", WEXITSTATUS(st));
	else
		snprintf(out, len, "killed by signal %d", WTERMSIG(st));
}

static void
reap(struct mgr *m)
{
	pid_t pid;
	size_t i;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == m->script) {
			m->script_alive = false;
			m->script_status = st;
		} else if (pid == m->probe) {
			m->probe_alive = false;
			m->probe_status = st;
		}
		for (i = 0; i < m->sv->nsvcs; i++) {
			if (m->sv->svcs[i].pid == pid) {
				m->sv->svcs[i].alive = false;
				m->sv->svcs[i].wstatus = st;
			}
		}
	}
}

/* Waits up to ms (0: just look) for a signal, then reaps. */
static void
wait_events(struct mgr *m, uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000};
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sig = sigtimedwait(&set, NULL, &ts);
	if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
		m->canceled = true;
	reap(m);
}

/* The report to the supervisor, once: kind 'E' or 'F'. */
static void
report(struct mgr *m, char kind, const char *name, const char *why)
{
	if (m->sv->report_wr < 0)
		return;
	dprintf(m->sv->report_wr, "%c%s\t%s", kind, name, why);
	close(m->sv->report_wr);
	m->sv->report_wr = -1;
}

/* Sets "K=V" in m->env, replacing an earlier entry of that name. */
static void
env_put(struct mgr *m, char *kv)
{
	size_t i, n = strcspn(kv, "=");

	for (i = 0; i < m->nenv; i++) {
		if (strncmp(m->env[i], kv, n) == 0 && m->env[i][n] == '=') {
			free(m->env[i]);
			m->env[i] = kv;
			return;
		}
	}
	m->env = xrealloc(m->env, (m->nenv + 2) * sizeof(char *));
	m->env[m->nenv++] = kv;
	m->env[m->nenv] = NULL;
}

static void
env_clear(struct mgr *m)
{
	size_t i;

	for (i = 0; i < m->nenv; i++)
		free(m->env[i]);
	free(m->env);
	m->env = NULL;
	m->nenv = 0;
}

/*
 * The service's environment: the job's, PIPEWRIGHT_SERVICE_DIR, then its
 * own `env` with $NAMEs expanded from what is set so far; and its dir.
 */
static int
service_env(struct mgr *m, const struct sv_service *c, char *why,
	    size_t whylen)
{
	char **job = sv_env(m->sv), *v, err[160], *dir;
	const char *home = sv_env_get(m->sv, "HOME");
	size_t i;

	env_clear(m);
	for (i = 0; job[i] != NULL; i++)
		env_put(m, xstrdup(job[i]));
	if (home == NULL || home[0] != '/') {
		snprintf(why, whylen, "the job has no HOME to put its "
			 "directory in");
		return -EINVAL;
	}
	dir = xasprintf("%s/services", home);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(why, whylen, "%s: %s", dir, strerror(errno));
		free(dir);
		return -errno;
	}
	free(dir);
	dir = xasprintf("%s/services/%s", home, c->name);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(why, whylen, "%s: %s", dir, strerror(errno));
		free(dir);
		return -errno;
	}
	env_put(m, xasprintf("PIPEWRIGHT_SERVICE_DIR=%s", dir));
	free(dir);
	for (i = 0; c->env[i] != NULL; i++) {
		const char *eq = strchr(c->env[i], '=');

		if (pw_expand(eq + 1, (const char *const *)m->env, &v, err,
			      sizeof(err)) < 0) {
			snprintf(why, whylen, "env %.*s: %s",
				 (int)(eq - c->env[i]), c->env[i], err);
			return -EINVAL;
		}
		env_put(m, xasprintf("%.*s=%s", (int)(eq - c->env[i]),
				     c->env[i], v));
		free(v);
	}
	return 0;
}

/* Forks a child of the job with output to fd `out`. */
static pid_t
spawn(struct mgr *m, int out, char *const *argv, char **env, bool stamp)
{
	pid_t pid = fork();

	if (pid == 0)
		sv_child_exec(m->sv, out, argv, env, stamp);
	if (pid > 0)
		setpgid(pid, pid);
	return pid;
}

enum stop_how {
	STOP_NOW,                 /* SIGKILL at once: a check past its time */
	STOP_TERM,                /* SIGTERM, the grace, then SIGKILL */
	STOP_WAIT,                /* SIGTERM was sent by whoever canceled:
	                             the grace, then SIGKILL */
};

/* Ends a child's tree (its group and what left it) and reaps it. */
static void
stop(struct mgr *m, pid_t pid, bool *alive, enum stop_how how)
{
	uint64_t until = pw_mono_ms() + m->sv->grace_ms, now;

	if (!*alive)
		return;
	if (how == STOP_TERM)
		sv_tree_signal(pid, pid, SIGTERM);
	/* Its group may outlive it: the grace is for them too. */
	if (how != STOP_NOW)
		while ((*alive || kill(-pid, 0) == 0) &&
		       (now = pw_mono_ms()) < until)
			wait_events(m, until - now < PROBE_EVERY_MS ?
				    until - now : PROBE_EVERY_MS);
	while (*alive || kill(-pid, 0) == 0) {
		sv_tree_signal(pid, pid, SIGKILL);
		wait_events(m, PROBE_EVERY_MS);
	}
}

/*
 * The supervisor's descriptors are O_CLOEXEC, but the manager never
 * execs: it keeps only the job's log, the services' pipes and the report.
 */
static void
close_others(const struct supervisor *sv, int out)
{
	int keep[SV_MAX_SERVICES + 4], n = 0, i, k, t;
	unsigned from = 3;

	keep[n++] = out;
	keep[n++] = sv->report_wr;
	for (i = 0; i < (int)sv->nsvcs; i++)
		keep[n++] = sv->svcs[i].wr;
	for (i = 1; i < n; i++)
		for (k = i; k > 0 && keep[k - 1] > keep[k]; k--) {
			t = keep[k];
			keep[k] = keep[k - 1];
			keep[k - 1] = t;
		}
	for (i = 0; i < n; i++) {
		if (keep[i] < (int)from)
			continue;
		if ((unsigned)keep[i] > from)
			close_range(from, (unsigned)keep[i] - 1, 0);
		from = (unsigned)keep[i] + 1;
	}
	close_range(from, ~0U, 0);
}

/* Runs a shell command of service c to its end; its wait status. */
static int
run_setup(struct mgr *m, const struct sv_service *c, const char *cmd)
{
	char *argv[] = {"/bin/sh", "-e", "-c", (char *)cmd, NULL};

	m->probe = spawn(m, c->wr, argv, m->env, false);
	if (m->probe < 0)
		return -1;
	m->probe_alive = true;
	while (m->probe_alive && !m->canceled)
		wait_events(m, 1000);
	stop(m, m->probe, &m->probe_alive, STOP_NOW);
	m->probe = 0;
	return m->probe_status;
}

/* A connection to addr within ms: the connected socket, or -1. */
static int
connect_to(const struct sockaddr *addr, socklen_t alen, uint64_t ms)
{
	struct pollfd p;
	socklen_t len = sizeof(int);
	int fd, err = 0;

	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -1;
	if (connect(fd, addr, alen) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto fail;
	p = (struct pollfd){.fd = fd, .events = POLLOUT};
	if (poll(&p, 1, (int)ms) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* "http://HOST[:PORT]/PATH" with a numeric or localhost HOST. */
static int
http_target(const char *url, struct sockaddr_storage *ss, socklen_t *alen,
	    char *host, size_t hlen, const char **path)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	const char *p = url + strlen("http://"), *end, *colon = NULL;
	unsigned long port = 80;
	char name[64];
	size_t n;

	end = p + strcspn(p, "/");
	*path = *end != '\0' ? end : "/";
	n = (size_t)(end - p);
	if (n == 0 || n >= hlen || n >= sizeof(name))
		return -EINVAL;
	memcpy(host, p, n);
	host[n] = '\0';
	if (host[0] == '[') {
		char *rb = strchr(host, ']');

		if (rb == NULL)
			return -EINVAL;
		memcpy(name, host + 1, (size_t)(rb - host - 1));
		name[rb - host - 1] = '\0';
		if (rb[1] == ':')
			colon = rb + 1;
	} else {
		colon = strchr(host, ':');
		n = colon != NULL ? (size_t)(colon - host) : strlen(host);
		memcpy(name, host, n);
		name[n] = '\0';
	}
	if (colon != NULL) {
		char *e;

		port = strtoul(colon + 1, &e, 10);
		if (*e != '\0' || port == 0 || port > 65535)
			return -EINVAL;
	}
	memset(ss, 0, sizeof(*ss));
	if (strcmp(name, "localhost") == 0)
		snprintf(name, sizeof(name), "127.0.0.1");
	if (inet_pton(AF_INET, name, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*alen = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, name, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*alen = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

/* GET url: true if the answer's status is 2xx or 3xx. */
static bool
probe_http(const char *url)
{
	struct sockaddr_storage ss;
	socklen_t alen;
	char host[128], req[1024], resp[32];
	const char *path;
	struct pollfd p;
	size_t got = 0;
	ssize_t n;
	int fd, code;

	if (http_target(url, &ss, &alen, host, sizeof(host), &path) < 0)
		return false;
	fd = connect_to((struct sockaddr *)&ss, alen, PROBE_IO_MS);
	if (fd < 0)
		return false;
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\n"
		     "User-Agent: pipewright\r\nConnection: close\r\n\r\n",
		     path, host);
	if (n < 0 || (size_t)n >= sizeof(req) ||
	    send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
		goto no;
	while (got < sizeof(resp) - 1) {
		p = (struct pollfd){.fd = fd, .events = POLLIN};
		if (poll(&p, 1, PROBE_IO_MS) != 1)
			goto no;
		n = read(fd, resp + got, sizeof(resp) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	resp[got] = '\0';
	close(fd);
	if (sscanf(resp, "HTTP/%*d.%*d %d", &code) != 1)
		return false;
	return code >= 200 && code < 400;
no:
	close(fd);
	return false;
}

static bool
probe_tcp(const char *port)
{
	struct sockaddr_in in = {.sin_family = AF_INET};
	int fd;

	in.sin_port = htons((uint16_t)strtoul(port, NULL, 10));
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = connect_to((struct sockaddr *)&in, sizeof(in), PROBE_IO_MS);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* One check of c's readiness; a command check runs until its end or
 * the deadline. */
static bool
probe(struct mgr *m, const struct sv_service *c, uint64_t deadline)
{
	char *argv[] = {"/bin/sh", "-c", NULL, NULL};
	uint64_t now;

	if (c->ready == NULL)
		return true;
	if (strncmp(c->ready, "tcp:", 4) == 0)
		return probe_tcp(c->ready + 4);
	if (strncmp(c->ready, "http:", 5) == 0)
		return probe_http(c->ready + 5);
	argv[2] = (char *)c->ready + strlen("command:");
	m->probe = spawn(m, c->wr, argv, m->env, false);
	if (m->probe < 0)
		return false;
	m->probe_alive = true;
	while (m->probe_alive && !m->canceled &&
	       (now = pw_mono_ms()) < deadline)
		wait_events(m, deadline - now);
	stop(m, m->probe, &m->probe_alive, STOP_NOW);
	m->probe = 0;
	return WIFEXITED(m->probe_status) && WEXITSTATUS(m->probe_status) == 0;
}

/* What a readiness check waits for, for people. */
static void
ready_what(const struct sv_service *c, char *out, size_t len)
{
	if (c->ready == NULL)
		snprintf(out, len, "nothing");
	else if (strncmp(c->ready, "tcp:", 4) == 0)
		snprintf(out, len, "tcp 127.0.0.1:%s", c->ready + 4);
	else if (strncmp(c->ready, "http:", 5) == 0)
		snprintf(out, len, "http %s", c->ready + 5);
	else
		snprintf(out, len, "command '%s'", c->ready + 8);
}

/* Starts service c and waits until it is ready: 0, or why not in why. */
static int
start_one(struct mgr *m, struct sv_service *c, char *why, size_t whylen)
{
	char **argv, err[160], what[300], how[64];
	uint64_t t0 = pw_mono_ms(), deadline, now;
	size_t i;
	int st;

	if (service_env(m, c, why, whylen) < 0)
		return -1;
	for (i = 0; c->setup[i] != NULL; i++) {
		say(m, "[pipewright: service %s: setup: %s]", c->name,
		    c->setup[i]);
		st = run_setup(m, c, c->setup[i]);
		if (m->canceled)
			return -1;
		if (st != 0) {
			describe(st, how, sizeof(how));
			snprintf(why, whylen, "setup command '%.200s' failed "
				 "(%s)", c->setup[i], how);
			return -1;
		}
	}
	argv = xcalloc(c->nargv + 3, sizeof(char *));
	if (c->shell) {
		argv[0] = xstrdup("/bin/sh");
		argv[1] = xstrdup("-c");
		argv[2] = xstrdup(c->argv[0]);
	} else {
		for (i = 0; i < c->nargv; i++) {
			if (pw_expand(c->argv[i], (const char *const *)m->env,
				      &argv[i], err, sizeof(err)) < 0) {
				snprintf(why, whylen, "command: %s", err);
				pw_strv_free(argv);
				return -1;
			}
		}
	}
	c->pid = spawn(m, c->wr, argv, m->env, false);
	pw_strv_free(argv);
	if (c->pid < 0) {
		snprintf(why, whylen, "cannot start it: %s", strerror(errno));
		c->pid = 0;
		return -1;
	}
	c->alive = true;
	deadline = pw_mono_ms() + c->ready_timeout_ms;
	ready_what(c, what, sizeof(what));
	for (;;) {
		if (m->canceled)
			return -1;
		if (probe(m, c, deadline) && c->alive)
			break;
		reap(m);
		if (!c->alive) {
			describe(c->wstatus, how, sizeof(how));
			snprintf(why, whylen, "exited (%s) before it was ready"
				 " (waited for %s)", how, what);
			return -1;
		}
		now = pw_mono_ms();
		if (now >= deadline) {
			pw_duration_format(c->ready_timeout_ms, how,
					   sizeof(how));
			snprintf(why, whylen, "not ready after %s (waited for "
				 "%s)", how, what);
			return -1;
		}
		wait_events(m, deadline - now < PROBE_EVERY_MS ?
			    deadline - now : PROBE_EVERY_MS);
	}
	say(m, "[pipewright: service %s ready after %llu ms (%s)]", c->name,
	    (unsigned long long)(pw_mono_ms() - t0), what);
	return 0;
}

/* Runs the script; a service's death while it runs stops it. */
static void
run_script(struct mgr *m)
{
	struct sv_service *dead = NULL;
	char how[64], why[256];
	size_t i;

	m->script = spawn(m, m->out, m->sv->argv, sv_env(m->sv), true);
	if (m->script < 0) {
		say(m, SV_PREFIX "cannot start the job: %s", strerror(errno));
		m->script_status = 1 << 8;
		return;
	}
	m->script_alive = true;
	while (m->script_alive) {
		wait_events(m, 1000);
		for (i = 0; dead == NULL && i < m->sv->nsvcs; i++)
			if (m->sv->svcs[i].pid > 0 && !m->sv->svcs[i].alive)
				dead = &m->sv->svcs[i];
		if (dead == NULL || !m->script_alive)
			continue;
		describe(dead->wstatus, how, sizeof(how));
		snprintf(why, sizeof(why), "service %s exited (%s) while the "
			 "script ran", dead->name, how);
		say(m, "[pipewright: %s; stopping the script]", why);
		report(m, 'F', dead->name, why);
		stop(m, m->script, &m->script_alive, STOP_TERM);
	}
}

/* Whether some process is still below the manager (reaps nothing). */
static bool
below(void)
{
	siginfo_t si;

	si.si_pid = 0;
	return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

void
sv_services_main(struct supervisor *sv, int out_wr)
{
	struct mgr m = {.sv = sv, .out = out_wr};
	char why[512], full[600];
	size_t i, started = 0;
	int null, st;

	setpgid(0, 0);
	close_others(sv, out_wr);
	/* Orphans of the services come back here, not to the supervisor. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		close(null);
	}
	dup2(out_wr, STDOUT_FILENO);
	dup2(out_wr, STDERR_FILENO);
	if (sv->cwd != NULL && chdir(sv->cwd) < 0) {
		say(&m, SV_PREFIX "cannot enter working directory %s: %s",
		    sv->cwd, strerror(errno));
		_exit(1);
	}
	for (i = 0; i < sv->nsvcs && !m.canceled; i++) {
		say(&m, "[pipewright: starting service %s]", sv->svcs[i].name);
		if (start_one(&m, &sv->svcs[i], why, sizeof(why)) < 0) {
			if (!m.canceled) {
				snprintf(full, sizeof(full), "service %s: %s",
					 sv->svcs[i].name, why);
				say(&m, "[pipewright: %s]", full);
				report(&m, 'E', sv->svcs[i].name, full);
			}
			started = i + 1;
			break;
		}
		started = i + 1;
	}
	env_clear(&m);
	if (i == sv->nsvcs && !m.canceled)
		run_script(&m);
	/* What the script left in its group goes first (SIGKILL: below). */
	if (m.script > 0 && !m.canceled)
		kill(-m.script, SIGTERM);
	for (i = started; i-- > 0;) {
		struct sv_service *c = &sv->svcs[i];

		if (c->pid > 0 && c->alive)
			say(&m, "[pipewright: stopping service %s]", c->name);
		stop(&m, c->pid, &c->alive, m.canceled ? STOP_WAIT : STOP_TERM);
	}
	/*
	 * What the services' orphans left (a daemon's double fork is below
	 * us now, not below its service): SIGTERM and the grace like the
	 * services themselves, then SIGKILL until nothing is below us.
	 */
	if (!m.canceled && sv_tree_signal(getpid(), 0, SIGTERM) > 0) {
		uint64_t until = pw_mono_ms() + sv->grace_ms, now;

		while (below() && (now = pw_mono_ms()) < until)
			wait_events(&m, until - now < PROBE_EVERY_MS ?
				    until - now : PROBE_EVERY_MS);
	}
	while (waitpid(-1, &st, WNOHANG) >= 0 || errno == EINTR) {
		sv_tree_signal(getpid(), 0, SIGKILL);
		wait_events(&m, PROBE_EVERY_MS);
	}
	if (m.script == 0)
		_exit(1);
	st = m.script_status;
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}
