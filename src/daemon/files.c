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

void
files_remove_run(struct daemon *d, uint64_t run)
{
	char prefix[48], *path;
	struct dirent *de;
	DIR *dir;

	path = xasprintf("%s/%llu", d->workspaces_dir, (unsigned long long)run);
	files_remove_tree(path);
	free(path);
	snprintf(prefix, sizeof(prefix), "r%llu-", (unsigned long long)run);
	dir = opendir(d->attempts_dir);
	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		path = xasprintf("%s/%s", d->attempts_dir, de->d_name);
		files_remove_tree(path);
		free(path);
	}
	closedir(dir);
}
