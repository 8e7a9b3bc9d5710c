/*
 * What a plain YAML scalar means where a parser expects null, a boolean or
 * a number, and how any value is quoted in a one-line message.
 *
 * Only plain scalars without a tag can be null, booleans or numbers, as
 * YAML says: `allow_failure: "true"` is a string.  Quoting cuts a value at
 * YAMLNODE_QUOTE_MAX bytes and escapes its control characters, so that a
 * problem stays on one FILE:LINE:COLUMN line whatever the file contains.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pipewright/yamlnode.h"

bool
yamlnode_is_null(const struct ynode *n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	size_t i;

	if (n->kind != YN_SCALAR || !n->plain)
		return false;
	for (i = 0; i < PW_ARRAY_LEN(nulls); i++)
		if (strcmp(n->str, nulls[i]) == 0)
			return true;
	return false;
}

/* YAML 1.1 booleans, minus the single letters y/n that surprise people. */
static const struct {
	const char *word;
	bool value;
} bools[] = {
	{"true", true}, {"True", true}, {"TRUE", true},
	{"false", false}, {"False", false}, {"FALSE", false},
	{"yes", true}, {"Yes", true}, {"YES", true},
	{"no", false}, {"No", false}, {"NO", false},
	{"on", true}, {"On", true}, {"ON", true},
	{"off", false}, {"Off", false}, {"OFF", false},
};

int
yamlnode_bool(const struct ynode *n, bool *out)
{
	size_t i;

	if (n->kind != YN_SCALAR || !n->plain)
		return -EINVAL;
	for (i = 0; i < PW_ARRAY_LEN(bools); i++) {
		if (strcmp(n->str, bools[i].word) == 0) {
			*out = bools[i].value;
			return 0;
		}
	}
	return -EINVAL;
}

int
yamlnode_uint(const struct ynode *n, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (n->kind != YN_SCALAR || !n->plain || n->len == 0)
		return -EINVAL;
	for (i = 0; i < n->len; i++)
		if (n->str[i] < '0' || n->str[i] > '9')
			return -EINVAL;
	for (i = 0; i < n->len; i++) {
		if (v > max)
			return -ERANGE;
		v = v * 10 + (unsigned long)(n->str[i] - '0');
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

bool
yamlnode_map_has(const struct ynode *map, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i + 1 < map->count; i += 2)
		if (map->items[i]->len == len &&
		    memcmp(map->items[i]->str, name, len) == 0)
			return true;
	return false;
}

void
yamlnode_quote(const char *s, size_t len, char *out)
{
	size_t i, o = 0;
	size_t shown = len < YAMLNODE_QUOTE_MAX ? len : YAMLNODE_QUOTE_MAX;

	/* Do not cut a UTF-8 sequence in half. */
	while (shown > 0 && shown < len &&
	       ((unsigned char)s[shown] & 0xc0) == 0x80)
		shown--;
	for (i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n') {
			memcpy(out + o, "\\n", 2);
			o += 2;
		} else if (c == '\t') {
			memcpy(out + o, "\\t", 2);
			o += 2;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
		} else if (c == 0xc2 && i + 1 < shown &&
			   (unsigned char)s[i + 1] < 0xa0 &&
			   (unsigned char)s[i + 1] >= 0x80) {
			/* C1 (U+009B is CSI): as much a command as ESC. */
			o += (size_t)snprintf(out + o, 7, "\\u%04x",
					      (unsigned char)s[++i]);
		} else {
			out[o++] = (char)c;
		}
	}
	if (shown < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}
