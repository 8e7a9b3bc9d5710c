/*
 * Restoring a blob: the digest checked first, in one streaming pass under
 * a shared lock (a corrupt blob is removed and is a miss), then each entry
 * read with libarchive and created by us, never by libarchive's own
 * extraction, beneath the root's directory fd.
 *
 * The rules, each against an archive that is assumed hostile:
 * - names are cleaned first; an absolute name or a `..` part is refused;
 * - parents are resolved with openat2(RESOLVE_BENEATH |
 *   RESOLVE_NO_SYMLINKS): never through a symlink, including one an
 *   earlier entry of the same archive planted; missing ones are made;
 * - files are created O_CREAT|O_EXCL|O_NOFOLLOW: an existing path is left
 *   alone (keep_existing, counted) or unlinked first, never written
 *   through;
 * - symlinks are made as symlinks with whatever target they name (nothing
 *   here follows them); hard links only to a file this archive made;
 *   devices and FIFOs are refused;
 * - entry count and content bytes are capped; owners are the spec's
 *   uid:gid, modes lose setuid and setgid; mtimes are restored
 *   (directories' at the end, once nothing more is created in them).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "pipewright/blob.h"
#include "pipewright/util.h"
#include "blob-int.h"

#define RESOLVE_UNPACK (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)

/* A directory whose mode and mtime are set once the archive is done. */
struct dirfix {
	char *name;     /* owned */
	mode_t mode;
	struct timespec mtime;
};

struct unpack {
	const struct blob_unpack_spec *spec;
	struct blob_unpack_result *res;
	struct archive *a;
	int rootfd;
	bool chown;             /* false: we are uid:gid already */
	uint64_t max_bytes, max_files;
	char cached[PATH_MAX];  /* the parent resolved last ... */
	int cached_fd;          /* ... O_PATH, or -1 */
	struct blob_nameset files;  /* regular files of this archive */
	struct dirfix *dirs;
	size_t ndirs, dcap;
	struct blob_fwriter *fw;    /* files' bytes and closing */
};

#define ERR(u, ...) blob_errf((u)->res->err, sizeof((u)->res->err), __VA_ARGS__)

static void
uncache(struct unpack *u)
{
	if (u->cached_fd >= 0)
		close(u->cached_fd);
	u->cached_fd = -1;
	u->cached[0] = '\0';
}

static int
set_owner(struct unpack *u, int fd, int dfd, const char *base,
	  const char *name)
{
	int rc;

	if (!u->chown)
		return 0;
	if (fd >= 0)
		rc = fchown(fd, u->spec->uid, u->spec->gid);
	else
		rc = fchownat(dfd, base, u->spec->uid, u->spec->gid,
			      AT_SYMLINK_NOFOLLOW);
	if (rc < 0) {
		rc = -errno;
		ERR(u, "%s: chown to %u:%u: %s", name, (unsigned)u->spec->uid,
		    (unsigned)u->spec->gid, strerror(-rc));
	}
	return rc;
}

/*
 * The directory holding entry `name`'s last part, resolved (and made where
 * missing) one part at a time without passing through any symlink.
 * Returns an O_PATH fd owned by the cache, or -errno with err.
 */
static int
parent_walk(struct unpack *u, const char *dir, const char *name)
{
	char part[NAME_MAX + 1];
	const char *p = dir, *e;
	struct stat st;
	int cur = -1, next;
	size_t len;

	while (*p != '\0') {
		e = strchr(p, '/');
		len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len > NAME_MAX) {
			ERR(u, "%s: a name too long", name);
			goto fail_errno_inval;
		}
		memcpy(part, p, len);
		part[len] = '\0';
		p += len + (e != NULL);
		for (;;) {
			int at = cur >= 0 ? cur : u->rootfd;

			next = blob_openat2(at, part,
					    O_PATH | O_DIRECTORY | O_NOFOLLOW, 0,
					    RESOLVE_UNPACK);
			if (next >= 0)
				break;
			if (fstatat(at, part, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno != ENOENT)
					goto fail_errno;
				if (mkdirat(at, part, 0755) < 0 &&
				    errno != EEXIST)
					goto fail_errno;
				if ((next = set_owner(u, -1, at, part,
						      name)) < 0)
					goto fail;
				continue;
			}
			if (S_ISLNK(st.st_mode)) {
				ERR(u, "entry '%s' passes through a symlink "
				    "(%.*s); refused", name,
				    (int)(p - dir - (e != NULL)), dir);
				if (cur >= 0)
					close(cur);
				return -EXDEV;
			}
			if (S_ISDIR(st.st_mode)) {
				errno = -next;
				goto fail_errno;
			}
			/* A file where the archive has a directory. */
			if (u->spec->keep_existing) {
				if (cur >= 0)
					close(cur);
				return -EEXIST;
			}
			if (unlinkat(at, part, 0) < 0)
				goto fail_errno;
		}
		if (cur >= 0)
			close(cur);
		cur = next;
	}
	return cur;
fail_errno_inval:
	errno = ENAMETOOLONG;
fail_errno:
	ERR(u, "%s: %s", name, strerror(errno));
	next = -errno;
	if (cur >= 0)
		close(cur);
	return next;
fail:
	if (cur >= 0)
		close(cur);
	return next;
}

/* The parent's fd (the root, or the cache's), or -errno; -EEXIST: kept. */
static int
parent_of(struct unpack *u, const char *name, const char **base)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(name, '/');
	size_t n;
	int fd;

	if (slash == NULL) {
		*base = name;
		return u->rootfd;
	}
	*base = slash + 1;
	n = (size_t)(slash - name);
	memcpy(dir, name, n);
	dir[n] = '\0';
	if (u->cached_fd >= 0 && strcmp(dir, u->cached) == 0)
		return u->cached_fd;
	uncache(u);
	fd = blob_openat2(u->rootfd, dir, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0,
			  RESOLVE_UNPACK);
	if (fd < 0)
		fd = parent_walk(u, dir, name);
	if (fd < 0)
		return fd;
	memcpy(u->cached, dir, n + 1);
	u->cached_fd = fd;
	return fd;
}

/*
 * What is at base already: 0 to go on creating, 1 to skip the entry
 * (kept, or a directory that is there already), -errno.
 */
static int
clear_place(struct unpack *u, int pfd, const char *base, const char *name,
	    bool want_dir)
{
	struct stat st;

	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (want_dir && S_ISDIR(st.st_mode))
		return 1;
	if (u->spec->keep_existing) {
		u->res->kept_existing++;
		return 1;
	}
	uncache(u);
	if (unlinkat(pfd, base, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0) {
		int rc = -errno;

		ERR(u, "entry '%s': cannot replace what is there: %s", name,
		    strerror(-rc));
		return rc;
	}
	return 0;
}

static void
entry_times(struct archive_entry *e, struct timespec ts[2])
{
	ts[1].tv_sec = archive_entry_mtime(e);
	ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	if (!archive_entry_mtime_is_set(e)) {
		ts[1].tv_sec = 0;
		ts[1].tv_nsec = UTIME_NOW;
	}
	ts[0] = ts[1];
}

static int
make_file(struct unpack *u, struct archive_entry *e, int pfd,
	  const char *base, const char *name)
{
	struct blob_fw_meta m;
	const void *buf;
	size_t len;
	la_int64_t off;
	int fd, r, rc = 0;

	fd = openat(pfd, base,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		ERR(u, "%s: %s", name, strerror(-rc));
		return rc;
	}
	memset(&m, 0, sizeof(m));
	for (;;) {
		r = archive_read_data_block(u->a, &buf, &len, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			ERR(u, "corrupt archive at '%s': %s", name,
			    archive_error_string(u->a));
			rc = -EBADMSG;
			break;
		}
		if (u->res->content_bytes + len > u->max_bytes) {
			ERR(u, "more than %llu bytes of content; stopped at "
			    "'%s'", (unsigned long long)u->max_bytes, name);
			rc = -EFBIG;
			break;
		}
		u->res->content_bytes += len;
		if ((rc = blob_fw_data(u->fw, fd, buf, len, off, name)) < 0)
			break;
		m.end = off + (la_int64_t)len;
	}
	if (rc < 0) {
		blob_fw_close(u->fw, fd, NULL, name);
		return rc;
	}
	/* A sparse file's trailing hole is the size the writer sets. */
	m.size = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
	m.chown = u->chown;
	m.uid = u->spec->uid;
	m.gid = u->spec->gid;
	m.mode = archive_entry_perm(e) & 0777;
	entry_times(e, m.ts);
	return blob_fw_close(u->fw, fd, &m, name);
}

static int
make_link(struct unpack *u, struct archive_entry *e, int pfd,
	  const char *base, const char *name)
{
	const char *target = archive_entry_symlink(e);
	struct timespec ts[2];
	int rc;

	if (target == NULL || *target == '\0') {
		ERR(u, "corrupt archive: symlink '%s' without a target", name);
		return -EBADMSG;
	}
	if (symlinkat(target, pfd, base) < 0) {
		rc = -errno;
		ERR(u, "%s: %s", name, strerror(-rc));
		return rc;
	}
	if ((rc = set_owner(u, -1, pfd, base, name)) < 0)
		return rc;
	entry_times(e, ts);
	utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

static int
make_hardlink(struct unpack *u, const char *raw, int pfd, const char *base,
	      const char *name)
{
	char target[PATH_MAX], dir[PATH_MAX];
	const char *tbase, *slash;
	int tfd, rc;

	rc = blob_clean_name(raw, target, sizeof(target));
	if (rc < 0 || !blob_nameset_has(&u->files, target)) {
		ERR(u, "entry '%s': a hard link to '%s', which this archive "
		    "did not make; refused", name, raw);
		return -EXDEV;
	}
	slash = strrchr(target, '/');
	tfd = u->rootfd;
	tbase = target;
	if (slash != NULL) {
		memcpy(dir, target, (size_t)(slash - target));
		dir[slash - target] = '\0';
		tbase = slash + 1;
		tfd = blob_openat2(u->rootfd, dir,
				   O_PATH | O_DIRECTORY | O_NOFOLLOW, 0,
				   RESOLVE_UNPACK);
		if (tfd < 0) {
			ERR(u, "entry '%s': its target '%s': %s", name, raw,
			    strerror(-tfd));
			return tfd == -ELOOP ? -EXDEV : tfd;
		}
	}
	rc = linkat(tfd, tbase, pfd, base, 0) < 0 ? -errno : 0;
	if (rc < 0)
		ERR(u, "%s: link to '%s': %s", name, raw, strerror(-rc));
	if (tfd != u->rootfd)
		close(tfd);
	return rc;
}

static int
entry_kind_ok(struct unpack *u, struct archive_entry *e, const char *name)
{
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
	case AE_IFDIR:
	case AE_IFLNK:
		return 0;
	default:
		ERR(u, "entry '%s': a %s; only files, directories and "
		    "symlinks are restored", name,
		    archive_entry_filetype(e) == AE_IFIFO ? "FIFO" :
		    archive_entry_filetype(e) == AE_IFSOCK ? "socket" :
		    "device");
		return -EPERM;
	}
}

static int
one_entry(struct unpack *u, struct archive_entry *e)
{
	char name[PATH_MAX];
	const char *raw = archive_entry_pathname(e), *base, *hl;
	bool is_dir;
	int pfd, rc;

	if (raw == NULL) {
		ERR(u, "corrupt archive: an entry without a name");
		return -EBADMSG;
	}
	rc = blob_clean_name(raw, name, sizeof(name));
	if (rc == -EXDEV) {
		ERR(u, "entry '%s' climbs out of the root; refused", raw);
		return rc;
	}
	if (rc < 0) {
		ERR(u, "corrupt archive: entry name '%s'", raw);
		return -EBADMSG;
	}
	if (*name == '\0')
		return 0;   /* the root itself: not ours to change */
	hl = archive_entry_hardlink(e);
	if (hl == NULL && (rc = entry_kind_ok(u, e, name)) < 0)
		return rc;
	if (++u->res->files > u->max_files) {
		ERR(u, "more than %llu entries; stopped at '%s'",
		    (unsigned long long)u->max_files, name);
		return -EFBIG;
	}
	if (hl == NULL && archive_entry_size(e) > 0 &&
	    u->res->content_bytes + (uint64_t)archive_entry_size(e) >
	    u->max_bytes) {
		ERR(u, "more than %llu bytes of content; stopped at '%s'",
		    (unsigned long long)u->max_bytes, name);
		return -EFBIG;
	}
	pfd = parent_of(u, name, &base);
	if (pfd == -EEXIST) {
		u->res->kept_existing++;
		return 0;
	}
	if (pfd < 0)
		return pfd;
	is_dir = hl == NULL && archive_entry_filetype(e) == AE_IFDIR;
	rc = clear_place(u, pfd, base, name, is_dir);
	if (rc == 1 && !(is_dir && !u->spec->keep_existing))
		return 0;
	if (rc < 0)
		return rc;
	if (hl != NULL)
		return make_hardlink(u, hl, pfd, base, name);
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
		blob_nameset_add(&u->files, name);
		return make_file(u, e, pfd, base, name);
	case AE_IFLNK:
		return make_link(u, e, pfd, base, name);
	default:
		if (rc == 0 && mkdirat(pfd, base, 0700) < 0) {
			rc = -errno;
			ERR(u, "%s: %s", name, strerror(-rc));
			return rc;
		}
		if ((rc = set_owner(u, -1, pfd, base, name)) < 0)
			return rc;
		u->dirs = xgrow(u->dirs, &u->dcap, u->ndirs + 1,
				sizeof(*u->dirs));
		u->dirs[u->ndirs].name = xstrdup(name);
		u->dirs[u->ndirs].mode = archive_entry_perm(e) & 01777;
		u->dirs[u->ndirs].mtime.tv_sec = archive_entry_mtime(e);
		u->dirs[u->ndirs].mtime.tv_nsec = archive_entry_mtime_nsec(e);
		u->ndirs++;
		return 0;
	}
}

/* Directories' modes and mtimes, now that nothing more is made in them. */
static void
fix_dirs(struct unpack *u)
{
	struct timespec ts[2];
	size_t i;
	int fd;

	for (i = u->ndirs; i-- > 0;) {
		fd = blob_openat2(u->rootfd, u->dirs[i].name,
				  O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0,
				  RESOLVE_UNPACK);
		if (fd < 0)
			continue;   /* replaced by a later entry */
		ts[0] = ts[1] = u->dirs[i].mtime;
		fchmod(fd, u->dirs[i].mode & 0777);
		futimens(fd, ts);
		close(fd);
	}
}

/* A reader of the archive in fd, mapped (*map, *len: munmap them) so that
 * libarchive reads it without a copy. */
static struct archive *
reader_new(int fd, void **map, size_t *len)
{
	struct archive *a;
	struct stat st;

	*map = NULL;
	*len = 0;
	if (fstat(fd, &st) < 0 || st.st_size <= 0)
		return NULL;
	*map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (*map == MAP_FAILED) {
		*map = NULL;
		return NULL;
	}
	*len = (size_t)st.st_size;
	madvise(*map, *len, MADV_SEQUENTIAL);
	a = archive_read_new();
	if (a == NULL)
		abort();
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, *map, *len) != ARCHIVE_OK) {
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* Unpacks the archive in fd (at offset 0). */
static int
unpack_fd(int fd, const struct blob_unpack_spec *spec,
	  struct blob_unpack_result *res)
{
	char name[PATH_MAX];
	struct archive_entry *e;
	struct unpack u;
	void *map = NULL;
	size_t i, maplen = 0;
	int r, rc = 0;

	memset(&u, 0, sizeof(u));
	u.spec = spec;
	u.res = res;
	u.cached_fd = -1;
	u.max_bytes = spec->max_bytes ? spec->max_bytes : BLOB_UNPACK_MAX_BYTES;
	u.max_files = spec->max_files ? spec->max_files : BLOB_UNPACK_MAX_FILES;
	u.chown = geteuid() == 0 || spec->uid != geteuid() ||
		  spec->gid != getegid();
	blob_nameset_init(&u.files);
	u.rootfd = open(spec->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (u.rootfd < 0) {
		rc = -errno;
		ERR(&u, "%s: %s", spec->root, strerror(-rc));
		goto out;
	}
	u.a = reader_new(fd, &map, &maplen);
	if (u.a == NULL) {
		ERR(&u, "corrupt archive: cannot open it");
		rc = -EBADMSG;
		goto out;
	}
	if ((rc = blob_fw_start(&u.fw)) < 0) {
		ERR(&u, "starting a thread: %s", strerror(-rc));
		goto out;
	}
	for (;;) {
		r = archive_read_next_header(u.a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			ERR(&u, "corrupt archive: %s",
			    archive_error_string(u.a) ?
			    archive_error_string(u.a) : "unreadable");
			rc = -EBADMSG;
			break;
		}
		if ((rc = one_entry(&u, e)) < 0)
			break;
	}
	r = blob_fw_finish(u.fw, name, sizeof(name));
	u.fw = NULL;
	if (r < 0 && (rc == 0 || rc == r)) {
		/* The writer's error is the one to tell (ENOSPC, EIO). */
		rc = r;
		ERR(&u, "%s: %s", name, strerror(-rc));
	}
	if (rc == 0)
		fix_dirs(&u);
out:
	if (u.fw != NULL)
		blob_fw_finish(u.fw, NULL, 0);
	if (u.a != NULL)
		archive_read_free(u.a);
	if (map != NULL)
		munmap(map, maplen);
	uncache(&u);
	for (i = 0; i < u.ndirs; i++)
		free(u.dirs[i].name);
	free(u.dirs);
	blob_nameset_free(&u.files);
	if (u.rootfd >= 0)
		close(u.rootfd);
	return rc;
}

int
blob_unpack_file(const char *path, const struct blob_unpack_spec *spec,
		 struct blob_unpack_result *res)
{
	int fd, rc;

	memset(res, 0, sizeof(*res));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		blob_errf(res->err, sizeof(res->err), "%s: %s", path,
			  strerror(-rc));
		return rc;
	}
	rc = unpack_fd(fd, spec, res);
	close(fd);
	return rc;
}

/* The blob opened under a shared lock and verified; a corrupt one is
 * removed.  The fd, or -errno with err. */
static int
open_verified(struct blob_store *bs, const char *digest, char *err,
	      size_t errlen)
{
	int fd, rc;

	fd = blob_open_locked(bs, digest, false);
	if (fd < 0) {
		blob_errf(err, errlen, "blob %s: %s", digest,
			  fd == -EINVAL ? "not a digest" : strerror(-fd));
		return fd == -EINVAL ? -ENOENT : fd;
	}
	rc = blob_verify_fd(fd, digest);
	if (rc == -EBADMSG) {
		blob_unlink(bs, digest);
		blob_errf(err, errlen, "blob %s: its content does not match "
			  "its digest (removed)", digest);
	} else if (rc < 0) {
		blob_errf(err, errlen, "blob %s: %s", digest, strerror(-rc));
	}
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

int
blob_unpack(struct blob_store *bs, const char *digest,
	    const struct blob_unpack_spec *spec, struct blob_unpack_result *res)
{
	char err[sizeof(res->err)];
	int fd, rc;

	memset(res, 0, sizeof(*res));
	fd = open_verified(bs, digest, res->err, sizeof(res->err));
	if (fd < 0)
		return fd;
	rc = unpack_fd(fd, spec, res);
	if (rc == -EBADMSG) {
		blob_unlink(bs, digest);
		snprintf(err, sizeof(err), "%s", res->err);
		blob_errf(res->err, sizeof(res->err), "blob %s: %s (removed)",
			  digest, err);
	}
	close(fd);
	return rc;
}

int
blob_extract_one(struct blob_store *bs, const char *digest,
		 const char *path, int out_fd)
{
	char want[PATH_MAX], name[PATH_MAX], err[256];
	struct archive_entry *e;
	struct archive *a;
	void *map;
	size_t maplen;
	char *buf;
	la_ssize_t n;
	int fd, r, rc = -ENOENT;

	if (blob_clean_name(path, want, sizeof(want)) < 0 || *want == '\0')
		return -ENOENT;
	fd = open_verified(bs, digest, err, sizeof(err));
	if (fd < 0)
		return fd;
	a = reader_new(fd, &map, &maplen);
	if (a == NULL) {
		if (map != NULL)
			munmap(map, maplen);
		close(fd);
		return -EBADMSG;
	}
	buf = xmalloc(BLOB_IO_CHUNK);
	while ((r = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN) {
			rc = -EBADMSG;
			break;
		}
		if (archive_entry_pathname(e) == NULL ||
		    blob_clean_name(archive_entry_pathname(e), name,
				    sizeof(name)) < 0 ||
		    strcmp(name, want) != 0)
			continue;
		/* There, but not a file to stream (the API's 400). */
		if (archive_entry_filetype(e) != AE_IFREG ||
		    archive_entry_hardlink(e) != NULL) {
			rc = -EISDIR;
			break;
		}
		rc = 0;
		while (rc == 0 &&
		       (n = archive_read_data(a, buf, BLOB_IO_CHUNK)) != 0) {
			if (n < 0)
				rc = -EBADMSG;
			else
				rc = blob_write_all(out_fd, buf, (size_t)n);
		}
		break;
	}
	free(buf);
	archive_read_free(a);
	munmap(map, maplen);
	close(fd);
	return rc;
}
