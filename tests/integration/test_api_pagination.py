"""Keyset pagination of GET /api/v1/projects/{project}/runs: 45 runs walked
7 at a time by next_cursor, newest first, no duplicate and no gap; the
status and branch filters, alone and together, paginate the same way."""
import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = """\
stages: [build]
jobs:
  build:
    stage: build
    script: exit ${FAIL:-0}
"""
N = 45


def walk(d, query, limit):
    """Every item of the list, page by page; checks each page's size."""
    ids, cursor, pages = [], None, 0
    while True:
        q = "limit=%d" % limit + (("&" + query) if query else "")
        if cursor is not None:
            q += "&cursor=" + cursor
        p = d.get_json("/api/v1/projects/demo/runs?" + q)
        pages += 1
        expect(pages <= N + 1, "the walk does not end")
        items = p["items"]
        cursor = p["next_cursor"]
        expect(cursor is None or isinstance(cursor, str), "next_cursor %r" % cursor)
        if cursor is not None:
            eq(len(items), limit, "a full page before the last (%s)" % q)
        else:
            expect(len(items) <= limit, "page larger than the limit")
        ids += [(x["id"], x["status"], x["branch"]) for x in items]
        if cursor is None:
            return ids, pages


def main(t):
    d = t.daemon(projects={"demo": PIPELINE, "other": PIPELINE})
    want = {}

    def make():
        for i in range(1, N + 1):
            branch = "dev" if i % 3 == 0 else "main"
            fail = "1" if i % 5 == 0 else "0"
            r = d.trigger("demo", {"ref": branch, "env": {"FAIL": fail}})
            want[r["id"]] = ("failed" if fail == "1" else "success", branch)
        d.trigger("other", {})
        eq(len(want), N, "distinct ids")
        pw.wait_until(lambda: not d.get_json(
            "/api/v1/projects/demo/runs?status=queued,running&limit=200")["items"],
            "every run to finish")
    t.check("trigger %d runs and let them finish" % N, make)

    def by_status(status):
        return sorted((i for i, v in want.items() if v[0] == status), reverse=True)

    def all_pages():
        got, pages = walk(d, "", 7)
        eq(pages, 7, "pages of 7")
        ids = [g[0] for g in got]
        eq(ids, sorted(want, reverse=True), "ids, newest first, no duplicate or gap")
        for i, status, branch in got:
            eq((status, branch), want[i], "run %d" % i)
    t.check("limit=7: 7 pages, newest first, no duplicate or gap", all_pages)

    def default_and_max():
        p = d.get_json("/api/v1/projects/demo/runs")
        eq(len(p["items"]), 20, "the default limit")
        expect(p["next_cursor"] is not None, "a cursor after 20 of 45")
        p = d.get_json("/api/v1/projects/demo/runs?limit=200")
        eq((len(p["items"]), p["next_cursor"]), (N, None), "limit=200")
        p = d.get_json("/api/v1/projects/demo/runs?limit=%d" % N)
        eq((len(p["items"]), p["next_cursor"]), (N, None), "limit=N: no cursor to an empty page")
    t.check("the default limit is 20; limit=200 takes all", default_and_max)

    def status_filter():
        got, _ = walk(d, "status=failed", 2)
        eq([g[0] for g in got], by_status("failed"), "failed runs")
        got, _ = walk(d, "status=success", 10)
        eq([g[0] for g in got], by_status("success"), "successful runs")
        got, _ = walk(d, "status=failed,success", 7)
        eq([g[0] for g in got], sorted(want, reverse=True), "failed,success")
        eq(d.get_json("/api/v1/projects/demo/runs?status=canceled"),
           {"items": [], "next_cursor": None}, "canceled")
    t.check("status filter: one status, two, none matching", status_filter)

    def branch_filter():
        got, _ = walk(d, "branch=dev", 4)
        eq([g[0] for g in got],
           sorted((i for i, v in want.items() if v[1] == "dev"), reverse=True), "dev")
        got, _ = walk(d, "branch=dev&status=failed", 1)
        eq([g[0] for g in got],
           sorted((i for i, v in want.items() if v == ("failed", "dev")), reverse=True),
           "dev and failed")
        eq(d.get_json("/api/v1/projects/demo/runs?branch=nope")["items"], [], "no such branch")
    t.check("branch filter, and with status", branch_filter)

    def other_project():
        p = d.get_json("/api/v1/projects/other/runs")
        eq(len(p["items"]), 1, "the other project's runs are its own")
    t.check("a project's list holds only its runs", other_project)

    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
