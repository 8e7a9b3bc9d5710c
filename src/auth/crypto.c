/*
 * The cryptography auth needs, through OpenSSL's libcrypto: random
 * tokens, SHA-256 digests, HMAC-SHA256 and constant-time comparison.
 * Nothing here keeps state; OpenSSL 3 initialises itself.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "pipewright/auth.h"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
auth_token_new(char *out)
{
	unsigned char raw[AUTH_TOKEN_BYTES + 1];
	size_t i, o = strlen(AUTH_TOKEN_PREFIX);

	if (RAND_bytes(raw, AUTH_TOKEN_BYTES) != 1)
		return -EIO;
	raw[AUTH_TOKEN_BYTES] = 0;
	memcpy(out, AUTH_TOKEN_PREFIX, o);
	/* base64url without padding: 6 bits a character, 43 for 32 bytes. */
	for (i = 0; i < AUTH_TOKEN_BYTES; i += 3) {
		unsigned v = (unsigned)raw[i] << 16;

		if (i + 1 < AUTH_TOKEN_BYTES)
			v |= (unsigned)raw[i + 1] << 8;
		if (i + 2 < AUTH_TOKEN_BYTES)
			v |= raw[i + 2];
		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		if (i + 1 < AUTH_TOKEN_BYTES)
			out[o++] = b64url[(v >> 6) & 63];
		if (i + 2 < AUTH_TOKEN_BYTES)
			out[o++] = b64url[v & 63];
	}
	out[o] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

static void
to_hex(const unsigned char *b, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * n] = '\0';
}

int
auth_hash(const char *token, char out_hex[AUTH_HASH_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (EVP_Digest(token, strlen(token), md, &len, EVP_sha256(), NULL) != 1
	    || len != 32)
		return -EIO;
	to_hex(md, len, out_hex);
	return 0;
}

bool
auth_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	/* Compare a with itself when the lengths differ: same work, false. */
	if (alen != blen) {
		(void)CRYPTO_memcmp(a, a, alen);
		return false;
	}
	return CRYPTO_memcmp(a, b, alen) == 0;
}

int
auth_hmac_sha256(const void *key, size_t keylen, const void *data,
		 size_t len, unsigned char out[32])
{
	unsigned int outlen = 0;
	static const unsigned char empty;

	if (keylen > (size_t)INT32_MAX)
		return -EINVAL;
	if (HMAC(EVP_sha256(), keylen > 0 ? key : &empty, (int)keylen,
		 len > 0 ? data : &empty, len, out, &outlen) == NULL ||
	    outlen != 32)
		return -EIO;
	return 0;
}
