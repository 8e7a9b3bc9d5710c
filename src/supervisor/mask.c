/*
 * Secret masking: every occurrence of a secret's value in the job's output
 * becomes "***" before the byte reaches the log (and so the daemon, its
 * database and every follower).
 *
 * The values come from the job's environment (env.c: data on --env-fd,
 * never our own environment), named by --mask NAME, so they never appear
 * on a command line.  Output arrives in
 * arbitrary pieces, so a secret can be split across two reads: bytes at
 * the end of a piece that could still be the start of a secret are held
 * back (at most the longest secret minus one) until the next piece decides
 * them, or until the output ends.  Where secrets overlap the longest match
 * wins.  Empty values are not masked (they would match everywhere).
 */
#include <stdlib.h>
#include <string.h>

#include "supervisor.h"

#define MASK "***"

void
sv_mask_init(struct supervisor *sv, char **names, size_t n)
{
	struct sv_mask *m = &sv->mask;
	size_t i;

	for (i = 0; i < n && m->count < SV_MAX_MASKS; i++) {
		const char *v = sv_env_get(sv, names[i]);

		if (v == NULL || *v == '\0')
			continue;
		m->secrets[m->count] = xstrdup(v);
		m->lens[m->count] = strlen(v);
		if (m->lens[m->count] > m->longest)
			m->longest = m->lens[m->count];
		m->count++;
	}
}

void
sv_mask_free(struct sv_mask *m)
{
	size_t i;

	for (i = 0; i < m->count; i++)
		free(m->secrets[i]);
	free(m->held);
	memset(m, 0, sizeof(*m));
}

/*
 * At buf[i]: the length of the longest secret matching whole (0 if none),
 * and whether some secret could start here but the bytes run out first.
 */
static size_t
match_at(const struct sv_mask *m, const char *p, size_t left, bool *partial)
{
	size_t k, best = 0;

	*partial = false;
	for (k = 0; k < m->count; k++) {
		size_t l = m->lens[k];

		if (left >= l) {
			if (l > best && memcmp(p, m->secrets[k], l) == 0)
				best = l;
		} else if (memcmp(p, m->secrets[k], left) == 0) {
			*partial = true;
		}
	}
	return best;
}

/* final: no more bytes will come, so nothing is held back. */
static void
feed(struct supervisor *sv, const char *data, size_t len, bool final)
{
	struct sv_mask *m = &sv->mask;
	char *buf;
	size_t n, i = 0, from = 0, l;
	bool partial;

	if (m->count == 0 || (len == 0 && !final)) {
		sv_log_write(sv, data, len);
		return;
	}
	n = m->nheld + len;
	buf = xmalloc(n);
	if (m->nheld > 0)
		memcpy(buf, m->held, m->nheld);
	memcpy(buf + m->nheld, data, len);
	while (i < n) {
		l = match_at(m, buf + i, n - i, &partial);
		if (l > 0) {
			sv_log_write(sv, buf + from, i - from);
			sv_log_write(sv, MASK, strlen(MASK));
			i += l;
			from = i;
			continue;
		}
		if (partial && !final)
			break;  /* the next piece decides */
		i++;
	}
	sv_log_write(sv, buf + from, i - from);
	free(m->held);
	m->nheld = n - i;
	m->held = m->nheld > 0 ? xmalloc(m->nheld) : NULL;
	if (m->nheld > 0)
		memcpy(m->held, buf + i, m->nheld);
	free(buf);
}

void
sv_mask_feed(struct supervisor *sv, const char *data, size_t len)
{
	feed(sv, data, len, false);
}

void
sv_mask_flush(struct supervisor *sv)
{
	if (sv->mask.nheld > 0)
		feed(sv, "", 0, true);
}
