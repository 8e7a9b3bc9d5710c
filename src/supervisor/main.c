/*
 * pipewright-supervisor: arguments, setup, and the overall flow.
 *
 * Invocation: see usage_text and supervisor-proto.h; the sandbox options
 * are docs/internals/sandbox.md's.
 * Our environment is exec's fixed one, never the job's: the job's comes
 * as data on --env-fd (env.c) and is applied only to the job's process.
 *
 * main() builds the one struct supervisor, prepares the descriptors and
 * files, becomes a child subreaper (so that orphans of the job are
 * reparented here and can be found and killed), starts the job and hands
 * over to the poll loop.  Usage errors exit 2 without a status file; once
 * the job has been tried, the status file is always written.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor.h"

static const char usage_text[] =
	"usage: pipewright-supervisor --dir DIR --listen-fd N [--cwd DIR]\n"
	"           [--timeout-ms N] [--grace-ms N] [--max-log BYTES]\n"
	"           [--tied [--tie-fd N]]\n"
	"           [--sandbox strict|none] [--network] [--netns-fd N]\n"
	"           [--workspace DIR] [--workspace-at PATH] [--rootfs DIR]\n"
	"           [--mount PATH]... [--uid N] [--gid N] [--user U[:G]]\n"
	"           [--memory BYTES] [--pids N] [--cpu-seconds N]\n"
	"           [--file-size BYTES] [--open-files N] [--env-fd N]\n"
	"           [--services-fd N] [--mask NAME]... -- ARGV...\n"
	"       pipewright-supervisor --make-netns N --send-fd N\n"
	"       pipewright-supervisor --pooled N [--ahead]\n";

/* Options that take a number, and where it goes. */
static uint64_t *
number_opt(struct supervisor *sv, const char *a, uint64_t *scratch)
{
	static const struct {
		const char *name;
		size_t off;
	} rows[] = {
		{"--timeout-ms", offsetof(struct supervisor, timeout_ms)},
		{"--grace-ms", offsetof(struct supervisor, grace_ms)},
		{"--max-log", offsetof(struct supervisor, max_log)},
		{"--memory", offsetof(struct supervisor, sb.memory)},
		{"--pids", offsetof(struct supervisor, sb.pids)},
		{"--cpu-seconds", offsetof(struct supervisor, sb.cpu_seconds)},
		{"--file-size", offsetof(struct supervisor, sb.file_size)},
		{"--open-files", offsetof(struct supervisor, sb.open_files)},
	};
	size_t i;

	for (i = 0; i < PW_ARRAY_LEN(rows); i++)
		if (strcmp(a, rows[i].name) == 0)
			return (uint64_t *)((char *)sv + rows[i].off);
	if (strcmp(a, "--listen-fd") == 0 || strcmp(a, "--netns-fd") == 0 ||
	    strcmp(a, "--uid") == 0 || strcmp(a, "--gid") == 0 ||
	    strcmp(a, "--env-fd") == 0 || strcmp(a, "--services-fd") == 0 ||
	    strcmp(a, "--tie-fd") == 0)
		return scratch;
	return NULL;
}

static int
parse_u64(const char *opt, const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL) {
		sv_warnx("%s needs a value", opt);
		return -EINVAL;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-') {
		sv_warnx("%s: not a number: %s", opt, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int
parse_args(struct supervisor *sv, int argc, char **argv, char **masks,
	   size_t *nmasks, int *env_fd)
{
	uint64_t fd = UINT64_MAX, num, *dst;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "--tied") == 0) {
			sv->tied = true;
			continue;
		} else if (strcmp(a, "--network") == 0) {
			sv->sb.network = true;
			continue;
		}
		if ((dst = number_opt(sv, a, &num)) != NULL) {
			if (parse_u64(a, v, dst) < 0)
				return -EINVAL;
			if (dst == &num && num > INT32_MAX) {
				sv_warnx("%s: out of range", a);
				return -EINVAL;
			}
			if (strcmp(a, "--listen-fd") == 0)
				fd = num;
			else if (strcmp(a, "--netns-fd") == 0)
				sv->sb.netns_fd = (int)num;
			else if (strcmp(a, "--env-fd") == 0)
				*env_fd = (int)num;
			else if (strcmp(a, "--services-fd") == 0)
				sv->svc_fd = (int)num;
			else if (strcmp(a, "--tie-fd") == 0)
				sv->tie_fd = (int)num;
			else if (strcmp(a, "--gid") == 0)
				sv->sb.gid = (gid_t)num;
			else if (dst == &num)
				sv->sb.uid = (uid_t)num;
			i++;
			continue;
		}
		if (v == NULL) {
			sv_warnx("%s needs a value", a);
			return -EINVAL;
		}
		if (strcmp(a, "--sandbox") == 0) {
			if (strcmp(v, "strict") != 0 && strcmp(v, "none") != 0) {
				sv_warnx("--sandbox: expected strict or none");
				return -EINVAL;
			}
			sv->sb.strict = v[0] == 's';
			i++;
			continue;
		} else if (strcmp(a, "--workspace") == 0) {
			sv->sb.workspace = v;
			i++;
			continue;
		} else if (strcmp(a, "--workspace-at") == 0) {
			sv->sb.workspace_at = v;
			i++;
			continue;
		} else if (strcmp(a, "--rootfs") == 0) {
			sv->sb.rootfs = v;
			i++;
			continue;
		} else if (strcmp(a, "--mount") == 0) {
			if (sv->sb.nmounts >= SV_MAX_MOUNTS) {
				sv_warnx("--mount: more than %d", SV_MAX_MOUNTS);
				return -EINVAL;
			}
			sv->sb.mounts[sv->sb.nmounts++] = v;
			i++;
			continue;
		} else if (strcmp(a, "--user") == 0) {
			sv->sb.user = v;
			i++;
			continue;
		} else if (strcmp(a, "--mask") == 0) {
			if (*nmasks < SV_MAX_MASKS)
				masks[(*nmasks)++] = argv[i + 1];
			i++;
			continue;
		}
		if (strcmp(a, "--dir") == 0 || strcmp(a, "--cwd") == 0) {
			if (v == NULL) {
				sv_warnx("%s needs a value", a);
				return -EINVAL;
			}
			if (a[2] == 'd')
				sv->dir = v;
			else
				sv->cwd = v;
		} else {
			sv_warnx("unknown option %s", a);
			return -EINVAL;
		}
		i++;
	}
	if (sv->dir == NULL || fd > INT32_MAX || i >= argc) {
		sv_warnx("--dir, --listen-fd and a command after -- are required");
		return -EINVAL;
	}
	if (sv->tie_fd >= 0 && (!sv->tied || sv->tie_fd < 3)) {
		sv_warnx("--tie-fd needs --tied and a descriptor from 3 on");
		return -EINVAL;
	}
	if (!sv->sb.strict && (sv->sb.rootfs != NULL || sv->sb.nmounts > 0)) {
		sv_warnx("--rootfs and --mount need --sandbox strict");
		return -EINVAL;
	}
	if (sv->max_log == 0)
		sv->max_log = SUPERVISOR_DEFAULT_MAX_LOG;
	sv->listen_fd = (int)fd;
	sv->argv = argv + i;
	return 0;
}

/*
 * Descriptors the caller leaked to us (anything but 0-2, the listening
 * socket, a pooled network namespace and the tie) would otherwise be held
 * for as long as the job runs, and an inherited listening socket of the
 * daemon would stop its successor from binding.
 */
static void
close_stray_fds(const int *keep, size_t n)
{
	int k[3], t;
	unsigned from = 3;
	size_t i, j, m = 0;

	for (i = 0; i < n && m < PW_ARRAY_LEN(k); i++)
		if (keep[i] >= 3)
			k[m++] = keep[i];
	for (i = 1; i < m; i++)
		for (j = i; j > 0 && k[j - 1] > k[j]; j--) {
			t = k[j];
			k[j] = k[j - 1];
			k[j - 1] = t;
		}
	for (i = 0; i < m; i++) {
		if ((unsigned)k[i] < from)
			continue;  /* the same one twice */
		if ((unsigned)k[i] > from)
			close_range(from, (unsigned)k[i] - 1, 0);
		from = (unsigned)k[i] + 1;
	}
	close_range(from, ~0U, 0);
}

/*
 * --tied with --tie-fd: the starter holds the other end of this pipe,
 * close-on-exec, and nobody else does, so its end of stream comes when
 * the starter's last thread has gone: its death, and nothing else.  The
 * death signal cannot say that: it follows the starter's *thread*, and
 * when a threaded starter exits, the thread that spawned us may go first
 * and hand us to a sibling, sending the signal while getppid() still
 * names the starter (a pooled supervisor, spawned by whichever thread
 * filled the pool, sees it the same way).  Already at its end here: the
 * starter died before we got this far.
 */
static bool
tie_cut(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) > 0;
}

/*
 * Untied (the daemon's jobs), the supervisor outlives whoever started it:
 * a session of its own, so that neither a signal to the daemon's process
 * group nor the hangup of its terminal reaches it (exec's spawn already
 * made one; another starter may not have), no death signal, and SIGHUP
 * ignored (SIGPIPE is, tied or not).  Its client going away is then just
 * a client going away: the job goes on, the log and status are written,
 * and a later daemon attaches on the same socket.  A process group leader
 * cannot start a session without forking; that is only worth a warning.
 */
static void
untie(void)
{
	if (getsid(0) != getpid() && setsid() < 0)
		sv_warn("setsid");
	if (prctl(PR_SET_PDEATHSIG, 0) < 0)
		sv_warn("PR_SET_PDEATHSIG");
	signal(SIGHUP, SIG_IGN);
}

static int
setup(struct supervisor *sv)
{
	int on = 0, flags;
	socklen_t len = sizeof(on);
	int keep[3] = {sv->listen_fd, sv->sb.netns_fd, sv->tie_fd};

	if (!sv->tied)
		untie();
	close_stray_fds(keep, PW_ARRAY_LEN(keep));
	if (sv->tie_fd >= 0 && fcntl(sv->tie_fd, F_SETFD, FD_CLOEXEC) < 0) {
		sv_warn("--tie-fd %d", sv->tie_fd);
		return -EBADF;
	}
	if (sv->sb.netns_fd >= 0 &&
	    fcntl(sv->sb.netns_fd, F_SETFD, FD_CLOEXEC) < 0) {
		sv_warn("--netns-fd %d", sv->sb.netns_fd);
		return -EBADF;
	}
	if (getsockopt(sv->listen_fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0 ||
	    !on) {
		sv_warnx("--listen-fd %d is not a listening socket", sv->listen_fd);
		return -EBADF;
	}
	flags = fcntl(sv->listen_fd, F_GETFL);
	if (fcntl(sv->listen_fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(sv->listen_fd, F_SETFD, FD_CLOEXEC) < 0) {
		sv_warn("listening socket");
		return -errno;
	}
	signal(SIGPIPE, SIG_IGN);
	if (sv_signals_init(&sv->sig_fd) < 0) {
		sv_warn("signal pipe");
		return -errno;
	}
	sv->dir_fd = open(sv->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sv->dir_fd < 0) {
		sv_warn("%s", sv->dir);
		return -errno;
	}
	/* A directory holds one attempt; starting again starts afresh. */
	unlinkat(sv->dir_fd, SUPERVISOR_STATUS_FILE, 0);
	unlinkat(sv->dir_fd, SUPERVISOR_STATUS_FILE ".tmp", 0);
	sv->log_fd = openat(sv->dir_fd, SUPERVISOR_LOG_FILE,
			    O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (sv->log_fd < 0) {
		sv_warn("%s/%s", sv->dir, SUPERVISOR_LOG_FILE);
		return -errno;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		sv_warn("PR_SET_CHILD_SUBREAPER");
		return -errno;
	}
	if (sv->tie_fd >= 0) {
		if (tie_cut(sv->tie_fd))
			sv->cause = SV_CAUSE_ORPHANED;
	} else if (sv->tied) {
		/*
		 * Another starter's way: the death signal is a cancel; the
		 * parent may have gone before it was armed, so look once
		 * more afterwards.
		 */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0) {
			sv_warn("PR_SET_PDEATHSIG");
			return -errno;
		}
		if (getppid() != sv->parent)
			sv->cause = SV_CAUSE_ORPHANED;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct supervisor sv;
	char *masks[SV_MAX_MASKS];
	size_t nmasks = 0, i;
	int rc, status = 1, env_fd = -1;
	uint64_t spec_fd, spec_at = 0;
	char **spec_argv = NULL;

	memset(&sv, 0, sizeof(sv));
	/*
	 * Started ahead by exec's pool: the real arguments and descriptors
	 * come in one message (spec.c); from there on, exactly as if we had
	 * been started with them.  --ahead (a daemon that runs strict jobs):
	 * the job's cgroup directories first, while nobody waits (cgroup.c,
	 * sv_cgroup_ahead); removed again if no spec comes.
	 */
	if (argc >= 3 && strcmp(argv[1], "--pooled") == 0) {
		if (parse_u64(argv[1], argv[2], &spec_fd) < 0 ||
		    spec_fd > INT32_MAX) {
			fputs(usage_text, stderr);
			return 2;
		}
		if (argc >= 4 && strcmp(argv[3], "--ahead") == 0)
			sv_cgroup_ahead(&sv);
		rc = sv_spec_wait((int)spec_fd, &argc, &argv);
		if (rc != 0) {
			sv_cgroup_remove(&sv);
			return rc > 0 ? 0 : 2;
		}
		spec_at = sv_mono_us();
		spec_argv = argv;
	}
	if (argc == 5 && strcmp(argv[1], "--make-netns") == 0 &&
	    strcmp(argv[3], "--send-fd") == 0) {
		sv_cgroup_remove(&sv);
		status = sv_netns_make(atoi(argv[2]), atoi(argv[4])) < 0 ? 1 : 0;
		goto done;
	}
	sv.sb.netns_fd = sv.sb.status_rd = -1;
	sv.sb.slirp_exit = sv.sb.resolv_fd = sv.sb.rootfs_fd = -1;
	sv.parent = getppid();
	sv.grace_ms = 10000;
	sv.listen_fd = sv.dir_fd = sv.log_fd = sv.out_fd = sv.sig_fd = -1;
	sv.pid = -1;
	sv.spec_mono_us = spec_at;
	sv.exit_code = -1;
	sv.report_rd = sv.report_wr = sv.svc_fd = sv.tie_fd = -1;
	sv.status_fd = -1;
	if (parse_args(&sv, argc, argv, masks, &nmasks, &env_fd) < 0) {
		fputs(usage_text, stderr);
		sv_cgroup_remove(&sv);
		status = 2;
		goto done;
	}
	/* Read (and closed) before anything else: close_stray_fds. */
	if (env_fd >= 0) {
		rc = sv_env_read(&sv, env_fd);
		close(env_fd);
		if (rc < 0) {
			sv_cgroup_remove(&sv);
			status = 2;
			goto done;
		}
	}
	/* The same for the services' spec (svclog.c). */
	if (sv.svc_fd >= 0) {
		rc = sv_services_read(&sv, sv.svc_fd);
		close(sv.svc_fd);
		sv.svc_fd = -1;
		if (rc < 0) {
			sv_services_free(&sv);
			sv_env_free(&sv);
			sv_cgroup_remove(&sv);
			status = 2;
			goto done;
		}
	}
	if (setup(&sv) < 0)
		goto out;
	sv_env_mask(&sv, masks, nmasks);
	sv_prelude_copy(&sv);
	sv.started_ms = pw_now_ms();
	if (sv.cause == SV_CAUSE_ORPHANED)
		sv.start_error = xstrdup("canceled: pipewright exited");
	else if ((rc = sv_job_start(&sv)) < 0 && sv.start_error == NULL)
		sv.start_error = xasprintf("cannot start the job: %s",
					   strerror(-rc));
	rc = sv_run(&sv);
	status = rc < 0 || sv.status_failed ? 1 : 0;
out:
	if (sv.dir_fd >= 0)
		unlinkat(sv.dir_fd, SUPERVISOR_SOCK_FILE, 0);
	sv_serve_free(&sv);
	sv_services_free(&sv);
	sv_cgroup_remove(&sv);
	sv_mask_free(&sv.mask);
	sv_env_free(&sv);
	for (i = 0; i < sv.sb.nbinds; i++) {
		if (sv.sb.binds[i].fd >= 0)
			close(sv.sb.binds[i].fd);
		free(sv.sb.binds[i].path);
		free(sv.sb.binds[i].link);
	}
	free(sv.sb.home);
	if (sv.sb.rootfs_fd >= 0)
		close(sv.sb.rootfs_fd);
	if (sv.sb.netns_fd >= 0)
		close(sv.sb.netns_fd);
	sv_slirp_stop(&sv);
	if (sv.sb.resolv_fd >= 0)
		close(sv.sb.resolv_fd);
	if (sv.sb.status_rd >= 0)
		close(sv.sb.status_rd);
	if (sv.status_fd >= 0)
		close(sv.status_fd);
	free(sv.status);
	free(sv.start_error);
	/* Closed by exit anyway; closing here keeps fd-tracking tools quiet. */
	if (sv.sig_fd >= 0)
		sv_signals_close(sv.sig_fd);
	close(sv.listen_fd);
	if (sv.tie_fd >= 0)
		close(sv.tie_fd);
	if (sv.log_fd >= 0)
		close(sv.log_fd);
	if (sv.dir_fd >= 0)
		close(sv.dir_fd);
	if (sv.out_fd >= 0)
		close(sv.out_fd);
done:
	/* A pooled supervisor's arguments: the spec's buffer and its split. */
	if (spec_argv != NULL) {
		free(spec_argv[0]);
		free(spec_argv);
	}
	return status;
}
