/*
 * libFuzzer target for a pooled supervisor's spec (sv_spec_split,
 * src/supervisor/spec.c): the input is the message's bytes.  The
 * splitter must take it or refuse it, never read past it: it takes
 * exactly the inputs that are non-empty and end with a NUL, and then its
 * arguments laid end to end with their NULs are the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), **v;
	size_t at = 0, l;
	int argc, i;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	if (sv_spec_split(buf, size, &argc, &v) < 0) {
		if (size > 0 && data[size - 1] == '\0')
			abort();  /* refused a well-formed spec */
		free(buf);
		return 0;
	}
	if (size == 0 || data[size - 1] != '\0' || argc < 1 || v[argc] != NULL)
		abort();
	for (i = 0; i < argc; i++) {
		l = strlen(v[i]);
		if (v[i] != buf + at || at + l >= size)
			abort();
		at += l + 1;
	}
	if (at != size)
		abort();
	free(v);
	free(buf);
	return 0;
}
