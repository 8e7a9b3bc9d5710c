/*
 * Jobs that outlive their daemon: exec_detach, exec_attach, untied
 * supervisors and protocol versions, with the real supervisor binary
 * (PW_SUPERVISOR_PATH) and real shell jobs.
 *
 * A "side" is one daemon's view: its own loop and struct exec.  A test
 * starts an attempt on one side, lets go of it (exec_detach, or the
 * process that started it dies), and takes it up on a fresh side, the
 * closest thing to a new daemon.  Each side's deadline timer is unref'd:
 * it never keeps a loop alive, and fails the test if the loop is still
 * running when it fires.  No sleep stands in for synchronisation: sides
 * act on output they received, and a supervisor's exit is waited for with
 * waitpid (it is our child) under an alarm.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
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

static const char counter_job[] =
	"i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo line$i; sleep 0.05; done";

struct side {
	uv_loop_t loop;
	struct exec *e;
	uv_timer_t deadline;
	struct exec_attempt *a;
	struct buf out;              /* everything output_cb gave */
	int outputs;                 /* output_cb calls */
	int ended;                   /* end_cb calls */
	struct exec_status st;
	char *reason;
	size_t detach_at;            /* detach inside output_cb at this many bytes */
	bool detached;
	pid_t sv_pid;                /* the supervisor, if this side spawned it */
	int notes;                   /* notes received (exec_log_notes) */
	char *dir;                   /* where notes' bytes are read from */
	uint64_t base;               /* the log offset of out's first byte */
};

struct t {
	struct tl_job job;           /* its directory, environment and spec */
	struct side s1, s2;
	pid_t job_pid;               /* killed (its group) at teardown if set */
};

static void
side_open(struct side *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(uv_loop_init(&s->loop), 0);
	assert_int_equal(exec_create(&s->loop, PW_SUPERVISOR_PATH, &s->e), 0);
	tl_deadline_start(&s->loop, &s->deadline, DEADLINE_MS);
	uv_unref((uv_handle_t *)&s->deadline);
	buf_init(&s->out, 0);
}

/* Runs the side until it has nothing left, then proves no handle was left. */
static void
side_close(struct side *s)
{
	assert_int_equal(uv_run(&s->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(exec_active(s->e), 0);
	exec_destroy(s->e);
	s->e = NULL;
	uv_close((uv_handle_t *)&s->deadline, NULL);
	assert_int_equal(uv_run(&s->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&s->loop), 0);
}

/* The daemon's way: notes, the bytes read back from dir/log. */
static void
side_open_notes(struct side *s, const char *dir)
{
	side_open(s);
	exec_log_notes(s->e, true);
	s->dir = strdup(dir);
	assert_non_null(s->dir);
}

static void
side_free(struct side *s)
{
	buf_free(&s->out);
	free(s->reason);
	s->reason = NULL;
	free(s->dir);
	s->dir = NULL;
}

static int
setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	tl_job_init(&t->job, "pw-attach");
	t->job.spec.kill_grace_ms = 200;
	t->job.spec.tied = false;  /* the daemon's way */
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct t *t = *state;

	if (t->job_pid > 0)
		kill(-t->job_pid, SIGKILL);
	/* Supervisors we spawned and let go of: reap those that have exited. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	tl_job_cleanup(&t->job);
	side_free(&t->s1);
	side_free(&t->s2);
	free(t);
	return 0;
}

static void
on_output(struct exec_attempt *a, const char *data, size_t len, void *arg)
{
	struct side *s = arg;

	assert_false(s->detached);
	assert_int_equal(s->ended, 0);
	assert_ptr_equal(a, s->a);
	if (data == NULL) {
		char *path, *p = malloc(len);
		int fd;

		assert_non_null(s->dir);
		assert_non_null(p);
		assert_true(asprintf(&path, "%s/%s", s->dir,
				     SUPERVISOR_LOG_FILE) > 0);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		free(path);
		assert_true(fd >= 0);
		assert_int_equal(pread(fd, p, len,
				       (off_t)(s->base + s->out.len)),
				 (ssize_t)len);
		close(fd);
		assert_int_equal(buf_append(&s->out, p, len), 0);
		free(p);
		s->notes++;
	} else {
		assert_null(s->dir);
		assert_int_equal(buf_append(&s->out, data, len), 0);
	}
	s->outputs++;
	if (s->detach_at > 0 && s->out.len >= s->detach_at) {
		/* Mid-frame, maybe: the rest of this read is never delivered. */
		s->detached = true;
		exec_detach(a);
	}
}

static void
on_end(struct exec_attempt *a, const struct exec_status *st, void *arg)
{
	struct side *s = arg;

	assert_false(s->detached);
	assert_ptr_equal(a, s->a);
	assert_non_null(strstr(exec_attempt_dir(a), "/attempt"));
	s->st = *st;
	free(s->reason);
	s->reason = strdup(st->reason);
	s->st.reason = s->reason;
	s->ended++;
	assert_int_equal(exec_active(s->e), 0);
}

static void
start_sh(struct t *t, struct side *s, const char *script)
{
	const char *argv[] = {"/bin/sh", "-c", script, NULL};

	t->job.spec.argv = argv;
	assert_int_equal(exec_start(s->e, &t->job.spec, on_output, on_end, s, &s->a), 0);
	assert_int_equal(exec_active(s->e), 1);
	s->sv_pid = s->a->proc.pid;
}

static void
attach(struct t *t, struct side *s, uint64_t offset)
{
	s->base = offset;
	assert_int_equal(exec_attach(s->e, t->job.dir, offset, on_output, on_end, s,
				     &s->a), 0);
	/* Never a callback inside the call. */
	assert_int_equal(s->outputs, 0);
	assert_int_equal(s->ended, 0);
	assert_int_equal(exec_active(s->e), 1);
	assert_string_equal(exec_attempt_dir(s->a), t->job.dir);
}

static char *
slurp(const char *dir, const char *name, size_t *len)
{
	char *path, *data = NULL;
	size_t n = 0;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	assert_int_equal(pw_read_file(path, 64 << 20, &data, &n), 0);
	free(path);
	if (len != NULL)
		*len = n;
	return data;
}

static void
assert_counter_lines(const char *data, size_t len)
{
	struct buf want;
	char line[16];
	int i, n;

	buf_init(&want, 0);
	for (i = 1; i <= 40; i++) {
		n = snprintf(line, sizeof(line), "line%d\n", i);
		assert_int_equal(buf_append(&want, line, (size_t)n), 0);
	}
	assert_int_equal(len, want.len);
	assert_memory_equal(data, want.data, len);
	buf_free(&want);
}

static int
sock_connect(const char *dir)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 10};
	int fd;

	assert_true(snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s", dir,
			     SUPERVISOR_SOCK_FILE) < (int)sizeof(addr.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* Our child the supervisor exits by itself; an alarm bounds the wait. */
static void
wait_supervisor(pid_t pid)
{
	int st;

	assert_true(pid > 0);
	alarm(20);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	alarm(0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/*
 * (a) Detach after some bytes; a new exec takes up the rest exactly.  Each
 * side takes bytes or notes: an upgrade from a daemon of bytes to one of
 * notes, and notes on both sides.
 */
static void
detach_then_attach(struct t *t, bool notes1, bool notes2)
{
	struct buf all;
	size_t offset;

	if (notes1)
		side_open_notes(&t->s1, t->job.dir);
	else
		side_open(&t->s1);
	t->s1.detach_at = 20;  /* a few lines in, while the job runs on */
	start_sh(t, &t->s1, counter_job);
	side_close(&t->s1);
	assert_true(t->s1.detached);
	assert_int_equal(t->s1.ended, 0);
	offset = t->s1.out.len;
	assert_true(offset >= 20);
	assert_true(notes1 ? t->s1.notes > 0 : t->s1.notes == 0);

	if (notes2)
		side_open_notes(&t->s2, t->job.dir);
	else
		side_open(&t->s2);
	attach(t, &t->s2, offset);
	side_close(&t->s2);
	assert_int_equal(t->s2.ended, 1);
	assert_int_equal(t->s2.st.result, EXEC_SUCCESS);
	assert_int_equal(t->s2.st.exit_code, 0);
	assert_int_equal(t->s2.st.log_bytes, offset + t->s2.out.len);

	buf_init(&all, 0);
	assert_int_equal(buf_append(&all, t->s1.out.data, t->s1.out.len), 0);
	assert_int_equal(buf_append(&all, t->s2.out.data, t->s2.out.len), 0);
	assert_counter_lines(all.data, all.len);
	buf_free(&all);
	/* With no client left, an untied supervisor exits at once. */
	wait_supervisor(t->s1.sv_pid);
	assert_int_equal(sock_connect(t->job.dir), -ENOENT);
	assert_true(notes2 ? t->s2.notes > 0 : t->s2.notes == 0);
}

static void
test_detach_then_attach(void **state)
{
	detach_then_attach(*state, false, false);
}

static void
test_detach_then_attach_notes(void **state)
{
	detach_then_attach(*state, false, true);
}

static void
test_notes_then_attach_notes(void **state)
{
	detach_then_attach(*state, true, true);
}

/* Detaching right after the start loses nothing either. */
static void
test_detach_at_once(void **state)
{
	struct t *t = *state;

	side_open(&t->s1);
	start_sh(t, &t->s1, "echo one; sleep 0.2; echo two");
	exec_detach(t->s1.a);
	assert_int_equal(exec_active(t->s1.e), 0);
	side_close(&t->s1);
	assert_int_equal(t->s1.outputs + t->s1.ended, 0);

	side_open(&t->s2);
	attach(t, &t->s2, 0);
	side_close(&t->s2);
	assert_int_equal(t->s2.ended, 1);
	assert_int_equal(t->s2.st.result, EXEC_SUCCESS);
	assert_int_equal(t->s2.out.len, 8);
	assert_memory_equal(t->s2.out.data, "one\ntwo\n", 8);
	wait_supervisor(t->s1.sv_pid);
}

/* Whether pid is gone: reaped by someone, not a zombie of ours. */
static bool
reaped(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	return access(path, F_OK) < 0;
}

static void
on_reap_poll(uv_timer_t *h)
{
	struct t *t = h->data;

	if (reaped(t->s1.sv_pid))
		uv_close((uv_handle_t *)h, NULL);
}

/*
 * The same exec lets go of an attempt and takes it up again, as a daemon
 * does whose upgrade failed: the supervisor is still our child, and once
 * it exits the loop reaps it — no zombie for as long as we live.  The
 * test waits on /proc, never with waitpid, which would reap it itself.
 */
static void
test_let_go_child_reaped(void **state)
{
	struct t *t = *state;
	uv_timer_t poll;

	side_open(&t->s1);
	start_sh(t, &t->s1, "echo one; sleep 0.2; echo two");
	exec_detach(t->s1.a);
	assert_int_equal(exec_active(t->s1.e), 0);
	/* Let go of, it keeps no loop alive. */
	assert_int_equal(uv_run(&t->s1.loop, UV_RUN_NOWAIT), 0);
	attach(t, &t->s1, 0);
	assert_int_equal(uv_run(&t->s1.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(t->s1.ended, 1);
	assert_int_equal(t->s1.st.result, EXEC_SUCCESS);
	assert_memory_equal(t->s1.out.data, "one\ntwo\n", 8);
	/* With its client gone the supervisor exits: the loop reaps it. */
	assert_int_equal(uv_timer_init(&t->s1.loop, &poll), 0);
	poll.data = t;
	assert_int_equal(uv_timer_start(&poll, on_reap_poll, 0, 10), 0);
	assert_int_equal(uv_run(&t->s1.loop, UV_RUN_DEFAULT), 0);
	assert_true(reaped(t->s1.sv_pid));
	side_close(&t->s1);
}

/* (b) The job ended and the supervisor exited: the files answer. */
static void
test_attach_after_exit(void **state)
{
	struct t *t = *state;
	char *log;
	size_t len;

	side_open(&t->s1);
	start_sh(t, &t->s1, "seq 1 40000");
	side_close(&t->s1);  /* END, and the supervisor (our child) exited */
	assert_int_equal(t->s1.ended, 1);
	assert_int_equal(t->s1.st.result, EXEC_SUCCESS);
	assert_int_equal(sock_connect(t->job.dir), -ENOENT);
	log = slurp(t->job.dir, SUPERVISOR_LOG_FILE, &len);
	assert_true(len > 3 * EXEC_CHUNK);

	side_open(&t->s2);
	attach(t, &t->s2, 1000);
	assert_false(t->s2.a->has_sock);
	side_close(&t->s2);
	assert_int_equal(t->s2.ended, 1);
	assert_int_equal(t->s2.st.result, EXEC_SUCCESS);
	assert_int_equal(t->s2.st.log_bytes, len);
	assert_string_equal(t->s2.st.reason, "exit status 0");
	assert_int_equal(t->s2.out.len, len - 1000);
	assert_memory_equal(t->s2.out.data, log + 1000, len - 1000);
	assert_true(t->s2.outputs >= 4);  /* a chunk per loop iteration */
	side_free(&t->s2);

	/* From the very end: no output, the end all the same. */
	side_open(&t->s2);
	attach(t, &t->s2, len);
	side_close(&t->s2);
	assert_int_equal(t->s2.ended, 1);
	assert_int_equal(t->s2.outputs, 0);
	assert_int_equal(t->s2.st.result, EXEC_SUCCESS);
	free(log);
}

/*
 * (c) Nothing there: -ENOENT where no supervisor ever started the job (no
 * directory, or no log in it), -ESRCH where one did and vanished without a
 * result; no callback, nothing active.
 */
static void
test_attach_nothing(void **state)
{
	struct t *t = *state;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct exec_attempt *a = NULL;
	char missing[160], log[200];
	int fd;

	side_open(&t->s1);
	assert_int_equal(mkdir(t->job.dir, 0700), 0);
	assert_int_equal(exec_attach(t->s1.e, t->job.dir, 0, on_output, on_end,
				     &t->s1, &a), -ENOENT);
	snprintf(missing, sizeof(missing), "%s/none", t->job.tmp);
	assert_int_equal(exec_attach(t->s1.e, missing, 0, on_output, on_end,
				     &t->s1, &a), -ENOENT);
	/* A log: a job ran there. */
	snprintf(log, sizeof(log), "%s/%s", t->job.dir, SUPERVISOR_LOG_FILE);
	fd = open(log, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(exec_attach(t->s1.e, t->job.dir, 0, on_output, on_end,
				     &t->s1, &a), -ESRCH);
	/* A socket file nobody listens on (a killed supervisor's). */
	assert_true(snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s",
			     t->job.dir, SUPERVISOR_SOCK_FILE) <
		    (int)sizeof(addr.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(fd);
	assert_int_equal(exec_attach(t->s1.e, t->job.dir, 0, on_output, on_end,
				     &t->s1, &a), -ESRCH);
	assert_null(a);
	assert_int_equal(exec_attach(t->s1.e, t->job.dir, 0, on_output, NULL,
				     &t->s1, &a), -EINVAL);
	assert_int_equal(exec_active(t->s1.e), 0);
	side_close(&t->s1);
	assert_int_equal(t->s1.outputs + t->s1.ended, 0);
}

/* Reads from a raw client up to and including the first newline. */
static void
read_line(int fd, char *line, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		assert_int_equal(read(fd, line + n, 1), 1);
		if (line[n++] == '\n')
			break;
	}
	line[n] = '\0';
}

static void
read_to_eof(int fd, struct buf *b)
{
	char chunk[4096];
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		assert_int_equal(buf_append(b, chunk, (size_t)n), 0);
	assert_int_equal(n, 0);
}

/* (d) Versions: a newer client gets ours, an older than MIN an ERR. */
static void
test_versions(void **state)
{
	struct t *t = *state;
	char line[SUPERVISOR_MAX_LINE];
	struct buf b;
	int fd;

	side_open(&t->s1);
	t->s1.detach_at = 6;  /* "ready\n": let go; the job sleeps on */
	start_sh(t, &t->s1, "echo ready; exec sleep 100");
	side_close(&t->s1);
	assert_true(t->s1.detached);

	fd = sock_connect(t->job.dir);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "ATTACH 99 0\n", 12), 12);
	read_line(fd, line, sizeof(line));
	assert_string_equal(line, "OK 2\n");
	read_line(fd, line, sizeof(line));
	assert_string_equal(line, "SIZE 6\n");  /* version 2: notes */
	close(fd);
	/* Version 1 still gets the bytes. */
	fd = sock_connect(t->job.dir);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "ATTACH 1 0\n", 11), 11);
	read_line(fd, line, sizeof(line));
	assert_string_equal(line, "OK 1\n");
	read_line(fd, line, sizeof(line));
	assert_string_equal(line, "LOG 6\n");
	close(fd);

	fd = sock_connect(t->job.dir);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "ATTACH 0 0\n", 11), 11);
	buf_init(&b, 0);
	read_to_eof(fd, &b);
	assert_string_equal(b.data, "ERR unsupported protocol version 0\n");
	buf_free(&b);
	close(fd);

	/* Still alive and attachable after both: cancel it through exec. */
	side_open(&t->s2);
	attach(t, &t->s2, 6);
	assert_int_equal(exec_cancel(t->s2.a), 0);
	side_close(&t->s2);
	assert_int_equal(t->s2.st.result, EXEC_CANCELED);
	wait_supervisor(t->s1.sv_pid);
}

/* Our parser takes OK versions in [MIN, ours] only. */
static void
test_parser_versions(void **state)
{
	struct exec_parser p;
	char ok[32];

	(void)state;
	exec_parser_init(&p);
	snprintf(ok, sizeof(ok), "OK %d\n", SUPERVISOR_PROTO_MIN_VERSION);
	assert_int_equal(exec_parser_feed(&p, ok, strlen(ok), NULL, NULL),
			 EXEC_PARSE_HEADER);
	assert_int_equal(p.version, SUPERVISOR_PROTO_MIN_VERSION);
	exec_parser_free(&p);
	exec_parser_init(&p);
	snprintf(ok, sizeof(ok), "OK %d\n", SUPERVISOR_PROTO_VERSION + 1);
	assert_int_equal(exec_parser_feed(&p, ok, strlen(ok), NULL, NULL),
			 EXEC_PARSE_ERROR);
	assert_non_null(strstr(p.error, "unsupported protocol version"));
	exec_parser_free(&p);
	exec_parser_init(&p);
	assert_int_equal(exec_parser_feed(&p, "OK 0\n", 5, NULL, NULL),
			 EXEC_PARSE_ERROR);
	exec_parser_free(&p);
}

/*
 * (e) The process that started the attempt is SIGKILLed: the supervisor
 * goes on, and we (another process) take it up and see it all.
 */
static void
test_starter_killed(void **state)
{
	struct t *t = *state;
	pid_t child;
	int st;

	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		/* No cmocka here: exit codes say what went wrong. */
		struct side *s = &t->s1;
		const char *argv[] = {"/bin/sh", "-c", counter_job, NULL};

		memset(s, 0, sizeof(*s));
		if (uv_loop_init(&s->loop) < 0 ||
		    exec_create(&s->loop, PW_SUPERVISOR_PATH, &s->e) < 0)
			_exit(2);
		t->job.spec.argv = argv;
		buf_init(&s->out, 0);
		if (exec_start(s->e, &t->job.spec, NULL, on_end, s, &s->a) < 0)
			_exit(4);
		/* A few lines in, the daemon dies without a word. */
		while (uv_run(&s->loop, UV_RUN_ONCE) != 0) {
			struct stat sb;
			char path[200];

			snprintf(path, sizeof(path), "%s/%s", t->job.dir,
				 SUPERVISOR_LOG_FILE);
			if (stat(path, &sb) == 0 && sb.st_size >= 30)
				kill(getpid(), SIGKILL);
		}
		_exit(5);
	}
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);

	side_open(&t->s2);
	/*
	 * Attached or (on a very slow machine) from the files: either way
	 * the supervisor finished the job after its starter died (tied, the
	 * result would be canceled: test_exec's test_tied).
	 */
	attach(t, &t->s2, 0);
	side_close(&t->s2);
	assert_int_equal(t->s2.ended, 1);
	assert_int_equal(t->s2.st.result, EXEC_SUCCESS);
	assert_counter_lines(t->s2.out.data, t->s2.out.len);
}

static pid_t
read_pid(const char *path)
{
	char buf[32] = "";
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	return (pid_t)atoi(buf);
}

/* (f) exec_cancel on an attached attempt ends the job's whole tree. */
static void
test_cancel_attached(void **state)
{
	struct t *t = *state;

	side_open(&t->s1);
	t->s1.detach_at = 6;
	start_sh(t, &t->s1, "echo $$ > \"$PF\"; echo ready; exec sleep 100");
	side_close(&t->s1);
	t->job_pid = read_pid(t->job.pidfile);

	side_open(&t->s2);
	attach(t, &t->s2, 6);
	assert_int_equal(exec_cancel(t->s2.a), 0);
	side_close(&t->s2);
	assert_int_equal(t->s2.ended, 1);
	assert_int_equal(t->s2.st.result, EXEC_CANCELED);
	assert_int_equal(t->s2.out.len, 0);
	assert_int_equal(kill(t->job_pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	t->job_pid = 0;
	wait_supervisor(t->s1.sv_pid);
}

/* The supervisor dies while we are attached, leaving no status: lost. */
static void
test_attached_supervisor_killed(void **state)
{
	struct t *t = *state;
	int st;

	side_open(&t->s1);
	t->s1.detach_at = 6;
	start_sh(t, &t->s1, "echo $$ > \"$PF\"; echo ready; exec sleep 100");
	side_close(&t->s1);
	t->job_pid = read_pid(t->job.pidfile);

	side_open(&t->s2);
	attach(t, &t->s2, 0);
	assert_int_equal(kill(t->s1.sv_pid, SIGKILL), 0);
	side_close(&t->s2);
	assert_int_equal(waitpid(t->s1.sv_pid, &st, 0), t->s1.sv_pid);
	assert_int_equal(t->s2.ended, 1);
	assert_int_equal(t->s2.st.result, EXEC_LOST);
	assert_int_equal(t->s2.out.len, 6);
	assert_memory_equal(t->s2.out.data, "ready\n", 6);
	assert_int_equal(t->s2.st.log_bytes, 6);
	assert_int_equal(strncmp(t->s2.st.reason,
				 "the supervisor went away without a result", 41), 0);
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	char *path;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	free(path);
}

/*
 * A stand-in supervisor that takes our ATTACH, and closes without END
 * after the status file appeared (as a supervisor exiting right after its
 * last look for clients does): the files finish the attempt.
 */
static void
test_eof_then_files(void **state)
{
	struct t *t = *state;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char line[SUPERVISOR_MAX_LINE];
	int lfd, cfd;

	assert_int_equal(mkdir(t->job.dir, 0700), 0);
	assert_true(snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s",
			     t->job.dir, SUPERVISOR_SOCK_FILE) <
		    (int)sizeof(addr.sun_path));
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(lfd, 4), 0);

	side_open(&t->s1);
	attach(t, &t->s1, 4);
	assert_true(t->s1.a->has_sock);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	read_line(cfd, line, sizeof(line));
	assert_string_equal(line, "ATTACH 1 4\n");
	write_file(t->job.dir, SUPERVISOR_LOG_FILE, "0123456789");
	write_file(t->job.dir, SUPERVISOR_STATUS_FILE,
		   "version=1\nresult=failed\nexit_code=3\nsignal=0\n"
		   "reason=exit status 3\nlog_bytes=10\nstarted_ms=1\n"
		   "finished_ms=2\n");
	/* OK and part of a frame, then gone. */
	assert_int_equal(write(cfd, "OK 1\nLOG 4\n45", 13), 13);
	close(cfd);
	close(lfd);
	side_close(&t->s1);
	assert_int_equal(t->s1.ended, 1);
	assert_int_equal(t->s1.st.result, EXEC_FAILED);
	assert_int_equal(t->s1.st.exit_code, 3);
	assert_string_equal(t->s1.st.reason, "exit status 3");
	assert_int_equal(t->s1.out.len, 6);
	assert_memory_equal(t->s1.out.data, "456789", 6);
}

/*
 * An older supervisor (version 1) answers a client that wants notes: its
 * LOG frames become notes, their bytes unread (they are in its log file),
 * and its END ends the attempt.
 */
static void
test_notes_from_v1(void **state)
{
	struct t *t = *state;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char line[SUPERVISOR_MAX_LINE];
	static const char status[] =
		"version=1\nresult=success\nexit_code=0\nsignal=0\n"
		"reason=exit status 0\nlog_bytes=10\nstarted_ms=1\n"
		"finished_ms=2\n";
	char frames[512];
	int lfd, cfd;

	assert_int_equal(mkdir(t->job.dir, 0700), 0);
	assert_true(snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s",
			     t->job.dir, SUPERVISOR_SOCK_FILE) <
		    (int)sizeof(addr.sun_path));
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	/* The file says what the frames' bytes are: the file wins. */
	write_file(t->job.dir, SUPERVISOR_LOG_FILE, "0123456789");

	side_open_notes(&t->s1, t->job.dir);
	attach(t, &t->s1, 4);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	read_line(cfd, line, sizeof(line));
	assert_string_equal(line, "ATTACH 2 4\n");
	assert_true(snprintf(frames, sizeof(frames),
			     "OK 1\nLOG 4\nXXXXLOG 2\nYYEND %zu\n%s",
			     strlen(status), status) < (int)sizeof(frames));
	assert_int_equal(write(cfd, frames, strlen(frames)),
			 (ssize_t)strlen(frames));
	close(cfd);
	close(lfd);
	side_close(&t->s1);
	assert_int_equal(t->s1.ended, 1);
	assert_int_equal(t->s1.st.result, EXEC_SUCCESS);
	assert_int_equal(t->s1.notes, 2);
	assert_int_equal(t->s1.out.len, 6);
	assert_memory_equal(t->s1.out.data, "456789", 6);
}

/* Detach while the rest comes from the files: nothing more is delivered. */
static void
test_detach_during_files(void **state)
{
	struct t *t = *state;

	side_open(&t->s1);
	start_sh(t, &t->s1, "seq 1 40000");
	side_close(&t->s1);
	side_free(&t->s1);

	side_open(&t->s2);
	t->s2.detach_at = 1;  /* at the first chunk */
	attach(t, &t->s2, 0);
	assert_false(t->s2.a->has_sock);
	side_close(&t->s2);
	assert_true(t->s2.detached);
	assert_int_equal(t->s2.outputs, 1);
	assert_int_equal(t->s2.ended, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parser_versions),
		cmocka_unit_test_setup_teardown(test_detach_then_attach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detach_then_attach_notes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notes_then_attach_notes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notes_from_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detach_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_let_go_child_reaped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_after_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_starter_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_attached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attached_supervisor_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eof_then_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detach_during_files, setup, teardown),
	};

	/* A supervisor that went away must not kill the test with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("exec_attach", tests, NULL, NULL);
}
