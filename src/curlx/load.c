/*
 * libcurl's entry points, forwarded to libcurl.so.4 opened on first use
 * (include/pipewright/curlx.h says why pipewright is not linked with it).
 *
 * Each function below has the name and prototype <curl/curl.h> gives it,
 * so callers are written against libcurl as usual and the linker finds
 * these.  Each one opens the library if it is not open yet and calls the
 * real function through the table `api`; if the library cannot be
 * opened, each fails the way libcurl fails when it cannot start
 * (CURLE_FAILED_INIT, a NULL handle, CURLM_BAD_HANDLE), so no caller
 * meets a case libcurl itself could not return.
 *
 * `api` and the error are the process-wide state of a library (as
 * docs/STYLE.md allows): written once under pthread_once by load(), read
 * only after.  dlsym on the library's own handle finds libcurl's
 * definitions, never these, even in a program that also links libcurl.
 *
 * The variadic ones (curl_easy_setopt, curl_multi_setopt,
 * curl_easy_getinfo) forward their one argument by its type, which the
 * option's number encodes (CURLOPTTYPE_* ranges of 10000).
 */
#define CURL_DISABLE_TYPECHECK 1

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "pipewright/curlx.h"

#define CURLX_DEFAULT "libcurl.so.4"

typedef void (*curlx_fn)(void);

struct api {
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	char *(*easy_escape)(CURL *, const char *, int);
	void (*free)(void *);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
	CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLU *(*url)(void);
	void (*url_cleanup)(CURLU *);
	CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
	CURLUcode (*url_get)(CURLU *, CURLUPart, char **, unsigned int);
#if LIBCURL_VERSION_NUM >= 0x075000 /* 7.80 */
	const char *(*url_strerror)(CURLUcode);
#endif
};

static const struct {
	const char *name;
	size_t off;
} syms[] = {
#define SYM(f) {"curl_" #f, offsetof(struct api, f)}
	SYM(global_init), SYM(global_cleanup), SYM(easy_init),
	SYM(easy_cleanup), SYM(easy_reset), SYM(easy_perform),
	SYM(easy_setopt), SYM(easy_getinfo), SYM(easy_strerror),
	SYM(easy_escape), SYM(free), SYM(multi_init), SYM(multi_cleanup),
	SYM(multi_add_handle), SYM(multi_remove_handle), SYM(multi_setopt),
	SYM(multi_assign), SYM(multi_socket_action), SYM(multi_info_read),
	SYM(slist_append), SYM(slist_free_all), SYM(url), SYM(url_cleanup),
	SYM(url_set), SYM(url_get),
#if LIBCURL_VERSION_NUM >= 0x075000
	SYM(url_strerror),
#endif
#undef SYM
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct api api;
static atomic_bool loaded;
static char why_buf[512];

static void
load(void)
{
	const char *name = getenv("PIPEWRIGHT_LIBCURL");
	struct api a;
	void *h, *p;
	size_t i;

	if (name == NULL || *name == '\0')
		name = CURLX_DEFAULT;
	/*
	 * RTLD_NODELETE: never unmapped, its TLS libraries keep state per
	 * thread.  RTLD_LOCAL: its symbols do not answer other lookups.
	 */
	h = dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (h == NULL) {
		const char *e = dlerror();

		snprintf(why_buf, sizeof(why_buf), "cannot load libcurl (%s): %s",
			 name, e != NULL ? e : "unknown error");
		return;
	}
	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		if ((p = dlsym(h, syms[i].name)) == NULL) {
			snprintf(why_buf, sizeof(why_buf), "cannot load libcurl "
				 "(%s): it has no %s", name, syms[i].name);
			dlclose(h);
			return;
		}
		/* POSIX: a function's address from dlsym fits a void *. */
		*(void **)(void *)((char *)&a + syms[i].off) = p;
	}
	api = a;
	atomic_store(&loaded, true);
}

static bool
ready(void)
{
	pthread_once(&once, load);
	return loaded;
}

int
curlx_load(const char **why)
{
	if (ready())
		return 0;
	if (why != NULL)
		*why = why_buf;
	return -ENOENT;
}

bool
curlx_loaded(void)
{
	return atomic_load(&loaded);
}

CURLcode
curl_global_init(long flags)
{
	return ready() ? api.global_init(flags) : CURLE_FAILED_INIT;
}

void
curl_global_cleanup(void)
{
	if (ready())
		api.global_cleanup();
}

CURL *
curl_easy_init(void)
{
	return ready() ? api.easy_init() : NULL;
}

void
curl_easy_cleanup(CURL *e)
{
	if (e != NULL && ready())
		api.easy_cleanup(e);
}

void
curl_easy_reset(CURL *e)
{
	if (e != NULL && ready())
		api.easy_reset(e);
}

CURLcode
curl_easy_perform(CURL *e)
{
	return ready() ? api.easy_perform(e) : CURLE_FAILED_INIT;
}

CURLcode
curl_easy_setopt(CURL *e, CURLoption opt, ...)
{
	CURLcode rc;
	va_list ap;

	if (!ready())
		return CURLE_FAILED_INIT;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = api.easy_setopt(e, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		rc = api.easy_setopt(e, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = api.easy_setopt(e, opt, va_arg(ap, curlx_fn));
	else if (opt < CURLOPTTYPE_BLOB)
		rc = api.easy_setopt(e, opt, va_arg(ap, curl_off_t));
	else
		rc = api.easy_setopt(e, opt, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode
curl_easy_getinfo(CURL *e, CURLINFO info, ...)
{
	CURLcode rc;
	va_list ap;

	if (!ready())
		return CURLE_FAILED_INIT;
	/* Every CURLINFO_* takes a pointer to where its value goes. */
	va_start(ap, info);
	rc = api.easy_getinfo(e, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

const char *
curl_easy_strerror(CURLcode c)
{
	return ready() ? api.easy_strerror(c) : why_buf;
}

char *
curl_easy_escape(CURL *e, const char *s, int len)
{
	return ready() ? api.easy_escape(e, s, len) : NULL;
}

void
curl_free(void *p)
{
	/* Nothing came from libcurl if it is not open. */
	if (p != NULL && ready())
		api.free(p);
}

CURLM *
curl_multi_init(void)
{
	return ready() ? api.multi_init() : NULL;
}

CURLMcode
curl_multi_cleanup(CURLM *m)
{
	return ready() ? api.multi_cleanup(m) : CURLM_BAD_HANDLE;
}

CURLMcode
curl_multi_add_handle(CURLM *m, CURL *e)
{
	return ready() ? api.multi_add_handle(m, e) : CURLM_BAD_HANDLE;
}

CURLMcode
curl_multi_remove_handle(CURLM *m, CURL *e)
{
	return ready() ? api.multi_remove_handle(m, e) : CURLM_BAD_HANDLE;
}

CURLMcode
curl_multi_setopt(CURLM *m, CURLMoption opt, ...)
{
	CURLMcode rc;
	va_list ap;

	if (!ready())
		return CURLM_BAD_HANDLE;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = api.multi_setopt(m, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		rc = api.multi_setopt(m, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = api.multi_setopt(m, opt, va_arg(ap, curlx_fn));
	else
		rc = api.multi_setopt(m, opt, va_arg(ap, curl_off_t));
	va_end(ap);
	return rc;
}

CURLMcode
curl_multi_assign(CURLM *m, curl_socket_t fd, void *p)
{
	return ready() ? api.multi_assign(m, fd, p) : CURLM_BAD_HANDLE;
}

CURLMcode
curl_multi_socket_action(CURLM *m, curl_socket_t fd, int ev, int *running)
{
	return ready() ? api.multi_socket_action(m, fd, ev, running) :
			 CURLM_BAD_HANDLE;
}

CURLMsg *
curl_multi_info_read(CURLM *m, int *left)
{
	return ready() ? api.multi_info_read(m, left) : NULL;
}

struct curl_slist *
curl_slist_append(struct curl_slist *l, const char *s)
{
	return ready() ? api.slist_append(l, s) : NULL;
}

void
curl_slist_free_all(struct curl_slist *l)
{
	if (l != NULL && ready())
		api.slist_free_all(l);
}

CURLU *
curl_url(void)
{
	return ready() ? api.url() : NULL;
}

void
curl_url_cleanup(CURLU *u)
{
	if (u != NULL && ready())
		api.url_cleanup(u);
}

CURLUcode
curl_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags)
{
	return ready() ? api.url_set(u, what, part, flags) :
			 CURLUE_BAD_HANDLE;
}

CURLUcode
curl_url_get(CURLX_URL_GET_CONST CURLU *u, CURLUPart what, char **part,
	     unsigned int flags)
{
	/* Its older prototype takes the handle without const. */
	return ready() ? api.url_get((CURLU *)u, what, part, flags) :
			 CURLUE_BAD_HANDLE;
}

#if LIBCURL_VERSION_NUM >= 0x075000
const char *
curl_url_strerror(CURLUcode c)
{
	return ready() ? api.url_strerror(c) : why_buf;
}
#endif
