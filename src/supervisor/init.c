/*
 * PID 1 of the job's PID namespace: a small init, not /bin/sh.
 *
 * It finishes the sandbox from the inside (it is the first process in
 * the new namespaces, with capabilities over them only): moves itself
 * into the job's v1 cgroups (cgroup.c, sv_cgroup_join), becomes uid 0 of
 * the user namespace, enters a cgroup namespace of its own, builds the
 * filesystem (mounts.c), names the host,
 * brings up loopback in a netns of its own, sets the rlimits, empties
 * the capability bounding set, sets no_new_privs and loads the seccomp
 * filter.  Then it forks the script and stays: it reaps every orphan
 * (they are reparented to it), forwards SIGTERM, SIGINT and SIGHUP to
 * every process of the namespace, and when the script ends it reports the
 * script's wait status on the report pipe and exits, which makes the
 * kernel kill whatever is left in the namespace.
 *
 * The report pipe says "S<wait status>" or, if setup failed, "E<why>";
 * the supervisor reads it when it reaps us.  Init keeps its capabilities
 * and is not dumpable, so the job (uid 0 without capabilities) can neither
 * ptrace it nor reach its descriptors through /proc/1/fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor.h"

static void __attribute__((noreturn))
fail(int report_wr, const char *what)
{
	dprintf(report_wr, "E%s", what);
	_exit(1);
}

static int
set_limit(int res, uint64_t v)
{
	struct rlimit r = {.rlim_cur = v, .rlim_max = v};

	return setrlimit(res, &r);
}

static int
limits(const struct supervisor *sv)
{
	if (set_limit(RLIMIT_CORE, 0) < 0)
		return -errno;
	if (sv->sb.cpu_seconds > 0 &&
	    set_limit(RLIMIT_CPU, sv->sb.cpu_seconds) < 0)
		return -errno;
	if (sv->sb.file_size > 0 && set_limit(RLIMIT_FSIZE, sv->sb.file_size) < 0)
		return -errno;
	if (sv->sb.open_files > 0 &&
	    set_limit(RLIMIT_NOFILE, sv->sb.open_files) < 0)
		return -errno;
	return 0;
}

static int
drop_privileges(void)
{
	int cap;

	for (cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

static void
setup(struct supervisor *sv, int report_wr)
{
	char err[512];
	size_t i;
	int rc, null;

	/*
	 * Into the job's v1 cgroups first, before anything of the job runs,
	 * while still the host's root (cgroup.c, sv_cgroup_join).
	 */
	if ((rc = sv_cgroup_join(sv)) < 0) {
		snprintf(err, sizeof(err), "moving the job into its cgroups: %s",
			 strerror(-rc));
		fail(report_wr, err);
	}
	/* Rootless with our own ids alone: setgroups is denied, and the
	 * caller's groups show as nobody's. */
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0 ||
	    (setgroups(0, NULL) < 0 &&
	     !(sv->sb.rootless && sv->sb.subgid == 0 && errno == EPERM))) {
		snprintf(err, sizeof(err), "becoming the job's root: %s",
			 strerror(errno));
		fail(report_wr, err);
	}
	/*
	 * A cgroup namespace rooted at the job's own cgroups: /proc/self/cgroup
	 * reads "/" instead of the daemon's cgroup path (where it runs, the
	 * supervisor's pid).  Here, not in the clone: the namespace's root is
	 * the cgroup we are in when it is made, and the supervisor moves us
	 * into the job's cgroups only after the clone, before releasing us.
	 */
	if (unshare(CLONE_NEWCGROUP) < 0) {
		snprintf(err, sizeof(err), "cgroup namespace: %s",
			 strerror(errno));
		fail(report_wr, err);
	}
	/* Set after the uid change, which clears it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_DUMPABLE, 0);
	/* Rootless: only now may we clone the mounts (rootless.c). */
	if (sv->sb.rootless && sv_mounts_prepare(sv, err, sizeof(err)) < 0)
		fail(report_wr, err);
	if (sv_mounts_setup(sv, err, sizeof(err)) < 0)
		fail(report_wr, err);
	for (i = 0; i < sv->sb.nbinds; i++)
		if (sv->sb.binds[i].fd >= 0)
			close(sv->sb.binds[i].fd);
	/* slirp4netns's end is the supervisor's to close, not ours. */
	if (sv->sb.resolv_fd >= 0)
		close(sv->sb.resolv_fd);
	if (sv->sb.slirp_exit >= 0)
		close(sv->sb.slirp_exit);
	/* Our stdio was the supervisor's (stderr: the daemon's). */
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    dup2(null, 2) < 0)
		fail(report_wr, "/dev/null");
	close(null);
	/* The job's UTS namespace's name is cosmetic: a failure is let be
	 * (tested, so that glibc's fortified headers build with -Werror). */
	if (sethostname("pipewright", strlen("pipewright")) < 0)
		(void)0;
	if (!sv->sb.netns_joined && (rc = sv_loopback_up()) < 0) {
		snprintf(err, sizeof(err), "bringing up loopback: %s",
			 strerror(-rc));
		fail(report_wr, err);
	}
	if ((rc = limits(sv)) < 0) {
		snprintf(err, sizeof(err), "setrlimit: %s", strerror(-rc));
		fail(report_wr, err);
	}
	if ((rc = drop_privileges()) < 0) {
		snprintf(err, sizeof(err), "dropping capabilities: %s",
			 strerror(-rc));
		fail(report_wr, err);
	}
	if ((rc = sv_seccomp_load()) < 0 ||
	    (sv->sb.ws_root_ids && (rc = sv_seccomp_load_setid()) < 0)) {
		snprintf(err, sizeof(err), "loading the seccomp filter: %s",
			 strerror(-rc));
		fail(report_wr, err);
	}
}

void
sv_init_main(struct supervisor *sv, int out_wr, int report_wr)
{
	sigset_t set;
	siginfo_t info;
	pid_t script, pid;
	int st, sig;

	/* Every signal is blocked (sv_job_start): we take them synchronously. */
	setup(sv, report_wr);
	script = fork();
	if (script < 0) {
		dprintf(out_wr, SV_PREFIX "cannot start the job: %s\n",
			strerror(errno));
		fail(report_wr, "fork failed");
	}
	if (script == 0) {
		/* `user:` for the script alone: init stays the namespace's 0. */
		if (sv_user_enter(sv) < 0) {
			dprintf(out_wr, SV_PREFIX "cannot become user %s: %s\n",
				sv->sb.user, strerror(errno));
			_exit(126);
		}
		sv_job_exec(sv, out_wr);
	}
	close(out_wr);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	for (;;) {
		sig = sigwaitinfo(&set, &info);
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(-1, sig);  /* everyone in the namespace but us */
			continue;
		}
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
			if (pid != script)
				continue;
			dprintf(report_wr, "S%d", st);
			_exit(WIFEXITED(st) ? WEXITSTATUS(st)
					    : 128 + WTERMSIG(st));
		}
	}
}
