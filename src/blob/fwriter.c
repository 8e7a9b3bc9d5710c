/*
 * A restore's file writes on a thread of their own: the thread reading
 * the archive (decompressing, parsing, creating each file O_EXCL beneath
 * the root) hands each file's bytes over in 1 MiB buffers, then its
 * closing (size, owner, mode, mtime), and goes on with the next entry
 * while this thread writes.  Without it a restore was decompression and
 * writing one after the other, and slower than `tar -I zstd -xf`, whose
 * decompression runs in a process of its own (docs/internals/blob.md).
 *
 * Nothing here resolves a path: the fds come opened by unpack.c, whose
 * rules are the safety rules.  The first error is kept (with the entry's
 * name) and stops the writing; every fd handed over is closed.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipewright/util.h"
#include "blob-int.h"

#define FW_SLOTS 8
#define FW_BUF (1024 * 1024)

struct slot {
	int fd;
	bool close;                /* else data */
	bool has_meta;             /* close: apply meta first */
	struct blob_fw_meta meta;
	char *buf;                 /* FW_BUF, owned */
	size_t len;
	off_t off;
	char name[PATH_MAX];
};

struct blob_fwriter {
	struct slot slots[FW_SLOTS];
	size_t head, tail, count;
	int err;                   /* the first -errno */
	char errname[PATH_MAX];
	bool done;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
};

static int
do_data(struct slot *s)
{
	const char *p = s->buf;
	size_t len = s->len;
	off_t off = s->off;
	ssize_t w;

	while (len > 0) {
		w = pwrite(s->fd, p, len, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
		off += w;
	}
	return 0;
}

static int
do_meta(struct slot *s)
{
	const struct blob_fw_meta *m = &s->meta;

	if (m->size >= 0 && m->size != m->end && ftruncate(s->fd, m->size) < 0)
		return -errno;
	if (m->chown && fchown(s->fd, m->uid, m->gid) < 0)
		return -errno;
	if (fchmod(s->fd, m->mode) < 0 || futimens(s->fd, m->ts) < 0)
		return -errno;
	return 0;
}

static void *
run(void *arg)
{
	struct blob_fwriter *fw = arg;
	struct slot *s;
	int rc, err;

	for (;;) {
		pthread_mutex_lock(&fw->mu);
		while (fw->count == 0 && !fw->done)
			pthread_cond_wait(&fw->cv, &fw->mu);
		if (fw->count == 0) {
			pthread_mutex_unlock(&fw->mu);
			return NULL;
		}
		s = &fw->slots[fw->head];
		err = fw->err;
		pthread_mutex_unlock(&fw->mu);
		rc = 0;
		if (!s->close) {
			if (err == 0)
				rc = do_data(s);
		} else {
			if (err == 0 && s->has_meta)
				rc = do_meta(s);
			close(s->fd);
		}
		pthread_mutex_lock(&fw->mu);
		if (rc < 0 && fw->err == 0) {
			fw->err = rc;
			snprintf(fw->errname, sizeof(fw->errname), "%s", s->name);
		}
		fw->head = (fw->head + 1) % FW_SLOTS;
		fw->count--;
		pthread_cond_broadcast(&fw->cv);
		pthread_mutex_unlock(&fw->mu);
	}
}

int
blob_fw_start(struct blob_fwriter **out)
{
	struct blob_fwriter *fw = xcalloc(1, sizeof(*fw));
	size_t i;
	int rc;

	for (i = 0; i < FW_SLOTS; i++)
		fw->slots[i].buf = xmalloc(FW_BUF);
	pthread_mutex_init(&fw->mu, NULL);
	pthread_cond_init(&fw->cv, NULL);
	rc = pthread_create(&fw->thread, NULL, run, fw);
	if (rc != 0) {
		for (i = 0; i < FW_SLOTS; i++)
			free(fw->slots[i].buf);
		pthread_mutex_destroy(&fw->mu);
		pthread_cond_destroy(&fw->cv);
		free(fw);
		return -rc;
	}
	*out = fw;
	return 0;
}

/* The free slot at tail, once there is one. */
static struct slot *
take(struct blob_fwriter *fw)
{
	pthread_mutex_lock(&fw->mu);
	while (fw->count == FW_SLOTS)
		pthread_cond_wait(&fw->cv, &fw->mu);
	pthread_mutex_unlock(&fw->mu);
	return &fw->slots[fw->tail];
}

static int
give(struct blob_fwriter *fw)
{
	int rc;

	pthread_mutex_lock(&fw->mu);
	fw->tail = (fw->tail + 1) % FW_SLOTS;
	fw->count++;
	rc = fw->err;
	pthread_cond_broadcast(&fw->cv);
	pthread_mutex_unlock(&fw->mu);
	return rc;
}

int
blob_fw_data(struct blob_fwriter *fw, int fd, const void *p, size_t n,
	     off_t off, const char *name)
{
	const char *c = p;
	struct slot *s;
	size_t k;
	int rc = 0;

	while (n > 0 && rc == 0) {
		k = n < FW_BUF ? n : FW_BUF;
		s = take(fw);
		s->fd = fd;
		s->close = false;
		memcpy(s->buf, c, k);
		s->len = k;
		s->off = off;
		snprintf(s->name, sizeof(s->name), "%s", name);
		rc = give(fw);
		c += k;
		n -= k;
		off += (off_t)k;
	}
	return rc;
}

int
blob_fw_close(struct blob_fwriter *fw, int fd, const struct blob_fw_meta *m,
	      const char *name)
{
	struct slot *s = take(fw);

	s->fd = fd;
	s->close = true;
	s->has_meta = m != NULL;
	if (m != NULL)
		s->meta = *m;
	snprintf(s->name, sizeof(s->name), "%s", name);
	return give(fw);
}

int
blob_fw_finish(struct blob_fwriter *fw, char *errname, size_t len)
{
	size_t i;
	int rc;

	pthread_mutex_lock(&fw->mu);
	fw->done = true;
	pthread_cond_broadcast(&fw->cv);
	pthread_mutex_unlock(&fw->mu);
	pthread_join(fw->thread, NULL);
	rc = fw->err;
	if (rc < 0 && errname != NULL)
		snprintf(errname, len, "%s", fw->errname);
	for (i = 0; i < FW_SLOTS; i++)
		free(fw->slots[i].buf);
	pthread_mutex_destroy(&fw->mu);
	pthread_cond_destroy(&fw->cv);
	free(fw);
	return rc;
}
