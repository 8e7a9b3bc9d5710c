/*
 * What the image module's files share: the layout read after skopeo's
 * copy, the layer scan, and the cache directory's files (root.c).
 *
 * The cache directory:
 *   roots/<hex>/rootfs       the unpacked root (umoci's bundle)
 *   roots/<hex>/image.json   our record: digest, Env, WorkingDir, User
 *   roots/<hex>/size         bytes of the root, for the quota
 *   roots/<hex>.lock         shared flock while a job uses the root; its
 *                            mtime is the last use
 *   sources/<hex>            the manifest hex a reference's raw manifest
 *                            (skopeo inspect --raw) resolved to, so that a
 *                            cached image costs one inspect, no copy
 *   tmp/<n>/                 a prepare under way (layout, bundle)
 */
#ifndef PIPEWRIGHT_IMAGE_INT_H
#define PIPEWRIGHT_IMAGE_INT_H

#include "pipewright/image.h"

#define IMAGE_HEX 64
#define IMAGE_MAX_LAYERS 256

struct image_layer {
	char *path;                 /* the blob in the layout, owned */
	char hex[IMAGE_HEX + 1];
	size_t index, count;
};

/* An image's manifest and config, as read from a layout. */
struct image_meta {
	char hex[IMAGE_HEX + 1];    /* the manifest's digest */
	char **env;                 /* NULL-terminated, owned */
	char *workdir, *user;       /* owned or NULL */
	struct image_layer *layers; /* owned */
	size_t nlayers;
};
void image_meta_free(struct image_meta *m);

/*
 * The scan keeps every name an image makes; their bytes in all are
 * capped (a distribution's image holds a few MB of names).
 */
#define IMAGE_SCAN_NAME_BYTES (256ULL << 20)
/* Blocking, worker threads. */
int image_scan_layers(const struct image_layer *layers, size_t n,
		      uint64_t max_name_bytes, char **err);
int image_layout_read(const char *layout, struct image_meta *m, char **err);
void image_sha256_hex(const void *data, size_t len, char hex[IMAGE_HEX + 1]);
/* The manifest hex a source digest resolved to before; -ENOENT if none. */
int image_source_get(const char *dir, const char *src_hex,
		     char hex[IMAGE_HEX + 1]);
void image_source_put(const char *dir, const char *src_hex, const char *hex);
/*
 * Holds the root <hex> (a shared flock; *fd) and reads its record into m
 * (no layers).  -ENOENT if there is no complete root of that name.
 */
int image_root_hold(const char *dir, const char *hex, int *fd,
		    struct image_meta *m);
/* Moves an unpacked bundle into roots/<m->hex> with its record and size;
 * an equal root already there is kept (and the bundle removed). */
int image_root_commit(const char *dir, const char *bundle,
		      const struct image_meta *m, char **err);

#endif
