/*
 * libFuzzer target for the supervisor's --services-fd parser
 * (sv_services_read, src/supervisor/svclog.c): the input is the
 * descriptor's content, written into a memfd as exec hands it over.  The
 * parser must take it or refuse it, never crash; what it takes has at
 * most SV_MAX_SERVICES services, each with a valid name, a command (one
 * shell command, or arguments), NULL-terminated setup and env lists
 * (every env entry K=V) and every string a piece of the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "supervisor.h"

static void
inside(const struct supervisor *sv, size_t size, const char *s)
{
	if (s == NULL || s < sv->svc_buf || s >= sv->svc_buf + size)
		abort();
}

static void
check_taken(const struct supervisor *sv, size_t size)
{
	size_t i, k;

	if (sv->nsvcs > SV_MAX_SERVICES || (sv->nsvcs > 0 && sv->svcs == NULL))
		abort();
	for (i = 0; i < sv->nsvcs; i++) {
		const struct sv_service *c = &sv->svcs[i];

		inside(sv, size, c->name);
		if (c->name[0] < 'a' || c->name[0] > 'z' ||
		    strlen(c->name) > 32)
			abort();
		if (c->nargv == 0 || (c->shell && c->nargv != 1) ||
		    c->argv[c->nargv] != NULL)
			abort();
		for (k = 0; k < c->nargv; k++)
			inside(sv, size, c->argv[k]);
		for (k = 0; c->setup[k] != NULL; k++)
			inside(sv, size, c->setup[k]);
		for (k = 0; c->env[k] != NULL; k++) {
			inside(sv, size, c->env[k]);
			if (strchr(c->env[k], '=') == NULL)
				abort();
		}
		if (c->ready != NULL)
			inside(sv, size, c->ready);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct supervisor sv;
	size_t off = 0;
	ssize_t w;
	int fd, rc;

	fd = memfd_create("fuzz-services", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	while (off < size) {
		w = write(fd, data + off, size - off);
		if (w <= 0)
			abort();
		off += (size_t)w;
	}
	memset(&sv, 0, sizeof(sv));
	sv.report_rd = sv.report_wr = sv.svc_fd = -1;
	rc = sv_services_read(&sv, fd);
	close(fd);
	if (rc == 0)
		check_taken(&sv, size);
	sv_services_free(&sv);
	return 0;
}
