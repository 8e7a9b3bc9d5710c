/*
 * libcurl multi on the libuv loop (curl's docs/examples/multi-uv.c, and
 * docs/STYLE.md): curl tells us through CURLMOPT_SOCKETFUNCTION which sockets
 * to watch for what, and through CURLMOPT_TIMERFUNCTION when to call it
 * back; we watch each socket with a uv_poll_t attached to it with
 * curl_multi_assign, keep one uv_timer_t for curl's timeout, and hand
 * every event to curl_multi_socket_action.  curl never blocks: name
 * resolution runs on its own resolver thread, connects and TLS are
 * non-blocking, so the loop never waits on the network.
 *
 * curl must not be re-entered from its own callbacks, so the timer
 * callback only arms the uv timer (0 ms becomes 1 ms: curl wants to be
 * called "as soon as possible", not from inside itself); the work is done
 * from the uv callbacks, which then read the finished transfers.
 */
#include <errno.h>
#include <stdlib.h>

#include "pipewright/curlx.h"
#include "pipewright/log.h"
#include "notify-int.h"

static void
on_sock_closed(uv_handle_t *h)
{
	struct notify_sock *s = container_of((uv_poll_t *)h,
					     struct notify_sock, poll);
	struct notify *n = s->n;

	free(s);
	n->nclosing--;
	notify_maybe_free(n);
}

static void
on_timer_closed(uv_handle_t *h)
{
	struct notify *n = container_of((uv_timer_t *)h, struct notify,
					curl_timer);

	n->nclosing--;
	notify_maybe_free(n);
}

static void
sock_close(struct notify *n, struct notify_sock *s)
{
	uv_poll_stop(&s->poll);
	if (s->next != NULL)
		s->next->prevp = s->prevp;
	*s->prevp = s->next;
	n->nclosing++;
	uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

/* Every finished transfer: its answer to send.c. */
static void
read_done(struct notify *n)
{
	struct notify_req *r;
	CURLMsg *m;
	CURLcode res;
	CURL *e;
	char *p;
	int left;

	while ((m = curl_multi_info_read(n->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		/* m is gone once its handle is removed: copy first. */
		e = m->easy_handle;
		res = m->data.result;
		if (curl_easy_getinfo(e, CURLINFO_PRIVATE, &p) != CURLE_OK ||
		    p == NULL)
			continue; /* cannot be: every easy handle has one */
		r = (struct notify_req *)(void *)p;
		notify_answered(r, res);
	}
}

static void
on_poll(uv_poll_t *h, int status, int events)
{
	struct notify_sock *s = container_of(h, struct notify_sock, poll);
	struct notify *n = s->n;
	curl_socket_t fd = s->fd;
	int flags = 0, running;

	/* s may be closed by curl inside socket_action: use n and fd only. */
	if (status < 0)
		flags |= CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(n->multi, fd, flags, &running);
	read_done(n);
}

static void
on_curl_timeout(uv_timer_t *t)
{
	struct notify *n = container_of(t, struct notify, curl_timer);
	int running;

	curl_multi_socket_action(n->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	read_done(n);
}

static int
on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct notify *n = userp;
	struct notify_sock *s = socketp;
	int events = 0, rc;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			sock_close(n, s);
			if (!n->closing)
				curl_multi_assign(n->multi, fd, NULL);
		}
		return 0;
	}
	if (n->closing)
		return 0;
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->n = n;
		s->fd = fd;
		if ((rc = uv_poll_init_socket(n->loop, &s->poll, fd)) < 0) {
			log_warnx("notify.poll error=\"%s\"", uv_strerror(rc));
			free(s);
			return -1; /* curl fails the transfer */
		}
		s->next = n->socks;
		if (s->next != NULL)
			s->next->prevp = &s->next;
		s->prevp = &n->socks;
		n->socks = s;
		curl_multi_assign(n->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&s->poll, events, on_poll);
	return 0;
}

static int
on_timer(CURLM *m, long ms, void *userp)
{
	struct notify *n = userp;

	(void)m;
	if (n->closing)
		return 0;
	if (ms < 0)
		uv_timer_stop(&n->curl_timer);
	else
		uv_timer_start(&n->curl_timer, on_curl_timeout,
			       ms == 0 ? 1 : (uint64_t)ms, 0);
	return 0;
}

int
notify_curl_open(struct notify *n)
{
	const char *why;

	if (curlx_load(&why) < 0) {
		log_warnx("notify.libcurl error=\"%s\": outbound calls wait "
			  "until it can be loaded", why);
		return -ENOENT;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_warnx("notify.libcurl error=\"curl_global_init failed\"");
		return -EIO;
	}
	if ((n->multi = curl_multi_init()) == NULL) {
		curl_global_cleanup();
		log_warnx("notify.libcurl error=\"curl_multi_init failed\"");
		return -EIO;
	}
	if (curl_multi_setopt(n->multi, CURLMOPT_SOCKETFUNCTION,
			      on_socket) != CURLM_OK ||
	    curl_multi_setopt(n->multi, CURLMOPT_SOCKETDATA, n) != CURLM_OK ||
	    curl_multi_setopt(n->multi, CURLMOPT_TIMERFUNCTION,
			      on_timer) != CURLM_OK ||
	    curl_multi_setopt(n->multi, CURLMOPT_TIMERDATA, n) != CURLM_OK) {
		curl_multi_cleanup(n->multi);
		n->multi = NULL;
		curl_global_cleanup();
		log_warnx("notify.libcurl error=\"curl_multi_setopt failed\"");
		return -EIO;
	}
	uv_timer_init(n->loop, &n->curl_timer);
	n->curl_up = true;
	log_debug("notify.libcurl loaded");
	return 0;
}

void
notify_curl_close(struct notify *n)
{
	struct notify_req *r, *next;

	/*
	 * Transfers still running are abandoned: nothing is stored, so
	 * their rows stay pending and the next notify sends them again.
	 */
	for (r = n->reqs; r != NULL; r = next) {
		next = r->next;
		if (r->easy == NULL)
			continue; /* its answer is being stored */
		curl_multi_remove_handle(n->multi, r->easy);
		curl_easy_cleanup(r->easy);
		r->easy = NULL;
		if (r->next != NULL)
			r->next->prevp = r->prevp;
		*r->prevp = r->next;
		n->nreqs--;
		notify_req_free(r);
	}
	/* Cleanup may close connections and tell on_socket to remove them. */
	curl_multi_cleanup(n->multi);
	n->multi = NULL;
	while (n->socks != NULL)
		sock_close(n, n->socks);
	uv_timer_stop(&n->curl_timer);
	n->nclosing++;
	uv_close((uv_handle_t *)&n->curl_timer, on_timer_closed);
}
