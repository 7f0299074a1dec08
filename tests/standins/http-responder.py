#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# TEST CODE — NOT PRODUCT. The "image" kacme.test/http-responder run by the node stand-in: a tiny HTTP server
# that answers every GET with a fixed text plus who it is (pod name/namespace from the downward API env).
#   http-responder.py [--port N] [--text TEXT]      (defaults: $PORT or 8080, "hello from kacme.test")
#   --serve-file /PATH=FILE   GET /PATH answers FILE's content (e.g. a mounted service-account file)
#   --whoami /PATH            GET /PATH asks the API server who the pod's service-account token belongs to
#                             (in-cluster config: KUBERNETES_SERVICE_HOST/PORT and the mounted token + CA)
#   --tls-cert FILE --tls-key FILE   serve HTTPS instead of HTTP
#   --deny-admission MESSAGE  POST (any path) answers an AdmissionReview (admission.k8s.io/v1) denying the
#                             request with MESSAGE: a minimal validating webhook
# /healthz answers "ok" (for readiness probes).
"""Tiny HTTP responder for tests."""

import argparse
import http.client
import http.server
import json
import os
import signal
import socketserver
import ssl
import sys

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def whoami():
    """POST a SelfSubjectReview in-cluster; returns the username."""
    ctx = ssl.create_default_context(cafile=os.path.join(SA_DIR, "ca.crt"))
    with open(os.path.join(SA_DIR, "token")) as f:
        token = f.read().strip()
    conn = http.client.HTTPSConnection(os.environ["KUBERNETES_SERVICE_HOST"],
                                       int(os.environ["KUBERNETES_SERVICE_PORT"]), context=ctx, timeout=5)
    body = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    conn.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", body=body,
                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    return data["status"]["userInfo"]["username"]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    ap.add_argument("--text", default=os.environ.get("RESPONDER_TEXT", "hello from kacme.test"))
    ap.add_argument("--bind", default="0.0.0.0")
    ap.add_argument("--serve-file", action="append", default=[], metavar="/PATH=FILE")
    ap.add_argument("--whoami", default="", metavar="/PATH")
    ap.add_argument("--tls-cert", default="")
    ap.add_argument("--tls-key", default="")
    ap.add_argument("--deny-admission", default=None, metavar="MESSAGE")
    a = ap.parse_args()
    files = dict(x.split("=", 1) for x in a.serve_file)
    who = f"{os.environ.get('POD_NAMESPACE', '?')}/{os.environ.get('POD_NAME', '?')}"

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            code = 200
            if self.path == "/healthz":
                body = b"ok\n"
            elif self.path in files:
                try:
                    with open(files[self.path], "rb") as f:
                        body = f.read()
                except OSError as e:
                    code, body = 500, f"{e}\n".encode()
            elif a.whoami and self.path == a.whoami:
                try:
                    body = (whoami() + "\n").encode()
                except Exception as e:
                    code, body = 502, f"whoami: {e!r}\n".encode()
            else:
                body = f"{a.text}\npod={who} path={self.path} host={self.headers.get('Host', '')}\n".encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if a.deny_admission is None or length > (3 << 20):
                self.send_response(404 if a.deny_admission is None else 413)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            review = json.loads(self.rfile.read(length))
            uid = (review.get("request") or {}).get("uid", "")
            body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                               "response": {"uid": uid, "allowed": False,
                                            "status": {"code": 403, "message": a.deny_admission}}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            sys.stderr.write(f"http-responder: {self.client_address[0]} {fmt % args}\n")

    class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    srv = S((a.bind, a.port), H)
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(0))
    print(f"http-responder: {who} listening on {a.bind}:{a.port}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
