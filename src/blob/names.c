/*
 * Names inside an archive: cleaning an entry's name (refusing what climbs
 * out) and a set of names, which tells the unpacker what this archive
 * made (hard links may point at nothing else) and the packer which
 * entries are symlinks (nothing is packed beneath one).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "pipewright/util.h"
#include "blob-int.h"

int
blob_clean_name(const char *name, char *out, size_t outlen)
{
	const char *p = name, *e;
	size_t n = 0, len;

	if (name == NULL || *name == '\0')
		return -EINVAL;
	if (*name == '/')
		return -EXDEV;
	while (*p != '\0') {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		e = strchr(p, '/');
		len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return -EXDEV;
		if (!(len == 1 && p[0] == '.')) {
			if (n + len + 2 > outlen)
				return -EINVAL;
			if (n > 0)
				out[n++] = '/';
			memcpy(out + n, p, len);
			n += len;
		}
		p += len;
	}
	if (n >= outlen)
		return -EINVAL;
	out[n] = '\0';
	return 0;
}

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

void
blob_nameset_init(struct blob_nameset *s)
{
	memset(s, 0, sizeof(*s));
}

void
blob_nameset_free(struct blob_nameset *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		free(s->slots[i]);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

static size_t
find(char **slots, size_t cap, const char *name)
{
	size_t i = (size_t)hash(name) & (cap - 1);

	while (slots[i] != NULL && strcmp(slots[i], name) != 0)
		i = (i + 1) & (cap - 1);
	return i;
}

bool
blob_nameset_has(const struct blob_nameset *s, const char *name)
{
	if (s->cap == 0)
		return false;
	return s->slots[find(s->slots, s->cap, name)] != NULL;
}

bool
blob_nameset_add(struct blob_nameset *s, const char *name)
{
	size_t i, ncap;
	char **nslots;

	if ((s->n + 1) * 2 > s->cap) {
		ncap = s->cap == 0 ? 64 : s->cap * 2;
		nslots = xcalloc(ncap, sizeof(*nslots));
		for (i = 0; i < s->cap; i++)
			if (s->slots[i] != NULL)
				nslots[find(nslots, ncap, s->slots[i])] =
					s->slots[i];
		free(s->slots);
		s->slots = nslots;
		s->cap = ncap;
	}
	i = find(s->slots, s->cap, name);
	if (s->slots[i] != NULL)
		return false;
	s->slots[i] = xstrdup(name);
	s->n++;
	return true;
}
