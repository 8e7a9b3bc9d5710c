/*
 * Scopes: whose caches a run reads and where it saves its own.
 *
 * The rule that matters is the pull request's: its job runs code anyone
 * may have written (a fork's author above all), so whatever it saves
 * must be invisible to every branch run.  It saves to pr:<n>, which only
 * later runs of the same request read; what it restores may come from
 * the default branch, whose caches only pushes to it made.  A request is
 * recognised by its number or by its ref (refs/pull/<n>/..., GitHub and
 * Gitea; refs/merge-requests/<n>/..., GitLab), whichever the trigger
 * kept, and never by its branch name: a fork's source branch may well be
 * called "main".
 */
#include <stdlib.h>
#include <string.h>

#include "pipewright/reuse.h"
#include "pipewright/util.h"

/* The request's number from a ref "<lead><n>/...", or 0. */
static int64_t
pr_of_ref(const char *ref, const char *lead)
{
	size_t n = strlen(lead), digits;
	int64_t v = 0;

	if (ref == NULL || strncmp(ref, lead, n) != 0)
		return 0;
	ref += n;
	digits = strspn(ref, "0123456789");
	if (digits == 0 || digits > 18 || ref[digits] != '/' || ref[0] == '0')
		return 0;
	while (digits-- > 0)
		v = v * 10 + (*ref++ - '0');
	return v;
}

static bool
given(const char *s)
{
	return s != NULL && *s != '\0';
}

static void
add_read(struct reuse_scopes *sc, char *scope)
{
	size_t i;

	for (i = 0; i < sc->nread; i++) {
		if (strcmp(sc->read[i], scope) == 0) {
			free(scope);
			return;
		}
	}
	sc->read[sc->nread++] = scope;
	sc->read[sc->nread] = NULL;
}

void
reuse_scopes_of(const struct reuse_run *run, const char *default_branch,
		struct reuse_scopes *out)
{
	int64_t pr = run->pr > 0 ? run->pr : pr_of_ref(run->ref, "refs/pull/");

	memset(out, 0, sizeof(*out));
	if (pr == 0)
		pr = pr_of_ref(run->ref, "refs/merge-requests/");
	if (pr > 0)
		out->write = xasprintf("pr:%lld", (long long)pr);
	else if (run->fork)
		out->write = NULL;  /* a fork's run we cannot name: nowhere */
	else if (given(run->tag))
		out->write = xasprintf("tag:%s", run->tag);
	else if (given(run->branch))
		out->write = xasprintf("branch:%s", run->branch);
	if (out->write != NULL)
		add_read(out, xstrdup(out->write));
	if (given(default_branch))
		add_read(out, xasprintf("branch:%s", default_branch));
}

void
reuse_scopes_free(struct reuse_scopes *sc)
{
	size_t i;

	free(sc->write);
	for (i = 0; i < sc->nread; i++)
		free(sc->read[i]);
	memset(sc, 0, sizeof(*sc));
}
