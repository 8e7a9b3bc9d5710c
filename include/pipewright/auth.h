/*
 * auth: API tokens, their scopes, and the constant-time comparisons and
 * MACs that checking secrets needs.
 *
 * A token is "pw_" and 32 random bytes in base64url, shown once when it
 * is made; the store keeps only its SHA-256 (hex), its name and scope.
 * auth_check() hashes what a request presents and looks the hash up in
 * the store.  The lookup is an equality test in SQL, not constant-time,
 * and need not be: what it compares is the hash of the attacker's own
 * guess, so timing tells at most how many leading hex digits of some
 * stored hash it shares, which brings no preimage closer.  Secrets that
 * are compared directly (webhook signatures) go through auth_equal().
 *
 * Scopes are ordered: read < operate < admin; a token of a scope may do
 * everything the scopes below it may.
 */
#ifndef PIPEWRIGHT_AUTH_H
#define PIPEWRIGHT_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "pipewright/util.h"

struct store;

enum auth_scope {
	AUTH_SCOPE_READ = 1,     /* GET endpoints */
	AUTH_SCOPE_OPERATE = 2,  /* trigger, cancel, rerun, approve */
	AUTH_SCOPE_ADMIN = 3,
};

#define AUTH_TOKEN_PREFIX "pw_"
#define AUTH_TOKEN_BYTES 32                  /* of randomness */
#define AUTH_TOKEN_LEN (3 + 43)              /* "pw_" + base64url(32) */
#define AUTH_HASH_HEX 65                     /* 64 hex digits and a NUL */
#define AUTH_MAX_TOKEN 256                   /* longer presented tokens fail */

/* "read", "operate", "admin" → 0 and *out; else -EINVAL. */
int auth_scope_parse(const char *s, enum auth_scope *out) PW_WUR;
/* The scope's name, or "?" for a value that is none. */
const char *auth_scope_name(enum auth_scope s);

/* A new random token into out (AUTH_TOKEN_LEN + 1 bytes); 0 or -EIO. */
int auth_token_new(char *out) PW_WUR;

/* SHA-256 of the token's bytes as lower-case hex; 0 or -EIO. */
int auth_hash(const char *token, char out_hex[AUTH_HASH_HEX]) PW_WUR;

/*
 * Checks an Authorization header ("Bearer TOKEN"; NULL if the request
 * had none) against the store's tokens.  0 if the token exists and its
 * scope is at least need; -EACCES (answer 401) if the header is missing,
 * malformed or names no token; -EPERM (403) if the scope is too small;
 * another negative error if the store failed (500).  On 0 and -EPERM
 * *token_name (if token_name is not NULL; caller frees) is the token's
 * name, for the audit trail and logs; otherwise it is NULL.
 */
int auth_check(struct store *s, const char *authorization,
	       enum auth_scope need, char **token_name) PW_WUR;

/*
 * True if the two byte strings are equal, in time that depends only on
 * their lengths (CRYPTO_memcmp), never on where they differ.
 */
bool auth_equal(const void *a, size_t alen, const void *b, size_t blen);

/* HMAC-SHA256 of data under key into out; 0 or -EIO. */
int auth_hmac_sha256(const void *key, size_t keylen, const void *data,
		     size_t len, unsigned char out[32]) PW_WUR;

#endif
