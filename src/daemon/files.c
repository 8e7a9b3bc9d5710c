/*
 * A run's files on disk, removed when the run leaves (its end, the
 * retention's prune): its workspace (with the file system it may have
 * had, wsfs.c) and the checkouts a killed daemon left half done, and its
 * attempts' directories.  Making and removing a directory are util's
 * (pw_mkdirs, pw_remove_tree).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon-int.h"

/* Removes the entries of `dir` named `exact` or starting with `prefix`. */
static void
remove_named(const char *dirpath, const char *exact, const char *prefix)
{
	struct dirent *de;
	char *path;
	DIR *dir;

	dir = opendir(dirpath);
	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		if ((exact == NULL || strcmp(de->d_name, exact) != 0) &&
		    strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		path = xasprintf("%s/%s", dirpath, de->d_name);
		pw_remove_tree(path);
		free(path);
	}
	closedir(dir);
}

void
files_remove_run(struct daemon *d, uint64_t run)
{
	char name[32], prefix[48], *path;

	/* The workspace, and checkouts a killed daemon left half done. */
	snprintf(name, sizeof(name), "%llu", (unsigned long long)run);
	snprintf(prefix, sizeof(prefix), "%s" FILES_CHECKOUT_INFIX, name);
	path = xasprintf("%s/%s", d->workspaces_dir, name);
	wsfs_release(path);     /* its own file system, if it has one */
	free(path);
	remove_named(d->workspaces_dir, name, prefix);
	snprintf(prefix, sizeof(prefix), "r%llu-", (unsigned long long)run);
	remove_named(d->attempts_dir, NULL, prefix);
}
