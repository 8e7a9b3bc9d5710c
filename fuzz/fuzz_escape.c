/*
 * libFuzzer target for the command line's terminal escaping (term_escape,
 * src/cli/escape.c).  The first byte's bit 0 turns colours (TERM_ESC_SGR)
 * on; the next two bytes pick two cut points that split the rest into
 * three chunks fed as a stream, the held-back bytes passed again in front
 * of the next chunk.  The stream must show exactly what the whole text
 * at once shows, hold back less than one SGR sequence, and the output must
 * be harmless to a terminal: valid UTF-8, no C1 character, no control
 * byte but newline, tab and the CR of a CRLF, and ESC only as the start
 * of a colour sequence ESC [ 0-9;: m when colours are on.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/cli/cli.h"
#include "pipewright/util.h"

/* The length of the valid UTF-8 sequence at s, 0 if there is none. */
static size_t
utf8_seq(const unsigned char *s, size_t len)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++)
		if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xbf))
			return 0;
	return n;
}

static void
check_output(const unsigned char *o, size_t len, bool sgr)
{
	size_t i = 0, n;

	while (i < len) {
		if (o[i] == 0x1b) {
			/* Only ESC [ 0-9;: m, and only with colours. */
			if (!sgr || i + 2 >= len || o[i + 1] != '[')
				abort();
			for (i += 2; i < len && ((o[i] >= '0' && o[i] <= '9') ||
						 o[i] == ';' || o[i] == ':');
			     i++)
				;
			if (i == len || o[i] != 'm')
				abort();
			i++;
		} else if (o[i] == '\r') {
			if (i + 1 == len || o[i + 1] != '\n')
				abort();
			i++;
		} else if (o[i] < 0x20) {
			if (o[i] != '\n' && o[i] != '\t')
				abort();
			i++;
		} else if (o[i] == 0x7f) {
			abort();
		} else if (o[i] < 0x80) {
			i++;
		} else {
			n = utf8_seq(o + i, len - i);
			if (n == 0)
				abort();
			if (o[i] == 0xc2 && o[i + 1] < 0xa0)
				abort(); /* C1 */
			i += n;
		}
	}
}

/* The text fed in three chunks; returns the output (caller frees). */
static char *
stream(const char *s, size_t len, size_t cut1, size_t cut2, unsigned flags,
       size_t *outlen)
{
	const size_t cuts[3] = {cut1, cut2, len};
	struct buf out, held;
	size_t from = 0, used, k;

	buf_init(&out, 0);
	buf_init(&held, 0);
	for (k = 0; k < 3; k++) {
		unsigned f = flags | (k == 2 ? TERM_ESC_FINAL : 0);

		if (buf_append(&held, s + from, cuts[k] - from) < 0)
			abort();
		from = cuts[k];
		used = term_escape(&out, held.data ? held.data : "", held.len,
				   f);
		if (used > held.len || (k == 2 && used != held.len))
			abort();
		if (held.len - used >= 64)
			abort(); /* more held back than any sequence */
		memmove(held.data, held.data + used, held.len - used);
		held.len -= used;
	}
	buf_free(&held);
	*outlen = out.len;
	return buf_steal(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 3;
	size_t len, cut1, cut2, t, wlen, slen;
	unsigned flags;
	struct buf whole;
	char *w, *st;

	if (size < 3)
		return 0;
	flags = (data[0] & 1) ? TERM_ESC_SGR : 0;
	len = size - 3;
	cut1 = data[1] % (len + 1);
	cut2 = data[2] % (len + 1);
	if (cut1 > cut2)
		t = cut1, cut1 = cut2, cut2 = t;

	buf_init(&whole, 0);
	if (term_escape(&whole, s, len, flags | TERM_ESC_FINAL) != len)
		abort();
	wlen = whole.len;
	w = buf_steal(&whole);
	check_output((const unsigned char *)w, wlen, flags & TERM_ESC_SGR);

	st = stream(s, len, cut1, cut2, flags, &slen);
	if (slen != wlen || (wlen > 0 && memcmp(st, w, wlen) != 0))
		abort(); /* the stream shows what the whole text shows */
	free(st);
	free(w);
	return 0;
}
