/*
 * `$NAME` and `${NAME}` in the few pipeline values that take variables
 * (cache keys and paths, artifact paths): one reading of the syntax for
 * the check at validation time (pw_expand_check) and for the expansion
 * when a job starts (pw_expand), so that what `validate` accepts is what
 * runs.
 *
 * Deliberately small: no `${NAME:-default}`, no commands, no nesting.  A
 * `$` followed by anything but a name, `{` or `$` is an error rather than
 * a literal `$`, so that a typo never silently becomes part of a cache
 * key; `$$` writes one `$`.  Names are pw_env_name_valid()'s.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pipewright/util.h"

static bool
name_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool
name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

/*
 * The reference at in[i] (a '$'): *skip bytes long, the name at
 * in[*name] of *nlen bytes (0 for "$$").  -EINVAL with err filled.
 */
static int
reference(const char *in, size_t i, size_t *skip, size_t *name, size_t *nlen,
	  char *err, size_t errlen)
{
	const char *p = in + i + 1;
	size_t n;

	if (*p == '$') {
		*skip = 2;
		*nlen = 0;
		return 0;
	}
	if (name_start(*p)) {
		for (n = 0; name_char(p[n]); n++)
			;
		*skip = 1 + n;
		*name = i + 1;
		*nlen = n;
		return 0;
	}
	if (*p != '{') {
		snprintf(err, errlen, "'$' at character %zu is not followed by"
			 " a name or '{'; write '$$' for a '$'", i + 1);
		return -EINVAL;
	}
	p++;
	n = strcspn(p, "}");
	if (p[n] == '\0') {
		snprintf(err, errlen, "'${' at character %zu is not closed"
			 " by '}'", i + 1);
		return -EINVAL;
	}
	if (n == 0) {
		snprintf(err, errlen, "empty '${}' at character %zu", i + 1);
		return -EINVAL;
	}
	if (!pw_env_name_valid(p, n)) {
		snprintf(err, errlen, "'${%.*s}' at character %zu is not a"
			 " variable name (letters, digits and '_'; no"
			 " defaults or other forms)", (int)(n < 64 ? n : 64),
			 p, i + 1);
		return -EINVAL;
	}
	*skip = n + 3;
	*name = i + 2;
	*nlen = n;
	return 0;
}

/* The value of the name (len bytes) in env, the last one set; or NULL. */
static const char *
lookup(const char *const *env, const char *name, size_t len)
{
	const char *found = NULL;
	size_t i;

	for (i = 0; env != NULL && env[i] != NULL; i++)
		if (strncmp(env[i], name, len) == 0 && env[i][len] == '=')
			found = env[i] + len + 1;
	return found;
}

int
pw_expand_check(const char *in, size_t *at, char *err, size_t errlen)
{
	size_t i = 0, skip, name, nlen;

	while (in[i] != '\0') {
		if (in[i] != '$') {
			i++;
			continue;
		}
		if (reference(in, i, &skip, &name, &nlen, err, errlen) < 0) {
			if (at != NULL)
				*at = i;
			return -EINVAL;
		}
		i += skip;
	}
	return 0;
}

int
pw_expand(const char *in, const char *const *env, char **out, char *err,
	  size_t errlen)
{
	struct buf b;
	size_t i = 0, skip, name, nlen;
	const char *v;
	int rc;

	*out = NULL;
	buf_init(&b, 0);
	while (in[i] != '\0') {
		size_t plain = strcspn(in + i, "$");

		buf_add(&b, in + i, plain);
		i += plain;
		if (in[i] == '\0')
			break;
		rc = reference(in, i, &skip, &name, &nlen, err, errlen);
		if (rc < 0)
			goto fail;
		if (nlen == 0) {
			buf_adds(&b, "$");
		} else if ((v = lookup(env, in + name, nlen)) != NULL) {
			buf_adds(&b, v);
		} else {
			snprintf(err, errlen, "unknown variable $%.*s",
				 (int)(nlen < 64 ? nlen : 64), in + name);
			rc = -ENOENT;
			goto fail;
		}
		i += skip;
	}
	*out = buf_steal(&b);
	return 0;
fail:
	buf_free(&b);
	return rc;
}
