/*
 * Packing a workspace into a blob: which paths (walk.c), then each one
 * opened beneath the workspace and written into a zstd-compressed pax tar
 * whose bytes are hashed on their way to a temporary file, fsync'd and
 * renamed to their digest.
 *
 * Every path is opened from the workspace's directory fd with openat2
 * (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) and O_NOFOLLOW: a symlink is
 * stored as a symlink, never followed; a path whose resolution leaves the
 * workspace (`out -> /etc`, `out/shadow` declared) fails with EXDEV and
 * becomes a warning.  Files are first opened O_PATH and fstat'd, and only
 * a regular file is then opened for reading (O_NONBLOCK, and checked to
 * be the same inode), so a FIFO or a device is never opened at all.
 *
 * Entries are written sorted by name, with no owners and no atimes, so
 * equal trees make equal archives and the store keeps them once.
 * Modes lose their setuid and setgid bits; mtimes keep nanoseconds (pax).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "pipewright/blob.h"
#include "pipewright/util.h"
#include "blob-int.h"

#define RESOLVE_PACK (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)

/* The archive's way to the temporary file: the sink (sink.c). */
struct sink {
	struct blob_sink bs;
	int err;        /* the write's -errno */
};

static la_ssize_t
sink_write(struct archive *a, void *arg, const void *buf, size_t n)
{
	struct sink *s = arg;
	int rc;

	rc = blob_sink_add(&s->bs, buf, n);
	if (rc < 0) {
		s->err = rc;
		archive_set_error(a, -rc, "%s", strerror(-rc));
		return -1;
	}
	return (la_ssize_t)n;
}

static int
sink_close(struct archive *a, void *arg)
{
	(void)a;
	(void)arg;
	return ARCHIVE_OK;
}

struct pack {
	const struct blob_pack_spec *spec;
	struct blob_pack_result *res;
	int rootfd;
	struct archive *a;
	struct archive_entry *e;
	struct blob_nameset links;  /* symlinks packed: nothing beneath */
	char *buf;                  /* BLOB_IO_CHUNK */
};

static int
fail_archive(struct pack *p, struct sink *s, const char *what)
{
	if (s->err < 0) {
		blob_errf(p->res->err, sizeof(p->res->err),
			  "writing the archive: %s", strerror(-s->err));
		return s->err;
	}
	blob_errf(p->res->err, sizeof(p->res->err), "%s: %s", what,
		  archive_error_string(p->a) ? archive_error_string(p->a) :
		  "archive error");
	return archive_errno(p->a) > 0 ? -archive_errno(p->a) : -EIO;
}

/* True if an ancestor of name was packed as a symlink. */
static bool
beneath_link(struct pack *p, const char *name)
{
	char tmp[PATH_MAX];
	char *slash;

	if (p->links.n == 0)
		return false;
	snprintf(tmp, sizeof(tmp), "%s", name);
	while ((slash = strrchr(tmp, '/')) != NULL) {
		*slash = '\0';
		if (blob_nameset_has(&p->links, tmp))
			return true;
	}
	return false;
}

static int
caps_check(struct pack *p, uint64_t add_bytes)
{
	const struct blob_pack_spec *sp = p->spec;
	struct blob_pack_result *r = p->res;

	if (sp->max_files != 0 && r->files + 1 > sp->max_files) {
		blob_errf(r->err, sizeof(r->err),
			  "more than max_files (%llu) files to pack: %llu "
			  "so far", (unsigned long long)sp->max_files,
			  (unsigned long long)(r->files + 1));
		return -EFBIG;
	}
	if (sp->max_bytes != 0 && r->content_bytes + add_bytes > sp->max_bytes) {
		blob_errf(r->err, sizeof(r->err),
			  "more than max_bytes (%llu bytes) to pack: %llu bytes "
			  "so far",
			  (unsigned long long)sp->max_bytes,
			  (unsigned long long)(r->content_bytes + add_bytes));
		return -EFBIG;
	}
	return 0;
}

static int
pack_data(struct pack *p, struct sink *s, const char *name, int fd,
	  uint64_t size)
{
	uint64_t left = size;
	ssize_t r;

	while (left > 0) {
		r = read(fd, p->buf, left < BLOB_IO_CHUNK ? left : BLOB_IO_CHUNK);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			blob_errf(p->res->err, sizeof(p->res->err),
				  "reading %s: %s", name, strerror(errno));
			return -errno;
		}
		if (r == 0)
			break;  /* shrunk: the archive pads it with zeros */
		if (archive_write_data(p->a, p->buf, (size_t)r) < 0)
			return fail_archive(p, s, name);
		left -= (uint64_t)r;
	}
	return 0;
}

/* One entry: 0 (packed or skipped with a warning) or -errno. */
static int
pack_one(struct pack *p, struct sink *s, const char *name)
{
	char target[PATH_MAX];
	struct stat st, st2;
	int fd, rfd = -1, rc;
	ssize_t tl;

	if (beneath_link(p, name))
		return 0;
	fd = blob_openat2(p->rootfd, name, O_PATH | O_NOFOLLOW, 0,
			  RESOLVE_PACK);
	if (fd < 0) {
		pack_warn(p->res, "%s: %s; not packed", name,
			  fd == -EXDEV ? "leads out of the workspace" :
			  strerror(-fd));
		return 0;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	archive_entry_clear(p->e);
	archive_entry_set_pathname(p->e, name);
	archive_entry_set_perm(p->e, st.st_mode & 01777);
	archive_entry_set_mtime(p->e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	if (S_ISLNK(st.st_mode)) {
		tl = readlinkat(fd, "", target, sizeof(target) - 1);
		close(fd);
		if (tl < 0) {
			pack_warn(p->res, "%s: %s; not packed", name,
				  strerror(errno));
			return 0;
		}
		target[tl] = '\0';
		archive_entry_set_filetype(p->e, AE_IFLNK);
		archive_entry_set_symlink(p->e, target);
		blob_nameset_add(&p->links, name);
	} else if (S_ISDIR(st.st_mode)) {
		close(fd);
		archive_entry_set_filetype(p->e, AE_IFDIR);
	} else if (S_ISREG(st.st_mode)) {
		close(fd);
		if (st.st_nlink > 1 && st.st_uid != p->spec->uid) {
			pack_warn(p->res, "%s: a hard link to a file of another "
				  "owner (uid %u); not packed", name,
				  (unsigned)st.st_uid);
			return 0;
		}
		rfd = blob_openat2(p->rootfd, name,
				   O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0,
				   RESOLVE_PACK);
		if (rfd < 0 || fstat(rfd, &st2) < 0 || st2.st_ino != st.st_ino ||
		    st2.st_dev != st.st_dev || !S_ISREG(st2.st_mode)) {
			pack_warn(p->res, "%s: changed while packing; not packed",
				  name);
			if (rfd >= 0)
				close(rfd);
			return 0;
		}
		if ((rc = caps_check(p, (uint64_t)st2.st_size)) < 0) {
			close(rfd);
			return rc;
		}
		archive_entry_set_filetype(p->e, AE_IFREG);
		archive_entry_set_size(p->e, st2.st_size);
		st = st2;
	} else {
		close(fd);
		pack_warn(p->res, "%s: %s; skipped (only files, directories "
			  "and symlinks are packed)", name,
			  S_ISFIFO(st.st_mode) ? "a FIFO" :
			  S_ISSOCK(st.st_mode) ? "a socket" : "a device");
		return 0;
	}
	if (rfd < 0 && (rc = caps_check(p, 0)) < 0)
		return rc;
	if (archive_write_header(p->a, p->e) < ARCHIVE_WARN) {
		if (rfd >= 0)
			close(rfd);
		return fail_archive(p, s, name);
	}
	rc = 0;
	if (rfd >= 0) {
		rc = pack_data(p, s, name, rfd, (uint64_t)st.st_size);
		close(rfd);
		p->res->content_bytes += (uint64_t)st.st_size;
	}
	p->res->files++;
	return rc;
}

/* A temporary file of our own in tmp/, locked so no collector takes it. */
static int
tmp_create(struct blob_store *bs, char *name, size_t len)
{
	unsigned char rnd[8];
	int fd;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -EIO;
	snprintf(name, len, "pack-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
		 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	fd = openat(bs->tmpfd, name,
		    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0) {
		int rc = -errno;

		close(fd);
		unlinkat(bs->tmpfd, name, 0);
		return rc;
	}
	return fd;
}

/*
 * The fsync'd temporary file becomes sha256/<xx>/<digest>, or is dropped
 * when that exists (whose mtime is renewed: collect spares it a while).
 */
static int
commit(struct blob_store *bs, const char *tmpname, const char *digest)
{
	char sub[3];
	int subfd, fd, rc = 0, tries, made = 0;

	snprintf(sub, sizeof(sub), "%.2s", digest);
	if (mkdirat(bs->shafd, sub, 0700) == 0)
		made = 1;
	else if (errno != EEXIST)
		return -errno;
	subfd = openat(bs->shafd, sub,
		       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (subfd < 0)
		return -errno;
	for (tries = 0; tries < 3; tries++) {
		if (renameat2(bs->tmpfd, tmpname, subfd, digest,
			      RENAME_NOREPLACE) == 0) {
			if (fsync(subfd) < 0 || (made && fsync(bs->shafd) < 0))
				rc = -errno;
			goto out;
		}
		if (errno != EEXIST) {
			rc = -errno;
			goto out;
		}
		fd = blob_open_locked(bs, digest, false);
		if (fd == -ENOENT)
			continue;   /* collected just now: ours takes its place */
		if (fd < 0) {
			rc = fd;
			goto out;
		}
		futimens(fd, NULL);
		close(fd);
		unlinkat(bs->tmpfd, tmpname, 0);
		goto out;
	}
	rc = -EAGAIN;
out:
	close(subfd);
	return rc;
}

static int
setup_archive(struct blob_store *bs, struct pack *p, struct sink *s)
{
	char v[16];

	p->a = archive_write_new();
	if (p->a == NULL)
		abort();
	if (archive_write_set_format_pax(p->a) != ARCHIVE_OK ||
	    archive_write_add_filter_zstd(p->a) != ARCHIVE_OK)
		return fail_archive(p, s, "setting up the archive");
	snprintf(v, sizeof(v), "%d", bs->zstd_level);
	if (archive_write_set_filter_option(p->a, "zstd", "compression-level",
					    v) != ARCHIVE_OK)
		return fail_archive(p, s, "zstd compression-level");
	if (bs->zstd_threads > 1) {
		snprintf(v, sizeof(v), "%d", bs->zstd_threads);
		if (archive_write_set_filter_option(p->a, "zstd", "threads",
						    v) != ARCHIVE_OK)
			return fail_archive(p, s, "zstd threads");
	}
	/* Unblocked: zstd's output goes to sink_write as it comes, without
	 * one more copy into libarchive's blocks (and no padding). */
	archive_write_set_bytes_per_block(p->a, 0);
	if (archive_write_open(p->a, s, NULL, sink_write, sink_close) !=
	    ARCHIVE_OK)
		return fail_archive(p, s, "opening the archive");
	return 0;
}

int
blob_pack(struct blob_store *bs, const struct blob_pack_spec *spec_in,
	  struct blob_pack_result *res)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char tmpname[64];
	struct blob_pack_spec capped = *spec_in, *spec = &capped;
	struct sink s;
	struct pack p;
	struct pack_list list;
	size_t i;
	int fd = -1, rc;

	/*
	 * Never more than an unpack takes: a blob past its caps would be
	 * saved, then fail every job that restores it.
	 */
	if (spec->max_bytes == 0 || spec->max_bytes > BLOB_UNPACK_MAX_BYTES)
		spec->max_bytes = BLOB_UNPACK_MAX_BYTES;
	if (spec->max_files == 0 || spec->max_files > BLOB_UNPACK_MAX_FILES)
		spec->max_files = BLOB_UNPACK_MAX_FILES;
	memset(res, 0, sizeof(*res));
	memset(&p, 0, sizeof(p));
	memset(&s, 0, sizeof(s));
	pack_list_init(&list);
	p.spec = spec;
	p.res = res;
	blob_nameset_init(&p.links);
	p.rootfd = open(spec->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p.rootfd < 0) {
		rc = -errno;
		blob_errf(res->err, sizeof(res->err), "%s: %s", spec->root,
			  strerror(-rc));
		goto out;
	}
	rc = pack_collect(p.rootfd, spec, res, &list);
	if (rc < 0)
		goto out;
	if (spec->max_files != 0 && list.n > spec->max_files) {
		blob_errf(res->err, sizeof(res->err),
			  "more than max_files (%llu) files to pack: %zu",
			  (unsigned long long)spec->max_files, list.n);
		rc = -EFBIG;
		goto out;
	}
	fd = tmp_create(bs, tmpname, sizeof(tmpname));
	if (fd < 0) {
		rc = fd;
		blob_errf(res->err, sizeof(res->err),
			  "creating a temporary file in %s/tmp: %s", bs->dir,
			  strerror(-rc));
		goto out;
	}
	if ((rc = blob_sink_start(&s.bs, fd)) < 0) {
		blob_errf(res->err, sizeof(res->err), "starting a thread: %s",
			  strerror(-rc));
		goto out;
	}
	p.buf = xmalloc(BLOB_IO_CHUNK);
	p.e = archive_entry_new();
	if ((rc = setup_archive(bs, &p, &s)) < 0)
		goto out;
	for (i = 0; i < list.n; i++)
		if ((rc = pack_one(&p, &s, list.names[i])) < 0)
			goto out;
	if (archive_write_close(p.a) != ARCHIVE_OK) {
		rc = fail_archive(&p, &s, "finishing the archive");
		goto out;
	}
	if ((rc = blob_sink_finish(&s.bs, md)) < 0) {
		blob_errf(res->err, sizeof(res->err),
			  "writing the archive: %s", strerror(-rc));
		goto out;
	}
	if (fsync(fd) < 0) {
		rc = -errno;
		blob_errf(res->err, sizeof(res->err), "fsync: %s",
			  strerror(-rc));
		goto out;
	}
	blob_hex(md, res->digest);
	res->archive_bytes = s.bs.bytes;
	rc = commit(bs, tmpname, res->digest);
	if (rc < 0)
		blob_errf(res->err, sizeof(res->err), "storing blob %s: %s",
			  res->digest, strerror(-rc));
out:
	if (p.a != NULL)
		archive_write_free(p.a);
	if (p.e != NULL)
		archive_entry_free(p.e);
	blob_sink_free(&s.bs);
	if (fd >= 0) {
		close(fd);
		if (rc < 0)
			unlinkat(bs->tmpfd, tmpname, 0);
	}
	if (rc < 0)
		res->digest[0] = '\0';
	free(p.buf);
	blob_nameset_free(&p.links);
	pack_list_free(&list);
	if (p.rootfd >= 0)
		close(p.rootfd);
	return rc;
}

void
blob_pack_result_free(struct blob_pack_result *res)
{
	size_t i;

	if (res == NULL)
		return;
	for (i = 0; i < res->nwarnings; i++)
		free(res->warnings[i]);
	free(res->warnings);
	res->warnings = NULL;
	res->nwarnings = 0;
}
