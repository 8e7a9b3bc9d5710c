/* The daemon's directories: created with their parents, removed whole. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon-int.h"

int
files_mkdirs(const char *path, mode_t mode)
{
	char *p = xstrdup(path), *s;
	int rc = 0;

	for (s = p + 1; rc == 0 && *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			rc = -errno;
		*s = '/';
	}
	if (rc == 0 && mkdir(p, mode) < 0 && errno != EEXIST)
		rc = -errno;
	free(p);
	return rc;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void
files_remove_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

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
		files_remove_tree(path);
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
