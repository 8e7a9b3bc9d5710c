/*
 * Finding and reading a job's report files beneath its workspace.
 *
 * Whatever the job left there is hostile: every directory and file is
 * opened relative to the workspace with openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS (a link anywhere on the way is refused, not
 * followed), files with O_NOFOLLOW | O_NONBLOCK (a FIFO never blocks the
 * worker) and taken only if fstat says regular; a file's size is checked
 * by fstat before a byte is read, so a 2 GB sparse file costs one stat.
 * The walk starts at each glob's literal leading directories, goes no
 * deeper than the glob can match (any depth with `**`, up to WALK_DEPTH)
 * and visits at most WALK_ENTRIES entries.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pipewright/glob.h"
#include "pipewright/report.h"
#include "pipewright/util.h"

#define WALK_DEPTH 64
#define WALK_ENTRIES 200000

static int
open_beneath(int root, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, root, *path ? path : ".", &how,
			  sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

struct walk {
	int root;
	const char *glob;
	size_t nseg;             /* segments of the glob */
	bool deep;               /* it has a `**` segment */
	size_t visited;
	char **found;            /* relative paths, owned */
	size_t nfound, capfound;
	bool truncated;
};

static void
found_add(struct walk *w, const char *rel)
{
	if (w->nfound == w->capfound) {
		w->capfound = w->capfound ? 2 * w->capfound : 16;
		w->found = xrealloc(w->found,
				    w->capfound * sizeof(*w->found));
	}
	w->found[w->nfound++] = xstrdup(rel);
}

static void
walk_dir(struct walk *w, const char *rel, size_t depth)
{
	struct dirent *de;
	DIR *dir;
	int fd;

	if (depth > WALK_DEPTH)
		return;
	fd = open_beneath(w->root, rel, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return;
	dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		unsigned char type = de->d_type;
		char *path;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (++w->visited > WALK_ENTRIES) {
			w->truncated = true;
			break;
		}
		if (type == DT_UNKNOWN) {
			struct stat st;

			if (fstatat(dirfd(dir), de->d_name, &st,
				    AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			type = S_ISDIR(st.st_mode) ? DT_DIR :
				S_ISREG(st.st_mode) ? DT_REG : DT_LNK;
		}
		path = *rel ? xasprintf("%s/%s", rel, de->d_name) :
			xstrdup(de->d_name);
		if (type == DT_REG && glob_match(w->glob, path))
			found_add(w, path);
		else if (type == DT_DIR && (w->deep || depth + 1 < w->nseg))
			walk_dir(w, path, depth + 1);
		free(path);
	}
	closedir(dir);
}

/* The glob's leading segments without glob characters: where to start. */
static char *
literal_base(const char *glob, size_t *nseg, bool *deep, size_t *baseseg)
{
	const char *s = glob, *end = glob;
	size_t n = 0, b = 0;
	bool lit = true;

	*deep = false;
	while (*s != '\0') {
		const char *e = strchr(s, '/');
		size_t len = e != NULL ? (size_t)(e - s) : strlen(s);

		if (len == 2 && s[0] == '*' && s[1] == '*')
			*deep = true;
		if (strcspn(s, "*?[\\") < len)
			lit = false;
		if (len > 0) {
			n++;
			if (lit && e != NULL) {
				end = e;
				b = n;
			}
		}
		if (e == NULL)
			break;
		s = e + 1;
	}
	/* `dir/` names everything beneath it. */
	if (glob[0] != '\0' && glob[strlen(glob) - 1] == '/')
		*deep = true;
	*nseg = n;
	*baseseg = b;
	return xstrndup(glob, (size_t)(end - glob));
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
logf_(struct buf *log, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
logf_(struct buf *log, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_adds(log, "reports: ");
	buf_adds(log, line);
	buf_add(log, "\n", 1);
}

/* Reads the whole regular file rel (at most max bytes): 0, -EFBIG with
 * *size set, -EINVAL not a regular file, -errno. */
static int
read_file(int root, const char *rel, uint64_t max, char **data,
	  size_t *len, uint64_t *size)
{
	struct stat st;
	size_t got = 0;
	char *p;
	int fd = open_beneath(root, rel, O_RDONLY | O_NONBLOCK);

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	*size = (uint64_t)st.st_size;
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return -EFBIG;
	}
	p = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, p + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	*data = p;
	*len = got;
	return 0;
}

static const char *
human(uint64_t n, char *out, size_t len)
{
	if (n >= (1ULL << 30))
		snprintf(out, len, "%.1f GiB", (double)n / (1ULL << 30));
	else if (n >= (1ULL << 20))
		snprintf(out, len, "%.1f MiB", (double)n / (1ULL << 20));
	else
		snprintf(out, len, "%llu bytes", (unsigned long long)n);
	return out;
}

/* Parses one file into g, or says in the log why it was left out. */
static void
take(int root, const char *rel, const struct report_limits *lim,
     struct report_gathered *g, uint64_t *total, struct buf *log)
{
	char err[256], h1[32], h2[32];
	uint64_t size = 0;
	size_t len = 0;
	char *data = NULL;
	int rc;

	rc = read_file(root, rel, lim->file_max, &data, &len, &size);
	if (rc == -EFBIG) {
		logf_(log, "warning: %s is %s; a report may be at most %s,"
		      " nothing kept from it", rel, human(size, h1, sizeof(h1)),
		      human(lim->file_max, h2, sizeof(h2)));
		return;
	}
	if (rc < 0) {
		logf_(log, "warning: %s: %s; nothing kept from it", rel,
		      rc == -EINVAL ? "not a regular file" : strerror(-rc));
		return;
	}
	if (*total + len > lim->total_max) {
		logf_(log, "warning: %s: the job's reports pass %s together;"
		      " nothing kept from it", rel,
		      human(lim->total_max, h1, sizeof(h1)));
		free(data);
		return;
	}
	*total += len;
	rc = report_junit_parse(data, len, lim, &g->cases, err, sizeof(err));
	free(data);
	if (rc < 0) {
		logf_(log, "warning: %s:%s; nothing kept from it", rel, err);
		return;
	}
	g->files++;
}

int
report_gather(const char *root, const char *const *globs,
	      const struct report_limits *lim, struct report_gathered *g)
{
	struct walk w = {0};
	struct buf log;
	uint64_t total = 0;
	size_t i, k, counts[REPORT_NSTATUS] = {0};
	int rootfd;

	*g = (struct report_gathered){0};
	buf_init(&log, 0);
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		int rc = -errno;

		logf_(&log, "warning: cannot open the workspace: %s",
		      strerror(-rc));
		g->loglen = log.len;
		g->log = buf_steal(&log);
		return rc;
	}
	w.root = rootfd;
	for (i = 0; globs[i] != NULL; i++) {
		size_t base_seg, before = w.nfound;
		char *base = literal_base(globs[i], &w.nseg, &w.deep,
					  &base_seg);

		w.glob = globs[i];
		if (strcspn(globs[i], "*?[\\") == strlen(globs[i]) && !w.deep) {
			/* A literal name: that file, no walk. */
			struct stat st;
			int fd = open_beneath(rootfd, globs[i], O_PATH);

			if (fd >= 0 && fstat(fd, &st) == 0 &&
			    S_ISREG(st.st_mode))
				found_add(&w, globs[i]);
			if (fd >= 0)
				close(fd);
		} else {
			walk_dir(&w, base, base_seg);
		}
		if (w.nfound == before)
			logf_(&log, "warning: '%s' matched no file", globs[i]);
		free(base);
	}
	if (w.truncated)
		logf_(&log, "warning: more than %d entries walked; the rest"
		      " was not looked at", WALK_ENTRIES);
	qsort(w.found, w.nfound, sizeof(*w.found), cmp_str);
	for (i = 0, k = 0; i < w.nfound; i++) {
		if (i > 0 && strcmp(w.found[i], w.found[i - 1]) == 0)
			continue;
		if (k++ == lim->files_max) {
			logf_(&log, "warning: more than %zu report files; the"
			      " rest were not read", lim->files_max);
			break;
		}
		take(rootfd, w.found[i], lim, g, &total, &log);
	}
	for (i = 0; i < w.nfound; i++)
		free(w.found[i]);
	free(w.found);
	close(rootfd);
	for (i = 0; i < g->cases.n; i++)
		counts[g->cases.v[i].status]++;
	logf_(&log, "%zu test%s from %zu file%s: %zu passed, %zu failed,"
	      " %zu errors, %zu skipped", g->cases.n,
	      g->cases.n == 1 ? "" : "s", g->files,
	      g->files == 1 ? "" : "s", counts[REPORT_PASSED],
	      counts[REPORT_FAILED], counts[REPORT_ERROR],
	      counts[REPORT_SKIPPED]);
	g->loglen = log.len;
	g->log = buf_steal(&log);
	return 0;
}

void
report_gathered_free(struct report_gathered *g)
{
	report_cases_free(&g->cases);
	free(g->log);
	*g = (struct report_gathered){0};
}
