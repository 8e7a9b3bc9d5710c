/*
 * Reading blobs for the API's downloads: the smallest thing that serves
 * <data_dir>/blobs/sha256/<first two hex>/<digest> read-only.  The blob
 * module (content-addressed store, locks against collection) takes its
 * place; until then nothing collects blobs, so an open file needs no
 * lock.  Opening is an open and an fstat, done on the loop; extracting
 * one file of an archive runs libarchive in a thread-pool worker, into
 * an unlinked temporary file the API streams and closes.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon-int.h"

/* One file of an artifact is at most this big (a corrupt size field). */
#define EXTRACT_MAX (64ULL << 30)

struct blob_handle {
	int fd;
};

static bool
digest_ok(const char *d)
{
	size_t i;

	for (i = 0; d[i] != '\0'; i++)
		if (!((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f')))
			return false;
	return i == 64;
}

/* The blob's fd (O_RDONLY, never through a symlink) and size. */
static int
open_blob(const char *data_dir, const char *digest, int *fd, uint64_t *size)
{
	struct stat st;
	char *path;
	int f;

	if (!digest_ok(digest))
		return -EINVAL;
	path = xasprintf("%s/blobs/sha256/%.2s/%s", data_dir, digest, digest);
	f = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	free(path);
	if (f < 0)
		return errno == ELOOP ? -ENOENT : -errno;
	if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(f);
		return -ENOENT;
	}
	*fd = f;
	*size = (uint64_t)st.st_size;
	return 0;
}

int
daemon_blob_open(struct daemon *d, const char *digest, int *fd,
		 uint64_t *size, void **handle)
{
	struct blob_handle *h;
	int rc;

	rc = open_blob(config_data_dir(daemon_config(d)), digest, fd, size);
	if (rc < 0)
		return rc;
	h = xcalloc(1, sizeof(*h));
	h->fd = *fd;
	*handle = h;
	return 0;
}

void
daemon_blob_close(struct daemon *d, void *handle)
{
	struct blob_handle *h = handle;

	(void)d;
	close(h->fd);
	free(h);
}

struct extract {
	uv_work_t w;
	char *dir, *digest, *path;
	api_extract_cb cb;
	void *arg;
	int rc, fd;
	uint64_t size;
};

/*
 * Whether an entry is `path`: its name as the packer wrote it, without a
 * leading "./" nor a directory's trailing '/'.
 */
static bool
entry_is(struct archive_entry *e, const char *path)
{
	const char *n = archive_entry_pathname(e);
	size_t len;

	if (n == NULL)
		return false;
	while (n[0] == '.' && n[1] == '/')
		n += 2;
	len = strlen(n);
	while (len > 0 && n[len - 1] == '/')
		len--;
	return len == strlen(path) && memcmp(n, path, len) == 0;
}

/* The unlinked file the one entry goes to, beside the blobs. */
static int
temp_file(const char *dir)
{
	char *tmpl;
	int fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
		return fd >= 0 ? fd : -errno;
	tmpl = xasprintf("%s/.extract-XXXXXX", dir);
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd >= 0)
		unlink(tmpl);
	free(tmpl);
	return fd >= 0 ? fd : -errno;
}

static int
copy_entry(struct archive *ar, int out, uint64_t *size)
{
	char buf[64 * 1024];
	la_ssize_t n;
	ssize_t w;
	size_t off;

	*size = 0;
	while ((n = archive_read_data(ar, buf, sizeof(buf))) > 0) {
		if ((*size += (uint64_t)n) > EXTRACT_MAX)
			return -EFBIG;
		for (off = 0; off < (size_t)n; off += (size_t)w) {
			w = write(out, buf + off, (size_t)n - off);
			if (w < 0)
				return -errno;
		}
	}
	return n < 0 ? -EBADMSG : 0;
}

static void
extract_work(uv_work_t *w)
{
	struct extract *x = container_of(w, struct extract, w);
	struct archive_entry *e;
	struct archive *ar;
	uint64_t bsize;
	char *blobs;
	int in, rc;

	x->fd = -1;
	if ((rc = open_blob(x->dir, x->digest, &in, &bsize)) < 0) {
		x->rc = rc;
		return;
	}
	ar = archive_read_new();
	archive_read_support_filter_zstd(ar);
	archive_read_support_format_tar(ar);
	rc = -ENOENT;
	if (archive_read_open_fd(ar, in, 64 * 1024) != ARCHIVE_OK) {
		rc = -EBADMSG;
		goto out;
	}
	for (;;) {
		int r = archive_read_next_header(ar, &e);

		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			rc = -EBADMSG;
			break;
		}
		if (!entry_is(e, x->path))
			continue;
		if (archive_entry_filetype(e) != AE_IFREG) {
			rc = -EISDIR;
			break;
		}
		blobs = xasprintf("%s/blobs", x->dir);
		x->fd = temp_file(blobs);
		free(blobs);
		if (x->fd < 0) {
			rc = x->fd;
			break;
		}
		rc = copy_entry(ar, x->fd, &x->size);
		if (rc < 0) {
			close(x->fd);
			x->fd = -1;
		}
		break;
	}
out:
	archive_read_free(ar);
	close(in);
	x->rc = rc;
}

static void
extract_done(uv_work_t *w, int status)
{
	struct extract *x = container_of(w, struct extract, w);

	if (status < 0 && x->fd >= 0) {
		close(x->fd);
		x->fd = -1;
	}
	x->cb(status < 0 ? status : x->rc, x->fd, x->size, x->arg);
	free(x->dir);
	free(x->digest);
	free(x->path);
	free(x);
}

void
daemon_blob_extract(struct daemon *d, const char *digest, const char *path,
		    api_extract_cb cb, void *arg)
{
	struct extract *x = xcalloc(1, sizeof(*x));
	int rc;

	x->dir = xstrdup(config_data_dir(daemon_config(d)));
	x->digest = xstrdup(digest);
	x->path = xstrdup(path);
	x->cb = cb;
	x->arg = arg;
	x->fd = -1;
	rc = uv_queue_work(&d->loop, &x->w, extract_work, extract_done);
	if (rc < 0) {
		x->w.data = NULL;
		x->rc = rc;
		extract_done(&x->w, rc);
	}
}
