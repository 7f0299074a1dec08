/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP-01 solver Pod/Service/Ingress builders (cert-manager-behaviour.md §6.2) and Ingress edit in place. */
#include "http01/resources.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/version.h"

#define CHALLENGE_DIR "/.well-known/acme-challenge/"
#define NGINX_WHITELIST "nginx.ingress.kubernetes.io/whitelist-source-range"
#define CLASS_ANNOTATION "kubernetes.io/ingress.class"

void http01_settings_init(http01_settings_t *s)
{
    memset(s, 0, sizeof(*s));
    s->run_as_non_root = true;
}

uint32_t http01_adler32(const void *data, size_t len)
{
    /* RFC 1950 §8.2; 5552 is the largest n with 255n(n+1)/2 + (n+1)(65520) < 2^32, so the sums fit until
     * the next reduction */
    const unsigned char *p = data;
    uint32_t a = 1, b = 0;
    while (len > 0) {
        size_t n = len < 5552 ? len : 5552;
        len -= n;
        while (n--) {
            a += *p++;
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    return (b << 16) | a;
}

bool http01_is_ip(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return s && (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1);
}

/* String member or NULL (borrowed). Empty strings count as unset. */
static const char *get_str(json_object *obj, const char *key)
{
    json_object *v;
    if (!obj || !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    const char *s = json_object_get_string(v);
    return *s ? s : NULL;
}

/* Object member or NULL (borrowed). */
static json_object *get_obj(json_object *obj, const char *key)
{
    json_object *v;
    if (!obj || !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_object))
        return NULL;
    return v;
}

static json_object *get_arr(json_object *obj, const char *key)
{
    json_object *v;
    if (!obj || !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_array))
        return NULL;
    return v;
}

/* Object member, created when missing (borrowed). */
static json_object *ensure_obj(json_object *obj, const char *key)
{
    json_object *v = get_obj(obj, key);
    if (!v) {
        v = json_object_new_object();
        json_object_object_add(obj, key, v);
    }
    return v;
}

static json_object *ensure_arr(json_object *obj, const char *key)
{
    json_object *v = get_arr(obj, key);
    if (!v) {
        v = json_object_new_array();
        json_object_object_add(obj, key, v);
    }
    return v;
}

static void set_str(json_object *obj, const char *key, const char *val)
{
    json_object_object_add(obj, key, json_object_new_string(val));
}

static json_object *copy(json_object *src)
{
    json_object *dst = NULL;
    if (json_object_deep_copy(src, &dst, NULL) != 0)
        return NULL;
    return dst;
}

static bool is_identity_key(const char *k)
{
    return strcmp(k, HTTP01_LABEL_DOMAIN) == 0 || strcmp(k, HTTP01_LABEL_TOKEN) == 0 ||
           strcmp(k, HTTP01_LABEL_SOLVER) == 0;
}

/* Copies every string member of src (borrowed) into dst, overwriting; skip_identity drops identity keys. */
static void merge_strings(json_object *dst, json_object *src, bool skip_identity)
{
    if (!src || !json_object_is_type(src, json_type_object))
        return;
    json_object_object_foreach(src, k, v)
    {
        if (skip_identity && is_identity_key(k))
            continue;
        if (json_object_is_type(v, json_type_string))
            set_str(dst, k, json_object_get_string(v));
    }
}

static bool challenge_ok(const http01_challenge_t *ch, char *err, size_t errlen)
{
    if (!ch || !ch->ns || !*ch->ns || !ch->name || !*ch->name || !ch->uid || !*ch->uid || !ch->dns_name ||
        !*ch->dns_name || !ch->token || !*ch->token || !ch->key || !*ch->key) {
        snprintf(err, errlen, "challenge is missing namespace, name, uid, dnsName, token or key");
        return false;
    }
    /* DNS names are at most 253 bytes (RFC 1035); ACME tokens are 43 base64url bytes in practice */
    if (strlen(ch->dns_name) > 253 || strlen(ch->token) > 256) {
        snprintf(err, errlen, "challenge dnsName or token too long");
        return false;
    }
    return true;
}

json_object *http01_identity_labels(const http01_challenge_t *ch)
{
    char d[16], t[16];
    snprintf(d, sizeof(d), "%u", (unsigned)http01_adler32(ch->dns_name, strlen(ch->dns_name)));
    snprintf(t, sizeof(t), "%u", (unsigned)http01_adler32(ch->token, strlen(ch->token)));
    json_object *l = json_object_new_object();
    set_str(l, HTTP01_LABEL_DOMAIN, d);
    set_str(l, HTTP01_LABEL_TOKEN, t);
    set_str(l, HTTP01_LABEL_SOLVER, "true");
    return l;
}

int http01_label_selector(const http01_challenge_t *ch, char *buf, size_t buflen)
{
    int n = snprintf(buf, buflen, "%s=%u,%s=%u,%s=true", HTTP01_LABEL_DOMAIN,
                     (unsigned)http01_adler32(ch->dns_name, strlen(ch->dns_name)), HTTP01_LABEL_TOKEN,
                     (unsigned)http01_adler32(ch->token, strlen(ch->token)), HTTP01_LABEL_SOLVER);
    return (n < 0 || (size_t)n >= buflen) ? -1 : 0;
}

bool http01_owned_by(json_object *obj, const char *uid)
{
    json_object *refs = get_arr(get_obj(obj, "metadata"), "ownerReferences");
    if (!refs || !uid)
        return false;
    for (size_t i = 0; i < json_object_array_length(refs); i++) {
        json_object *r = json_object_array_get_idx(refs, i);
        json_object *ctl;
        const char *u = get_str(r, "uid");
        if (u && strcmp(u, uid) == 0 && json_object_object_get_ex(r, "controller", &ctl) &&
            json_object_get_boolean(ctl))
            return true;
    }
    return false;
}

int http01_challenge_path(const http01_challenge_t *ch, char *buf, size_t buflen)
{
    int n = snprintf(buf, buflen, "%s%s", CHALLENGE_DIR, ch->token);
    return (n < 0 || (size_t)n >= buflen) ? -1 : 0;
}

/* metadata shared by the three objects: generateName, namespace, identity + extra labels, ownerRef. */
static json_object *base_metadata(const http01_challenge_t *ch, const http01_settings_t *s)
{
    json_object *md = json_object_new_object();
    set_str(md, "generateName", HTTP01_GENERATE_NAME);
    set_str(md, "namespace", ch->ns);
    json_object *labels = http01_identity_labels(ch);
    merge_strings(labels, s ? s->extra_labels : NULL, true);
    json_object_object_add(md, "labels", labels);

    json_object *ref = json_object_new_object();
    set_str(ref, "apiVersion", "acme.cert-manager.io/v1");
    set_str(ref, "kind", "Challenge");
    set_str(ref, "name", ch->name);
    set_str(ref, "uid", ch->uid);
    json_object_object_add(ref, "controller", json_object_new_boolean(1));
    json_object_object_add(ref, "blockOwnerDeletion", json_object_new_boolean(1));
    json_object *refs = json_object_new_array();
    json_object_array_add(refs, ref);
    json_object_object_add(md, "ownerReferences", refs);
    return md;
}

static json_object *new_kind(const char *api_version, const char *kind)
{
    json_object *o = json_object_new_object();
    set_str(o, "apiVersion", api_version);
    set_str(o, "kind", kind);
    return o;
}

/* Applies ingress.podTemplate (borrowed) onto pod (§6.2 "podTemplate merge"). */
static int merge_pod_template(json_object *pod, json_object *tmpl, char *err, size_t errlen)
{
    if (!tmpl)
        return 0;
    if (!json_object_is_type(tmpl, json_type_object)) {
        snprintf(err, errlen, "http01.ingress.podTemplate is not an object");
        return -1;
    }
    json_object *md = get_obj(pod, "metadata");
    json_object *tmd = get_obj(tmpl, "metadata");
    merge_strings(ensure_obj(md, "labels"), get_obj(tmd, "labels"), false);
    merge_strings(ensure_obj(md, "annotations"), get_obj(tmd, "annotations"), false);

    json_object *spec = get_obj(pod, "spec");
    json_object *ts = get_obj(tmpl, "spec");
    if (!ts)
        return 0;
    merge_strings(ensure_obj(spec, "nodeSelector"), get_obj(ts, "nodeSelector"), false);

    json_object *tol = get_arr(ts, "tolerations");
    if (tol && json_object_array_length(tol)) {
        json_object *dst = ensure_arr(spec, "tolerations");
        for (size_t i = 0; i < json_object_array_length(tol); i++)
            json_object_array_add(dst, copy(json_object_array_get_idx(tol, i)));
    }
    json_object *aff = get_obj(ts, "affinity");
    if (aff)
        json_object_object_add(spec, "affinity", copy(aff));
    const char *pc = get_str(ts, "priorityClassName");
    if (pc)
        set_str(spec, "priorityClassName", pc);
    const char *sa = get_str(ts, "serviceAccountName");
    if (sa)
        set_str(spec, "serviceAccountName", sa);
    json_object *ips = get_arr(ts, "imagePullSecrets");
    if (ips && json_object_array_length(ips)) {
        json_object *dst = ensure_arr(spec, "imagePullSecrets");
        for (size_t i = 0; i < json_object_array_length(ips); i++)
            json_object_array_add(dst, copy(json_object_array_get_idx(ips, i)));
    }
    json_object *tsc = get_obj(ts, "securityContext");
    if (tsc) {
        /* replaces the whole pod securityContext, keeping only the fields the template type has */
        static const char *const fields[] = {"seLinuxOptions", "runAsUser",           "runAsGroup",
                                             "runAsNonRoot",   "supplementalGroups",  "fsGroup",
                                             "sysctls",        "fsGroupChangePolicy", "seccompProfile"};
        json_object *sc = json_object_new_object();
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
            json_object *v;
            if (json_object_object_get_ex(tsc, fields[i], &v) && v)
                json_object_object_add(sc, fields[i], copy(v));
        }
        json_object_object_add(spec, "securityContext", sc);
    }
    json_object *tres = get_obj(ts, "resources");
    if (tres) {
        json_object *c0 = json_object_array_get_idx(get_arr(spec, "containers"), 0);
        json_object *res = ensure_obj(c0, "resources");
        merge_strings(ensure_obj(res, "requests"), get_obj(tres, "requests"), false);
        merge_strings(ensure_obj(res, "limits"), get_obj(tres, "limits"), false);
    }
    return 0;
}

json_object *http01_build_pod(const http01_challenge_t *ch, json_object *ingress, const http01_settings_t *s,
                              char *err, size_t errlen)
{
    http01_settings_t defaults;
    if (!s) {
        http01_settings_init(&defaults);
        s = &defaults;
    }
    if (!challenge_ok(ch, err, errlen))
        return NULL;

    json_object *pod = new_kind("v1", "Pod");
    json_object *md = base_metadata(ch, s);
    json_object *ann = json_object_new_object();
    set_str(ann, "sidecar.istio.io/inject", "false");
    set_str(ann, "cluster-autoscaler.kubernetes.io/safe-to-evict", "true");
    json_object_object_add(md, "annotations", ann);
    json_object_object_add(pod, "metadata", md);

    json_object *spec = json_object_new_object();
    json_object_object_add(spec, "automountServiceAccountToken", json_object_new_boolean(0));
    json_object_object_add(spec, "enableServiceLinks", json_object_new_boolean(0));
    json_object *ns = json_object_new_object();
    set_str(ns, "kubernetes.io/os", "linux");
    json_object_object_add(spec, "nodeSelector", ns);
    set_str(spec, "restartPolicy", "OnFailure");
    if (s->runtime_class_name && *s->runtime_class_name)
        set_str(spec, "runtimeClassName", s->runtime_class_name);

    json_object *psc = json_object_new_object();
    json_object_object_add(psc, "runAsNonRoot", json_object_new_boolean(s->run_as_non_root));
    if (s->run_as_non_root) {
        /* the image's nonroot user (distroless convention), so runAsNonRoot holds whatever USER says */
        json_object_object_add(psc, "runAsUser", json_object_new_int(65532));
        json_object_object_add(psc, "runAsGroup", json_object_new_int(65532));
    }
    json_object *seccomp = json_object_new_object();
    set_str(seccomp, "type", "RuntimeDefault");
    json_object_object_add(psc, "seccompProfile", seccomp);
    json_object_object_add(spec, "securityContext", psc);

    json_object *c = json_object_new_object();
    set_str(c, "name", "acmesolver");
    char image[256];
    if (s->image && *s->image)
        snprintf(image, sizeof(image), "%s", s->image);
    else
        snprintf(image, sizeof(image), "ghcr.io/kacme/acmesolver:%s", kacme_version());
    set_str(c, "image", image);
    set_str(c, "imagePullPolicy", "IfNotPresent");
    json_object *args = json_object_new_array();
    char buf[1024];
    json_object_array_add(args, json_object_new_string("--listen-port=8089"));
    snprintf(buf, sizeof(buf), "--domain=%s", ch->dns_name);
    json_object_array_add(args, json_object_new_string(buf));
    snprintf(buf, sizeof(buf), "--token=%s", ch->token);
    json_object_array_add(args, json_object_new_string(buf));
    /* the key has no fixed bound here: build its argument without a fixed buffer */
    size_t klen = strlen(ch->key);
    char *kb = malloc(klen + 7);
    if (!kb) {
        json_object_put(args);
        json_object_put(c);
        json_object_put(spec);
        json_object_put(pod);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(kb, "--key=", 6);
    memcpy(kb + 6, ch->key, klen + 1);
    json_object_array_add(args, json_object_new_string(kb));
    free(kb);
    json_object_object_add(c, "args", args);
    json_object *port = json_object_new_object();
    set_str(port, "name", "http");
    json_object_object_add(port, "containerPort", json_object_new_int(HTTP01_SOLVER_PORT));
    json_object *ports = json_object_new_array();
    json_object_array_add(ports, port);
    json_object_object_add(c, "ports", ports);

    json_object *res = json_object_new_object();
    json_object *req = json_object_new_object();
    set_str(req, "cpu", s->request_cpu && *s->request_cpu ? s->request_cpu : "10m");
    set_str(req, "memory", s->request_memory && *s->request_memory ? s->request_memory : "64Mi");
    json_object *lim = json_object_new_object();
    set_str(lim, "cpu", s->limit_cpu && *s->limit_cpu ? s->limit_cpu : "100m");
    set_str(lim, "memory", s->limit_memory && *s->limit_memory ? s->limit_memory : "64Mi");
    json_object_object_add(res, "requests", req);
    json_object_object_add(res, "limits", lim);
    json_object_object_add(c, "resources", res);

    json_object *csc = json_object_new_object();
    json_object_object_add(csc, "readOnlyRootFilesystem", json_object_new_boolean(1));
    json_object_object_add(csc, "allowPrivilegeEscalation", json_object_new_boolean(0));
    json_object *caps = json_object_new_object();
    json_object *drop = json_object_new_array();
    json_object_array_add(drop, json_object_new_string("ALL"));
    json_object_object_add(caps, "drop", drop);
    json_object_object_add(csc, "capabilities", caps);
    json_object_object_add(c, "securityContext", csc);

    json_object *containers = json_object_new_array();
    json_object_array_add(containers, c);
    json_object_object_add(spec, "containers", containers);
    json_object_object_add(pod, "spec", spec);

    json_object *tmpl = NULL;
    if (ingress)
        json_object_object_get_ex(ingress, "podTemplate", &tmpl); /* borrowed */
    if (tmpl && !json_object_is_type(tmpl, json_type_null) && merge_pod_template(pod, tmpl, err, errlen) != 0) {
        json_object_put(pod);
        return NULL;
    }
    return pod;
}

json_object *http01_build_service(const http01_challenge_t *ch, json_object *ingress, const http01_settings_t *s,
                                  char *err, size_t errlen)
{
    if (!challenge_ok(ch, err, errlen))
        return NULL;
    const char *type = get_str(ingress, "serviceType");
    if (!type)
        type = "NodePort";
    if (strcmp(type, "NodePort") != 0 && strcmp(type, "ClusterIP") != 0) {
        snprintf(err, errlen, "http01.ingress.serviceType must be ClusterIP or NodePort");
        return NULL;
    }
    json_object *svc = new_kind("v1", "Service");
    json_object *md = base_metadata(ch, s);
    json_object *ann = json_object_new_object();
    set_str(ann, "auth.istio.io/8089", "NONE");
    json_object_object_add(md, "annotations", ann);
    json_object_object_add(svc, "metadata", md);

    json_object *spec = json_object_new_object();
    set_str(spec, "type", type);
    json_object *port = json_object_new_object();
    set_str(port, "name", "http");
    json_object_object_add(port, "port", json_object_new_int(HTTP01_SOLVER_PORT));
    json_object_object_add(port, "targetPort", json_object_new_int(HTTP01_SOLVER_PORT));
    json_object *ports = json_object_new_array();
    json_object_array_add(ports, port);
    json_object_object_add(spec, "ports", ports);
    json_object_object_add(spec, "selector", http01_identity_labels(ch));
    json_object_object_add(svc, "spec", spec);
    return svc;
}

/* The pathType of the challenge path: Exact, or ImplementationSpecific with ACMEHTTP01IngressPathTypeExact=false
 * (for ingress controllers that do not implement Exact). */
static const char *path_type(const http01_settings_t *s)
{
    return s && s->path_type_implementation_specific ? "ImplementationSpecific" : "Exact";
}

/* One HTTPIngressPath for the challenge (new, owned). */
static json_object *challenge_ingress_path(const char *path, const char *service_name, const http01_settings_t *s)
{
    json_object *p = json_object_new_object();
    set_str(p, "path", path);
    set_str(p, "pathType", path_type(s));
    json_object *num = json_object_new_object();
    json_object_object_add(num, "number", json_object_new_int(HTTP01_SOLVER_PORT));
    json_object *svc = json_object_new_object();
    set_str(svc, "name", service_name);
    json_object_object_add(svc, "port", num);
    json_object *backend = json_object_new_object();
    json_object_object_add(backend, "service", svc);
    json_object_object_add(p, "backend", backend);
    return p;
}

/* A rule for the challenge's host (none for an IP) with one path (new, owned). */
static json_object *challenge_rule(const http01_challenge_t *ch, const char *path, const char *service_name,
                                   const http01_settings_t *s)
{
    json_object *rule = json_object_new_object();
    if (!http01_is_ip(ch->dns_name))
        set_str(rule, "host", ch->dns_name);
    json_object *paths = json_object_new_array();
    json_object_array_add(paths, challenge_ingress_path(path, service_name, s));
    json_object *http = json_object_new_object();
    json_object_object_add(http, "paths", paths);
    json_object_object_add(rule, "http", http);
    return rule;
}

/* True when the last '/'-separated segment of k is "whitelist-source-range". */
static bool is_whitelist_key(const char *k)
{
    const char *slash = strrchr(k, '/');
    return strcmp(slash ? slash + 1 : k, "whitelist-source-range") == 0;
}

json_object *http01_build_ingress(const http01_challenge_t *ch, json_object *ingress, const http01_settings_t *s,
                                  const char *service_name, char *err, size_t errlen)
{
    if (!challenge_ok(ch, err, errlen))
        return NULL;
    if (!service_name || !*service_name) {
        snprintf(err, errlen, "no service name for the solver ingress");
        return NULL;
    }
    const char *cls = get_str(ingress, "class");
    const char *icn = get_str(ingress, "ingressClassName");
    if (get_str(ingress, "name")) {
        snprintf(err, errlen, "http01.ingress.name is set: edit that Ingress in place instead");
        return NULL;
    }
    if (cls && icn) {
        snprintf(err, errlen, "http01.ingress: only one of class and ingressClassName may be set");
        return NULL;
    }
    char path[512];
    if (http01_challenge_path(ch, path, sizeof(path)) != 0) {
        snprintf(err, errlen, "challenge token too long");
        return NULL;
    }

    json_object *ing = new_kind("networking.k8s.io/v1", "Ingress");
    json_object *md = base_metadata(ch, s);
    json_object *tmd = get_obj(get_obj(ingress, "ingressTemplate"), "metadata");
    merge_strings(get_obj(md, "labels"), get_obj(tmd, "labels"), false);

    json_object *ann = json_object_new_object();
    set_str(ann, NGINX_WHITELIST, "0.0.0.0/0,::/0");
    if (cls)
        set_str(ann, CLASS_ANNOTATION, cls);
    json_object *tann = get_obj(tmd, "annotations");
    if (tann) {
        json_object_object_foreach(tann, k, v)
        {
            (void)v;
            if (is_whitelist_key(k)) {
                /* the user restricts sources their own way: drop our allow-all default */
                json_object_object_del(ann, NGINX_WHITELIST);
                break;
            }
        }
        merge_strings(ann, tann, false);
    }
    json_object_object_add(md, "annotations", ann);
    json_object_object_add(ing, "metadata", md);

    json_object *spec = json_object_new_object();
    if (icn)
        set_str(spec, "ingressClassName", icn);
    json_object *rules = json_object_new_array();
    json_object_array_add(rules, challenge_rule(ch, path, service_name, s));
    json_object_object_add(spec, "rules", rules);
    json_object_object_add(ing, "spec", spec);
    return ing;
}

const char *http01_ingress_first_backend(json_object *ing)
{
    json_object *rules = get_arr(get_obj(ing, "spec"), "rules");
    if (!rules || json_object_array_length(rules) == 0)
        return NULL;
    json_object *paths = get_arr(get_obj(json_object_array_get_idx(rules, 0), "http"), "paths");
    if (!paths || json_object_array_length(paths) == 0)
        return NULL;
    json_object *svc = get_obj(get_obj(json_object_array_get_idx(paths, 0), "backend"), "service");
    return get_str(svc, "name");
}

/* The service name and port number of an HTTPIngressPath's backend. */
static bool path_backend_is(json_object *p, const char *service_name)
{
    json_object *svc = get_obj(get_obj(p, "backend"), "service");
    const char *name = get_str(svc, "name");
    json_object *num;
    return name && strcmp(name, service_name) == 0 &&
           json_object_object_get_ex(get_obj(svc, "port"), "number", &num) &&
           json_object_get_int(num) == HTTP01_SOLVER_PORT;
}

static const char *rule_host(json_object *rule)
{
    json_object *h;
    if (json_object_object_get_ex(rule, "host", &h) && json_object_is_type(h, json_type_string))
        return json_object_get_string(h);
    return "";
}

/* The host a rule for this challenge carries ("" for an IP, as the builder writes it). */
static const char *wanted_host(const http01_challenge_t *ch)
{
    return http01_is_ip(ch->dns_name) ? "" : ch->dns_name;
}

int http01_ingress_add_path(json_object *ing, const http01_challenge_t *ch, const http01_settings_t *s,
                            const char *service_name, bool *changed, char *err, size_t errlen)
{
    *changed = false;
    char path[512];
    if (!ing || !json_object_is_type(ing, json_type_object) || !ch || !ch->dns_name || !ch->token ||
        !service_name || http01_challenge_path(ch, path, sizeof(path)) != 0) {
        snprintf(err, errlen, "invalid ingress edit arguments");
        return -1;
    }
    json_object *spec = ensure_obj(ing, "spec");
    json_object *rules = ensure_arr(spec, "rules");
    const char *host = wanted_host(ch);
    for (size_t i = 0; i < json_object_array_length(rules); i++) {
        json_object *rule = json_object_array_get_idx(rules, i);
        if (!json_object_is_type(rule, json_type_object) || strcmp(rule_host(rule), host) != 0)
            continue;
        json_object *paths = ensure_arr(ensure_obj(rule, "http"), "paths");
        for (size_t j = 0; j < json_object_array_length(paths); j++) {
            json_object *p = json_object_array_get_idx(paths, j);
            const char *pp = get_str(p, "path");
            if (!pp || strcmp(pp, path) != 0)
                continue;
            if (path_backend_is(p, service_name))
                return 0;
            json_object_array_put_idx(paths, j, challenge_ingress_path(path, service_name, s));
            *changed = true;
            return 0;
        }
        /* prepend: json-c has no insert, so rebuild the array with ours first */
        json_object *np = json_object_new_array();
        json_object_array_add(np, challenge_ingress_path(path, service_name, s));
        for (size_t j = 0; j < json_object_array_length(paths); j++)
            json_object_array_add(np, json_object_get(json_object_array_get_idx(paths, j)));
        json_object_object_add(get_obj(rule, "http"), "paths", np);
        *changed = true;
        return 0;
    }
    json_object_array_add(rules, challenge_rule(ch, path, service_name, s));
    *changed = true;
    return 0;
}

int http01_ingress_remove_path(json_object *ing, const http01_challenge_t *ch, bool *changed, char *err,
                               size_t errlen)
{
    *changed = false;
    char path[512];
    if (!ing || !json_object_is_type(ing, json_type_object) || !ch || !ch->dns_name || !ch->token ||
        http01_challenge_path(ch, path, sizeof(path)) != 0) {
        snprintf(err, errlen, "invalid ingress edit arguments");
        return -1;
    }
    json_object *spec = get_obj(ing, "spec");
    json_object *rules = get_arr(spec, "rules");
    if (!rules)
        return 0;
    const char *host = wanted_host(ch);
    json_object *new_rules = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(rules); i++) {
        json_object *rule = json_object_array_get_idx(rules, i);
        json_object *http = get_obj(rule, "http");
        json_object *paths = get_arr(http, "paths");
        if (!paths || strcmp(rule_host(rule), host) != 0) {
            json_object_array_add(new_rules, json_object_get(rule));
            continue;
        }
        json_object *kept = json_object_new_array();
        bool removed = false;
        for (size_t j = 0; j < json_object_array_length(paths); j++) {
            json_object *p = json_object_array_get_idx(paths, j);
            const char *pp = get_str(p, "path");
            if (pp && strcmp(pp, path) == 0) {
                removed = true;
                continue;
            }
            json_object_array_add(kept, json_object_get(p));
        }
        if (!removed) {
            json_object_put(kept);
            json_object_array_add(new_rules, json_object_get(rule));
            continue;
        }
        *changed = true;
        if (json_object_array_length(kept) == 0) {
            json_object_put(kept); /* rule left without paths: dropped */
            continue;
        }
        json_object_object_add(http, "paths", kept);
        json_object_array_add(new_rules, json_object_get(rule));
    }
    if (*changed)
        json_object_object_add(spec, "rules", new_rules);
    else
        json_object_put(new_rules);
    return 0;
}
