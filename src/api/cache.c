/*
 * The rendered first pages of GET /api/v1/projects/{p}/runs, kept per
 * project and limit: the page a dashboard polls is read from the store
 * and rendered with cJSON on the one loop thread for every request,
 * although it changes only when the daemon writes.
 *
 * A page is valid while the store has written nothing since it was
 * rendered, and it is neither filled nor used while a write is in
 * flight.  store_pending() is 0 only when every write queued so far has
 * committed and its done callback has run (both on the loop thread, so
 * it cannot change during a handler); the store's `writes` counter then
 * says whether any write ran since.  So a page can never be older than
 * what the store already shows another reader (GET /runs/{id} reads the
 * committed rows directly): a commit is in flight, and the cache is
 * bypassed, from the write's submission until its done callback, and
 * afterwards the counter has moved.  This covers every path that writes
 * runs (triggers, job and run states, cancels, retention, checkouts)
 * without a hook in each; the price is that any write, of any project,
 * drops every page — an idle or read-mostly daemon hits, a busy one
 * renders as before.  Writes to the file by another process are not
 * seen: pipewright's own tools only read it while the daemon runs.
 */
#include <stdlib.h>
#include <string.h>

#include "api-int.h"

/* Whether the pages may be used or kept now; drops them if stale. */
static bool
current(struct api *a, uint64_t *writes)
{
	struct api_page_cache *c = &a->pages;
	struct store *s = a->env.store;
	const char *url = api_public_url(a);
	struct store_stats st;

	if (store_pending(s) > 0)
		return false;
	store_stats(s, &st);
	*writes = st.writes;
	/* The runs' "url" follows the public URL, which a reload may change. */
	if (c->n > 0 && (st.writes != c->writes || c->url == NULL ||
			 strcmp(c->url, url) != 0))
		api_page_cache_free(a);
	return true;
}

const char *
api_page_get(struct api *a, const char *project, size_t limit)
{
	struct api_page_cache *c = &a->pages;
	uint64_t writes;
	size_t i;

	if (!current(a, &writes))
		return NULL;
	for (i = 0; i < c->n; i++)
		if (c->pages[i].limit == limit &&
		    strcmp(c->pages[i].project, project) == 0)
			return c->pages[i].body;
	return NULL;
}

void
api_page_put(struct api *a, const char *project, size_t limit,
	     const char *body)
{
	struct api_page_cache *c = &a->pages;
	struct api_page *p;
	uint64_t writes;

	if (limit > API_PAGE_LIMIT || !current(a, &writes))
		return;
	if (c->n == 0) {
		c->writes = writes;
		free(c->url);
		c->url = xstrdup(api_public_url(a));
	}
	/* Full: the oldest page makes room (round robin). */
	if (c->n < API_PAGES) {
		p = &c->pages[c->n++];
	} else {
		p = &c->pages[c->next];
		c->next = (c->next + 1) % API_PAGES;
		free(p->project);
		free(p->body);
	}
	p->project = xstrdup(project);
	p->limit = limit;
	p->body = xstrdup(body);
}

void
api_page_cache_free(struct api *a)
{
	struct api_page_cache *c = &a->pages;
	size_t i;

	for (i = 0; i < c->n; i++) {
		free(c->pages[i].project);
		free(c->pages[i].body);
	}
	free(c->url);
	memset(c, 0, sizeof(*c));
}
