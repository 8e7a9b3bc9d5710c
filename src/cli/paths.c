/* Where the programs pipewright starts are found. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int
cli_supervisor_path(char *buf, size_t len)
{
	const char *env = getenv("PIPEWRIGHT_SUPERVISOR");
	char self[PATH_MAX];
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
	if ((size_t)snprintf(buf, len, "%s/pipewright-supervisor",
			     dirname(self)) >= len)
		return -ENAMETOOLONG;
	return access(buf, X_OK) == 0 ? 0 : -ENOENT;
}
