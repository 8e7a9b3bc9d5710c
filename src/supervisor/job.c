/*
 * Starting the job: fork, and in the child set up what the job sees.
 *
 * The job gets its own process group (so the group can be signalled as a
 * whole), stdin from /dev/null, stdout and stderr on one pipe (so their
 * order is kept), the working directory, default signal dispositions and an
 * empty signal mask, and no descriptor but 0-2: the listening socket, the
 * log and the clients are ours.  The environment is the job's (env.c),
 * set here, in the job's own process, right before its execve: never in
 * ours, which may run as host root.
 *
 * Signals are blocked across fork so that no handler of ours runs in the
 * child (it would write into our self-pipe) before the child resets them.
 * Failures in the child are reported on the output pipe, where the person
 * reading the log will look, with exit 127 (cannot run) or 1 (cannot enter
 * the working directory), like a shell.
 *
 * With --sandbox strict the fork is a clone into new namespaces (ns.c) and
 * the process forked is the job's init (init.c), which runs the job with
 * sv_job_exec() once the sandbox is in place.  With services, that first
 * process of the job is their manager (services.c), which starts them,
 * then the script, through sv_child_exec() like the script alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "supervisor.h"

extern char **environ;

uint64_t
sv_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
child_fail(const char *what, const char *arg, int err, int code)
{
	dprintf(STDERR_FILENO, SV_PREFIX "%s %s: %s\n", what, arg,
		strerror(err));
	_exit(code);
}

void
sv_reset_signals(void)
{
	struct sigaction sa;
	sigset_t none;
	int s;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (s = 1; s < NSIG; s++)
		sigaction(s, &sa, NULL);  /* fails harmlessly for KILL, STOP */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

void
sv_child_exec(const struct supervisor *sv, int out, char *const *argv,
	      char **env, bool stamp)
{
	int null;

	setpgid(0, 0);
	null = open("/dev/null", O_RDONLY);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
	    dup2(out, STDOUT_FILENO) < 0 || dup2(out, STDERR_FILENO) < 0)
		_exit(126);
	/* Everything is O_CLOEXEC too; this also covers what is not. */
	if (close_range(3, ~0U, 0) < 0) {
		int fd;

		for (fd = 3; fd < 1024; fd++)
			close(fd);
	}
	if (sv->cwd != NULL && chdir(sv->cwd) < 0)
		child_fail("cannot enter working directory", sv->cwd, errno, 1);
	sv_reset_signals();
	/* Benchmarks read it (execve_mono_us): as late as we can take it. */
	if (stamp && sv->stamps != NULL)
		sv->stamps[0] = sv_mono_us();
	/* The job's PATH finds the command, as the job's shell would. */
	environ = env;
	execvp(argv[0], argv);
	child_fail("cannot run", argv[0], errno, 127);
	_exit(127);
}

void
sv_job_exec(struct supervisor *sv, int out_wr)
{
	/*
	 * --sandbox none given --uid: the checkout's owner (user.c), before
	 * the services too, so that their directories are that user's.
	 */
	if (!sv->sb.strict && sv_user_unconfined(sv) < 0) {
		dprintf(out_wr, SV_PREFIX "cannot become uid %u: %s\n",
			(unsigned)sv->sb.uid, strerror(errno));
		_exit(126);
	}
	/* With services, the job's first process runs them and the script. */
	if (sv->nsvcs > 0)
		sv_services_main(sv, out_wr);
	sv_child_exec(sv, out_wr, sv->argv, sv_env(sv), true);
}

/*
 * The job gets the machine's CPUs, in every sandbox mode: the daemon may
 * be pinned (taskset, systemd's CPUAffinity=) to keep its loop on a core
 * of its own, and that choice is the daemon's, not the jobs'.  Set here,
 * in the supervisor before its fork, so that its own work for the job
 * (the log's copy, the status) leaves that core too; whatever the
 * daemon's cgroup allows (cpuset) still bounds it, the kernel keeps the
 * intersection.  Every bit set: no sysconf() (which reads /sys) per job.
 */
void
sv_reset_affinity(void)
{
	cpu_set_t all;

	memset(&all, 0xff, sizeof(all));
	if (sched_setaffinity(0, sizeof(all), &all) < 0)
		sv_warn("resetting the CPU affinity");
}

int
sv_job_start(struct supervisor *sv)
{
	sigset_t all, old;
	int fds[2], rc = 0;
	pid_t pid;

	if (sv->nsvcs > 0) {
		char *why = NULL;

		rc = sv_services_prepare(sv, &why);
		if (rc < 0) {
			sv->start_error = xasprintf("services: %s", why);
			free(why);
			return rc;
		}
	}
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	/*
	 * A job that prints a lot runs ahead of us by this much instead of
	 * 64 KiB, and each of our reads takes as much: fewer wake-ups, fewer
	 * switches on both sides.  Above the system's limit it stays as it is.
	 */
	(void)fcntl(fds[0], F_SETPIPE_SZ, SV_PIPE_SIZE);
	/* Made before any fork, so every process of the job shares it. */
	if (sv->stamps == NULL) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

		sv->stamps = p != MAP_FAILED ? p : NULL;
	}
	sv_reset_affinity();
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if (sv->sb.strict) {
		char *why = NULL;

		pid = sv_sandbox_start(sv, fds[1], &why);
		if (pid < 0) {
			rc = pid;
			if (why != NULL)
				sv->start_error = xasprintf("sandbox: %s", why);
			free(why);
			close(fds[0]);
			goto out;
		}
	} else {
		pid = fork();
		if (pid == 0)
			sv_job_exec(sv, fds[1]);
	}
	if (pid < 0) {
		rc = -errno;
		close(fds[0]);
		goto out;
	}
	sv_services_forked(sv);
	/* Both sides set the group, so that it exists whoever runs first. */
	setpgid(pid, pid);
	sv->pid = pid;
	sv->running = true;
	/* The job's write end must stay blocking; only our read end is not. */
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	sv->out_fd = fds[0];
	if (sv->timeout_ms > 0)
		sv->deadline = pw_mono_ms() + sv->timeout_ms;
out:
	if (rc < 0)
		sv_services_forked(sv);
	close(fds[1]);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}
