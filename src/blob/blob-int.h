/*
 * What the blob module's files share: the store's directories, the
 * shared-lock open of a digest-named blob, hashing, beneath-root opens
 * and a set of names (docs/internals/blob.md).
 */
#ifndef PIPEWRIGHT_BLOB_INT_H
#define PIPEWRIGHT_BLOB_INT_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "pipewright/blob.h"

struct blob_store {
	char *dir;      /* the store's path, owned */
	int dirfd;      /* dir */
	int shafd;      /* dir/sha256 */
	int tmpfd;      /* dir/tmp */
	int zstd_level;   /* BLOB_ZSTD_LEVEL; the benchmark tries others */
	int zstd_threads; /* BLOB_ZSTD_THREADS */
};

/* Measured in docs/internals/blob.md: what beats `tar -I zstd` on time. */
#define BLOB_ZSTD_LEVEL 1
#define BLOB_ZSTD_THREADS 3

/* Temporary files and fresh blobs younger than this are never collected. */
#define BLOB_GRACE_SEC 3600
/* Read and write chunks. */
#define BLOB_IO_CHUNK (256 * 1024)

/* True if s is 64 lowercase hex digits. */
bool blob_digest_valid(const char *s);
/* Opens the named blob with a shared (or, with ex, an exclusive
 * non-blocking) flock: the fd, or -ENOENT (also if it was removed while
 * we waited for the lock), -EBUSY (ex and held), -EINVAL (a bad digest),
 * -errno. */
int blob_open_locked(struct blob_store *bs, const char *digest, bool ex);
/* Removes the named blob (corrupt): 0 or -errno. */
int blob_unlink(struct blob_store *bs, const char *digest);
/* Hashes the file fd and compares with digest: 0, -EBADMSG, -errno. */
int blob_verify_fd(int fd, const char *digest);
/* Hex of a 32-byte SHA-256 into out (65 bytes). */
void blob_hex(const unsigned char *md, char *out);

/* openat2 with resolve flags; -errno. */
int blob_openat2(int dirfd, const char *path, int flags, mode_t mode,
		 uint64_t resolve);

/* Writes all of len bytes: 0 or -errno. */
int blob_write_all(int fd, const void *p, size_t len);

/* printf into a fixed err buffer. */
void blob_errf(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A set of strings (open addressing); for the names an archive made. */
struct blob_nameset {
	char **slots;
	size_t cap, n;
};
void blob_nameset_init(struct blob_nameset *s);
void blob_nameset_free(struct blob_nameset *s);
/* Adds a copy of name; true if it was new. */
bool blob_nameset_add(struct blob_nameset *s, const char *name);
bool blob_nameset_has(const struct blob_nameset *s, const char *name);

/*
 * An archive's entry name made relative and clean: leading "./" and
 * repeated or trailing slashes dropped, "." parts dropped.  -EXDEV if it
 * is absolute or has a ".." part; -EINVAL if empty or over PATH_MAX.
 * The result ("" for the root itself) goes to out (PATH_MAX bytes).
 */
int blob_clean_name(const char *name, char *out, size_t outlen);

/* A pack's output: hashed and written by a thread of its own (sink.c). */
#define SINK_BUFS 8
#define SINK_BUF (1024 * 1024)
struct blob_sink {
	int fd;                 /* the temporary file, not owned */
	EVP_MD_CTX *md;         /* SHA-256 of what was written */
	char *buf[SINK_BUFS];   /* a ring: the writer's from head, count of
	                           them; the one being filled at tail */
	size_t len[SINK_BUFS];
	size_t head, tail, count, fill;
	uint64_t bytes;         /* handed over so far */
	int err;                /* the first write's -errno */
	bool done, running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
};
/* 0 or -errno. */
int blob_sink_start(struct blob_sink *s, int fd);
/* Copies n bytes in: 0, or a write's -errno (ENOSPC). */
int blob_sink_add(struct blob_sink *s, const void *p, size_t n);
/* Writes the rest, stops the thread, the digest (32 bytes) to md: 0 or
 * -errno. */
int blob_sink_finish(struct blob_sink *s, unsigned char *md);
/* Stops the thread if running (what is left is not written), frees. */
void blob_sink_free(struct blob_sink *s);

/* A restore's file writes, on a thread of their own (fwriter.c). */
struct blob_fwriter;
struct blob_fw_meta {
	off_t size, end;        /* size >= 0 and != end (bytes written up
	                           to): ftruncate to size */
	bool chown;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	struct timespec ts[2];
};
int blob_fw_start(struct blob_fwriter **out);
/* Copies n bytes, written at off into fd; 0 or the first error so far. */
int blob_fw_data(struct blob_fwriter *fw, int fd, const void *p, size_t n,
		 off_t off, const char *name);
/* Closes fd (taking it), after m (NULL: just close); 0 or the first
 * error so far. */
int blob_fw_close(struct blob_fwriter *fw, int fd,
		  const struct blob_fw_meta *m, const char *name);
/* Waits for everything handed over, frees fw: 0 or the first -errno,
 * its entry's name into errname. */
int blob_fw_finish(struct blob_fwriter *fw, char *errname, size_t len);

/* The paths a pack spec names, sorted, each once. */
struct pack_list {
	char **names;   /* owned */
	size_t n, cap;
};
void pack_list_init(struct pack_list *l);
void pack_list_free(struct pack_list *l);
/*
 * Walks the workspace (rootfd) for spec's paths minus its excludes into
 * l; warnings (a pattern that matched nothing or leads out) into res.
 * 0, or -errno with res->err (-EFBIG past max_files).
 */
int pack_collect(int rootfd, const struct blob_pack_spec *spec,
		 struct blob_pack_result *res, struct pack_list *l);
/* Adds a warning line to res (the first 100; then a count of the rest). */
void pack_warn(struct blob_pack_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
