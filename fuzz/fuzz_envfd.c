/*
 * libFuzzer target for the supervisor's --env-fd parser (sv_env_read,
 * src/supervisor/env.c): the input is the descriptor's content, written
 * into a memfd as exec hands it over.  The parser must take it or refuse
 * it, never crash, and what it takes must be the input exactly: its
 * entries, each NAME=VALUE with a non-empty name, laid end to end with
 * their NULs, at most SUPERVISOR_MAX_ENV_VARS of them.  A lookup finds
 * the first entry of that name; the secrets named like the job's
 * variables go through the mask's real sv_mask_add.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "supervisor.h"

/* What sv_env_get must say for name: the first entry "name=...". */
static const char *
first_value(char **env, const char *name)
{
	size_t n = strlen(name);

	for (; *env != NULL; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

static void
check_taken(struct supervisor *sv, const uint8_t *data, size_t size)
{
	static char *names[] = {"PATH", "SECRET", "A", ""};
	size_t at = 0, count = 0, n, i;
	char name[64];
	char **e;

	if (sv->env == NULL || sv->env_buf == NULL)
		abort();
	for (e = sv->env; *e != NULL; e++, count++) {
		char *eq = strchr(*e, '=');

		n = strlen(*e) + 1;
		if (eq == NULL || eq == *e || at + n > size ||
		    memcmp(*e, data + at, n) != 0)
			abort();
		at += n;
	}
	if (at != size || count > SUPERVISOR_MAX_ENV_VARS)
		abort();
	for (i = 0; i < sizeof(names) / sizeof(names[0]) - 1; i++)
		if (sv_env_get(sv, names[i]) != first_value(sv->env, names[i]))
			abort();
	/* The first entry's own name is found, at the first entry. */
	if (count > 0) {
		n = (size_t)(strchr(sv->env[0], '=') - sv->env[0]);
		if (n < sizeof(name)) {
			memcpy(name, sv->env[0], n);
			name[n] = '\0';
			if (sv_env_get(sv, name) != sv->env[0] + n + 1)
				abort();
		}
	}
	sv_env_mask(sv, names, 3);
	sv_mask_free(&sv->mask);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct supervisor sv;
	size_t off = 0;
	ssize_t w;
	int fd, rc;

	fd = memfd_create("fuzz-env", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	while (off < size) {
		w = write(fd, data + off, size - off);
		if (w <= 0)
			abort();
		off += (size_t)w;
	}
	memset(&sv, 0, sizeof(sv));
	rc = sv_env_read(&sv, fd);
	close(fd);
	if (rc == 0)
		check_taken(&sv, data, size);
	else if (sv.env != NULL || sv.env_buf != NULL)
		abort();
	sv_env_free(&sv);
	return 0;
}
