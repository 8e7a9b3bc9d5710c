/*
 * libFuzzer target for exec's side of the supervisor protocol
 * (exec_parser_feed, src/exec/frames.c): greeting, LOG, SIZE (version 2)
 * and END frames.  The first byte picks a cut point; the rest is fed in
 * two pieces and, again, byte by byte.  Both feeds must reach the same
 * state with the same log bytes and the same notes: frames split anywhere
 * are the same frames.  Log bytes handed on can never be more than the
 * input, a note only comes after a version-2 greeting, and a finished
 * END holds at most EXEC_MAX_STATUS bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/exec/exec-int.h"

struct seen {
	struct buf log;
	uint64_t notes, last;
};

static void
on_log(const char *data, size_t len, void *arg)
{
	struct seen *s = arg;

	if (buf_append(&s->log, data, len) < 0)
		abort();
}

static void
on_size(uint64_t size, void *arg)
{
	struct seen *s = arg;

	s->notes++;
	s->last = size;
}

static enum exec_parse_state
feed(const uint8_t *data, size_t len, size_t cut, bool bytewise,
     struct seen *s, struct exec_parser *p)
{
	size_t i;

	exec_parser_init(p);
	p->size_cb = on_size;
	p->size_arg = s;
	buf_init(&s->log, 0);
	if (bytewise) {
		for (i = 0; i < len; i++)
			exec_parser_feed(p, (const char *)data + i, 1, on_log, s);
	} else {
		exec_parser_feed(p, (const char *)data, cut, on_log, s);
		exec_parser_feed(p, (const char *)data + cut, len - cut, on_log,
				 s);
	}
	if (s->notes > 0 && p->version < 2)
		abort();
	if (p->state == EXEC_PARSE_DONE && p->end.len > EXEC_MAX_STATUS)
		abort();
	return p->state;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen a = {0}, b = {0};
	struct exec_parser pa, pb;
	enum exec_parse_state sa, sb;
	size_t cut;

	if (size < 1)
		return 0;
	cut = data[0] % size;
	data++;
	size--;
	if (cut > size)
		cut = size;
	sa = feed(data, size, cut, false, &a, &pa);
	sb = feed(data, size, 0, true, &b, &pb);
	if (sa != sb || a.log.len != b.log.len || a.log.len > size ||
	    (a.log.len > 0 && memcmp(a.log.data, b.log.data, a.log.len) != 0) ||
	    a.notes != b.notes || a.last != b.last)
		abort();
	if (sa == EXEC_PARSE_DONE &&
	    (pa.end.len != pb.end.len ||
	     (pa.end.len > 0 && memcmp(pa.end.data, pb.end.data, pa.end.len))))
		abort();
	exec_parser_free(&pa);
	exec_parser_free(&pb);
	buf_free(&a.log);
	buf_free(&b.log);
	return 0;
}
