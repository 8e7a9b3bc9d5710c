/*
 * The forge module's names and the event's lifetime: forge kinds as
 * config and routes spell them, the event types and ignore reasons as the
 * webhook answers spell them, and the [skip ci] test every forge shares.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "forge-int.h"

static const struct {
	const char *name;
	enum forge_kind kind;
} kinds[] = {
	{"github", FORGE_GITHUB},
	{"gitlab", FORGE_GITLAB},
	{"gitea", FORGE_GITEA},
	{"forgejo", FORGE_GITEA}, /* a Gitea fork: same payloads, headers */
	{"generic", FORGE_GENERIC},
};

int
forge_kind_parse(const char *s, enum forge_kind *out)
{
	size_t i;

	if (s == NULL)
		return -EINVAL;
	for (i = 0; i < PW_ARRAY_LEN(kinds); i++)
		if (strcmp(s, kinds[i].name) == 0) {
			*out = kinds[i].kind;
			return 0;
		}
	return -EINVAL;
}

const char *
forge_kind_name(enum forge_kind k)
{
	switch (k) {
	case FORGE_GITHUB:
		return "github";
	case FORGE_GITLAB:
		return "gitlab";
	case FORGE_GITEA:
		return "gitea";
	case FORGE_GENERIC:
		return "generic";
	}
	return "?";
}

const char *
forge_ignore_name(enum forge_ignore r)
{
	switch (r) {
	case FORGE_IGNORE_NONE:
		return NULL;
	case FORGE_IGNORE_DELETED:
		return "deleted";
	case FORGE_IGNORE_SKIP_CI:
		return "skip_ci";
	case FORGE_IGNORE_BRANCH_FILTERED:
		return "branch_filtered";
	case FORGE_IGNORE_EVENT_NOT_HANDLED:
		return "event_not_handled";
	case FORGE_IGNORE_NO_NEW_COMMITS:
		return "no_new_commits";
	}
	return NULL;
}

const char *
forge_event_type_name(enum forge_event_type t)
{
	switch (t) {
	case FORGE_EVENT_PUSH:
		return "push";
	case FORGE_EVENT_PULL_REQUEST:
		return "pull_request";
	case FORGE_EVENT_PING:
		return "ping";
	case FORGE_EVENT_IGNORED:
		return "ignored";
	}
	return "?";
}

void
fevent_ignore(struct forge_event *ev, enum forge_ignore r)
{
	ev->type = FORGE_EVENT_IGNORED;
	ev->ignored = r;
}

bool
forge_skip_ci(const char *msg)
{
	static const char *const marks[] = {"[skip ci]", "[ci skip]"};
	size_t i, j, n;

	if (msg == NULL)
		return false;
	n = strlen(msg);
	/* Case-insensitive: GitLab and GitHub both accept [Skip CI]. */
	for (i = 0; i < n; i++) {
		if (msg[i] != '[')
			continue;
		for (j = 0; j < PW_ARRAY_LEN(marks); j++)
			if (strncasecmp(msg + i, marks[j], strlen(marks[j])) == 0)
				return true;
	}
	return false;
}

void
forge_event_free(struct forge_event *ev)
{
	char **e;

	if (ev == NULL)
		return;
	free(ev->event);
	free(ev->action);
	free(ev->delivery);
	free(ev->before);
	free(ev->repo);
	free(ev->clone_url);
	free(ev->ref);
	free(ev->branch);
	free(ev->tag);
	free(ev->base_branch);
	free(ev->sha);
	free(ev->message);
	if (ev->env != NULL) {
		for (e = ev->env; *e != NULL; e++)
			free(*e);
		free(ev->env);
	}
	free(ev);
}
