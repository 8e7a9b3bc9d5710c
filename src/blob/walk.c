/*
 * Which paths a pack takes: each pattern of the spec resolved against the
 * workspace by walking it from the workspace's directory fd, never by
 * path strings handed to the kernel from the host's root and never with
 * a chdir (packs run in worker threads that share one working directory).
 *
 * A pattern without glob characters is a literal path, and one naming a
 * directory (`target`, `target/`) takes everything beneath it.  A glob is
 * matched with glob_match against each path beneath its literal leading
 * directories (a glob under build/ walks only build/); a directory it matches is
 * taken whole, so the meaning of `/` inside glob_match decides only which
 * entries match, never whether a matched directory is complete.  A
 * trailing `/` on a glob or an exclude makes it match directories only.
 * Directories are walked one at a time from a stack (one fd open at any
 * moment, whatever the depth), opened with RESOLVE_BENEATH and O_NOFOLLOW:
 * a symlink met on the way is an entry, not a way in.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "pipewright/glob.h"
#include "pipewright/util.h"
#include "blob-int.h"

#define MAX_WARNINGS 100

void
pack_warn(struct blob_pack_result *res, const char *fmt, ...)
{
	va_list ap;

	if (res->nwarnings > MAX_WARNINGS)
		return;
	res->warnings = xrealloc(res->warnings,
				 (res->nwarnings + 1) * sizeof(char *));
	if (res->nwarnings == MAX_WARNINGS) {
		res->warnings[res->nwarnings++] =
			xstrdup("more warnings left out");
		return;
	}
	va_start(ap, fmt);
	res->warnings[res->nwarnings++] = xvasprintf(fmt, ap);
	va_end(ap);
}

void
pack_list_init(struct pack_list *l)
{
	memset(l, 0, sizeof(*l));
}

void
pack_list_free(struct pack_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	memset(l, 0, sizeof(*l));
}

/* A pattern or exclude with its trailing `/` taken off. */
struct pat {
	char *glob;     /* owned */
	bool dir_only;
};

struct walk {
	int rootfd;
	const struct blob_pack_spec *spec;
	struct blob_pack_result *res;
	struct pack_list *l;
	struct blob_nameset seen;
	struct pat *ex;
	size_t nex;
	/* directories still to read: a path and whether all of it is
	 * taken (else it is only searched for matches) */
	char **stack;
	bool *all;
	size_t sn, scap;
};

static bool
has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static bool
excluded(struct walk *w, const char *rel, bool isdir)
{
	size_t i;

	for (i = 0; i < w->nex; i++)
		if ((isdir || !w->ex[i].dir_only) &&
		    glob_match(w->ex[i].glob, rel))
			return true;
	return false;
}

static int
take(struct walk *w, const char *rel)
{
	const struct blob_pack_spec *sp = w->spec;

	if (!blob_nameset_add(&w->seen, rel))
		return 0;
	if (sp->max_files != 0 && w->seen.n > sp->max_files) {
		blob_errf(w->res->err, sizeof(w->res->err),
			  "more than max_files (%llu) files to pack: %zu "
			  "found so far", (unsigned long long)sp->max_files,
			  w->seen.n);
		return -EFBIG;
	}
	w->l->names = xgrow(w->l->names, &w->l->cap, w->l->n + 1,
			    sizeof(char *));
	w->l->names[w->l->n++] = xstrdup(rel);
	return 0;
}

static void
push(struct walk *w, const char *rel, bool all)
{
	size_t cap = w->scap;

	w->stack = xgrow(w->stack, &w->scap, w->sn + 1, sizeof(char *));
	w->all = xgrow(w->all, &cap, w->sn + 1, sizeof(bool));
	w->stack[w->sn] = xstrdup(rel);
	w->all[w->sn++] = all;
}

static bool
is_dir_at(int dfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	return fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(st.st_mode);
}

/* Reads one directory: takes what is wanted, pushes what to read next. */
static int
read_dir(struct walk *w, const char *rel, bool all, const struct pat *pat,
	 uint64_t *matched)
{
	char child[PATH_MAX];
	struct dirent *de;
	DIR *d;
	bool isdir;
	int fd, rc = 0;

	fd = blob_openat2(w->rootfd, *rel != '\0' ? rel : ".",
			  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK, 0,
			  RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
	if (fd == -ENOENT && !all)
		return 0;   /* a glob's directory that is not there */
	if (fd < 0) {
		pack_warn(w->res, "%s: %s; not packed", *rel ? rel : ".",
			  fd == -EXDEV ? "leads out of the workspace" :
			  strerror(-fd));
		return 0;
	}
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -errno;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(child, sizeof(child), "%s%s%s", rel,
				     *rel ? "/" : "", de->d_name) >=
		    sizeof(child)) {
			pack_warn(w->res, "%s/%s: path too long; not packed",
				  rel, de->d_name);
			continue;
		}
		isdir = is_dir_at(fd, de);
		if (excluded(w, child, isdir))
			continue;
		if (all || (glob_match(pat->glob, child) &&
			    (isdir || !pat->dir_only))) {
			if (!all)
				(*matched)++;
			rc = take(w, child);
			if (isdir)
				push(w, child, true);
		} else if (isdir) {
			push(w, child, false);
		}
	}
	closedir(d);
	return rc;
}

static int
drain(struct walk *w, const struct pat *pat, uint64_t *matched)
{
	char *rel;
	bool all;
	int rc = 0;

	while (w->sn > 0) {
		w->sn--;
		rel = w->stack[w->sn];
		all = w->all[w->sn];
		if (rc == 0)
			rc = read_dir(w, rel, all, pat, matched);
		free(rel);
	}
	return rc;
}

/* A literal path: the entry itself and, for a directory, all beneath. */
static int
literal(struct walk *w, const char *clean, const char *as_written)
{
	struct stat st;
	int fd, rc;

	if (*clean == '\0') {   /* "." : the whole workspace */
		push(w, "", true);
		return drain(w, NULL, NULL);
	}
	fd = blob_openat2(w->rootfd, clean, O_PATH | O_NOFOLLOW, 0,
			  RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
	if (fd < 0) {
		pack_warn(w->res, "%s: %s; nothing packed", as_written,
			  fd == -EXDEV ? "leads out of the workspace" :
			  fd == -ENOENT ? "no such file or directory" :
			  strerror(-fd));
		return 0;
	}
	rc = fstat(fd, &st) < 0 ? -errno : 0;
	close(fd);
	if (rc < 0 || excluded(w, clean, S_ISDIR(st.st_mode)))
		return rc;
	if ((rc = take(w, clean)) < 0)
		return rc;
	if (!S_ISDIR(st.st_mode))
		return 0;
	push(w, clean, true);
	return drain(w, NULL, NULL);
}

/* A glob: walked from its leading directories without glob characters. */
static int
glob_pattern(struct walk *w, const char *clean, bool dir_only,
	     const char *as_written)
{
	char prefix[PATH_MAX];
	struct pat pat;
	uint64_t matched = 0;
	const char *g = strpbrk(clean, "*?["), *slash;
	size_t n = 0;
	int rc;

	for (slash = clean; (slash = strchr(slash, '/')) != NULL &&
	     slash < g; slash++)
		n = (size_t)(slash - clean);
	memcpy(prefix, clean, n);
	prefix[n] = '\0';
	pat.glob = (char *)clean;
	pat.dir_only = dir_only;
	push(w, prefix, false);
	rc = drain(w, &pat, &matched);
	if (rc == 0 && matched == 0)
		pack_warn(w->res, "%s: matched nothing", as_written);
	return rc;
}

static int
one_pattern(struct walk *w, const char *p)
{
	char clean[PATH_MAX];
	size_t len = strlen(p);
	bool dir_only = len > 0 && p[len - 1] == '/';
	int rc;

	rc = blob_clean_name(p, clean, sizeof(clean));
	if (rc == -EXDEV) {
		pack_warn(w->res, "%s: leads out of the workspace; nothing "
			  "packed", p);
		return 0;
	}
	if (rc < 0) {
		pack_warn(w->res, "%s: not a path; nothing packed", p);
		return 0;
	}
	if (has_glob(clean))
		return glob_pattern(w, clean, dir_only, p);
	return literal(w, clean, p);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
pack_collect(int rootfd, const struct blob_pack_spec *spec,
	     struct blob_pack_result *res, struct pack_list *l)
{
	struct walk w;
	size_t i, n = 0;
	int rc = 0;

	memset(&w, 0, sizeof(w));
	w.rootfd = rootfd;
	w.spec = spec;
	w.res = res;
	w.l = l;
	blob_nameset_init(&w.seen);
	while (spec->exclude != NULL && spec->exclude[n] != NULL)
		n++;
	w.ex = xcalloc(n + 1, sizeof(*w.ex));
	for (i = 0; i < n; i++) {
		size_t len = strlen(spec->exclude[i]);

		w.ex[i].glob = xstrdup(spec->exclude[i]);
		while (len > 1 && w.ex[i].glob[len - 1] == '/') {
			w.ex[i].glob[--len] = '\0';
			w.ex[i].dir_only = true;
		}
	}
	w.nex = n;
	for (i = 0; rc == 0 && spec->paths != NULL && spec->paths[i] != NULL;
	     i++)
		rc = one_pattern(&w, spec->paths[i]);
	for (i = 0; i < w.sn; i++)
		free(w.stack[i]);
	free(w.stack);
	free(w.all);
	for (i = 0; i < w.nex; i++)
		free(w.ex[i].glob);
	free(w.ex);
	blob_nameset_free(&w.seen);
	if (rc == 0 && l->n > 1)
		qsort(l->names, l->n, sizeof(char *), cmp_names);
	return rc;
}
