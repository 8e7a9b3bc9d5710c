/*
 * The protocol between exec (daemon or `pipewright run`) and
 * pipewright-supervisor.  Constants only, so both sides share one source.
 *
 * Invocation:
 *   pipewright-supervisor --dir DIR --listen-fd N [--cwd DIR]
 *       [--timeout-ms N] [--grace-ms N] [--max-log BYTES] [--tied [--tie-fd N]]
 *       [--sandbox strict|none] [--network] [--netns-fd N] [--workspace DIR]
 *       [--workspace-at PATH] [--rootfs DIR] [--mount PATH]...
 *       [--uid N] [--memory BYTES] [--pids N] [--cpu-seconds N]
 *       [--file-size BYTES] [--open-files N] [--env-fd N] [--mask NAME]...
 *       -- ARGV...
 *   pipewright-supervisor --make-netns N --send-fd N   (exec's netns pool)
 *   pipewright-supervisor --pooled N                   (exec's supervisor pool)
 * Pooled, the supervisor waits on N (a SOCK_SEQPACKET socket) for one
 * message: the arguments above, each NUL-terminated, argv[0] first, at
 * most SUPERVISOR_MAX_SPEC bytes, with the descriptors they name (the
 * listening socket first, then in the order of their numbers, from 3 on)
 * as SCM_RIGHTS, at most SUPERVISOR_MAX_SPEC_FDS.  It puts them at 3, 4...
 * and goes on exactly as if it had been started with those arguments and
 * descriptors.  End of stream before a message (its starter closed the
 * pool or died) ends it quietly, exit 0.
 * --tie-fd N (with --tied): a pipe's read end whose write end only the
 * starter holds; its end of stream is the starter's death, a cancel with
 * reason "canceled: pipewright exited".  Nothing is written to it.
 * The supervisor's own environment is never the job's: exec gives it a
 * fixed one (PATH, the sanitizers' options).  The job's environment comes
 * as data on --env-fd: a sealed memfd of "K=V\0" entries, at most
 * SUPERVISOR_MAX_ENV bytes and SUPERVISOR_MAX_ENV_VARS entries, applied to
 * the job's process only, right before its execve.  Without --env-fd (an
 * older exec) the job gets the supervisor's own environment.  --mask names
 * variables of the job's environment whose values are masked in the log.
 * The sandbox options are docs/internals/sandbox.md's; --workspace-at is
 * where a strict job sees its workspace (its --cwd is then a path inside
 * the sandbox), without it the workspace's host path; --rootfs a tree
 * that is the job's root instead of the host's system directories,
 * --mount a host path bound read-only at the same path (strict only).
 *
 * Files in DIR: log (the job's output), status (written once, atomically, by
 * rename, when the job has ended and the log is complete), sock; and
 * prelude, if the starter left one there before the supervisor started:
 * what the starter says before the job (restoring its artifacts and
 * caches).  Its bytes, at most SUPERVISOR_MAX_PRELUDE, begin the log,
 * masked and counted against --max-log like the job's output (a newline is
 * added if it lacks one); the supervisor removes the file once read.  It
 * must be a regular file (opened O_NOFOLLOW); anything else is ignored.
 *
 * Status file: "key=value" lines: version, result (success | failed |
 * timed_out | canceled), exit_code, signal, reason, log_bytes, started_ms,
 * finished_ms; and, once the job was started, execve_mono_us (CLOCK_MONOTONIC
 * µs taken in the job's process just before its execve) and exited_mono_us
 * (CLOCK_MONOTONIC µs when the supervisor reaped the job's main process: in
 * strict mode its init, which exits when the script does); spec_mono_us
 * (a pooled supervisor got its spec) and drained_mono_us (the job's output
 * drained, the status begun): stamps for debug lines (the hand-off's
 * stages).  Readers ignore keys they do not know.
 *
 * Socket (stream): being connected means the supervisor is alive; end of
 * stream means it has gone.  The client's first line is
 *   "ATTACH <version> <offset>\n"
 * with the newest version the client speaks.  The supervisor answers
 * "OK <v>\n", v = min(client's, its own), if v >= SUPERVISOR_PROTO_MIN_VERSION
 * (else "ERR <message>\n" and closes); both sides then speak version v.  A
 * client accepts any OK version in [MIN, its own].  So an upgraded daemon
 * re-attaches the supervisors that an older one started, and an older
 * daemon those of a newer one, as long as the versions overlap.  Version 1
 * frames:
 *   "LOG <len>\n" <len bytes>   log bytes, the first one at <offset>
 *   "END <len>\n" <len bytes>   the status file's contents; then it closes
 * Version 2 sends no log bytes: instead of LOG frames
 *   "SIZE <n>\n"                the log file holds n bytes now (n > the
 *                               offset and every earlier note); the bytes
 *                               are in DIR/log before the note is sent
 * and END as in version 1, once a note has said the log's final size.  A
 * client that wants the bytes on its socket greets with version 1.
 * The client may send "CANCEL\n" at any time after ATTACH.
 */
#ifndef PIPEWRIGHT_SUPERVISOR_PROTO_H
#define PIPEWRIGHT_SUPERVISOR_PROTO_H

/* The newest version spoken, and the oldest still understood. */
#define SUPERVISOR_PROTO_VERSION 2
#define SUPERVISOR_PROTO_MIN_VERSION 1
/* The status file's own format version (its `version` key). */
#define SUPERVISOR_STATUS_VERSION 1
#define SUPERVISOR_LOG_FILE "log"
#define SUPERVISOR_STATUS_FILE "status"
#define SUPERVISOR_SOCK_FILE "sock"
#define SUPERVISOR_PRELUDE_FILE "prelude"
/* A job's services' output: DIR/services/<name>.log, one per service. */
#define SUPERVISOR_SERVICES_DIR "services"
#define SUPERVISOR_MAX_PRELUDE (64 * 1024)
#define SUPERVISOR_DEFAULT_MAX_LOG (64ULL * 1024 * 1024)
/* The job's environment on --env-fd: bytes and entries, at most. */
#define SUPERVISOR_MAX_ENV (1024 * 1024)
#define SUPERVISOR_MAX_ENV_VARS 8192
/* The longest frame header line either side sends or accepts. */
#define SUPERVISOR_MAX_LINE 256
/* A pooled supervisor's spec: its arguments, and the descriptors with them. */
#define SUPERVISOR_MAX_SPEC (64 * 1024)
#define SUPERVISOR_MAX_SPEC_FDS 5

#endif
