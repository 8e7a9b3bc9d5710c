"""Output the supervisor cannot write on a full disk (issue 12's debts).

The attempts' directory (each job's log file) lives on a small tmpfs of
its own; the store does not, so only the supervisor meets the full disk.
A job prints numbered lines until the test opens its gate, and writes its
count to a file off the tmpfs.  The test fills the tmpfs while the job
prints, lets it print on for a while (those lines cannot be written),
frees the space, lets it print on, and opens the gate.

The stored log is the job's output with holes, each marked where it is
by "[pipewright: N bytes of output lost: disk full]" on a line of its
own, N exactly the bytes missing there: put the missing bytes back and it
is the whole output (one hole or two: tmpfs may let a page through
while it is "full").  Most of the 30 lines printed on the full disk are
lost, over 30 come after the last marker, and the run succeeds.

Needs root and mount namespaces (re-executes itself under `unshare -m`,
as test_store_full.py does); without them it is skipped (exit 77).
"""
import os
import re
import subprocess

import pwdaemon as pw
from pwdaemon import eq, expect
from test_store_full import fill, mount

TMPFS_SIZE = "1m"

# Lines of 500 bytes and more: those lost while the disk is full take
# pages of their own, not just the room left in the log's last page.
PAD = "0" * 500
TALK = """\
jobs:
  talk:
    script:
      - pad=$(printf '%0500d' 0); i=0; while [ ! -e "$GATE/open" ]; do i=$((i+1)); echo "line $i $pad"; echo $i > "$GATE/count.tmp"; mv "$GATE/count.tmp" "$GATE/count"; sleep 0.01; done; echo "last line after $i"
"""

MARKER = re.compile(r"\[pipewright: (\d+) bytes of output lost: disk full\]\n")


def count(gate):
    try:
        with open(os.path.join(gate, "count")) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def expected_output(text):
    """The job's whole output, from what the stored log shows of it: the
    echoed script line first, the count in its last line."""
    first = text.split("\n", 1)[0]
    expect(first.startswith("$ "), "the log starts with the script: %r" % first[:80])
    m = re.search(r"last line after (\d+)\n$", text)
    expect(m, "the log ends with the last line: %r" % text[-200:])
    k = int(m.group(1))
    return (first + "\n" + "".join("line %d %s\n" % (i, PAD) for i in range(1, k + 1)) +
            "last line after %d\n" % k)


def fits(want, pos, parts, losts):
    """Whether want[pos:] is parts[0], then losts[0] bytes, then parts[1]...
    A marker follows a newline of its own when the log stopped inside a
    line: a part that ends with one may or may not hold it."""
    if not parts:
        return pos == len(want)
    seg = parts[0]
    tries = [seg] + ([seg[:-1]] if seg.endswith("\n") else [])
    for s in tries:
        if want.startswith(s, pos):
            after = pos + len(s) + (losts[0] if losts else 0)
            if fits(want, after, parts[1:], losts[1:]):
                return True
    return False


def check_holes(text):
    """text is the output with holes, each marked with its size; returns
    (bytes lost, markers, lines after the last marker)."""
    marks = list(MARKER.finditer(text))
    expect(marks, "a lost marker in the log: %r" % text[-300:])
    want = expected_output(text)
    losts = [int(m.group(1)) for m in marks]
    bounds = [0] + [x for m in marks for x in (m.start(), m.end())] + [len(text)]
    parts = [text[bounds[i]:bounds[i + 1]] for i in range(0, len(bounds), 2)]
    expect(fits(want, 0, parts, losts),
           "the log is not the output with holes of %r bytes at its markers "
           "(%d bytes stored, %d in the output)" % (losts, len(text), len(want)))
    return sum(losts), len(marks), parts[-1].count("\n")


def main(t):
    gate = os.path.join(t.tmp, "gate")
    os.makedirs(gate)
    d = t.daemon(projects={"talk": TALK}, start=False)
    attempts = os.path.join(d.data, "attempts")
    os.makedirs(attempts)
    rc, err = mount("-t", "tmpfs", "-o", "size=%s,mode=0700" % TMPFS_SIZE, "tmpfs", attempts)
    if rc != 0:
        pw.skip("cannot mount a tmpfs on the attempts directory: %s" % err)
    try:
        scenario(t, d, gate, attempts)
    finally:
        for p in t.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        pw.stop_supervisors(t.tmp)
        subprocess.run(["umount", "-l", attempts], capture_output=True)


def scenario(t, d, gate, attempts):
    filler = os.path.join(attempts, "filler")
    st = {}
    d.start()

    def full_then_room():
        st["rid"] = d.trigger("talk", {"env": {"GATE": gate}})["id"]
        pw.wait_until(lambda: count(gate) >= 5, "the job's first lines")
        fill(filler)
        st["at_fill"] = count(gate)
        pw.wait_until(lambda: count(gate) >= st["at_fill"] + 30,
                      "the job printing on a full disk")
        os.unlink(filler)
        st["at_free"] = count(gate)
        pw.wait_until(lambda: count(gate) >= st["at_free"] + 30,
                      "the job printing with room again")
        open(os.path.join(gate, "open"), "w").close()
        run = d.wait_run(st["rid"])
        eq(run["status"], "success", "the run")
    t.check("a job prints through a full disk and ends", full_then_room)

    def marked():
        text = d.get("/api/v1/runs/%d/jobs/talk/log" % st["rid"]).text
        lost, n, after = check_holes(text)
        # 30 lines of 500 bytes and more were printed on the full disk:
        # all but what the log's last page still had room for (4 KiB).
        expect(lost >= 30 * 500 - 4096, "%d bytes lost, for 30 lines" % lost)
        expect(after >= 30, "%d lines after the last marker" % after)
        print("  %d bytes lost in %d hole(s); %d lines after the last"
              % (lost, n, after))
        d.wait_log(r"pipewright-supervisor: .*log: No space left on device")
    t.check("the log says where output was lost and how much", marked)


if __name__ == "__main__":
    pw.reexec_in_mount_ns(__file__)
    pw.main(main)
