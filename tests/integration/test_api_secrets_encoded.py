"""A daemon's job prints its secret encoded: base64 (the value at each of
the three offsets within a base64 stream), hex through `xxd -p` and `od`
(lower and upper case), reversed through `rev`.  None of these forms may
reach the stored log: not the log the API serves, not any file of the data
directory (logs and the database).  The expected forms are computed here
with Python's own base64 and hex, not by the code under test.  A secret of
7 bytes is masked literally only, as documented (its encodings are too
short to trust)."""
import base64
import os
import shutil

import pwdaemon as pw
from pwdaemon import expect

SECRET = "tok-Zq81-secret-value"
SHORT = "s7bytes"

PIPELINE = r"""
stages: [build]
jobs:
  leak:
    stage: build
    secrets: [TOK, SHORTTOK]
    script:
      - printf %s "$TOK" | base64
      - printf 'x%s' "$TOK" | base64
      - printf 'xy%s' "$TOK" | base64
      - printf %s "$TOK" | xxd -p
      - printf %s "$TOK" | od -An -tx1 -v | tr -d ' \n'; echo
      - printf %s "$TOK" | od -An -tx1 -v | tr -d ' \n' | tr a-f A-F; echo
      - printf %s "$TOK" | rev; echo
      - echo "plain $TOK short $SHORTTOK"
      - printf %s "$SHORTTOK" | base64
      - echo done
"""


def forms(value):
    """Each encoded form, less the characters that depend on neighbours."""
    v = value.encode()
    out = {"literal": v, "reversed": v[::-1],
           "hex": v.hex().encode(), "HEX": v.hex().upper().encode()}
    for pad in (b"", b"x", b"xy"):
        enc = base64.b64encode(pad + v)
        out["base64+%d" % len(pad)] = enc[3:-3]
    return out


def main(t):
    if shutil.which("xxd") is None:
        pw.skip("xxd is missing (scripts/dev installs it)")
    secret_file = os.path.join(t.tmp, "tok")
    short_file = os.path.join(t.tmp, "short")
    with open(secret_file, "w") as f:
        f.write(SECRET + "\n")
    with open(short_file, "w") as f:
        f.write(SHORT + "\n")
    pipeline = os.path.join(t.tmp, "leak.yml")
    with open(pipeline, "w") as f:
        f.write(PIPELINE)
    d = t.daemon(
        projects={"demo": {"pipeline": pipeline, "secrets": "[TOK, SHORTTOK]"}},
        config="secrets:\n  TOK: {file: %s}\n  SHORTTOK: {file: %s}\n"
        % (secret_file, short_file))

    def masked():
        rid = d.trigger("demo")["id"]
        run = d.wait_run(rid)
        log = d.get("/api/v1/runs/%d/jobs/leak/log" % rid).text
        expect(run["status"] == "success", "run %r, log:\n%s" % (run["status"], log))
        lines = log.splitlines()
        expect("done" in lines, "the job did not finish:\n%s" % log)
        expect("plain *** short ***" in lines, "literal masking:\n%s" % log)
        expect(log.count("***") >= 9, "fewer masks than forms printed:\n%s" % log)
        # The 7-byte secret's base64 is left as it is.
        short_b64 = base64.b64encode(SHORT.encode()).decode()
        expect(short_b64 in lines, "the short secret's base64 %r is not in:\n%s"
               % (short_b64, log))
        for name, form in forms(SECRET).items():
            expect(form.decode() not in log,
                   "the %s form %r is in the served log:\n%s" % (name, form, log))
        # Every file the daemon stored: logs, status files, the database.
        for root, _, files in os.walk(d.data):
            for fn in files:
                path = os.path.join(root, fn)
                try:
                    with open(path, "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                for name, form in forms(SECRET).items():
                    expect(form not in data, "the %s form is stored in %s" % (name, path))
    t.check("encoded secrets never reach the stored log", masked)

    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
