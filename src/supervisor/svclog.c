/*
 * The supervisor's side of a job's services: their spec, their output,
 * and what the job's log says when one of them failed.
 *
 * The spec comes as data on --services-fd (a sealed memfd from exec, like
 * the job's environment): NUL-terminated "key=value" entries, each
 * `name=` starting a service, then `arg=` (repeated) or `shell=`,
 * `setup=` (repeated), `env=K=V` (repeated), `ready=`, `ready_timeout_ms=`.
 * Services are in start order; the supervisor does not reorder them.
 *
 * Each service's stdout and stderr are one pipe whose read end stays
 * here: its bytes go, masked like the job's (held back across reads), to
 * DIR/services/<name>.log, capped at --max-log each.  The files are
 * the durable record a daemon stores as the job's service streams after
 * the attempt.  The manager (services.c, inside the sandbox) reports a
 * service's failure on a pipe of its own; once the job's tree is gone
 * the report decides the result and the service's last lines are copied
 * into the job's log, so the failure is read where people look first;
 * when the script itself failed, every service's last lines are, since
 * what the database said may be why an e2e test failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor.h"

static bool
name_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 32 || !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '-'))
			return false;
	return true;
}

static void
push(const char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 2) * sizeof(char *));
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

int
sv_services_read(struct supervisor *sv, int fd)
{
	struct sv_service *c = NULL;
	size_t len, off = 0;
	char *buf, *e = NULL;
	int rc;

	rc = sv_read_capped(fd, &buf, &len);
	if (rc < 0) {
		sv_warnx("--services-fd: %s", strerror(-rc));
		return rc;
	}
	sv->svc_buf = buf;
	if (len > 0 && buf[len - 1] != '\0') {
		sv_warnx("--services-fd: the last entry is not terminated");
		return -EINVAL;
	}
	while (off < len) {
		char *v;

		e = buf + off;
		v = strchr(e, '=');
		off += strlen(e) + 1;
		if (v == NULL)
			goto bad;
		*v++ = '\0';
		if (strcmp(e, "name") == 0) {
			if (sv->nsvcs == SV_MAX_SERVICES || !name_ok(v)) {
				sv_warnx("--services-fd: bad or too many "
					 "services at '%s'", v);
				return -EINVAL;
			}
			sv->svcs = xrealloc(sv->svcs, (sv->nsvcs + 1) *
					    sizeof(*sv->svcs));
			c = &sv->svcs[sv->nsvcs++];
			memset(c, 0, sizeof(*c));
			c->name = v;
			c->rd = c->wr = c->file = -1;
			c->ready_timeout_ms = 60000;
			continue;
		}
		if (c == NULL)
			goto bad;
		if (strcmp(e, "arg") == 0 || strcmp(e, "shell") == 0) {
			c->shell = e[0] == 's';
			push(&c->argv, &c->nargv, v);
		} else if (strcmp(e, "setup") == 0) {
			push(&c->setup, &c->nsetup, v);
		} else if (strcmp(e, "env") == 0 && strchr(v, '=') != NULL) {
			push(&c->env, &c->nenv, v);
		} else if (strcmp(e, "ready") == 0) {
			c->ready = v;
		} else if (strcmp(e, "ready_timeout_ms") == 0) {
			c->ready_timeout_ms = strtoull(v, NULL, 10);
		} else {
			v[-1] = '=';
			goto bad;
		}
	}
	for (off = 0; off < sv->nsvcs; off++) {
		c = &sv->svcs[off];
		if (c->nargv == 0 || (c->shell && c->nargv != 1)) {
			sv_warnx("--services-fd: service %s has no command",
				 c->name);
			return -EINVAL;
		}
		if (c->setup == NULL)
			c->setup = xcalloc(1, sizeof(char *));
		if (c->env == NULL)
			c->env = xcalloc(1, sizeof(char *));
	}
	return 0;
bad:
	sv_warnx("--services-fd: unexpected entry '%.40s'", e);
	return -EINVAL;
}

int
sv_services_prepare(struct supervisor *sv, char **why)
{
	int fds[2], dfd;
	char path[64];
	size_t i;

	if (mkdirat(sv->dir_fd, SUPERVISOR_SERVICES_DIR, 0700) < 0 &&
	    errno != EEXIST) {
		*why = xasprintf("%s/%s: %s", sv->dir, SUPERVISOR_SERVICES_DIR,
				 strerror(errno));
		return -errno;
	}
	dfd = openat(sv->dir_fd, SUPERVISOR_SERVICES_DIR,
		     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		*why = xasprintf("%s/%s: %s", sv->dir, SUPERVISOR_SERVICES_DIR,
				 strerror(errno));
		return -errno;
	}
	for (i = 0; i < sv->nsvcs; i++) {
		struct sv_service *c = &sv->svcs[i];

		snprintf(path, sizeof(path), "%s.log", c->name);
		c->file = openat(dfd, path, O_WRONLY | O_CREAT | O_TRUNC |
				 O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (c->file < 0 || pipe2(fds, O_CLOEXEC) < 0) {
			*why = xasprintf("service %s's log: %s", c->name,
					 strerror(errno));
			close(dfd);
			return -errno;
		}
		c->rd = fds[0];
		c->wr = fds[1];
		fcntl(c->rd, F_SETFL, O_NONBLOCK);
	}
	close(dfd);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		*why = xasprintf("report pipe: %s", strerror(errno));
		return -errno;
	}
	sv->report_rd = fds[0];
	sv->report_wr = fds[1];
	fcntl(sv->report_rd, F_SETFL, O_NONBLOCK);
	return 0;
}

void
sv_services_forked(struct supervisor *sv)
{
	size_t i;

	for (i = 0; i < sv->nsvcs; i++) {
		if (sv->svcs[i].wr >= 0)
			close(sv->svcs[i].wr);
		sv->svcs[i].wr = -1;
	}
	if (sv->report_wr >= 0)
		close(sv->report_wr);
	sv->report_wr = -1;
}

struct emit_ctx {
	struct supervisor *sv;
	struct sv_service *c;
};

/* Masked bytes into the service's file, up to the cap. */
static void
emit(void *arg, const char *p, size_t n)
{
	struct emit_ctx *x = arg;
	struct sv_service *c = x->c;
	char size[32], mark[96];
	ssize_t w;

	if (c->capped || n == 0)
		return;
	if (c->bytes + n > x->sv->max_log) {
		n = (size_t)(x->sv->max_log - c->bytes);
		c->capped = true;
	}
	while (n > 0) {
		w = write(c->file, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;  /* a full disk: the job's log says so */
		c->bytes += (uint64_t)w;
		p += w;
		n -= (size_t)w;
	}
	if (c->capped) {
		sv_size_format(x->sv->max_log, size, sizeof(size));
		snprintf(mark, sizeof(mark), "\n[pipewright: log truncated at "
			 "%s; further output dropped]\n", size);
		if (write(c->file, mark, strlen(mark)) < 0)
			return;
	}
}

void
sv_services_output(struct supervisor *sv, size_t i, bool last)
{
	struct sv_service *c = &sv->svcs[i];
	struct emit_ctx x = {sv, c};
	ssize_t n;
	int rounds = 0;

	if (c->line == NULL)
		c->line = xmalloc(SV_SVC_READ);
	while (c->rd >= 0 && (last || rounds++ < 16)) {
		n = read(c->rd, c->line, SV_SVC_READ);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			sv_mask_stream(&sv->mask, &c->held, c->line, (size_t)n,
				       false, emit, &x);
			continue;
		}
		if (n < 0 && errno == EAGAIN && !last)
			return;
		close(c->rd);
		c->rd = -1;
		sv_mask_stream(&sv->mask, &c->held, "", 0, true, emit, &x);
	}
}

/* The last SV_SVC_TAIL lines of a service's log, into the job's. */
static void
tail_into_log(struct supervisor *sv, struct sv_service *c)
{
	char path[96], *buf, head[128];
	off_t size, from;
	ssize_t n;
	int fd, lines = 0;
	size_t i, len = 16384;

	snprintf(path, sizeof(path), SUPERVISOR_SERVICES_DIR "/%s.log",
		 c->name);
	fd = openat(sv->dir_fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	from = size > (off_t)len ? size - (off_t)len : 0;
	buf = xmalloc(len + 1);
	n = pread(fd, buf, len, from);
	close(fd);
	if (n <= 0) {
		snprintf(head, sizeof(head), "[pipewright: service %s wrote "
			 "nothing]\n", c->name);
		sv_log_write(sv, head, strlen(head));
		free(buf);
		return;
	}
	/* Its own bytes were masked on their way into its file. */
	i = (size_t)n;
	if (buf[i - 1] == '\n')
		i--;
	while (i > 0 && lines < SV_SVC_TAIL)
		if (buf[--i] == '\n')
			lines++;
	if (buf[i] == '\n')
		i++;
	snprintf(head, sizeof(head), "[pipewright: the last lines of service "
		 "%s's log:]\n", c->name);
	sv_log_write(sv, head, strlen(head));
	sv_log_write(sv, buf + i, (size_t)n - i);
	if (buf[n - 1] != '\n')
		sv_log_write(sv, "\n", 1);
	free(buf);
}

void
sv_services_finish(struct supervisor *sv)
{
	char buf[1024];
	ssize_t n;
	size_t i, len = 0;

	for (i = 0; i < sv->nsvcs; i++)
		sv_services_output(sv, i, true);
	if (sv->report_rd >= 0) {
		while (len < sizeof(buf) - 1) {
			n = read(sv->report_rd, buf + len,
				 sizeof(buf) - 1 - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			len += (size_t)n;
		}
		close(sv->report_rd);
		sv->report_rd = -1;
	}
	buf[len] = '\0';
	if (len >= 3 && (buf[0] == 'E' || buf[0] == 'F') &&
	    strchr(buf, '\t') != NULL) {
		/* A service failed: its side of the story alone. */
		sv->svc_failure = xstrdup(buf);
		*strchr(buf, '\t') = '\0';
		for (i = 0; i < sv->nsvcs; i++)
			if (strcmp(sv->svcs[i].name, buf + 1) == 0)
				tail_into_log(sv, &sv->svcs[i]);
		return;
	}
	/* The script failed: what each service saw may say why. */
	if (sv->start_error == NULL && sv->cause != SV_CAUSE_CANCEL &&
	    sv->cause != SV_CAUSE_ORPHANED &&
	    (sv->cause != SV_CAUSE_NONE || sv->exit_code != 0))
		for (i = 0; i < sv->nsvcs; i++)
			tail_into_log(sv, &sv->svcs[i]);
}

void
sv_services_free(struct supervisor *sv)
{
	size_t i;

	for (i = 0; i < sv->nsvcs; i++) {
		struct sv_service *c = &sv->svcs[i];

		if (c->rd >= 0)
			close(c->rd);
		if (c->wr >= 0)
			close(c->wr);
		if (c->file >= 0)
			close(c->file);
		free(c->argv);
		free(c->setup);
		free(c->env);
		free(c->line);
		free(c->held.p);
	}
	free(sv->svcs);
	free(sv->svc_buf);
	free(sv->svc_failure);
	if (sv->report_rd >= 0)
		close(sv->report_rd);
	if (sv->report_wr >= 0)
		close(sv->report_wr);
}
