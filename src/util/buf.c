/* A growable byte buffer with a hard limit, like curl's dynbuf. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipewright/util.h"

void
buf_init(struct buf *b, size_t limit)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->limit = limit;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b, b->limit);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

int
buf_append(struct buf *b, const void *data, size_t len)
{
	if (b->limit != 0 && (len > b->limit || b->len > b->limit - len))
		return -E2BIG;
	b->data = xgrow(b->data, &b->cap, b->len + len + 1, 1);
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int rc;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	rc = buf_append(b, s, strlen(s));
	free(s);
	return rc;
}

void
buf_add(struct buf *b, const void *data, size_t len)
{
	if (buf_append(b, data, len) < 0)
		abort();
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	buf_add(b, s, strlen(s));
	free(s);
}

char *
buf_steal(struct buf *b)
{
	char *s = b->data;

	if (s == NULL)
		s = xstrdup("");
	buf_init(b, b->limit);
	return s;
}
