/*
 * libFuzzer target for the HTTP server's client address (src/http/peer.c):
 * http_net_parse on trusted_proxies entries and http_peer_client on
 * X-Forwarded-For chains.  The input is lines: the peer's address, then
 * the trusted networks up to an empty line, then one X-Forwarded-For
 * header value per line.  A network that parses must have a family and a
 * prefix that fit, and read back the same from its canonical text.  The
 * client must be the peer when the peer is not trusted, and otherwise the
 * peer or an address in canonical form (what the per-address cap and the
 * failed-authentication table compare), never a header's raw text.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http-int.h"

#define MAX_LINES 16

/* A parsed network survives its canonical text unchanged. */
static void
check_net(const char *s)
{
	struct http_net a, b;
	char text[INET6_ADDRSTRLEN + 8];
	size_t n;
	int rc = http_net_parse(s, &a);

	if (rc < 0)
		return;
	if (rc != 0 || (a.family != AF_INET && a.family != AF_INET6) ||
	    a.prefix > (a.family == AF_INET ? 32u : 128u))
		abort();
	if (inet_ntop(a.family, a.addr, text, INET6_ADDRSTRLEN) == NULL)
		abort();
	n = strlen(text);
	snprintf(text + n, sizeof(text) - n, "/%u", a.prefix);
	if (http_net_parse(text, &b) != 0 || b.family != a.family ||
	    b.prefix != a.prefix || memcmp(a.addr, b.addr, 16) != 0)
		abort();
}

/* Whether s is an address in the form http_peer_name gives. */
static int
canonical(const char *s)
{
	struct http_net a;
	char text[INET6_ADDRSTRLEN];

	if (strchr(s, '/') != NULL || http_net_parse(s, &a) != 0)
		return 0;
	inet_ntop(a.family, a.addr, text, sizeof(text));
	return strcmp(text, s) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_server *srv; /* no loop needed, kept for the run */
	char *text, *lines[MAX_LINES], *p, *nl;
	const char *nets[MAX_LINES];
	struct http_kv kv[MAX_LINES];
	struct http_kvs headers;
	char out[48];
	size_t nlines = 0, nnets = 0, i;
	int rc, bad = 0;

	if (srv == NULL &&
	    http_server_create(NULL, NULL, NULL, 0, NULL, &srv) != 0)
		abort();
	text = malloc(size + 1);
	if (text == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	for (p = text; nlines < MAX_LINES; p = nl + 1) {
		lines[nlines++] = p;
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		*nl = '\0';
	}
	for (i = 1; i < nlines && lines[i][0] != '\0'; i++) {
		nets[nnets] = lines[i];
		check_net(nets[nnets]);
		bad |= http_net_parse(nets[nnets], &(struct http_net){0}) != 0;
		nnets++;
	}
	rc = http_server_set_trusted_proxies(srv, nets, nnets);
	if ((rc == 0) == (bad != 0))
		abort();
	if (rc != 0 && http_server_set_trusted_proxies(srv, NULL, 0) != 0)
		abort();
	headers.items = kv;
	headers.count = 0;
	headers.cap = MAX_LINES;
	for (i++; i < nlines; i++) {
		kv[headers.count].name = "X-Forwarded-For";
		kv[headers.count].value = lines[i];
		headers.count++;
	}

	http_peer_client(srv, lines[0], &headers, out, sizeof(out));
	if (memchr(out, '\0', sizeof(out)) == NULL)
		abort();
	if (!http_peer_trusted(srv, lines[0])) {
		if (strncmp(out, lines[0], sizeof(out) - 1) != 0)
			abort(); /* an untrusted peer names no one else */
	} else if (strcmp(out, lines[0]) != 0 && !canonical(out)) {
		abort();
	}
	free(text);
	return 0;
}
