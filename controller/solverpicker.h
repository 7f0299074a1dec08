/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_CONTROLLER_SOLVERPICKER_H
#define KACME_CONTROLLER_SOLVERPICKER_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/*
 * Solver selection for one ACME authorization (cert-manager-behaviour.md §5.4) and the Order annotation
 * overrides applied to the chosen solver. Pure functions over json-c objects: no I/O, no logging.
 */

/* Text of the error when nothing can be used (cert-manager's wording, used in events and conditions). */
#define SOLVERPICKER_ERR_NO_SOLVER "no configured challenge solvers can be used for this challenge"

/* Order annotations that override the chosen HTTP-01 solver (§1.8). */
#define SOLVERPICKER_ANN_INGRESS_NAME "acme.cert-manager.io/http01-override-ingress-name"
#define SOLVERPICKER_ANN_INGRESS_CLASS "acme.cert-manager.io/http01-override-ingress-class"
#define SOLVERPICKER_ANN_INGRESS_CLASSNAME "acme.cert-manager.io/http01-override-ingress-ingressclassname"
#define SOLVERPICKER_ANN_PARENTREF_NAME "acme.cert-manager.io/http01-parentrefname"
#define SOLVERPICKER_ANN_PARENTREF_KIND "acme.cert-manager.io/http01-parentrefkind"
#define SOLVERPICKER_ANN_PARENTREF_NAMESPACE "acme.cert-manager.io/http01-parentrefnamespace"

/* One challenge offered by the ACME authorization (Order status.authorizations[].challenges[]). Borrowed. */
typedef struct {
    const char *type;  /* raw ACME type: "http-01", "dns-01", "tls-alpn-01", ... */
    const char *url;   /* challenge URL */
    const char *token; /* challenge token */
} solverpicker_challenge_t;

/* The authorization being solved. Borrowed. */
typedef struct {
    const char *identifier; /* the identifier; for a wildcard authorization the name without "*." */
    bool wildcard;
    const solverpicker_challenge_t *challenges; /* in the order the CA listed them */
    size_t n_challenges;
} solverpicker_authz_t;

/* At most this many offered challenges are read from one authorization (CAs offer three). */
#define SOLVERPICKER_MAX_CHALLENGES 16

/*
 * Reads an Order status.authorizations[] entry (authz, borrowed): identifier, wildcard (absent = false)
 * and challenges (each needs string type, url and token; extra ones beyond bufn are an error). The strings
 * in *out and buf borrow from authz. Returns 0, or -1 with a message in err.
 */
int solverpicker_authz_from_json(json_object *authz, solverpicker_challenge_t *buf, size_t bufn,
                                 solverpicker_authz_t *out, char *err, size_t errlen);

typedef struct {
    int index;                                 /* position in the solvers array, -1 when none */
    json_object *solver;                       /* borrowed: solvers[index] (not yet overridden) */
    const solverpicker_challenge_t *challenge; /* borrowed: first offered challenge of the solver's type */
} solverpicker_result_t;

/*
 * Picks the solver for authz from solvers (issuer spec.acme.solvers, a borrowed JSON array; NULL = none)
 * given the Order's labels (borrowed JSON object or NULL). Rules (cert-manager's solverpicker):
 *  - domain to find = identifier, prefixed "*." for wildcard authorizations;
 *  - a solver is usable only when the authorization offers its type (http01 ↔ "http-01", dns01 ↔
 *    "dns-01"); its ACME challenge is the first offered entry of that type;
 *  - a solver without selector is taken only when nothing is selected yet;
 *  - a selector must match on all of: matchLabels ⊆ Order labels (score = number of pairs),
 *    dnsNames contains the domain exactly, case-sensitively (score 1), dnsZones: a zone whose labels all
 *    equal the domain's rightmost labels, ASCII case-insensitively (score = labels of the longest such
 *    zone); an empty or absent sub-selector matches with score 0;
 *  - a match replaces the current pick only when strictly better: dnsNames hit > dnsZones (more labels)
 *    > more matchLabels; ties keep the earlier solver.
 * Returns 0 with *out filled, or -1 with out->index = -1 and err = SOLVERPICKER_ERR_NO_SOLVER + ": " + the
 * reason (no offered type, or no selector matches the domain).
 */
int solverpicker_pick(json_object *solvers, json_object *order_labels, const solverpicker_authz_t *authz,
                      solverpicker_result_t *out, char *err, size_t errlen);

/*
 * The solver as it goes into Challenge spec.solver: a deep copy of solver (borrowed) with the Order's
 * annotation overrides (annotations: borrowed JSON object or NULL) applied:
 *  - http01.ingress: at most one of the ingress-name / -class / -ingressclassname annotations (more →
 *    error); when one is present, name, class and ingressClassName are cleared and the given one set;
 *  - http01.gatewayHTTPRoute: parentrefname and parentrefkind both or neither (else error); with both, the
 *    parentRefs entry with the same namespace (the parentrefnamespace annotation when non-empty, else
 *    order_namespace), same name and same or absent kind is replaced by {name, namespace, kind} appended
 *    at the end; an empty parentRefs list afterwards is an error.
 * Returns 0 with *out owned by the caller (json_object_put), or -1 with *out = NULL and err filled.
 */
int solverpicker_apply_overrides(json_object *solver, json_object *annotations, const char *order_namespace,
                                 json_object **out, char *err, size_t errlen);

/*
 * True when challenge_solver (a Challenge's spec.solver, borrowed) equals one of the issuer's solvers, as
 * configured or after the Order's overrides (annotations/order_namespace as for
 * solverpicker_apply_overrides). The challenges controller refuses a Challenge for which this is false
 * (kacme-decisions.md: never trust spec.solver on its own).
 */
bool solverpicker_solver_allowed(json_object *challenge_solver, json_object *solvers, json_object *annotations,
                                 const char *order_namespace);

/* Challenge spec.type for an ACME type: "HTTP-01" for "http-01", "DNS-01" for "dns-01", else NULL. */
const char *solverpicker_challenge_type(const char *acme_type);

#endif
