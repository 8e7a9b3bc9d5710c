/*
 * blob: packing a workspace into a content-addressed blob and restoring
 * it, against real trees in /tmp, a real store directory, hand-made
 * hostile archives written with libarchive, and (as root) a real full
 * disk: a small tmpfs in a mount namespace of the test's own.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pipewright/blob.h"
#include "pipewright/util.h"
#include "testlib.h"

struct fx {
	char tmp[64];          /* mkdtemp */
	char ws[128];          /* tmp/ws: the workspace packed */
	char out[128];         /* tmp/out: where it is restored */
	char store[128];       /* tmp/store */
	char outside[128];     /* tmp/outside: must stay untouched */
	struct blob_store *bs;
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));

	snprintf(f->tmp, sizeof(f->tmp), "/tmp/test_blob-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->ws, sizeof(f->ws), "%s/ws", f->tmp);
	snprintf(f->out, sizeof(f->out), "%s/out", f->tmp);
	snprintf(f->store, sizeof(f->store), "%s/store", f->tmp);
	snprintf(f->outside, sizeof(f->outside), "%s/outside", f->tmp);
	assert_int_equal(mkdir(f->ws, 0755), 0);
	assert_int_equal(mkdir(f->out, 0755), 0);
	assert_int_equal(mkdir(f->outside, 0755), 0);
	assert_int_equal(blob_store_open(f->store, &f->bs), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	blob_store_close(f->bs);
	assert_int_equal(tl_rm_tree(f->tmp), 0);
	free(f);
	return 0;
}

static void
put(const char *dir, const char *rel, const char *content, mode_t mode)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)),
			 (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
sub(const char *dir, const char *rel, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", dir, rel);
}

static void
mkd(const char *dir, const char *rel)
{
	char p[PATH_MAX];

	sub(dir, rel, p, sizeof(p));
	assert_int_equal(mkdir(p, 0755), 0);
}

static void
lnk(const char *dir, const char *rel, const char *target)
{
	char p[PATH_MAX];

	sub(dir, rel, p, sizeof(p));
	assert_int_equal(symlink(target, p), 0);
}

static void
set_mtime(const char *dir, const char *rel, time_t sec, long nsec)
{
	struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
	char p[PATH_MAX];

	sub(dir, rel, p, sizeof(p));
	assert_int_equal(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/* The content of dir/rel ("" if absent, as a distinct NULL). */
static char *
slurp(const char *dir, const char *rel)
{
	char p[PATH_MAX], *data = NULL;
	size_t len;

	sub(dir, rel, p, sizeof(p));
	if (pw_read_file(p, 1 << 20, &data, &len) < 0)
		return NULL;
	return data;
}

static bool
exists(const char *dir, const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	sub(dir, rel, p, sizeof(p));
	return lstat(p, &st) == 0;
}

static bool
has_warning(const struct blob_pack_result *r, const char *needle)
{
	size_t i;

	for (i = 0; i < r->nwarnings; i++)
		if (strstr(r->warnings[i], needle) != NULL)
			return true;
	return false;
}

static int
pack(struct fx *f, const char *const *paths, const char *const *exclude,
     struct blob_pack_result *res)
{
	struct blob_pack_spec spec = {
		.root = f->ws, .paths = paths, .exclude = exclude,
		.uid = geteuid(),
	};

	return blob_pack(f->bs, &spec, res);
}

static int
unpack(struct fx *f, const char *digest, bool keep,
       struct blob_unpack_result *res)
{
	struct blob_unpack_spec spec = {
		.root = f->out, .uid = geteuid(), .gid = getegid(),
		.keep_existing = keep,
	};

	return blob_unpack(f->bs, digest, &spec, res);
}

/* A tree with directories, modes, nanosecond mtimes and symlinks. */
static void
make_tree(const char *ws)
{
	mkd(ws, "a");
	mkd(ws, "a/b");
	mkd(ws, "empty");
	put(ws, "a/b/run.sh", "#!/bin/sh\necho hi\n", 0755);
	put(ws, "a/secret", "s3", 0640);
	put(ws, "a/suid", "x", 04755);
	put(ws, "top.txt", "top\n", 0644);
	lnk(ws, "a/inside", "b/run.sh");
	lnk(ws, "out", "/etc");
	lnk(ws, "a/passwd", "/etc/passwd");
	set_mtime(ws, "a/b/run.sh", 1500000000, 123456789);
	set_mtime(ws, "a/inside", 1500000001, 5);
	set_mtime(ws, "a/b", 1400000000, 987654321);
	set_mtime(ws, "empty", 1300000000, 0);
}

static void
check_mode_mtime(const char *dir, const char *rel, mode_t mode, time_t sec,
		 long nsec)
{
	char p[PATH_MAX];
	struct stat st;

	sub(dir, rel, p, sizeof(p));
	assert_int_equal(lstat(p, &st), 0);
	if (mode != 0)
		assert_int_equal(st.st_mode & 07777, mode);
	if (sec != 0) {
		assert_int_equal(st.st_mtim.tv_sec, sec);
		assert_int_equal(st.st_mtim.tv_nsec, nsec);
	}
}

static void
test_roundtrip(void **state)
{
	static const char *const paths[] = {"a", "top.txt", "out", "empty/",
					    NULL};
	struct fx *f = *state;
	struct blob_pack_result pr;
	struct blob_unpack_result ur;
	char target[PATH_MAX], *s;
	ssize_t n;

	make_tree(f->ws);
	assert_int_equal(pack(f, paths, NULL, &pr), 0);
	assert_int_equal(strlen(pr.digest), BLOB_DIGEST_HEX);
	assert_int_equal(pr.nwarnings, 0);
	/* a, a/b, a/b/run.sh, a/secret, a/suid, a/inside, a/passwd,
	 * top.txt, out, empty */
	assert_int_equal(pr.files, 10);
	assert_int_equal(pr.content_bytes, 18 + 2 + 1 + 4);
	assert_true(pr.archive_bytes > 0);

	assert_int_equal(unpack(f, pr.digest, false, &ur), 0);
	assert_int_equal(ur.files, 10);
	assert_int_equal(ur.content_bytes, 25);
	assert_string_equal(s = slurp(f->out, "a/b/run.sh"),
			    "#!/bin/sh\necho hi\n");
	free(s);
	check_mode_mtime(f->out, "a/b/run.sh", 0755, 1500000000, 123456789);
	check_mode_mtime(f->out, "a/secret", 0640, 0, 0);
	check_mode_mtime(f->out, "a/suid", 0755, 0, 0);  /* setuid gone */
	check_mode_mtime(f->out, "a/b", 0, 1400000000, 987654321);
	check_mode_mtime(f->out, "empty", 0, 1300000000, 0);
	check_mode_mtime(f->out, "a/inside", 0, 1500000001, 5);
	/* Links come back as links, pointing where they pointed. */
	n = readlink(strcat(strcpy(target, f->out), "/out"), target,
		     sizeof(target));
	assert_int_equal(n, 4);
	assert_memory_equal(target, "/etc", 4);
	n = readlink(strcat(strcpy(target, f->out), "/a/inside"), target,
		     sizeof(target));
	assert_int_equal(n, 8);
	assert_memory_equal(target, "b/run.sh", 8);
	check_mode_mtime(f->out, "a/passwd", 0, 0, 0);
	blob_pack_result_free(&pr);
}

/* Entries in a directory, not counting . and .. */
static int
count_dir(const char *dir, const char *rel)
{
	char p[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int n = 0;

	sub(dir, rel, p, sizeof(p));
	assert_non_null(d = opendir(p));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* make_tree with every mtime fixed, so that two of them are equal. */
static void
make_tree_fixed(const char *ws)
{
	static const char *const rest[] = {"a", "a/secret", "a/suid",
					   "top.txt", "out", "a/passwd", "."};
	size_t i;

	make_tree(ws);
	for (i = 0; i < PW_ARRAY_LEN(rest); i++)
		set_mtime(ws, rest[i], 1600000000 + (time_t)i, 42);
}

static void
test_dedupe(void **state)
{
	static const char *const paths[] = {".", NULL};
	struct fx *f = *state;
	struct blob_pack_result r1, r2;
	uint64_t bytes, count;

	make_tree_fixed(f->ws);
	assert_int_equal(pack(f, paths, NULL, &r1), 0);
	/* The same tree made again elsewhere: the same archive, stored
	 * once. */
	assert_int_equal(rename(f->ws, f->out), 0);
	assert_int_equal(mkdir(f->ws, 0755), 0);
	make_tree_fixed(f->ws);
	assert_int_equal(pack(f, paths, NULL, &r2), 0);
	assert_string_equal(r1.digest, r2.digest);
	assert_int_equal(blob_usage(f->bs, &bytes, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(bytes, r1.archive_bytes);
	assert_int_equal(count_dir(f->store, "tmp"), 0);
	blob_pack_result_free(&r1);
	blob_pack_result_free(&r2);
}

/* Names as a job may make them: not UTF-8, UTF-8, longer than ustar's
 * 100 bytes, with spaces and newlines. */
static void
test_odd_names(void **state)
{
	static const char *const paths[] = {".", NULL};
	struct fx *f = *state;
	struct blob_pack_result pr;
	struct blob_unpack_result ur;
	char longname[256], *s;
	const char *names[] = {"caf\xe9", "\xc3\xbcn\xc3\xaf", "a b\nc", longname};
	size_t i;

	memset(longname, 'x', 200);
	longname[200] = '\0';
	for (i = 0; i < PW_ARRAY_LEN(names); i++)
		put(f->ws, names[i], names[i], 0644);
	assert_int_equal(pack(f, paths, NULL, &pr), 0);
	assert_int_equal(pr.files, PW_ARRAY_LEN(names));
	assert_int_equal(unpack(f, pr.digest, false, &ur), 0);
	for (i = 0; i < PW_ARRAY_LEN(names); i++) {
		assert_non_null(s = slurp(f->out, names[i]));
		assert_string_equal(s, names[i]);
		free(s);
	}
	blob_pack_result_free(&pr);
}

/* `out -> /etc` with `out/passwd` and `out/` declared: warnings, and
 * nothing of /etc in the blob. */
static void
test_pack_link_leading_out(void **state)
{
	static const char *const paths[] = {"out/passwd", "out/", "gone",
					    "../x", "/etc/passwd", NULL};
	struct fx *f = *state;
	struct blob_pack_result pr;
	struct blob_unpack_result ur;

	lnk(f->ws, "out", "/etc");
	assert_int_equal(pack(f, paths, NULL, &pr), 0);
	assert_true(has_warning(&pr, "out/passwd: leads out of the workspace"));
	assert_true(has_warning(&pr, "gone: no such file or directory"));
	assert_true(has_warning(&pr, "../x: leads out of the workspace"));
	assert_true(has_warning(&pr, "/etc/passwd: leads out of the workspace"));
	assert_int_equal(pr.files, 1);          /* the link itself */
	assert_int_equal(pr.content_bytes, 0);
	assert_int_equal(unpack(f, pr.digest, false, &ur), 0);
	assert_int_equal(ur.files, 1);
	assert_int_equal(count_dir(f->out, ""), 1);
	blob_pack_result_free(&pr);
}

static void
test_pack_globs(void **state)
{
	static const char *const paths[] = {"src/*.c", "nothing/*.x", "lib/",
					    NULL};
	static const char *const exclude[] = {"**/*.o", "lib/skip/", NULL};
	struct fx *f = *state;
	struct blob_pack_result pr;
	struct blob_unpack_result ur;

	mkd(f->ws, "src");
	mkd(f->ws, "lib");
	mkd(f->ws, "lib/skip");
	mkd(f->ws, "lib/keep");
	put(f->ws, "src/a.c", "a", 0644);
	put(f->ws, "src/b.c", "b", 0644);
	put(f->ws, "src/b.h", "h", 0644);
	put(f->ws, "lib/x.o", "o", 0644);
	put(f->ws, "lib/keep/y", "y", 0644);
	put(f->ws, "lib/skip/z", "z", 0644);
	assert_int_equal(pack(f, paths, exclude, &pr), 0);
	assert_int_equal(pr.nwarnings, 1);
	assert_true(has_warning(&pr, "nothing/*.x: matched nothing"));
	assert_int_equal(unpack(f, pr.digest, false, &ur), 0);
	assert_true(exists(f->out, "src/a.c"));
	assert_true(exists(f->out, "src/b.c"));
	assert_false(exists(f->out, "src/b.h"));
	assert_false(exists(f->out, "lib/x.o"));
	assert_true(exists(f->out, "lib/keep/y"));
	assert_false(exists(f->out, "lib/skip"));
	blob_pack_result_free(&pr);
}

/* A FIFO named in paths (and one met in a walk) is skipped with a
 * warning; opening it would block a reader forever. */
static void
test_pack_fifo(void **state)
{
	static const char *const paths[] = {"fifo", ".", NULL};
	struct fx *f = *state;
	struct blob_pack_result pr;
	char p[PATH_MAX];

	sub(f->ws, "fifo", p, sizeof(p));
	assert_int_equal(mkfifo(p, 0644), 0);
	put(f->ws, "file", "f", 0644);
	assert_int_equal(pack(f, paths, NULL, &pr), 0);
	assert_true(has_warning(&pr, "fifo: a FIFO; skipped"));
	assert_int_equal(pr.files, 1);
	blob_pack_result_free(&pr);
}

/* A hard link to a file of another owner (a host file) is not packed. */
static void
test_pack_foreign_hardlink(void **state)
{
	static const char *const paths[] = {".", NULL};
	struct fx *f = *state;
	struct blob_pack_spec spec = {.paths = paths};
	struct blob_pack_result pr;
	char a[PATH_MAX], b[PATH_MAX];

	put(f->ws, "host", "host file", 0644);
	sub(f->ws, "host", a, sizeof(a));
	sub(f->ws, "link", b, sizeof(b));
	assert_int_equal(link(a, b), 0);
	spec.root = f->ws;
	spec.uid = geteuid() + 1;   /* the job's user is someone else */
	assert_int_equal(blob_pack(f->bs, &spec, &pr), 0);
	assert_true(has_warning(&pr, "a hard link to a file of another owner"));
	assert_int_equal(pr.files, 0);
	blob_pack_result_free(&pr);
}

static void
test_pack_caps(void **state)
{
	static const char *const paths[] = {".", NULL};
	struct fx *f = *state;
	struct blob_pack_spec spec = {.paths = paths, .uid = geteuid()};
	struct blob_pack_result pr;
	uint64_t count;

	spec.root = f->ws;
	put(f->ws, "1", "12345", 0644);
	put(f->ws, "2", "12345", 0644);
	put(f->ws, "3", "12345", 0644);
	spec.max_files = 2;
	assert_int_equal(blob_pack(f->bs, &spec, &pr), -EFBIG);
	assert_non_null(strstr(pr.err, "max_files (2) files to pack: 3 found"));
	blob_pack_result_free(&pr);
	spec.max_files = 0;
	spec.max_bytes = 12;
	assert_int_equal(blob_pack(f->bs, &spec, &pr), -EFBIG);
	assert_non_null(strstr(pr.err, "max_bytes (12 bytes)"));
	assert_non_null(strstr(pr.err, "15 bytes"));
	blob_pack_result_free(&pr);
	assert_int_equal(blob_usage(f->bs, NULL, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(count_dir(f->store, "tmp"), 0);
}

/* ---- hostile archives, made by hand ---- */

struct ent {
	int type;               /* AE_IF* */
	const char *name;
	const char *data;       /* regular files */
	const char *symlink;    /* AE_IFLNK */
	const char *hardlink;   /* a hard link entry */
};

static void
make_archive(const char *path, const struct ent *ents)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e;

	assert_int_equal(archive_write_set_format_pax(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (; ents->name != NULL; ents++) {
		e = archive_entry_new();
		archive_entry_set_pathname(e, ents->name);
		archive_entry_set_filetype(e, ents->type);
		archive_entry_set_perm(e, 0644);
		if (ents->symlink != NULL)
			archive_entry_set_symlink(e, ents->symlink);
		if (ents->hardlink != NULL)
			archive_entry_set_hardlink(e, ents->hardlink);
		if (ents->data != NULL)
			archive_entry_set_size(e, (la_int64_t)strlen(ents->data));
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (ents->data != NULL)
			assert_int_equal(archive_write_data(a, ents->data,
							    strlen(ents->data)),
					 (la_ssize_t)strlen(ents->data));
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static int
unpack_hostile(struct fx *f, const struct ent *ents,
	       struct blob_unpack_result *res)
{
	struct blob_unpack_spec spec = {
		.root = f->out, .uid = geteuid(), .gid = getegid(),
	};
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/hostile.tar", f->tmp);
	make_archive(path, ents);
	return blob_unpack_file(path, &spec, res);
}

static void
test_unpack_climbing_out(void **state)
{
	struct fx *f = *state;
	struct blob_unpack_result r;
	char rel[PATH_MAX], abs[PATH_MAX];
	const struct ent dotdot[] = {
		{AE_IFREG, "ok", "fine", NULL, NULL},
		{AE_IFREG, rel, "evil", NULL, NULL},
		{0, NULL, NULL, NULL, NULL},
	};
	const struct ent absolute[] = {
		{AE_IFREG, abs, "evil", NULL, NULL},
		{0, NULL, NULL, NULL, NULL},
	};

	snprintf(rel, sizeof(rel), "a/../../outside/evil");
	snprintf(abs, sizeof(abs), "%s/evil2", f->outside);
	assert_int_equal(unpack_hostile(f, dotdot, &r), -EXDEV);
	assert_non_null(strstr(r.err, "a/../../outside/evil"));
	assert_non_null(strstr(r.err, "climbs out"));
	assert_true(exists(f->out, "ok"));
	assert_int_equal(unpack_hostile(f, absolute, &r), -EXDEV);
	assert_non_null(strstr(r.err, abs));
	assert_int_equal(count_dir(f->outside, ""), 0);
}

/* A symlink planted by an earlier entry is never passed through. */
static void
test_unpack_through_planted_link(void **state)
{
	struct fx *f = *state;
	struct blob_unpack_result r;
	const struct ent ents[] = {
		{AE_IFLNK, "l", NULL, f->outside, NULL},
		{AE_IFREG, "l/x", "evil", NULL, NULL},
		{0, NULL, NULL, NULL, NULL},
	};
	const struct ent deeper[] = {
		{AE_IFDIR, "d", NULL, NULL, NULL},
		{AE_IFLNK, "d/up", NULL, "..", NULL},
		{AE_IFREG, "d/up/d/up/y", "evil", NULL, NULL},
		{0, NULL, NULL, NULL, NULL},
	};

	assert_int_equal(unpack_hostile(f, ents, &r), -EXDEV);
	assert_non_null(strstr(r.err, "'l/x' passes through a symlink"));
	assert_int_equal(count_dir(f->outside, ""), 0);
	/* The link itself was made, as a link. */
	assert_true(exists(f->out, "l"));
	assert_int_equal(tl_rm_tree(f->out), 0);
	assert_int_equal(mkdir(f->out, 0755), 0);
	assert_int_equal(unpack_hostile(f, deeper, &r), -EXDEV);
	assert_false(exists(f->out, "y"));
	assert_false(exists(f->out, "d/y"));
}

static void
test_unpack_hardlinks(void **state)
{
	struct fx *f = *state;
	struct blob_unpack_result r;
	struct stat a, b;
	char p[PATH_MAX];
	const struct ent passwd[] = {
		{AE_IFREG, "x", NULL, NULL, "/etc/passwd"},
		{0, NULL, NULL, NULL, NULL},
	};
	const struct ent rel[] = {
		{AE_IFREG, "x", NULL, NULL, "../../../../../../etc/passwd"},
		{0, NULL, NULL, NULL, NULL},
	};
	const struct ent notmade[] = {
		{AE_IFREG, "y", NULL, NULL, "dev-file"},
		{0, NULL, NULL, NULL, NULL},
	};
	const struct ent good[] = {
		{AE_IFDIR, "d", NULL, NULL, NULL},
		{AE_IFREG, "d/f", "data", NULL, NULL},
		{AE_IFREG, "g", NULL, NULL, "d/f"},
		{0, NULL, NULL, NULL, NULL},
	};

	assert_int_equal(unpack_hostile(f, passwd, &r), -EXDEV);
	assert_non_null(strstr(r.err, "entry 'x': a hard link to '/etc/passwd'"));
	assert_false(exists(f->out, "x"));
	assert_int_equal(unpack_hostile(f, rel, &r), -EXDEV);
	assert_false(exists(f->out, "x"));
	/* A file inside the root that the archive did not make. */
	put(f->out, "dev-file", "mine", 0644);
	assert_int_equal(unpack_hostile(f, notmade, &r), -EXDEV);
	assert_false(exists(f->out, "y"));
	assert_int_equal(unpack_hostile(f, good, &r), 0);
	sub(f->out, "d/f", p, sizeof(p));
	assert_int_equal(stat(p, &a), 0);
	sub(f->out, "g", p, sizeof(p));
	assert_int_equal(stat(p, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
}

static void
test_unpack_fifo_and_devices(void **state)
{
	struct fx *f = *state;
	struct blob_unpack_result r;
	const struct ent fifo[] = {
		{AE_IFIFO, "fifo", NULL, NULL, NULL},
		{0, NULL, NULL, NULL, NULL},
	};
	const struct ent dev[] = {
		{AE_IFCHR, "null", NULL, NULL, NULL},
		{0, NULL, NULL, NULL, NULL},
	};

	assert_int_equal(unpack_hostile(f, fifo, &r), -EPERM);
	assert_non_null(strstr(r.err, "entry 'fifo': a FIFO"));
	assert_int_equal(unpack_hostile(f, dev, &r), -EPERM);
	assert_non_null(strstr(r.err, "entry 'null': a device"));
	assert_int_equal(count_dir(f->out, ""), 0);
}

static void
test_unpack_caps(void **state)
{
	struct fx *f = *state;
	struct blob_unpack_result r;
	struct blob_unpack_spec spec = {.uid = geteuid(), .gid = getegid()};
	char path[PATH_MAX];
	const struct ent ents[] = {
		{AE_IFREG, "a", "0123456789", NULL, NULL},
		{AE_IFREG, "b", "0123456789", NULL, NULL},
		{AE_IFREG, "c", "0123456789", NULL, NULL},
		{0, NULL, NULL, NULL, NULL},
	};

	spec.root = f->out;
	snprintf(path, sizeof(path), "%s/caps.tar", f->tmp);
	make_archive(path, ents);
	spec.max_files = 2;
	assert_int_equal(blob_unpack_file(path, &spec, &r), -EFBIG);
	assert_non_null(strstr(r.err, "more than 2 entries; stopped at 'c'"));
	assert_false(exists(f->out, "c"));
	spec.max_files = 0;
	spec.max_bytes = 25;
	assert_int_equal(blob_unpack_file(path, &spec, &r), -EFBIG);
	assert_non_null(strstr(r.err, "more than 25 bytes"));
}

/* Restoring what is missing leaves a developer's files alone; replacing
 * never writes through a symlink that is in the way. */
static void
test_unpack_keep_existing(void **state)
{
	static const char *const paths[] = {".", NULL};
	struct fx *f = *state;
	struct blob_pack_result pr;
	struct blob_unpack_result ur;
	char *s;

	put(f->ws, "mine", "from the archive", 0644);
	put(f->ws, "other", "other", 0644);
	put(f->ws, "victim", "archive's", 0644);
	assert_int_equal(pack(f, paths, NULL, &pr), 0);
	put(f->out, "mine", "the developer's", 0600);
	put(f->outside, "target", "host", 0644);
	{
		char t[PATH_MAX];

		sub(f->outside, "target", t, sizeof(t));
		lnk(f->out, "victim", t);
	}
	assert_int_equal(unpack(f, pr.digest, true, &ur), 0);
	assert_int_equal(ur.kept_existing, 2);
	assert_string_equal(s = slurp(f->out, "mine"), "the developer's");
	free(s);
	assert_string_equal(s = slurp(f->out, "other"), "other");
	free(s);
	assert_string_equal(s = slurp(f->outside, "target"), "host");
	free(s);
	/* Without keep_existing: replaced, and the link's target untouched. */
	assert_int_equal(unpack(f, pr.digest, false, &ur), 0);
	assert_string_equal(s = slurp(f->out, "mine"), "from the archive");
	free(s);
	assert_string_equal(s = slurp(f->out, "victim"), "archive's");
	free(s);
	assert_string_equal(s = slurp(f->outside, "target"), "host");
	free(s);
	blob_pack_result_free(&pr);
}

static void
blob_path(struct fx *f, const char *digest, char *out, size_t len)
{
	snprintf(out, len, "%s/sha256/%.2s/%s", f->store, digest, digest);
}

static void
test_corrupt_blob(void **state)
{
	static const char *const paths[] = {".", NULL};
	struct fx *f = *state;
	struct blob_pack_result pr;
	struct blob_unpack_result ur;
	char p[PATH_MAX];
	struct stat st;
	int fd;

	put(f->ws, "f", "some content", 0644);
	assert_int_equal(pack(f, paths, NULL, &pr), 0);
	blob_path(f, pr.digest, p, sizeof(p));
	assert_int_equal(stat(p, &st), 0);
	fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, st.st_size / 2), 1);
	close(fd);
	assert_int_equal(unpack(f, pr.digest, false, &ur), -EBADMSG);
	assert_non_null(strstr(ur.err, "does not match its digest (removed)"));
	assert_int_equal(stat(p, &st), -1);
	assert_false(exists(f->out, "f"));
	assert_int_equal(unpack(f, pr.digest, false, &ur), -ENOENT);
	assert_int_equal(unpack(f, "nonsense", false, &ur), -ENOENT);
	blob_pack_result_free(&pr);
}

static void
test_extract_one(void **state)
{
	static const char *const paths[] = {".", NULL};
	struct fx *f = *state;
	struct blob_pack_result pr;
	char p[PATH_MAX], *s;
	int fd;

	mkd(f->ws, "d");
	put(f->ws, "d/wanted", "the one", 0644);
	put(f->ws, "other", "not this", 0644);
	assert_int_equal(pack(f, paths, NULL, &pr), 0);
	sub(f->tmp, "extracted", p, sizeof(p));
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(blob_extract_one(f->bs, pr.digest, "./d/wanted", fd),
			 0);
	close(fd);
	assert_string_equal(s = slurp(f->tmp, "extracted"), "the one");
	free(s);
	assert_int_equal(blob_extract_one(f->bs, pr.digest, "d/none", 1),
			 -ENOENT);
	assert_int_equal(blob_extract_one(f->bs, pr.digest, "d", 1), -EISDIR);
	blob_pack_result_free(&pr);
}

static bool
none_referenced(void *arg, const char *digest)
{
	(void)arg;
	(void)digest;
	return false;
}

static void
age(const char *path, time_t seconds)
{
	struct timespec ts[2] = {{0, 0}, {0, 0}};

	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - seconds;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void
test_collect_spares_readers(void **state)
{
	static const char *const paths[] = {".", NULL};
	struct fx *f = *state;
	struct blob_pack_result r1, r2;
	struct blob_reader *rd;
	uint64_t size, bytes = 0, count = 0;
	char p1[PATH_MAX], p2[PATH_MAX], stale[PATH_MAX], fresh[PATH_MAX];
	int fd;

	put(f->ws, "f", "one", 0644);
	assert_int_equal(pack(f, paths, NULL, &r1), 0);
	put(f->ws, "f", "two", 0644);
	assert_int_equal(pack(f, paths, NULL, &r2), 0);
	assert_string_not_equal(r1.digest, r2.digest);
	blob_path(f, r1.digest, p1, sizeof(p1));
	blob_path(f, r2.digest, p2, sizeof(p2));
	snprintf(stale, sizeof(stale), "%s/tmp/pack-stale", f->store);
	snprintf(fresh, sizeof(fresh), "%s/tmp/pack-fresh", f->store);
	put(f->store, "tmp/pack-stale", "x", 0600);
	put(f->store, "tmp/pack-fresh", "x", 0600);
	age(stale, 7200);

	/* Fresh blobs are spared: their metadata may be on its way. */
	assert_int_equal(blob_collect(f->bs, none_referenced, NULL, &bytes,
				      &count), 0);
	assert_int_equal(count, 0);
	assert_false(exists(f->store, "tmp/pack-stale"));
	assert_true(exists(f->store, "tmp/pack-fresh"));

	age(p1, 7200);
	age(p2, 7200);
	assert_int_equal(blob_reader_open(f->bs, r1.digest, &rd, &fd, &size), 0);
	assert_int_equal(size, r1.archive_bytes);
	assert_int_equal(blob_remove(f->bs, r1.digest), -EBUSY);
	assert_int_equal(blob_collect(f->bs, none_referenced, NULL, &bytes,
				      &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(bytes, r2.archive_bytes);
	assert_int_equal(access(p1, F_OK), 0);
	assert_int_equal(access(p2, F_OK), -1);
	/* The reader still reads it whole. */
	assert_int_equal(lseek(fd, 0, SEEK_END), (off_t)size);
	blob_reader_close(rd);
	assert_int_equal(blob_remove(f->bs, r1.digest), 0);
	assert_int_equal(blob_remove(f->bs, r1.digest), -ENOENT);
	assert_int_equal(blob_reader_open(f->bs, r1.digest, &rd, &fd, &size),
			 -ENOENT);
	blob_pack_result_free(&r1);
	blob_pack_result_free(&r2);
}

/* Restored files, directories (made or named) and links belong to the
 * job's user.  Root only: chown to another user needs CAP_CHOWN. */
static void
test_unpack_owner(void **state)
{
	static const char *const paths[] = {"d", "l", NULL};
	struct fx *f = *state;
	struct blob_pack_result pr;
	struct blob_unpack_result ur;
	struct blob_unpack_spec spec = {.uid = 4321, .gid = 4322};
	const char *check[] = {"d", "d/e", "d/e/f", "l"};
	char p[PATH_MAX];
	struct stat st;
	size_t i;

	if (geteuid() != 0) {
		print_message("SKIP: restoring as another user needs root "
			      "(CAP_CHOWN)\n");
		skip();
	}
	mkd(f->ws, "d");
	mkd(f->ws, "d/e");
	put(f->ws, "d/e/f", "x", 04755);
	lnk(f->ws, "l", "d/e/f");
	assert_int_equal(pack(f, paths, NULL, &pr), 0);
	spec.root = f->out;
	assert_int_equal(blob_unpack(f->bs, pr.digest, &spec, &ur), 0);
	for (i = 0; i < PW_ARRAY_LEN(check); i++) {
		sub(f->out, check[i], p, sizeof(p));
		assert_int_equal(lstat(p, &st), 0);
		assert_int_equal(st.st_uid, 4321);
		assert_int_equal(st.st_gid, 4322);
	}
	sub(f->out, "d/e/f", p, sizeof(p));
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	blob_pack_result_free(&pr);
}

/*
 * A full disk for real: the store on a 1 MiB tmpfs in a mount namespace of
 * our own, and 4 MiB of incompressible content to pack.  -ENOSPC, and no
 * blob, no temporary file left.  Needs CAP_SYS_ADMIN; skipped without.
 */
static void
test_disk_full(void **state)
{
	static const char *const paths[] = {".", NULL};
	struct fx *f = *state;
	struct blob_pack_result pr;
	struct blob_store *small;
	char mnt[256], p[PATH_MAX];
	uint64_t count;
	unsigned char *junk;
	int fd, i;

	snprintf(mnt, sizeof(mnt), "%s/full", f->tmp);
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", mnt, "tmpfs", 0, "size=1m") < 0) {
		print_message("SKIP: cannot mount a tmpfs in a private mount "
			      "namespace (needs root / CAP_SYS_ADMIN): %s\n",
			      strerror(errno));
		skip();
	}
	junk = xmalloc(4 << 20);
	srandom(7);
	for (i = 0; i < (4 << 20); i++)
		junk[i] = (unsigned char)random();
	sub(f->ws, "big", p, sizeof(p));
	fd = open(p, O_WRONLY | O_CREAT, 0644);
	assert_int_equal(write(fd, junk, 4 << 20), 4 << 20);
	close(fd);
	free(junk);
	snprintf(p, sizeof(p), "%s/blobs", mnt);
	assert_int_equal(blob_store_open(p, &small), 0);
	{
		struct blob_pack_spec spec = {
			.root = f->ws, .paths = paths, .uid = geteuid(),
		};

		assert_int_equal(blob_pack(small, &spec, &pr), -ENOSPC);
	}
	assert_non_null(strstr(pr.err, "No space left on device"));
	assert_int_equal(pr.digest[0], '\0');
	assert_int_equal(blob_usage(small, NULL, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(count_dir(p, "tmp"), 0);
	blob_pack_result_free(&pr);
	blob_store_close(small);
	assert_int_equal(umount(mnt), 0);
}

/* A cache key's files: path and content count, order and links do not
 * leak, globs as a pack's, a link out of the workspace is a warning. */
static void
test_hash_files(void **state)
{
	struct fx *f = *state;
	const char *const pats[] = {"Cargo.lock", "sub/*.toml", "none/*.x",
				    "out/secret", NULL};
	struct blob_pack_result r;
	char a[BLOB_DIGEST_HEX + 1], b[BLOB_DIGEST_HEX + 1];
	char c[BLOB_DIGEST_HEX + 1];
	size_t i;
	bool empty = false, out = false;

	put(f->ws, "Cargo.lock", "v1\n", 0644);
	mkd(f->ws, "sub");
	put(f->ws, "sub/a.toml", "a\n", 0644);
	put(f->ws, "sub/b.txt", "not named\n", 0644);
	put(f->outside, "secret", "host\n", 0644);
	lnk(f->ws, "out", f->outside);
	assert_int_equal(blob_hash_files(f->ws, pats, a, &r), 0);
	assert_int_equal(strlen(a), BLOB_DIGEST_HEX);
	assert_int_equal(r.files, 2);
	for (i = 0; i < r.nwarnings; i++) {
		empty |= strstr(r.warnings[i], "none/*.x") != NULL;
		out |= strstr(r.warnings[i], "out/secret") != NULL;
	}
	assert_true(empty);
	assert_true(out);
	blob_pack_result_free(&r);
	/* A file not named changes nothing; the host file changes nothing. */
	put(f->ws, "sub/b.txt", "changed\n", 0644);
	put(f->outside, "secret", "changed\n", 0644);
	assert_int_equal(blob_hash_files(f->ws, pats, b, &r), 0);
	blob_pack_result_free(&r);
	assert_string_equal(a, b);
	/* A named file's content does. */
	put(f->ws, "sub/a.toml", "b\n", 0644);
	assert_int_equal(blob_hash_files(f->ws, pats, c, &r), 0);
	blob_pack_result_free(&r);
	assert_string_not_equal(a, c);
	/* So does its path: the same bytes under another name. */
	put(f->ws, "sub/a.toml", "a\n", 0644);
	assert_int_equal(blob_hash_files(f->ws, pats, c, &r), 0);
	blob_pack_result_free(&r);
	assert_string_equal(a, c);
	assert_int_equal(rename(strcat(strcpy((char[PATH_MAX]){0}, f->ws),
				       "/sub/a.toml"),
				strcat(strcpy((char[PATH_MAX]){0}, f->ws),
				       "/sub/c.toml")), 0);
	assert_int_equal(blob_hash_files(f->ws, pats, c, &r), 0);
	blob_pack_result_free(&r);
	assert_string_not_equal(a, c);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_roundtrip),
		T(test_dedupe),
		T(test_odd_names),
		T(test_pack_link_leading_out),
		T(test_pack_globs),
		T(test_pack_fifo),
		T(test_pack_foreign_hardlink),
		T(test_pack_caps),
		T(test_unpack_climbing_out),
		T(test_unpack_through_planted_link),
		T(test_unpack_hardlinks),
		T(test_unpack_fifo_and_devices),
		T(test_unpack_caps),
		T(test_unpack_keep_existing),
		T(test_corrupt_blob),
		T(test_extract_one),
		T(test_collect_spares_readers),
		T(test_unpack_owner),
		T(test_hash_files),
		/* last: it leaves the process in a mount namespace */
		T(test_disk_full),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
