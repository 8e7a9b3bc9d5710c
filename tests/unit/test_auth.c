/*
 * Unit tests of the auth module: token making and hashing, the HMAC
 * test vector GitHub documents for webhook signatures, constant-time
 * equality, scope names and order, and auth_check() against a real store
 * file holding tokens written through store_write().
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "pipewright/auth.h"
#include "pipewright/store.h"
#include "testlib.h"

static void
test_hash(void **state)
{
	char hex[AUTH_HASH_HEX];

	(void)state;
	assert_int_equal(auth_hash("", hex), 0);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
			    "27ae41e4649b934ca495991b7852b855");
	assert_int_equal(auth_hash("abc", hex), 0);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
			    "b00361a396177a9cb410ff61f20015ad");
}

static void
test_token_new(void **state)
{
	char a[AUTH_TOKEN_LEN + 1], b[AUTH_TOKEN_LEN + 1];
	size_t i;

	(void)state;
	assert_int_equal(auth_token_new(a), 0);
	assert_int_equal(auth_token_new(b), 0);
	assert_int_equal(strlen(a), AUTH_TOKEN_LEN);
	assert_memory_equal(a, "pw_", 3);
	assert_string_not_equal(a, b);
	for (i = 3; i < AUTH_TOKEN_LEN; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkl"
				       "mnopqrstuvwxyz0123456789-_", a[i]));
}

static void
test_hmac(void **state)
{
	static const char key[] = "It's a Secret to Everybody";
	static const char body[] = "Hello, World!";
	static const char want[] = "757107ea0eb2509fc211221cce984b8a"
	    "37570b6d7586c22c46f4379c8b043e17";
	unsigned char mac[32];
	char hex[65];
	size_t i;

	(void)state;
	assert_int_equal(auth_hmac_sha256(key, strlen(key), body, strlen(body),
					  mac), 0);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	assert_string_equal(hex, want);
	/* An empty body and key are valid inputs too (RFC 4231 style). */
	assert_int_equal(auth_hmac_sha256("", 0, "", 0, mac), 0);
}

static void
test_equal(void **state)
{
	(void)state;
	assert_true(auth_equal("abc", 3, "abc", 3));
	assert_false(auth_equal("abc", 3, "abd", 3));
	assert_false(auth_equal("abc", 3, "abcd", 4));
	assert_false(auth_equal("abcd", 4, "abc", 3));
	assert_true(auth_equal("", 0, "", 0));
	assert_true(auth_equal("a\0b", 3, "a\0b", 3));
	assert_false(auth_equal("a\0b", 3, "a\0c", 3));
}

static void
test_scopes(void **state)
{
	enum auth_scope s;

	(void)state;
	assert_true(AUTH_SCOPE_READ < AUTH_SCOPE_OPERATE);
	assert_true(AUTH_SCOPE_OPERATE < AUTH_SCOPE_ADMIN);
	assert_int_equal(auth_scope_parse("read", &s), 0);
	assert_int_equal(s, AUTH_SCOPE_READ);
	assert_int_equal(auth_scope_parse("operate", &s), 0);
	assert_int_equal(s, AUTH_SCOPE_OPERATE);
	assert_int_equal(auth_scope_parse("admin", &s), 0);
	assert_int_equal(s, AUTH_SCOPE_ADMIN);
	assert_int_equal(auth_scope_parse("Admin", &s), -EINVAL);
	assert_int_equal(auth_scope_parse("", &s), -EINVAL);
	assert_string_equal(auth_scope_name(AUTH_SCOPE_OPERATE), "operate");
	assert_string_equal(auth_scope_name((enum auth_scope)0), "?");
	assert_string_equal(auth_scope_name((enum auth_scope)9), "?");
}

/* ---- auth_check against a real store ---- */

struct fx {
	uv_loop_t loop;
	char dir[64];
	char path[128];
	struct store *store;
	char read_tok[AUTH_TOKEN_LEN + 1];
	char op_tok[AUTH_TOKEN_LEN + 1];
};

struct insert {
	const char *name;
	const char *scope;
	char hex[AUTH_HASH_HEX];
	int rc;
	bool done;
};

static int
insert_fn(struct store_tx *tx, void *arg)
{
	struct insert *in = arg;

	return store_tx_token_insert(tx, in->name, in->scope, in->hex, 1000);
}

static void
insert_done(int rc, void *arg)
{
	struct insert *in = arg;

	in->rc = rc;
	in->done = true;
}

/* Stores a token through store_write and waits for its commit. */
static int
insert(struct fx *fx, const char *name, const char *scope, const char *tok)
{
	struct insert in = {.name = name, .scope = scope};

	assert_int_equal(auth_hash(tok, in.hex), 0);
	store_write(fx->store, insert_fn, insert_done, &in);
	while (!in.done)
		uv_run(&fx->loop, UV_RUN_ONCE);
	return in.rc;
}

static int
setup_store(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char *err = NULL;

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/pw-test-auth-XXXXXX");
	if (fx->dir[0] == '\0' || mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/pipewright.db", fx->dir);
	if (uv_loop_init(&fx->loop) != 0)
		return -1;
	if (store_open(&fx->loop, fx->path, &fx->store, &err) != 0) {
		print_error("store_open: %s\n", err);
		free(err);
		return -1;
	}
	if (auth_token_new(fx->read_tok) != 0 ||
	    auth_token_new(fx->op_tok) != 0 ||
	    insert(fx, "dashboard", "read", fx->read_tok) != 0 ||
	    insert(fx, "deployer", "operate", fx->op_tok) != 0)
		return -1;
	*state = fx;
	return 0;
}

static void
closed(void *arg)
{
	*(bool *)arg = true;
}

static int
teardown_store(void **state)
{
	struct fx *fx = *state;
	bool done = false;

	store_close(fx->store, closed, &done);
	while (!done)
		uv_run(&fx->loop, UV_RUN_ONCE);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&fx->loop) != 0)
		return -1;
	if (tl_rm_tree(fx->dir) < 0)
		return -1;
	free(fx);
	return 0;
}

static void
test_check_valid(void **state)
{
	struct fx *fx = *state;
	char hdr[AUTH_TOKEN_LEN + 32], *name = NULL;

	snprintf(hdr, sizeof(hdr), "Bearer %s", fx->op_tok);
	assert_int_equal(auth_check(fx->store, hdr, AUTH_SCOPE_OPERATE, &name),
			 0);
	assert_string_equal(name, "deployer");
	free(name);
	/* A larger scope covers the smaller ones. */
	assert_int_equal(auth_check(fx->store, hdr, AUTH_SCOPE_READ, &name), 0);
	free(name);
	/* The scheme is case-insensitive; spaces around the token are fine. */
	snprintf(hdr, sizeof(hdr), "bearer   %s  ", fx->read_tok);
	assert_int_equal(auth_check(fx->store, hdr, AUTH_SCOPE_READ, NULL), 0);
}

static void
test_check_scope(void **state)
{
	struct fx *fx = *state;
	char hdr[AUTH_TOKEN_LEN + 32], *name = NULL;

	snprintf(hdr, sizeof(hdr), "Bearer %s", fx->read_tok);
	assert_int_equal(auth_check(fx->store, hdr, AUTH_SCOPE_OPERATE, &name),
			 -EPERM);
	assert_string_equal(name, "dashboard");
	free(name);
	snprintf(hdr, sizeof(hdr), "Bearer %s", fx->op_tok);
	assert_int_equal(auth_check(fx->store, hdr, AUTH_SCOPE_ADMIN, NULL),
			 -EPERM);
}

static void
test_check_invalid(void **state)
{
	struct fx *fx = *state;
	char hdr[AUTH_TOKEN_LEN + 32], other[AUTH_TOKEN_LEN + 1];
	char *name = (char *)"x";
	char big[AUTH_MAX_TOKEN + 16];

	/* A well-formed token that was never stored. */
	assert_int_equal(auth_token_new(other), 0);
	snprintf(hdr, sizeof(hdr), "Bearer %s", other);
	assert_int_equal(auth_check(fx->store, hdr, AUTH_SCOPE_READ, &name),
			 -EACCES);
	assert_null(name);
	/* One character off. */
	snprintf(hdr, sizeof(hdr), "Bearer %s", fx->op_tok);
	hdr[strlen(hdr) - 1] ^= 1;
	assert_int_equal(auth_check(fx->store, hdr, AUTH_SCOPE_READ, NULL),
			 -EACCES);
	/* Missing, empty, and malformed headers. */
	assert_int_equal(auth_check(fx->store, NULL, AUTH_SCOPE_READ, &name),
			 -EACCES);
	assert_null(name);
	assert_int_equal(auth_check(fx->store, "", AUTH_SCOPE_READ, NULL),
			 -EACCES);
	assert_int_equal(auth_check(fx->store, "Bearer", AUTH_SCOPE_READ,
				    NULL), -EACCES);
	assert_int_equal(auth_check(fx->store, "Bearer ", AUTH_SCOPE_READ,
				    NULL), -EACCES);
	snprintf(hdr, sizeof(hdr), "Basic %s", fx->op_tok);
	assert_int_equal(auth_check(fx->store, hdr, AUTH_SCOPE_READ, NULL),
			 -EACCES);
	snprintf(hdr, sizeof(hdr), "Bearer%s", fx->op_tok);
	assert_int_equal(auth_check(fx->store, hdr, AUTH_SCOPE_READ, NULL),
			 -EACCES);
	assert_int_equal(auth_check(fx->store, fx->op_tok, AUTH_SCOPE_READ,
				    NULL), -EACCES);
	snprintf(hdr, sizeof(hdr), "Bearer %s x", fx->op_tok);
	assert_int_equal(auth_check(fx->store, hdr, AUTH_SCOPE_READ, NULL),
			 -EACCES);
	snprintf(hdr, sizeof(hdr), "Bearer %s\n", fx->op_tok);
	assert_int_equal(auth_check(fx->store, hdr, AUTH_SCOPE_READ, NULL),
			 -EACCES);
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "Bearer ", 7);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(auth_check(fx->store, big, AUTH_SCOPE_READ, NULL),
			 -EACCES);
}

/* Names and hashes are unique in the store. */
static void
test_duplicate_name(void **state)
{
	struct fx *fx = *state;
	char tok[AUTH_TOKEN_LEN + 1];

	assert_int_equal(auth_token_new(tok), 0);
	assert_int_equal(insert(fx, "deployer", "admin", tok), -EEXIST);
}

int
main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_token_new),
		cmocka_unit_test(test_hmac),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_scopes),
	};
	const struct CMUnitTest store[] = {
		cmocka_unit_test(test_check_valid),
		cmocka_unit_test(test_check_scope),
		cmocka_unit_test(test_check_invalid),
		cmocka_unit_test(test_duplicate_name),
	};
	int failed = cmocka_run_group_tests_name("auth", pure, NULL, NULL);

	return failed + cmocka_run_group_tests_name("auth_store", store,
						    setup_store,
						    teardown_store);
}
