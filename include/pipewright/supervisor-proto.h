/*
 * The protocol between exec (daemon or `pipewright run`) and
 * pipewright-supervisor.  Constants only, so both sides share one source.
 *
 * Invocation:
 *   pipewright-supervisor --dir DIR --listen-fd N [--cwd DIR]
 *       [--timeout-ms N] [--grace-ms N] [--max-log BYTES] [--tied]
 *       [--sandbox strict|none] [--network] [--netns-fd N] [--workspace DIR]
 *       [--uid N] [--memory BYTES] [--pids N] [--cpu-seconds N]
 *       [--file-size BYTES] [--open-files N] [--mask NAME]... -- ARGV...
 *   pipewright-supervisor --make-netns N --send-fd N   (exec's netns pool)
 * The supervisor's own environment is exactly the job's environment; --mask
 * names variables of it whose values are masked in the log.  The sandbox
 * options are docs/internals/sandbox.md's.
 *
 * Files in DIR: log (the job's output), status (written once, atomically, by
 * rename, when the job has ended and the log is complete), sock.
 *
 * Status file: "key=value" lines: version, result (success | failed |
 * timed_out | canceled), exit_code, signal, reason, log_bytes, started_ms,
 * finished_ms.
 *
 * Socket (stream): being connected means the supervisor is alive; end of
 * stream means it has gone.  The client's first line is
 *   "ATTACH <version> <offset>\n"
 * The supervisor answers "OK <version>\n" (or "ERR <message>\n" and closes),
 * then sends frames:
 *   "LOG <len>\n" <len bytes>   log bytes, the first one at <offset>
 *   "END <len>\n" <len bytes>   the status file's contents; then it closes
 * The client may send "CANCEL\n" at any time after ATTACH.
 */
#ifndef PIPEWRIGHT_SUPERVISOR_PROTO_H
#define PIPEWRIGHT_SUPERVISOR_PROTO_H

#define SUPERVISOR_PROTO_VERSION 1
#define SUPERVISOR_LOG_FILE "log"
#define SUPERVISOR_STATUS_FILE "status"
#define SUPERVISOR_SOCK_FILE "sock"
#define SUPERVISOR_DEFAULT_MAX_LOG (64ULL * 1024 * 1024)
/* The longest frame header line either side sends or accepts. */
#define SUPERVISOR_MAX_LINE 256

#endif
