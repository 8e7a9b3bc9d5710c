/*
 * A delivery's JSON read for the fields the forge parsers use, not as a
 * whole tree (docs/internals/jobpath.md, "Webhook ingest": building and
 * freeing cJSON's tree of a 6 KiB push was most of a delivery's
 * instructions after the HMAC, though the parsers read a dozen fields).
 *
 * fjson_parse_pruned() checks every byte of the text against RFC 8259
 * and builds cJSON nodes only for the members a spec names: a member
 * with a sub-spec becomes an object (or an array of such objects) with
 * only those members; a member without one is handed to cJSON itself,
 * its text alone, so the value is exactly what cJSON makes of it.
 * Whatever this scanner is not sure cJSON reads the same way makes it
 * answer NULL, and the caller reads the text with cJSON as a whole,
 * whose verdict and error stand as before.  So it leaves to cJSON:
 * anything outside RFC 8259 (cJSON takes control bytes for white space
 * and in strings, and "01"), the escapes cJSON refuses (a lone or
 * unpaired UTF-16 surrogate), numbers longer than 63 characters (older
 * cJSON reads no more of one), a member name with an escape (compared
 * as cJSON decodes it), nesting deeper than FJ_DEPTH (cJSON's limit is
 * 1000), a root that is not an object and anything after it but white
 * space.  Duplicate members are all kept in order, so a lookup finds
 * the first, as in cJSON's tree.
 */
#include <stdlib.h>
#include <string.h>

#include "forge-int.h"

#define FJ_DEPTH 256
#define FJ_NUMBER_MAX 63 /* older cJSON's number buffer holds 63 */

struct scan {
	const char *p, *end;
	int depth;
};

static void
ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
				 *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static long
hex4(const struct scan *s, const char *at)
{
	long v = 0;
	int i, c;

	if (s->end - at < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		c = (unsigned char)at[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* A string at s->p ('"'); *esc: it holds an escape.  False if bad. */
static bool
string(struct scan *s, bool *esc)
{
	unsigned char c;
	long u, l;

	*esc = false;
	s->p++;
	while (s->p < s->end) {
		c = (unsigned char)*s->p;
		if (c == '"') {
			s->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c != '\\') {
			s->p++;
			continue;
		}
		*esc = true;
		if (s->end - s->p < 2)
			return false;
		c = (unsigned char)s->p[1];
		if (strchr("\"\\/bfnrt", c) != NULL && c != '\0') {
			s->p += 2;
			continue;
		}
		if (c != 'u' || (u = hex4(s, s->p + 2)) < 0)
			return false;
		s->p += 6;
		/* As cJSON's utf16_literal_to_utf8: pairs only. */
		if (u >= 0xDC00 && u <= 0xDFFF)
			return false;
		if (u >= 0xD800 && u <= 0xDBFF) {
			if (s->end - s->p < 6 || s->p[0] != '\\' ||
			    s->p[1] != 'u' || (l = hex4(s, s->p + 2)) < 0 ||
			    l < 0xDC00 || l > 0xDFFF)
				return false;
			s->p += 6;
		}
	}
	return false;
}

static bool
digits(struct scan *s)
{
	const char *b = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > b;
}

static bool
number(struct scan *s)
{
	const char *b = s->p;

	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (s->p >= s->end || *s->p < '1' || *s->p > '9' || !digits(s))
		return false;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!digits(s))
			return false;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!digits(s))
			return false;
	}
	return s->p - b <= FJ_NUMBER_MAX;
}

static bool
word(struct scan *s, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return false;
	s->p += n;
	return true;
}

/* Any value at s->p, checked and passed over. */
static bool
skip(struct scan *s)
{
	bool esc, ok = true;
	char close;

	if (s->p >= s->end)
		return false;
	switch (*s->p) {
	case '"':
		return string(s, &esc);
	case 't':
		return word(s, "true");
	case 'f':
		return word(s, "false");
	case 'n':
		return word(s, "null");
	case '{':
	case '[':
		break;
	default:
		return number(s);
	}
	if (++s->depth > FJ_DEPTH)
		return false;
	close = *s->p == '{' ? '}' : ']';
	s->p++;
	ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		s->depth--;
		return true;
	}
	for (;;) {
		if (close == '}') {
			if (s->p >= s->end || *s->p != '"' || !string(s, &esc))
				return false;
			ws(s);
			if (s->p >= s->end || *s->p != ':')
				return false;
			s->p++;
			ws(s);
		}
		if (!(ok = skip(s)))
			return false;
		ws(s);
		if (s->p >= s->end)
			return false;
		if (*s->p == close)
			break;
		if (*s->p != ',')
			return false;
		s->p++;
		ws(s);
	}
	s->p++;
	s->depth--;
	return ok;
}

/* The value at s->p as cJSON reads its text alone. */
static cJSON *
whole(struct scan *s)
{
	const char *b = s->p, *e = NULL;
	cJSON *v;

	if (!skip(s))
		return NULL;
	v = cJSON_ParseWithLengthOpts(b, (size_t)(s->p - b), &e, 0);
	if (v != NULL && e != s->p) {
		cJSON_Delete(v);
		v = NULL;
	}
	return v;
}

static const struct fspec *
find(const struct fspec *spec, const char *key, size_t len)
{
	for (; spec->key != NULL; spec++)
		if (strlen(spec->key) == len && memcmp(spec->key, key, len) == 0)
			return spec;
	return NULL;
}

static cJSON *build(struct scan *s, const struct fspec *spec);

/*
 * After a member or an element: 1 at the closing `close` (left for the
 * caller to step over), 0 past a comma and the blanks after it, -1 on
 * anything else.
 */
static int
next_item(struct scan *s, char close)
{
	ws(s);
	if (s->p >= s->end)
		return -1;
	if (*s->p == close)
		return 1;
	if (*s->p != ',')
		return -1;
	s->p++;
	ws(s);
	return 0;
}

/* An object at s->p, keeping the members spec names. */
static cJSON *
object(struct scan *s, const struct fspec *spec)
{
	cJSON *o = cJSON_CreateObject(), *v;
	const struct fspec *f;
	const char *k;
	char key[64];
	bool esc;
	int sep;

	if (o == NULL || ++s->depth > FJ_DEPTH)
		goto fail;
	s->p++;
	ws(s);
	if (s->p < s->end && *s->p == '}')
		goto done;
	for (;;) {
		k = s->p + 1;
		if (s->p >= s->end || *s->p != '"' || !string(s, &esc) || esc)
			goto fail;
		f = find(spec, k, (size_t)(s->p - 1 - k));
		ws(s);
		if (s->p >= s->end || *s->p != ':')
			goto fail;
		s->p++;
		ws(s);
		if (f == NULL) {
			if (!skip(s))
				goto fail;
		} else {
			if ((v = build(s, f->sub)) == NULL)
				goto fail;
			/* find() matched it: shorter than any key of ours. */
			memcpy(key, k, strlen(f->key));
			key[strlen(f->key)] = '\0';
			if (!cJSON_AddItemToObject(o, key, v)) {
				cJSON_Delete(v);
				goto fail;
			}
		}
		if ((sep = next_item(s, '}')) < 0)
			goto fail;
		if (sep > 0)
			break;
	}
done:
	s->p++;
	s->depth--;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

/* An array at s->p whose objects keep the members spec names. */
static cJSON *
array(struct scan *s, const struct fspec *spec)
{
	cJSON *a = cJSON_CreateArray(), *v;
	int sep;

	if (a == NULL || ++s->depth > FJ_DEPTH)
		goto fail;
	s->p++;
	ws(s);
	if (s->p < s->end && *s->p == ']')
		goto done;
	for (;;) {
		if ((v = build(s, spec)) == NULL)
			goto fail;
		if (!cJSON_AddItemToArray(a, v)) {
			cJSON_Delete(v);
			goto fail;
		}
		if ((sep = next_item(s, ']')) < 0)
			goto fail;
		if (sep > 0)
			break;
	}
done:
	s->p++;
	s->depth--;
	return a;
fail:
	cJSON_Delete(a);
	return NULL;
}

static cJSON *
build(struct scan *s, const struct fspec *spec)
{
	if (spec == NULL || s->p >= s->end)
		return whole(s);
	if (*s->p == '{')
		return object(s, spec);
	if (*s->p == '[')
		return array(s, spec);
	return whole(s);
}

cJSON *
fjson_parse_pruned(const char *json, size_t len, const struct fspec *spec)
{
	struct scan s = {json, json + len, 0};
	cJSON *root;

	ws(&s);
	if (s.p >= s.end || *s.p != '{' || (root = object(&s, spec)) == NULL)
		return NULL;
	ws(&s);
	if (s.p != s.end) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}
