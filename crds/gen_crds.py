#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Generates the kacme CRDs (one YAML file per CRD) from the schema below. Run after editing; the YAML
output is committed and is what gets applied. Field names, enums, printer columns and categories follow
cert-manager's v1 API (docs/spec: cert-manager-behaviour.md §1, kacme-decisions.md).

Deep Kubernetes core types inside solver pod templates (affinity, tolerations items) are kept as
objects with x-kubernetes-preserve-unknown-fields instead of fully typed schemas; the apiserver and the
solver validate them when a Pod is built. Issuer types other than ACME/CA/SelfSigned (vault, venafi) are
likewise preserved unknown fields: kacme only implements the ACME issuer.
"""
import os
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


def s(desc, **kw):
    return {"description": desc, "type": "string", **kw}


def b(desc):
    return {"description": desc, "type": "boolean"}


def i64(desc):
    return {"description": desc, "type": "integer", "format": "int64"}


def strlist(desc):
    return {"description": desc, "type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "atomic"}


def smap(desc):
    return {"description": desc, "type": "object", "additionalProperties": {"type": "string"}}


def obj(desc, props, required=None, **kw):
    o = {"description": desc, "type": "object", "properties": props}
    if required:
        o["required"] = required
    o.update(kw)
    return o


def preserved(desc):
    return {"description": desc, "type": "object", "x-kubernetes-preserve-unknown-fields": True}


STATE = s("ACME state of the resource (RFC 8555 §7.1.6). Empty means not yet known. kacme records the "
          "authorization states `revoked` and `deactivated` verbatim; they are final failure states.",
          enum=["valid", "ready", "pending", "processing", "invalid", "expired", "errored", "revoked", "deactivated"])


def issuer_ref(what):
    return obj(f"Reference to the Issuer or ClusterIssuer that {what}. An empty kind means Issuer (namespaced, "
               "in the resource's namespace); an empty group means cert-manager.io.", {
        "name": s("Name of the issuer being referred to."),
        "kind": s("Kind of the issuer being referred to: `Issuer` (default) or `ClusterIssuer`."),
        "group": s("Group of the issuer being referred to (default `cert-manager.io`)."),
    }, ["name"])


def secret_key_ref(desc):
    return obj(desc, {
        "name": s("Name of the Secret in the issuer's namespace (the cluster resource namespace for a ClusterIssuer)."),
        "key": s("Key of the entry in the Secret's `data` field. Some fields have a default; others require it."),
    }, ["name"])


def local_ref(desc):
    return obj(desc, {"name": s("Name of the resource being referred to.")}, ["name"])


OBJECT_META = obj("Labels and annotations added to the created resource.", {
    "labels": smap("Labels added to the created resource."),
    "annotations": smap("Annotations added to the created resource."),
})

QUANTITIES = {"description": "", "type": "object", "additionalProperties": {
    "anyOf": [{"type": "integer"}, {"type": "string"}],
    "pattern": r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$",
    "x-kubernetes-int-or-string": True}}

POD_TEMPLATE = obj("Optional pod template used to configure the ACME challenge solver pods used for HTTP01 "
                   "challenges. Only the listed fields are honoured.", {
    "metadata": obj("ObjectMeta overrides for the solver pod. Only `labels` and `annotations` are used.", {
        "labels": smap("Labels added to the solver pod."),
        "annotations": smap("Annotations added to the solver pod."),
    }),
    "spec": obj("PodSpec overrides for the solver pod. Only the listed fields are used.", {
        "nodeSelector": smap("A selector which must be true for the pod to fit on a node."),
        "affinity": preserved("If specified, the pod's scheduling constraints (core/v1 Affinity; not deeply "
                              "validated here)."),
        "tolerations": {"description": "If specified, the pod's tolerations (core/v1 Toleration items; not "
                                       "deeply validated here).", "type": "array",
                        "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        "priorityClassName": s("If specified, the pod's priorityClassName."),
        "serviceAccountName": s("If specified, the pod's service account."),
        "imagePullSecrets": {"description": "If specified, the pod's imagePullSecrets.", "type": "array",
                             "items": obj("Reference to a Secret in the same namespace.",
                                          {"name": s("Name of the Secret.", default="")}, ["name"]),
                             "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
        "securityContext": obj("If specified, the pod's security context (a subset of PodSecurityContext).", {
            "seLinuxOptions": obj("SELinux context applied to all containers.", {
                "level": s("SELinux level label."), "role": s("SELinux role label."),
                "type": s("SELinux type label."), "user": s("SELinux user label.")}),
            "runAsUser": i64("UID to run the entrypoint of the container process."),
            "runAsGroup": i64("GID to run the entrypoint of the container process."),
            "runAsNonRoot": b("Indicates that the container must run as a non-root user."),
            "supplementalGroups": {"description": "Groups applied to the first process run in each container.",
                                   "type": "array", "items": {"type": "integer", "format": "int64"},
                                   "x-kubernetes-list-type": "atomic"},
            "fsGroup": i64("A special supplemental group that applies to all containers in a pod."),
            "sysctls": {"description": "Namespaced sysctls used for the pod.", "type": "array",
                        "items": obj("A kernel parameter to be set.", {"name": s("Name of a property to set."),
                                                                        "value": s("Value of a property to set.")},
                                     ["name", "value"]), "x-kubernetes-list-type": "atomic"},
            "fsGroupChangePolicy": s("How ownership and permission of a volume are changed: `OnRootMismatch` or "
                                     "`Always`."),
            "seccompProfile": obj("The seccomp options used by the containers in this pod.", {
                "type": s("Kind of seccomp profile: `Localhost`, `RuntimeDefault` or `Unconfined`."),
                "localhostProfile": s("Profile defined in a file on the node (type Localhost only).")}, ["type"]),
        }),
        "resources": obj("Compute resources required by the solver container. Defaults come from the "
                         "controller flags when empty.", {
            "limits": {**QUANTITIES, "description": "Maximum amount of compute resources allowed."},
            "requests": {**QUANTITIES, "description": "Minimum amount of compute resources required."},
        }),
    }),
})

SERVICE_TYPE = s("Type of the Service created to route traffic to the solver pod: `ClusterIP` or `NodePort` "
                 "(default NodePort).")

HTTP01 = obj("Configures cert-manager to attempt to complete authorizations by performing the HTTP01 challenge "
             "flow. It is not possible to obtain certificates for wildcard domain names (e.g. `*.example.com`) "
             "using HTTP01. Exactly one of `ingress` or `gatewayHTTPRoute` must be set.", {
    "ingress": obj("Solves the challenge by creating or editing an Ingress that routes the challenge path to a "
                   "solver pod. At most one of `class`, `ingressClassName` and `name` may be set.", {
        "serviceType": SERVICE_TYPE,
        "ingressClassName": s("The IngressClass to use when creating Ingress resources to solve ACME challenges "
                              "(sets spec.ingressClassName)."),
        "class": s("The ingress class to use, set as the legacy `kubernetes.io/ingress.class` annotation."),
        "name": s("Name of an existing Ingress to edit in place to add the challenge path (for ingress "
                  "controllers that assign one IP per Ingress)."),
        "podTemplate": POD_TEMPLATE,
        "ingressTemplate": obj("Optional template for the Ingress created to solve the challenge. Only "
                               "metadata.labels and metadata.annotations are used.", {"metadata": OBJECT_META}),
    }),
    "gatewayHTTPRoute": obj("Solves the challenge by creating a Gateway API HTTPRoute attached to the given "
                            "parent Gateways.", {
        "serviceType": SERVICE_TYPE,
        "labels": smap("Custom labels that will be applied to the HTTPRoutes created by the solver."),
        "parentRefs": {"description": "The Gateways (gateway.networking.k8s.io/v1 ParentReference) the HTTPRoute "
                                      "attaches to.", "type": "array", "x-kubernetes-list-type": "atomic",
                       "items": obj("Reference to a parent (usually a Gateway).", {
                           "group": s("Group of the referent (default gateway.networking.k8s.io)."),
                           "kind": s("Kind of the referent (default Gateway)."),
                           "namespace": s("Namespace of the referent (default: the route's namespace)."),
                           "name": s("Name of the referent."),
                           "sectionName": s("Name of a section (listener) within the target resource."),
                           "port": {"description": "Network port targeted by this ParentRef.", "type": "integer",
                                    "format": "int32", "minimum": 1, "maximum": 65535},
                       }, ["name"])},
        "podTemplate": POD_TEMPLATE,
    }),
})

DNS01 = obj("Configures cert-manager to attempt to complete authorizations by performing the DNS01 challenge "
            "flow (a TXT record at `_acme-challenge.<domain>`). Exactly one provider must be set.", {
    "cnameStrategy": s("How CNAME records are handled when looking up the zone: `None` (default) or `Follow` "
                       "(follow CNAMEs to delegate the challenge record to another zone).", enum=["None", "Follow"]),
    "nameservers": strlist("Recursive nameservers used for the propagation self-check of this solver, as "
                           "`host:port` or `https://` DNS-over-HTTPS URLs. Overrides the controller flag."),
    "akamai": obj("Use the Akamai DNS zone management API to manage DNS01 challenge records.", {
        "serviceConsumerDomain": s("Akamai service consumer domain."),
        "clientTokenSecretRef": secret_key_ref("Secret holding the Akamai client token."),
        "clientSecretSecretRef": secret_key_ref("Secret holding the Akamai client secret."),
        "accessTokenSecretRef": secret_key_ref("Secret holding the Akamai access token."),
    }, ["accessTokenSecretRef", "clientSecretSecretRef", "clientTokenSecretRef", "serviceConsumerDomain"]),
    "cloudDNS": obj("Use the Google Cloud DNS API to manage DNS01 challenge records.", {
        "project": s("Google Cloud project."),
        "hostedZoneName": s("Optional managed zone name; when empty it is discovered."),
        "serviceAccountSecretRef": secret_key_ref("Secret holding a service account key (JSON); ambient "
                                                  "credentials are used when empty."),
    }, ["project"]),
    "cloudflare": obj("Use the Cloudflare API to manage DNS01 challenge records. Exactly one of apiKeySecretRef "
                      "and apiTokenSecretRef.", {
        "email": s("Email of the account, only required when using API key based authentication."),
        "apiKeySecretRef": secret_key_ref("Secret holding a global API key (legacy)."),
        "apiTokenSecretRef": secret_key_ref("Secret holding a scoped API token."),
    }),
    "route53": obj("Use the AWS Route53 API to manage DNS01 challenge records.", {
        "accessKeyID": s("The AccessKeyID used for authentication (or accessKeyIDSecretRef; not both)."),
        "accessKeyIDSecretRef": secret_key_ref("Secret holding the AccessKeyID."),
        "secretAccessKeySecretRef": secret_key_ref("Secret holding the SecretAccessKey."),
        "role": s("Role ARN to assume, with the given or ambient credentials."),
        "hostedZoneID": s("Hosted zone to use; when empty it is discovered."),
        "region": s("AWS region to use."),
        "auth": obj("Authentication with a Kubernetes ServiceAccount token (IRSA / web identity).", {
            "kubernetes": obj("Kubernetes ServiceAccount token projection.", {
                "serviceAccountRef": obj("The ServiceAccount whose token is used.", {
                    "name": s("Name of the ServiceAccount."),
                    "audiences": strlist("Audiences of the token (default sts.amazonaws.com)."),
                }, ["name"]),
            }, ["serviceAccountRef"]),
        }, ["kubernetes"]),
    }),
    "azureDNS": obj("Use the Microsoft Azure DNS API to manage DNS01 challenge records.", {
        "clientID": s("Service principal client ID (with clientSecretSecretRef and tenantID), not with "
                      "managedIdentity."),
        "clientSecretSecretRef": secret_key_ref("Secret holding the service principal client secret."),
        "tenantID": s("Service principal tenant ID."),
        "subscriptionID": s("ID of the Azure subscription."),
        "resourceGroupName": s("Resource group that contains the DNS zone."),
        "hostedZoneName": s("Name of the DNS zone to use."),
        "environment": s("Azure cloud environment.", enum=["AzurePublicCloud", "AzureChinaCloud",
                                                           "AzureGermanCloud", "AzureUSGovernmentCloud"]),
        "managedIdentity": obj("Managed identity configuration (not with a service principal).", {
            "clientID": s("Client ID of the managed identity (not with resourceID)."),
            "resourceID": s("Resource ID of the managed identity (not with clientID or tenantID)."),
            "tenantID": s("Tenant ID of the managed identity (needs clientID)."),
        }),
    }, ["resourceGroupName", "subscriptionID"]),
    "digitalocean": obj("Use the DigitalOcean DNS API to manage DNS01 challenge records.", {
        "tokenSecretRef": secret_key_ref("Secret holding the API token."),
    }, ["tokenSecretRef"]),
    "acmeDNS": obj("Use the 'ACME DNS' (https://github.com/joohoi/acme-dns) API to manage DNS01 challenge "
                   "records.", {
        "host": s("URL of the acme-dns server."),
        "accountSecretRef": secret_key_ref("Secret holding the acme-dns account JSON."),
    }, ["accountSecretRef", "host"]),
    "rfc2136": obj("Use RFC 2136 (\"Dynamic Updates in the Domain Name System\") to manage DNS01 challenge "
                   "records, optionally signed with TSIG (RFC 8945).", {
        "nameserver": s("The IP address or hostname of an authoritative DNS server supporting RFC 2136, as "
                        "`host[:port]` (IPv6 in brackets; port defaults to 53)."),
        "tsigKeyName": s("The TSIG key name configured in the DNS server. Requires tsigSecretSecretRef."),
        "tsigAlgorithm": s("The TSIG algorithm configured in the DNS server: HMACMD5 (default), HMACSHA1, "
                           "HMACSHA256 or HMACSHA512 (case-insensitive)."),
        "tsigSecretSecretRef": secret_key_ref("Secret holding the base64 TSIG secret. Requires tsigKeyName."),
        "protocol": s("Transport used for updates: `TCP` or `UDP` (default UDP).", enum=["TCP", "UDP"]),
    }, ["nameserver"]),
    "webhook": obj("Configure an external webhook based DNS01 challenge solver to manage DNS01 challenge "
                   "records (API group `<groupName>`, version v1alpha1).", {
        "groupName": s("The API group name that should be used when POSTing ChallengePayload resources to the "
                       "webhook apiserver."),
        "solverName": s("The name of the solver to use, as defined in the webhook provider implementation."),
        "config": {"description": "Additional configuration that is passed through to the webhook apiserver "
                                  "unchanged; its shape is defined by the webhook provider.",
                   "x-kubernetes-preserve-unknown-fields": True},
    }, ["groupName", "solverName"]),
})

SOLVER = obj("An ACME challenge solver: how to solve the challenges for the names its selector matches. Exactly "
             "one of `http01` and `dns01` must be set.", {
    "selector": obj("Selector selects a set of DNSNames on the Certificate resource that should be solved using "
                    "this challenge solver. If not specified, the solver is treated as the 'default' solver with "
                    "the lowest priority.", {
        "matchLabels": smap("Labels the Certificate (or Order) must carry for this solver to be selected."),
        "dnsNames": strlist("Exact DNS names this solver applies to; takes precedence over dnsZones."),
        "dnsZones": strlist("DNS zones this solver applies to (the name itself and all subdomains); the most "
                            "specific zone wins."),
    }),
    "http01": HTTP01,
    "dns01": DNS01,
    "waitInsteadOfSelfCheck": s("When set (a duration such as `30s`), skip the self-check and accept the "
                                "challenge this long after it was first presented; `0` accepts at once. Negative "
                                "values are rejected."),
})


def crd(group, kind, plural, singular, scope, schema, columns, categories, short=None, selectable=None):
    names = {"kind": kind, "listKind": kind + "List", "plural": plural, "singular": singular,
             "categories": categories}
    if short:
        names["shortNames"] = short
    version = {"name": "v1", "served": True, "storage": True,
               "schema": {"openAPIV3Schema": schema}, "subresources": {"status": {}},
               "additionalPrinterColumns": columns}
    if selectable:
        version["selectableFields"] = [{"jsonPath": p} for p in selectable]
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}",
                         "labels": {"app.kubernetes.io/name": "kacme", "app.kubernetes.io/component": "crds"}},
            "spec": {"group": group, "names": names, "scope": scope, "versions": [version]}}


def top(desc, spec, status):
    return {"description": desc, "type": "object", "required": ["metadata", "spec"], "properties": {
        "apiVersion": s("APIVersion defines the versioned schema of this representation of an object."),
        "kind": s("Kind is a string value representing the REST resource this object represents."),
        "metadata": {"type": "object"},
        "spec": spec, "status": status}}


AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
       "description": "CreationTimestamp is a timestamp representing the server time when this object was created."}



def IMMUTABLE(kind, fields):
    """CEL transition rule making spec immutable; the message names the changed fields (the API server
    runs CRD validation before validating webhooks, so this is the message users see for spec edits)."""
    changed = " + ".join(
        f"((has(self.{f}) != has(oldSelf.{f}) || (has(self.{f}) && self.{f} != oldSelf.{f})) ? ' spec.{f}' : '')"
        for f in fields)
    return [{"rule": "self == oldSelf",
             "message": f"{kind} spec is immutable after creation; delete the {kind} to retry",
             "messageExpression": f"'{kind} spec is immutable after creation; delete the {kind} to retry "
                                  f"(changed:' + {changed} + ')'"}]


ORDER = crd("acme.cert-manager.io", "Order", "orders", "order", "Namespaced", top(
    "Order is a type to represent an Order with an ACME server (RFC 8555 §7.1.3). Orders are created by the "
    "controller from CertificateRequests and are immutable: to retry, delete the Order.",
    obj("Desired state of the Order. Immutable after creation (webhook and CEL rule).", {
        "request": s("Certificate signing request bytes (PKCS#10, PEM or DER) whose names are requested. "
                     "Its names must equal commonName, dnsNames and ipAddresses.", format="byte"),
        "issuerRef": issuer_ref("should be used to create this Order. If the issuer does not exist, "
                                "processing will be retried. If it is not an ACME issuer, the Order fails"),
        "commonName": s("Common name from the CSR, if any. It must also appear in dnsNames or ipAddresses."),
        "dnsNames": strlist("DNS names to request in the ACME order (lower case, A-labels, no trailing dot)."),
        "ipAddresses": strlist("IP addresses to request in the ACME order (RFC 8738), textual form."),
        "duration": s("Requested certificate lifetime (Go duration such as `2160h`); sent as the order's "
                      "notAfter. Only set when the issuer has enableDurationFeature."),
        "profile": s("ACME certificate profile name to request (draft-ietf-acme-profiles), copied from the "
                     "issuer."),
        "replaces": s("ARI CertID (`base64url(AKI).base64url(serial)`, RFC 9773) of the certificate this order "
                      "renews."),
    }, ["issuerRef", "request"], **{"x-kubernetes-validations": IMMUTABLE("Order", [
        "request", "issuerRef", "commonName", "dnsNames", "ipAddresses", "duration", "profile", "replaces"])}),
    obj("Observed state of the Order. Fields marked set-once cannot change once non-empty (webhook).", {
        "url": s("URL of the Order on the ACME server (set once)."),
        "finalizeURL": s("URL to POST the CSR to when the Order is ready (set once)."),
        "authorizations": {"description": "Authorizations the ACME server requires for this Order (set once; "
                                          "length and per-item fields cannot change).", "type": "array",
                           "x-kubernetes-list-type": "atomic", "items": obj(
            "An ACME authorization (RFC 8555 §7.1.4).", {
                "url": s("URL of the authorization."),
                "identifier": s("Identifier value; for wildcard names the name without `*.`."),
                "wildcard": b("Whether the authorization is for a wildcard name."),
                "initialState": {**STATE, "description": "State of the authorization when first fetched; `valid` "
                                                        "means it is reused and no Challenge is created."},
                "challenges": {"description": "Challenges offered by the ACME server for this authorization.",
                               "type": "array", "x-kubernetes-list-type": "atomic", "items": obj(
                    "An ACME challenge offered for an authorization.", {
                        "url": s("URL of the challenge."),
                        "token": s("Challenge token."),
                        "type": s("ACME challenge type as sent by the server (`http-01`, `dns-01`, ...)."),
                    }, ["token", "type", "url"])},
            }, ["url"])},
        "certificate": s("PEM certificate chain issued for the Order, leaf first (set once).", format="byte"),
        "state": STATE,
        "reason": s("Human readable explanation of the state (set on failure)."),
        "failureTime": s("Time the Order entered a failure state.", format="date-time"),
    })), [
    {"name": "State", "type": "string", "jsonPath": ".status.state"},
    {"name": "Issuer", "type": "string", "jsonPath": ".spec.issuerRef.name", "priority": 1},
    {"name": "Reason", "type": "string", "jsonPath": ".status.reason", "priority": 1,
     "description": "Human readable explanation of the state."},
    AGE], ["cert-manager", "cert-manager-acme"],
    selectable=[".spec.issuerRef.group", ".spec.issuerRef.kind", ".spec.issuerRef.name"])

CHALLENGE = crd("acme.cert-manager.io", "Challenge", "challenges", "challenge", "Namespaced", top(
    "Challenge is a type to represent a Challenge request with an ACME server (RFC 8555 §8). Challenges are "
    "created by the controller only and are immutable.",
    obj("Desired state of the Challenge. Immutable after creation (webhook and CEL rule).", {
        "url": s("URL of the ACME challenge resource."),
        "authorizationURL": s("URL of the ACME authorization this challenge belongs to."),
        "dnsName": s("Identifier being validated; for wildcard names the name without `*.`; an IP address for "
                     "IP identifiers."),
        "wildcard": b("Whether the authorization is for a wildcard name."),
        "type": s("Type of the challenge.", enum=["HTTP-01", "DNS-01"]),
        "token": s("ACME challenge token."),
        "key": s("Key authorization material: for HTTP-01 `token + \".\" + thumbprint`, for DNS-01 the base64url "
                 "SHA-256 digest of the key authorization."),
        "solver": SOLVER,
        "issuerRef": issuer_ref("created this Challenge (copied from the Order)"),
    }, ["authorizationURL", "dnsName", "issuerRef", "key", "solver", "token", "type", "url"],
        **{"x-kubernetes-validations": IMMUTABLE("Challenge", [
            "url", "authorizationURL", "dnsName", "wildcard", "type", "token", "key", "solver", "issuerRef"])}),
    obj("Observed state of the Challenge (owned by the controller).", {
        "processing": b("Set by the scheduler when the challenge may be worked on; cleared by the controller "
                        "once the challenge is final."),
        "presented": b("Whether the solver resources (TXT record, pod/service/route) were created."),
        "presentedAt": s("Time the challenge was first presented.", format="date-time"),
        "reason": s("Human readable explanation of the state or the last error."),
        "state": STATE,
    })), [
    {"name": "State", "type": "string", "jsonPath": ".status.state"},
    {"name": "Domain", "type": "string", "jsonPath": ".spec.dnsName"},
    {"name": "Reason", "type": "string", "jsonPath": ".status.reason", "priority": 1,
     "description": "Human readable explanation of the state."},
    AGE], ["cert-manager", "cert-manager-acme"],
    selectable=[".spec.issuerRef.group", ".spec.issuerRef.kind", ".spec.issuerRef.name"])

CONDITION_ITEM = lambda what: obj(f"A condition of the {what}.", {
    "type": s("Type of the condition (e.g. `Ready`)."),
    "status": s("Status of the condition.", enum=["True", "False", "Unknown"]),
    "reason": s("Brief machine-readable reason for the last transition."),
    "message": s("Human readable description of the last transition."),
    "lastTransitionTime": s("Time the condition last changed status.", format="date-time"),
    "observedGeneration": i64("The .metadata.generation the condition was set for."),
}, ["status", "type"])


def conditions(what):
    return {"description": f"Conditions of the {what}.", "type": "array", "items": CONDITION_ITEM(what),
            "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]}


ACME_ISSUER = obj("ACME configures this issuer to communicate with an RFC 8555 (ACME) server to obtain signed "
                  "certificates.", {
    "email": s("Email address to register the ACME account with (sent as a mailto: contact)."),
    "server": s("URL of the ACME server's directory endpoint, e.g. "
                "https://acme-v02.api.letsencrypt.org/directory."),
    "preferredChain": s("Name (issuer common name of the top-most certificate) of the alternate chain to "
                        "prefer when the server offers several.", maxLength=64),
    "caBundle": s("Base64 PEM bundle of CAs to trust for the ACME server connection (not with skipTLSVerify).",
                  format="byte"),
    "skipTLSVerify": b("Disable TLS verification of the ACME server connection (insecure; not with caBundle)."),
    "externalAccountBinding": obj("External account binding (RFC 8555 §7.3.4) to associate the ACME account "
                                  "with an existing CA account.", {
        "keyID": s("Key identifier given by the CA."),
        "keySecretRef": secret_key_ref("Secret holding the unpadded base64url MAC key."),
        "keyAlgorithm": s("Deprecated and ignored: HS256 is always used.", enum=["HS256", "HS384", "HS512"]),
    }, ["keyID", "keySecretRef"]),
    "privateKeySecretRef": secret_key_ref("Secret holding the ACME account private key (key `tls.key` by "
                                          "default); generated when missing unless disableAccountKeyGeneration."),
    "solvers": {"description": "Solvers used to solve the challenges of Orders created by this issuer; the most "
                               "specific selector wins.", "type": "array", "items": SOLVER,
                "x-kubernetes-list-type": "atomic"},
    "disableAccountKeyGeneration": b("Do not generate an account key when the Secret is missing."),
    "enableDurationFeature": b("Request the certificate duration from the ACME server (notAfter)."),
    "profile": s("ACME certificate profile to request when the server advertises profiles."),
    "renewalInformationSource": s("Where renewal times come from: `ARI` (RFC 9773, default) or `None`.",
                                  enum=["ARI", "None"]),
}, ["privateKeySecretRef", "server"])

ISSUER_SPEC = obj("Desired state of the issuer. Exactly one issuer type must be set.", {
    "acme": ACME_ISSUER,
    "ca": obj("CA configures this issuer to sign certificates with a CA key pair stored in a Secret.", {
        "secretName": s("Secret holding the CA key pair (tls.crt, tls.key)."),
        "crlDistributionPoints": strlist("CRL distribution points to put into issued certificates."),
        "ocspServers": strlist("OCSP servers to put into issued certificates."),
        "issuingCertificateURLs": strlist("Issuing certificate URLs (AIA) to put into issued certificates."),
    }, ["secretName"]),
    "selfSigned": obj("SelfSigned configures this issuer to self-sign certificates with their own key.", {
        "crlDistributionPoints": strlist("CRL distribution points to put into issued certificates."),
    }),
    "vault": preserved("Vault issuer configuration (not implemented by kacme; kept for compatibility)."),
    "venafi": preserved("Venafi issuer configuration (not implemented by kacme; kept for compatibility)."),
})

ISSUER_STATUS = obj("Observed state of the issuer.", {
    "acme": obj("ACME account state.", {
        "uri": s("URI of the registered ACME account."),
        "lastRegisteredEmail": s("Email last registered with the ACME account."),
        "lastPrivateKeyHash": s("Hash of the account key last registered."),
    }),
    "conditions": conditions("issuer"),
})

ISSUER_COLUMNS = [
    {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
    {"name": "Status", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].message",
     "priority": 1},
    AGE]

ISSUER = crd("cert-manager.io", "Issuer", "issuers", "issuer", "Namespaced", top(
    "An Issuer represents a certificate issuing authority which can be referenced as part of `issuerRef` "
    "fields. It is scoped to a single namespace.", ISSUER_SPEC, ISSUER_STATUS), ISSUER_COLUMNS, ["cert-manager"],
    short=["iss"])
CLUSTERISSUER = crd("cert-manager.io", "ClusterIssuer", "clusterissuers", "clusterissuer", "Cluster", top(
    "A ClusterIssuer represents a certificate issuing authority which can be referenced as part of `issuerRef` "
    "fields. It is similar to an Issuer, but cluster-scoped.", ISSUER_SPEC, ISSUER_STATUS), ISSUER_COLUMNS,
    ["cert-manager"], short=["ciss"])

USAGES = ["signing", "digital signature", "content commitment", "key encipherment", "key agreement",
          "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any", "server auth",
          "client auth", "code signing", "email protection", "s/mime", "ipsec end system", "ipsec tunnel",
          "ipsec user", "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc"]

CR = crd("cert-manager.io", "CertificateRequest", "certificaterequests", "certificaterequest", "Namespaced", top(
    "A CertificateRequest is used to request a signed certificate from one of the configured issuers. Its spec "
    "is immutable once created.",
    obj("Desired state of the CertificateRequest.", {
        "duration": s("Requested certificate lifetime (Go duration such as `2160h`)."),
        "issuerRef": issuer_ref("should sign this request"),
        "request": s("The PEM-encoded X.509 certificate signing request to be submitted to the issuer.",
                     format="byte"),
        "isCA": b("Requested 'isCA' value for the certificate."),
        "usages": {"description": "Requested key usages and extended key usages.", "type": "array",
                   "items": {"type": "string", "enum": USAGES, "description": "A key usage."}},
        "uid": s("UID of the user that created the request (set by the API server via the webhook)."),
        "username": s("Name of the user that created the request."),
        "groups": strlist("Groups of the user that created the request."),
        "extra": {"description": "Extra attributes of the user that created the request.", "type": "object",
                  "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    }, ["issuerRef", "request"]),
    obj("Observed state of the CertificateRequest.", {
        "conditions": conditions("CertificateRequest"),
        "certificate": s("The PEM-encoded certificate chain issued, leaf first.", format="byte"),
        "ca": s("The PEM-encoded CA certificate of the issuer, if known.", format="byte"),
        "failureTime": s("Time the request failed (no further retries).", format="date-time"),
    })), [
    {"name": "Approved", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Approved\")].status"},
    {"name": "Denied", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Denied\")].status"},
    {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
    {"name": "Issuer", "type": "string", "jsonPath": ".spec.issuerRef.name"},
    {"name": "Requester", "type": "string", "jsonPath": ".spec.username"},
    {"name": "Status", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].message",
     "priority": 1},
    AGE], ["cert-manager"], short=["cr", "crs"])

FILES = {
    "acme.cert-manager.io_orders.yaml": ORDER,
    "acme.cert-manager.io_challenges.yaml": CHALLENGE,
    "cert-manager.io_issuers.yaml": ISSUER,
    "cert-manager.io_clusterissuers.yaml": CLUSTERISSUER,
    "cert-manager.io_certificaterequests.yaml": CR,
}

if __name__ == "__main__":
    class NoAlias(yaml.SafeDumper):
        def ignore_aliases(self, data):
            return True
    for name, doc in FILES.items():
        with open(os.path.join(HERE, name), "w") as f:
            f.write("# SPDX-License-Identifier: Apache-2.0\n# Generated by crds/gen_crds.py; edit that and re-run.\n")
            yaml.dump(doc, f, Dumper=NoAlias, sort_keys=False, width=120, default_flow_style=False)
    print("wrote", len(FILES), "CRDs")
