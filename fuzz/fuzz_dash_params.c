/*
 * The dashboard's untrusted strings: an events stream's runs=, logs= and
 * Last-Event-ID (src/api/events.c) and the session cookie in a Cookie
 * header (src/api/session.c).  The input is four lines, one each.  What
 * is checked: no crash, no leak, and a cookie value that is found is a
 * part of the header, NUL-terminated within the buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/api/api-int.h"

static char *
line(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	const uint8_t *stop = nl != NULL ? nl : end;
	char *s = malloc((size_t)(stop - *p) + 1);

	memcpy(s, *p, (size_t)(stop - *p));
	s[stop - *p] = '\0';
	*p = nl != NULL ? nl + 1 : end;
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char *runs = line(&p, end), *logs = line(&p, end);
	char *last = line(&p, end), *cookie = line(&p, end);
	char out[64];

	(void)api_events_params(runs, logs, last);
	(void)api_events_params(NULL, logs, NULL);
	if (api_session_cookie(cookie, out, sizeof(out))) {
		if (strlen(out) >= sizeof(out) || strstr(cookie, out) == NULL)
			abort();
	}
	free(runs);
	free(logs);
	free(last);
	free(cookie);
	return 0;
}
