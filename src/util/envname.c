/*
 * Environment variable names.  Pipelines, the config's secrets, the API's
 * trigger and the CLI's --env all take them, and they must agree: a name
 * the CLI accepts and the server then refuses is a bug a user meets at the
 * worst moment.  ASCII only, whatever the locale, so no <ctype.h>.
 */
#include <string.h>
#include "pipewright/util.h"

static bool
is_alpha_(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool
pw_env_name_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !is_alpha_(s[0]))
		return false;
	for (i = 1; i < n; i++)
		if (!is_alpha_(s[i]) && !(s[i] >= '0' && s[i] <= '9'))
			return false;
	return true;
}

/*
 * PIPEWRIGHT itself is reserved too: every job gets PIPEWRIGHT=true so that
 * scripts can tell they run under pipewright, and a pipeline or a trigger
 * must not be able to say otherwise.
 */
bool
pw_env_name_reserved(const char *s, size_t n)
{
	size_t k = strlen(PW_ENV_RESERVED_PREFIX);

	if (n == k - 1 && memcmp(s, PW_ENV_RESERVED_PREFIX, k - 1) == 0)
		return true;
	return n >= k && memcmp(s, PW_ENV_RESERVED_PREFIX, k) == 0;
}
