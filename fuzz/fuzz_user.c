/*
 * The supervisor's `user:` lookup (src/supervisor/user.c) on hostile
 * /etc/passwd and /etc/group texts, as an image may carry: the input is
 * "spec\0passwd\0group" (missing parts: unreadable files).  A result is
 * always within the ids a job's namespace maps, and the message always
 * NUL-terminated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *parts[3] = {NULL, NULL, NULL}, *p, err[256];
	size_t k = 0;
	uid_t u;
	gid_t g;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	parts[0] = buf;
	for (p = buf; k < 2 && p < buf + size; p++)
		if (*p == '\0')
			parts[++k] = p + 1;
	if (sv_user_parse(parts[0], parts[1], 2, parts[2], "the image's", &u,
			  &g, err, sizeof(err)) == 0) {
		if (u >= SV_INSIDE_IDS || g >= SV_INSIDE_IDS)
			abort();
	} else if (memchr(err, '\0', sizeof(err)) == NULL) {
		abort();
	}
	free(buf);
	return 0;
}
