/*
 * bench/spawn: what the sandbox costs at a job's start.
 *
 * In one run, sequentially, N times each: a plain fork+exec+wait of
 * /bin/true (the floor); a whole exec attempt of /bin/true unsandboxed
 * (supervisor exec, socket, log, status fsyncs); the same in the strict
 * sandbox with the network namespace pool; and strict without the pool
 * (each supervisor makes its namespace).  Prints one JSON object: per
 * spawn milliseconds (mean and median), the strict/plain ratio, and the
 * sandbox's own cost (strict with pool minus unsandboxed).  Beside each
 * whole spawn, its start: from the call (fork, or exec_start) to the
 * job's execve (the supervisor's execve_mono_us stamp; for the plain case
 * the child's clock just before execl) — what a job waits before it runs.
 * Needs root for the strict cases (they are reported as null otherwise).
 * svpool and strict_svpool are none and strict again with a pool of
 * pre-started supervisors (exec_supervisor_pool, 2): the start is then a
 * message to a supervisor already waiting; each attempt waits for the
 * refill (off the start's path) before it starts.
 *
 *   build/bench/spawn [N] [SUPERVISOR] [CASES] [ROOTFS]
 *
 * CASES (for profiling one case alone) is a comma-separated subset of
 * plain,none,strict,nopool,rootfs,svpool,strict_svpool; the others are
 * reported as null.
 * rootfs (only with ROOTFS, a directory tree with /bin/true): strict with
 * the pool, the job's root that tree instead of the host's (--rootfs:
 * idmapped clone, overlay, pivot first), against strict on the host's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "pipewright/exec.h"

#define JOB_UID 1000000000

struct ctx {
	bool done;
	enum exec_result result;
	uint64_t execve_us;      /* CLOCK_MONOTONIC, from the status file */
	uint64_t exited_us;      /* the supervisor's reap of the job (its init) */
	uint64_t end_ns;         /* uv_hrtime() in the end callback */
};

static void
on_end(struct exec_attempt *a, const struct exec_status *st, void *arg)
{
	struct ctx *c = arg;

	(void)a;
	c->done = true;
	c->result = st->result;
	c->execve_us = st->execve_mono_us;
	c->exited_us = st->exited_mono_us;
	c->end_ns = uv_hrtime();
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct stats {
	double mean, median;
	bool ok;
};

static struct stats
summarize(double *ms, int n)
{
	struct stats s = {0, 0, true};
	int i;

	for (i = 0; i < n; i++)
		s.mean += ms[i];
	s.mean /= n;
	qsort(ms, (size_t)n, sizeof(*ms), cmp);
	s.median = ms[n / 2];
	return s;
}

static struct stats
plain(int n, struct stats *start)
{
	double *ms = calloc((size_t)n, sizeof(*ms));
	double *sms = calloc((size_t)n, sizeof(*sms));
	/* The child's clock before execl, seen by the parent. */
	uint64_t *stamp = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct stats s;
	uint64_t t;
	int i, st;
	pid_t pid;

	for (i = 0; i < n; i++) {
		t = uv_hrtime();
		pid = fork();
		if (pid == 0) {
			*stamp = uv_hrtime();
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		waitpid(pid, &st, 0);
		ms[i] = (double)(uv_hrtime() - t) / 1e6;
		sms[i] = (double)(*stamp - t) / 1e6;
	}
	s = summarize(ms, n);
	*start = summarize(sms, n);
	munmap(stamp, sizeof(uint64_t));
	free(sms);
	free(ms);
	return s;
}

static struct stats
attempts(uv_loop_t *loop, struct exec *e, const char *base, const char *ws,
	 enum exec_sandbox mode, bool pool, const char *rootfs, int n,
	 struct stats *start, struct stats *call, struct stats *ends)
{
	size_t sv_pool = exec_supervisor_pooled(e);
	static const char *const argv[] = {"/bin/true", NULL};
	double *ms = calloc((size_t)n, sizeof(*ms));
	double *sms = calloc((size_t)n, sizeof(*sms));
	double *cms = calloc((size_t)n, sizeof(*cms));
	double *rms = calloc((size_t)n, sizeof(*rms));
	double *ems = calloc((size_t)n, sizeof(*ems));
	struct stats s = {0, 0, false};
	struct timespec c0, c1;
	struct exec_attempt *a;
	struct ctx c;
	char dir[4096], home[4200], *env[3];
	uint64_t t;
	int i;

	for (i = 0; i < n; i++) {
		snprintf(dir, sizeof(dir), "%s/a%d-%d-%d-%zu-%d", base, mode,
			 pool, rootfs != NULL, sv_pool, i);
		snprintf(home, sizeof(home), "HOME=%s/home", dir);
		env[0] = "PATH=/usr/bin:/bin";
		env[1] = home;
		env[2] = NULL;
		/*
		 * The pool refills between jobs, off the start's path: wait
		 * for a refill in flight (it counts in exec_active).
		 */
		while (pool && (exec_netns_available(e) == 0 ||
				exec_active(e) > 0))
			uv_run(loop, UV_RUN_ONCE);
		while (exec_supervisor_pooled(e) < sv_pool)
			uv_run(loop, UV_RUN_ONCE);
		struct exec_spec spec = {
			.dir = dir, .argv = argv, .env = (const char *const *)env,
			.cwd = ws, .workspace = ws, .sandbox = mode,
			.rootfs = rootfs,
			.kill_grace_ms = 1000,
			.resources = {.memory = 256ULL << 20, .pids = 64},
		};
		/*
		 * Unsandboxed, a uid would make the job that host user, who
		 * cannot enter our 0700 directory: the daemon's mode none
		 * passes none either.
		 */
		if (mode == EXEC_SANDBOX_STRICT)
			spec.uid = spec.gid = JOB_UID;
		memset(&c, 0, sizeof(c));
		t = uv_hrtime();
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
		if (exec_start(e, &spec, NULL, on_end, &c, &a) < 0)
			goto out;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
		/* The loop's own CPU for the start: what it cannot do meanwhile. */
		cms[i] = (double)(c1.tv_sec - c0.tv_sec) * 1e3 +
			 (double)(c1.tv_nsec - c0.tv_nsec) / 1e6;
		while (!c.done)
			uv_run(loop, UV_RUN_ONCE);
		ms[i] = (double)(uv_hrtime() - t) / 1e6;
		if (c.result != EXEC_SUCCESS || c.execve_us == 0) {
			fprintf(stderr, "spawn: attempt in %s failed (result %d, "
				"execve stamp %llu)\n", dir, (int)c.result,
				(unsigned long long)c.execve_us);
			goto out;
		}
		sms[i] = ((double)c.execve_us * 1e3 - (double)t) / 1e6;
		/* The job's execve to its reap (the job's run and, strict,
		 * its init's exit), then the reap to the end callback. */
		rms[i] = (double)(c.exited_us - c.execve_us) / 1e3;
		ems[i] = ((double)c.end_ns - (double)c.exited_us * 1e3) / 1e6;
	}
	s = summarize(ms, n);
	*start = summarize(sms, n);
	if (call != NULL)
		*call = summarize(cms, n);
	if (ends != NULL) {
		ends[0] = summarize(rms, n);
		ends[1] = summarize(ems, n);
	}
out:
	free(ems);
	free(rms);
	free(cms);
	free(sms);
	free(ms);
	return s;
}

/* True if the comma-separated list has the word. */
static bool
want(const char *list, const char *word)
{
	size_t wl = strlen(word);
	const char *p = list;

	while (*p != '\0') {
		size_t l = strcspn(p, ",");

		if (l == wl && strncmp(p, word, wl) == 0)
			return true;
		p += l;
		p += strspn(p, ",");
	}
	return false;
}

static void
print_stats(const char *name, struct stats s, bool last)
{
	if (s.ok)
		printf("  \"%s\": {\"mean_ms\": %.3f, \"median_ms\": %.3f}%s\n",
		       name, s.mean, s.median, last ? "" : ",");
	else
		printf("  \"%s\": null%s\n", name, last ? "" : ",");
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;
	const char *sup = argc > 2 ? argv[2] : PW_SUPERVISOR_PATH;
	char base[] = "/tmp/pw-bench-spawn.XXXXXX", ws[4200], cmd[4300];
	struct stats p, none, strict, nopool, ps, nones, stricts, nopools;
	struct stats rfs, rfss, svp, svps, ssvp, ssvps;
	struct stats nonec, strictc, svpc, ssvpc;
	struct stats strictend[2], svpend[2], ssvpend[2];
	struct exec *e, *e2, *e3;
	uv_loop_t loop;
	bool root = geteuid() == 0;
	const char *cases = argc > 3 ? argv[3] :
			    "plain,none,strict,nopool,rootfs,svpool,"
			    "strict_svpool";
	const char *rootfs = argc > 4 ? argv[4] : NULL;

	if (n < 1 || mkdtemp(base) == NULL)
		return 2;
	snprintf(ws, sizeof(ws), "%s/ws", base);
	mkdir(ws, 0755);
	if (root && chown(ws, JOB_UID, JOB_UID) < 0)
		return 2;
	uv_loop_init(&loop);
	if (exec_create(&loop, sup, &e) < 0 || exec_create(&loop, sup, &e2) < 0 ||
	    exec_create(&loop, sup, &e3) < 0)
		return 2;
	p = none = strict = nopool = (struct stats){0, 0, false};
	ps = nones = stricts = nopools = rfs = rfss = p;
	svp = svps = ssvp = ssvps = p;
	nonec = strictc = svpc = ssvpc = p;
	strictend[0] = strictend[1] = svpend[0] = svpend[1] = p;
	ssvpend[0] = ssvpend[1] = p;
	if (want(cases, "plain"))
		p = plain(n, &ps);
	if (want(cases, "none"))
		none = attempts(&loop, e, base, ws, EXEC_SANDBOX_NONE, false,
				NULL, n, &nones, &nonec, NULL);
	if (root && want(cases, "strict")) {
		if (exec_netns_pool(e2, 8) < 0)
			return 2;
		strict = attempts(&loop, e2, base, ws, EXEC_SANDBOX_STRICT,
				  true, NULL, n, &stricts, &strictc, strictend);
	}
	if (root && rootfs != NULL && want(cases, "rootfs")) {
		if (!want(cases, "strict") && exec_netns_pool(e2, 8) < 0)
			return 2;
		rfs = attempts(&loop, e2, base, ws, EXEC_SANDBOX_STRICT, true,
			       rootfs, n, &rfss, NULL, NULL);
	}
	if (root && want(cases, "nopool"))
		nopool = attempts(&loop, e, base, ws, EXEC_SANDBOX_STRICT,
				  false, NULL, n, &nopools, NULL, NULL);
	if (want(cases, "svpool") || (root && want(cases, "strict_svpool"))) {
		if (exec_supervisor_pool(e3, 2) < 0 ||
		    (root && exec_netns_pool(e3, 8) < 0))
			return 2;
		if (want(cases, "svpool"))
			svp = attempts(&loop, e3, base, ws, EXEC_SANDBOX_NONE,
				       false, NULL, n, &svps, &svpc, svpend);
		if (root && want(cases, "strict_svpool"))
			ssvp = attempts(&loop, e3, base, ws,
					EXEC_SANDBOX_STRICT, true, NULL, n,
					&ssvps, &ssvpc, ssvpend);
		if (exec_supervisor_pool(e3, 0) < 0)
			return 2;
	}
	while (exec_active(e) > 0 || exec_active(e2) > 0 ||
	       exec_active(e3) > 0 || exec_supervisor_pooled(e3) > 0)
		uv_run(&loop, UV_RUN_ONCE);
	uv_run(&loop, UV_RUN_DEFAULT);
	exec_destroy(e);
	exec_destroy(e2);
	exec_destroy(e3);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd) != 0)
		fprintf(stderr, "spawn: could not remove %s\n", base);

	printf("{\n  \"benchmark\": \"spawn\",\n  \"spawns\": %d,\n", n);
	print_stats("plain_fork_exec", p, false);
	print_stats("attempt_unsandboxed", none, false);
	print_stats("attempt_strict_pool", strict, false);
	print_stats("attempt_strict_no_pool", nopool, false);
	print_stats("start_plain_fork_exec", ps, false);
	print_stats("start_unsandboxed", nones, false);
	print_stats("start_strict_pool", stricts, false);
	print_stats("start_strict_no_pool", nopools, false);
	print_stats("attempt_strict_rootfs", rfs, false);
	print_stats("start_strict_rootfs", rfss, false);
	print_stats("attempt_unsandboxed_supervisor_pool", svp, false);
	print_stats("start_unsandboxed_supervisor_pool", svps, false);
	print_stats("attempt_strict_supervisor_pool", ssvp, false);
	print_stats("start_strict_supervisor_pool", ssvps, false);
	/* The end: execve to the reap of the job (strict: of its init, so
	 * with the namespaces' teardown), the reap to the end callback. */
	print_stats("execve_to_reap_strict", strictend[0], false);
	print_stats("reap_to_end_strict", strictend[1], false);
	print_stats("execve_to_reap_unsandboxed_supervisor_pool", svpend[0], false);
	print_stats("reap_to_end_unsandboxed_supervisor_pool", svpend[1], false);
	print_stats("execve_to_reap_strict_supervisor_pool", ssvpend[0], false);
	print_stats("reap_to_end_strict_supervisor_pool", ssvpend[1], false);
	/* CPU time of the calling thread inside exec_start (the loop's). */
	print_stats("call_cpu_unsandboxed", nonec, false);
	print_stats("call_cpu_unsandboxed_supervisor_pool", svpc, false);
	print_stats("call_cpu_strict", strictc, false);
	print_stats("call_cpu_strict_supervisor_pool", ssvpc, false);
	if (rfss.ok && stricts.ok)
		printf("  \"ratio_start_rootfs_to_host_root\": %.2f,\n",
		       rfss.mean / stricts.mean);
	if (strict.ok && p.ok && none.ok && nopool.ok) {
		printf("  \"ratio_strict_pool_to_plain\": %.2f,\n",
		       strict.mean / p.mean);
		printf("  \"sandbox_cost_ms\": %.3f,\n", strict.mean - none.mean);
		printf("  \"netns_pool_saves_ms\": %.3f\n",
		       nopool.mean - strict.mean);
	} else {
		printf("  \"ratio_strict_pool_to_plain\": null\n");
	}
	printf("}\n");
	if ((root && rootfs != NULL && want(cases, "rootfs") && !rfs.ok))
		return 1;
	return strict.ok || !root || !want(cases, "strict") ? 0 : 1;
}
