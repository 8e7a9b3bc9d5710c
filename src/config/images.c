/*
 * `images`: where unpacked image roots are cached, how many bytes they may
 * take, and the registries that need something said about them (plain
 * http, credentials).  Credentials stay in a file of their own, in the
 * containers-auth.json format skopeo reads with --authfile, so that they
 * are never on a command line or in this file.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config-int.h"

#define DEFAULT_QUOTA (20ULL << 30)
#define MAX_REGISTRIES 64

struct cf_images {
	char *dir;                 /* owned; NULL: <data_dir>/images */
	uint64_t quota;
	struct config_image_registry *regs; /* owned strings */
	size_t nregs;
};

struct cf_registry {
	char *host;
	bool insecure;
	char *authfile;
};

#define I(field) offsetof(struct cf_images, field)
#define R(field) offsetof(struct cf_registry, field)

static void key_registries(struct cf_walk *w, const struct cf_key *row,
			   const struct ynode *key, const struct ynode *val);

static void
key_host(struct cf_walk *w, const struct cf_key *row, const struct ynode *key,
	 const struct ynode *val)
{
	struct cf_registry *r = w->target;
	const char *s = yamlnode_string(&w->y, val, row->k.expected,
					row->k.name);

	(void)key;
	if (s == NULL)
		return;
	if (*s == '\0' || strpbrk(s, "/ \t@") != NULL) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "invalid registry host '%s'%s; expected a "
				 "host[:port] such as registry.example.com:5000",
				 CQ(w, s), w->y.where);
		s = "";   /* said: not "no 'host'" as well */
	}
	free(r->host);
	r->host = xstrdup(s);
}

static const struct cf_key registry_rows[] = {
	{{"host", YN_SCALAR, "a host[:port]"}, key_host, 0, 0, 0},
	{{"insecure", YN_SCALAR, "a boolean"}, config_key_bool, R(insecure), 0, 0},
	{{"authfile", YN_SCALAR, "a file name"}, config_key_path, R(authfile), 0, 0},
};
static const struct yamlnode_table registry_keys = CF_TABLE(registry_rows);

static const struct cf_key images_rows[] = {
	{{"dir", YN_SCALAR, "a directory"}, config_key_path, I(dir), 0, 0},
	{{"quota", YN_SCALAR, "a size such as 20G"}, config_key_size, I(quota),
	 1 << 20, 1ULL << 50},
	{{"registries", YN_SEQ, "a list of {host, insecure, authfile}"},
	 key_registries, 0, 0, 0},
};
static const struct yamlnode_table images_keys = CF_TABLE(images_rows);

static void
key_registries(struct cf_walk *w, const struct cf_key *row,
	       const struct ynode *key, const struct ynode *val)
{
	struct cf_images *im = w->target;
	size_t i;

	(void)row;
	(void)key;
	if (val->count > MAX_REGISTRIES) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "%zu registries%s; at most %d", val->count,
				 w->y.where, MAX_REGISTRIES);
		return;
	}
	im->regs = xcalloc(val->count + 1, sizeof(*im->regs));
	for (i = 0; i < val->count; i++) {
		const struct ynode *it = val->items[i];
		struct cf_registry r = {0};

		if (!yamlnode_visit(&w->y, it))
			return;
		if (it->kind != YN_MAP) {
			yamlnode_type_error(&w->y, it, "a mapping {host, "
					    "insecure, authfile}",
					    "registries");
			continue;
		}
		config_walk_map(w, it, &registry_keys, &r);
		w->target = im;
		if (r.host == NULL || r.host[0] == '\0') {
			if (r.host == NULL)
				yamlnode_problem(&w->y, it->line, it->column,
						 "a registry%s has no 'host'",
						 w->y.where);
			free(r.host);
			free(r.authfile);
			continue;
		}
		im->regs[im->nregs++] = (struct config_image_registry){
			.host = r.host, .insecure = r.insecure,
			.authfile = r.authfile,
		};
	}
}

void
config_key_images(struct cf_walk *w, const struct cf_key *row,
		  const struct ynode *key, const struct ynode *val)
{
	const char *saved = w->y.where;

	(void)row;
	(void)key;
	config_images_free(w->c->images);
	w->c->images = xcalloc(1, sizeof(*w->c->images));
	w->c->images->quota = DEFAULT_QUOTA;
	w->y.where = " in 'images'";
	config_walk_map(w, val, &images_keys, w->c->images);
	w->y.where = saved;
}

void
config_images_free(struct cf_images *im)
{
	size_t i;

	if (im == NULL)
		return;
	for (i = 0; i < im->nregs; i++) {
		free((char *)im->regs[i].host);
		free((char *)im->regs[i].authfile);
	}
	free(im->regs);
	free(im->dir);
	free(im);
}

void
config_images(const struct config *c, struct config_images *out)
{
	const struct cf_images *im = c->images;

	*out = (struct config_images){
		.dir = im != NULL ? im->dir : NULL,
		.quota = im != NULL ? im->quota : DEFAULT_QUOTA,
		.registries = im != NULL ? im->regs : NULL,
		.nregistries = im != NULL ? im->nregs : 0,
	};
}
