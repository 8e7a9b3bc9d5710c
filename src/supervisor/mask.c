/*
 * Secret masking: every occurrence of a secret's value in the job's output,
 * and of its common encodings, becomes "***" before the byte reaches the
 * log (and so the daemon, its database and every follower).
 *
 * The values come from the job's environment (sv_env_mask: data on --env-fd,
 * never our own environment), named by --mask NAME, so they never appear
 * on a command line; sv_mask_add() takes one value, however it was
 * obtained.  Each value becomes a set of
 * patterns: the value itself and, for values of SV_MASK_ENCODE_MIN bytes
 * or more, its reverse, its hex in lower and in upper case, and its base64
 * (standard and URL-safe alphabets) in each of the three alignments a
 * value can have inside a longer base64 stream.  Of an aligned encoding
 * only the characters made of the value's bits alone are a pattern: the
 * one or two at each end also carry bits of whatever surrounds the value,
 * so they differ from stream to stream.  Shorter values are masked
 * literally only: their encodings are short enough to turn up by chance
 * (a 4-byte value's base64 is 5 characters), and masking them would
 * mangle honest output.
 *
 * Output arrives in arbitrary pieces, so a pattern can be split across two
 * reads: bytes at the end of a piece that could still be the start of a
 * pattern are held back (at most the longest pattern minus one) until the
 * next piece decides them, or until the output ends.  Where patterns
 * overlap the longest match wins.  Patterns are bucketed by their first
 * byte, so a byte of output costs a look at the patterns that start with
 * it, not at all of them.
 *
 * What this is not: a wall against a job that wants to leak a value.  A
 * value printed a character at a time with other bytes between, split
 * across lines, URL-encoded, base64 wrapped in the middle of it, or in any
 * other encoding is not recognised (docs/internals/sandbox.md).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor.h"

#define MASK "***"

static const char b64_std[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
by_first_byte(const void *a, const void *b)
{
	const struct sv_mask_pat *x = a, *y = b;

	return (int)(unsigned char)x->s[0] - (int)(unsigned char)y->s[0];
}

/* Takes ownership of s; a pattern already there is not added twice. */
static void
add_pattern(struct sv_mask *m, char *s, size_t len)
{
	size_t i;

	for (i = 0; i < m->npats; i++)
		if (m->pats[i].len == len && memcmp(m->pats[i].s, s, len) == 0) {
			free(s);
			return;
		}
	m->pats = xrealloc(m->pats, (m->npats + 1) * sizeof(*m->pats));
	m->pats[m->npats].s = s;
	m->pats[m->npats].len = len;
	m->npats++;
	if (len > m->longest)
		m->longest = len;
}

/*
 * The base64 characters of v made of v's bits only, when v starts at byte
 * offset align (0, 1 or 2) of a 3-byte group: characters j of the stream
 * with 8 * align <= 6 * j and 6 * j + 6 <= 8 * (align + n).  Caller frees.
 */
static char *
base64_inner(const unsigned char *v, size_t n, unsigned align,
	     const char *alphabet, size_t *outlen)
{
	size_t first = (8 * align + 5) / 6, end = (8 * (align + n)) / 6, j, k;
	char *out = xmalloc(end - first + 1);
	unsigned bits;

	for (j = first; j < end; j++) {
		bits = 0;
		/* The 6 bits at stream bit 6j, from the byte(s) they span. */
		for (k = 6 * j; k < 6 * j + 6; k++) {
			unsigned char byte = v[k / 8 - align];

			bits = (bits << 1) | ((byte >> (7 - k % 8)) & 1u);
		}
		out[j - first] = alphabet[bits];
	}
	*outlen = end - first;
	return out;
}

static char *
hex(const unsigned char *v, size_t n, const char *digits)
{
	char *out = xmalloc(2 * n);
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[v[i] >> 4];
		out[2 * i + 1] = digits[v[i] & 15];
	}
	return out;
}

void
sv_mask_add(struct sv_mask *m, const char *value, size_t n)
{
	const unsigned char *v = (const unsigned char *)value;
	char *s;
	size_t i, len;
	unsigned a;

	if (n == 0 || m->count >= SV_MAX_MASKS)
		return;  /* empty would match everywhere */
	m->count++;
	s = xmalloc(n);
	memcpy(s, value, n);
	add_pattern(m, s, n);
	if (n >= SV_MASK_ENCODE_MIN) {
		s = xmalloc(n);
		for (i = 0; i < n; i++)
			s[i] = value[n - 1 - i];
		add_pattern(m, s, n);
		add_pattern(m, hex(v, n, "0123456789abcdef"), 2 * n);
		add_pattern(m, hex(v, n, "0123456789ABCDEF"), 2 * n);
		for (a = 0; a < 3; a++) {
			s = base64_inner(v, n, a, b64_std, &len);
			add_pattern(m, s, len);
			s = base64_inner(v, n, a, b64_url, &len);
			add_pattern(m, s, len);
		}
	}
	qsort(m->pats, m->npats, sizeof(*m->pats), by_first_byte);
	memset(m->start, 0, sizeof(m->start));
	for (i = 0; i < m->npats; i++)
		m->start[(unsigned char)m->pats[i].s[0] + 1] = i + 1;
	/* start[c] .. start[c + 1]: the patterns whose first byte is c. */
	for (i = 1; i < PW_ARRAY_LEN(m->start); i++)
		if (m->start[i] < m->start[i - 1])
			m->start[i] = m->start[i - 1];
}

void
sv_mask_free(struct sv_mask *m)
{
	size_t i;

	for (i = 0; i < m->npats; i++)
		free(m->pats[i].s);
	free(m->pats);
	free(m->held.p);
	memset(m, 0, sizeof(*m));
}

/*
 * At p: the length of the longest pattern matching whole (0 if none), and
 * whether some pattern could start here but the bytes run out first.
 */
static size_t
match_at(const struct sv_mask *m, const char *p, size_t left, bool *partial)
{
	unsigned char c = (unsigned char)p[0];
	size_t k, best = 0;

	*partial = false;
	for (k = m->start[c]; k < m->start[c + 1]; k++) {
		size_t l = m->pats[k].len;

		if (left >= l) {
			if (l > best && memcmp(p, m->pats[k].s, l) == 0)
				best = l;
		} else if (memcmp(p, m->pats[k].s, left) == 0) {
			*partial = true;
		}
	}
	return best;
}

/*
 * final: no more bytes will come, so nothing is held back.  The bytes
 * held (at most the longest pattern minus one) are the caller's: the job's
 * log has its own in m, each service its own.
 */
void
sv_mask_stream(const struct sv_mask *m, struct sv_mask_held *h,
	       const char *data, size_t len, bool final,
	       void (*emit)(void *arg, const char *p, size_t n), void *arg)
{
	char *buf;
	size_t n, i = 0, from = 0, l;
	bool partial;

	if (m->npats == 0 || (len == 0 && !final)) {
		if (len > 0)
			emit(arg, data, len);
		return;
	}
	n = h->n + len;
	buf = xmalloc(n + 1);
	if (h->n > 0)
		memcpy(buf, h->p, h->n);
	if (len > 0)
		memcpy(buf + h->n, data, len);
	while (i < n) {
		l = match_at(m, buf + i, n - i, &partial);
		if (l > 0) {
			emit(arg, buf + from, i - from);
			emit(arg, MASK, strlen(MASK));
			i += l;
			from = i;
			continue;
		}
		if (partial && !final)
			break;  /* the next piece decides */
		i++;
	}
	emit(arg, buf + from, i - from);
	free(h->p);
	h->n = n - i;
	h->p = h->n > 0 ? xmalloc(h->n) : NULL;
	if (h->n > 0)
		memcpy(h->p, buf + i, h->n);
	free(buf);
}

static void
log_emit(void *arg, const char *p, size_t n)
{
	if (n > 0)
		sv_log_write(arg, p, n);
}

void
sv_mask_feed(struct supervisor *sv, const char *data, size_t len)
{
	sv_mask_stream(&sv->mask, &sv->mask.held, data, len, false, log_emit,
		       sv);
}

void
sv_mask_flush(struct supervisor *sv)
{
	if (sv->mask.held.n > 0)
		sv_mask_stream(&sv->mask, &sv->mask.held, "", 0, true,
			       log_emit, sv);
}
