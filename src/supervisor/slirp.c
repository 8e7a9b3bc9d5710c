/*
 * The network of a strict job the admin granted `network: true`: a network
 * namespace of its own with outbound connectivity through slirp4netns,
 * never the host's namespace and never the host itself.
 *
 * Made here, as host root, before the job's clone: a new network namespace
 * (so it is owned by the host's user namespace, and the job, without
 * capabilities over it, can change neither its routes nor its devices),
 * loopback up, then slirp4netns started in the host's namespace with a
 * tap device in the job's (10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3).
 * slirp4netns makes the job's connections from the host as its own, so
 * whatever the host can reach the job could: its loopback through
 * 10.0.2.2 (--disable-host-loopback refuses that) and its own addresses
 * (which that option does not cover).  So once it is ready, `prohibit`
 * routes go into the job's namespace for 10.0.2.2, every address the host
 * has when the job starts (getifaddrs, IPv4 and IPv6) and 169.254.0.0/16
 * (link-local, cloud metadata services): a connect() there fails with
 * EACCES inside the job.  The host's abstract unix sockets belong to its
 * network namespace, so they are out of reach too.
 *
 * The supervisor then joins the namespace itself, and the job's clone
 * inherits it.  slirp4netns is our child: it ends when the write end of
 * its --exit-fd pipe closes (sv_slirp_stop once the job's init is reaped,
 * or our own exit, whatever the cause); --ready-fd says when the tap is
 * configured, so nothing sleeps.  Its messages go to network.log in the
 * attempt's directory.  It runs with its own --enable-sandbox
 * (its own mount namespace, capabilities dropped) and --enable-seccomp.
 *
 * Names resolve through slirp4netns's 10.0.2.3, which forwards to the
 * host's resolvers: <dir>/resolv.conf says so and is bound read-only over
 * the job's /etc/resolv.conf (mounts.c), since the host's may name a
 * resolver on its loopback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor.h"

#define SLIRP_READY_MS 10000      /* slirp4netns configures in ~10 ms */
#define SLIRP_MAX_ROUTES 256      /* host addresses and the fixed ones */
#define SLIRP_LOG "network.log"   /* slirp4netns's stderr, in the attempt */

static const char *const slirp_paths[] = {
	"/usr/bin/slirp4netns", "/usr/local/bin/slirp4netns",
	"/bin/slirp4netns",
};

/* One destination to prohibit. */
struct dst {
	int family;
	unsigned char addr[16];
	unsigned char len;        /* prefix length */
};

static int
add_dst(struct dst *v, size_t *n, int family, const char *text,
	unsigned len)
{
	if (*n >= SLIRP_MAX_ROUTES)
		return -E2BIG;
	v[*n].family = family;
	v[*n].len = (unsigned char)len;
	if (inet_pton(family, text, v[*n].addr) != 1)
		return -EINVAL;
	(*n)++;
	return 0;
}


/* 127.0.0.0/8 or ::1: what the job's own loopback answers. */
static bool
own_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const unsigned char *)&((const struct sockaddr_in *)
					       sa)->sin_addr)[0] == 127;
	return sa->sa_family == AF_INET6 &&
	       IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)
				     ->sin6_addr);
}

/* Every address of the host's namespace but 127/8 and ::1, and the fixed. */
static int
host_dsts(struct dst *v, size_t *n)
{
	struct ifaddrs *ifa, *i;
	int rc;

	*n = 0;
	if ((rc = add_dst(v, n, AF_INET, "10.0.2.2", 32)) < 0 ||
	    (rc = add_dst(v, n, AF_INET, "169.254.0.0", 16)) < 0)
		return rc;
	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i != NULL && *n < SLIRP_MAX_ROUTES; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr;

		/*
		 * 127/8 and ::1 are the job's own loopback; any other address,
		 * on lo too (a service address, an anycast one), is the host's.
		 */
		if (sa == NULL || own_loopback(sa))
			continue;
		if (sa->sa_family == AF_INET) {
			v[*n].family = AF_INET;
			v[*n].len = 32;
			memcpy(v[*n].addr,
			       &((const struct sockaddr_in *)sa)->sin_addr, 4);
			(*n)++;
		} else if (sa->sa_family == AF_INET6) {
			v[*n].family = AF_INET6;
			v[*n].len = 128;
			memcpy(v[*n].addr,
			       &((const struct sockaddr_in6 *)sa)->sin6_addr,
			       16);
			(*n)++;
		}
	}
	freeifaddrs(ifa);
	return *n >= SLIRP_MAX_ROUTES ? -E2BIG : 0;
}

/* RTM_NEWROUTE type prohibit for d, on the rtnetlink socket nl. */
static int
prohibit(int nl, const struct dst *d, unsigned seq)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		char attrs[64];
	} req;
	struct {
		struct nlmsghdr nh;
		struct nlmsgerr err;
		char rest[256];
	} ack;
	struct rtattr *ra;
	size_t alen = d->family == AF_INET ? 4 : 16;
	ssize_t got;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.nh.nlmsg_type = RTM_NEWROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE |
			     NLM_F_EXCL;
	req.nh.nlmsg_seq = seq;
	req.rt.rtm_family = (unsigned char)d->family;
	req.rt.rtm_dst_len = d->len;
	req.rt.rtm_table = RT_TABLE_MAIN;
	req.rt.rtm_protocol = RTPROT_STATIC;
	req.rt.rtm_scope = RT_SCOPE_UNIVERSE;
	req.rt.rtm_type = RTN_PROHIBIT;
	ra = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
	ra->rta_type = RTA_DST;
	ra->rta_len = (unsigned short)RTA_LENGTH(alen);
	memcpy(RTA_DATA(ra), d->addr, alen);
	req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(ra->rta_len);
	if (send(nl, &req, req.nh.nlmsg_len, 0) < 0)
		return -errno;
	do {
		got = recv(nl, &ack, sizeof(ack), 0);
	} while (got < 0 && errno == EINTR);
	if (got < 0)
		return -errno;
	if ((size_t)got < NLMSG_LENGTH(sizeof(struct nlmsgerr)) ||
	    ack.nh.nlmsg_type != NLMSG_ERROR)
		return -EPROTO;
	/* The same address twice (an address on two devices) is no harm. */
	return ack.err.error == -EEXIST ? 0 : ack.err.error;
}

static int
add_routes(int nl, const struct dst *v, size_t n, char **why)
{
	char text[INET6_ADDRSTRLEN];
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		rc = prohibit(nl, &v[i], (unsigned)i + 1);
		/*
		 * IPv6 may be off in the kernel; without --enable-ipv6 the
		 * job has no IPv6 route out anyway, so those are a second
		 * wall, not the first.
		 */
		if (rc < 0 && v[i].family == AF_INET) {
			inet_ntop(v[i].family, v[i].addr, text, sizeof(text));
			*why = xasprintf("network: a prohibit route for %s/%u"
					 " in the job's namespace: %s", text,
					 v[i].len, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/*
 * A new network namespace with loopback up, and an rtnetlink socket in
 * it; we are back in the host's namespace on return.
 */
static int
make_netns(int *ns_fd, int *nl_fd, char **why)
{
	int host = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), rc = 0;

	*ns_fd = *nl_fd = -1;
	if (host < 0) {
		*why = xasprintf("network: /proc/self/ns/net: %s",
				 strerror(errno));
		return -errno;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		rc = -errno;
		*why = xasprintf("network: a namespace for the job: %s",
				 strerror(-rc));
		close(host);
		return rc;
	}
	if ((rc = sv_loopback_up()) < 0)
		*why = xasprintf("network: bringing up loopback: %s",
				 strerror(-rc));
	*ns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	*nl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (rc == 0 && (*ns_fd < 0 || *nl_fd < 0)) {
		rc = -errno;
		*why = xasprintf("network: the job's namespace: %s",
				 strerror(-rc));
	}
	if (setns(host, CLONE_NEWNET) < 0 && rc == 0) {
		rc = -errno;
		*why = xasprintf("network: back to the host's namespace: %s",
				 strerror(-rc));
	}
	close(host);
	return rc;
}

static const char *
find_slirp(void)
{
	size_t i;

	for (i = 0; i < PW_ARRAY_LEN(slirp_paths); i++)
		if (access(slirp_paths[i], X_OK) == 0)
			return slirp_paths[i];
	return NULL;
}

/* Starts slirp4netns on the namespace ns_fd; waits until it is ready. */
static int
spawn(struct supervisor *sv, const char *prog, int ns_fd, char **why)
{
	int ready[2] = {-1, -1}, exitp[2] = {-1, -1}, null, log, rc = 0;
	char rfd[16], efd[16], path[48], c;
	struct pollfd pfd;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(exitp, O_CLOEXEC) < 0) {
		rc = -errno;
		*why = xasprintf("network: pipe: %s", strerror(-rc));
		goto out;
	}
	snprintf(rfd, sizeof(rfd), "%d", ready[1]);
	snprintf(efd, sizeof(efd), "%d", exitp[0]);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", ns_fd);
	/* Its chatter and its errors: beside the job's log, not in it. */
	log = openat(sv->dir_fd, SLIRP_LOG, O_WRONLY | O_CREAT | O_TRUNC |
		     O_CLOEXEC | O_NOFOLLOW, 0600);
	pid = fork();
	if (pid == 0) {
		char *argv[] = {
			(char *)prog, "--configure", "--mtu=65520",
			"--disable-host-loopback", "--enable-sandbox",
			"--enable-seccomp", "--ready-fd", rfd, "--exit-fd",
			efd, "--netns-type=path", path, "tap0", NULL,
		};
		char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};

		/* Its exit-fd ends it; this is for our death by SIGKILL. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(log >= 0 ? log : null, 2);
		}
		fcntl(ready[1], F_SETFD, 0);
		fcntl(exitp[0], F_SETFD, 0);
		fcntl(ns_fd, F_SETFD, 0);
		sv_reset_signals();
		execve(prog, argv, envp);
		_exit(127);
	}
	if (log >= 0)
		close(log);
	if (pid < 0) {
		rc = -errno;
		*why = xasprintf("network: fork: %s", strerror(-rc));
		goto out;
	}
	sv->sb.slirp_pid = pid;
	sv->sb.slirp_exit = exitp[1];
	exitp[1] = -1;
	close(ready[1]);
	ready[1] = -1;
	pfd.fd = ready[0];
	pfd.events = POLLIN;
	do {
		rc = poll(&pfd, 1, SLIRP_READY_MS);
	} while (rc < 0 && errno == EINTR);
	if (rc <= 0 || read(ready[0], &c, 1) != 1) {
		*why = xasprintf("network: %s did not configure the job's "
				 "network (%s; see %s/%s)", prog,
				 rc == 0 ? "timed out" : "it exited", sv->dir,
				 SLIRP_LOG);
		rc = -EIO;
		goto out;
	}
	rc = 0;
out:
	if (ready[0] >= 0)
		close(ready[0]);
	if (ready[1] >= 0)
		close(ready[1]);
	if (exitp[0] >= 0)
		close(exitp[0]);
	if (exitp[1] >= 0)
		close(exitp[1]);
	return rc;
}

/* <dir>/resolv.conf naming slirp4netns's DNS, cloned for mounts.c. */
static int
resolv_conf(struct supervisor *sv, char **why)
{
	static const char text[] = "# pipewright: the job's DNS goes through "
				   "slirp4netns\nnameserver 10.0.2.3\n";
	struct mount_attr a;
	char *path = xasprintf("%s/resolv.conf", sv->dir);
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0644);
	if (fd < 0 || write(fd, text, sizeof(text) - 1) !=
	    (ssize_t)sizeof(text) - 1)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc == 0) {
		sv->sb.resolv_fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE |
					     OPEN_TREE_CLOEXEC);
		memset(&a, 0, sizeof(a));
		a.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
			     MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
		if (sv->sb.resolv_fd < 0 ||
		    mount_setattr(sv->sb.resolv_fd, "", AT_EMPTY_PATH, &a,
				  sizeof(a)) < 0)
			rc = -errno;
	}
	if (rc < 0)
		*why = xasprintf("network: %s: %s", path, strerror(-rc));
	free(path);
	return rc;
}

int
sv_slirp_start(struct supervisor *sv, char **why)
{
	struct dst *dsts = xcalloc(SLIRP_MAX_ROUTES, sizeof(*dsts));
	const char *prog = find_slirp();
	int ns = -1, nl = -1, rc;
	size_t n;

	if (prog == NULL) {
		*why = xstrdup("network: a job granted `network: true` gets "
			       "its own network namespace through "
			       "slirp4netns, which is not installed (Debian: "
			       "apt-get install slirp4netns)");
		rc = -ENOENT;
		goto out;
	}
	if ((rc = host_dsts(dsts, &n)) < 0) {
		*why = xasprintf("network: the host's addresses: %s",
				 strerror(-rc));
		goto out;
	}
	if ((rc = make_netns(&ns, &nl, why)) < 0 ||
	    (rc = spawn(sv, prog, ns, why)) < 0 ||
	    (rc = add_routes(nl, dsts, n, why)) < 0 ||
	    (rc = resolv_conf(sv, why)) < 0)
		goto out;
	if (setns(ns, CLONE_NEWNET) < 0) {
		rc = -errno;
		*why = xasprintf("network: joining the job's namespace: %s",
				 strerror(-rc));
		goto out;
	}
	sv->sb.netns_joined = true;
out:
	if (rc < 0)
		sv_slirp_stop(sv);
	if (ns >= 0)
		close(ns);
	if (nl >= 0)
		close(nl);
	free(dsts);
	return rc;
}

void
sv_slirp_stop(struct supervisor *sv)
{
	/* slirp4netns exits when this closes; the loop reaps it. */
	if (sv->sb.slirp_exit >= 0) {
		close(sv->sb.slirp_exit);
		sv->sb.slirp_exit = -1;
	}
}
