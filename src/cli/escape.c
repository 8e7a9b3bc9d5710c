/*
 * Text from a job (its log) or from the daemon (names, refs, reasons) on
 * its way to the operator's terminal.  A terminal obeys control bytes: ESC
 * sequences move the cursor, clear the screen, set the window title or
 * write the clipboard (OSC 52), CR overwrites what a line said, and in
 * UTF-8 the C1 characters U+0080..U+009F (U+009B is CSI) act like ESC
 * sequences on some terminals.  So every control character but newline
 * and tab is shown as an escape instead: C0 and DEL as \xNN (the form
 * pipeline problems use), C1 as \uNNNN, and a byte that is not valid UTF-8
 * as \xNN (raw 0x9B is CSI to a terminal in 8-bit mode).  CR just before
 * LF is kept (a CRLF line end does nothing harmful).  With TERM_ESC_SGR the
 * colour sequences ESC [ digits ; : m pass, and nothing else does.
 *
 * The function is stateless over complete text; for a stream cut anywhere
 * it consumes only up to a sequence the next chunk may complete, which the
 * caller keeps and passes again in front of the next chunk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define SGR_MAX 64  /* a longer ESC [ ... is not a colour: escaped */

static void
put_hex(struct buf *out, unsigned char c)
{
	char e[5];

	snprintf(e, sizeof(e), "\\x%02x", c);
	buf_add(out, e, 4);
}

/*
 * The length of the valid UTF-8 sequence at s (2 to 4), 0 if the bytes
 * there are not one, or -1 if they may become one with more bytes.
 */
static int
utf8_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	int n, i;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* No overlong forms, surrogates or code points past U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	for (i = 1; i < n; i++) {
		if ((size_t)i >= len)
			return -1;
		if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xbf))
			return 0;
	}
	return n;
}

/* The length of an SGR sequence at s, 0 if none, -1 if it may become one. */
static int
sgr_len(const char *s, size_t len)
{
	size_t i;

	if (len < 2)
		return -1;
	if (s[1] != '[')
		return 0;
	for (i = 2; i < len && i < SGR_MAX; i++) {
		if (s[i] == 'm')
			return (int)i + 1;
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == ';' ||
		      s[i] == ':'))
			return 0;
	}
	return i < SGR_MAX ? -1 : 0;
}

size_t
term_escape(struct buf *out, const char *s, size_t len, unsigned flags)
{
	const unsigned char *u = (const unsigned char *)s;
	bool final = (flags & TERM_ESC_FINAL) != 0;
	size_t i = 0, run;
	char e[8];
	int n;

	while (i < len) {
		/* Printable ASCII, newline and tab: as they are, in one go. */
		for (run = i; run < len && ((u[run] >= 0x20 && u[run] < 0x7f) ||
					    u[run] == '\n' || u[run] == '\t');
		     run++)
			;
		buf_add(out, s + i, run - i);
		i = run;
		if (i == len)
			break;
		if (u[i] == '\r' && i + 1 == len && !final)
			return i;
		if (u[i] == '\r' && i + 1 < len && u[i + 1] == '\n') {
			buf_add(out, "\r\n", 2);
			i += 2;
			continue;
		}
		if (u[i] == 0x1b && (flags & TERM_ESC_SGR)) {
			n = sgr_len(s + i, len - i);
			if (n < 0 && !final)
				return i;
			if (n > 0) {
				buf_add(out, s + i, (size_t)n);
				i += (size_t)n;
				continue;
			}
		}
		if (u[i] < 0x80) {
			put_hex(out, u[i]);  /* C0 or DEL */
			i++;
			continue;
		}
		n = utf8_len(u + i, len - i);
		if (n < 0 && !final)
			return i;
		if (n <= 0) {
			put_hex(out, u[i]);  /* not UTF-8 */
			i++;
		} else if (n == 2 && u[i] == 0xc2 && u[i + 1] < 0xa0) {
			snprintf(e, sizeof(e), "\\u%04x", u[i + 1]);
			buf_add(out, e, 6);      /* C1 */
			i += 2;
		} else {
			buf_add(out, s + i, (size_t)n);
			i += (size_t)n;
		}
	}
	return len;
}

char *
term_escape_str(const char *s)
{
	struct buf b;

	if (s == NULL)
		return NULL;
	buf_init(&b, 0);
	(void)term_escape(&b, s, strlen(s), TERM_ESC_FINAL);
	return buf_steal(&b);
}
