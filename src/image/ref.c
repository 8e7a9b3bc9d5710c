/*
 * Image references as a pipeline writes them, checked before any process
 * sees them: skopeo would take `dir:`, `containers-storage:` or a relative
 * path as well, and those name things on the daemon's machine that a
 * pushed commit must not choose.  Only three forms are taken: a registry
 * reference (bare or docker://), an `oci:` layout and a `docker-archive:`
 * tarball, both at an absolute path.  Pure: no I/O.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pipewright/image.h"

#define DOCKER_PREFIX "docker://"

static bool
has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* A path component of a repository: lowercase letters and digits, with
 * single '.', '_' or '-' (and "__") between them. */
static bool
component_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || (!islower((unsigned char)s[0]) &&
	    !isdigit((unsigned char)s[0])))
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (islower(c) || isdigit(c))
			continue;
		if (c != '.' && c != '_' && c != '-')
			return false;
		if (i + 1 == n)
			return false;
	}
	return true;
}

static bool
host_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '.' && c != '-' && c != ':' &&
		    c != '[' && c != ']')
			return false;
	}
	return true;
}

static bool
tag_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 128 || s[0] == '.' || s[0] == '-')
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '_' && c != '.' && c != '-')
			return false;
	}
	return true;
}

static bool
digest_ok(const char *s)
{
	size_t i;

	if (!has_prefix(s, "sha256:") || strlen(s) != 7 + 64)
		return false;
	for (i = 7; s[i] != '\0'; i++)
		if (!isdigit((unsigned char)s[i]) &&
		    (s[i] < 'a' || s[i] > 'f'))
			return false;
	return true;
}

/* name[:tag][@sha256:hex], with the registry as its first component when
 * that looks like a host (a '.', a ':' or "localhost"). */
static int
registry_parse(const char *s, struct image_ref *out, char **err)
{
	const char *at = strchr(s, '@'), *end, *slash, *p, *colon;
	char *name;
	size_t hostlen = 0;

	if (at != NULL && !digest_ok(at + 1)) {
		*err = xasprintf("image '%s': the digest after '@' must be "
				 "sha256: and 64 hex digits", s);
		return -EINVAL;
	}
	end = at != NULL ? at : s + strlen(s);
	name = xstrndup(s, (size_t)(end - s));
	slash = strchr(name, '/');
	if (slash != NULL) {
		size_t n = (size_t)(slash - name);

		if (memchr(name, '.', n) != NULL ||
		    memchr(name, ':', n) != NULL ||
		    (n == 9 && strncmp(name, "localhost", 9) == 0))
			hostlen = n;
	}
	if (hostlen > 0 && !host_ok(name, hostlen))
		goto bad;
	/* The tag is after the last ':' past the last '/'. */
	p = name + (hostlen > 0 ? hostlen + 1 : 0);
	colon = strrchr(p, ':');
	if (colon != NULL && strchr(colon, '/') == NULL) {
		if (!tag_ok(colon + 1, strlen(colon + 1)))
			goto bad;
	} else {
		colon = NULL;
	}
	while (*p != '\0' && p != colon) {
		const char *e = p + strcspn(p, "/");
		size_t n = (size_t)(e - p);

		if (colon != NULL && colon > p && colon < e)
			n = (size_t)(colon - p);
		if (!component_ok(p, n))
			goto bad;
		p += n;
		if (*p == '/')
			p++;
		else if (p != colon && *p != '\0')
			goto bad;
	}
	if (p == name + (hostlen > 0 ? hostlen + 1 : 0))
		goto bad;
	out->transport = IMAGE_REGISTRY;
	out->source = xasprintf(DOCKER_PREFIX "%s", s);
	out->registry = hostlen > 0 ? xstrndup(name, hostlen) :
				      xstrdup("docker.io");
	free(name);
	return 0;
bad:
	free(name);
	*err = xasprintf("image '%s' is not a valid reference; expected "
			 "[HOST[:PORT]/]NAME[:TAG][@sha256:DIGEST] (lowercase "
			 "names), oci:/ABSOLUTE/PATH[:TAG] or "
			 "docker-archive:/ABSOLUTE/PATH", s);
	return -EINVAL;
}

static int
local_parse(const char *s, const char *prefix, enum image_transport t,
	    struct image_ref *out, char **err)
{
	const char *path = s + strlen(prefix);

	if (path[0] != '/') {
		*err = xasprintf("image '%s': the path after '%s' must be "
				 "absolute", s, prefix);
		return -EINVAL;
	}
	if (strstr(path, "/../") != NULL || strstr(path, "/./") != NULL) {
		*err = xasprintf("image '%s': the path must not contain '.' or"
				 " '..' components", s);
		return -EINVAL;
	}
	out->transport = t;
	out->source = xstrdup(s);
	out->registry = NULL;
	return 0;
}

int
image_ref_parse(const char *s, struct image_ref *out, char **err)
{
	size_t i, n = strlen(s);

	*out = (struct image_ref){0};
	*err = NULL;
	if (n == 0) {
		*err = xstrdup("empty image reference");
		return -EINVAL;
	}
	if (n > IMAGE_REF_MAX) {
		*err = xasprintf("image reference of %zu bytes; at most %d", n,
				 IMAGE_REF_MAX);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f) {
			*err = xasprintf("image '%s' contains a space or a "
					 "control character", s);
			return -EINVAL;
		}
	}
	if (has_prefix(s, "oci:"))
		return local_parse(s, "oci:", IMAGE_OCI, out, err);
	if (has_prefix(s, "docker-archive:"))
		return local_parse(s, "docker-archive:", IMAGE_DOCKER_ARCHIVE,
				   out, err);
	if (has_prefix(s, DOCKER_PREFIX))
		return registry_parse(s + strlen(DOCKER_PREFIX), out, err);
	/* Any other transport skopeo knows is refused by name. */
	for (i = 0; i < n && (isalnum((unsigned char)s[i]) || s[i] == '-');
	     i++)
		;
	if (i < n && s[i] == ':' && strchr(s, '/') != NULL &&
	    (s[i + 1] == '/' || memchr(s, '.', i) == NULL) &&
	    strcmp(s + i, ":") != 0 && strncmp(s, "localhost", 9) != 0 &&
	    !isdigit((unsigned char)s[i + 1])) {
		*err = xasprintf("image '%s': unknown transport '%.*s:';"
				 " expected a registry reference, oci: or "
				 "docker-archive:", s, (int)i, s);
		return -EINVAL;
	}
	return registry_parse(s, out, err);
}

void
image_ref_free(struct image_ref *r)
{
	free(r->source);
	free(r->registry);
	*r = (struct image_ref){0};
}
