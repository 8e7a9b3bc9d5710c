/*
 * libFuzzer target for reuse's rules (src/reuse/): the input's first two
 * bytes give a pull request number (0: none) and the fork flag, the rest
 * is cut at NUL bytes into ref, branch, tag, a key prefix and a literal
 * key.  A request or a fork never writes a scope but its own pr:<n>; the
 * write scope, if any, is read first; a key made is one the key check
 * takes, at most REUSE_KEY_MAX bytes, and a refusal says why; the lookup
 * order has one exact lookup per read scope plus one per distinct prefix;
 * the expired message names the rerun command.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipewright/reuse.h"
#include "pipewright/util.h"

#define FIELDS 5

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *f[FIELDS] = {NULL}, *key = (char *)"untouched", err[256];
	const char *restore[3];
	struct reuse_scopes sc;
	struct reuse_lookup *l;
	struct reuse_run run;
	size_t i, n, start = 0, nf = 0;
	char *m;
	int rc;

	if (size < 2)
		return 0;
	text = xmalloc(size - 2 + 1);
	memcpy(text, data + 2, size - 2);
	text[size - 2] = '\0';
	for (i = 0; i <= size - 2 && nf < FIELDS; i++) {
		if (i == size - 2 || text[i] == '\0') {
			text[i] = '\0';
			f[nf++] = text + start;
			start = i + 1;
		}
	}
	run = (struct reuse_run){
		.ref = f[0], .branch = f[1], .tag = f[2],
		.pr = data[0] & 0x7f, .fork = (data[1] & 1) != 0,
	};
	reuse_scopes_of(&run, "main", &sc);
	if ((run.pr > 0 || run.fork) && sc.write != NULL &&
	    strncmp(sc.write, "pr:", 3) != 0)
		abort();
	if (sc.write != NULL && (sc.nread == 0 ||
				 strcmp(sc.read[0], sc.write) != 0))
		abort();
	if (sc.nread > REUSE_MAX_READ || sc.read[sc.nread] != NULL)
		abort();
	if (sc.nread == 2 && strcmp(sc.read[0], sc.read[1]) == 0)
		abort();

	err[0] = '\0';
	rc = reuse_cache_key(f[3], NULL, f[4], &key, err, sizeof(err));
	if (rc == 0) {
		if (strlen(key) > REUSE_KEY_MAX ||
		    reuse_key_check("k", key, err, sizeof(err)) != 0)
			abort();
		restore[0] = f[3] != NULL && f[3][0] != '\0' ? f[3] : key;
		restore[1] = key;
		restore[2] = NULL;
		n = reuse_lookup_order(&sc, key, restore, &l);
		if (n != sc.nread * (strcmp(restore[0], key) == 0 ? 2 : 3))
			abort();
		free(l);
		free(key);
	} else if (err[0] == '\0' || strcmp(key, "untouched") != 0) {
		abort();
	}
	reuse_scopes_free(&sc);

	m = reuse_artifact_expired(f[3] != NULL ? f[3] : "a",
				   f[1] != NULL ? f[1] : "j", 7, 1000,
				   1000 + (uint64_t)data[0] * 86400000ULL);
	if (strstr(m, "(`pipewright rerun 7 ") == NULL)
		abort();
	free(m);
	free(text);
	return 0;
}
