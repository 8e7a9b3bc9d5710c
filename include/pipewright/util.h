/*
 * util: allocation that aborts on failure and a growable byte buffer with a
 * hard limit.  libc only, so that pipewright-supervisor can link it too.
 *
 * Allocation failure is not an error callers can act on, so it aborts (as
 * tmux's xmalloc does); sizes that come from outside are capped by buf's
 * limit and fail cleanly with -E2BIG instead.
 */
#ifndef PIPEWRIGHT_UTIL_H
#define PIPEWRIGHT_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PW_WUR __attribute__((warn_unused_result))

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif

#define PW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* Grows an array of *cap elements of size `size` so that it holds `need`. */
void *xgrow(void *p, size_t *cap, size_t need, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);
/* Frees a NULL-terminated array of strings and the strings (NULL: nothing). */
void pw_strv_free(char **v);

/* A growable byte buffer, always NUL-terminated after `len` bytes. */
struct buf {
	char *data;   /* NULL until the first append */
	size_t len;   /* bytes used, not counting the terminating NUL */
	size_t cap;   /* bytes allocated */
	size_t limit; /* appends that would pass this fail with -E2BIG; 0: none */
};

void buf_init(struct buf *b, size_t limit);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const void *data, size_t len) PW_WUR;
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3))) PW_WUR;
/*
 * The same for buffers without a limit (buf_init(b, 0)), which cannot fail:
 * growth aborts on allocation failure like xmalloc, so callers building a
 * response or a message need no error path.  Calling them on a buffer with
 * a limit that the append would pass is a bug and aborts too.
 */
void buf_add(struct buf *b, const void *data, size_t len);
void buf_adds(struct buf *b, const char *s);
void buf_addf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Takes the bytes out of b (caller frees); b is left empty. */
char *buf_steal(struct buf *b);

/*
 * Reads a whole file into *out (NUL-terminated, caller frees) and its size
 * into *len.  -EFBIG if it is larger than limit bytes; else 0 or -errno.
 */
int pw_read_file(const char *path, size_t limit, char **out,
		 size_t *len) PW_WUR;

/*
 * mkdir -p: path and its missing parents, each with `mode`; existing
 * directories are fine.  0 or -errno (-ENAMETOOLONG past PATH_MAX).
 */
int pw_mkdirs(const char *path, mode_t mode) PW_WUR;
/*
 * rm -rf without following symbolic links: path (a directory with all it
 * holds, or a file).  0, also if path is absent; else the first -errno,
 * after removing everything else it could.
 */
int pw_remove_tree(const char *path);

/* A hex digit's value (either case), or -1 for anything else. */
int pw_hex_digit(int c);
/* Decodes hex (either case) into out; true if s is exactly 2*n digits. */
bool pw_hex_decode(const char *s, size_t slen, unsigned char *out, size_t n);

/*
 * Environment variable names, one rule for every place that takes them
 * (pipelines, the config's secrets, the API, the CLI): the first n bytes
 * of s are [A-Za-z_][A-Za-z0-9_]*.  PIPEWRIGHT and names starting with
 * PIPEWRIGHT_ are reserved: pipewright sets them, no one else may.
 */
#define PW_ENV_RESERVED_PREFIX "PIPEWRIGHT_"
bool pw_env_name_valid(const char *s, size_t n);
bool pw_env_name_reserved(const char *s, size_t n);

/*
 * `$NAME` and `${NAME}` in `in` replaced by their values from env ("K=V",
 * NULL-terminated; the last one of a name wins), `$$` by `$`.  0 and *out
 * (caller frees); -ENOENT for a name env lacks, err saying "unknown
 * variable $NAME"; -EINVAL for a malformed reference (`${` unclosed,
 * `${}`, `${A-B}`, a `$` before anything else), err saying which and
 * where.  On failure *out is NULL.
 */
int pw_expand(const char *in, const char *const *env, char **out, char *err,
	      size_t errlen) PW_WUR;
/*
 * The syntax check alone, for validation before any variable is known:
 * 0, or -EINVAL with err as pw_expand's and *at (if not NULL) the byte
 * offset of the bad reference's '$'.
 */
int pw_expand_check(const char *in, size_t *at, char *err,
		    size_t errlen) PW_WUR;

/* Wall-clock time in UTC milliseconds, and a monotonic clock in ms. */
uint64_t pw_now_ms(void);
uint64_t pw_mono_ms(void);
uint64_t pw_mono_us(void);  /* the same clock in µs: debug stamps */

/*
 * Durations as pipeline files and configs write them: one or more
 * <number><unit> parts, unit d (24h), h, m, s or ms, largest first, e.g.
 * 90s, 10m, 1h30m, 500ms, 7d.  0 or -EINVAL.
 */
int pw_duration_parse(const char *s, uint64_t *ms) PW_WUR;
/*
 * Formats ms the way pw_duration_parse reads it, zero parts left out:
 * "1h30m", "10m", "1m30s", "45s", "1.25s", "250ms" (past a minute, whole
 * seconds).
 */
void pw_duration_format(uint64_t ms, char *out, size_t len);
/*
 * Formats a byte count for people: "512 bytes", "12 KiB", "3.1 GiB" (one
 * decimal below 10 of a unit), "412 MiB".
 */
void pw_size_format(uint64_t n, char *out, size_t len);

#endif
