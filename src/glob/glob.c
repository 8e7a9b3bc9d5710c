/*
 * Globs with path semantics, one implementation for branch filters
 * (pipeline jobs' and configured projects' `branches`) and for the paths
 * of caches and artifacts:
 *
 * - `*` matches any run of characters except `/`, `?` one character
 *   except `/`, `[...]` one ASCII character (never `/`) as fnmatch(3)
 *   reads brackets; `\` escapes the next character;
 * - `**` as a whole segment (the whole pattern, or between slashes, or
 *   between a slash and an end) matches any number of whole segments,
 *   none included, so `**` + `/` + `*.d` matches `a.d` and `x/y/a.d`;
 *   elsewhere (`a**`) it is one `*`;
 * - a pattern ending in `/` names a directory and everything beneath it:
 *   `target/` matches `target` and `target/release/app`.
 *
 * Matching is done segment by segment (a segment is what lies between
 * slashes), with `**` handled by a table over (pattern segment, string
 * segment): at most their product in steps, however many `**` a pattern
 * holds, so no pattern makes a match exponential.
 *
 * fnmatch never says a pattern is malformed: glibc takes an unclosed `[`
 * literally, so `release/[0-9` would silently match nothing a user meant.
 * glob_check() refuses such patterns at validation time instead.  The
 * matcher takes an unchecked pattern as fnmatch would (an unclosed `[` is
 * literal), so it is safe on anything.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "pipewright/glob.h"

/* Segments on the stack up to this many; more go to the heap. */
#define SEGS_ON_STACK 32

static const struct {
	const char *name;
	int (*is)(int);
} classes[] = {
	{"alnum", isalnum}, {"alpha", isalpha}, {"blank", isblank},
	{"cntrl", iscntrl}, {"digit", isdigit}, {"graph", isgraph},
	{"lower", islower}, {"print", isprint}, {"punct", ispunct},
	{"space", isspace}, {"upper", isupper}, {"xdigit", isxdigit},
};

/* The class named by len bytes at name, or -1. */
static int
class_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < PW_ARRAY_LEN(classes); i++)
		if (strlen(classes[i].name) == len &&
		    memcmp(classes[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

/* Checks the bracket expression after the `[` at *p; moves *p past it. */
static const char *
check_bracket(const char **p)
{
	const char *s = *p;

	if (*s == '!' || *s == '^')
		s++;
	if (*s == ']')
		s++;
	for (;;) {
		if (*s == '\0')
			return "unclosed '['";
		if (*s == ']')
			break;
		if (*s == '/')
			return "'/' inside '[...]', which matches one"
			    " character of a name";
		if ((unsigned char)*s >= 0x80)
			return "a character other than ASCII inside '[...]'";
		if (*s == '\\') {
			if (s[1] == '\0')
				return "unclosed '['";
			s += 2;
			continue;
		}
		if (s[0] == '[' && s[1] == ':') {
			const char *end = strstr(s + 2, ":]");

			if (end == NULL)
				return "unclosed '[:'";
			if (class_find(s + 2, (size_t)(end - (s + 2))) < 0)
				return "unknown character class";
			s = end + 2;
			continue;
		}
		s++;
	}
	*p = s + 1;
	return NULL;
}

const char *
glob_check(const char *pattern)
{
	const char *p = pattern, *err;

	if (*p == '\0')
		return "empty pattern";
	while (*p != '\0') {
		if (*p == '\\') {
			if (p[1] == '\0')
				return "ends with a lone '\\'";
			if (p[1] == '/')
				return "'\\/': a '/' cannot be escaped";
			p += 2;
		} else if (*p == '[') {
			p++;
			if ((err = check_bracket(&p)) != NULL)
				return err;
		} else {
			p++;
		}
	}
	return NULL;
}

const char *
glob_path_check(const char *pattern)
{
	const char *s = pattern;

	if (*s == '\0')
		return "it is empty";
	if (*s == '/')
		return "it is absolute";
	while (*s != '\0') {
		size_t n = strcspn(s, "/");

		if (n == 2 && s[0] == '.' && s[1] == '.')
			return "it has a '..' component";
		s += n;
		if (*s == '/')
			s++;
	}
	return NULL;
}

/* Bytes in the UTF-8 sequence starting with c (1 for a stray byte). */
static size_t
utf8_len(unsigned char c)
{
	if (c >= 0xf0 && c < 0xf8)
		return 4;
	if (c >= 0xe0)
		return c < 0xf0 ? 3 : 1;
	if (c >= 0xc0)
		return 2;
	return 1;
}

/* A character's length at s[i], cut at n (a sequence cut short counts). */
static size_t
char_len(const char *s, size_t i, size_t n)
{
	size_t k = utf8_len((unsigned char)s[i]);

	return i + k <= n ? k : n - i;
}

/*
 * The bracket expression after the `[` at p[*pi] against the byte c:
 * 1 matched, 0 not, -1 not a bracket (no `]` in the segment: the `[` is
 * literal).  On 0 or 1, *pi is past the `]`.
 */
static int
bracket_match(const char *p, size_t plen, size_t *pi, unsigned char c)
{
	size_t i = *pi;
	bool neg = false, hit = false;

	if (i < plen && (p[i] == '!' || p[i] == '^')) {
		neg = true;
		i++;
	}
	if (i < plen && p[i] == ']') {
		hit = c == ']';
		i++;
	}
	for (;;) {
		unsigned char lo;

		if (i >= plen)
			return -1;
		if (p[i] == ']')
			break;
		if (p[i] == '[' && i + 1 < plen && p[i + 1] == ':') {
			const char *end = memmem(p + i + 2, plen - i - 2, ":]",
						 2);
			int k = end == NULL ? -1 :
			    class_find(p + i + 2, (size_t)(end - p - i - 2));

			if (k >= 0) {
				hit = hit || (c < 0x80 && classes[k].is(c));
				i = (size_t)(end - p) + 2;
				continue;
			}
		}
		if (p[i] == '\\' && i + 1 < plen)
			i++;
		lo = (unsigned char)p[i++];
		if (i + 1 < plen && p[i] == '-' && p[i + 1] != ']') {
			unsigned char hi;

			i++;
			if (p[i] == '\\' && i + 1 < plen)
				i++;
			hi = (unsigned char)p[i++];
			hit = hit || (c >= lo && c <= hi);
		} else {
			hit = hit || c == lo;
		}
	}
	*pi = i + 1;
	return hit != neg;
}

/*
 * One pattern character (or bracket, or escape) at p[*pi] against the
 * character at s[*si]: on a match both move past it.
 */
static bool
one_match(const char *p, size_t plen, size_t *pi, const char *s, size_t slen,
	  size_t *si)
{
	size_t i = *pi, cl = char_len(s, *si, slen);
	int r;

	if (p[i] == '?') {
		*pi = i + 1;
		*si += cl;
		return true;
	}
	if (p[i] == '[') {
		size_t b = i + 1;

		r = bracket_match(p, plen, &b, (unsigned char)s[*si]);
		if (r >= 0) {
			/* Brackets are ASCII: a wider character only
			 * matches a negated one, and as a whole. */
			if (r == 0 || (cl > 1 && p[i + 1] != '!' &&
				       p[i + 1] != '^'))
				return false;
			*pi = b;
			*si += cl;
			return true;
		}
	}
	if (p[i] == '\\' && i + 1 < plen)
		i++;
	if (p[i] != s[*si])
		return false;
	*pi = i + 1;
	*si += 1;
	return true;
}

/* One segment of a pattern against one of a string: neither holds '/'. */
static bool
seg_match(const char *p, size_t plen, const char *s, size_t slen)
{
	size_t pi = 0, si = 0, star_p = 0, star_s = 0;
	bool star = false;

	while (si < slen) {
		if (pi < plen && p[pi] == '*') {
			while (pi < plen && p[pi] == '*')
				pi++;
			star = true;
			star_p = pi;
			star_s = si;
			continue;
		}
		if (pi < plen && one_match(p, plen, &pi, s, slen, &si))
			continue;
		if (!star)
			return false;
		/* The last `*` takes one more character; try again after. */
		star_s += char_len(s, star_s, slen);
		pi = star_p;
		si = star_s;
	}
	while (pi < plen && p[pi] == '*')
		pi++;
	return pi == plen;
}

struct seg {
	const char *s;
	size_t len;
};

static size_t
seg_count(const char *s)
{
	size_t n = 1;

	for (; *s != '\0'; s++)
		n += *s == '/';
	return n;
}

static void
seg_split(const char *s, struct seg *out)
{
	size_t n = 0;

	for (;;) {
		size_t len = strcspn(s, "/");

		out[n].s = s;
		out[n++].len = len;
		if (s[len] == '\0')
			return;
		s += len + 1;
	}
}

static bool
is_globstar(const struct seg *g)
{
	return g->len == 2 && g->s[0] == '*' && g->s[1] == '*';
}

/*
 * The pattern's segments P against the string's S, from the last ones
 * back: row[j] says whether P[i..] matches S[j..], built from the row of
 * i + 1 (next) for each i.
 */
static bool
segs_match(const struct seg *pg, size_t m, const struct seg *sg, size_t n,
	   bool *row, bool *next)
{
	size_t i, j;

	for (j = 0; j <= n; j++)
		next[j] = j == n;
	for (i = m; i-- > 0;) {
		row[n] = is_globstar(&pg[i]) && next[n];
		for (j = n; j-- > 0;) {
			if (is_globstar(&pg[i]))
				row[j] = next[j] || row[j + 1];
			else
				row[j] = next[j + 1] &&
				    seg_match(pg[i].s, pg[i].len, sg[j].s,
					      sg[j].len);
		}
		memcpy(next, row, (n + 1) * sizeof(*row));
	}
	return next[0];
}

bool
glob_match(const char *pattern, const char *s)
{
	struct seg pstack[SEGS_ON_STACK], sstack[SEGS_ON_STACK], *pg, *sg;
	bool bstack[2 * (SEGS_ON_STACK + 1)], *rows;
	size_t m, n;
	bool ok;

	if (pattern == NULL || s == NULL)
		return false;
	m = seg_count(pattern);
	n = seg_count(s);
	pg = m <= SEGS_ON_STACK ? pstack : xcalloc(m, sizeof(*pg));
	sg = n <= SEGS_ON_STACK ? sstack : xcalloc(n, sizeof(*sg));
	rows = n < SEGS_ON_STACK ? bstack : xcalloc(2 * (n + 1), sizeof(bool));
	seg_split(pattern, pg);
	seg_split(s, sg);
	/* A trailing '/': the directory and everything beneath it. */
	if (m > 1 && pg[m - 1].len == 0) {
		pg[m - 1].s = "**";
		pg[m - 1].len = 2;
	}
	ok = segs_match(pg, m, sg, n, rows, rows + n + 1);
	if (pg != pstack)
		free(pg);
	if (sg != sstack)
		free(sg);
	if (rows != bstack)
		free(rows);
	return ok;
}

static void
branch_add(struct yamlnode_walk *w, const struct ynode *n, char **out,
	   size_t *count)
{
	const char *s = yamlnode_string(w, n, "a branch pattern", "branches");
	const char *err;

	if (s == NULL)
		return;
	if ((err = glob_check(s)) != NULL) {
		yamlnode_problem(w, n->line, n->column,
				 "invalid branch pattern '%s'%s: %s",
				 yamlnode_q(w, s, strlen(s)), w->where, err);
		return;
	}
	out[(*count)++] = xstrdup(s);
}

void
glob_read_branches(struct yamlnode_walk *w, const struct yamlnode_key *row,
		   const struct ynode *val, char ***out, size_t *n)
{
	size_t i;

	if (val->kind == YN_SCALAR) {
		if (yamlnode_is_null(val)) {
			yamlnode_type_error(w, val, row->expected, row->name);
			return;
		}
		*out = xcalloc(1, sizeof(char *));
		branch_add(w, val, *out, n);
		return;
	}
	if (val->count == 0) {
		yamlnode_problem(w, val->line, val->column,
				 "empty 'branches'%s; leave 'branches' out to"
				 " run on every branch", w->where);
		return;
	}
	*out = xcalloc(val->count, sizeof(char *));
	for (i = 0; i < val->count && yamlnode_visit(w, val->items[i]); i++)
		branch_add(w, val->items[i], *out, n);
}
