/*
 * image: a job's root file system from an OCI image.
 *
 * A reference (`registry.example.com/rust:1.80`, `oci:/srv/images/tools:t`,
 * `docker-archive:/srv/images/x.tar`) is resolved by skopeo into an OCI
 * layout of our own, every layer is read once with libarchive before
 * anything is written (names that climb out or are absolute, entries
 * written through a link, links that climb out, device nodes: refused,
 * naming the image, the layer and the entry), and umoci unpacks it.  The
 * result is a root named by the manifest's digest under
 * <dir>/roots/<hex>/rootfs, shared by every job that uses that image and
 * never written again.
 *
 * Processes (skopeo, umoci) are started only through exec's helper spawn;
 * the blocking work (hashing, the layer scan, sizes, removal) runs in
 * worker threads.  Concurrent prepares of one reference are one prepare.
 * A prepared root is held by a shared flock on <dir>/roots/<hex>.lock until
 * image_use_release(); collection (over the quota, least recently used
 * first) takes an exclusive lock without waiting, so it never removes a
 * root in use, in this process or another.
 *
 * image_ref_parse() is pure and may be used anywhere (the pipeline's
 * validation uses it).  Everything else runs on the loop thread.
 */
#ifndef PIPEWRIGHT_IMAGE_H
#define PIPEWRIGHT_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "pipewright/util.h"

struct exec;
struct image_cache;
struct image_use;

#define IMAGE_REF_MAX 1024

enum image_transport {
	IMAGE_REGISTRY,        /* docker://, or a bare reference */
	IMAGE_OCI,             /* oci:PATH[:TAG] */
	IMAGE_DOCKER_ARCHIVE,  /* docker-archive:PATH[:REF] */
};

/* A parsed reference; image_ref_free. */
struct image_ref {
	enum image_transport transport;
	char *source;          /* skopeo's name for it, owned */
	char *registry;        /* host[:port] of a registry reference
	                          ("docker.io" when none is written), owned;
	                          NULL for local transports */
};

/*
 * Parses `s` as written in a pipeline.  0, or -EINVAL with *err (caller
 * frees) saying what was expected.  Local transports need an absolute
 * path (a job must not name files relative to the daemon's directory).
 */
int image_ref_parse(const char *s, struct image_ref *out, char **err);
void image_ref_free(struct image_ref *r);

/* A registry the admin configured. */
struct image_registry {
	const char *host;      /* host[:port], as references write it */
	bool insecure;         /* plain http or an unverified certificate */
	const char *authfile;  /* containers-auth.json for skopeo's
	                          --authfile (credentials never in argv);
	                          NULL: none */
};

struct image_options {
	const char *dir;       /* the cache; made (0700) if missing */
	uint64_t quota;        /* bytes of unpacked roots kept; 0: no limit */
	const struct image_registry *registries;  /* copied */
	size_t nregistries;
	uint64_t timeout_ms;   /* per skopeo or umoci run; 0: 30 minutes */
	const char *const *env; /* the helpers' environment (PATH); NULL: ours */
};

/* What a prepared image gives a job; valid until image_use_release. */
struct image_info {
	const char *ref;       /* as written */
	const char *digest;    /* "sha256:<hex>" of the manifest */
	const char *rootfs;    /* absolute path of the root */
	const char *const *env;  /* the image's Env, "K=V", NULL-terminated */
	const char *workdir;   /* the image's WorkingDir, or NULL */
	const char *user;      /* the image's User ("1000", "1000:1000", a
	                          name), or NULL */
	bool pulled;           /* true: made now; false: it was in the cache */
	bool joined;           /* this prepare joined one already under way
	                          (each pull has one use without it) */
};

int image_cache_create(uv_loop_t *loop, struct exec *exec,
		       const struct image_options *opts,
		       struct image_cache **out) PW_WUR;
/* Only when image_cache_active() is 0; uses already handed out stay valid. */
void image_cache_destroy(struct image_cache *c);
/* Prepares not yet answered. */
size_t image_cache_active(const struct image_cache *c);
/* Takes effect for the next prepares. */
int image_cache_set_options(struct image_cache *c,
			    const struct image_options *opts) PW_WUR;

/*
 * cb gets rc 0 and a use (caller releases), or rc < 0 and `err`, a line
 * for people naming the image and the reason (valid during the call).
 * cb always runs, later, from the loop, never inside this call.
 */
typedef void (*image_prepare_cb)(int rc, const char *err,
				 struct image_use *use, void *arg);
void image_prepare(struct image_cache *c, const char *ref,
		   image_prepare_cb cb, void *arg);
/*
 * Holds the cached root of `digest` ("sha256:<hex>") again, for a job
 * that was started with it by an earlier process (a restart): 0 and *out
 * (caller releases), -ENOENT if the cache has no such root (collected),
 * -EINVAL for a bad digest.  Blocks only while a collection renames that
 * very root away (an instant): fine on the loop.
 */
int image_hold(struct image_cache *c, const char *ref, const char *digest,
	       struct image_use **out) PW_WUR;
const struct image_info *image_use_info(const struct image_use *u);
/* Lets go of the root (its flock); NULL is a no-op. */
void image_use_release(struct image_use *u);

/*
 * Removes roots not in use, least recently used first, until the roots
 * take at most `quota` bytes (0: removes every unused root).  Blocks:
 * worker threads only.  Returns the bytes removed, or -errno.
 */
int64_t image_collect(const char *dir, uint64_t quota);

#endif
