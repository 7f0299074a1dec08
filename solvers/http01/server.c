/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kacme-acmesolver's HTTP/1.x server: one thread, poll(2), one request per connection (Connection: close).
 *
 * Why not libmicrohttpd: Debian's build links GnuTLS and its dependencies, which alone put the process at
 * ~4.2 MB RSS before the first request; the solver's budget is 2 MB. The protocol subset needed here (a GET
 * or HEAD with a few headers, a fixed small answer) is small enough to parse strictly by hand.
 */
#include "acmesolver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#define LINGER_MS 1000     /* lingering close: drain what the peer still sends so our answer is not reset */
#define SHUTDOWN_GRACE_MS 2000

enum conn_state { CONN_READ, CONN_WRITE, CONN_DRAIN };

typedef struct conn {
    int fd;
    enum conn_state state;
    long long deadline_ms;
    size_t len;                    /* bytes of head in buf */
    char buf[ACMESOLVER_MAX_HEAD + 1];
    char *out;                     /* response, owned */
    size_t out_len, out_off;
    char remote[INET6_ADDRSTRLEN + 8];
} conn_t;

struct acmesolver_server {
    const acmesolver_config_t *cfg; /* borrowed */
    int listen_fd;
    int port;
    int wake[2];                    /* self-pipe: stop() writes, run() polls */
    conn_t *conns[ACMESOLVER_MAX_CONNS];
    size_t n_conns;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

acmesolver_server_t *acmesolver_server_new(const acmesolver_config_t *cfg, bool loopback_only, char *err,
                                           size_t errlen)
{
    acmesolver_server_t *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->cfg = cfg;
    srv->listen_fd = -1;
    srv->wake[0] = srv->wake[1] = -1;
    if (pipe2(srv->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    int one = 1;
    if (!loopback_only) {
        int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            int zero = 0;
            struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)cfg->listen_port),
                                      .sin6_addr = IN6ADDR_ANY_INIT};
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
            if (bind(fd, (struct sockaddr *)&a6, sizeof(a6)) == 0)
                srv->listen_fd = fd;
            else
                close(fd);
        }
    }
    if (srv->listen_fd < 0) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            snprintf(err, errlen, "socket: %s", strerror(errno));
            goto fail;
        }
        struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->listen_port)};
        a4.sin_addr.s_addr = htonl(loopback_only ? INADDR_LOOPBACK : INADDR_ANY);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&a4, sizeof(a4)) != 0) {
            snprintf(err, errlen, "bind port %d: %s", cfg->listen_port, strerror(errno));
            close(fd);
            goto fail;
        }
        srv->listen_fd = fd;
    }
    if (listen(srv->listen_fd, 128) != 0) {
        snprintf(err, errlen, "listen: %s", strerror(errno));
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(srv->listen_fd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(err, errlen, "getsockname: %s", strerror(errno));
        goto fail;
    }
    srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    return srv;
fail:
    acmesolver_server_free(srv);
    return NULL;
}

int acmesolver_server_port(const acmesolver_server_t *srv)
{
    return srv->port;
}

void acmesolver_server_stop(acmesolver_server_t *srv)
{
    if (srv && srv->wake[1] >= 0) {
        int saved = errno;
        ssize_t w = write(srv->wake[1], "x", 1);
        (void)w;
        errno = saved;
    }
}

static void conn_close(acmesolver_server_t *srv, size_t i)
{
    conn_t *c = srv->conns[i];
    close(c->fd);
    free(c->out);
    free(c);
    srv->conns[i] = srv->conns[--srv->n_conns];
    srv->conns[srv->n_conns] = NULL;
}

void acmesolver_server_free(acmesolver_server_t *srv)
{
    if (!srv)
        return;
    while (srv->n_conns)
        conn_close(srv, srv->n_conns - 1);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    if (srv->wake[0] >= 0)
        close(srv->wake[0]);
    if (srv->wake[1] >= 0)
        close(srv->wake[1]);
    free(srv);
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

/* Queues the response on c and switches it to writing. */
static void conn_respond(conn_t *c, int status, const char *body, size_t body_len, bool head_only)
{
    char hdr[512];
    int n = snprintf(hdr, sizeof(hdr),
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: text/plain\r\n"
                     "Cache-Control: no-cache, no-store, must-revalidate\r\n"
                     "X-Content-Type-Options: nosniff\r\n"
                     "%s"
                     "Content-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, reason_phrase(status), status == 405 ? "Allow: GET, HEAD\r\n" : "", body_len);
    size_t blen = head_only ? 0 : body_len;
    free(c->out);
    c->out = malloc((size_t)n + blen);
    c->out_off = 0;
    c->state = CONN_WRITE;
    if (!c->out) {
        c->out_len = 0;
        return;
    }
    memcpy(c->out, hdr, (size_t)n);
    if (blen)
        memcpy(c->out + n, body, blen);
    c->out_len = (size_t)n + blen;
}

static bool is_tchar(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Parses the complete head in c->buf (NUL-terminated, head_len bytes up to and including the blank line)
 * and queues the answer. Strict: anything malformed is a 400. */
static void conn_handle(acmesolver_server_t *srv, conn_t *c, size_t head_len)
{
    char *p = c->buf;
    char *end = c->buf + head_len;
    int status;
    const char *body;
    size_t body_len;
    bool head_only = false;
    const char *what = "other";
    static const char bad[] = "400 bad request\n";

    if (memchr(c->buf, '\0', head_len))
        goto bad_request;
    /* request line: method SP target SP HTTP-version */
    char *eol = strchr(p, '\n');
    if (!eol)
        goto bad_request;
    char *line_end = (eol > p && eol[-1] == '\r') ? eol - 1 : eol;
    *line_end = '\0';
    char *sp1 = strchr(p, ' ');
    if (!sp1 || sp1 == p)
        goto bad_request;
    *sp1 = '\0';
    for (char *m = p; *m; m++)
        if (!is_tchar((unsigned char)*m))
            goto bad_request;
    char *method = p;
    char *target = sp1 + 1;
    char *sp2 = strchr(target, ' ');
    if (!sp2 || sp2 == target)
        goto bad_request;
    *sp2 = '\0';
    for (char *t = target; *t; t++)
        if ((unsigned char)*t <= 0x20 || (unsigned char)*t == 0x7f)
            goto bad_request;
    char *version = sp2 + 1;
    if (strncmp(version, "HTTP/1.", 7) != 0 || (version[7] != '0' && version[7] != '1') || version[8])
        goto bad_request;
    bool http11 = version[7] == '1';

    /* header fields */
    const char *host = NULL;
    p = eol + 1;
    while (p < end) {
        eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            goto bad_request;
        line_end = (eol > p && eol[-1] == '\r') ? eol - 1 : eol;
        *line_end = '\0';
        if (line_end == p)
            break; /* blank line: end of head */
        if (*p == ' ' || *p == '\t')
            goto bad_request; /* obsolete line folding (RFC 9112 §5.2) */
        char *colon = strchr(p, ':');
        if (!colon || colon == p)
            goto bad_request;
        for (char *n = p; n < colon; n++)
            if (!is_tchar((unsigned char)*n))
                goto bad_request;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        char *ve = v + strlen(v);
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            *--ve = '\0';
        if ((size_t)(colon - p) == 4 && strncasecmp(p, "host", 4) == 0) {
            if (host)
                goto bad_request; /* two Host fields (RFC 9112 §3.2) */
            host = v;
        }
        p = eol + 1;
    }
    if (http11 && !host)
        goto bad_request;

    head_only = strcmp(method, "HEAD") == 0;
    acmesolver_reply_t r = acmesolver_decide(srv->cfg, method, target, strlen(target), host);
    status = r.status;
    body = r.body;
    body_len = r.body_len;
    if (r.is_challenge)
        what = "challenge";
    else if (status == 200)
        what = "health";
    /* The path is never logged: it holds the token. */
    if (log_enabled(2)) {
        char st[8];
        snprintf(st, sizeof(st), "%d", status);
        LOG_V(2, "request", "remote", c->remote, "method", method, "host", host ? host : "", "route", what,
              "status", st);
    }
    conn_respond(c, status, body, body_len, head_only);
    return;

bad_request:
    LOG_V(2, "request", "remote", c->remote, "route", "malformed", "status", "400");
    conn_respond(c, 400, bad, sizeof(bad) - 1, false);
}

/* Reads what is available; answers once the head is complete. Returns false to close the connection. */
static bool conn_read(acmesolver_server_t *srv, conn_t *c)
{
    for (;;) {
        if (c->len >= ACMESOLVER_MAX_HEAD) {
            static const char msg[] = "431 request header fields too large\n";
            LOG_V(2, "request", "remote", c->remote, "route", "oversized", "status", "431");
            conn_respond(c, 431, msg, sizeof(msg) - 1, false);
            return true;
        }
        ssize_t n = read(c->fd, c->buf + c->len, ACMESOLVER_MAX_HEAD - c->len);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        if (n == 0)
            return false; /* peer went away before a complete head */
        size_t scan_from = c->len > 3 ? c->len - 3 : 0;
        c->len += (size_t)n;
        c->buf[c->len] = '\0';
        /* the head ends at the first empty line: "\r\n\r\n" or a bare "\n\n" */
        for (size_t i = scan_from; i < c->len; i++) {
            if (c->buf[i] != '\n')
                continue;
            size_t end = 0;
            if (i >= 1 && c->buf[i - 1] == '\n')
                end = i + 1;
            else if (i >= 2 && c->buf[i - 1] == '\r' && c->buf[i - 2] == '\n')
                end = i + 1;
            if (end) {
                c->buf[end] = '\0'; /* bytes after the head (a body, pipelining) are not served */
                conn_handle(srv, c, end);
                return true;
            }
        }
    }
}

static bool conn_write(conn_t *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        c->out_off += (size_t)n;
    }
    shutdown(c->fd, SHUT_WR);
    c->state = CONN_DRAIN;
    long long linger = now_ms() + LINGER_MS;
    if (linger < c->deadline_ms)
        c->deadline_ms = linger;
    return true;
}

static bool conn_drain(conn_t *c)
{
    char tmp[1024];
    for (;;) {
        ssize_t n = read(c->fd, tmp, sizeof(tmp));
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return true;
        return false;
    }
}

static void accept_some(acmesolver_server_t *srv)
{
    while (srv->n_conns < ACMESOLVER_MAX_CONNS) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(srv->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a transient error (ECONNABORTED, EMFILE): poll again later */
        conn_t *c = malloc(sizeof(*c));
        if (!c) {
            close(fd);
            return;
        }
        c->fd = fd;
        c->state = CONN_READ;
        c->deadline_ms = now_ms() + ACMESOLVER_CONN_TIMEOUT_MS;
        c->len = 0;
        c->buf[0] = '\0';
        c->out = NULL;
        c->out_len = c->out_off = 0;
        c->remote[0] = '\0';
        char ip[INET6_ADDRSTRLEN] = "";
        int port = 0;
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
                inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], ip, sizeof(ip));
            else
                inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
            port = ntohs(a->sin6_port);
        } else if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
            port = ntohs(a->sin_port);
        }
        snprintf(c->remote, sizeof(c->remote), strchr(ip, ':') ? "[%s]:%d" : "%s:%d", ip, port);
        srv->conns[srv->n_conns++] = c;
    }
}

int acmesolver_server_run(acmesolver_server_t *srv)
{
    struct pollfd pfds[2 + ACMESOLVER_MAX_CONNS];
    bool stopping = false;

    for (;;) {
        long long now = now_ms();
        /* expire connections past their deadline */
        for (size_t i = srv->n_conns; i-- > 0;) {
            if (srv->conns[i]->deadline_ms <= now)
                conn_close(srv, i);
        }
        if (stopping && srv->n_conns == 0)
            return 0;

        nfds_t n = 0;
        pfds[n++] = (struct pollfd){.fd = srv->wake[0], .events = POLLIN};
        bool listening = !stopping && srv->n_conns < ACMESOLVER_MAX_CONNS;
        pfds[n++] = (struct pollfd){.fd = listening ? srv->listen_fd : -1, .events = POLLIN};
        long long next = now + 60000;
        for (size_t i = 0; i < srv->n_conns; i++) {
            conn_t *c = srv->conns[i];
            pfds[n++] = (struct pollfd){.fd = c->fd, .events = c->state == CONN_WRITE ? POLLOUT : POLLIN};
            if (c->deadline_ms < next)
                next = c->deadline_ms;
        }
        int timeout = (int)(next - now < 0 ? 0 : next - now);
        int rc = poll(pfds, n, timeout);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            LOG_ERROR("poll failed", "error", strerror(errno));
            return -1;
        }
        if (pfds[0].revents & POLLIN) {
            char drain[16];
            while (read(srv->wake[0], drain, sizeof(drain)) > 0) {
            }
            if (!stopping) {
                stopping = true;
                LOG_INFO("shutting down", "connections", srv->n_conns ? "draining" : "none");
                long long grace = now_ms() + SHUTDOWN_GRACE_MS;
                for (size_t i = srv->n_conns; i-- > 0;) {
                    conn_t *c = srv->conns[i];
                    if (c->state == CONN_READ && c->len == 0) {
                        conn_close(srv, i); /* idle: nothing in flight */
                        continue;
                    }
                    if (c->deadline_ms > grace)
                        c->deadline_ms = grace;
                }
                close(srv->listen_fd);
                srv->listen_fd = -1;
            }
            continue; /* the pollfd indices no longer match the connections */
        }
        /* walk backwards so closing (swap with last) does not skip entries */
        size_t polled = (size_t)n - 2;
        for (size_t i = polled; i-- > 0;) {
            short re = pfds[2 + i].revents;
            if (!re || i >= srv->n_conns)
                continue;
            conn_t *c = srv->conns[i];
            bool keep = true;
            if (c->state == CONN_READ) {
                keep = (re & (POLLIN | POLLHUP | POLLERR)) ? conn_read(srv, c) : true;
                if (keep && c->state == CONN_WRITE)
                    keep = conn_write(c);
            } else if (c->state == CONN_WRITE) {
                keep = (re & (POLLERR | POLLHUP)) ? false : conn_write(c);
            } else {
                keep = conn_drain(c);
            }
            if (!keep)
                conn_close(srv, i);
        }
        if (listening && (pfds[1].revents & POLLIN))
            accept_some(srv);
    }
}
