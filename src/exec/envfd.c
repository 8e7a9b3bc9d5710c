/*
 * The job's environment as data, and the supervisor's own environment.
 *
 * The supervisor starts as host root (strict) and, in sanitizer builds or
 * with -DPW_SUPERVISOR_STATIC=OFF, through the dynamic loader: any
 * LD_PRELOAD, GCONV_PATH or GLIBC_TUNABLES in its environment would run
 * or steer code as root before the sandbox exists.  So it is started with
 * a fixed environment that no pipeline can touch (a PATH, and the
 * sanitizer runtimes' options taken from our own environment), and the
 * job's variables reach it as data: "K=V\0" entries in a sealed memfd,
 * inherited as a descriptor (--env-fd), which it applies only to the
 * job's own process, just before the job's execve.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "exec-int.h"

/* The sanitizer runtimes read these at the supervisor's start. */
static const char *const passed_through[] = {
	"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
};

char **
exec_supervisor_env(void)
{
	char **v = xcalloc(PW_ARRAY_LEN(passed_through) + 2, sizeof(*v));
	size_t i, n = 0;
	const char *val;

	v[n++] = xstrdup("PATH=" EXEC_SUPERVISOR_PATH_ENV);
	for (i = 0; i < PW_ARRAY_LEN(passed_through); i++)
		if ((val = getenv(passed_through[i])) != NULL)
			v[n++] = xasprintf("%s=%s", passed_through[i], val);
	v[n] = NULL;
	return v;
}

static int
write_all(int fd, const char *s, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

int
exec_env_memfd(const char *const *env, int *out)
{
	const unsigned seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
			       F_SEAL_SEAL;
	size_t total = 0, i, len;
	int fd, rc = 0;

	for (i = 0; env != NULL && env[i] != NULL; i++) {
		if (strchr(env[i], '=') == NULL || env[i][0] == '=')
			return -EINVAL;
		total += strlen(env[i]) + 1;
		if (total > SUPERVISOR_MAX_ENV || i >= SUPERVISOR_MAX_ENV_VARS)
			return -E2BIG;
	}
	fd = memfd_create("pipewright-job-env",
			  MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	for (i = 0; rc == 0 && env != NULL && env[i] != NULL; i++) {
		len = strlen(env[i]) + 1;  /* with its NUL */
		rc = write_all(fd, env[i], len);
	}
	if (rc == 0 && fcntl(fd, F_ADD_SEALS, seals) < 0)
		rc = -errno;
	if (rc < 0) {
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

/*
 * The services' spec (--services-fd, read by the supervisor's svclog.c):
 * "key=value" entries like the environment's, in a sealed memfd of its
 * own, so no value of the pipeline's is ever on a command line.
 */
int
exec_services_memfd(const struct exec_service *svcs, size_t n, int *out)
{
	char **v = NULL, ms[32];
	size_t cap = 0, k = 0, i, j;
	int rc;

	for (i = 0; i < n; i++) {
		const struct exec_service *c = &svcs[i];

		if (c->name == NULL || c->argv == NULL || c->argv[0] == NULL) {
			rc = -EINVAL;
			goto out;
		}
		v = xgrow(v, &cap, k + 2, sizeof(*v));
		v[k++] = xasprintf("name=%s", c->name);
		for (j = 0; c->argv[j] != NULL; j++) {
			v = xgrow(v, &cap, k + 2, sizeof(*v));
			v[k++] = xasprintf("%s=%s", c->shell ? "shell" : "arg",
					   c->argv[j]);
		}
		for (j = 0; c->setup != NULL && c->setup[j] != NULL; j++) {
			v = xgrow(v, &cap, k + 2, sizeof(*v));
			v[k++] = xasprintf("setup=%s", c->setup[j]);
		}
		for (j = 0; c->env != NULL && c->env[j] != NULL; j++) {
			v = xgrow(v, &cap, k + 2, sizeof(*v));
			v[k++] = xasprintf("env=%s", c->env[j]);
		}
		v = xgrow(v, &cap, k + 3, sizeof(*v));
		if (c->ready != NULL)
			v[k++] = xasprintf("ready=%s", c->ready);
		snprintf(ms, sizeof(ms), "%llu",
			 (unsigned long long)c->ready_timeout_ms);
		if (c->ready_timeout_ms != 0)
			v[k++] = xasprintf("ready_timeout_ms=%s", ms);
	}
	v = xgrow(v, &cap, k + 1, sizeof(*v));
	v[k] = NULL;
	rc = exec_env_memfd((const char *const *)v, out);
out:
	if (v != NULL) {
		v[k] = NULL;
		pw_strv_free(v);
	}
	return rc;
}
