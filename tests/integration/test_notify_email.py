"""Notifications by email, through libcurl's SMTP, against SMTP sinks on
127.0.0.1 written here with Python's standard library (a socket server
speaking enough SMTP: EHLO, STARTTLS, AUTH PLAIN and LOGIN, MAIL, RCPT,
DATA).  One sink is plain SMTP with AUTH LOGIN; the other requires
STARTTLS before AUTH PLAIN, with a self-signed certificate made here by
`openssl req` and trusted through the entry's ca_file.  Checked: the
envelope, the credentials, the message (subject, Message-ID carrying the
delivery id, the run's link), no secret in it; a sink that refuses the
password leaves the row pending with the server's error."""
import base64
import os
import shutil
import socketserver
import ssl
import subprocess
import threading

import pwdaemon as pw
from pwdaemon import eq, expect

PASSWORD = "smtp-pass-5e1d"
JOB_SECRET = "job-secret-value-0c4b"

PIPELINE = """\
jobs:
  build:
    script: |
      echo "token is $TOK"
      false
"""


class Sink:
    """An SMTP server: mechs it offers, whether it requires STARTTLS (tls:
    an ssl.SSLContext), the password it accepts; messages it took."""

    def __init__(self, mechs, tls=None, password=PASSWORD):
        self.messages = []
        self.auth = []
        self.errors = []
        self.lock = threading.Lock()
        sink = self

        class H(socketserver.StreamRequestHandler):
            def send(self, line):
                self.wfile.write(line.encode() + b"\r\n")
                self.wfile.flush()

            def read(self):
                line = self.rfile.readline(4096)
                if not line:
                    raise EOFError
                return line.decode().rstrip("\r\n")

            def handle(self):
                try:
                    self.session()
                except (EOFError, ConnectionError, ssl.SSLError):
                    pass

            def session(self):
                secure = False
                authed = None
                mail_from, rcpt = None, []
                self.send("220 sink ESMTP")
                while True:
                    line = self.read()
                    verb = line.split(" ")[0].upper()
                    if verb in ("EHLO", "HELO"):
                        ext = ["sink"]
                        if sink.tls is not None and not secure:
                            ext.append("STARTTLS")
                        if sink.tls is None or secure:
                            ext.append("AUTH " + " ".join(sink.mechs))
                        for i, e in enumerate(ext):
                            self.send("250%s%s" % (" " if i == len(ext) - 1 else "-", e))
                    elif verb == "STARTTLS" and sink.tls is not None:
                        self.send("220 go ahead")
                        conn = sink.tls.wrap_socket(self.connection, server_side=True)
                        self.connection = conn
                        self.rfile = conn.makefile("rb")
                        self.wfile = conn.makefile("wb")
                        secure = True
                    elif verb == "AUTH":
                        if sink.tls is not None and not secure:
                            self.send("530 must issue STARTTLS first")
                            continue
                        parts = line.split(" ")
                        mech = parts[1].upper()
                        if mech not in sink.mechs:
                            self.send("504 unrecognized mechanism")
                            continue
                        if mech == "PLAIN":
                            if len(parts) > 2:
                                raw = parts[2]
                            else:
                                self.send("334 ")
                                raw = self.read()
                            _, user, pw_ = base64.b64decode(raw).decode().split("\0")
                        else:
                            self.send("334 VXNlcm5hbWU6")
                            user = base64.b64decode(self.read()).decode()
                            self.send("334 UGFzc3dvcmQ6")
                            pw_ = base64.b64decode(self.read()).decode()
                        with sink.lock:
                            sink.auth.append((mech, user, pw_, secure))
                        if pw_ != sink.password:
                            self.send("535 5.7.8 authentication failed")
                            continue
                        authed = user
                        self.send("235 ok")
                    elif verb == "MAIL":
                        if authed is None:
                            self.send("530 authentication required")
                            continue
                        mail_from = line.split(":", 1)[1].strip()
                        rcpt = []
                        self.send("250 ok")
                    elif verb == "RCPT":
                        rcpt.append(line.split(":", 1)[1].strip())
                        self.send("250 ok")
                    elif verb == "DATA":
                        self.send("354 end with .")
                        data = []
                        while True:
                            l = self.rfile.readline(65536)
                            if not l or l == b".\r\n":
                                break
                            data.append(l[1:] if l.startswith(b"..") else l)
                        with sink.lock:
                            sink.messages.append({"from": mail_from, "rcpt": rcpt,
                                                  "data": b"".join(data),
                                                  "secure": secure, "user": authed})
                        self.send("250 queued")
                    elif verb == "QUIT":
                        self.send("221 bye")
                        return
                    elif verb in ("RSET", "NOOP"):
                        self.send("250 ok")
                    else:
                        self.send("502 unknown")

        self.mechs = mechs
        self.tls = tls
        self.password = password
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def got(self):
        with self.lock:
            return list(self.messages)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def main(t):
    if shutil.which("openssl") is None:
        pw.skip("no openssl(1) to make the STARTTLS sink's certificate")
    cert = os.path.join(t.tmp, "cert.pem")
    key = os.path.join(t.tmp, "key.pem")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True)
    expect(p.returncode == 0, "openssl req: %s" % p.stderr.decode())
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    plain = Sink(["LOGIN"])
    tls = Sink(["PLAIN"], tls=ctx)
    wrong = Sink(["PLAIN", "LOGIN"], password="something else")
    pass_file = os.path.join(t.tmp, "smtp.pass")
    with open(pass_file, "w") as f:
        f.write(PASSWORD + "\n")
    job_secret_file = os.path.join(t.tmp, "tok")
    with open(job_secret_file, "w") as f:
        f.write(JOB_SECRET + "\n")
    pipeline_file = os.path.join(t.tmp, "demo.yml")
    with open(pipeline_file, "w") as f:
        f.write(PIPELINE)
    notify = (
        "[{email: {to: oncall@example.com, from: ci@example.com,"
        " smtp: 'smtp://127.0.0.1:%d', user: ci, password: {file: %s},"
        " starttls: false}, on: [failed]},"
        " {email: {to: [a@example.com, b@example.com], smtp: 'smtp://127.0.0.1:%d',"
        " user: ci2, password: {file: %s}}, ca_file: %s, on: [failed]},"
        " {email: {to: c@example.com, smtp: 'smtp://127.0.0.1:%d', user: ci3,"
        " password: {file: %s}, starttls: false}, on: [failed]}]"
        % (plain.port, pass_file, tls.port, pass_file, cert, wrong.port, pass_file))
    d = t.daemon(projects={"demo": {"pipeline": pipeline_file, "secrets": "[TOK]",
                                    "notify": notify}},
                 config="secrets:\n  TOK: {file: %s}\n" % job_secret_file,
                 tokens=(("operator", "operate"), ("admin", "admin")))
    rid = d.trigger("demo", {"ref": "main"})["id"]
    eq(d.wait_run(rid)["status"], "failed", "the run")
    url = "%s/api/v1/runs/%d" % (d.url, rid)

    def plain_login():
        m = pw.wait_until(plain.got, "the plain sink's message")
        eq(len(m), 1, "messages")
        m = m[0]
        eq(m["from"], "<ci@example.com>", "MAIL FROM")
        eq(m["rcpt"], ["<oncall@example.com>"], "RCPT TO")
        eq(m["user"], "ci", "the AUTH user")
        eq(plain.auth[0][:3], ("LOGIN", "ci", PASSWORD), "AUTH LOGIN")
        text = m["data"].decode()
        expect("\r\nSubject: [pipewright] demo run %d failed on main" % rid in text,
               "subject in %r" % text[:600])
        expect("\r\nTo: oncall@example.com\r\n" in text, "To: header")
        expect(url in text, "the run's link in the message")
        rows = [i for i in d.get_json("/api/v1/outbox?limit=200", token="admin")["items"]
                if i["kind"] == "email" and i["url"] == "smtp://127.0.0.1:%d" % plain.port]
        eq(len(rows), 1, "the plain sink's row")
        did = [l for l in text.split("\r\n") if l.startswith("X-Pipewright-Delivery: ")]
        eq(len(did), 1, "delivery header")
        expect("Message-ID: <%s@pipewright>" % did[0].split(": ")[1] in text, "Message-ID")
        pw.wait_until(lambda: d.get_json("/api/v1/outbox?limit=200", token="admin")
                      ["items"] and [i for i in d.get_json("/api/v1/outbox?limit=200",
                                     token="admin")["items"] if i["id"] == rows[0]["id"]
                                     and i["state"] == "delivered"], "the row delivered")
        eq(rows[0]["method"], "SMTP", "the row's method")
    t.check("plain SMTP with AUTH LOGIN: envelope, headers, link", plain_login)

    def starttls_plain():
        m = pw.wait_until(tls.got, "the STARTTLS sink's message")
        eq(len(m), 1, "messages")
        m = m[0]
        eq(m["secure"], True, "the message went after STARTTLS")
        eq(m["rcpt"], ["<a@example.com>", "<b@example.com>"], "RCPT TO")
        eq(m["from"], "<pipewright@localhost>", "the default sender")
        eq(tls.auth[0], ("PLAIN", "ci2", PASSWORD, True), "AUTH PLAIN inside TLS")
    t.check("STARTTLS with a self-signed certificate (ca_file), AUTH PLAIN", starttls_plain)

    def refused():
        def retried():
            rows = [i for i in d.get_json("/api/v1/outbox?limit=200", token="admin")["items"]
                    if i["url"] == "smtp://127.0.0.1:%d" % wrong.port]
            return rows and rows[0]["attempts"] >= 1 and rows[0]["last_error"] and rows
        rows = pw.wait_until(retried, "the refused row's error")
        eq(rows[0]["state"], "pending", "a refused login is retried")
        expect("535" in rows[0]["last_error"] or "auth" in rows[0]["last_error"].lower(),
               "last_error %r" % rows[0]["last_error"])
        eq(wrong.got(), [], "nothing accepted by the sink that refused the login")
    t.check("a refused login: pending, the server's error in the outbox", refused)

    def no_secrets():
        for m in plain.got() + tls.got():
            for s in (PASSWORD, JOB_SECRET):
                expect(s.encode() not in m["data"], "a secret in the message")
        raw = d.get("/api/v1/outbox?limit=200", token="admin").text
        expect(PASSWORD not in raw and "@example.com" not in raw,
               "no password or recipient in the outbox listing")
    t.check("no secret in any message, no recipient in the listing", no_secrets)

    for s in (plain, tls, wrong):
        s.close()


pw.main(main)
