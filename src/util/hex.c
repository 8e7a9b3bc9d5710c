/*
 * Hex digits, as percent-escapes (%XX) and signatures (64 digits of an
 * HMAC) carry them.  Strict: anything that is not a hex digit is refused,
 * never guessed at.
 */
#include "pipewright/util.h"

int
pw_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
pw_hex_decode(const char *s, size_t slen, unsigned char *out, size_t n)
{
	size_t i;
	int hi, lo;

	if (slen != 2 * n)
		return false;
	for (i = 0; i < n; i++) {
		hi = pw_hex_digit((unsigned char)s[2 * i]);
		lo = pw_hex_digit((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}
