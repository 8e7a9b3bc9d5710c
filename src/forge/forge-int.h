/*
 * The forge module's private helpers, shared by its files: typed access
 * to cJSON trees by dotted path, the checks on commit ids and ref names,
 * hex/base64/form decoding, and the per-forge parsers parse.c dispatches
 * to.  Nothing here is exported from the module.
 */
#ifndef PIPEWRIGHT_FORGE_INT_H
#define PIPEWRIGHT_FORGE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "pipewright/forge.h"

/* One parse in progress: the event being filled and the message of the
 * first error (caller of the parser frees). */
struct fparse {
	struct forge_event *ev;
	const char *what;     /* "push payload": names the payload in errors */
	char *err;
};

/*
 * prune.c: the members of a payload the parsers read.  A spec is an array
 * ended by {NULL}: each member named, with the members of its value
 * (an object's, or those of each object in an array) or NULL for the
 * whole value.
 */
struct fspec {
	const char *key;
	const struct fspec *sub;
};
/* The tree of spec's members of a JSON object (cJSON_Delete), or NULL:
 * read the text with cJSON as a whole (prune.c says when). */
cJSON *fjson_parse_pruned(const char *json, size_t len,
			  const struct fspec *spec);

/* Sets p->err (printf-style) and returns -EINVAL. */
int fp_fail(struct fparse *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The node at a dotted path ("pull_request.head.sha"), or NULL. */
const cJSON *fj_get(const cJSON *root, const char *path);
/* The string at path, NULL if absent or not a string. */
const char *fj_str(const cJSON *root, const char *path);

/*
 * Required fields: 0 and a copy into *out (may be NULL: only checked);
 * -EINVAL "missing 'PATH' in WHAT" if absent or null, "'PATH' in WHAT is
 * not a string/number/object" if of the wrong type.
 */
int fj_need_str(struct fparse *p, const cJSON *root, const char *path,
		char **out);
/* A string that is a valid ref name (a PR's branch): copied into *out. */
int fj_need_branch(struct fparse *p, const cJSON *root, const char *path,
		   char **out);
/* *out may be NULL: only checked. */
int fj_need_obj(struct fparse *p, const cJSON *root, const char *path,
		const cJSON **out);
/* A positive integer (PR numbers, iids, project ids) below 2^53. */
int fj_need_uint(struct fparse *p, const cJSON *root, const char *path,
		 uint64_t *out);
/* An optional positive integer: true and *out if present and one. */
bool fj_opt_uint(const cJSON *root, const char *path, uint64_t *out);

/*
 * The message of the commit in the payload's `commits` array whose id is
 * sha; with last, of the array's last commit if none has that id.  NULL
 * if there is none (or it has no message).
 */
const char *fj_commit_message(const cJSON *root, const char *sha, bool last);

/* Copies the string at path into *out if it is one (else leaves *out). */
void fj_opt_str(const cJSON *root, const char *path, char **out);

/*
 * Commit ids: 40 (SHA-1) or 64 (SHA-256) hex digits.  fsha_take checks
 * the one at path, lower-cases it into p->ev->sha; -EINVAL if it is not
 * one.  fsha_zero: the all-zero id forges send for a deleted ref.
 */
bool fsha_valid(const char *s);
bool fsha_zero(const char *s);
int fsha_take(struct fparse *p, const char *path, const char *s);
/* ev->before from a push's `before`, lower-cased; left NULL if s is not a
 * commit id (it only keys replays, so a malformed one is no error). */
void fsha_before(struct forge_event *ev, const char *s);

/*
 * A ref name git would accept (check-ref-format), that is also safe as a
 * command-line argument and in an environment variable: no control
 * characters or spaces, none of ~^:?*[\, no "..", "@{", "//", no
 * component starting with '.' or ending with ".lock", not starting with
 * '-' or '/', not ending with '/' or '.'; at most 255 bytes.
 */
bool fref_valid(const char *s);

/*
 * Fills ev->ref, ->branch or ->tag from a full ref of a push.  0; 1 if
 * the ref is neither refs/heads/ nor refs/tags/ (not handled); -EINVAL if
 * it is not a valid ref.
 */
int fref_push(struct fparse *p, const char *path, const char *ref);

/* Standard base64 with padding; the decoded length, or -1 if malformed
 * or longer than cap. */
long fb64_decode(const char *s, size_t slen, unsigned char *out, size_t cap);

/*
 * The value of field `name` of an application/x-www-form-urlencoded body,
 * decoded ('+' is a space, %XX a byte): 0 and *out, *outlen (caller
 * frees; NUL-terminated); -ENOENT if the field is absent; -EINVAL if an
 * escape is malformed.
 */
int fform_field(const char *body, size_t len, const char *name, char **out,
		size_t *outlen);

/*
 * The first of up to two headers (names[1] may be NULL) that is sent and
 * not empty, or NULL; *which (may be NULL) is its name.
 */
const char *fheader2(forge_header_fn hdr, void *harg,
		     const char *const names[2], const char **which);

/*
 * A copy of s (caller frees) fit to quote in an error message and the
 * log: at most max bytes (then "..."), every byte that is not printable
 * ASCII shown as '?'.
 */
char *fprintable(const char *s, size_t max);

/* The per-forge parsers: fill p->ev from the payload's JSON. */
int fparse_github(struct fparse *p, const cJSON *root, bool gitea);
int fparse_gitlab(struct fparse *p, const cJSON *root);
int fparse_generic(struct fparse *p, const cJSON *root);

/* The head commit's message, skip_ci, deleted, etc.: shared by the push
 * parsers.  Sets the ignore reason (type IGNORED) on ev. */
void fevent_ignore(struct forge_event *ev, enum forge_ignore r);

#endif
