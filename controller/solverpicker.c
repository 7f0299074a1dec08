/* SPDX-License-Identifier: Apache-2.0 */
#include "util/err.h"
#include "solverpicker.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define DOMAIN_MAX 512 /* identifiers are at most 253 bytes; anything longer matches nothing */

/* Member key of o (borrowed) when it is present and not JSON null; NULL otherwise. */
static json_object *member(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
        return NULL;
    return v; /* NULL for JSON null */
}

static const char *member_str(json_object *o, const char *key)
{
    json_object *v = member(o, key);
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

const char *solverpicker_challenge_type(const char *acme_type)
{
    if (acme_type && strcmp(acme_type, "http-01") == 0)
        return "HTTP-01";
    if (acme_type && strcmp(acme_type, "dns-01") == 0)
        return "DNS-01";
    return NULL;
}

int solverpicker_authz_from_json(json_object *authz, solverpicker_challenge_t *buf, size_t bufn,
                                 solverpicker_authz_t *out, char *err, size_t errlen)
{
    if (!json_object_is_type(authz, json_type_object) || !out) {
        util_seterr(err, errlen, "authorization is not an object");
        return -1;
    }
    memset(out, 0, sizeof(*out));
    out->identifier = member_str(authz, "identifier");
    if (!out->identifier) {
        util_seterr(err, errlen, "authorization has no identifier");
        return -1;
    }
    json_object *wc = member(authz, "wildcard");
    out->wildcard = json_object_is_type(wc, json_type_boolean) && json_object_get_boolean(wc);
    json_object *chs = member(authz, "challenges");
    size_t n = json_object_is_type(chs, json_type_array) ? json_object_array_length(chs) : 0;
    if (n > bufn) {
        util_seterr(err, errlen, "authorization offers %zu challenges, more than %zu", n, bufn);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(chs, i);
        buf[i].type = member_str(c, "type");
        buf[i].url = member_str(c, "url");
        buf[i].token = member_str(c, "token");
        if (!buf[i].type || !buf[i].url || !buf[i].token) {
            util_seterr(err, errlen, "authorization challenge %zu lacks type, url or token", i);
            return -1;
        }
    }
    out->challenges = buf;
    out->n_challenges = n;
    return 0;
}

/* First offered challenge of a type the solver handles, or NULL. */
static const solverpicker_challenge_t *challenge_for(json_object *solver, const solverpicker_authz_t *authz)
{
    bool http = member(solver, "http01") != NULL, dns = member(solver, "dns01") != NULL;
    for (size_t i = 0; i < authz->n_challenges; i++) {
        const char *t = authz->challenges[i].type;
        if (!t)
            continue;
        if ((http && strcmp(t, "http-01") == 0) || (dns && strcmp(t, "dns-01") == 0))
            return &authz->challenges[i];
    }
    return NULL;
}

/* matchLabels: every pair present in the Order labels with the same value. */
static bool match_labels(json_object *sel, json_object *labels, int *score)
{
    json_object *ml = member(sel, "matchLabels");
    *score = 0;
    if (!json_object_is_type(ml, json_type_object))
        return true;
    json_object_object_foreach(ml, k, v)
    {
        const char *want = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
        const char *have = member_str(labels, k);
        if (!want || !have || strcmp(want, have) != 0)
            return false;
        (*score)++;
    }
    return true;
}

/* dnsNames: exact, case-sensitive membership. */
static bool match_dns_names(json_object *sel, const char *domain, int *score)
{
    json_object *names = member(sel, "dnsNames");
    size_t n = json_object_is_type(names, json_type_array) ? json_object_array_length(names) : 0;
    *score = 0;
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(names, i);
        if (json_object_is_type(v, json_type_string) && strcmp(json_object_get_string(v), domain) == 0) {
            *score = 1;
            return true;
        }
    }
    return false;
}

/* Length of s without one trailing dot (names may be written fully qualified). */
static size_t name_len(const char *s)
{
    size_t n = strlen(s);
    return (n > 0 && s[n - 1] == '.') ? n - 1 : n;
}

static unsigned char lower_ascii(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

/* Number of labels of zone when all of them equal the rightmost labels of domain (ASCII case-insensitive),
 * else 0. An empty zone (or ".") has no labels and so never matches. */
static int zone_labels_matched(const char *zone, const char *domain)
{
    size_t zl = name_len(zone), dl = name_len(domain);
    if (zl == 0 || zl > dl)
        return 0;
    /* the zone must be a suffix of the domain, starting at a label boundary */
    for (size_t i = 0; i < zl; i++)
        if (lower_ascii((unsigned char)zone[zl - 1 - i]) != lower_ascii((unsigned char)domain[dl - 1 - i]))
            return 0;
    if (zl < dl && domain[dl - zl - 1] != '.')
        return 0;
    int labels = 1;
    for (size_t i = 0; i < zl; i++) {
        if (zone[i] == '.') {
            if (i == 0 || zone[i - 1] == '.')
                return 0; /* empty label: not a zone name */
            labels++;
        }
    }
    return labels;
}

/* dnsZones: the longest zone containing the domain. */
static bool match_dns_zones(json_object *sel, const char *domain, int *score)
{
    json_object *zones = member(sel, "dnsZones");
    size_t n = json_object_is_type(zones, json_type_array) ? json_object_array_length(zones) : 0;
    *score = 0;
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(zones, i);
        if (!json_object_is_type(v, json_type_string))
            continue;
        int m = zone_labels_matched(json_object_get_string(v), domain);
        if (m > *score)
            *score = m;
    }
    return *score > 0;
}

struct scores {
    int labels, names, zones;
};

/* True when candidate c strictly beats the current pick p (cert-manager's precedence). */
static bool better(const struct scores *c, const struct scores *p)
{
    bool cn = c->names > 0, pn = p->names > 0;
    if (cn != pn)
        return cn;
    if (cn) { /* both match dnsNames: zones, then labels */
        if (c->zones != p->zones)
            return c->zones > p->zones;
        return c->labels > p->labels;
    }
    bool cz = c->zones > 0, pz = p->zones > 0;
    if (cz != pz)
        return cz;
    if (cz && c->zones != p->zones)
        return c->zones > p->zones;
    return c->labels > p->labels;
}

int solverpicker_pick(json_object *solvers, json_object *order_labels, const solverpicker_authz_t *authz,
                      solverpicker_result_t *out, char *err, size_t errlen)
{
    char domain[DOMAIN_MAX];
    if (!out)
        return -1;
    memset(out, 0, sizeof(*out));
    out->index = -1;
    if (!authz || !authz->identifier) {
        util_seterr(err, errlen, "%s: the authorization has no identifier", SOLVERPICKER_ERR_NO_SOLVER);
        return -1;
    }
    int dn = snprintf(domain, sizeof(domain), "%s%s", authz->wildcard ? "*." : "", authz->identifier);
    if (dn < 0 || (size_t)dn >= sizeof(domain)) {
        util_seterr(err, errlen, "%s: identifier too long", SOLVERPICKER_ERR_NO_SOLVER);
        return -1;
    }

    size_t n = json_object_is_type(solvers, json_type_array) ? json_object_array_length(solvers) : 0;
    size_t typed = 0; /* solvers whose type the authorization offers */
    struct scores best = {0, 0, 0};
    for (size_t i = 0; i < n && i < INT32_MAX; i++) {
        json_object *s = json_object_array_get_idx(solvers, i);
        if (!json_object_is_type(s, json_type_object))
            continue;
        const solverpicker_challenge_t *ch = challenge_for(s, authz);
        if (!ch)
            continue;
        typed++;
        json_object *sel = member(s, "selector");
        if (!sel) {
            if (out->index < 0) { /* catch-all: only when nothing is selected yet */
                out->index = (int)i;
                out->solver = s;
                out->challenge = ch;
            }
            continue;
        }
        if (!json_object_is_type(sel, json_type_object))
            continue; /* malformed selector: matches nothing */
        struct scores sc;
        if (!match_labels(sel, order_labels, &sc.labels) || !match_dns_names(sel, domain, &sc.names) ||
            !match_dns_zones(sel, domain, &sc.zones))
            continue;
        if (out->index < 0 || better(&sc, &best)) {
            out->index = (int)i;
            out->solver = s;
            out->challenge = ch;
            best = sc;
        }
    }
    if (out->index >= 0)
        return 0;

    char offered[128] = "";
    size_t off = 0;
    for (size_t i = 0; i < authz->n_challenges && off < sizeof(offered); i++) {
        int w = snprintf(offered + off, sizeof(offered) - off, "%s%s", i ? ", " : "",
                         authz->challenges[i].type ? authz->challenges[i].type : "?");
        if (w < 0)
            break;
        off += (size_t)w;
    }
    if (n == 0)
        util_seterr(err, errlen, "%s: the issuer has no solvers", SOLVERPICKER_ERR_NO_SOLVER);
    else if (typed == 0)
        util_seterr(err, errlen, "%s: no solver handles the challenge types offered for \"%s\" (%s)",
               SOLVERPICKER_ERR_NO_SOLVER, domain, off ? offered : "none");
    else
        util_seterr(err, errlen, "%s: no selector of the %zu solver(s) for the offered types (%s) matches \"%s\"",
               SOLVERPICKER_ERR_NO_SOLVER, typed, offered, domain);
    return -1;
}

/* ---- annotation overrides ----------------------------------------------------------------------- */

/* Annotation value (borrowed) when present, whatever its value; NULL when absent. */
static const char *annotation(json_object *annotations, const char *key, bool *present)
{
    json_object *v = NULL;
    *present = json_object_is_type(annotations, json_type_object) &&
               json_object_object_get_ex(annotations, key, &v);
    if (!*present)
        return NULL;
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

static int set_str(json_object *o, const char *key, const char *val)
{
    json_object *s = json_object_new_string(val);
    if (!s)
        return -1;
    if (json_object_object_add(o, key, s) < 0) {
        json_object_put(s);
        return -1;
    }
    return 0;
}

static int override_ingress(json_object *ingress, json_object *ann, char *err, size_t errlen)
{
    bool has_name, has_class, has_classname;
    const char *name = annotation(ann, SOLVERPICKER_ANN_INGRESS_NAME, &has_name);
    const char *cls = annotation(ann, SOLVERPICKER_ANN_INGRESS_CLASS, &has_class);
    const char *clsname = annotation(ann, SOLVERPICKER_ANN_INGRESS_CLASSNAME, &has_classname);
    if ((int)has_name + (int)has_class + (int)has_classname > 1) {
        util_seterr(err, errlen, "may not specify more than one of: name, class, ingressClassName override annotations");
        return -1;
    }
    if (!has_name && !has_class && !has_classname)
        return 0;
    json_object_object_del(ingress, "name");
    json_object_object_del(ingress, "class");
    json_object_object_del(ingress, "ingressClassName");
    int rc = 0;
    if (has_name)
        rc = set_str(ingress, "name", name);
    else if (has_class)
        rc = set_str(ingress, "class", cls);
    else
        rc = set_str(ingress, "ingressClassName", clsname);
    if (rc < 0)
        util_seterr(err, errlen, "out of memory");
    return rc;
}

/* Sets route.parentRefs to its entries minus any that the annotation's {name, namespace, kind} replaces,
 * plus that reference at the end. Returns 0, or -1 when out of memory. */
static int replace_parent_ref(json_object *route, const char *name, const char *kind, const char *ns)
{
    int rc = -1;
    json_object *refs = member(route, "parentRefs"); /* borrowed */
    json_object *list = json_object_new_array();     /* owned until added to route */
    json_object *ref = json_object_new_object();     /* owned until appended to list */
    if (!list || !ref)
        goto out;
    size_t n = json_object_is_type(refs, json_type_array) ? json_object_array_length(refs) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *pr = json_object_array_get_idx(refs, i);
        const char *pns = member_str(pr, "namespace");
        const char *pname = member_str(pr, "name");
        json_object *pkind = member(pr, "kind");
        bool same_ns = pns && strcmp(pns, ns) == 0;
        bool same_name = pname && strcmp(pname, name) == 0;
        /* an issuer reference without kind matches any kind for this name and namespace */
        bool same_kind =
            !pkind || (json_object_is_type(pkind, json_type_string) && strcmp(json_object_get_string(pkind), kind) == 0);
        if (same_ns && same_name && same_kind)
            continue;
        if (json_object_array_add(list, json_object_get(pr)) < 0) {
            json_object_put(pr);
            goto out;
        }
    }
    if (set_str(ref, "name", name) < 0 || set_str(ref, "namespace", ns) < 0 || set_str(ref, "kind", kind) < 0 ||
        json_object_array_add(list, ref) < 0)
        goto out;
    ref = NULL;
    if (json_object_object_add(route, "parentRefs", list) < 0)
        goto out;
    list = NULL;
    rc = 0;
out:
    json_object_put(ref);
    json_object_put(list);
    return rc;
}

static int override_gateway(json_object *route, json_object *ann, const char *order_ns, char *err, size_t errlen)
{
    bool has_name, has_kind, has_ns;
    const char *name = annotation(ann, SOLVERPICKER_ANN_PARENTREF_NAME, &has_name);
    const char *kind = annotation(ann, SOLVERPICKER_ANN_PARENTREF_KIND, &has_kind);
    const char *ns = annotation(ann, SOLVERPICKER_ANN_PARENTREF_NAMESPACE, &has_ns);
    if (has_name != has_kind) {
        util_seterr(err, errlen, "cannot specify only one of parentRefName, parentRefKind override annotations");
        return -1;
    }
    if (has_name) {
        if (!ns || !*ns)
            ns = order_ns ? order_ns : "";
        if (replace_parent_ref(route, name, kind, ns) < 0) {
            util_seterr(err, errlen, "out of memory");
            return -1;
        }
    }
    json_object *refs = member(route, "parentRefs");
    if (!json_object_is_type(refs, json_type_array) || json_object_array_length(refs) == 0) {
        util_seterr(err, errlen, "must specify parentRefs either through annotations or solver config");
        return -1;
    }
    return 0;
}

int solverpicker_apply_overrides(json_object *solver, json_object *annotations, const char *order_namespace,
                                 json_object **out, char *err, size_t errlen)
{
    json_object *copy = NULL;
    if (!out)
        return -1;
    *out = NULL;
    if (!json_object_is_type(solver, json_type_object)) {
        util_seterr(err, errlen, "solver is not an object");
        return -1;
    }
    if (json_object_deep_copy(solver, &copy, NULL) < 0 || !copy) {
        util_seterr(err, errlen, "out of memory");
        return -1;
    }
    json_object *http = member(copy, "http01");
    json_object *ingress = member(http, "ingress");
    json_object *route = member(http, "gatewayHTTPRoute");
    if (json_object_is_type(ingress, json_type_object) && override_ingress(ingress, annotations, err, errlen) < 0)
        goto fail;
    if (json_object_is_type(route, json_type_object) &&
        override_gateway(route, annotations, order_namespace, err, errlen) < 0)
        goto fail;
    *out = copy;
    return 0;
fail:
    json_object_put(copy);
    return -1;
}

bool solverpicker_solver_allowed(json_object *challenge_solver, json_object *solvers, json_object *annotations,
                                 const char *order_namespace)
{
    if (!json_object_is_type(challenge_solver, json_type_object) || !json_object_is_type(solvers, json_type_array))
        return false;
    size_t n = json_object_array_length(solvers);
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(solvers, i);
        if (!json_object_is_type(s, json_type_object))
            continue;
        if (json_object_equal(s, challenge_solver))
            return true;
        json_object *o = NULL;
        if (solverpicker_apply_overrides(s, annotations, order_namespace, &o, NULL, 0) < 0)
            continue;
        bool eq = json_object_equal(o, challenge_solver);
        json_object_put(o);
        if (eq)
            return true;
    }
    return false;
}
