/*
 * Pre-started supervisors (src/exec/pool.c, src/supervisor/spec.c), for
 * real: the pooled supervisor is the one that runs the job, the pool
 * refills, a drain and the starter's death end the waiting ones, a
 * supervisor that died while waiting or a spec too long for a message
 * fall back to a fresh spawn.  test_exec_pooled runs every case of
 * test_exec on pooled supervisors as well.  A uv_timer is a hard
 * deadline, never a way to wait; waits on processes are waitpid/waitid.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <uv.h>

#include "pipewright/exec.h"
#include "pipewright/supervisor-proto.h"
#include "../../src/exec/exec-int.h"
#include "testlib.h"

#define DEADLINE_MS 30000
#define MAX_PIDS 8

struct t {
	uv_loop_t loop;
	struct exec *e;
	uv_timer_t deadline;
	struct tl_job job;
	struct buf out;
	bool ended;
	enum exec_result result;
};

static int
setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	tl_job_init(&t->job, "pw-pool");
	assert_int_equal(uv_loop_init(&t->loop), 0);
	assert_int_equal(exec_create(&t->loop, PW_SUPERVISOR_PATH, &t->e), 0);
	tl_deadline_start(&t->loop, &t->deadline, DEADLINE_MS);
	buf_init(&t->out, 0);
	t->job.spec.kill_grace_ms = 1000;
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct t *t = *state;

	/* Drained and reaped: no handle, no process left. */
	assert_int_equal(exec_supervisor_pool(t->e, 0), 0);
	while (t->e->pool != NULL)
		uv_run(&t->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t->deadline, NULL);
	assert_int_equal(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
	exec_destroy(t->e);
	assert_int_equal(uv_loop_close(&t->loop), 0);
	tl_job_cleanup(&t->job);
	buf_free(&t->out);
	free(t);
	return 0;
}

/* The pids of the supervisors waiting now. */
static size_t
waiting_pids(struct exec *e, pid_t *pids)
{
	struct exec_attempt *a;
	size_t n = 0;

	for (a = e->pool; a != NULL && n < MAX_PIDS; a = a->next_pooled)
		if (a->pool_state == EXEC_POOL_WAITING)
			pids[n++] = a->pool_pid;
	return n;
}

static bool
has_pid(const pid_t *pids, size_t n, pid_t pid)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

static void
on_output(struct exec_attempt *a, const char *data, size_t len, void *arg)
{
	struct t *t = arg;

	(void)a;
	assert_int_equal(buf_append(&t->out, data, len), 0);
}

static void
on_end(struct exec_attempt *a, const struct exec_status *st, void *arg)
{
	struct t *t = arg;

	(void)a;
	t->ended = true;
	t->result = st->result;
}

/* Runs the script to its end; its output's first number (its $PPID). */
static pid_t
run_sh(struct t *t, const char *script)
{
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	struct exec_attempt *a;

	t->job.spec.argv = argv;
	buf_add(&t->out, "", 0);
	t->out.len = 0;
	assert_int_equal(exec_start(t->e, &t->job.spec, on_output, on_end, t,
				    &a), 0);
	while (!t->ended)
		uv_run(&t->loop, UV_RUN_ONCE);
	assert_int_equal(t->result, EXEC_SUCCESS);
	buf_add(&t->out, "", 1);
	return (pid_t)atol(t->out.data);
}

/*
 * The job's parent is a supervisor that was waiting before the start, in
 * a session of its own as after a fresh spawn; the pool refills to its
 * size with new ones afterwards, from the loop.
 */
static void
test_taken(void **state)
{
	struct t *t = *state;
	pid_t before[MAX_PIDS], after[MAX_PIDS], ppid;
	size_t nb, na, i;
	char want[256];
	long sid;

	assert_int_equal(exec_supervisor_pool(t->e, 2), 0);
	assert_int_equal(exec_supervisor_pooled(t->e), 2);
	nb = waiting_pids(t->e, before);
	assert_int_equal(nb, 2);
	ppid = run_sh(t, "echo $PPID $(cut -d' ' -f6 /proc/$PPID/stat); "
		      "tr '\\0' '\\n' < /proc/$PPID/cmdline");
	assert_true(has_pid(before, nb, ppid));
	assert_int_equal(sscanf(strchr(t->out.data, ' '), "%ld", &sid), 1);
	assert_int_equal(sid, ppid);
	/* Its command line is the spec's, as `pipewright doctor` looks for. */
	snprintf(want, sizeof(want), "\n--dir\n%s\n", t->job.dir);
	assert_non_null(strstr(t->out.data, want));
	while (exec_supervisor_pooled(t->e) < 2)
		uv_run(&t->loop, UV_RUN_ONCE);
	na = waiting_pids(t->e, after);
	assert_int_equal(na, 2);
	for (i = 0; i < na; i++)
		assert_int_not_equal(after[i], ppid);
}

/* A drain ends every waiting supervisor; each is reaped. */
static void
test_drain(void **state)
{
	struct t *t = *state;
	pid_t pids[MAX_PIDS];
	size_t n, i;

	assert_int_equal(exec_supervisor_pool(t->e, 3), 0);
	n = waiting_pids(t->e, pids);
	assert_int_equal(n, 3);
	assert_int_equal(exec_supervisor_pool(t->e, 1), 0);
	assert_int_equal(exec_supervisor_pooled(t->e), 1);
	assert_int_equal(exec_supervisor_pool(t->e, 0), 0);
	assert_int_equal(exec_supervisor_pooled(t->e), 0);
	while (t->e->pool != NULL)
		uv_run(&t->loop, UV_RUN_ONCE);
	for (i = 0; i < n; i++) {
		assert_int_equal(kill(pids[i], 0), -1);
		assert_int_equal(errno, ESRCH);
	}
}

/*
 * Tied to its starter until it takes a spec: a starter killed with
 * SIGKILL leaves no supervisor waiting.  We are the subreaper the
 * orphans come to, and wait for each: it exits 0, by itself.
 */
static void
test_starter_dies(void **state)
{
	struct t *t = *state;
	pid_t child, pids[MAX_PIDS];
	int p[2], st;
	size_t n, i;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		uv_loop_t loop;
		struct exec *e;

		close(p[0]);
		if (uv_loop_init(&loop) < 0 ||
		    exec_create(&loop, PW_SUPERVISOR_PATH, &e) < 0 ||
		    exec_supervisor_pool(e, 2) < 0)
			_exit(2);
		n = waiting_pids(e, pids);
		if (write(p[1], pids, n * sizeof(pid_t)) < 0)
			_exit(3);
		pause();  /* until the SIGKILL */
		_exit(4);
	}
	close(p[1]);
	n = 0;
	while (n < 2) {
		ssize_t r = read(p[0], pids + n, (2 - n) * sizeof(pid_t));

		assert_true(r > 0);
		n += (size_t)r / sizeof(pid_t);
	}
	close(p[0]);
	assert_int_equal(kill(child, SIGKILL), 0);
	assert_int_equal(waitpid(child, &st, 0), child);
	alarm(30);  /* a deadline: a supervisor still waiting hangs here */
	for (i = 0; i < n; i++) {
		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	alarm(0);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
	(void)t;
}

/* A supervisor that died while waiting: the start spawns a fresh one. */
static void
test_dead_in_pool(void **state)
{
	struct t *t = *state;
	pid_t pids[MAX_PIDS], ppid;
	siginfo_t si;

	assert_int_equal(exec_supervisor_pool(t->e, 1), 0);
	assert_int_equal(waiting_pids(t->e, pids), 1);
	assert_int_equal(kill(pids[0], SIGKILL), 0);
	/* Dead, not reaped: exec has not seen its exit yet. */
	assert_int_equal(waitid(P_PID, (id_t)pids[0], &si, WEXITED | WNOWAIT), 0);
	ppid = run_sh(t, "echo $PPID");
	assert_int_not_equal(ppid, pids[0]);
	assert_true(ppid > 0);
	while (exec_supervisor_pooled(t->e) < 1)
		uv_run(&t->loop, UV_RUN_ONCE);
}

/* A spec past one message (a long script) is exec'd as before. */
static void
test_long_spec(void **state)
{
	struct t *t = *state;
	pid_t pids[MAX_PIDS], ppid;
	size_t len = SUPERVISOR_MAX_SPEC + 100;
	char *script = malloc(len + 32);

	assert_non_null(script);
	memset(script, ' ', len);
	memcpy(script, "echo $PPID; :", 13);
	script[len] = '\0';
	assert_int_equal(exec_supervisor_pool(t->e, 2), 0);
	assert_int_equal(waiting_pids(t->e, pids), 2);
	ppid = run_sh(t, script);
	assert_false(has_pid(pids, 2, ppid));
	assert_int_equal(exec_supervisor_pooled(t->e), 2);
	free(script);
}

/* The supervisor's side alone: end of stream, and a spec it refuses. */
static int
pooled_exit_fds(const char *msg, size_t len, const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;
	int sv[2], st;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		if (dup2(sv[1], 3) < 0)
			_exit(9);
		execl(PW_SUPERVISOR_PATH, PW_SUPERVISOR_PATH, "--pooled", "3",
		      (char *)NULL);
		_exit(8);
	}
	close(sv[1]);
	assert_true(nfds <= 16);
	if (nfds > 0) {
		memset(&ctl, 0, sizeof(ctl));
		m.msg_control = ctl.buf;
		m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	if (msg != NULL)
		assert_int_equal(sendmsg(sv[0], &m, 0), (ssize_t)len);
	close(sv[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static int
pooled_exit(const char *msg, size_t len)
{
	return pooled_exit_fds(msg, len, NULL, 0);
}

static void
test_supervisor_side(void **state)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	(void)state;
	assert_true(null >= 0);
	assert_int_equal(pooled_exit(NULL, 0), 0);          /* drained */
	assert_int_equal(pooled_exit("--dir", 5), 2);      /* no NUL */
	assert_int_equal(pooled_exit("x\0--dir\0", 8), 2); /* no descriptors */
	/* An empty message is not end of stream when it carries some. */
	assert_int_equal(pooled_exit_fds("", 0, &null, 1), 2);
	close(null);
}

/*
 * The descriptors' limit is exact: a spec that would run with
 * SUPERVISOR_MAX_SPEC_FDS runs (the job's end: exit 0), one more is
 * refused (exit 2), however the control buffer's rounding falls, and so
 * are many more (the kernel truncates them: MSG_CTRUNC).
 */
static void
test_spec_fd_limit(void **state)
{
	struct tl_job j;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char *msg, status[192];
	size_t len, i;
	int fds[12], lfd;

	(void)state;
	tl_job_init(&j, "pw-pool-fds");
	assert_int_equal(mkdir(j.dir, 0700), 0);
	assert_true(snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s",
			     j.dir, SUPERVISOR_SOCK_FILE) <
		    (int)sizeof(addr.sun_path));
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(lfd, 8), 0);
	fds[0] = lfd;
	for (i = 1; i < PW_ARRAY_LEN(fds); i++) {
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		assert_true(fds[i] >= 0);
	}
	len = (size_t)asprintf(&msg, "%s%c--dir%c%s%c--listen-fd%c3%c--%c"
			       "/bin/true%c", PW_SUPERVISOR_PATH, 0, 0, j.dir,
			       0, 0, 0, 0, 0);
	assert_true(len < 4096);
	assert_int_equal(pooled_exit_fds(msg, len, fds,
					 SUPERVISOR_MAX_SPEC_FDS), 0);
	/* It ran: a status.  Then the same spec with one more, and many. */
	assert_true(snprintf(status, sizeof(status), "%s/%s", j.dir,
			     SUPERVISOR_STATUS_FILE) < (int)sizeof(status));
	assert_int_equal(unlink(status), 0);
	assert_int_equal(pooled_exit_fds(msg, len, fds,
					 SUPERVISOR_MAX_SPEC_FDS + 1), 2);
	assert_int_equal(pooled_exit_fds(msg, len, fds, PW_ARRAY_LEN(fds)),
			 2);
	assert_int_equal(access(status, F_OK), -1);  /* refused, never run */
	for (i = 0; i < PW_ARRAY_LEN(fds); i++)
		close(fds[i]);
	free(msg);
	tl_job_cleanup(&j);
}

/*
 * A tied spec whose starter is gone before the supervisor took it: the
 * tie is at its end already, so the job never starts and the result says
 * why, as if the starter had died under it.
 */
static void
test_tie_cut_before(void **state)
{
	struct tl_job j;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char *msg, path[192], text[1024];
	size_t len;
	ssize_t n;
	int fds[2], tie[2], fd;

	(void)state;
	tl_job_init(&j, "pw-pool-tie");
	assert_int_equal(mkdir(j.dir, 0700), 0);
	assert_true(snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s",
			     j.dir, SUPERVISOR_SOCK_FILE) <
		    (int)sizeof(addr.sun_path));
	fds[0] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fds[0] >= 0);
	assert_int_equal(bind(fds[0], (struct sockaddr *)&addr, sizeof(addr)),
			 0);
	assert_int_equal(listen(fds[0], 8), 0);
	assert_int_equal(pipe2(tie, O_CLOEXEC), 0);
	close(tie[1]);  /* the starter has gone */
	fds[1] = tie[0];
	snprintf(path, sizeof(path), "%s/ran", j.tmp);
	len = (size_t)asprintf(&msg, "%s%c--dir%c%s%c--listen-fd%c3%c--tied%c"
			       "--tie-fd%c4%c--%c/bin/touch%c%s%c",
			       PW_SUPERVISOR_PATH, 0, 0, j.dir, 0, 0, 0, 0, 0,
			       0, 0, 0, path, 0);
	assert_int_equal(pooled_exit_fds(msg, len, fds, 2), 0);
	assert_int_equal(access(path, F_OK), -1);  /* never started */
	snprintf(path, sizeof(path), "%s/%s", j.dir, SUPERVISOR_STATUS_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, text, sizeof(text) - 1);
	assert_true(n > 0);
	text[n] = '\0';
	close(fd);
	assert_non_null(strstr(text, "\nresult=canceled\n"));
	/* Started and then killed would be signal=15 (or the file there). */
	assert_non_null(strstr(text, "\nsignal=0\n"));
	assert_non_null(strstr(text, "\nreason=canceled: pipewright exited\n"));
	close(fds[0]);
	close(tie[0]);
	free(msg);
	tl_job_cleanup(&j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_starter_dies, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_dead_in_pool, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_long_spec, setup, teardown),
		cmocka_unit_test(test_supervisor_side),
		cmocka_unit_test(test_spec_fd_limit),
		cmocka_unit_test(test_tie_cut_before),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
