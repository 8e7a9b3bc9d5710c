/*
 * The job's environment, which is never ours.
 *
 * exec starts us with a fixed environment of its own making and hands the
 * job's variables over as data on --env-fd: "K=V\0" entries in a (sealed)
 * memfd.  We copy it once, at the start, into memory of our own, so
 * nothing the sender could still change matters afterwards, and apply it
 * only in the job's process, just before its execve (job.c): the dynamic
 * loader and libc never see LD_PRELOAD, GCONV_PATH or GLIBC_TUNABLES of a
 * job in a process that runs as host root.  The data is capped at
 * SUPERVISOR_MAX_ENV bytes and SUPERVISOR_MAX_ENV_VARS entries, and every
 * entry must be NUL-terminated and start with a name followed by '='.
 *
 * Without --env-fd (an older exec), the job's environment is our own, as
 * it used to be.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor.h"

extern char **environ;

/* The whole of fd from offset 0, at most SUPERVISOR_MAX_ENV bytes. */
int
sv_read_capped(int fd, char **out, size_t *len)
{
	struct stat st;
	size_t cap, n = 0;
	char *buf;
	ssize_t r;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size > SUPERVISOR_MAX_ENV)
		return -E2BIG;
	/* One byte more than it says: a file that grows is caught. */
	cap = (size_t)st.st_size + 1;
	buf = xmalloc(cap);
	for (;;) {
		r = pread(fd, buf + n, cap - n, (off_t)n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return -errno;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			free(buf);
			return -EFBIG;
		}
	}
	*out = buf;
	*len = n;
	return 0;
}

int
sv_env_read(struct supervisor *sv, int fd)
{
	char *buf = NULL, *p, *end, *eq;
	size_t len = 0, count = 0, i = 0;
	int rc;

	if ((rc = sv_read_capped(fd, &buf, &len)) < 0) {
		errno = -rc;
		sv_warn("--env-fd %d", fd);
		return rc;
	}
	if (len > 0 && buf[len - 1] != '\0') {
		sv_warnx("--env-fd %d: the last entry is not terminated", fd);
		free(buf);
		return -EINVAL;
	}
	end = buf + len;
	for (p = buf; p < end; p += strlen(p) + 1) {
		eq = strchr(p, '=');
		if (eq == NULL || eq == p || count >= SUPERVISOR_MAX_ENV_VARS) {
			sv_warnx("--env-fd %d: entry %zu is not NAME=VALUE, or "
				 "there are more than %d", fd, count + 1,
				 SUPERVISOR_MAX_ENV_VARS);
			free(buf);
			return -EINVAL;
		}
		count++;
	}
	sv->env = xcalloc(count + 1, sizeof(*sv->env));
	for (p = buf; p < end; p += strlen(p) + 1)
		sv->env[i++] = p;
	sv->env_buf = buf;
	return 0;
}

char **
sv_env(const struct supervisor *sv)
{
	return sv->env != NULL ? sv->env : environ;
}

const char *
sv_env_get(const struct supervisor *sv, const char *name)
{
	char **e = sv_env(sv);
	size_t n = strlen(name);

	for (; *e != NULL; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

void
sv_env_free(struct supervisor *sv)
{
	free(sv->env);
	free(sv->env_buf);
	sv->env = NULL;
	sv->env_buf = NULL;
}

/* Secrets are named (--mask NAME); their values are the job's variables. */
void
sv_env_mask(struct supervisor *sv, char **names, size_t n)
{
	struct sv_mask *m = &sv->mask;
	size_t i;

	for (i = 0; i < n; i++) {
		const char *v = sv_env_get(sv, names[i]);

		if (v != NULL)
			sv_mask_add(m, v, strlen(v));
	}
}
