/*
 * Reading blobs for the API's downloads, through the blob module: a
 * reader holds the blob's shared lock until the response is sent, so
 * retention never collects it meanwhile.  Opening is an open, a
 * non-blocking flock and an fstat, done on the loop; extracting one file
 * of an archive (digest verified first) runs in a thread-pool worker,
 * into an unlinked temporary file beside the blobs that the API streams
 * and closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon-int.h"
#include "pipewright/blob.h"

int
daemon_blob_open(struct daemon *d, const char *digest, int *fd,
		 uint64_t *size, void **handle)
{
	struct blob_reader *r;
	int rc;

	if (d->blobs == NULL)
		return -ENOENT;
	rc = blob_reader_open(d->blobs, digest, &r, fd, size);
	if (rc < 0)
		return rc == -EINVAL ? -ENOENT : rc;
	*handle = r;
	return 0;
}

void
daemon_blob_close(struct daemon *d, void *handle)
{
	(void)d;
	blob_reader_close(handle);
}

struct extract {
	uv_work_t w;
	struct blob_store *bs;
	char *dir, *digest, *path;
	api_extract_cb cb;
	void *arg;
	int rc, fd;
	uint64_t size;
};

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

static void
extract_work(uv_work_t *w)
{
	struct extract *x = container_of(w, struct extract, w);
	struct stat st;

	x->fd = temp_file(x->dir);
	if (x->fd < 0) {
		x->rc = x->fd;
		return;
	}
	x->rc = blob_extract_one(x->bs, x->digest, x->path, x->fd);
	if (x->rc == 0 && (fstat(x->fd, &st) < 0 ||
			   lseek(x->fd, 0, SEEK_SET) < 0))
		x->rc = -errno;
	if (x->rc == 0)
		x->size = (uint64_t)st.st_size;
	if (x->rc < 0) {
		close(x->fd);
		x->fd = -1;
	}
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

	x->bs = d->blobs;
	x->dir = xasprintf("%s/blobs/tmp", config_data_dir(daemon_config(d)));
	x->digest = xstrdup(digest);
	x->path = xstrdup(path);
	x->cb = cb;
	x->arg = arg;
	x->fd = -1;
	rc = d->blobs == NULL ? -ENOENT :
	     uv_queue_work(&d->loop, &x->w, extract_work, extract_done);
	if (rc < 0) {
		x->rc = rc;
		extract_done(&x->w, rc);
	}
}
