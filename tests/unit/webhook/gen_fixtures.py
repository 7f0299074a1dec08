#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Generates the AdmissionReview fixtures in fixtures/ (run once; the output is committed).

Each fixture is an admission.k8s.io/v1 AdmissionReview plus a top-level "_expect" object that the
handler ignores and test_webhook_admission.c checks:
  {"allowed": bool, "code": 403|400 (when denied), "message": [substrings], "warnings": [substrings],
   "no_warnings": bool}
"""
import base64, copy, ipaddress, json, os, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
KEY = ec.generate_private_key(ec.SECP256R1())
CONTROLLER = "system:serviceaccount:kacme:kacme-controller"


def csr(cn=None, dns=(), ips=(), der=False):
    b = x509.CertificateSigningRequestBuilder()
    attrs = []
    if cn is not None:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn, _validate=False))
    b = b.subject_name(x509.Name(attrs))
    sans = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    r = b.sign(KEY, hashes.SHA256())
    data = r.public_bytes(serialization.Encoding.DER if der else serialization.Encoding.PEM)
    return base64.b64encode(data).decode()


def review(group, kind, op, obj, old=None, user="alice", groups=("system:authenticated",), sub=None, uid=None):
    req = {
        "uid": uid or "00000000-0000-0000-0000-%012d" % (abs(hash(json.dumps(obj, sort_keys=True))) % 10**12),
        "kind": {"group": group, "version": "v1", "kind": kind},
        "resource": {"group": group, "version": "v1", "resource": kind.lower() + "s"},
        "requestKind": {"group": group, "version": "v1", "kind": kind},
        "name": obj.get("metadata", {}).get("name", ""),
        "namespace": obj.get("metadata", {}).get("namespace", ""),
        "operation": op,
        "userInfo": {"username": user, "groups": list(groups)},
        "object": obj,
        "oldObject": old,
        "dryRun": False,
    }
    if sub:
        req["subResource"] = sub
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}


cases = {}


def add(name, rv, allowed, message=(), warnings=(), code=None, no_warnings=False):
    e = {"allowed": allowed, "message": list(message), "warnings": list(warnings)}
    if not allowed:
        e["code"] = code or 403
    if no_warnings:
        e["no_warnings"] = True
    rv["_expect"] = e
    cases[name] = rv


# ---------------- Order ----------------
def order(spec_over=None, status=None, meta_over=None):
    o = {
        "apiVersion": "acme.cert-manager.io/v1", "kind": "Order",
        "metadata": {"name": "site-1-2742587", "namespace": "team-a", "labels": {"app": "site"}},
        "spec": {
            "request": csr("a.example.com", ["a.example.com", "b.example.com"]),
            "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer", "group": "cert-manager.io"},
            "commonName": "a.example.com",
            "dnsNames": ["a.example.com", "b.example.com"],
        },
    }
    if spec_over:
        o["spec"].update(spec_over)
    if meta_over:
        o["metadata"].update(meta_over)
    if status is not None:
        o["status"] = status
    return o


A = "acme.cert-manager.io"
add("order_create_ok", review(A, "Order", "CREATE", order(), user=CONTROLLER), True, no_warnings=True)
add("order_create_ok_der_csr", review(A, "Order", "CREATE", order({"request": csr("a.example.com", ["a.example.com", "b.example.com"], der=True)})), True)
add("order_create_ok_cn_not_in_csr_sans", review(A, "Order", "CREATE", order({"request": csr("a.example.com", ["b.example.com"])})), True)
add("order_create_ok_ipv6_by_value", review(A, "Order", "CREATE", order({
    "request": csr(None, [], ["2001:4860::8888"]), "commonName": None, "dnsNames": None,
    "ipAddresses": ["2001:4860:0:0::8888"]})), True)
add("order_create_private_ip_warning", review(A, "Order", "CREATE", order({
    "request": csr(None, [], ["10.0.0.1"]), "commonName": None, "dnsNames": None, "ipAddresses": ["10.0.0.1"]})),
    True, warnings=["spec.ipAddresses[0]: 10.0.0.1 is a private"])
add("order_create_wildcard_overlap_warning", review(A, "Order", "CREATE", order({
    "request": csr(None, ["*.example.com", "a.example.com"]), "commonName": None,
    "dnsNames": ["*.example.com", "a.example.com"]})), True, warnings=["already covered by wildcard"])
add("order_create_dnsnames_mismatch", review(A, "Order", "CREATE", order({"dnsNames": ["a.example.com", "c.example.com"]})),
    False, ["spec.dnsNames: Invalid value: [\"a.example.com\",\"c.example.com\"]: must equal the DNS names of the CSR"])
add("order_create_ipaddresses_mismatch", review(A, "Order", "CREATE", order({"ipAddresses": ["8.8.8.8"]})),
    False, ["spec.ipAddresses: Invalid value"])
add("order_create_cn_mismatch", review(A, "Order", "CREATE", order({"commonName": "b.example.com"})),
    False, ["spec.commonName: Invalid value: \"b.example.com\": must equal the common name of the CSR"])
add("order_create_bad_csr", review(A, "Order", "CREATE", order({"request": base64.b64encode(b"not a csr").decode()})),
    False, ["spec.request: Invalid value"])
add("order_create_request_not_base64", review(A, "Order", "CREATE", order({"request": "%%%"})),
    False, ["spec.request: Invalid value: null: must be base64-encoded CSR bytes"])
add("order_create_no_request", review(A, "Order", "CREATE", order({"request": None})), False, ["spec.request: Required value"])
add("order_create_issuerref_kind", review(A, "Order", "CREATE", order({"issuerRef": {"name": "x", "kind": "Foo"}})),
    False, ["spec.issuerRef.kind: Unsupported value: \"Foo\": supported values: \"\", \"Issuer\", \"ClusterIssuer\""])
add("order_create_issuerref_group", review(A, "Order", "CREATE", order({"issuerRef": {"name": "x", "group": "example.com"}})),
    False, ["spec.issuerRef.group: Unsupported value: \"example.com\""])
add("order_create_issuerref_no_name", review(A, "Order", "CREATE", order({"issuerRef": {"kind": "Issuer"}})),
    False, ["spec.issuerRef.name: Required value"])
add("order_create_issuerref_empty_kind_group_ok", review(A, "Order", "CREATE", order({"issuerRef": {"name": "x", "kind": "", "group": ""}})), True)
add("order_create_duplicate_dnsname", review(A, "Order", "CREATE", order({
    "request": csr(None, ["a.example.com", "a.example.com"]), "commonName": None, "dnsNames": ["a.example.com", "a.example.com"]})),
    False, ["spec.dnsNames[1]: Duplicate value: \"a.example.com\""])
add("order_create_duplicate_ip_by_value", review(A, "Order", "CREATE", order({
    "request": csr(None, [], ["2001:4860::1"]), "commonName": None, "dnsNames": None,
    "ipAddresses": ["2001:4860::1", "2001:4860:0::1"]})),
    False, ["spec.ipAddresses[1]: Duplicate value: \"2001:4860:0::1\""])
add("order_create_upper_case", review(A, "Order", "CREATE", order({
    "request": csr(None, ["A.example.com"]), "commonName": None, "dnsNames": ["A.example.com"]})),
    False, ["spec.dnsNames[0]: Invalid value: \"A.example.com\": must be lower case"])
add("order_create_trailing_dot", review(A, "Order", "CREATE", order({
    "request": csr(None, ["a.example.com."]), "commonName": None, "dnsNames": ["a.example.com."]})),
    False, ["spec.dnsNames[0]: Invalid value: \"a.example.com.\": must not end with a dot"])
add("order_create_ulabel", review(A, "Order", "CREATE", order({"commonName": None, "dnsNames": ["b\u00fccher.example"]})),
    False, ["spec.dnsNames[0]: Invalid value: \"b\u00fccher.example\": must be ASCII", "xn--"])
add("order_create_wildcard_not_leftmost", review(A, "Order", "CREATE", order({
    "request": csr(None, ["a.*.example.com"]), "commonName": None, "dnsNames": ["a.*.example.com"]})),
    False, ["spec.dnsNames[0]: Invalid value: \"a.*.example.com\": a wildcard '*' is only allowed as the whole leftmost label"])
add("order_create_label_too_long", review(A, "Order", "CREATE", order({"commonName": None, "dnsNames": ["a" * 64 + ".example.com"]})),
    False, ["spec.dnsNames[0]: Invalid value", "no more than 63 characters"])
add("order_create_cn_too_long", review(A, "Order", "CREATE", order({
    "request": csr("a" * 60 + ".example.com", ["a" * 60 + ".example.com"]), "commonName": "a" * 60 + ".example.com",
    "dnsNames": ["a" * 60 + ".example.com"]})),
    False, ["spec.commonName: Too long: must have at most 64 bytes"])
add("order_create_cn_not_in_sans", review(A, "Order", "CREATE", order({"commonName": "c.example.com", "request": csr("c.example.com", ["a.example.com", "b.example.com"])})),
    False, ["spec.commonName: Invalid value: \"c.example.com\": the common name must also be one of the DNS names"])
add("order_create_no_names", review(A, "Order", "CREATE", order({"request": csr(None, []), "commonName": None, "dnsNames": None})),
    False, ["spec.dnsNames: Required value: at least one DNS name or IP address is required"])
add("order_create_bad_duration", review(A, "Order", "CREATE", order({"duration": "-1h"})),
    False, ["spec.duration: Invalid value: \"-1h\""])

STATUS = {
    "url": "https://acme.example/order/1", "finalizeURL": "https://acme.example/order/1/finalize", "state": "pending",
    "authorizations": [{
        "url": "https://acme.example/authz/1", "identifier": "a.example.com", "wildcard": False, "initialState": "pending",
        "challenges": [{"url": "https://acme.example/chall/1", "token": "tok1", "type": "http-01"},
                       {"url": "https://acme.example/chall/2", "token": "tok2", "type": "dns-01"}]}],
}


def upd(name, new, old, allowed, message=(), sub=None, user="alice"):
    add(name, review(A, new["kind"], "UPDATE", new, old, sub=sub, user=user), allowed, message)


old = order(status=copy.deepcopy(STATUS))
n = copy.deepcopy(old); n["spec"]["issuerRef"]["name"] = "evil"
upd("order_update_spec_issuerref", n, old, False, ["spec.issuerRef: Forbidden: Order spec is immutable after creation"])
n = copy.deepcopy(old); n["spec"]["dnsNames"] = ["a.example.com"]; n["spec"]["duration"] = "1h"
upd("order_update_spec_two_fields", n, old, False, ["[spec.dnsNames: Forbidden", "spec.duration: Forbidden"])
n = copy.deepcopy(old); n["spec"]["request"] = csr("a.example.com", ["a.example.com"])
upd("order_update_spec_request", n, old, False, ["spec.request: Forbidden"])
n = copy.deepcopy(old); n["metadata"]["labels"]["x"] = "y"; n["metadata"]["annotations"] = {"note": "hi"}
upd("order_update_labels_annotations", n, old, True)
n = copy.deepcopy(old); n["metadata"]["finalizers"] = ["acme.cert-manager.io/finalizer"]
upd("order_update_finalizer_added", n, old, True)
o2 = copy.deepcopy(old); o2["metadata"]["finalizers"] = ["acme.cert-manager.io/finalizer"]
n = copy.deepcopy(o2); n["metadata"]["finalizers"] = []; n["metadata"]["deletionTimestamp"] = "2026-11-29T00:00:00Z"
upd("order_update_finalizer_removed", n, o2, True)
n = copy.deepcopy(old); n["metadata"]["ownerReferences"] = [{"apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest", "name": "x", "uid": "1"}]
upd("order_update_ownerreferences", n, old, True)
n = copy.deepcopy(old); n["status"]["url"] = "https://acme.example/order/2"
upd("order_status_url_changed", n, old, False, ["status.url: Forbidden: field cannot be changed once it has been set"], sub="status")
n = copy.deepcopy(old); n["status"]["finalizeURL"] = ""
upd("order_status_finalizeurl_cleared", n, old, False, ["status.finalizeURL: Forbidden"], sub="status")
o3 = copy.deepcopy(old); o3["status"]["certificate"] = base64.b64encode(b"-----BEGIN CERTIFICATE-----").decode()
n = copy.deepcopy(o3); n["status"]["certificate"] = base64.b64encode(b"other").decode()
upd("order_status_certificate_changed", n, o3, False, ["status.certificate: Forbidden"], sub="status")
n = copy.deepcopy(old); n["status"]["certificate"] = base64.b64encode(b"cert").decode(); n["status"]["state"] = "valid"
upd("order_status_certificate_first_set", n, old, True, sub="status", user=CONTROLLER)
o4 = order(status={})
n = copy.deepcopy(o4); n["status"] = copy.deepcopy(STATUS)
upd("order_status_first_fill", n, o4, True, sub="status", user=CONTROLLER)
n = copy.deepcopy(old); n["status"]["state"] = "invalid"; n["status"]["reason"] = "failed"; n["status"]["failureTime"] = "2026-11-29T00:00:00Z"
upd("order_status_state_reason_free", n, old, True, sub="status")
n = copy.deepcopy(old); n["status"]["authorizations"].append({"url": "https://acme.example/authz/2"})
upd("order_status_authorizations_length", n, old, False, ["status.authorizations: Forbidden"], sub="status")
n = copy.deepcopy(old); n["status"]["authorizations"] = []
upd("order_status_authorizations_cleared", n, old, False, ["status.authorizations: Forbidden"], sub="status")
n = copy.deepcopy(old); n["status"]["authorizations"][0]["identifier"] = "evil.example.com"
upd("order_status_authz_identifier", n, old, False, ["status.authorizations[0].identifier: Forbidden"], sub="status")
n = copy.deepcopy(old); n["status"]["authorizations"][0]["url"] = "https://x"
upd("order_status_authz_url", n, old, False, ["status.authorizations[0].url: Forbidden"], sub="status")
n = copy.deepcopy(old); n["status"]["authorizations"][0]["wildcard"] = True
upd("order_status_authz_wildcard", n, old, False, ["status.authorizations[0].wildcard: Forbidden"], sub="status")
n = copy.deepcopy(old); del n["status"]["authorizations"][0]["wildcard"]
upd("order_status_authz_wildcard_removed", n, old, False, ["status.authorizations[0].wildcard: Forbidden"], sub="status")
n = copy.deepcopy(old); n["status"]["authorizations"][0]["initialState"] = "valid"
upd("order_status_authz_initialstate", n, old, False, ["status.authorizations[0].initialState: Forbidden"], sub="status")
n = copy.deepcopy(old); n["status"]["authorizations"][0]["challenges"][1]["token"] = "tokX"
upd("order_status_challenge_token", n, old, False, ["status.authorizations[0].challenges[1].token: Forbidden"], sub="status")
n = copy.deepcopy(old); n["status"]["authorizations"][0]["challenges"][0]["type"] = "tls-alpn-01"
upd("order_status_challenge_type", n, old, False, ["status.authorizations[0].challenges[0].type: Forbidden"], sub="status")
n = copy.deepcopy(old); n["status"]["authorizations"][0]["challenges"].pop()
upd("order_status_challenges_length", n, old, False, ["status.authorizations[0].challenges: Forbidden"], sub="status")
upd("order_update_without_old_object", copy.deepcopy(old), None, True)
add("order_delete_allowed", review(A, "Order", "DELETE", old), True)

# ---------------- Challenge ----------------
def challenge(status=None):
    c = {
        "apiVersion": "acme.cert-manager.io/v1", "kind": "Challenge",
        "metadata": {"name": "site-1-2742587-1", "namespace": "team-a"},
        "spec": {
            "url": "https://acme.example/chall/1", "authorizationURL": "https://acme.example/authz/1",
            "dnsName": "a.example.com", "wildcard": False, "type": "HTTP-01", "token": "tok1",
            "key": "tok1.thumb", "solver": {"http01": {"ingress": {"ingressClassName": "nginx"}}},
            "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer", "group": "cert-manager.io"},
        },
    }
    if status is not None:
        c["status"] = status
    return c


add("challenge_create_by_user", review(A, "Challenge", "CREATE", challenge(), user="alice", groups=["system:masters"]),
    False, ["metadata: Forbidden: Challenges are created by the kacme controller only; user \"alice\""])
add("challenge_create_by_controller", review(A, "Challenge", "CREATE", challenge(), user=CONTROLLER,
    groups=["system:serviceaccounts", "system:serviceaccounts:kacme"]), True)
add("challenge_create_by_group", review(A, "Challenge", "CREATE", challenge(), user="robot",
    groups=["kacme:controllers"]), True)
add("challenge_create_no_userinfo", review(A, "Challenge", "CREATE", challenge(), user="", groups=[]), False, ["metadata: Forbidden"])
oc = challenge(status={"processing": True, "presented": False, "state": "pending"})
n = copy.deepcopy(oc); n["spec"]["solver"] = {"dns01": {"webhook": {"groupName": "x", "solverName": "y"}}}
upd("challenge_update_spec_solver", n, oc, False, ["spec.solver: Forbidden: Challenge spec is immutable after creation"])
n = copy.deepcopy(oc); n["spec"]["key"] = "other"
upd("challenge_update_spec_key", n, oc, False, ["spec.key: Forbidden"], user=CONTROLLER)
n = copy.deepcopy(oc); del n["spec"]["wildcard"]
upd("challenge_update_spec_field_removed", n, oc, False, ["spec.wildcard: Forbidden"])
n = copy.deepcopy(oc); n["status"] = {"processing": False, "presented": True, "state": "valid", "reason": "ok", "presentedAt": "2026-11-29T00:00:00Z"}
upd("challenge_update_status", n, oc, True, sub="status", user=CONTROLLER)
n = copy.deepcopy(oc); n["metadata"]["finalizers"] = []; n["metadata"]["labels"] = {"a": "b"}
upd("challenge_update_metadata", n, oc, True)

# ---------------- CertificateRequest ----------------
C = "cert-manager.io"


def cr(req=None, spec_over=None, status=None):
    o = {"apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest",
         "metadata": {"name": "site-1", "namespace": "team-a"},
         "spec": {"request": req or csr("a.example.com", ["a.example.com", "b.example.com"]),
                  "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"},
                  "usages": ["digital signature", "key encipherment", "server auth"], "duration": "2160h"}}
    if spec_over:
        o["spec"].update(spec_over)
    if status is not None:
        o["status"] = status
    return o


add("cr_create_ok", review(C, "CertificateRequest", "CREATE", cr()), True, no_warnings=True)
add("cr_create_ok_ip", review(C, "CertificateRequest", "CREATE", cr(csr(None, [], ["8.8.8.8"]))), True, no_warnings=True)
add("cr_create_bad_csr", review(C, "CertificateRequest", "CREATE", cr(base64.b64encode(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n").decode())),
    False, ["spec.request: Invalid value"])
add("cr_create_no_request", review(C, "CertificateRequest", "CREATE", cr(spec_over={"request": ""})), False, ["spec.request: Required value"])
add("cr_create_no_issuer", review(C, "CertificateRequest", "CREATE", cr(spec_over={"issuerRef": {}})), False, ["spec.issuerRef.name: Required value"])
add("cr_create_bad_usage", review(C, "CertificateRequest", "CREATE", cr(spec_over={"usages": ["server auth", "flying"]})),
    False, ["spec.usages[1]: Unsupported value: \"flying\""])
add("cr_create_bad_duration", review(C, "CertificateRequest", "CREATE", cr(spec_over={"duration": "soon"})), False, ["spec.duration: Invalid value: \"soon\""])
add("cr_create_duplicate", review(C, "CertificateRequest", "CREATE", cr(csr(None, ["example.com", "a.example.com", "example.com"]))),
    False, ["spec.request.dnsNames[2]: Duplicate value: \"example.com\""])
add("cr_create_duplicate_ip", review(C, "CertificateRequest", "CREATE", cr(csr(None, [], ["8.8.8.8", "8.8.8.8"]))),
    False, ["spec.request.ipAddresses[1]: Duplicate value: \"8.8.8.8\""])
add("cr_create_cn_too_long", review(C, "CertificateRequest", "CREATE", cr(csr("a" * 65, ["example.com"]))),
    False, ["spec.request.commonName: Too long: must have at most 64 bytes"])
add("cr_create_cn_not_san", review(C, "CertificateRequest", "CREATE", cr(csr("c.example.com", ["a.example.com"]))),
    False, ["spec.request.commonName: Invalid value: \"c.example.com\""])
add("cr_create_wildcard_middle", review(C, "CertificateRequest", "CREATE", cr(csr(None, ["a.*.example.com"]))),
    False, ["spec.request.dnsNames[0]: Invalid value: \"a.*.example.com\""])
add("cr_create_trailing_dot", review(C, "CertificateRequest", "CREATE", cr(csr(None, ["example.com."]))), False, ["must not end with a dot"])
add("cr_create_total_too_long", review(C, "CertificateRequest", "CREATE", cr(csr(None, [".".join(["a" * 60] * 4) + ".example.com"]))),
    False, ["must be no more than 253 characters"])
add("cr_create_no_names", review(C, "CertificateRequest", "CREATE", cr(csr(None, []))), False, ["spec.request: Required value: at least one DNS name"])
add("cr_create_private_ip_warning", review(C, "CertificateRequest", "CREATE", cr(csr(None, [], ["192.168.1.1"]))),
    True, warnings=["spec.request.ipAddresses[0]: 192.168.1.1 is a private"])
add("cr_create_wildcard_overlap_warning", review(C, "CertificateRequest", "CREATE", cr(csr(None, ["*.example.com", "www.example.com", "example.com"]))),
    True, warnings=["\"www.example.com\" is already covered by wildcard \"*.example.com\""])
ocr = cr(status={"conditions": [{"type": "Approved", "status": "True", "reason": "policy"}]})
n = copy.deepcopy(ocr); n["spec"]["issuerRef"]["name"] = "other"
add("cr_update_spec", review(C, "CertificateRequest", "UPDATE", n, ocr), False, ["spec.issuerRef: Forbidden"])
n = copy.deepcopy(ocr); n["status"]["conditions"] = []
add("cr_update_approved_removed", review(C, "CertificateRequest", "UPDATE", n, ocr, sub="status"), False, ["status.conditions: Forbidden: the Approved condition"])
n = copy.deepcopy(ocr); n["status"]["conditions"].append({"type": "Denied", "status": "True"})
add("cr_update_approved_and_denied", review(C, "CertificateRequest", "UPDATE", n, ocr, sub="status"), False, ["both Approved and Denied"])
n = copy.deepcopy(ocr); n["status"]["conditions"].append({"type": "Ready", "status": "True"}); n["status"]["certificate"] = "eA=="
add("cr_update_status_ready", review(C, "CertificateRequest", "UPDATE", n, ocr, sub="status"), True)

# ---------------- Issuer / ClusterIssuer ----------------
CA_PEM = None


def issuer(acme_over=None, kind="Issuer", spec=None):
    o = {"apiVersion": "cert-manager.io/v1", "kind": kind, "metadata": {"name": "le"},
         "spec": spec if spec is not None else {"acme": {
             "server": "https://acme-v02.api.letsencrypt.org/directory", "email": "ops@example.com",
             "privateKeySecretRef": {"name": "le-account"},
             "solvers": [
                 {"http01": {"ingress": {"ingressClassName": "nginx", "serviceType": "ClusterIP",
                                         "podTemplate": {"spec": {"nodeSelector": {"a": "b"}}}}},
                  "selector": {"dnsZones": ["example.com"]}},
                 {"http01": {"gatewayHTTPRoute": {"parentRefs": [{"name": "gw", "kind": "Gateway", "namespace": "gw"}]}}},
                 {"dns01": {"cnameStrategy": "Follow", "rfc2136": {"nameserver": "[2001:db8::53]:5353", "tsigKeyName": "k",
                            "tsigAlgorithm": "hmacsha256", "tsigSecretSecretRef": {"name": "tsig", "key": "secret"}}}},
                 {"dns01": {"webhook": {"groupName": "acme.example.com", "solverName": "mydns", "config": {"any": ["thing"]}}}},
                 {"dns01": {"cloudflare": {"apiTokenSecretRef": {"name": "cf", "key": "token"}}}, "waitInsteadOfSelfCheck": "30s"},
             ]}}}
    if acme_over:
        o["spec"]["acme"].update(acme_over)
    return o


def iss(name, obj, allowed, message=(), warnings=(), op="CREATE", no_warnings=False):
    add(name, review(C, obj["kind"], op, obj, copy.deepcopy(obj) if op == "UPDATE" else None), allowed, message, warnings,
        no_warnings=no_warnings)


def solver(s):
    return issuer({"solvers": [s]})


# every solver type: the ones kacme does not implement yet are allowed, with a warning each
UNIMPLEMENTED = ["spec.acme.solvers[1].http01.gatewayHTTPRoute: kacme does not implement Gateway API",
                 "spec.acme.solvers[4].dns01.cloudflare: kacme does not implement the cloudflare DNS-01 provider"]
iss("issuer_ok", issuer(), True, warnings=UNIMPLEMENTED)
iss("clusterissuer_ok", issuer(kind="ClusterIssuer"), True, warnings=UNIMPLEMENTED)
iss("issuer_implemented_solvers_ok",
    issuer({"solvers": [s for s in issuer()["spec"]["acme"]["solvers"]
                        if "ingress" in s.get("http01", {}) or {"rfc2136", "webhook"} & set(s.get("dns01", {}))]}),
    True, no_warnings=True)
iss("issuer_update_ok", issuer(), True, op="UPDATE")
iss("issuer_no_type", issuer(spec={}), False, ["spec: Required value: at least one issuer must be configured"])
iss("issuer_two_types", issuer(spec={"selfSigned": {}, "ca": {"secretName": "x"}}), False, ["spec.selfSigned: Forbidden: may not specify more than one issuer type"])
iss("issuer_ca_ok", issuer(spec={"ca": {"secretName": "x"}}), True)
iss("issuer_acme_missing_fields", issuer(spec={"acme": {}}), False,
    ["spec.acme.privateKeySecretRef.name: Required value", "spec.acme.server: Required value"])
iss("issuer_cabundle_and_skip", issuer({"caBundle": "eA==", "skipTLSVerify": True}), False,
    ["spec.acme.caBundle: Invalid value: \"<4 bytes of base64>\": caBundle and skipTLSVerify are mutually exclusive",
     "spec.acme.skipTLSVerify: Invalid value: true"])
iss("issuer_cabundle_not_pem", issuer({"caBundle": base64.b64encode(b"garbage").decode()}), False,
    ["spec.acme.caBundle: Invalid value: \"<12 bytes of base64>\": must contain at least one valid PEM-encoded certificate"])
iss("issuer_eab_missing", issuer({"externalAccountBinding": {"keySecretRef": {"name": "eab"}}}), False,
    ["spec.acme.externalAccountBinding.keyID: Required value", "spec.acme.externalAccountBinding.keySecretRef.key: Required value"])
iss("issuer_eab_keyalgorithm_warning", issuer({"externalAccountBinding": {"keyID": "k", "keySecretRef": {"name": "eab", "key": "k"}, "keyAlgorithm": "HS256"}}),
    True, warnings=["keyAlgorithm field is deprecated"])
iss("issuer_http_server_warning", issuer({"server": "http://pebble:14000/dir"}), True, warnings=["not an https URL"])
iss("issuer_server_not_url", issuer({"server": "acme.example"}), False, ["spec.acme.server: Invalid value: \"acme.example\""])
iss("issuer_acme_v1", issuer({"server": "https://acme-v01.api.letsencrypt.org/directory"}), False, ["ACME v1 is gone"])
iss("issuer_bad_email", issuer({"email": "ops at example.com"}), False, ["spec.acme.email: Invalid value: \"ops at example.com\""])
iss("issuer_preferred_chain_too_long", issuer({"preferredChain": "x" * 65}), False, ["spec.acme.preferredChain: Too long"])
iss("issuer_solver_none", solver({}), False, ["spec.acme.solvers[0]: Required value: no solver type configured"])
iss("issuer_solver_both", solver({"http01": {"ingress": {}}, "dns01": {"webhook": {"groupName": "g", "solverName": "s"}}}), False,
    ["spec.acme.solvers[0].dns01: Forbidden: may not specify more than one solver type"])
iss("issuer_http01_empty", solver({"http01": {}}), False, ["spec.acme.solvers[0].http01: Required value"])
iss("issuer_http01_ingress_and_gateway", solver({"http01": {"ingress": {}, "gatewayHTTPRoute": {}}}), False,
    ["spec.acme.solvers[0].http01.gateway: Forbidden"])
iss("issuer_http01_class_and_name", solver({"http01": {"ingress": {"class": "nginx", "name": "web"}}}), False,
    ["spec.acme.solvers[0].http01.ingress: Forbidden: only one of 'ingressClassName', 'name' or 'class' should be specified"])
iss("issuer_http01_bad_ingressclassname", solver({"http01": {"ingress": {"ingressClassName": "Nginx_Class"}}}), False,
    ["spec.acme.solvers[0].http01.ingress.ingressClassName: Invalid value: \"Nginx_Class\""])
iss("issuer_http01_bad_servicetype", solver({"http01": {"ingress": {"serviceType": "LoadBalancer"}}}), False,
    ["spec.acme.solvers[0].http01.ingress.serviceType: Unsupported value: \"LoadBalancer\""])
iss("issuer_gateway_parentref_kind_without_name", solver({"http01": {"gatewayHTTPRoute": {"parentRefs": [{"kind": "Gateway"}]}}}), False,
    ["spec.acme.solvers[0].http01.gateway.parentRefs[0].name: Required value"])
iss("issuer_gateway_bad_servicetype", solver({"http01": {"gatewayHTTPRoute": {"serviceType": "X"}}}), False,
    ["spec.acme.solvers[0].http01.gateway.serviceType: Unsupported value: \"X\""])
iss("issuer_wait_negative", solver({"http01": {"ingress": {}}, "waitInsteadOfSelfCheck": "-5s"}), False,
    ["spec.acme.solvers[0].waitInsteadOfSelfCheck: Invalid value: \"-5s\""])
iss("issuer_selector_bad_name_warning", solver({"http01": {"ingress": {}}, "selector": {"dnsNames": ["Example.com"]}}), True,
    warnings=["spec.acme.solvers[0].selector.dnsNames[0]"])
iss("issuer_dns01_no_provider", solver({"dns01": {}}), False, ["spec.acme.solvers[0].dns01: Required value: no DNS01 provider specified"])
iss("issuer_dns01_two_providers", solver({"dns01": {"webhook": {"groupName": "g", "solverName": "s"}, "rfc2136": {"nameserver": "1.2.3.4"}}}), False,
    ["spec.acme.solvers[0].dns01.webhook: Forbidden: may not specify more than one provider type"])
iss("issuer_dns01_bad_cnamestrategy", solver({"dns01": {"cnameStrategy": "Chase", "webhook": {"groupName": "g", "solverName": "s"}}}), False,
    ["spec.acme.solvers[0].dns01.cnameStrategy: Unsupported value: \"Chase\""])
iss("issuer_dns01_bad_nameservers", solver({"dns01": {"nameservers": ["1.1.1.1:53", "8.8.8.8", "https://dns.example/dns-query", "http://x"],
                                                   "webhook": {"groupName": "g", "solverName": "s"}}}), False,
    ["spec.acme.solvers[0].dns01.nameservers[1]: Invalid value: \"8.8.8.8\"", "spec.acme.solvers[0].dns01.nameservers[3]"])
iss("issuer_rfc2136_missing_nameserver", solver({"dns01": {"rfc2136": {}}}), False, ["spec.acme.solvers[0].dns01.rfc2136.nameserver: Required value"])
iss("issuer_rfc2136_bad_nameserver", solver({"dns01": {"rfc2136": {"nameserver": "2001:db8::53"}}}), False,
    ["spec.acme.solvers[0].dns01.rfc2136.nameserver: Invalid value: \"2001:db8::53\""])
iss("issuer_rfc2136_bad_port", solver({"dns01": {"rfc2136": {"nameserver": "ns.example.com:99999"}}}), False, ["rfc2136.nameserver: Invalid value"])
iss("issuer_rfc2136_bad_algorithm", solver({"dns01": {"rfc2136": {"nameserver": "ns.example.com", "tsigAlgorithm": "HMACSHA3"}}}), False,
    ["spec.acme.solvers[0].dns01.rfc2136.tsigAlgorithm: Unsupported value: \"HMACSHA3\""])
iss("issuer_rfc2136_keyname_without_secret", solver({"dns01": {"rfc2136": {"nameserver": "ns.example.com", "tsigKeyName": "k"}}}), False,
    ["spec.acme.solvers[0].dns01.rfc2136.tsigSecretSecretRef.name: Required value", "tsigSecretSecretRef.key: Required value"])
iss("issuer_rfc2136_secret_without_keyname", solver({"dns01": {"rfc2136": {"nameserver": "ns.example.com", "tsigSecretSecretRef": {"name": "a", "key": "b"}}}}), False,
    ["spec.acme.solvers[0].dns01.rfc2136.tsigKeyName: Required value"])
iss("issuer_webhook_missing", solver({"dns01": {"webhook": {"config": {}}}}), False,
    ["spec.acme.solvers[0].dns01.webhook.solverName: Required value", "spec.acme.solvers[0].dns01.webhook.groupName: Required value"])
iss("issuer_cloudflare_both", solver({"dns01": {"cloudflare": {"apiKeySecretRef": {"name": "a", "key": "b"}, "apiTokenSecretRef": {"name": "a", "key": "b"}}}}), False,
    ["apiKeySecretRef and apiTokenSecretRef cannot both be specified", "cloudflare.email: Required value"])
iss("issuer_route53_both_keys", solver({"dns01": {"route53": {"accessKeyID": "AK", "accessKeyIDSecretRef": {"name": "a", "key": "b"}}}}), False,
    ["route53.accessKeyIDSecretRef: Forbidden"])
iss("issuer_azure_partial", solver({"dns01": {"azureDNS": {"clientID": "c", "environment": "Mars"}}}), False,
    ["azureDNS: Required value: clientID, clientSecretSecretRef and tenantID", "azureDNS.subscriptionID: Required value",
     "azureDNS.resourceGroupName: Required value", "azureDNS.environment: Unsupported value: \"Mars\""])
iss("issuer_akamai_missing", solver({"dns01": {"akamai": {}}}), False, ["akamai.serviceConsumerDomain: Required value", "akamai.accessTokenSecretRef.name: Required value"])
iss("issuer_clouddns_missing_project", solver({"dns01": {"cloudDNS": {}}}), False, ["cloudDNS.project: Required value"])
iss("issuer_acmedns_missing", solver({"dns01": {"acmeDNS": {}}}), False, ["acmeDNS.accountSecretRef.name: Required value", "acmeDNS.host: Required value"])
iss("issuer_digitalocean_missing", solver({"dns01": {"digitalocean": {}}}), False, ["digitalocean.tokenSecretRef.name: Required value"])

# ---------------- routing ----------------
add("unknown_kind_allowed", review("apps", "Deployment", "CREATE", {"kind": "Deployment", "metadata": {"name": "x"}}), True)
rv = review(A, "Order", "CREATE", order({"dnsNames": ["x.example.com"]})); rv["apiVersion"] = "admission.k8s.io/v1beta1"
add("v1beta1_echoed", rv, False, ["spec.dnsNames: Invalid value"])
rv = review(A, "Order", "CREATE", challenge())
add("object_kind_mismatch", rv, False, ["request.object kind does not match request.kind"], code=400)
rv = review(A, "Order", "CREATE", order()); rv["request"]["object"] = None
add("object_missing", rv, False, ["request.object is missing"], code=400)

if __name__ == "__main__":
    for f in os.listdir(OUT):
        if f.endswith(".json"):
            os.remove(os.path.join(OUT, f))
    for name, rv in sorted(cases.items()):
        with open(os.path.join(OUT, name + ".json"), "w") as fh:
            json.dump(rv, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
    print(len(cases), "fixtures")
