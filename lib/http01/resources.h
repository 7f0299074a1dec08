/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_HTTP01_RESOURCES_H
#define KACME_HTTP01_RESOURCES_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Pure builders for the HTTP-01 solver objects of cert-manager-behaviour.md §6.2 (Pod, Service, Ingress)
 * with kacme's pod hardening (kacme-decisions.md "Solver pods"), and the edit-in-place helpers for an
 * existing Ingress (§6.2 "Edit-in-place", §6.4 CleanUp). No I/O: the controller lists objects by
 * http01_label_selector(), keeps those for which http01_owned_by() is true, and creates what the
 * builders return (POST to the namespace's collection; names come from generateName).
 *
 * Ownership: every builder returns a new json_object owned by the caller (json_object_put). Inputs
 * (`ingress` config, extra labels, existing Ingress) are borrowed and never kept.
 */

#define HTTP01_ERR_LEN 256
#define HTTP01_SOLVER_PORT 8089
#define HTTP01_GENERATE_NAME "cm-acme-http-solver-"
#define HTTP01_LABEL_DOMAIN "acme.cert-manager.io/http-domain"
#define HTTP01_LABEL_TOKEN "acme.cert-manager.io/http-token"
#define HTTP01_LABEL_SOLVER "acme.cert-manager.io/http01-solver"

/* The Challenge being solved; all strings borrowed. */
typedef struct http01_challenge {
    const char *ns;        /* metadata.namespace */
    const char *name;      /* metadata.name */
    const char *uid;       /* metadata.uid (ownerReference) */
    const char *dns_name;  /* spec.dnsName (a host name or an IP literal, without brackets) */
    const char *token;     /* spec.token */
    const char *key;       /* spec.key: the key authorization, goes only into the pod's args */
} http01_challenge_t;

/* Controller flags that shape the solver objects; strings borrowed. Start from http01_settings_init(). */
typedef struct http01_settings {
    const char *image;               /* --acme-http01-solver-image; NULL: ghcr.io/kacme/acmesolver:<version> */
    const char *request_cpu;         /* --acme-http01-solver-resource-request-cpu; NULL: 10m */
    const char *request_memory;      /* ...-request-memory; NULL: 64Mi */
    const char *limit_cpu;           /* ...-limits-cpu; NULL: 100m */
    const char *limit_memory;        /* ...-limits-memory; NULL: 64Mi */
    bool run_as_non_root;            /* --acme-http01-solver-run-as-non-root (default true) */
    const char *runtime_class_name;  /* --acme-http01-solver-runtime-class-name; NULL/"": none */
    bool path_type_implementation_specific; /* feature gate ACMEHTTP01IngressPathTypeExact=false: the challenge
                                               path's pathType is ImplementationSpecific (default false: Exact) */
    json_object *extra_labels;       /* --acme-http01-solver-extra-labels as {key: value}; borrowed; NULL: none.
                                        The three identity keys are ignored. */
} http01_settings_t;

/* Defaults of every setting (run_as_non_root true, everything else NULL/false). */
void http01_settings_init(http01_settings_t *s);

/* Adler-32 (RFC 1950 §8.2) of len bytes: the identity labels hold it in decimal. */
uint32_t http01_adler32(const void *data, size_t len);

/* True when s is an IPv4 or IPv6 literal (no brackets). */
bool http01_is_ip(const char *s);

/* The identity labels {http-domain: adler32(dnsName), http-token: adler32(token), http01-solver: "true"}.
 * New object (owned). */
json_object *http01_identity_labels(const http01_challenge_t *ch);

/* The identity labels as a Kubernetes label selector ("k=v,k=v,k=v") for list calls (URL-encode it).
 * Returns 0, or -1 when buf is too small (128 bytes is enough). */
int http01_label_selector(const http01_challenge_t *ch, char *buf, size_t buflen);

/* True when obj's metadata.ownerReferences has a controller reference with this uid (borrowed obj). */
bool http01_owned_by(json_object *obj, const char *uid);

/*
 * The solver Pod (core/v1). ingress: the solver's spec.http01.ingress object (borrowed; NULL allowed: no
 * podTemplate). Returns a new object, or NULL with err filled (missing challenge field, malformed
 * podTemplate).
 */
json_object *http01_build_pod(const http01_challenge_t *ch, json_object *ingress, const http01_settings_t *s,
                              char *err, size_t errlen);

/* The solver Service (core/v1): type NodePort unless ingress.serviceType is set, port http 8089, selector =
 * identity labels. New object or NULL with err filled (serviceType not ClusterIP/NodePort). */
json_object *http01_build_service(const http01_challenge_t *ch, json_object *ingress, const http01_settings_t *s,
                                  char *err, size_t errlen);

/* A new solver Ingress (networking.k8s.io/v1) routing the challenge path to service_name:8089, for an
 * ingress solver without `name`. NULL with err filled when both class and ingressClassName are set, or
 * when `name` is set (use http01_ingress_add_path on the named Ingress instead). */
json_object *http01_build_ingress(const http01_challenge_t *ch, json_object *ingress, const http01_settings_t *s,
                                  const char *service_name, char *err, size_t errlen);

/* The backend service name of an Ingress's first rule's first path (borrowed from ing), or NULL: the
 * reuse test of §6.2 ("existing ingress whose first backend is the current service"). */
const char *http01_ingress_first_backend(json_object *ing);

/* The challenge path "/.well-known/acme-challenge/<token>" into buf. Returns 0, or -1 if too small. */
int http01_challenge_path(const http01_challenge_t *ch, char *buf, size_t buflen);

/*
 * Edit in place (solver ingress `name` set): adds the challenge path → service_name:8089 (pathType from s;
 * s NULL: defaults) to the rule whose
 * host equals dnsName in ing (modified in place, borrowed). Same path with the same backend: no change;
 * same path with another backend: replaced; otherwise the path is prepended; no rule for the host: a new
 * rule is appended. Other rules and paths are kept. *changed tells whether ing must be written back
 * (PUT with its resourceVersion). Returns 0, or -1 with err filled when ing is not an Ingress shape.
 */
int http01_ingress_add_path(json_object *ing, const http01_challenge_t *ch, const http01_settings_t *s,
                            const char *service_name, bool *changed, char *err, size_t errlen);

/* Clean-up of an edited Ingress: removes only paths equal to the challenge path from rules whose host
 * equals dnsName, and drops those rules left without paths. *changed as above. Returns 0 or -1. */
int http01_ingress_remove_path(json_object *ing, const http01_challenge_t *ch, bool *changed, char *err,
                               size_t errlen);

#endif
