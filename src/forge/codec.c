/*
 * The encodings signatures and bodies come in: hex (GitHub, Gitea and
 * generic signatures), base64 (GitLab's signed webhooks and their whsec_
 * keys) and application/x-www-form-urlencoded (GitHub and Gitea can post
 * the JSON as a form's `payload` field).  Strict decoders: anything that
 * is not exactly the encoding is refused, never guessed at.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "forge-int.h"

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long
fb64_decode(const char *s, size_t slen, unsigned char *out, size_t cap)
{
	size_t i, o = 0, pad = 0;
	unsigned v;
	int k, d;

	if (slen == 0 || slen % 4 != 0)
		return -1;
	if (s[slen - 1] == '=')
		pad = s[slen - 2] == '=' ? 2 : 1;
	if ((slen / 4) * 3 - pad > cap)
		return -1;
	for (i = 0; i < slen; i += 4) {
		v = 0;
		for (k = 0; k < 4; k++) {
			bool last = i + 4 == slen;

			if (last && s[i + k] == '=' && k >= 4 - (int)pad) {
				d = 0;
			} else if ((d = b64val((unsigned char)s[i + k])) < 0) {
				return -1;
			}
			v = v << 6 | (unsigned)d;
		}
		out[o++] = (unsigned char)(v >> 16);
		if (i + 4 < slen || pad < 2)
			out[o++] = (unsigned char)(v >> 8);
		if (i + 4 < slen || pad < 1)
			out[o++] = (unsigned char)v;
	}
	return (long)o;
}

/* Decodes s[0..n) into a new string (caller frees); -EINVAL on a bad
 * escape. */
static int
form_decode(const char *s, size_t n, char **out, size_t *outlen)
{
	char *d = xmalloc(n + 1);
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (s[i] == '+') {
			d[o++] = ' ';
		} else if (s[i] == '%') {
			if (i + 2 >= n) {
				free(d);
				return -EINVAL;
			}
			hi = pw_hex_digit((unsigned char)s[i + 1]);
			lo = pw_hex_digit((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0) {
				free(d);
				return -EINVAL;
			}
			d[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			d[o++] = s[i];
		}
	}
	d[o] = '\0';
	*out = d;
	*outlen = o;
	return 0;
}

int
fform_field(const char *body, size_t len, const char *name, char **out,
	    size_t *outlen)
{
	size_t i = 0, j, eq;
	char *key;
	size_t klen;
	int rc;

	while (i <= len) {
		for (j = i; j < len && body[j] != '&'; j++)
			;
		for (eq = i; eq < j && body[eq] != '='; eq++)
			;
		if (eq > i) {
			if ((rc = form_decode(body + i, eq - i, &key,
					      &klen)) < 0)
				return rc;
			rc = klen == strlen(name) &&
			     memcmp(key, name, klen) == 0;
			free(key);
			if (rc)
				return form_decode(body + eq + (eq < j),
						   j - eq - (eq < j), out,
						   outlen);
		}
		i = j + 1;
	}
	return -ENOENT;
}

char *
fprintable(const char *s, size_t max)
{
	size_t n = strnlen(s, max), i;
	char *out = xmalloc(n + 4);

	for (i = 0; i < n; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	strcpy(out + n, s[n] != '\0' ? "..." : "");
	return out;
}
