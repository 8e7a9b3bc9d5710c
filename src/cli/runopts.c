/*
 * `pipewright run`'s command line: the options' table (getopt's and
 * --help's at once) and each option's argument checked as it is read,
 * so that a mistake is said before anything starts; struct run_opts
 * holds what was given (strings are argv's, lists and registries owned).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run-int.h"

static void
push(char ***list, size_t *n, const char *s)
{
	*list = xrealloc(*list, (*n + 2) * sizeof(char *));
	(*list)[(*n)++] = (char *)s;
	(*list)[*n] = NULL;
}

enum {
	OPT_FILE, OPT_JOBS, OPT_ONLY, OPT_ENV, OPT_APPROVE, OPT_BRANCH,
	OPT_GRACE, OPT_SANDBOX, OPT_NETWORK, OPT_COLOR, OPT_CLEAN,
	OPT_CACHE_DIR, OPT_NO_CACHE, OPT_MOUNT, OPT_ROOTFS, OPT_REGISTRY,
	OPT_POOL, OPT_HELP,
};
static const struct cli_opt run_opts[] = {
	[OPT_FILE] = {"file", 'f', true, "FILE",
		      "the pipeline (default .pipewright.yml)"},
	[OPT_JOBS] = {"jobs", 'j', true, "N",
		      "jobs in parallel (default: cores)"},
	[OPT_ONLY] = {"only", 0, true, "JOB", "run only this job (repeatable)"},
	[OPT_ENV] = {"env", 0, true, "KEY=VALUE",
		     "set a variable for every job (repeatable)"},
	[OPT_APPROVE] = {"approve", 0, true, "JOB",
			 "run this manual job (repeatable)"},
	[OPT_BRANCH] = {"branch", 0, true, "B",
			"the branch for `branches:` filters"},
	[OPT_GRACE] = {"grace", 0, true, "DURATION", "SIGTERM to SIGKILL "
		       "delay on timeout and Ctrl-C\n(default 10s)"},
	[OPT_SANDBOX] = {"sandbox", 0, true, "strict|none", "strict (default):"
			 " each job in its own namespaces,\ncgroups and "
			 "seccomp filter (without root:\nno cgroups unless "
			 "delegated); none: as you"},
	[OPT_NETWORK] = {"network", 0, true, "allow|deny", "allow (default): "
			 "a job's `network: true` is\ngranted (its own "
			 "network namespace, outbound\nonly); deny: such a "
			 "job fails, as under a\ndaemon's default"},
	[OPT_COLOR] = {"color", 0, false, NULL, "keep the jobs' colours (SGR "
		       "sequences); every\nother control character is shown "
		       "escaped, always"},
	[OPT_CLEAN] = {"clean", 0, false, NULL, "each job in a fresh workspace "
		       "of its own, the\ncheckout's HEAD commit (committed "
		       "files only),\nas the server runs it; the checkout "
		       "is only\nread"},
	[OPT_CACHE_DIR] = {"cache-dir", 0, true, "DIR", "where caches are kept "
			   "(default\n$XDG_CACHE_HOME/pipewright, else\n"
			   "~/.cache/pipewright)"},
	[OPT_NO_CACHE] = {"no-cache", 0, false, NULL, "restore no cache and "
			  "save none (--clean\nstill passes artifacts)"},
	[OPT_MOUNT] = {"mount", 0, true, "PATH", "bind this host path read-only"
		       " at the same\npath in every job (strict; a "
		       "toolchain;\nrepeatable)"},
	[OPT_ROOTFS] = {"rootfs", 0, true, "DIR", "this directory tree (an "
			"unpacked image) is\nevery job's / instead of the "
			"host's (strict)"},
	[OPT_REGISTRY] = {"image-registry", 0, true,
			  "HOST[,insecure][,authfile=FILE]", "what a registry "
			  "of the jobs' images\nneeds, as a server's "
			  "images.registries:\nplain http, credentials other "
			  "than\nskopeo's own (repeatable)"},
	[OPT_POOL] = {"supervisor-pool", 0, true, "N", "start N job "
		      "supervisors ahead\n(0-64, default 0), as the "
		      "daemon's\n`supervisor_pool`"},
	[OPT_HELP] = CLI_OPT_HELP,
	CLI_OPT_NONE,
};
const struct cli_usage run_usage = {"run", "", run_opts, NULL};

/* --mount and --rootfs: an absolute path that exists (a directory). */
static int
host_path_arg(const char *opt, const char *arg, bool dir)
{
	struct stat st;

	if (arg[0] != '/') {
		fprintf(stderr, "pipewright: %s: expected an absolute path, "
			"got '%s'\n", opt, arg);
		return -1;
	}
	if (stat(arg, &st) < 0) {
		fprintf(stderr, "pipewright: %s %s: %s\n", opt, arg,
			strerror(errno));
		return -1;
	}
	if (dir && !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "pipewright: %s %s: not a directory\n", opt,
			arg);
		return -1;
	}
	return 0;
}

/*
 * --image-registry HOST[,insecure][,authfile=FILE]: one entry of a
 * server's images.registries, written on one line.  A registry not named
 * is used over https with skopeo's own credentials (`skopeo login`).
 */
static int
registry_arg(const char *arg, struct run_opts *o)
{
	const char *p = arg + strcspn(arg, ","), *opt, *end;
	struct image_registry r = {0};
	size_t i, hlen = (size_t)(p - arg);

	if (hlen == 0 || strcspn(arg, "/ \t@") < hlen) {
		fprintf(stderr, "pipewright: --image-registry: invalid host "
			"'%.*s'; expected a host[:port] such as "
			"registry.example.com:5000\n", (int)hlen, arg);
		return -1;
	}
	for (; *p == ','; p = end) {
		opt = p + 1;
		end = opt + strcspn(opt, ",");
		if ((size_t)(end - opt) == 8 && memcmp(opt, "insecure", 8) == 0) {
			r.insecure = true;
		} else if (strncmp(opt, "authfile=", 9) == 0 && *end == '\0' &&
			   opt[9] != '\0') {
			r.authfile = opt + 9;  /* the last: a FILE may hold ',' */
			if (access(r.authfile, R_OK) < 0) {
				fprintf(stderr, "pipewright: --image-registry "
					"%.*s: authfile %s: %s\n", (int)hlen,
					arg, r.authfile, strerror(errno));
				return -1;
			}
		} else {
			fprintf(stderr, "pipewright: --image-registry %.*s: "
				"unexpected '%.*s'; expected insecure or "
				"authfile=FILE (last)\n", (int)hlen, arg,
				(int)(end - opt), opt);
			return -1;
		}
		if (r.authfile != NULL)
			break;
	}
	for (i = 0; i < o->nregs; i++) {
		if (strlen(o->regs[i].host) == hlen &&
		    memcmp(o->regs[i].host, arg, hlen) == 0) {
			fprintf(stderr, "pipewright: --image-registry %.*s: "
				"given twice\n", (int)hlen, arg);
			return -1;
		}
	}
	r.host = xstrndup(arg, hlen);
	o->regs = xrealloc(o->regs, (o->nregs + 1) * sizeof(*o->regs));
	o->regs[o->nregs++] = r;
	return 0;
}

int
run_parse_opts(int argc, char **argv, struct run_opts *o)
{
	struct cli_getopt g;
	const char *arg;
	char *end;
	long n;
	int ch;

	cli_getopt_init(&g, &run_usage);
	while ((ch = cli_getopt_next(&g, argc, argv, &arg)) != CLI_OPT_END) {
		switch (ch) {
		case OPT_FILE:
			o->file = arg;
			break;
		case OPT_POOL:
			n = strtol(arg, &end, 10);
			if (*arg == '\0' || *end != '\0' || n < 0 || n > 64) {
				fprintf(stderr, "pipewright: --supervisor-pool: "
					"expected a number from 0 to 64, got "
					"'%s'\n", arg);
				return -1;
			}
			o->supervisor_pool = (size_t)n;
			break;
		case OPT_JOBS:
			n = strtol(arg, &end, 10);
			if (*end != '\0' || n < 1 || n > 1024) {
				fprintf(stderr, "pipewright: --jobs: expected "
					"a number from 1 to 1024, got '%s'\n",
					arg);
				return -1;
			}
			o->jobs = (int)n;
			break;
		case OPT_ONLY:
			push(&o->only, &o->nonly, arg);
			break;
		case OPT_APPROVE:
			push(&o->approve, &o->napprove, arg);
			break;
		case OPT_ENV:
			if (cli_env_arg(arg) < 0)
				return -1;
			push(&o->env, &o->nenv, arg);
			break;
		case OPT_BRANCH:
			o->branch = arg;
			break;
		case OPT_GRACE:
			if (pw_duration_parse(arg, &o->grace_ms) < 0) {
				fprintf(stderr, "pipewright: --grace: invalid "
					"duration '%s'; expected e.g. 10s, "
					"500ms\n", arg);
				return -1;
			}
			break;
		case OPT_SANDBOX:
			if (strcmp(arg, "strict") != 0 &&
			    strcmp(arg, "none") != 0) {
				fprintf(stderr, "pipewright: --sandbox: expected "
					"strict or none, got '%s'\n", arg);
				return -1;
			}
			o->sandbox = arg[0] == 's' ? EXEC_SANDBOX_STRICT :
							EXEC_SANDBOX_NONE;
			break;
		case OPT_NETWORK:
			if (strcmp(arg, "allow") != 0 &&
			    strcmp(arg, "deny") != 0) {
				fprintf(stderr, "pipewright: --network: "
					"expected allow or deny, got '%s'\n",
					arg);
				return -1;
			}
			o->network_deny = arg[0] == 'd';
			break;
		case OPT_COLOR:
			o->color = true;
			break;
		case OPT_CLEAN:
			o->clean = true;
			break;
		case OPT_CACHE_DIR:
			if (*arg == '\0') {
				fprintf(stderr, "pipewright: --cache-dir: "
					"expected a directory, got ''\n");
				return -1;
			}
			o->cache_dir = arg;
			break;
		case OPT_NO_CACHE:
			o->no_cache = true;
			break;
		case OPT_MOUNT:
		case OPT_ROOTFS:
			if (host_path_arg(ch == OPT_MOUNT ? "--mount" :
					  "--rootfs", arg, ch == OPT_ROOTFS) < 0)
				return -1;
			if (ch == OPT_ROOTFS)
				o->rootfs = arg;
			else
				push(&o->mounts, &o->nmounts, arg);
			break;
		case OPT_REGISTRY:
			if (registry_arg(arg, o) < 0)
				return -1;
			break;
		case OPT_HELP:
			return 1;
		default:
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pipewright: run: unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	if (o->sandbox != EXEC_SANDBOX_STRICT &&
	    (o->rootfs != NULL || o->nmounts > 0)) {
		fprintf(stderr, "pipewright: --%s needs the strict sandbox "
			"(with --sandbox none a job sees the host as it is)\n",
			o->rootfs != NULL ? "rootfs" : "mount");
		return -1;
	}
	return 0;
}
