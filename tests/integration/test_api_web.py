"""The dashboard's pages: `/` and each client route answer index.html,
whose asset URLs are versioned (/assets/ID/...); every page answer carries
the Content-Security-Policy; assets are served from the binary with their
SHA-256 as a strong ETag (If-None-Match gives 304), immutable under the
versioned URL and revalidated (no-cache) under the plain one; a path that
leaves /assets/ or names no file is 404 JSON; the API is unchanged."""
import hashlib
import os
import re

import pwdaemon as pw
from pwdaemon import eq, expect

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
WEB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "web")


def main(t):
    d = t.daemon(projects={"demo": "jobs:\n  a:\n    script: [true]\n"})
    st = {}

    def index():
        for path in ("/", "/runs", "/runs/12", "/runs/12/jobs/build", "/projects",
                     "/projects/demo", "/queue"):
            r = d.get(path)
            eq(r.status, 200, "GET %s" % path)
            expect(r.header("Content-Type").startswith("text/html"), "%s is HTML" % path)
            eq(r.header("Content-Security-Policy"), CSP, "CSP of %s" % path)
            eq(r.header("Cache-Control"), "no-cache", "index.html is revalidated")
            expect(r.header("ETag"), "index.html has an ETag")
            st["index"] = r
        m = re.search(r'"/assets/([0-9a-f]{16})/', st["index"].text)
        expect(m, "index.html's asset URLs are versioned: %r" % st["index"].text[:400])
        st["id"] = m.group(1)
        r = d.get("/", headers={"If-None-Match": st["index"].header("ETag")})
        eq(r.status, 304, "index.html revalidated with its ETag")
        eq(r.body, b"", "a 304 has no body")
    t.check("/ and the client routes answer index.html with the CSP", index)

    def assets():
        names = []
        for root, _, files in os.walk(os.path.join(WEB, "assets")):
            for f in files:
                names.append(os.path.relpath(os.path.join(root, f), WEB))
        expect(names, "web/assets has files")
        for name in names:
            data = open(os.path.join(WEB, name), "rb").read()
            etag = '"%s"' % hashlib.sha256(data).hexdigest()
            plain = "/" + name
            r = d.get(plain)
            eq(r.status, 200, "GET %s" % plain)
            eq(r.body, data, "%s is the file's bytes" % plain)
            eq(r.header("ETag"), etag, "%s's ETag is its SHA-256" % plain)
            eq(r.header("Cache-Control"), "no-cache", "%s (unversioned) revalidates" % plain)
            eq(r.header("Content-Security-Policy"), CSP, "CSP of %s" % plain)
            eq(r.header("X-Content-Type-Options"), "nosniff", "nosniff on %s" % plain)
            if name.endswith(".js"):
                expect(r.header("Content-Type").startswith("text/javascript"),
                       "%s is JavaScript: %r" % (name, r.header("Content-Type")))
            if name.endswith(".css"):
                expect(r.header("Content-Type").startswith("text/css"), "%s is CSS" % name)
            versioned = "/assets/%s/%s" % (st["id"], name[len("assets/"):])
            r = d.get(versioned)
            eq(r.status, 200, "GET %s" % versioned)
            eq(r.body, data, "%s is the same bytes" % versioned)
            eq(r.header("Cache-Control"), "public, max-age=31536000, immutable",
               "%s is immutable" % versioned)
            r = d.get(plain, headers={"If-None-Match": 'W/"x", ' + etag})
            eq(r.status, 304, "%s with a matching If-None-Match" % plain)
            r = d.get(plain, headers={"If-None-Match": '"0000"'})
            eq(r.status, 200, "%s with another ETag" % plain)
    t.check("assets: bytes, strong ETag, 304, immutable when versioned", assets)

    def refusals():
        for path in ("/assets/nope.js", "/assets/%2e%2e/index.html",
                     "/assets/..%2Findex.html", "/assets/.hidden", "/assets/a/b/c/d/e"):
            r = d.get(path)
            expect(r.status == 404, "GET %s: %d %r" % (path, r.status, r.body[:200]))
        d.expect_error(d.get("/nowhere"), 404, "not_found", what="an unknown page")
        d.expect_error(d.post("/"), 405, "method_not_allowed", what="POST /")
        eq(d.get_json("/api/v1/queue")["paused"], False, "the API answers as before")
    t.check("no file outside web/assets; unknown paths 404", refusals)


pw.main(main)
