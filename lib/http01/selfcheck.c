/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP-01 self-check: every address, CA-like redirects, fresh resolution and connections; pass tracking. */
#include "http01/selfcheck.h"

#include <arpa/inet.h>
#include <ares.h>
#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "util/version.h"

#define MAX_REQUESTS 32         /* per attempt, across addresses and redirect hops */
#define ATTEMPT_BUDGET_MS 30000 /* whole attempt: a slow or hostile chain cannot hold a worker longer */
#define DNS_TIMEOUT_MS 3000
#define DNS_OVERALL_MS 10000

static const unsigned short default_ports[] = {80, 443};

/* ---- small helpers ------------------------------------------------------------------------------- */

static bool is_ip_literal(const char *s, int *family)
{
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, s, buf) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, buf) == 1) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

/* "1.2.3.4:80" or "[::1]:80" */
static void addr_label(const selfcheck_addr_t *a, char *buf, size_t len)
{
    snprintf(buf, len, strchr(a->ip, ':') ? "[%s]:%u" : "%s:%u", a->ip, (unsigned)a->port);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void add_unique(selfcheck_addr_t *out, size_t max, size_t *n, const char *ip, unsigned short port)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(out[i].ip, ip) == 0 && out[i].port == port)
            return;
    if (*n >= max)
        return;
    snprintf(out[*n].ip, sizeof(out[*n].ip), "%s", ip);
    out[*n].port = port;
    (*n)++;
}

/* ---- resolution ---------------------------------------------------------------------------------- */

static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_init_rc;

static void ares_init_once(void)
{
    ares_init_rc = ares_library_init(ARES_LIB_INIT_ALL);
}

typedef struct ares_result {
    bool done;
    int status;
    selfcheck_addr_t *out;
    size_t max, *n;
    unsigned short port;
} ares_result_t;

static void ares_cb(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    (void)timeouts;
    ares_result_t *r = arg;
    r->done = true;
    r->status = status;
    if (status == ARES_SUCCESS && res) {
        for (struct ares_addrinfo_node *nd = res->nodes; nd; nd = nd->ai_next) {
            char ip[INET6_ADDRSTRLEN];
            if (nd->ai_family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *)nd->ai_addr)->sin_addr, ip, sizeof(ip));
            else if (nd->ai_family == AF_INET6)
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)nd->ai_addr)->sin6_addr, ip, sizeof(ip));
            else
                continue;
            add_unique(r->out, r->max, r->n, ip, r->port);
        }
    }
    if (res)
        ares_freeaddrinfo(res);
}

static int resolve_ares(const char *servers, const char *host, unsigned short port, selfcheck_addr_t *out,
                        size_t max, size_t *n, char *err, size_t errlen)
{
    pthread_once(&ares_once, ares_init_once);
    if (ares_init_rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(ares_init_rc));
        return -1;
    }
    ares_channel ch;
    struct ares_options o;
    memset(&o, 0, sizeof(o));
    o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    o.timeout = DNS_TIMEOUT_MS;
    o.tries = 2;
    o.lookups = (char *)"b"; /* DNS only: the point of the option is split-horizon DNS, not /etc/hosts */
    int rc = ares_init_options(&ch, &o, ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
        return -1;
    }
    rc = ares_set_servers_ports_csv(ch, servers);
    if (rc != ARES_SUCCESS) {
        ares_destroy(ch);
        snprintf(err, errlen, "invalid nameservers: %s", ares_strerror(rc));
        return -1;
    }
    ares_result_t r = {.out = out, .max = max, .n = n, .port = port, .status = ARES_ETIMEOUT};
    struct ares_addrinfo_hints hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_flags = ARES_AI_NOSORT; /* no RFC 6724 sorting: it would open sockets to every address */
    ares_getaddrinfo(ch, host, NULL, &hints, ares_cb, &r);

    long long deadline = mono_ms() + DNS_OVERALL_MS;
    while (!r.done) {
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        int bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
        struct pollfd pfd[ARES_GETSOCK_MAXNUM];
        nfds_t nfd = 0;
        for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
            short ev = 0;
            /* c-ares' own ARES_GETSOCK_* macros shift a signed 1 into the sign bit (UB): test unsigned */
            if (((unsigned)bits >> i) & 1u)
                ev |= POLLIN;
            if (((unsigned)bits >> (i + ARES_GETSOCK_MAXNUM)) & 1u)
                ev |= POLLOUT;
            if (ev)
                pfd[nfd++] = (struct pollfd){.fd = socks[i], .events = ev};
        }
        long long now = mono_ms();
        if (now >= deadline || nfd == 0)
            break;
        struct timeval maxtv = {.tv_sec = (deadline - now) / 1000, .tv_usec = ((deadline - now) % 1000) * 1000};
        struct timeval tv;
        struct timeval *tvp = ares_timeout(ch, &maxtv, &tv);
        int ms = (int)(tvp->tv_sec * 1000 + tvp->tv_usec / 1000);
        int prc = poll(pfd, nfd, ms);
        if (prc < 0 && errno != EINTR)
            break;
        if (prc <= 0) {
            ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
            continue;
        }
        for (nfds_t i = 0; i < nfd; i++) {
            ares_socket_t rfd = (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) ? pfd[i].fd : ARES_SOCKET_BAD;
            ares_socket_t wfd = (pfd[i].revents & POLLOUT) ? pfd[i].fd : ARES_SOCKET_BAD;
            if (rfd != ARES_SOCKET_BAD || wfd != ARES_SOCKET_BAD)
                ares_process_fd(ch, rfd, wfd);
        }
    }
    ares_destroy(ch); /* cancels a pending query: its callback runs with ARES_EDESTRUCTION */
    if (!r.done || r.status != ARES_SUCCESS) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, r.done ? ares_strerror(r.status) : "timeout");
        return -1;
    }
    if (*n == 0) {
        snprintf(err, errlen, "no addresses for %s", host);
        return -1;
    }
    return 0;
}

static int resolve_system(const char *host, unsigned short port, selfcheck_addr_t *out, size_t max, size_t *n,
                          char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        char ip[INET6_ADDRSTRLEN];
        if (ai->ai_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, ip, sizeof(ip));
        else if (ai->ai_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, ip, sizeof(ip));
        else
            continue;
        add_unique(out, max, n, ip, port);
    }
    freeaddrinfo(res);
    if (*n == 0) {
        snprintf(err, errlen, "no addresses for %s", host);
        return -1;
    }
    return 0;
}

int selfcheck_resolve(const selfcheck_opts_t *opts, const char *host, unsigned short port, selfcheck_addr_t *out,
                      size_t max, size_t *n, char *err, size_t errlen)
{
    *n = 0;
    if (opts && opts->nameservers && *opts->nameservers)
        return resolve_ares(opts->nameservers, host, port, out, max, n, err, errlen);
    return resolve_system(host, port, out, max, n, err, errlen);
}

int selfcheck_validate_nameservers(const char *s, char *err, size_t errlen)
{
    if (!s || !*s) {
        snprintf(err, errlen, "empty nameserver list");
        return -1;
    }
    const char *p = s;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char entry[128];
        if (len == 0 || len >= sizeof(entry)) {
            snprintf(err, errlen, "invalid nameserver entry (empty or too long)");
            return -1;
        }
        memcpy(entry, p, len);
        entry[len] = '\0';
        char *host = entry, *portp;
        if (entry[0] == '[') {
            char *close = strchr(entry, ']');
            if (!close || close[1] != ':') {
                snprintf(err, errlen, "invalid nameserver %s: want [ipv6]:port", entry);
                return -1;
            }
            *close = '\0';
            host = entry + 1;
            portp = close + 2;
        } else {
            char *colon = strrchr(entry, ':');
            if (!colon) {
                snprintf(err, errlen, "invalid nameserver %s: want ip:port", entry);
                return -1;
            }
            *colon = '\0';
            portp = colon + 1;
        }
        int fam;
        char *pe = NULL;
        long port = strtol(portp, &pe, 10);
        if (!is_ip_literal(host, &fam) || (fam == AF_INET6 && entry[0] != '[') || !*portp || *pe || port < 1 ||
            port > 65535) {
            snprintf(err, errlen, "invalid nameserver %.*s: want ip:port", (int)len, p);
            return -1;
        }
        p += len;
        if (*p == ',' && *++p == '\0') {
            snprintf(err, errlen, "invalid nameserver list: trailing comma");
            return -1;
        }
    }
    return 0;
}

/* ---- proxy decision (Go net/http semantics, see header) ------------------------------------------ */

static const char *env_any(const char *a, const char *b)
{
    const char *v = getenv(a);
    if (v && *v)
        return v;
    v = getenv(b);
    return (v && *v) ? v : NULL;
}

/* Whether addr (an IP literal) is in the CIDR "net/bits". */
static bool in_cidr(const char *ip, const char *cidr)
{
    char netbuf[INET6_ADDRSTRLEN + 8];
    snprintf(netbuf, sizeof(netbuf), "%s", cidr);
    char *slash = strchr(netbuf, '/');
    if (!slash)
        return false;
    *slash = '\0';
    int bits = atoi(slash + 1);
    unsigned char a[16], b[16];
    int fam = strchr(netbuf, ':') ? AF_INET6 : AF_INET;
    size_t len = fam == AF_INET6 ? 16 : 4;
    if (inet_pton(fam, netbuf, b) != 1 || inet_pton(fam, ip, a) != 1 || bits < 0 || (size_t)bits > len * 8)
        return false;
    for (size_t i = 0; i < len && bits > 0; i++, bits -= 8) {
        unsigned char mask = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
        if ((a[i] & mask) != (b[i] & mask))
            return false;
    }
    return true;
}

static bool no_proxy_matches(const char *host)
{
    const char *np = env_any("NO_PROXY", "no_proxy");
    if (!np)
        return false;
    size_t hlen = strlen(host);
    const char *p = np;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        char e[256];
        size_t len = (size_t)(end - p);
        while (len && p[len - 1] == ' ')
            len--;
        if (len && len < sizeof(e)) {
            memcpy(e, p, len);
            e[len] = '\0';
            if (strcmp(e, "*") == 0)
                return true;
            if (strchr(e, '/')) {
                if (in_cidr(host, e))
                    return true;
            } else {
                /* strip a port ("host:80") unless it is a bare IPv6 literal, and brackets */
                char *name = e;
                if (name[0] == '[') {
                    name++;
                    char *cl = strchr(name, ']');
                    if (cl)
                        *cl = '\0';
                } else if (strchr(name, ':') == strrchr(name, ':') && strchr(name, ':')) {
                    *strchr(name, ':') = '\0';
                }
                if (name[0] == '*' && name[1] == '.')
                    name++;
                bool dot = name[0] == '.';
                const char *bare = dot ? name + 1 : name;
                size_t blen = strlen(bare);
                if (blen && strcasecmp(host, bare) == 0)
                    return true;
                if (blen && hlen > blen + 1 && host[hlen - blen - 1] == '.' &&
                    strcasecmp(host + hlen - blen, bare) == 0)
                    return true;
            }
        }
        p = end;
    }
    return false;
}

/* The proxy URL for a hop, or NULL for a direct connection (borrowed from the environment). */
static const char *proxy_for(const char *scheme, const char *host)
{
    int fam;
    if (strcasecmp(host, "localhost") == 0 || (strlen(host) > 10 && strcasecmp(host + strlen(host) - 10, ".localhost") == 0))
        return NULL;
    if (is_ip_literal(host, &fam) && (in_cidr(host, "127.0.0.0/8") || strcmp(host, "::1") == 0))
        return NULL;
    const char *proxy = strcmp(scheme, "https") == 0 ? env_any("HTTPS_PROXY", "https_proxy")
                                                      : env_any("HTTP_PROXY", "http_proxy");
    if (!proxy)
        proxy = env_any("ALL_PROXY", "all_proxy");
    if (!proxy || no_proxy_matches(host))
        return NULL;
    return proxy;
}

/* ---- one HTTP exchange ---------------------------------------------------------------------------- */

typedef struct body_buf {
    char *data;
    size_t len;
    bool truncated;
} body_buf_t;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    body_buf_t *b = ud;
    size_t n = size * nmemb;
    size_t room = SELFCHECK_MAX_BODY - b->len;
    size_t take = n < room ? n : room;
    if (take) {
        char *nd = realloc(b->data, b->len + take + 1);
        if (!nd)
            return 0;
        b->data = nd;
        memcpy(b->data + b->len, ptr, take);
        b->len += take;
        b->data[b->len] = '\0';
    }
    if (take < n) {
        b->truncated = true; /* read at most 1 MiB, like a CA; the rest is not fetched */
        return 0;
    }
    return n;
}

typedef struct check_ctx {
    const selfcheck_opts_t *opts;
    const char *key;
    size_t key_len;
    int requests;
    long long deadline_ms; /* of the whole attempt */
    char chain[SELFCHECK_MAX_REDIRECTS + 1][2048]; /* URLs of the current redirect chain (loop detection) */
    char *reason;
    size_t reasonlen;
} check_ctx_t;

static bool port_allowed(const selfcheck_opts_t *o, unsigned short port)
{
    const unsigned short *ports = o && o->allowed_ports ? o->allowed_ports : default_ports;
    size_t n = o && o->allowed_ports ? o->n_allowed_ports : sizeof(default_ports) / sizeof(default_ports[0]);
    for (size_t i = 0; i < n; i++)
        if (ports[i] == port)
            return true;
    return false;
}

static int check_url(check_ctx_t *cx, const char *url, int depth);

/* Suffix for reasons on redirected hops: "" on the first hop. */
static void hop_note(char *buf, size_t len, int depth, const char *scheme, const char *host)
{
    if (depth == 0)
        buf[0] = '\0';
    else
        snprintf(buf, len, " (after redirect to %s://%s)", scheme, host);
}

/* Fetches url once, pinned to addr (NULL: through proxy). Follows a redirect by recursing. */
static int fetch(check_ctx_t *cx, const char *url, const char *scheme, const char *host,
                 const selfcheck_addr_t *addr, const char *proxy, int depth)
{
    const selfcheck_opts_t *o = cx->opts;
    char label[INET6_ADDRSTRLEN + 64];
    char note[512];
    hop_note(note, sizeof(note), depth, scheme, host);
    if (addr)
        addr_label(addr, label, sizeof(label));
    else
        snprintf(label, sizeof(label), "%s via proxy", host);

    if (++cx->requests > MAX_REQUESTS) {
        snprintf(cx->reason, cx->reasonlen, "too many requests (more than %d addresses and redirects)",
                 MAX_REQUESTS);
        return -1;
    }
    int rc = -1;
    CURL *h = curl_easy_init();
    struct curl_slist *connect_to = NULL;
    body_buf_t body = {0};
    char ua[128];
    if (!h) {
        snprintf(cx->reason, cx->reasonlen, "out of memory");
        return -1;
    }
    long timeout = o && o->timeout_ms > 0 ? o->timeout_ms : 10000;
    long long left = cx->deadline_ms - mono_ms();
    if (left <= 0) {
        snprintf(cx->reason, cx->reasonlen, "self-check took longer than %d s", ATTEMPT_BUDGET_MS / 1000);
        curl_easy_cleanup(h);
        return -1;
    }
    if (left < timeout)
        timeout = (long)left;
    if (o && o->user_agent)
        snprintf(ua, sizeof(ua), "%s", o->user_agent);
    else
        snprintf(ua, sizeof(ua), "kacme/%s", kacme_version());

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_USERAGENT, ua);
    /* CAs do not verify the certificate of an https redirect target (RFC 8555 §8.3 allows the redirect) */
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    /* the proxy decision is ours (proxy_for): tell curl exactly, so its own env handling cannot differ */
    curl_easy_setopt(h, CURLOPT_PROXY, proxy ? proxy : "");
    curl_easy_setopt(h, CURLOPT_NOPROXY, "");
    if (addr) {
        char ct[INET6_ADDRSTRLEN + 16];
        /* "::addr:port": any host and port of this (fresh) handle connects to exactly this address */
        snprintf(ct, sizeof(ct), strchr(addr->ip, ':') ? "::[%s]:%u" : "::%s:%u", addr->ip, (unsigned)addr->port);
        connect_to = curl_slist_append(NULL, ct);
        if (!connect_to) {
            snprintf(cx->reason, cx->reasonlen, "out of memory");
            goto out;
        }
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, connect_to);
    }

    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && body.truncated)) {
        long oserr = 0;
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
        if (cc == CURLE_COULDNT_CONNECT && oserr == ECONNREFUSED)
            snprintf(cx->reason, cx->reasonlen, "connection refused to %s%s", label, note);
        else if (cc == CURLE_COULDNT_CONNECT && oserr)
            snprintf(cx->reason, cx->reasonlen, "cannot connect to %s: %s%s", label, strerror((int)oserr), note);
        else if (cc == CURLE_OPERATION_TIMEDOUT)
            snprintf(cx->reason, cx->reasonlen, "timeout after %ld ms from %s%s", timeout, label, note);
        else
            snprintf(cx->reason, cx->reasonlen, "request to %s failed: %s%s", label, curl_easy_strerror(cc), note);
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
        char *loc = NULL;
        curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc); /* absolute, resolved against url by curl */
        if (!loc || !*loc) {
            snprintf(cx->reason, cx->reasonlen, "redirect status %ld without a usable Location from %s%s", status,
                     label, note);
            goto out;
        }
        char next[2048];
        if (strlen(loc) >= sizeof(next)) {
            snprintf(cx->reason, cx->reasonlen, "redirect location too long from %s%s", label, note);
            goto out;
        }
        snprintf(next, sizeof(next), "%s", loc);
        curl_easy_cleanup(h);
        h = NULL;
        rc = check_url(cx, next, depth + 1);
        goto out;
    }
    if (status != 200) {
        snprintf(cx->reason, cx->reasonlen, "wrong status code %ld from %s (expected 200)%s", status, label, note);
        goto out;
    }
    size_t len = body.len;
    while (len > 0 && (body.data[len - 1] == ' ' || body.data[len - 1] == '\t' || body.data[len - 1] == '\r' ||
                       body.data[len - 1] == '\n'))
        len--;
    if (len != cx->key_len || (len && memcmp(body.data, cx->key, len) != 0)) {
        /* the received body is not quoted: it is peer data and could be anything */
        snprintf(cx->reason, cx->reasonlen, "body mismatch from %s%s%s", label, len ? "" : " (empty body)", note);
        goto out;
    }
    rc = 0;
out:
    if (h)
        curl_easy_cleanup(h);
    curl_slist_free_all(connect_to);
    free(body.data);
    return rc;
}

/* Checks one URL: resolves its host and fetches it from every address (or once via a proxy). */
static int check_url(check_ctx_t *cx, const char *url, int depth)
{
    const selfcheck_opts_t *o = cx->opts;
    int rc = -1;
    char *scheme = NULL, *host = NULL, *port_s = NULL, *norm = NULL;
    CURLU *u = curl_url();
    if (!u) {
        snprintf(cx->reason, cx->reasonlen, "out of memory");
        return -1;
    }
    if (depth > SELFCHECK_MAX_REDIRECTS) {
        snprintf(cx->reason, cx->reasonlen, "too many redirects");
        goto out;
    }
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port_s, CURLU_DEFAULT_PORT) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &norm, 0) != CURLUE_OK) {
        snprintf(cx->reason, cx->reasonlen, "%s", depth ? "redirect to an invalid URL" : "invalid challenge URL");
        goto out;
    }
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        snprintf(cx->reason, cx->reasonlen, "redirect to unsupported scheme %.16s", scheme);
        goto out;
    }
    long port = strtol(port_s, NULL, 10);
    if (depth > 0 && !port_allowed(o, (unsigned short)port)) {
        snprintf(cx->reason, cx->reasonlen, "redirect to unsupported port %ld", port);
        goto out;
    }
    for (int i = 0; i < depth; i++) {
        if (strcmp(cx->chain[i], norm) == 0) {
            snprintf(cx->reason, cx->reasonlen, "redirect loop");
            goto out;
        }
    }
    snprintf(cx->chain[depth], sizeof(cx->chain[depth]), "%s", norm);

    /* CURLUPART_HOST gives IPv6 literals in brackets */
    char bare[256];
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']')
        snprintf(bare, sizeof(bare), "%.*s", (int)(hl - 2), host + 1);
    else
        snprintf(bare, sizeof(bare), "%s", host);

    const char *proxy = proxy_for(scheme, bare);
    if (proxy) {
        rc = fetch(cx, norm, scheme, host, NULL, proxy, depth);
        goto out;
    }
    selfcheck_addr_t addrs[SELFCHECK_MAX_ADDRS];
    size_t n = 0;
    int fam;
    if (is_ip_literal(bare, &fam)) {
        add_unique(addrs, SELFCHECK_MAX_ADDRS, &n, bare, (unsigned short)port);
    } else {
        char err[256] = "";
        int r = o && o->resolve ? o->resolve(o->resolve_ud, bare, (unsigned short)port, addrs, SELFCHECK_MAX_ADDRS,
                                             &n, err, sizeof(err))
                                : selfcheck_resolve(o, bare, (unsigned short)port, addrs, SELFCHECK_MAX_ADDRS, &n,
                                                    err, sizeof(err));
        if (r != 0 || n == 0) {
            char note[512];
            hop_note(note, sizeof(note), depth, scheme, host);
            snprintf(cx->reason, cx->reasonlen, "%s%s", *err ? err : "no addresses", note);
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (fetch(cx, norm, scheme, host, &addrs[i], NULL, depth) != 0)
            goto out;
    }
    rc = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port_s);
    curl_free(norm);
    curl_url_cleanup(u);
    return rc;
}

int selfcheck_run_once(const selfcheck_opts_t *opts, const char *dns_name, const char *token, const char *key,
                       char *reason, size_t reasonlen)
{
    /* an empty key would make an empty body pass */
    if (!dns_name || !*dns_name || !token || !*token || !key || !*key || strlen(dns_name) > 253 ||
        strlen(token) > 512 || strlen(key) > 4096) {
        snprintf(reason, reasonlen, "invalid self-check arguments");
        return -1;
    }
    check_ctx_t *cx = calloc(1, sizeof(*cx));
    if (!cx) {
        snprintf(reason, reasonlen, "out of memory");
        return -1;
    }
    cx->opts = opts;
    cx->key = key;
    cx->key_len = strlen(key);
    cx->reason = reason;
    cx->reasonlen = reasonlen;
    cx->deadline_ms = mono_ms() + ATTEMPT_BUDGET_MS;
    reason[0] = '\0';

    unsigned port = opts && opts->port ? opts->port : 80;
    char url[1024];
    int fam;
    bool v6 = is_ip_literal(dns_name, &fam) && fam == AF_INET6;
    if (port == 80)
        snprintf(url, sizeof(url), v6 ? "http://[%s]/.well-known/acme-challenge/%s" : "http://%s/.well-known/acme-challenge/%s",
                 dns_name, token);
    else
        snprintf(url, sizeof(url),
                 v6 ? "http://[%s]:%u/.well-known/acme-challenge/%s" : "http://%s:%u/.well-known/acme-challenge/%s",
                 dns_name, port, token);
    int rc = check_url(cx, url, 0);
    free(cx);
    return rc;
}

/* ---- consecutive passes tracker ------------------------------------------------------------------ */

#define TRACKER_BUCKETS 256

typedef struct entry {
    struct entry *next;
    unsigned passes;
    long long last_pass_ms;
    char uid[];
} entry_t;

struct selfcheck_tracker {
    pthread_mutex_t mu;
    unsigned required;
    long long spacing_ms;
    size_t size;
    entry_t *buckets[TRACKER_BUCKETS];
};

static size_t bucket_of(const char *uid)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)uid; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % TRACKER_BUCKETS;
}

static entry_t **find(selfcheck_tracker_t *t, const char *uid)
{
    entry_t **pp = &t->buckets[bucket_of(uid)];
    while (*pp && strcmp((*pp)->uid, uid) != 0)
        pp = &(*pp)->next;
    return pp;
}

static void drop(selfcheck_tracker_t *t, entry_t **pp)
{
    entry_t *e = *pp;
    if (!e)
        return;
    *pp = e->next;
    free(e);
    t->size--;
}

selfcheck_tracker_t *selfcheck_tracker_new(unsigned required_passes, long long spacing_ms)
{
    selfcheck_tracker_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    t->required = required_passes ? required_passes : 1;
    t->spacing_ms = spacing_ms > 0 ? spacing_ms : 0;
    return t;
}

void selfcheck_tracker_free(selfcheck_tracker_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < TRACKER_BUCKETS; i++)
        while (t->buckets[i])
            drop(t, &t->buckets[i]);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

long long selfcheck_tracker_wait_ms(selfcheck_tracker_t *t, const char *uid, long long now_ms)
{
    pthread_mutex_lock(&t->mu);
    entry_t *e = *find(t, uid);
    long long wait = 0;
    if (e && e->passes > 0 && now_ms < e->last_pass_ms + t->spacing_ms)
        wait = e->last_pass_ms + t->spacing_ms - now_ms;
    pthread_mutex_unlock(&t->mu);
    return wait;
}

enum selfcheck_verdict selfcheck_tracker_record(selfcheck_tracker_t *t, const char *uid, bool passed,
                                                long long now_ms, long long *after_ms)
{
    enum selfcheck_verdict v;
    long long after = 0;
    pthread_mutex_lock(&t->mu);
    entry_t **pp = find(t, uid);
    if (!passed) {
        drop(t, pp);
        v = SELFCHECK_FAILED;
        goto out;
    }
    entry_t *e = *pp;
    if (e && e->passes > 0 && now_ms < e->last_pass_ms + t->spacing_ms) {
        after = e->last_pass_ms + t->spacing_ms - now_ms; /* too early to count */
        v = SELFCHECK_PENDING;
        goto out;
    }
    if (!e) {
        size_t l = strlen(uid);
        e = calloc(1, sizeof(*e) + l + 1);
        if (!e) {
            after = t->spacing_ms; /* cannot count: try again later */
            v = SELFCHECK_PENDING;
            goto out;
        }
        memcpy(e->uid, uid, l + 1);
        *pp = e;
        t->size++;
    }
    e->passes++;
    e->last_pass_ms = now_ms;
    if (e->passes >= t->required) {
        drop(t, pp);
        v = SELFCHECK_PASSED;
    } else {
        after = t->spacing_ms;
        v = SELFCHECK_PENDING;
    }
out:
    pthread_mutex_unlock(&t->mu);
    if (after_ms)
        *after_ms = after;
    return v;
}

void selfcheck_tracker_forget(selfcheck_tracker_t *t, const char *uid)
{
    pthread_mutex_lock(&t->mu);
    drop(t, find(t, uid));
    pthread_mutex_unlock(&t->mu);
}

size_t selfcheck_tracker_gc(selfcheck_tracker_t *t, long long now_ms, long long max_age_ms)
{
    size_t dropped = 0;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < TRACKER_BUCKETS; i++) {
        entry_t **pp = &t->buckets[i];
        while (*pp) {
            if (now_ms - (*pp)->last_pass_ms > max_age_ms) {
                drop(t, pp);
                dropped++;
            } else {
                pp = &(*pp)->next;
            }
        }
    }
    pthread_mutex_unlock(&t->mu);
    return dropped;
}

unsigned selfcheck_tracker_passes(selfcheck_tracker_t *t, const char *uid)
{
    pthread_mutex_lock(&t->mu);
    entry_t *e = *find(t, uid);
    unsigned n = e ? e->passes : 0;
    pthread_mutex_unlock(&t->mu);
    return n;
}

size_t selfcheck_tracker_size(selfcheck_tracker_t *t)
{
    pthread_mutex_lock(&t->mu);
    size_t n = t->size;
    pthread_mutex_unlock(&t->mu);
    return n;
}
