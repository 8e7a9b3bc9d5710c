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

/*
 * A tree of a run's jobs can hold tens of thousands of files (a build
 * tree per job): removing it takes seconds, which the loop must not wait
 * for.  So it is renamed out of the way at once — into FILES_GONE beside
 * it, where no run's name can meet it, so a rerun checking out under the
 * same name never races the removal — and removed in a worker.  What a
 * stop leaves in FILES_GONE goes at the next start (files_sweep).
 */
#define FILES_GONE DAEMON_FILES_GONE

struct gone {
	uv_work_t w;
	char *path;
};

static void
gone_work(uv_work_t *w)
{
	struct gone *g = w->data;

	pw_remove_tree(g->path);
}

static void
gone_done(uv_work_t *w, int status)
{
	struct gone *g = w->data;

	(void)status;
	free(g->path);
	free(g);
}

static void
remove_later(struct daemon *d, char *path)
{
	struct gone *g = xcalloc(1, sizeof(*g));

	g->path = path;
	g->w.data = g;
	if (uv_queue_work(&d->loop, &g->w, gone_work, gone_done) < 0) {
		gone_work(&g->w);
		gone_done(&g->w, 0);
	}
}

/* Moves the entries of `dir` named `exact` or starting with `prefix` into
 * its FILES_GONE and removes them there, off the loop. */
static void
remove_named(struct daemon *d, const char *dirpath, const char *exact,
	     const char *prefix)
{
	char *path, *gone, *to;
	struct dirent *de;
	DIR *dir;
	int rc;

	dir = opendir(dirpath);
	if (dir == NULL)
		return;
	gone = xasprintf("%s/" FILES_GONE, dirpath);
	rc = pw_mkdirs(gone, 0700);
	(void)rc; /* without it, each rename fails: removed where they are */
	while ((de = readdir(dir)) != NULL) {
		if ((exact == NULL || strcmp(de->d_name, exact) != 0) &&
		    strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		path = xasprintf("%s/%s", dirpath, de->d_name);
		to = xasprintf("%s/%s-%llu", gone, de->d_name,
			       (unsigned long long)++d->files_gone_seq);
		if (rename(path, to) == 0) {
			remove_later(d, to);
		} else {
			/* Where it is: a rerun may make it again at once. */
			pw_remove_tree(path);
			free(to);
		}
		free(path);
	}
	free(gone);
	closedir(dir);
}

void
files_sweep(struct daemon *d)
{
	remove_later(d, xasprintf("%s/" FILES_GONE, d->workspaces_dir));
	remove_later(d, xasprintf("%s/" FILES_GONE, d->attempts_dir));
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
	remove_named(d, d->workspaces_dir, name, prefix);
	snprintf(prefix, sizeof(prefix), "r%llu-", (unsigned long long)run);
	remove_named(d, d->attempts_dir, NULL, prefix);
}
