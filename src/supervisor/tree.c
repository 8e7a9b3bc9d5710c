/*
 * Killing the job's process tree.
 *
 * The job's process group catches the ordinary case in one call; processes
 * that left the group (setsid, setpgid, double forks that daemonize) are
 * found through /proc: the supervisor is a child subreaper, so every
 * process the job ever started is still its descendant, and the ppid links
 * in /proc/<pid>/stat lead back to it.  One scan is a snapshot: a process
 * forked during it can be missed, which is why the caller repeats
 * scan+SIGKILL until waitpid() reports ECHILD.
 *
 * Each process gets a signal once: a shell that traps TERM runs its trap
 * once per SIGTERM, so the walk skips the processes that the group kill
 * reached already (their pgid is the job's).  The group is signalled only
 * while the job's main process is unreaped: after that its pid, and so
 * the group id, may be any other process's, and the walk, which signals
 * descendants alone, reaches the group's members instead.  In the strict sandbox the
 * job's init forwards SIGTERM, SIGINT and SIGHUP to every process of its
 * namespace, which no process can leave: those go to init alone while it
 * runs (after it, the kernel has killed the namespace already).  SIGKILL
 * cannot be forwarded (init would die of it first, and the kernel then
 * kills the namespace) and cannot be trapped: it takes the walk always.
 *
 * Pids of our own children cannot be reused before we reap them; a
 * deeper descendant that exits and is reaped by its parent between the
 * scan and the kill leaves a pid that could in principle be reused.  That
 * window is a few microseconds and accepted here.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor.h"

struct proc {
	pid_t pid, ppid;
	pid_t pgid;       /* its process group, as of the scan */
	bool mark;        /* a descendant of ours */
};

static int
read_stat(int proc_fd, const char *name, pid_t *ppid, pid_t *pgid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/stat", name);
	fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	/* "pid (comm) state ppid pgrp ...": comm may hold anything but the
	 * last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 1, " %*c %d %d", ppid, pgid) != 2)
		return -EIO;
	return 0;
}

static int
cmp_pid(const void *a, const void *b)
{
	const struct proc *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

static bool
is_marked(const struct proc *v, size_t n, pid_t pid)
{
	struct proc key = {.pid = pid};
	const struct proc *p;

	p = bsearch(&key, v, n, sizeof(*v), cmp_pid);
	return p != NULL && p->mark;
}

/* Fills *out with every process on the system; caller frees. */
static size_t
scan(struct proc **out)
{
	struct proc *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *d;
	DIR *dir;
	pid_t ppid, pgid;

	*out = NULL;
	dir = opendir("/proc");
	if (dir == NULL) {
		sv_warn("/proc");
		return 0;
	}
	while ((d = readdir(dir)) != NULL) {
		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		if (read_stat(dirfd(dir), d->d_name, &ppid, &pgid) < 0)
			continue;  /* gone already */
		v = xgrow(v, &cap, n + 1, sizeof(*v));
		v[n].pid = (pid_t)atoi(d->d_name);
		v[n].ppid = ppid;
		v[n].pgid = pgid;
		v[n].mark = false;
		n++;
	}
	closedir(dir);
	*out = v;
	return n;
}

void
sv_tree_kill(struct supervisor *sv, int sig)
{
	struct proc *v;
	pid_t self = getpid();
	size_t n, i;
	bool changed = true, group = sv->pid > 0 && sv->running;

	/* Once init is reaped its pid is free for anyone: the walk then. */
	if (sv->sb.strict && sig != SIGKILL && sv->running) {
		if (kill(sv->pid, sig) < 0 && errno != ESRCH)
			sv_warn("kill the job's init %d", (int)sv->pid);
		return;
	}
	if (group && kill(-sv->pid, sig) < 0 && errno != ESRCH)
		sv_warn("kill process group %d", (int)sv->pid);
	n = scan(&v);
	qsort(v, n, sizeof(*v), cmp_pid);
	for (i = 0; i < n; i++)
		v[i].mark = v[i].ppid == self;
	/* Each pass marks one more generation. */
	while (changed) {
		changed = false;
		for (i = 0; i < n; i++) {
			if (!v[i].mark && v[i].ppid > 0 &&
			    is_marked(v, n, v[i].ppid)) {
				v[i].mark = true;
				changed = true;
			}
		}
	}
	for (i = 0; i < n; i++)
		if (v[i].mark && v[i].pid != self &&
		    !(group && v[i].pgid == sv->pid))
			kill(v[i].pid, sig);
	free(v);
}

/*
 * For a service's manager (services.c): the same walk from another root.
 * A service's group takes the ordinary case; the walk finds what left
 * the group.  Orphans of a service are reparented to the manager (a
 * subreaper too) and so lose their link to the service: the manager's
 * last sweep, from its own pid, reaches them.
 */
size_t
sv_tree_signal(pid_t root, pid_t pgid, int sig)
{
	struct proc *v;
	size_t n, i, count = 0;
	bool changed = true;

	if (pgid > 0 && kill(-pgid, sig) == 0)
		count++;
	n = scan(&v);
	qsort(v, n, sizeof(*v), cmp_pid);
	for (i = 0; i < n; i++)
		v[i].mark = v[i].ppid == root;
	while (changed) {
		changed = false;
		for (i = 0; i < n; i++) {
			if (!v[i].mark && v[i].ppid > 0 &&
			    is_marked(v, n, v[i].ppid)) {
				v[i].mark = true;
				changed = true;
			}
		}
	}
	for (i = 0; i < n; i++)
		if ((v[i].mark || v[i].pid == root) && v[i].pid != getpid() &&
		    !(pgid > 0 && v[i].pgid == pgid) && kill(v[i].pid, sig) == 0)
			count++;
	free(v);
	return count;
}
