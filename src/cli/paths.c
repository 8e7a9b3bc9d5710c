/* Where the programs pipewright starts are found. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/*
 * Where an installed supervisor lives (`cmake --install`, the Debian
 * package): libexec/pipewright, relative to the directory of this binary
 * (so an installed tree may be moved) and as the absolute path the build
 * was configured with.  The build tree has it next to pipewright.
 */
#ifndef PW_LIBEXEC_REL
#define PW_LIBEXEC_REL "../libexec/pipewright"
#endif
#ifndef PW_LIBEXEC_DIR
#define PW_LIBEXEC_DIR "/usr/local/libexec/pipewright"
#endif

static int
try_path(char *buf, size_t len, const char *dir, const char *sub)
{
	if ((size_t)snprintf(buf, len, "%s%s%s/pipewright-supervisor", dir,
			     *sub ? "/" : "", sub) >= len)
		return -ENAMETOOLONG;
	return access(buf, X_OK) == 0 ? 0 : -ENOENT;
}

int
cli_supervisor_path(char *buf, size_t len)
{
	const char *env = getenv("PIPEWRIGHT_SUPERVISOR");
	char self[PATH_MAX], *dir;
	ssize_t n;

	if (env != NULL && *env != '\0') {
		if ((size_t)snprintf(buf, len, "%s", env) >= len)
			return -ENAMETOOLONG;
		return access(buf, X_OK) == 0 ? 0 : -ENOENT;
	}
	/* The binary, not argv[0]: a PATH lookup or a symlink may be in between. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -errno;
	self[n] = '\0';
	dir = dirname(self);
	if (try_path(buf, len, dir, "") == 0 ||
	    try_path(buf, len, dir, PW_LIBEXEC_REL) == 0)
		return 0;
	return try_path(buf, len, PW_LIBEXEC_DIR, "");
}
