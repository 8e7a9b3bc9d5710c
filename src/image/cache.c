/*
 * A prepare, from a reference to a held root, as a chain of steps that
 * alternate between the loop (skopeo and umoci through exec's helper
 * spawn) and worker threads (hashing, the layer scan, moving and
 * measuring trees, collection):
 *
 *   inspect (skopeo inspect --raw)  → lookup: a root this raw manifest
 *   resolved to before is held and answered "cached" (one inspect, no
 *   copy) → copy (skopeo copy into tmp/<n>/layout) → scan (the layout's
 *   manifest and config read, every layer checked, scan.c) → unpack
 *   (umoci) → commit (renamed into roots/, held, the quota collected) →
 *   end (tmp/<n> removed) → every waiter answered.
 *
 * Prepares of one reference while one is under way join it (a flight):
 * one pull, however many jobs start with that image at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipewright/exec.h"
#include "image-int.h"

#define RAW_MAX (4 << 20)
#define OUT_MAX (64 << 10)
#define DEFAULT_TIMEOUT_MS (30ULL * 60 * 1000)

struct registry {
	char *host, *authfile;
	bool insecure;
};

struct image_cache {
	uv_loop_t *loop;
	struct exec *exec;
	char *dir;                  /* owned */
	uint64_t quota, timeout_ms;
	struct registry *regs;      /* owned */
	size_t nregs;
	char **env;                 /* the helpers', owned; NULL: ours */
	struct flight *flights;     /* under way */
	size_t active;
	unsigned seq;
};

struct waiter {
	image_prepare_cb cb;
	void *arg;
	struct waiter *next;
};

enum step { W_LOOKUP, W_SCAN, W_COMMIT, W_END };

struct flight {
	struct image_cache *c;
	char *ref;                  /* as written, owned */
	struct image_ref r;
	struct waiter *waiters;
	char *dir;                  /* the cache dir at the start, owned */
	uint64_t quota;
	char *authfile;             /* owned or NULL */
	bool insecure;
	char *raw;                  /* inspect's output, owned */
	size_t rawlen;
	char *tmp;                  /* tmp/<n>, owned; NULL: none made */
	struct image_meta m;
	int fd;                     /* the held root's lock, or -1 */
	bool pulled;
	int rc;
	char *err;                  /* for people, owned */
	enum step step;
	uv_work_t work;
	struct flight *next;
};

struct image_use {
	struct image_info info;
	struct image_meta m;
	char *ref, *digest, *rootfs;
	int fd;
};

static void step_queue(struct flight *f, enum step s);
static struct image_use *use_new(const char *dir, const char *ref,
				 const struct image_meta *m, int fd,
				 bool pulled, bool joined);

static void
registries_set(struct image_cache *c, const struct image_options *o)
{
	size_t i;

	for (i = 0; i < c->nregs; i++) {
		free(c->regs[i].host);
		free(c->regs[i].authfile);
	}
	free(c->regs);
	c->regs = xcalloc(o->nregistries + 1, sizeof(*c->regs));
	for (i = 0; i < o->nregistries; i++) {
		c->regs[i].host = xstrdup(o->registries[i].host);
		c->regs[i].authfile = o->registries[i].authfile != NULL ?
			xstrdup(o->registries[i].authfile) : NULL;
		c->regs[i].insecure = o->registries[i].insecure;
	}
	c->nregs = o->nregistries;
}

static char **
strv_dup(const char *const *v)
{
	size_t n = 0, i;
	char **out;

	if (v == NULL)
		return NULL;
	while (v[n] != NULL)
		n++;
	out = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

int
image_cache_set_options(struct image_cache *c, const struct image_options *o)
{
	if (o->dir == NULL || o->dir[0] != '/')
		return -EINVAL;
	free(c->dir);
	c->dir = xstrdup(o->dir);
	c->quota = o->quota;
	c->timeout_ms = o->timeout_ms != 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	registries_set(c, o);
	pw_strv_free(c->env);
	c->env = strv_dup(o->env);
	return 0;
}

int
image_cache_create(uv_loop_t *loop, struct exec *exec,
		   const struct image_options *opts, struct image_cache **out)
{
	struct image_cache *c = xcalloc(1, sizeof(*c));
	int rc;

	c->loop = loop;
	c->exec = exec;
	rc = image_cache_set_options(c, opts);
	if (rc < 0) {
		image_cache_destroy(c);
		return rc;
	}
	*out = c;
	return 0;
}

void
image_cache_destroy(struct image_cache *c)
{
	struct image_options none = {0};

	if (c == NULL)
		return;
	registries_set(c, &none);
	free(c->regs);
	pw_strv_free(c->env);
	free(c->dir);
	free(c);
}

size_t
image_cache_active(const struct image_cache *c)
{
	return c->active;
}

/* The message of skopeo's or umoci's last line (msg="..." when it has
 * one), for a reason people can read. */
static char *
last_words(const char *out, size_t len)
{
	const char *end = out + len, *start, *m;
	char *s;
	size_t n;

	while (end > out && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	for (start = end; start > out && start[-1] != '\n'; start--)
		;
	n = (size_t)(end - start);
	m = memmem(start, n, "msg=\"", 5);
	if (m != NULL) {
		start = m + 5;
		n = (size_t)(end - start);
		if (n > 0 && start[n - 1] == '"')
			n--;
	}
	if (n > 400)
		n = 400;
	s = xstrndup(start, n);
	/* Keep it one line whatever it held. */
	for (n = 0; s[n] != '\0'; n++)
		if ((unsigned char)s[n] < ' ')
			s[n] = ' ';
	return s[0] != '\0' ? s : (free(s), xstrdup("no output"));
}

static void
fail(struct flight *f, int rc, const char *what, char *detail)
{
	f->rc = rc;
	free(f->err);
	f->err = xasprintf("image '%s': %s: %s", f->ref, what,
			   detail != NULL ? detail : strerror(-rc));
	free(detail);
	step_queue(f, W_END);
}

/* ---- the steps on the loop ---- */

typedef void (*helper_done)(struct flight *f, int status, const char *out,
			    size_t len);

struct call {
	struct flight *f;
	helper_done done;
};

static void
called(int status, const char *out, size_t len, void *arg)
{
	struct call *k = arg;

	k->done(k->f, status, out, len);
	free(k);
}

static void
helper(struct flight *f, const char *const *argv, size_t max,
       helper_done done)
{
	struct call *k = xcalloc(1, sizeof(*k));
	struct exec_helper_spec spec = {
		.argv = argv,
		.env = (const char *const *)f->c->env,
		.max_output = max,
		.timeout_ms = f->c->timeout_ms,
	};
	int rc;

	k->f = f;
	k->done = done;
	rc = exec_helper_spawn(f->c->exec, &spec, called, k);
	if (rc < 0) {
		free(k);
		fail(f, rc, "cannot start a helper",
		     xasprintf("%s: %s", argv[0], uv_strerror(rc)));
	}
}

/* argv of skopeo with this image's registry options; src: copy's names. */
static size_t
skopeo_opts(const struct flight *f, const char **argv, bool copy)
{
	size_t n = 0;

	if (f->authfile != NULL) {
		argv[n++] = "--authfile";
		argv[n++] = f->authfile;
	}
	if (f->insecure)
		argv[n++] = copy ? "--src-tls-verify=false" :
				   "--tls-verify=false";
	return n;
}

static void
unpacked(struct flight *f, int status, const char *out, size_t len)
{
	if (status != 0)
		fail(f, status == -ETIMEDOUT ? -ETIMEDOUT : -EIO,
		     "cannot unpack it", last_words(out, len));
	else
		step_queue(f, W_COMMIT);
}

static void
unpack(struct flight *f)
{
	char *layout = xasprintf("%s/layout:img", f->tmp);
	char *bundle = xasprintf("%s/bundle", f->tmp);
	const char *argv[8];
	size_t n = 0;

	argv[n++] = "umoci";
	argv[n++] = "unpack";
	/* Not root (pipewright run as a developer): umoci's rootless mode. */
	if (geteuid() != 0)
		argv[n++] = "--rootless";
	argv[n++] = "--image";
	argv[n++] = layout;
	argv[n++] = bundle;
	argv[n] = NULL;
	helper(f, argv, OUT_MAX, unpacked);
	free(layout);
	free(bundle);
}

static void
copied(struct flight *f, int status, const char *out, size_t len)
{
	if (status != 0)
		fail(f, status == -ETIMEDOUT ? -ETIMEDOUT : -EIO,
		     "cannot pull it", last_words(out, len));
	else
		step_queue(f, W_SCAN);
}

static void
copy(struct flight *f)
{
	char *dest = xasprintf("oci:%s/layout:img", f->tmp);
	const char *argv[12];
	size_t n = 0;

	argv[n++] = "skopeo";
	argv[n++] = "copy";
	argv[n++] = "--quiet";
	n += skopeo_opts(f, argv + n, true);
	argv[n++] = f->r.source;
	argv[n++] = dest;
	argv[n] = NULL;
	helper(f, argv, OUT_MAX, copied);
	free(dest);
}

static void
inspected(struct flight *f, int status, const char *out, size_t len)
{
	const char *brace = memchr(out, '{', len);

	if (status != 0 || brace == NULL) {
		fail(f, status == -ETIMEDOUT ? -ETIMEDOUT : -ENOENT,
		     "cannot resolve it", last_words(out, len));
		return;
	}
	/* Warnings go to the same pipe, before the manifest. */
	f->rawlen = len - (size_t)(brace - out);
	f->raw = xstrndup(brace, f->rawlen);
	step_queue(f, W_LOOKUP);
}

static void
inspect(struct flight *f)
{
	const char *argv[12];
	size_t n = 0;

	argv[n++] = "skopeo";
	argv[n++] = "inspect";
	argv[n++] = "--raw";
	n += skopeo_opts(f, argv + n, false);
	argv[n++] = f->r.source;
	argv[n] = NULL;
	helper(f, argv, RAW_MAX, inspected);
}

/* ---- the steps in a worker ---- */

static void
lookup(struct flight *f)
{
	char src[IMAGE_HEX + 1], hex[IMAGE_HEX + 1];
	const char *subs[] = {"roots", "sources", "tmp"};
	char *p;
	size_t i;
	int rc;

	for (i = 0; i < PW_ARRAY_LEN(subs); i++) {
		p = xasprintf("%s/%s", f->dir, subs[i]);
		rc = pw_mkdirs(p, 0700);
		free(p);
		if (rc < 0) {
			f->rc = rc;
			f->err = xasprintf("image '%s': cannot make the cache "
					   "%s: %s", f->ref, f->dir,
					   strerror(-rc));
			return;
		}
	}
	image_sha256_hex(f->raw, f->rawlen, src);
	if (image_source_get(f->dir, src, hex) == 0 &&
	    image_root_hold(f->dir, hex, &f->fd, &f->m) == 0)
		return;
	f->tmp = xasprintf("%s/tmp/%ld-%u", f->dir, (long)getpid(),
			   f->c->seq);
	pw_remove_tree(f->tmp);
	rc = pw_mkdirs(f->tmp, 0700);
	if (rc < 0) {
		f->rc = rc;
		f->err = xasprintf("image '%s': cannot make %s: %s", f->ref,
				   f->tmp, strerror(-rc));
	}
}

static void
scan(struct flight *f)
{
	char *layout = xasprintf("%s/layout", f->tmp), *why = NULL;
	char src[IMAGE_HEX + 1];
	struct image_meta held;
	int rc;

	rc = image_layout_read(layout, &f->m, &why);
	free(layout);
	if (rc < 0) {
		f->rc = rc;
		f->err = xasprintf("image '%s': %s", f->ref, why);
		free(why);
		return;
	}
	image_sha256_hex(f->raw, f->rawlen, src);
	/* The same manifest under another name is in the cache already. */
	if (image_root_hold(f->dir, f->m.hex, &f->fd, &held) == 0) {
		image_source_put(f->dir, src, f->m.hex);
		image_meta_free(&f->m);
		f->m = held;
		return;
	}
	rc = image_scan_layers(f->m.layers, f->m.nlayers,
			       IMAGE_SCAN_NAME_BYTES, &why);
	if (rc < 0) {
		f->rc = rc;
		f->err = xasprintf("image '%s' refused: %s", f->ref, why);
		free(why);
	}
	f->pulled = true;
}

static void
commit(struct flight *f)
{
	char *bundle = xasprintf("%s/bundle", f->tmp), *why = NULL;
	char src[IMAGE_HEX + 1];
	struct image_meta held;
	int rc;

	rc = image_root_commit(f->dir, bundle, &f->m, &why);
	free(bundle);
	if (rc == 0)
		rc = image_root_hold(f->dir, f->m.hex, &f->fd, &held);
	if (rc < 0) {
		f->rc = rc;
		f->err = xasprintf("image '%s': %s", f->ref,
				   why != NULL ? why : strerror(-rc));
		free(why);
		return;
	}
	image_meta_free(&f->m);
	f->m = held;
	image_sha256_hex(f->raw, f->rawlen, src);
	image_source_put(f->dir, src, f->m.hex);
	/* Ours is held: collection spares it. */
	if (f->quota > 0)
		(void)image_collect(f->dir, f->quota);
}

static void
work(uv_work_t *w)
{
	struct flight *f = container_of(w, struct flight, work);

	switch (f->step) {
	case W_LOOKUP:
		lookup(f);
		break;
	case W_SCAN:
		scan(f);
		break;
	case W_COMMIT:
		commit(f);
		break;
	case W_END:
		if (f->tmp != NULL)
			pw_remove_tree(f->tmp);
		break;
	}
}

static void
answer(struct flight *f)
{
	struct image_cache *c = f->c;
	struct flight **pp;
	struct waiter *wt;

	for (pp = &c->flights; *pp != f; pp = &(*pp)->next)
		;
	*pp = f->next;
	c->active--;
	/* The first to ask is last on the list: it is the one that pulled. */
	while ((wt = f->waiters) != NULL) {
		struct image_use *u = NULL;

		f->waiters = wt->next;
		/* Each its own dup: the flock is the description's. */
		if (f->rc == 0)
			u = use_new(f->dir, f->ref, &f->m, dup(f->fd),
				    f->pulled, wt->next != NULL);
		wt->cb(f->rc, f->err, u, wt->arg);
		free(wt);
	}
	if (f->fd >= 0)
		close(f->fd);
	image_ref_free(&f->r);
	image_meta_free(&f->m);
	free(f->ref);
	free(f->dir);
	free(f->authfile);
	free(f->raw);
	free(f->tmp);
	free(f->err);
	free(f);
}

static void
after(uv_work_t *w, int status)
{
	struct flight *f = container_of(w, struct flight, work);

	(void)status;
	switch (f->step) {
	case W_LOOKUP:
		if (f->rc < 0)
			step_queue(f, W_END);
		else if (f->fd >= 0)
			step_queue(f, W_END);  /* cached */
		else
			copy(f);
		break;
	case W_SCAN:
		if (f->rc < 0 || f->fd >= 0)
			step_queue(f, W_END);
		else
			unpack(f);
		break;
	case W_COMMIT:
		step_queue(f, W_END);
		break;
	case W_END:
		answer(f);
		break;
	}
}

static void
step_queue(struct flight *f, enum step s)
{
	int rc;

	f->step = s;
	rc = uv_queue_work(f->c->loop, &f->work, work, after);
	if (rc < 0)
		abort(); /* only with a NULL callback: a broken invariant */
}

void
image_prepare(struct image_cache *c, const char *ref, image_prepare_cb cb,
	      void *arg)
{
	struct waiter *wt = xcalloc(1, sizeof(*wt));
	struct flight *f;
	char *why = NULL;
	size_t i;
	int rc;

	wt->cb = cb;
	wt->arg = arg;
	for (f = c->flights; f != NULL; f = f->next) {
		if (strcmp(f->ref, ref) == 0) {
			wt->next = f->waiters;
			f->waiters = wt;
			return;
		}
	}
	f = xcalloc(1, sizeof(*f));
	f->c = c;
	f->ref = xstrdup(ref);
	f->dir = xstrdup(c->dir);
	f->quota = c->quota;
	f->fd = -1;
	f->waiters = wt;
	f->next = c->flights;
	c->flights = f;
	c->active++;
	c->seq++;
	rc = image_ref_parse(ref, &f->r, &why);
	if (rc < 0) {
		f->rc = rc;
		f->err = why;
		step_queue(f, W_END);
		return;
	}
	for (i = 0; f->r.registry != NULL && i < c->nregs; i++) {
		if (strcmp(c->regs[i].host, f->r.registry) != 0)
			continue;
		f->authfile = c->regs[i].authfile != NULL ?
			xstrdup(c->regs[i].authfile) : NULL;
		f->insecure = c->regs[i].insecure;
	}
	inspect(f);
}

static struct image_use *
use_new(const char *dir, const char *ref, const struct image_meta *m,
	int fd, bool pulled, bool joined)
{
	struct image_use *u = xcalloc(1, sizeof(*u));

	u->fd = fd;
	u->m.env = strv_dup((const char *const *)m->env);
	u->m.workdir = m->workdir != NULL ? xstrdup(m->workdir) : NULL;
	u->m.user = m->user != NULL ? xstrdup(m->user) : NULL;
	u->ref = xstrdup(ref);
	u->digest = xasprintf("sha256:%s", m->hex);
	u->rootfs = xasprintf("%s/roots/%s/rootfs", dir, m->hex);
	u->info = (struct image_info){
		.ref = u->ref, .digest = u->digest, .rootfs = u->rootfs,
		.env = (const char *const *)u->m.env,
		.workdir = u->m.workdir, .user = u->m.user,
		.pulled = pulled, .joined = joined,
	};
	return u;
}

int
image_hold(struct image_cache *c, const char *ref, const char *digest,
	   struct image_use **out)
{
	struct image_meta m = {0};
	int fd, rc;

	*out = NULL;
	if (strncmp(digest, "sha256:", 7) != 0 ||
	    strlen(digest) != 7 + IMAGE_HEX ||
	    strspn(digest + 7, "0123456789abcdef") != IMAGE_HEX)
		return -EINVAL;
	rc = image_root_hold(c->dir, digest + 7, &fd, &m);
	if (rc < 0)
		return rc;
	*out = use_new(c->dir, ref, &m, fd, false, false);
	image_meta_free(&m);
	return 0;
}

const struct image_info *
image_use_info(const struct image_use *u)
{
	return &u->info;
}

void
image_use_release(struct image_use *u)
{
	if (u == NULL)
		return;
	if (u->fd >= 0)
		close(u->fd);
	image_meta_free(&u->m);
	free(u->ref);
	free(u->digest);
	free(u->rootfs);
	free(u);
}
