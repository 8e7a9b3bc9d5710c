/*
 * peer.c: who is on the other end of a connection.
 *
 * A connection's peer address is read once at accept and kept as text in
 * one canonical form (inet_ntop; an IPv4-mapped IPv6 address becomes the
 * IPv4 one, so that a dual-stack listener counts a client once whatever
 * family it arrived by).  Per-client limits — the connection cap here,
 * the API's slow-down of failed authentication — count an IPv6 client
 * by its /64 (http_addr_group): a subscriber is given a whole /64, and
 * counting exact addresses would give it 2^64 of them.
 *
 * Trusted proxies: a peer inside one of the server's trusted networks is
 * a reverse proxy, many clients behind one address.  Its own connections
 * are not capped per address, and the client of a request it forwards
 * is read from X-Forwarded-For: the rightmost address that is not itself
 * a trusted proxy (a proxy appends the address it saw, so everything left
 * of that the client may have written itself).  Without a usable entry
 * the client is the proxy.  Nothing here trusts X-Forwarded-For from any
 * other peer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http-int.h"

static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					   0xff, 0xff};

/* Parses an address (no prefix) into net, IPv4-mapped folded to IPv4. */
static int
addr_parse(const char *s, struct http_net *net)
{
	memset(net, 0, sizeof(*net));
	if (inet_pton(AF_INET, s, net->addr) == 1) {
		net->family = AF_INET;
		net->prefix = 32;
		return 0;
	}
	if (inet_pton(AF_INET6, s, net->addr) != 1)
		return -EINVAL;
	if (memcmp(net->addr, v4mapped, 12) == 0) {
		memmove(net->addr, net->addr + 12, 4);
		memset(net->addr + 4, 0, 12);
		net->family = AF_INET;
		net->prefix = 32;
		return 0;
	}
	net->family = AF_INET6;
	net->prefix = 128;
	return 0;
}

int
http_net_parse(const char *s, struct http_net *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	unsigned long prefix;
	char *end;
	int rc;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", s);
	if (slash != NULL)
		buf[slash - s] = '\0';
	rc = addr_parse(buf, out);
	if (rc < 0 || slash == NULL)
		return rc;
	if (slash[1] < '0' || slash[1] > '9')
		return -EINVAL;
	prefix = strtoul(slash + 1, &end, 10);
	if (*end != '\0' || prefix > out->prefix)
		return -EINVAL;
	out->prefix = (unsigned)prefix;
	return 0;
}

static bool
net_contains(const struct http_net *net, const struct http_net *a)
{
	unsigned full = net->prefix / 8, rest = net->prefix % 8;

	if (net->family != a->family)
		return false;
	if (memcmp(net->addr, a->addr, full) != 0)
		return false;
	return rest == 0 ||
	       ((net->addr[full] ^ a->addr[full]) & (0xff << (8 - rest))) == 0;
}

int
http_server_set_trusted_proxies(struct http_server *s, const char *const *nets,
				size_t n)
{
	struct http_net *v = n > 0 ? xcalloc(n, sizeof(*v)) : NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		if (http_net_parse(nets[i], &v[i]) < 0) {
			free(v);
			return -EINVAL;
		}
	}
	free(s->trusted);
	s->trusted = v;
	s->ntrusted = n;
	return 0;
}

bool
http_peer_trusted(const struct http_server *s, const char *addr)
{
	struct http_net a;
	size_t i;

	if (s->ntrusted == 0 || addr_parse(addr, &a) < 0)
		return false;
	for (i = 0; i < s->ntrusted; i++)
		if (net_contains(&s->trusted[i], &a))
			return true;
	return false;
}

void
http_peer_name(const struct sockaddr_storage *ss, char *out, size_t len)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
	const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;

	if (ss->ss_family == AF_INET6 &&
	    memcmp(in6->sin6_addr.s6_addr, v4mapped, 12) == 0)
		inet_ntop(AF_INET, in6->sin6_addr.s6_addr + 12, out,
			  (socklen_t)len);
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &in6->sin6_addr, out, (socklen_t)len);
	else if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &in4->sin_addr, out, (socklen_t)len);
	else
		snprintf(out, len, "unknown");
}

void
http_addr_group(const char *addr, char *out, size_t len)
{
	struct http_net a;
	char text[INET6_ADDRSTRLEN];

	if (addr_parse(addr, &a) < 0 || a.family != AF_INET6) {
		snprintf(out, len, "%s", addr);
		return;
	}
	memset(a.addr + 8, 0, 8);
	inet_ntop(AF_INET6, a.addr, text, sizeof(text));
	snprintf(out, len, "%s/64", text);
}

/* Whether [p, p + n) is a usable address: canonical text into out. */
static bool
xff_entry(const char *p, size_t n, char *out, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct http_net a;

	while (n > 0 && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (addr_parse(buf, &a) < 0)
		return false;
	inet_ntop(a.family, a.addr, out, (socklen_t)len);
	return true;
}

void
http_peer_client(const struct http_server *s, const char *peer,
		 const struct http_kvs *headers, char *out, size_t len)
{
	char cand[INET6_ADDRSTRLEN + 1];
	const char *v, *end;
	size_t i;

	snprintf(out, len, "%s", peer);
	if (!http_peer_trusted(s, peer))
		return;
	/* Header lines in reverse, entries right to left. */
	for (i = headers->count; i-- > 0;) {
		if (strcasecmp(headers->items[i].name, "X-Forwarded-For") != 0)
			continue;
		v = headers->items[i].value;
		end = v + strlen(v);
		while (end > v) {
			const char *comma = end;

			while (comma > v && comma[-1] != ',')
				comma--;
			if (!xff_entry(comma, (size_t)(end - comma), cand,
				       sizeof(cand)))
				return; /* a broken chain: the proxy it is */
			snprintf(out, len, "%s", cand);
			if (!http_peer_trusted(s, cand))
				return;
			end = comma > v ? comma - 1 : v;
		}
	}
}
