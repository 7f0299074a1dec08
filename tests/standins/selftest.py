#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# TEST CODE: unit tests of the stand-ins' pure parts ($(VAR) expansion, image names, the image table,
# Ingress routing, log sections). No cluster needed; CTest runs it with label "unit".
"""Self-test of tests/standins (python3 -B selftest.py)."""

import importlib.util
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def load(name, file):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, file))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


node = load("node_standin", "node-standin.py")
ingress = load("ingress_standin", "ingress-standin.py")


class Expand(unittest.TestCase):
    def test_kubernetes_rules(self):
        env = {"A": "1", "B": "x y"}
        self.assertEqual(node.expand("$(A)-$(B)", env), "1-x y")
        self.assertEqual(node.expand("$$(A)", env), "$(A)")
        self.assertEqual(node.expand("$(MISSING)", env), "$(MISSING)")
        self.assertEqual(node.expand("$(A", env), "$(A")
        self.assertEqual(node.expand("a$b$", env), "a$b$")


class Images(unittest.TestCase):
    def test_repository(self):
        r = node.image_repository
        self.assertEqual(r("ghcr.io/kacme/controller:v1.2.3"), "ghcr.io/kacme/controller")
        self.assertEqual(r("ghcr.io/kacme/controller@sha256:abcd"), "ghcr.io/kacme/controller")
        self.assertEqual(r("ghcr.io/kacme/controller:v1@sha256:abcd"), "ghcr.io/kacme/controller")
        self.assertEqual(r("localhost:5000/x"), "localhost:5000/x")
        self.assertEqual(r("localhost:5000/x:t"), "localhost:5000/x")
        self.assertEqual(r("kacme.test/http-responder"), "kacme.test/http-responder")

    def test_table(self):
        with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
            f.write("# comment\n\nex.com/a\t${KACME_BUILD_DIR}/bin/a  # trailing\n")
        try:
            t = node.load_images(f.name, "/b")
            self.assertEqual(t, {"ex.com/a": "/b/bin/a"})
        finally:
            os.unlink(f.name)

    def test_shipped_table(self):
        t = node.load_images(os.path.join(HERE, "images.tsv"), "/build")
        for repo in ("ghcr.io/kacme/controller", "ghcr.io/kacme/webhook", "ghcr.io/kacme/acmesolver",
                     "kacme.test/http-responder"):
            self.assertIn(repo, t)
        self.assertEqual(t["ghcr.io/kacme/acmesolver"], "/build/bin/kacme-acmesolver")


class FakeInformer:
    def __init__(self, objs):
        self.store = {f"{o['metadata'].get('namespace')}/{o['metadata']['name']}": o for o in objs}

    def items(self):
        return list(self.store.values())


def ing(name, rules, default=None, ts="2026-01-01T00:00:00Z"):
    spec = {"rules": rules}
    if default:
        spec["defaultBackend"] = default
    return {"metadata": {"name": name, "namespace": "ns", "creationTimestamp": ts}, "spec": spec}


def backend(svc, port=80):
    return {"service": {"name": svc, "port": {"number": port}}}


def rule(host, paths):
    return {"host": host, "http": {"paths": [{"path": p, "pathType": t, "backend": backend(s)}
                                             for p, t, s in paths]}}


class Routing(unittest.TestCase):
    def router(self, ingresses, services=(), slices=()):
        r = ingress.Router.__new__(ingress.Router)
        r.ingresses, r.services, r.slices = FakeInformer(ingresses), FakeInformer(services), FakeInformer(slices)
        r.rr = iter(range(1000))
        return r

    def test_matching(self):
        r = self.router([
            ing("a", [rule("a.test", [("/", "Prefix", "root"), ("/api", "Prefix", "api"),
                                      ("/api/exact", "Exact", "exact")])]),
            ing("w", [rule("*.w.test", [("/", "Prefix", "wild")])]),
            ing("d", [], default=backend("dflt")),
        ])
        svc = lambda h, p: (r.route(h, p)[1] or {}).get("service", {}).get("name")  # noqa: E731
        self.assertEqual(svc("a.test", "/"), "root")
        self.assertEqual(svc("a.test", "/api"), "api")
        self.assertEqual(svc("a.test", "/api/"), "api")
        self.assertEqual(svc("a.test", "/api/x"), "api")
        self.assertEqual(svc("a.test", "/apix"), "root")
        self.assertEqual(svc("a.test", "/api/exact"), "exact")
        self.assertEqual(svc("x.w.test", "/"), "wild")
        self.assertEqual(svc("y.x.w.test", "/"), "dflt")
        self.assertEqual(svc("w.test", "/"), "dflt")
        self.assertEqual(svc("other", "/"), "dflt")

    def test_endpoints(self):
        svc = {"metadata": {"name": "s", "namespace": "ns"},
               "spec": {"ports": [{"name": "web", "port": 80, "targetPort": "http"}]}}
        sl = {"metadata": {"name": "s-1", "namespace": "ns", "labels": {"kubernetes.io/service-name": "s"}},
              "addressType": "IPv4", "ports": [{"name": "web", "port": 8080}],
              "endpoints": [{"addresses": ["10.0.0.2"], "conditions": {"ready": True}},
                            {"addresses": ["10.0.0.3"], "conditions": {"ready": False}}]}
        r = self.router([], [svc], [sl])
        self.assertEqual(r.endpoints("ns", backend("s", 80)), ([("10.0.0.2", 8080)], None))
        self.assertEqual(r.endpoints("ns", {"service": {"name": "s", "port": {"name": "web"}}})[0],
                         [("10.0.0.2", 8080)])
        self.assertIsNotNone(r.endpoints("ns", backend("s", 81))[1])
        self.assertIsNotNone(r.endpoints("ns", backend("missing"))[1])


class Logs(unittest.TestCase):
    def test_sections(self):
        with tempfile.NamedTemporaryFile("wb", delete=False) as f:
            m = node.LOG_MARKER.encode()
            f.write(m + b"t1 start x\none\n" + m + b"t2 start x\ntwo\nthree\n")
        try:
            self.assertEqual(node.log_sections(f.name), [b"one\n", b"two\nthree\n"])
        finally:
            os.unlink(f.name)


if __name__ == "__main__":
    unittest.main()
