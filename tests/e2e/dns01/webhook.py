#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A tiny external DNS-01 webhook solver for the e2e test (TEST CODE): the cert-manager webhook API
(webhook.acme.cert-manager.io/v1alpha1 ChallengePayload) served as an aggregated API (registered through an
APIService), writing the TXT records to BIND9 with nsupdate and the environment's TSIG key.

  webhook.py --listen HOST --port-file FILE --cert C --key K --group G --solver S

Serves discovery (GET /apis/<G>/v1alpha1) and POST /apis/<G>/v1alpha1/<S>. Every handled request is logged
as one line "<action> <resolvedFQDN> <resolvedZone> <config>" (never the key) on stdout.
Environment: KACME_DNS_SERVER, KACME_TSIG_KEY_NAME, KACME_TSIG_SECRET (from _local/env.sh).
"""
import argparse
import http.server
import json
import os
import ssl
import subprocess
import sys


def nsupdate(action, fqdn, zone, key):
    host, port = os.environ["KACME_DNS_SERVER"].rsplit(":", 1)
    op = "add" if action == "Present" else "delete"
    ttl = "60 " if op == "add" else ""
    script = (f"server {host} {port}\nzone {zone}\nupdate {op} {fqdn} {ttl}TXT \"{key}\"\nsend\n")
    alg_key = f"hmac-sha256:{os.environ['KACME_TSIG_KEY_NAME']}:{os.environ['KACME_TSIG_SECRET']}"
    r = subprocess.run(["nsupdate", "-y", alg_key], input=script, text=True, capture_output=True, timeout=20)
    if r.returncode != 0:
        raise RuntimeError("nsupdate failed: " + (r.stderr.strip() or r.stdout.strip()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--solver", required=True)
    a = ap.parse_args()
    gv = f"/apis/{a.group}/v1alpha1"

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == gv:
                self.reply(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{a.group}/v1alpha1",
                                 "resources": [{"name": a.solver, "singularName": a.solver, "namespaced": False,
                                                "kind": "ChallengePayload", "verbs": ["create"]}]})
            elif path in ("/healthz", "/readyz", "/livez"):
                self.reply(200, {"status": "ok"})
            else:
                self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404,
                                 "reason": "NotFound", "message": f"{path} not found"})

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            try:
                payload = json.loads(self.rfile.read(n) or b"{}")
            except ValueError:
                self.reply(400, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 400,
                                 "message": "bad JSON"})
                return
            if self.path.split("?", 1)[0] != f"{gv}/{a.solver}":
                self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404,
                                 "reason": "NotFound", "message": "no such solver"})
                return
            req = payload.get("request") or {}
            resp = {"uid": req.get("uid", ""), "success": True}
            try:
                if req.get("type") != "dns-01" or req.get("action") not in ("Present", "CleanUp"):
                    raise RuntimeError(f"unsupported request {req.get('type')}/{req.get('action')}")
                nsupdate(req["action"], req["resolvedFQDN"], req["resolvedZone"], req["key"])
            except Exception as e:  # noqa: BLE001 -- reported to the caller as a failed status
                resp = {"uid": req.get("uid", ""), "success": False,
                        "status": {"status": "Failure", "message": str(e)}}
            print(req.get("action"), req.get("resolvedFQDN"), req.get("resolvedZone"),
                  json.dumps(req.get("config"), sort_keys=True), "ok" if resp["success"] else "failed", flush=True)
            payload["response"] = resp
            self.reply(201, payload)

    srv = http.server.ThreadingHTTPServer((a.listen, 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(a.port_file + ".tmp", a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
