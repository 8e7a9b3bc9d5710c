/*
 * The blob store's files: <dir>/sha256/<2 hex>/<64 hex>, temporary files
 * in <dir>/tmp, and the lock protocol that lets a collector delete
 * without ever pulling a blob from under a reader.
 *
 * Locks are flock(2) on the blob file itself.  A reader opens the file,
 * takes LOCK_SH and then checks that the file still has a name
 * (st_nlink > 0): a collector may have unlinked it between the open and
 * the lock.  A collector (or blob_remove) takes LOCK_EX|LOCK_NB and unlinks
 * only while it holds it, so a held blob is skipped, never waited for.
 * A packer that finds its digest already stored touches the stored
 * blob's mtime under a shared lock, and the collector spares blobs
 * younger than BLOB_GRACE_SEC: the caller's metadata row for a reused
 * blob may be written after the collector asked whether it is referenced.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "pipewright/blob.h"
#include "pipewright/util.h"
#include "blob-int.h"

struct blob_reader {
	int fd;
};

int
blob_openat2(int dirfd, const char *path, int flags, mode_t mode,
	     uint64_t resolve)
{
	struct open_how how;
	long fd;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)flags | O_CLOEXEC;
	how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
	how.resolve = resolve;
	do
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : (int)fd;
}

int
blob_write_all(int fd, const void *p, size_t len)
{
	const char *c = p;
	ssize_t w;

	while (len > 0) {
		w = write(fd, c, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		len -= (size_t)w;
	}
	return 0;
}

void
blob_errf(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

bool
blob_digest_valid(const char *s)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; i < BLOB_DIGEST_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[i] == '\0';
}

void
blob_hex(const unsigned char *md, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[BLOB_DIGEST_HEX] = '\0';
}

/* "ab/abcd..." for a digest. */
static void
rel_name(const char *digest, char *out, size_t len)
{
	snprintf(out, len, "%.2s/%s", digest, digest);
}

static int
open_dir_at(int at, const char *name, int *out)
{
	int fd;

	if (mkdirat(at, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*out = fd;
	return 0;
}

int
blob_store_open(const char *dir, struct blob_store **out)
{
	struct blob_store *bs;
	int rc;

	rc = pw_mkdirs(dir, 0700);
	if (rc < 0)
		return rc;
	bs = xcalloc(1, sizeof(*bs));
	bs->dirfd = bs->shafd = bs->tmpfd = -1;
	bs->zstd_level = BLOB_ZSTD_LEVEL;
	bs->zstd_threads = BLOB_ZSTD_THREADS;
	bs->dir = xstrdup(dir);
	bs->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bs->dirfd < 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = open_dir_at(bs->dirfd, "sha256", &bs->shafd)) < 0 ||
	    (rc = open_dir_at(bs->dirfd, "tmp", &bs->tmpfd)) < 0)
		goto fail;
	*out = bs;
	return 0;
fail:
	blob_store_close(bs);
	return rc;
}

void
blob_store_close(struct blob_store *bs)
{
	if (bs == NULL)
		return;
	if (bs->tmpfd >= 0)
		close(bs->tmpfd);
	if (bs->shafd >= 0)
		close(bs->shafd);
	if (bs->dirfd >= 0)
		close(bs->dirfd);
	free(bs->dir);
	free(bs);
}

int
blob_open_locked(struct blob_store *bs, const char *digest, bool ex)
{
	char name[BLOB_DIGEST_HEX + 8];
	struct stat st;
	int fd, rc;

	if (!blob_digest_valid(digest))
		return -EINVAL;
	rel_name(digest, name, sizeof(name));
	fd = openat(bs->shafd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTDIR ? -ENOENT : -errno;
	do
		rc = flock(fd, (ex ? LOCK_EX : LOCK_SH) | LOCK_NB);
	while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		/* Shared: a collector or a remover holds it to unlink it —
		 * gone, and nobody waits (the daemon opens readers on its
		 * event loop). */
		rc = errno != EWOULDBLOCK ? -errno : ex ? -EBUSY : -ENOENT;
		close(fd);
		return rc;
	}
	/* Unlinked by a collector between our open and our lock. */
	if (fstat(fd, &st) < 0 || st.st_nlink == 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

int
blob_unlink(struct blob_store *bs, const char *digest)
{
	char name[BLOB_DIGEST_HEX + 8];

	if (!blob_digest_valid(digest))
		return -EINVAL;
	rel_name(digest, name, sizeof(name));
	return unlinkat(bs->shafd, name, 0) < 0 ? -errno : 0;
}

int
blob_verify_fd(int fd, const char *digest)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[BLOB_DIGEST_HEX + 1];
	EVP_MD_CTX *ctx;
	unsigned int mdlen;
	struct stat st;
	void *map = NULL;

	/* Mapped, not read: one copy less of the whole blob (blobs are never
	 * truncated in place, so the mapping cannot fault). */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd,
			   0);
		if (map == MAP_FAILED)
			return -errno;
		madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
	}
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		abort();
	if (map != NULL)
		EVP_DigestUpdate(ctx, map, (size_t)st.st_size);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (map != NULL)
		munmap(map, (size_t)st.st_size);
	blob_hex(md, hex);
	return strcmp(hex, digest) == 0 ? 0 : -EBADMSG;
}

int
blob_reader_open(struct blob_store *bs, const char *digest,
		 struct blob_reader **out, int *fd, uint64_t *size)
{
	struct blob_reader *r;
	struct stat st;
	int bfd;

	bfd = blob_open_locked(bs, digest, false);
	if (bfd < 0)
		return bfd == -EINVAL ? -ENOENT : bfd;
	if (fstat(bfd, &st) < 0) {
		int rc = -errno;

		close(bfd);
		return rc;
	}
	r = xcalloc(1, sizeof(*r));
	r->fd = bfd;
	*out = r;
	*fd = bfd;
	*size = (uint64_t)st.st_size;
	return 0;
}

void
blob_reader_close(struct blob_reader *r)
{
	if (r == NULL)
		return;
	close(r->fd);   /* drops the shared lock */
	free(r);
}

int
blob_remove(struct blob_store *bs, const char *digest)
{
	int fd, rc;

	fd = blob_open_locked(bs, digest, true);
	if (fd < 0)
		return fd == -EINVAL ? -ENOENT : fd;
	rc = blob_unlink(bs, digest);
	close(fd);
	return rc;
}

/* Calls fn on each blob file of the store with its sub-directory fd. */
typedef int (*each_fn)(struct blob_store *bs, int subfd, const char *name,
		       void *arg);

static int
each_blob(struct blob_store *bs, each_fn fn, void *arg)
{
	char sub[3];
	struct dirent *de;
	DIR *d;
	int i, subfd, rc = 0;

	for (i = 0; i < 256 && rc == 0; i++) {
		snprintf(sub, sizeof(sub), "%02x", i);
		subfd = openat(bs->shafd, sub,
			       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (subfd < 0) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		d = fdopendir(subfd);
		if (d == NULL) {
			close(subfd);
			return -errno;
		}
		while (rc == 0 && (de = readdir(d)) != NULL) {
			if (!blob_digest_valid(de->d_name) ||
			    strncmp(de->d_name, sub, 2) != 0)
				continue;
			rc = fn(bs, dirfd(d), de->d_name, arg);
		}
		closedir(d);
	}
	return rc;
}

struct usage {
	uint64_t bytes, count;
};

static int
usage_one(struct blob_store *bs, int subfd, const char *name, void *arg)
{
	struct usage *u = arg;
	struct stat st;

	(void)bs;
	if (fstatat(subfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	u->bytes += (uint64_t)st.st_size;
	u->count++;
	return 0;
}

int
blob_usage(struct blob_store *bs, uint64_t *bytes, uint64_t *count)
{
	struct usage u = {0, 0};
	int rc;

	rc = each_blob(bs, usage_one, &u);
	if (bytes != NULL)
		*bytes = u.bytes;
	if (count != NULL)
		*count = u.count;
	return rc;
}

struct collect {
	bool (*referenced)(void *arg, const char *digest);
	void *arg;
	uint64_t bytes, count;
	time_t now;
};

static int
collect_one(struct blob_store *bs, int subfd, const char *name, void *arg)
{
	struct collect *c = arg;
	struct stat st;
	int fd;

	(void)bs;
	if (c->referenced(c->arg, name))
		return 0;
	fd = openat(subfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* Held by a reader or an unpacker: skipped, never waited for. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &st) < 0 ||
	    st.st_nlink == 0 || st.st_mtime > c->now - BLOB_GRACE_SEC) {
		close(fd);
		return 0;
	}
	if (unlinkat(subfd, name, 0) == 0) {
		c->bytes += (uint64_t)st.st_size;
		c->count++;
	}
	close(fd);
	return 0;
}

/* Temporary files of packs that died (a crash, a kill): older than the
 * grace and not locked by a packer still writing. */
static int
collect_tmp(struct blob_store *bs, time_t now)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, dfd;

	dfd = openat(bs->tmpfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return -errno;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		fd = openat(dfd, de->d_name,
			    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 &&
		    st.st_mtime <= now - BLOB_GRACE_SEC)
			unlinkat(dfd, de->d_name, 0);
		close(fd);
	}
	closedir(d);
	return 0;
}

int
blob_collect(struct blob_store *bs,
	     bool (*referenced)(void *arg, const char *digest), void *arg,
	     uint64_t *removed_bytes, uint64_t *removed_count)
{
	struct collect c;
	int rc, rc2;

	memset(&c, 0, sizeof(c));
	c.referenced = referenced;
	c.arg = arg;
	c.now = time(NULL);
	rc = each_blob(bs, collect_one, &c);
	rc2 = collect_tmp(bs, c.now);
	if (removed_bytes != NULL)
		*removed_bytes += c.bytes;
	if (removed_count != NULL)
		*removed_count += c.count;
	return rc < 0 ? rc : rc2;
}
