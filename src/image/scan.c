/*
 * The look at every layer before umoci writes anything.  umoci 0.4.7,
 * unpacking as root, keeps `../` entries and links that climb out of the
 * root and makes device nodes on the host's disk, so what a layer may
 * hold is decided here, over all layers in order, as umoci will apply
 * them:
 *  - a name that is absolute or has a `..` component: refused;
 *  - an entry below a path an earlier entry made a symbolic link (a
 *    write through a link, the way out of a root): refused;
 *  - a relative link whose target climbs above the root: refused; an
 *    absolute target is kept, as it names a path of the image's own root
 *    once a job runs in it (nothing on the host side follows it: the root
 *    is only ever entered by a pivot);
 *  - a hard link to a name no earlier entry made, or that is absolute or
 *    climbs: refused;
 *  - block and character devices: refused (a FIFO is harmless, kept).
 * Whiteouts remove a name from what is known, as they remove the file.
 * Blocks (reads every layer): worker threads only.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image-int.h"

#define SCAN_MAX_ENTRIES 4000000
#define KIND_GONE 0
#define KIND_FILE 1
#define KIND_LINK 2

/* Names seen so far and whether each is a symbolic link. */
struct names {
	char **keys;
	unsigned char *kind;
	size_t cap, used;
	uint64_t bytes;         /* the keys' sizes, NULs included */
};

static uint64_t
hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static size_t
slot(const struct names *t, const char *s, size_t n)
{
	size_t i = (size_t)hash(s, n) & (t->cap - 1);

	while (t->keys[i] != NULL &&
	       (strncmp(t->keys[i], s, n) != 0 || t->keys[i][n] != '\0'))
		i = (i + 1) & (t->cap - 1);
	return i;
}

static void
names_grow(struct names *t)
{
	struct names n = {0};
	size_t i, j;

	n.cap = t->cap == 0 ? 1024 : t->cap * 2;
	n.keys = xcalloc(n.cap, sizeof(char *));
	n.kind = xcalloc(n.cap, 1);
	for (i = 0; i < t->cap; i++) {
		if (t->keys[i] == NULL)
			continue;
		j = slot(&n, t->keys[i], strlen(t->keys[i]));
		n.keys[j] = t->keys[i];
		n.kind[j] = t->kind[i];
	}
	n.used = t->used;
	free(t->keys);
	free(t->kind);
	*t = n;
}

static int
names_get(const struct names *t, const char *s, size_t n)
{
	size_t i;

	if (t->cap == 0)
		return KIND_GONE;
	i = slot(t, s, n);
	return t->keys[i] == NULL ? KIND_GONE : t->kind[i];
}

static void
names_set(struct names *t, const char *s, int kind)
{
	size_t i, n = strlen(s);

	if ((t->used + 1) * 2 > t->cap)
		names_grow(t);
	i = slot(t, s, n);
	if (t->keys[i] == NULL) {
		t->keys[i] = xstrdup(s);
		t->used++;
		t->bytes += n + 1;
	}
	t->kind[i] = (unsigned char)kind;
}

static void
names_free(struct names *t)
{
	size_t i;

	for (i = 0; i < t->cap; i++)
		free(t->keys[i]);
	free(t->keys);
	free(t->kind);
}

/*
 * `name` without "./", doubled and trailing slashes, into out (its
 * size).  -EINVAL if absolute, -ELOOP if a component is "..".
 */
static int
normalise(const char *name, char *out, size_t size)
{
	const char *p = name;
	size_t o = 0;

	if (*p == '/')
		return -EINVAL;
	while (*p != '\0') {
		const char *e = p + strcspn(p, "/");
		size_t n = (size_t)(e - p);

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -ELOOP;
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (o + n + 2 > size)
				return -ENAMETOOLONG;
			if (o > 0)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p = *e == '/' ? e + 1 : e;
	}
	out[o] = '\0';
	return 0;
}

/* The first proper prefix of `name` that is a link, or 0. */
static size_t
through_link(const struct names *t, const char *name)
{
	const char *p;

	for (p = strchr(name, '/'); p != NULL; p = strchr(p + 1, '/'))
		if (names_get(t, name, (size_t)(p - name)) == KIND_LINK)
			return (size_t)(p - name);
	return 0;
}

/* Whether a relative target, from the link's directory, climbs out. */
static bool
target_climbs(const char *name, const char *target)
{
	long depth = 0;
	const char *p;

	for (p = strchr(name, '/'); p != NULL; p = strchr(p + 1, '/'))
		depth++;
	for (p = target; *p != '\0';) {
		const char *e = p + strcspn(p, "/");
		size_t n = (size_t)(e - p);

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return true;
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			depth++;
		}
		p = *e == '/' ? e + 1 : e;
	}
	return false;
}

struct scan {
	struct names names;
	uint64_t entries;
	uint64_t max_name_bytes;
	char *err;              /* the first problem, owned */
};

static int
refuse(struct scan *s, const struct image_layer *l, const char *entry,
       const char *fmt, const char *detail)
{
	char why[512];

	snprintf(why, sizeof(why), fmt, detail);
	s->err = xasprintf("layer %zu of %zu (sha256:%.12s): entry '%s': %s",
			   l->index + 1, l->count, l->hex, entry, why);
	return -EPERM;
}

static void
whiteout(struct scan *s, const char *name)
{
	const char *base = strrchr(name, '/');
	char *victim;

	base = base != NULL ? base + 1 : name;
	if (strncmp(base, ".wh.", 4) != 0 || strcmp(base, ".wh..wh..opq") == 0)
		return;
	victim = xasprintf("%.*s%s", (int)(base - name), name, base + 4);
	if (names_get(&s->names, victim, strlen(victim)) != KIND_GONE)
		names_set(&s->names, victim, KIND_GONE);
	free(victim);
}

static int
entry_check(struct scan *s, const struct image_layer *l,
	    struct archive_entry *ae)
{
	const char *raw = archive_entry_pathname(ae);
	const char *link;
	char name[4096], target[4096];
	mode_t type = archive_entry_filetype(ae);
	size_t at;
	int rc;

	if (raw == NULL)
		return refuse(s, l, "?", "%s", "an entry without a name");
	if (++s->entries > SCAN_MAX_ENTRIES)
		return refuse(s, l, raw, "more than %s entries", "4000000");
	rc = normalise(raw, name, sizeof(name));
	if (rc == -EINVAL)
		return refuse(s, l, raw, "%s", "an absolute name");
	if (rc == -ELOOP)
		return refuse(s, l, raw, "%s", "a '..' in its name climbs out"
			      " of the root");
	if (rc < 0)
		return refuse(s, l, raw, "%s", "a name too long");
	if (name[0] == '\0')
		return 0;
	if ((at = through_link(&s->names, name)) > 0) {
		snprintf(target, sizeof(target), "%.*s", (int)at, name);
		return refuse(s, l, raw, "written through the symbolic link "
			      "'%s' of an earlier entry", target);
	}
	if ((link = archive_entry_hardlink(ae)) != NULL) {
		rc = normalise(link, target, sizeof(target));
		if (rc < 0)
			return refuse(s, l, raw, "a hard link to '%s', outside"
				      " the root", link);
		if (through_link(&s->names, target) > 0 ||
		    names_get(&s->names, target, strlen(target)) == KIND_GONE)
			return refuse(s, l, raw, "a hard link to '%s', which "
				      "no earlier entry made", link);
		names_set(&s->names, name, names_get(&s->names, target,
						     strlen(target)));
		return 0;
	}
	if (type == AE_IFCHR || type == AE_IFBLK)
		return refuse(s, l, raw, "%s", "a device node");
	if (strncmp(strrchr(name, '/') != NULL ? strrchr(name, '/') + 1 : name,
		    ".wh.", 4) == 0) {
		whiteout(s, name);
		return 0;
	}
	if (type == AE_IFLNK) {
		link = archive_entry_symlink(ae);
		if (link == NULL)
			return refuse(s, l, raw, "%s", "a link without a target");
		if (link[0] != '/' && target_climbs(name, link))
			return refuse(s, l, raw, "a symbolic link to '%s', "
				      "which climbs out of the root", link);
		names_set(&s->names, name, KIND_LINK);
		return 0;
	}
	names_set(&s->names, name, KIND_FILE);
	return 0;
}

static int
layer_scan(struct scan *s, const struct image_layer *l)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	int rc = 0, r;

	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, l->path, 1 << 16) != ARCHIVE_OK) {
		s->err = xasprintf("layer %zu of %zu (sha256:%.12s): cannot "
				   "read it: %s", l->index + 1, l->count, l->hex,
				   archive_error_string(a));
		rc = -EIO;
		goto out;
	}
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK ||
	       r == ARCHIVE_WARN) {
		rc = entry_check(s, l, ae);
		if (rc < 0)
			goto out;
		/*
		 * Names are kept to check later entries against: a layer of
		 * many long names, small when compressed, must not make the
		 * daemon hold gigabytes of them.
		 */
		if (s->names.bytes > s->max_name_bytes) {
			char cap[32];

			snprintf(cap, sizeof(cap), "%llu",
				 (unsigned long long)s->max_name_bytes);
			rc = refuse(s, l, archive_entry_pathname(ae),
				    "the image's names exceed %s bytes in all", cap);
			goto out;
		}
		if (archive_read_data_skip(a) != ARCHIVE_OK)
			break;
	}
	if (r != ARCHIVE_EOF) {
		s->err = xasprintf("layer %zu of %zu (sha256:%.12s): not a "
				   "readable tar archive: %s", l->index + 1,
				   l->count, l->hex, archive_error_string(a));
		rc = -EIO;
	}
out:
	archive_read_free(a);
	return rc;
}

int
image_scan_layers(const struct image_layer *layers, size_t n,
		  uint64_t max_name_bytes, char **err)
{
	struct scan s = {.max_name_bytes = max_name_bytes};
	size_t i;
	int rc = 0;

	*err = NULL;
	for (i = 0; i < n && rc == 0; i++)
		rc = layer_scan(&s, &layers[i]);
	names_free(&s.names);
	*err = s.err;
	return rc;
}
