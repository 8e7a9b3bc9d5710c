"""PIPEWRIGHT_DEBUG, set when the daemon starts, turns on its debug lines
(one per HTTP request, among others) for its whole life: a SIGHUP reload,
which sets the log format from the new file again, keeps them on."""
import os
import signal

import pwdaemon as pw


def main(t):
    os.environ["PIPEWRIGHT_DEBUG"] = "1"   # the daemon inherits it
    d = t.daemon()

    def before():
        d.get("/healthz")
        d.wait_log(r"http\.request method=GET path=/healthz status=200")
    t.check("PIPEWRIGHT_DEBUG: a request's debug line", before)

    def after():
        d.signal(signal.SIGHUP)
        d.wait_log(r"config\.reloaded path=")
        d.get("/readyz")
        d.wait_log(r"http\.request method=GET path=/readyz status=200")
    t.check("after a SIGHUP reload: still a request's debug line", after)

    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
