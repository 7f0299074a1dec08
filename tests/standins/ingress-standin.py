#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# TEST CODE — NOT PRODUCT. A stand-in for an ingress controller in the local environment
# (hack/local-up.sh): watches Ingresses (networking.k8s.io/v1), Services and EndpointSlices and reverse-proxies
# plain HTTP by Ingress host + path -> Service port -> ready EndpointSlice addresses (pod IPs on the
# environment's pod network). ClusterIPs are never used: they are not routable here. Every Ingress is served
# whatever its class.
"""kacme ingress stand-in (test code): an HTTP reverse proxy driven by Ingress objects."""

import argparse
import datetime
import http.client
import http.server
import itertools
import os
import socket
import socketserver
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kubeclient  # noqa: E402

HOP_HEADERS = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
               "transfer-encoding", "upgrade"}
MAX_BODY = 16 << 20


def log(msg):
    t = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{t} ingress-standin: {msg}", flush=True)


def host_matches(rule_host, host):
    if not rule_host:
        return True
    if rule_host.startswith("*."):
        suffix = rule_host[1:]
        return host.endswith(suffix) and "." not in host[: -len(suffix)] and len(host) > len(suffix)
    return rule_host == host


def path_matches(path_type, rule_path, path):
    rule_path = rule_path or "/"
    if path_type == "Exact":
        return path == rule_path
    # Prefix (and ImplementationSpecific, treated as Prefix): element-wise prefix match
    if rule_path == "/":
        return True
    rp = rule_path.rstrip("/")
    return path == rp or path.startswith(rp + "/")


class Router:
    def __init__(self, client):
        self.ingresses = kubeclient.Informer(client, "/apis/networking.k8s.io/v1/ingresses", None, log)
        self.services = kubeclient.Informer(client, "/api/v1/services", None, log)
        self.slices = kubeclient.Informer(client, "/apis/discovery.k8s.io/v1/endpointslices", None, log)
        self.rr = itertools.count()

    def start(self):
        for i in (self.ingresses, self.services, self.slices):
            i.start()

    def synced(self, timeout):
        return all(i.synced.wait(timeout) for i in (self.ingresses, self.services, self.slices))

    def route(self, host, path):
        """Returns (namespace, backend) for the best rule: exact host before wildcard/any, Exact before Prefix,
        longest path first; an Ingress's defaultBackend if no rule matches."""
        best = None
        default = None
        for ing in sorted(self.ingresses.items(), key=lambda o: o["metadata"].get("creationTimestamp", "")):
            if ing["metadata"].get("deletionTimestamp"):
                continue
            ns = ing["metadata"]["namespace"]
            spec = ing.get("spec") or {}
            for rule in spec.get("rules") or []:
                rh = rule.get("host", "")
                if not host_matches(rh, host):
                    continue
                hscore = 2 if rh and not rh.startswith("*.") else (1 if rh else 0)
                for p in (rule.get("http") or {}).get("paths") or []:
                    pt = p.get("pathType", "Prefix")
                    if not path_matches(pt, p.get("path", "/"), path):
                        continue
                    score = (hscore, 1 if pt == "Exact" else 0, len(p.get("path", "/")))
                    if best is None or score > best[0]:
                        best = (score, ns, p.get("backend") or {})
            if default is None and spec.get("defaultBackend"):
                default = (ns, spec["defaultBackend"])
        if best:
            return best[1], best[2]
        return default if default else (None, None)

    def endpoints(self, ns, backend):
        """Ready (ip, port) pairs for an Ingress backend, or an error string."""
        svc_ref = backend.get("service")
        if not svc_ref:
            return None, "backend is not a Service"
        name = svc_ref["name"]
        svc = self.services.store.get(f"{ns}/{name}")
        if svc is None:
            return None, f"service {ns}/{name} not found"
        want = svc_ref.get("port") or {}
        sport = None
        for p in (svc.get("spec") or {}).get("ports") or []:
            if ("number" in want and p.get("port") == want["number"]) or \
                    ("name" in want and p.get("name") == want["name"]):
                sport = p
                break
        if sport is None:
            return None, f"service {ns}/{name} has no port {want}"
        out = []
        for sl in self.slices.items():
            md = sl["metadata"]
            if md.get("namespace") != ns or (md.get("labels") or {}).get("kubernetes.io/service-name") != name:
                continue
            if sl.get("addressType") != "IPv4":
                continue
            port = None
            for ep in sl.get("ports") or []:
                if (ep.get("name") or "") == (sport.get("name") or ""):
                    port = ep.get("port")
            if port is None:
                continue
            for ep in sl.get("endpoints") or []:
                if (ep.get("conditions") or {}).get("ready") is False:
                    continue
                for a in ep.get("addresses") or []:
                    out.append((a, port))
        if not out:
            return None, f"service {ns}/{name} has no ready endpoints"
        return sorted(set(out)), None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kacme-ingress-standin"
    router = None

    def log_message(self, fmt, *args):
        log(f"{self.client_address[0]} {fmt % args}")

    def reply(self, code, text):
        body = (text + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Kacme-Ingress", "standin")
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.close_connection = True

    def proxy(self):
        host = (self.headers.get("Host") or "").split(":")[0].lower().rstrip(".")
        path = self.path.split("?", 1)[0]
        ns, backend = self.router.route(host, path)
        if backend is None:
            return self.reply(404, f"kacme ingress stand-in: no Ingress rule for host {host!r} path {path!r}")
        eps, err = self.router.endpoints(ns, backend)
        if err:
            return self.reply(503, f"kacme ingress stand-in: {err}")
        ip, port = eps[next(self.router.rr) % len(eps)]
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self.reply(413, "kacme ingress stand-in: request body too large")
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        headers["X-Forwarded-For"] = self.client_address[0]
        headers["X-Forwarded-Host"] = self.headers.get("Host", "")
        headers["X-Forwarded-Proto"] = "http"
        conn = http.client.HTTPConnection(ip, port, timeout=10)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read(MAX_BODY)
        except (OSError, http.client.HTTPException) as e:
            return self.reply(502, f"kacme ingress stand-in: backend {ip}:{port}: {e}")
        finally:
            conn.close()
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_HEADERS and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = proxy


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def status_loop(client, router, addr, stop):
    """Publishes the stand-in's address in each Ingress's status.loadBalancer, as controllers do."""
    while not stop.wait(2):
        for ing in router.ingresses.items():
            lb = ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            if lb == [{"ip": addr}]:
                continue
            md = ing["metadata"]
            try:
                client.patch(f"/apis/networking.k8s.io/v1/namespaces/{md['namespace']}/ingresses/{md['name']}"
                             "/status", {"status": {"loadBalancer": {"ingress": [{"ip": addr}]}}})
            except Exception as e:
                log(f"ingress status {md['namespace']}/{md['name']}: {e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--server", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--listen", action="append", required=True, help="address:port (repeatable)")
    ap.add_argument("--status-address", default="", help="address published in Ingress status")
    a = ap.parse_args()
    client = kubeclient.Client(a.server, a.ca, a.cert, a.key)
    router = Router(client)
    router.start()
    if not router.synced(60):
        log("warning: caches not synced after 60s; serving anyway")
    Handler.router = router
    servers = []
    for l in a.listen:
        host, _, port = l.rpartition(":")
        srv = Server((host, int(port)), Handler)
        servers.append(srv)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        log(f"listening on {host}:{port}")
    stop = threading.Event()
    if a.status_address:
        threading.Thread(target=status_loop, args=(client, router, a.status_address, stop), daemon=True).start()
    import signal
    signal.signal(signal.SIGTERM, lambda s, f: stop.set())
    signal.signal(signal.SIGINT, lambda s, f: stop.set())
    while not stop.wait(1):
        pass
    for s in servers:
        s.shutdown()


if __name__ == "__main__":
    socket.setdefaulttimeout(None)
    main()
