/*
 * blob: content-addressed archives of a job's files, for artifacts and
 * caches.  A blob is a zstd-compressed pax tar named by the SHA-256 of its
 * bytes, <dir>/sha256/<2 hex>/<64 hex>; it is written under <dir>/tmp,
 * fsync'd and renamed, so a blob that has its name is complete.  Equal
 * archives are stored once (a second save of the same bytes keeps the
 * first file).
 *
 * Whatever a job made is hostile: packing opens every path beneath the
 * workspace (openat2 RESOLVE_BENEATH, O_NOFOLLOW|O_NONBLOCK) and takes
 * only regular files, directories and symlinks (kept as links, never
 * followed); unpacking verifies the digest, then creates every entry
 * itself beneath the root without passing through any symlink, refusing
 * entries that climb out, hard links to anything the archive did not
 * make, devices and FIFOs.  docs/internals/blob.md has the rules and how
 * each is enforced.
 *
 * Every call blocks (reads and writes whole trees, hashes, fsyncs): worker
 * threads only, never the event loop.  A store may be used by several
 * threads at once; readers and unpackers hold a shared flock on the blob,
 * which blob_collect and blob_remove respect.
 */
#ifndef PIPEWRIGHT_BLOB_H
#define PIPEWRIGHT_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BLOB_DIGEST_HEX 64
/* Caps of an unpack whose spec says 0: 64 GiB, a million entries. */
#define BLOB_UNPACK_MAX_BYTES (64ULL << 30)
#define BLOB_UNPACK_MAX_FILES 1000000ULL

struct blob_store;

/* dir: <data_dir>/blobs, made (0700) with sha256/ and tmp/ if missing.
 * 0 or -errno. */
int blob_store_open(const char *dir, struct blob_store **out);
void blob_store_close(struct blob_store *bs);

struct blob_pack_spec {
	const char *root;                /* the workspace (host path) */
	const char *const *paths;        /* expanded globs relative to root,
	                                    NULL-terminated; a path without
	                                    glob characters is literal; one
	                                    naming a directory (`target`,
	                                    `target/`) packs all beneath it */
	const char *const *exclude;      /* globs, NULL-terminated or NULL */
	uint64_t max_bytes;              /* content bytes; 0: no limit; over
	                                    it: -EFBIG */
	uint64_t max_files;              /* 0: no limit; over it: -EFBIG */
	uid_t uid;                       /* the job's user: a multiply-linked
	                                    file of another owner is skipped
	                                    (a hard link to a host file) */
};

struct blob_pack_result {
	char digest[BLOB_DIGEST_HEX + 1];
	uint64_t archive_bytes, content_bytes, files;
	char **warnings; size_t nwarnings;  /* lines for the job's log: a glob
	                                       that matched nothing, a FIFO
	                                       skipped, a link leading out;
	                                       owned, blob_pack_result_free */
	char err[256];                   /* on failure, for the job's log */
};

/*
 * Packs what spec names into a blob; res->digest names it.  Nothing
 * matched is not an error (an empty archive, and a warning).  -EFBIG: a
 * cap was passed (err says which, and the sizes); -ENOSPC: the disk is
 * full, nothing is kept; other -errno with err.  res is filled in every
 * case; free it with blob_pack_result_free.
 */
int blob_pack(struct blob_store *bs, const struct blob_pack_spec *spec,
	      struct blob_pack_result *res);
void blob_pack_result_free(struct blob_pack_result *res);

struct blob_unpack_spec {
	const char *root; uid_t uid; gid_t gid;  /* restored files belong to
	                                            uid:gid */
	bool keep_existing;              /* never overwrite what is there
	                                    (restore what is missing) */
	uint64_t max_bytes, max_files;   /* caps against a hostile archive;
	                                    0: BLOB_UNPACK_MAX_* */
};

struct blob_unpack_result {
	uint64_t content_bytes, files, kept_existing;
	char err[256];
};

/*
 * The SHA-256 (hex, into digest_out: BLOB_DIGEST_HEX + 1 bytes) over the
 * files patterns name beneath root, as a cache key's `files`: each path
 * and its contents in sorted order, found by the same walk as a pack (so
 * the same globs, and never a file outside root; a symlink counts by its
 * target's text).  A pattern that matched nothing or an entry left out is
 * a warning in res (free with blob_pack_result_free); nothing matched is
 * the digest of nothing.  Past BLOB_HASH_MAX_FILES: -EFBIG.  0 or -errno
 * with res->err.
 */
#define BLOB_HASH_MAX_FILES 100000ULL
int blob_hash_files(const char *root, const char *const *patterns,
		    char *digest_out, struct blob_pack_result *res);

/*
 * Restores the blob into spec->root (which must exist).  -ENOENT: no such
 * blob; -EBADMSG: digest mismatch or a corrupt archive (the blob is
 * removed); -EXDEV: an entry climbing out (absolute, `..`, through a
 * symlink, a hard link to what the archive did not make) was refused
 * (err names it); -EPERM: a device or FIFO entry; -EFBIG: a cap passed.
 * On failure what was restored before it stays.
 */
int blob_unpack(struct blob_store *bs, const char *digest,
		const struct blob_unpack_spec *spec,
		struct blob_unpack_result *res);
/*
 * The same for an archive in the file at path, with no digest to check
 * and nothing removed on -EBADMSG: for archives that are not in a store
 * (tests, the fuzzer).
 */
int blob_unpack_file(const char *path, const struct blob_unpack_spec *spec,
		     struct blob_unpack_result *res);

/*
 * An open, digest-named blob for streaming (API download): holds a shared
 * lock until blob_reader_close, so blob_collect never deletes a blob
 * being read.  *fd (owned by the reader, positioned at 0) and *size are
 * valid until blob_reader_close.  -ENOENT if there is no such blob (or
 * it is being removed).  Never waits for a lock: an open and an fstat,
 * cheap enough for an event loop.
 */
struct blob_reader;
int blob_reader_open(struct blob_store *bs, const char *digest,
		     struct blob_reader **out, int *fd, uint64_t *size);
void blob_reader_close(struct blob_reader *r);

/* One regular file of an archive blob to out_fd (`?path=`), after the
 * digest is verified: -ENOENT if not in it, -EISDIR if it is there but
 * not a regular file (a directory, a link), -EBADMSG as blob_unpack. */
int blob_extract_one(struct blob_store *bs, const char *digest,
		     const char *path, int out_fd);

/*
 * Removes blobs for which referenced() is false, and temporary files
 * older than an hour, never one a reader or unpacker holds (skipped), nor
 * a blob written or reused within the last hour (its metadata may not be
 * stored yet).  Adds what it removed to *removed_bytes and
 * *removed_count (either may be NULL).  referenced() is called on this
 * thread.
 */
int blob_collect(struct blob_store *bs,
		 bool (*referenced)(void *arg, const char *digest), void *arg,
		 uint64_t *removed_bytes, uint64_t *removed_count);
/* -EBUSY if held by a reader, -ENOENT if absent. */
int blob_remove(struct blob_store *bs, const char *digest);
/* Bytes and count of the blobs (temporary files not included). */
int blob_usage(struct blob_store *bs, uint64_t *bytes, uint64_t *count);

#endif
