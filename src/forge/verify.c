/*
 * forge_verify(): is this delivery from the forge?  Each forge proves it
 * its own way (see forge.h); what they share is that the MAC is computed
 * here over the bytes as received and compared with auth_equal(), so the
 * time a wrong signature takes says nothing about how much of it was
 * right.  Decoding the presented signature (hex, base64) before the
 * comparison is not constant-time, and need not be: it is the
 * attacker's own string.
 *
 * Gitea signs the JSON, also when it posts it as a form's `payload`
 * field (services/webhook/deliver.go), whereas GitHub signs the body as
 * sent; so for Gitea a form body is checked against both.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pipewright/auth.h"

#include "forge-int.h"

#define MAC_LEN 32
#define WHSEC_MAX 256 /* decoded key bytes; Standard Webhooks uses 24-64 */

const char *
fheader2(forge_header_fn hdr, void *harg, const char *const names[2],
	 const char **which)
{
	const char *v;
	int i;

	for (i = 0; i < 2 && names[i] != NULL; i++) {
		v = hdr(harg, names[i]);
		if (v != NULL && *v != '\0') {
			if (which != NULL)
				*which = names[i];
			return v;
		}
	}
	return NULL;
}

static int
deny(char **why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	*why = xvasprintf(fmt, ap);
	va_end(ap);
	return -EACCES;
}

static bool
mac_matches(const struct forge_secrets *s, const void *data, size_t len,
	    const unsigned char got[MAC_LEN], int *err)
{
	unsigned char want[MAC_LEN];

	if (auth_hmac_sha256(s->secret, s->secret_len, data, len, want) < 0) {
		*err = -EIO;
		return false;
	}
	return auth_equal(want, MAC_LEN, got, MAC_LEN);
}

/*
 * A hex HMAC-SHA256 of the body under s->secret in header `name`, after
 * `prefix` ("sha256=" or ""); with gitea_form, the form's payload field
 * may be what was signed.
 */
static int
check_hex(forge_header_fn hdr, void *harg, const char *const names[2],
	  const char *prefix, const char *body, size_t len,
	  const struct forge_secrets *s, bool gitea_form, char **why)
{
	unsigned char got[MAC_LEN];
	const char *v, *which = names[0];
	char *json = NULL;
	size_t plen = strlen(prefix), jlen;
	bool ok;
	int err = 0;

	if ((v = fheader2(hdr, harg, names, &which)) == NULL)
		return deny(why, "no %s header", names[0]);
	if (strncmp(v, prefix, plen) != 0 ||
	    !pw_hex_decode(v + plen, strlen(v + plen), got, MAC_LEN))
		return deny(why, "%s is not %s<64 hex digits>", which, prefix);
	ok = mac_matches(s, body, len, got, &err);
	if (!ok && err == 0 && gitea_form &&
	    fform_field(body, len, "payload", &json, &jlen) == 0) {
		ok = mac_matches(s, json, jlen, got, &err);
		free(json);
	}
	if (err < 0) {
		(void)deny(why, "HMAC-SHA256 failed");
		return err;
	}
	return ok ? 0 : deny(why, "%s does not match", which);
}

/* The Standard Webhooks signature GitLab sends when it signs. */
static int
check_signed(forge_header_fn hdr, void *harg, const char *body, size_t len,
	     const struct forge_secrets *s, uint64_t now_ms, char **why)
{
	const char *id = hdr(harg, "webhook-id");
	const char *ts = hdr(harg, "webhook-timestamp");
	const char *sig = hdr(harg, "webhook-signature");
	const char *key64 = s->signing_secret, *t, *end;
	unsigned char key[WHSEC_MAX], want[MAC_LEN], got[MAC_LEN + 1];
	uint64_t sec = 0, ts_ms;
	struct buf msg;
	bool ok = false;
	long klen;
	int rc;

	if (id == NULL || *id == '\0')
		return deny(why, "no webhook-id header");
	if (ts == NULL || *ts == '\0')
		return deny(why, "no webhook-timestamp header");
	for (t = ts; *t != '\0'; t++) {
		if (*t < '0' || *t > '9' || t - ts >= 12)
			return deny(why, "webhook-timestamp is not a number "
				    "of seconds");
		sec = sec * 10 + (uint64_t)(*t - '0');
	}
	ts_ms = sec * 1000;
	if (now_ms > ts_ms + FORGE_TIMESTAMP_TOLERANCE_MS)
		return deny(why, "stale webhook-timestamp: %llu s old",
			    (unsigned long long)((now_ms - ts_ms) / 1000));
	if (ts_ms > now_ms + FORGE_TIMESTAMP_TOLERANCE_MS)
		return deny(why, "webhook-timestamp is %llu s in the future",
			    (unsigned long long)((ts_ms - now_ms) / 1000));
	if (strncmp(key64, "whsec_", 6) == 0)
		key64 += 6;
	klen = fb64_decode(key64, strlen(key64), key, sizeof(key));
	if (klen <= 0)
		return deny(why, "webhook_signing_secret is not "
			    "whsec_<base64>");
	buf_init(&msg, 0);
	buf_addf(&msg, "%s.%s.", id, ts);
	buf_add(&msg, body, len);
	rc = auth_hmac_sha256(key, (size_t)klen, msg.data, msg.len, want);
	buf_free(&msg);
	if (rc < 0) {
		(void)deny(why, "HMAC-SHA256 failed");
		return rc;
	}
	/* "v1,<b64> v1,<b64>": several while GitLab rotates keys. */
	for (t = sig; *t != '\0'; t = end) {
		while (*t == ' ')
			t++;
		end = t + strcspn(t, " ");
		if (end - t > 3 && strncmp(t, "v1,", 3) == 0 &&
		    fb64_decode(t + 3, (size_t)(end - t - 3), got,
				sizeof(got)) == MAC_LEN &&
		    auth_equal(want, MAC_LEN, got, MAC_LEN))
			ok = true;
	}
	return ok ? 0 : deny(why, "webhook-signature does not match");
}

/* Which of GitLab's two proofs a delivery is checked by. */
enum gitlab_proof { GL_SIGNED, GL_TOKEN, GL_NONE };

static enum gitlab_proof
gitlab_proof(forge_header_fn hdr, void *harg, const struct forge_secrets *s)
{
	const char *sig = hdr(harg, "webhook-signature");

	/* A wrong signature is refused even if a token came along: a
	 * forged request is not made right by a leaked token. */
	if (s->signing_secret != NULL && *s->signing_secret != '\0' &&
	    sig != NULL && *sig != '\0')
		return GL_SIGNED;
	if (s->secret != NULL && s->secret_len > 0 &&
	    hdr(harg, "X-Gitlab-Token") != NULL)
		return GL_TOKEN;
	return GL_NONE;
}

static int
check_gitlab(forge_header_fn hdr, void *harg, const char *body, size_t len,
	     const struct forge_secrets *s, uint64_t now_ms, char **why)
{
	bool have_secret = s->secret != NULL && s->secret_len > 0;
	bool have_signing = s->signing_secret != NULL &&
	    *s->signing_secret != '\0';
	const char *tok = hdr(harg, "X-Gitlab-Token");
	enum gitlab_proof proof = gitlab_proof(hdr, harg, s);

	if (proof == GL_SIGNED)
		return check_signed(hdr, harg, body, len, s, now_ms, why);
	if (proof == GL_TOKEN) {
		if (auth_equal(tok, strlen(tok), s->secret, s->secret_len))
			return 0;
		return deny(why, "X-Gitlab-Token does not match");
	}
	if (have_signing && have_secret)
		return deny(why, "no webhook-signature or X-Gitlab-Token "
			    "header");
	return deny(why, have_signing ? "no webhook-signature header" :
		    "no X-Gitlab-Token header");
}

int
forge_verify(enum forge_kind k, forge_header_fn hdr, void *harg,
	     const char *body, size_t len, const struct forge_secrets *s,
	     uint64_t now_ms, char **why)
{
	static const char *const github[2] = {"X-Hub-Signature-256", NULL};
	static const char *const gitea[2] = {"X-Gitea-Signature",
					     "X-Forgejo-Signature"};
	static const char *const generic[2] = {"X-Pipewright-Signature", NULL};
	bool have;

	*why = NULL;
	have = s != NULL && ((s->secret != NULL && s->secret_len > 0) ||
			     (k == FORGE_GITLAB && s->signing_secret != NULL &&
			      *s->signing_secret != '\0'));
	if (!have) {
		if (s != NULL && s->insecure)
			return 0;
		return deny(why, "the project has no webhook secret; set "
			    "webhook_secret or webhook_insecure: true");
	}
	switch (k) {
	case FORGE_GITHUB:
		return check_hex(hdr, harg, github, "sha256=", body, len, s,
				 false, why);
	case FORGE_GITEA:
		return check_hex(hdr, harg, gitea, "", body, len, s, true, why);
	case FORGE_GITLAB:
		return check_gitlab(hdr, harg, body, len, s, now_ms, why);
	case FORGE_GENERIC:
		return check_hex(hdr, harg, generic, "sha256=", body, len, s,
				 false, why);
	}
	return deny(why, "unknown forge");
}

bool
forge_verify_guessable(enum forge_kind k, forge_header_fn hdr, void *harg,
		       const struct forge_secrets *s)
{
	return k == FORGE_GITLAB && s != NULL &&
	       gitlab_proof(hdr, harg, s) == GL_TOKEN;
}
