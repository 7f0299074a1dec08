# SPDX-License-Identifier: Apache-2.0
# TEST CODE: a minimal Kubernetes REST client (Python standard library only) shared by the local
# environment's stand-ins (node stand-in, ingress stand-in). Not product code.
"""Tiny Kubernetes API client: JSON requests and list+watch over one TLS connection per call."""

import http.client
import json
import ssl
import threading
import time
import urllib.parse


class ApiError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body[:300]!r}")
        self.status = status
        self.body = body


class Client:
    """Talks to one API server with a client certificate (admin identity of the local environment)."""

    def __init__(self, server, ca_file, cert_file, key_file, timeout=30.0):
        u = urllib.parse.urlsplit(server)
        self.host = u.hostname
        self.port = u.port or 443
        self.timeout = timeout
        self.ctx = ssl.create_default_context(cafile=ca_file)
        self.ctx.load_cert_chain(cert_file, key_file)

    def _conn(self, timeout):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)

    def request(self, method, path, body=None, content_type="application/json", params=None, ok404=False):
        if params:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(params)
        data = None
        headers = {"Accept": "application/json", "User-Agent": "kacme-standin"}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        conn = self._conn(self.timeout)
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read(64 << 20)
        finally:
            conn.close()
        if resp.status == 404 and ok404:
            return None
        if resp.status >= 300:
            raise ApiError(resp.status, raw.decode(errors="replace"))
        return json.loads(raw) if raw else None

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body, kind="merge", **kw):
        ct = {"merge": "application/merge-patch+json", "strategic": "application/strategic-merge-patch+json",
              "json": "application/json-patch+json"}[kind]
        return self.request("PATCH", path, body, content_type=ct, **kw)

    def delete(self, path, body=None, **kw):
        return self.request("DELETE", path, body, **kw)

    def watch(self, path, resource_version, timeout_seconds=240):
        """Yields (type, object) events until the server ends the watch; raises on errors."""
        params = {"watch": "1", "resourceVersion": resource_version, "allowWatchBookmarks": "true",
                  "timeoutSeconds": str(timeout_seconds)}
        full = path + ("&" if "?" in path else "?") + urllib.parse.urlencode(params)
        conn = self._conn(timeout_seconds + 30)
        try:
            conn.request("GET", full, headers={"Accept": "application/json", "User-Agent": "kacme-standin"})
            resp = conn.getresponse()
            if resp.status != 200:
                raise ApiError(resp.status, resp.read(65536).decode(errors="replace"))
            while True:
                line = resp.readline(16 << 20)
                if not line:
                    return
                line = line.strip()
                if not line:
                    continue
                ev = json.loads(line)
                yield ev.get("type"), ev.get("object") or {}
        finally:
            conn.close()


class Informer:
    """List+watch of one collection into a dict keyed by namespace/name; calls on_change(type, obj, old)
    from its own thread. Restarts the list after any error (with a short pause)."""

    def __init__(self, client, path, on_change=None, log=print):
        self.client = client
        self.path = path
        self.on_change = on_change
        self.log = log
        self.store = {}
        self.lock = threading.Lock()
        self.synced = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"informer {path}")

    @staticmethod
    def key(obj):
        md = obj.get("metadata", {})
        ns = md.get("namespace")
        return f"{ns}/{md.get('name')}" if ns else md.get("name")

    def start(self):
        self.thread.start()
        return self

    def items(self):
        with self.lock:
            return list(self.store.values())

    def _emit(self, typ, obj, old):
        if self.on_change:
            try:
                self.on_change(typ, obj, old)
            except Exception as e:  # a handler bug must not kill the informer
                self.log(f"informer {self.path}: handler error: {e!r}")

    def _run(self):
        while True:
            try:
                lst = self.client.get(self.path)
                rv = lst["metadata"]["resourceVersion"]
                fresh = {self.key(o): o for o in lst.get("items", [])}
                with self.lock:
                    old_store, self.store = self.store, fresh
                for k, o in fresh.items():
                    self._emit("ADDED" if k not in old_store else "MODIFIED", o, old_store.get(k))
                for k, o in old_store.items():
                    if k not in fresh:
                        self._emit("DELETED", o, o)
                self.synced.set()
                while True:
                    progressed = False
                    for typ, obj in self.client.watch(self.path, rv):
                        if typ == "ERROR":
                            raise ApiError(obj.get("code", 0), json.dumps(obj))
                        rv = obj.get("metadata", {}).get("resourceVersion", rv)
                        progressed = True
                        if typ == "BOOKMARK":
                            continue
                        k = self.key(obj)
                        with self.lock:
                            old = self.store.get(k)
                            if typ == "DELETED":
                                self.store.pop(k, None)
                            else:
                                self.store[k] = obj
                        self._emit(typ, obj, old)
                    if not progressed:
                        pass  # watch timed out quietly: resume from the same resourceVersion
            except Exception as e:
                self.log(f"informer {self.path}: {e!r}; relisting")
                time.sleep(1)
