/*
 * Branch filters: fnmatch(3) patterns without FNM_PATHNAME, so that `*`
 * also matches `/`: `release/` followed by `*` admits `release/1.0/hotfix`.
 *
 * fnmatch never says a pattern is malformed: glibc takes an unclosed `[`
 * literally, so `release/[0-9` would silently match nothing a user meant.
 * pipeline_glob_check() refuses such patterns at validation time instead,
 * following the bracket rules fnmatch applies (a `]` right after `[` or
 * `[!` is literal; `\` escapes; `[:class:]` inside brackets).
 */
#include <fnmatch.h>
#include <string.h>

#include "pipeline-int.h"

static const char *const classes[] = {
	"alnum", "alpha", "blank", "cntrl", "digit", "graph",
	"lower", "print", "punct", "space", "upper", "xdigit",
};

static bool
known_class(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < PW_ARRAY_LEN(classes); i++)
		if (strlen(classes[i]) == len &&
		    memcmp(classes[i], name, len) == 0)
			return true;
	return false;
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
			if (!known_class(s + 2, (size_t)(end - (s + 2))))
				return "unknown character class";
			s = end + 2;
			continue;
		}
		s++;
	}
	*p = s + 1;
	return NULL;
}

/* NULL if fnmatch will read the pattern as written, else what is wrong. */
const char *
pipeline_glob_check(const char *pattern)
{
	const char *p = pattern, *err;

	if (*p == '\0')
		return "empty pattern";
	while (*p != '\0') {
		if (*p == '\\') {
			if (p[1] == '\0')
				return "ends with a lone '\\'";
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

bool
pipeline_glob_match(const char *pattern, const char *s)
{
	if (pattern == NULL || s == NULL)
		return false;
	return fnmatch(pattern, s, 0) == 0;
}
