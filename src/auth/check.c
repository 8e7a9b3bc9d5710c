/*
 * Scopes and the check of a request's Authorization header.
 *
 * The header is "Bearer TOKEN": the scheme case-insensitive (RFC 9110),
 * then one or more spaces, then the token in RFC 6750's b64token
 * characters and nothing after it but spaces.  Anything else is treated
 * as no token at all (401), so that a client sees one answer for every
 * way of not being authenticated.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "pipewright/auth.h"
#include "pipewright/store.h"

static const char *const scope_names[] = {
	[AUTH_SCOPE_READ] = "read",
	[AUTH_SCOPE_OPERATE] = "operate",
	[AUTH_SCOPE_ADMIN] = "admin",
};

int
auth_scope_parse(const char *s, enum auth_scope *out)
{
	size_t i;

	for (i = AUTH_SCOPE_READ; i <= AUTH_SCOPE_ADMIN; i++) {
		if (strcmp(s, scope_names[i]) == 0) {
			*out = (enum auth_scope)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *
auth_scope_name(enum auth_scope s)
{
	if (s < AUTH_SCOPE_READ || s > AUTH_SCOPE_ADMIN)
		return "?";
	return scope_names[s];
}

static bool
b64token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~' || c == '+' || c == '/';
}

/* The token of a "Bearer TOKEN" header (copied into buf), or NULL. */
static const char *
bearer_token(const char *h, char *buf, size_t size)
{
	size_t n = 0;

	if (h == NULL || strncasecmp(h, "Bearer", 6) != 0 || h[6] != ' ')
		return NULL;
	h += 6;
	while (*h == ' ')
		h++;
	while (b64token_char(h[n]))
		n++;
	while (n > 0 && h[n] == '=')
		n++;
	if (n == 0 || n >= size)
		return NULL;
	memcpy(buf, h, n);
	buf[n] = '\0';
	for (h += n; *h == ' '; h++)
		;
	return *h == '\0' ? buf : NULL;
}

int
auth_check(struct store *s, const char *authorization, enum auth_scope need,
	   char **token_name)
{
	char buf[AUTH_MAX_TOKEN], hex[AUTH_HASH_HEX];
	char *name = NULL, *scope = NULL;
	enum auth_scope have;
	const char *token;
	int rc;

	if (token_name != NULL)
		*token_name = NULL;
	token = bearer_token(authorization, buf, sizeof(buf));
	if (token == NULL)
		return -EACCES;
	rc = auth_hash(token, hex);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (rc < 0)
		return rc;
	rc = store_token_find(s, hex, &name, &scope);
	if (rc == -ENOENT)
		return -EACCES;
	if (rc < 0)
		return rc;
	if (auth_scope_parse(scope, &have) < 0)
		rc = -EACCES;           /* a scope this version does not know */
	else if (have < need)
		rc = -EPERM;
	free(scope);
	if (rc == -EACCES || token_name == NULL)
		free(name);
	else
		*token_name = name;
	return rc;
}
