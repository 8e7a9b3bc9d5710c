"""pipewright_job_duration_seconds has a histogram per project and job,
so that a job that got slower can be found; job names come from pushed
pipelines, so a project's first 100 names get a series each and the
rest share job="other": a pipeline of 102 jobs makes 100 named series
and an "other" counting 2, and another project's jobs are counted apart
(the cap is per project)."""
import re

import pwdaemon as pw
from pwdaemon import eq, expect

MANY = "jobs:\n" + "".join("  j%03d:\n    script: 'true'\n" % i for i in range(102))
SMALL = """\
jobs:
  build:
    script: echo built
"""


def main(t):
    d = t.daemon(projects={"many": MANY, "small": SMALL})

    def series():
        a = d.trigger("many")["id"]
        b = d.trigger("small")["id"]
        eq(d.wait_run(a, timeout=pw.DEADLINE * 6)["status"], "success", "many's run")
        eq(d.wait_run(b)["status"], "success", "small's run")
        m = d.get("/metrics").text
        counts = {(p, j): int(n) for p, j, n in re.findall(
            r'^pipewright_job_duration_seconds_count\{project="([^"]*)",job="([^"]*)"\} (\d+)$',
            m, re.M)}
        named = [j for (p, j) in counts if p == "many" and j != "other"]
        eq(len(named), 100, "named series of many")
        expect(all(re.fullmatch(r"j\d{3}", j) for j in named), "names: %r" % named[:5])
        eq(counts.get(("many", "other")), 2, "many's other")
        eq(sum(n for (p, _), n in counts.items() if p == "many"), 102, "many's attempts")
        eq(counts.get(("small", "build")), 1, "small's build")
        eq(len(counts), 102, "series in all")
        for (p, j) in counts:
            inf = re.search(r'^pipewright_job_duration_seconds_bucket\{project="%s",job="%s",'
                            r'le="\+Inf"\} (\d+)$' % (p, j), m, re.M)
            expect(inf and int(inf.group(1)) == counts[(p, j)], "+Inf of %s/%s" % (p, j))
    t.check("one histogram per project and job, 100 names a project, then other", series)
    t.check("SIGTERM: the daemon exits 0", d.stop)


pw.main(main)
