/*
 * Typed access to webhook payloads.  A payload is hostile input: every
 * field is looked up by its full path and checked for its type before it
 * is used, and the errors name the path ("missing 'pull_request.head.sha'
 * in pull_request payload") so that whoever set the webhook up can tell
 * what their forge did not send.  Commit ids and ref names are checked
 * here too, before anything could hand them to git.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "forge-int.h"

int
fp_fail(struct fparse *p, const char *fmt, ...)
{
	va_list ap;

	if (p->err == NULL) {
		va_start(ap, fmt);
		p->err = xvasprintf(fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

const cJSON *
fj_get(const cJSON *root, const char *path)
{
	const cJSON *n = root;
	const char *s = path, *dot;
	char key[64];
	size_t len;

	while (n != NULL) {
		if (!cJSON_IsObject(n))
			return NULL;
		dot = strchr(s, '.');
		len = dot != NULL ? (size_t)(dot - s) : strlen(s);
		if (len >= sizeof(key))
			return NULL;
		memcpy(key, s, len);
		key[len] = '\0';
		n = cJSON_GetObjectItemCaseSensitive(n, key);
		if (dot == NULL)
			return n;
		s = dot + 1;
	}
	return NULL;
}

const char *
fj_str(const cJSON *root, const char *path)
{
	const cJSON *n = fj_get(root, path);

	return cJSON_IsString(n) ? n->valuestring : NULL;
}

static int
need(struct fparse *p, const cJSON *root, const char *path,
     const cJSON **out)
{
	const cJSON *n = fj_get(root, path);

	if (n == NULL || cJSON_IsNull(n))
		return fp_fail(p, "missing '%s' in %s", path, p->what);
	*out = n;
	return 0;
}

int
fj_need_str(struct fparse *p, const cJSON *root, const char *path,
	    char **out)
{
	const cJSON *n = NULL;
	int rc;

	if ((rc = need(p, root, path, &n)) < 0)
		return rc;
	if (!cJSON_IsString(n) || n->valuestring == NULL)
		return fp_fail(p, "'%s' in %s is not a string", path, p->what);
	if (out != NULL) {
		free(*out);
		*out = xstrdup(n->valuestring);
	}
	return 0;
}

int
fj_need_branch(struct fparse *p, const cJSON *root, const char *path,
	       char **out)
{
	int rc;

	if ((rc = fj_need_str(p, root, path, out)) < 0)
		return rc;
	if (!fref_valid(*out))
		return fp_fail(p, "'%s' in %s is not a valid branch name",
			       path, p->what);
	return 0;
}

int
fj_need_obj(struct fparse *p, const cJSON *root, const char *path,
	    const cJSON **out)
{
	const cJSON *n = NULL;
	int rc;

	if ((rc = need(p, root, path, &n)) < 0)
		return rc;
	if (!cJSON_IsObject(n))
		return fp_fail(p, "'%s' in %s is not an object", path, p->what);
	if (out != NULL)
		*out = n;
	return 0;
}

/* JSON numbers are doubles: only whole ones in [1, 2^53) are ids. */
static bool
as_uint(const cJSON *n, uint64_t *out)
{
	double d;

	if (!cJSON_IsNumber(n))
		return false;
	d = n->valuedouble;
	if (!(d >= 1 && d < 9007199254740992.0) || d != (double)(uint64_t)d)
		return false;
	*out = (uint64_t)d;
	return true;
}

int
fj_need_uint(struct fparse *p, const cJSON *root, const char *path,
	     uint64_t *out)
{
	const cJSON *n = NULL;
	int rc;

	if ((rc = need(p, root, path, &n)) < 0)
		return rc;
	if (!as_uint(n, out))
		return fp_fail(p, "'%s' in %s is not a positive integer", path,
			       p->what);
	return 0;
}

bool
fj_opt_uint(const cJSON *root, const char *path, uint64_t *out)
{
	return as_uint(fj_get(root, path), out);
}

void
fj_opt_str(const cJSON *root, const char *path, char **out)
{
	const char *s = fj_str(root, path);

	if (s != NULL) {
		free(*out);
		*out = xstrdup(s);
	}
}

bool
fsha_valid(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (!isxdigit((unsigned char)s[n]))
			return false;
	return n == 40 || n == 64;
}

bool
fsha_zero(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s != '0')
			return false;
	return true;
}

int
fsha_take(struct fparse *p, const char *path, const char *s)
{
	char *c;

	if (!fsha_valid(s))
		return fp_fail(p, "'%s' in %s is not a commit id", path,
			       p->what);
	free(p->ev->sha);
	p->ev->sha = xstrdup(s);
	for (c = p->ev->sha; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	return 0;
}

void
fsha_before(struct forge_event *ev, const char *s)
{
	char *c;

	if (s == NULL || !fsha_valid(s))
		return;
	free(ev->before);
	ev->before = xstrdup(s);
	for (c = ev->before; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
}

bool
fref_valid(const char *s)
{
	size_t n = strlen(s), i;
	const char *comp = s;

	if (n == 0 || n > 255 || s[0] == '-' || s[0] == '/' ||
	    s[n - 1] == '/' || s[n - 1] == '.')
		return false;
	for (i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '/' || c == '\0') {
			size_t clen = (size_t)(s + i - comp);

			if (clen == 0 || comp[0] == '.' ||
			    (clen >= 5 && memcmp(s + i - 5, ".lock", 5) == 0))
				return false;
			comp = s + i + 1;
			continue;
		}
		if (c < 0x20 || c == 0x7f || c == ' ' ||
		    strchr("~^:?*[\\", c) != NULL)
			return false;
		if (c == '.' && s[i + 1] == '.')
			return false;
		if (c == '@' && s[i + 1] == '{')
			return false;
	}
	return strcmp(s, "@") != 0;
}

int
fref_push(struct fparse *p, const char *path, const char *ref)
{
	struct forge_event *ev = p->ev;

	if (!fref_valid(ref))
		return fp_fail(p, "'%s' in %s is not a valid ref", path,
			       p->what);
	free(ev->ref);
	ev->ref = xstrdup(ref);
	if (strncmp(ref, "refs/heads/", 11) == 0 && ref[11] != '\0')
		ev->branch = xstrdup(ref + 11);
	else if (strncmp(ref, "refs/tags/", 10) == 0 && ref[10] != '\0')
		ev->tag = xstrdup(ref + 10);
	else
		return 1;
	return 0;
}

const char *
fj_commit_message(const cJSON *root, const char *sha, bool last)
{
	const cJSON *commits = fj_get(root, "commits"), *c, *found = NULL;
	const char *id;

	if (!cJSON_IsArray(commits))
		return NULL;
	cJSON_ArrayForEach(c, commits) {
		id = fj_str(c, "id");
		if (id != NULL && sha != NULL && strcasecmp(id, sha) == 0) {
			found = c;
			break;
		}
	}
	if (found == NULL && last) {
		cJSON_ArrayForEach(c, commits)
			found = c;
	}
	return found != NULL ? fj_str(found, "message") : NULL;
}
