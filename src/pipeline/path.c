/*
 * working_dir: a path relative to the workspace that must stay inside it.
 *
 * Normalised lexically, without touching the file system (the pipeline
 * module does no I/O, and the workspace does not exist yet when a file is
 * validated): empty and `.` segments go, `..` removes the segment before
 * it, and a `..` with nothing left to remove leaves the workspace.  The
 * executor must still refuse symlinks that point outside; this check only
 * makes the written path honest.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline-int.h"

/*
 * Normalises `in` into *out (caller frees; NULL when it names the workspace
 * itself, e.g. "." or "a/..").  -EINVAL if it is absolute or escapes.
 */
int
pipeline_path_normalise(const char *in, char **out)
{
	size_t len = strlen(in), o = 0, *starts, nseg = 0;
	const char *s = in;
	char *buf;

	*out = NULL;
	if (*in == '/')
		return -EINVAL;
	buf = xmalloc(len + 1);
	/* starts[i]: where the i-th kept segment begins in buf. */
	starts = xcalloc(len / 2 + 2, sizeof(*starts));
	while (*s != '\0') {
		const char *e = strchr(s, '/');
		size_t n = e != NULL ? (size_t)(e - s) : strlen(s);

		if (n == 2 && s[0] == '.' && s[1] == '.') {
			if (nseg == 0) {
				free(buf);
				free(starts);
				return -EINVAL;
			}
			o = starts[--nseg];
			if (o > 0)
				o--;  /* the '/' before it */
		} else if (n > 0 && !(n == 1 && s[0] == '.')) {
			if (o > 0)
				buf[o++] = '/';
			starts[nseg++] = o;
			memcpy(buf + o, s, n);
			o += n;
		}
		s += n;
		if (*s == '/')
			s++;
	}
	free(starts);
	if (o == 0) {
		free(buf);
		return 0;
	}
	buf[o] = '\0';
	*out = buf;
	return 0;
}
