/*
 * Cache keys: made from their parts, checked against one charset, and
 * looked up in a fixed order.
 *
 * The charset is RFC 3986's unreserved characters, so a key is a URL path
 * segment as it is (no escaping in `DELETE .../caches/{key}`, in links or
 * in the CLI), starting with a letter or digit so that it is never "." or
 * "..", nor read as an option (`pipewright cache rm -x`).  A key that
 * breaks it is an error naming the character, not a key quietly changed:
 * two keys that differ must stay two keys.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipewright/reuse.h"
#include "pipewright/util.h"

#define KEY_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
		  "0123456789-._~"

static bool
alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

int
reuse_key_check(const char *what, const char *s, char *err, size_t errlen)
{
	size_t len = strlen(s), ok = strspn(s, KEY_CHARS);
	unsigned char c;

	if (len == 0) {
		snprintf(err, errlen, "%s is empty", what);
		return -EINVAL;
	}
	if (len > REUSE_KEY_MAX) {
		snprintf(err, errlen, "%s '%.40s...' is %zu bytes long, at most "
			 "%d", what, s, len, REUSE_KEY_MAX);
		return -EINVAL;
	}
	if (ok < len) {
		c = (unsigned char)s[ok];
		if (c >= 0x20 && c < 0x7f)
			snprintf(err, errlen, "%s '%s': '%c' (at %zu) is not "
				 "allowed; a key is letters, digits, '-', '.', "
				 "'_' and '~'", what, s, c, ok + 1);
		else
			snprintf(err, errlen, "%s: byte 0x%02x (at %zu) is not "
				 "allowed; a key is letters, digits, '-', '.', "
				 "'_' and '~'", what, c, ok + 1);
		return -EINVAL;
	}
	if (!alnum(s[0])) {
		snprintf(err, errlen, "%s '%s' starts with '%c'; a key starts "
			 "with a letter or digit", what, s, s[0]);
		return -EINVAL;
	}
	return 0;
}

int
reuse_cache_key(const char *prefix, const char *files_digest,
		const char *literal, char **out, char *err, size_t errlen)
{
	struct buf b;
	int rc;

	if (prefix != NULL &&
	    (rc = reuse_key_check("cache key prefix", prefix, err, errlen)) < 0)
		return rc;
	if (files_digest != NULL &&
	    (files_digest[0] == '\0' ||
	     files_digest[strspn(files_digest, "0123456789abcdef")] != '\0')) {
		snprintf(err, errlen, "cache key: the files' digest '%.80s' is "
			 "not lower-case hex", files_digest);
		return -EINVAL;
	}
	if (literal != NULL &&
	    (rc = reuse_key_check("cache key", literal, err, errlen)) < 0)
		return rc;
	buf_init(&b, 0);
	if (prefix != NULL)
		buf_adds(&b, prefix);
	if (files_digest != NULL)
		buf_addf(&b, "%s%s", b.len > 0 ? "-" : "", files_digest);
	if (literal != NULL)
		buf_addf(&b, "%s%s", b.len > 0 ? "-" : "", literal);
	if (b.len == 0)
		buf_adds(&b, "default");
	rc = reuse_key_check("cache key", b.data, err, errlen);
	if (rc < 0) {
		buf_free(&b);
		return rc;
	}
	*out = buf_steal(&b);
	return 0;
}

size_t
reuse_lookup_order(const struct reuse_scopes *sc, const char *key,
		   const char *const *restore_keys, struct reuse_lookup **out)
{
	size_t nkeys = 0, n = 0, i, k, m;
	struct reuse_lookup *l;

	while (restore_keys != NULL && restore_keys[nkeys] != NULL)
		nkeys++;
	l = xcalloc(sc->nread * (1 + nkeys) + 1, sizeof(*l));
	for (i = 0; i < sc->nread; i++) {
		l[n++] = (struct reuse_lookup){sc->read[i], key, false};
		for (k = 0; k < nkeys; k++) {
			for (m = 0; m < k; m++)
				if (strcmp(restore_keys[m], restore_keys[k]) == 0)
					break;
			if (m < k)
				continue;
			l[n++] = (struct reuse_lookup){sc->read[i],
						       restore_keys[k], true};
		}
	}
	*out = l;
	return n;
}
