/*
 * Where a pack's archive bytes go: a thread of the pack's own hashes them
 * (SHA-256, the blob's name) and writes them to the temporary file, so
 * that the thread reading the workspace and feeding libarchive does not
 * also hash 650 MB and wait in write(2) for every chunk (measured in
 * docs/internals/blob.md).  Bytes are handed over in SINK_BUFS buffers of
 * SINK_BUF bytes, one copy; the first write error stops the writing and
 * is returned to the next add (or to the finish).
 */
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pipewright/util.h"
#include "blob-int.h"

static void *
writer(void *arg)
{
	struct blob_sink *s = arg;
	size_t i, len;
	int rc;

	for (;;) {
		pthread_mutex_lock(&s->mu);
		while (s->count == 0 && !s->done)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->count == 0) {
			pthread_mutex_unlock(&s->mu);
			return NULL;
		}
		i = s->head;
		len = s->len[i];
		rc = s->err;
		pthread_mutex_unlock(&s->mu);
		if (rc == 0) {
			rc = blob_write_all(s->fd, s->buf[i], len);
			if (rc == 0)
				EVP_DigestUpdate(s->md, s->buf[i], len);
		}
		pthread_mutex_lock(&s->mu);
		if (rc < 0 && s->err == 0)
			s->err = rc;
		s->head = (s->head + 1) % SINK_BUFS;
		s->count--;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
	}
}

int
blob_sink_start(struct blob_sink *s, int fd)
{
	size_t i;
	int rc;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->md = EVP_MD_CTX_new();
	if (s->md == NULL || EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1)
		abort();
	for (i = 0; i < SINK_BUFS; i++)
		s->buf[i] = xmalloc(SINK_BUF);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	rc = pthread_create(&s->thread, NULL, writer, s);
	if (rc != 0) {
		blob_sink_free(s);
		return -rc;
	}
	s->running = true;
	return 0;
}

/* Hands the buffer being filled to the writer; waits for a free one. */
static int
submit(struct blob_sink *s)
{
	int rc;

	pthread_mutex_lock(&s->mu);
	s->len[s->tail] = s->fill;
	s->tail = (s->tail + 1) % SINK_BUFS;
	s->count++;
	pthread_cond_broadcast(&s->cv);
	while (s->count == SINK_BUFS && s->err == 0)
		pthread_cond_wait(&s->cv, &s->mu);
	rc = s->err;
	pthread_mutex_unlock(&s->mu);
	s->fill = 0;
	return rc;
}

int
blob_sink_add(struct blob_sink *s, const void *p, size_t n)
{
	const char *c = p;
	size_t k;
	int rc;

	while (n > 0) {
		k = SINK_BUF - s->fill;
		if (k > n)
			k = n;
		memcpy(s->buf[s->tail] + s->fill, c, k);
		s->fill += k;
		s->bytes += k;
		c += k;
		n -= k;
		if (s->fill == SINK_BUF && (rc = submit(s)) < 0)
			return rc;
	}
	return 0;
}

int
blob_sink_finish(struct blob_sink *s, unsigned char *md)
{
	unsigned int mdlen;
	int rc = 0;

	if (s->fill > 0)
		rc = submit(s);
	pthread_mutex_lock(&s->mu);
	s->done = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	s->running = false;
	if (rc == 0)
		rc = s->err;
	if (rc == 0)
		EVP_DigestFinal_ex(s->md, md, &mdlen);
	return rc;
}

void
blob_sink_free(struct blob_sink *s)
{
	size_t i;

	if (s->md == NULL)
		return;   /* never started */
	if (s->running) {
		pthread_mutex_lock(&s->mu);
		s->done = true;
		s->err = s->err != 0 ? s->err : -ECANCELED;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
		s->running = false;
	}
	for (i = 0; i < SINK_BUFS; i++)
		free(s->buf[i]);
	EVP_MD_CTX_free(s->md);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	memset(s, 0, sizeof(*s));
}
