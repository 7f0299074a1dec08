/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KACME_HTTP_H
#define KACME_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * The one libcurl wrapper. A client holds TLS settings and a connection cache shared by every request
 * made through it (keep-alive, TLS sessions, DNS); each http_do() uses its own easy handle, so one client
 * may be used from many threads at once. HTTP/2 is negotiated over TLS where libcurl and the peer offer it.
 *
 * Return conventions: constructors return a pointer or NULL with err filled; http_do() returns 0 when a
 * response arrived (whatever its status: the status is data) and -1 on transport failure, timeout,
 * size-cap overflow or an aborting stream callback, with err filled.
 *
 * curl_global_init() must have run once in main before the first client is made (http_global_init()).
 */

#define HTTP_ERR_LEN 256

typedef struct http_client http_client_t;

typedef struct http_client_opts {
    const char *ca_file;          /* PEM bundle file to trust instead of the system store; NULL: system */
    const char *ca_pem;           /* PEM bundle in memory (wins over ca_file); NULL: none */
    const char *client_cert_pem;  /* client certificate PEM in memory (kubeconfig client-certificate-data) */
    const char *client_key_pem;   /* its private key PEM in memory */
    bool insecure_skip_verify;    /* no peer or host verification (only when the user asked for it) */
    bool https_only;              /* refuse http:// URLs and redirects to them (ACME: RFC 8555 §6.1) */
    long connect_timeout_ms;      /* 0: 10 s */
    const char *user_agent;       /* NULL: "kacme/<version>" */
} http_client_opts_t;

/* Called with each chunk of a streamed body (watch streams). Return 0 to go on, -1 to abort the
 * transfer (http_do then returns -1 with err "aborted by callback"). */
typedef int (*http_stream_fn)(void *ud, const char *data, size_t len);

typedef struct http_request {
    const char *method;             /* "GET", "POST", ...; NULL: GET */
    const char *url;
    const char *const *headers;     /* NULL-terminated "Name: value" strings, or NULL */
    const void *body;               /* request body (borrowed) or NULL */
    size_t body_len;
    long timeout_ms;                /* whole-transfer timeout; 0: 30 s; -1: none (streams use low_speed) */
    long low_speed_time_s;          /* abort when < 1 byte/s for this long (streams); 0: off */
    size_t max_body;                /* response body cap in bytes; 0: 16 MiB. Exceeding it is an error */
    http_stream_fn on_data;         /* when set, the body is streamed to it and not collected */
    void *on_data_ud;
    const atomic_int *abort_flag;   /* when non-NULL and *abort_flag != 0, the transfer is aborted within
                                       about a second even while the peer is silent (orderly shutdown of
                                       watch streams); http_do returns -1 with err "aborted" */
} http_request_t;

typedef struct http_header {
    char *name;   /* as received */
    char *value;  /* trimmed */
} http_header_t;

typedef struct http_response {
    long status;              /* HTTP status code of the final response */
    char *body;               /* NUL-terminated, owned; NULL when streamed or empty */
    size_t body_len;
    http_header_t *headers;   /* of the final response, owned */
    size_t n_headers;
    double total_s;           /* transfer time in seconds */
} http_response_t;

/* Once per process, before threads. Returns 0 or -1. */
int http_global_init(void);

/* New client; strings in opts are copied. NULL on error with err filled. */
http_client_t *http_client_new(const http_client_opts_t *opts, char *err, size_t errlen);
void http_client_free(http_client_t *c);

/* Performs one request. resp is filled (and must be released with http_response_clear) when 0 is
 * returned; on -1 resp holds nothing to free. Redirects are not followed. */
int http_do(http_client_t *c, const http_request_t *req, http_response_t *resp, char *err, size_t errlen);

/* First header named name (case-insensitive) or NULL; borrowed from resp. */
const char *http_response_header(const http_response_t *resp, const char *name);

/* Every header value named name, in order; calls fn for each. */
void http_response_each_header(const http_response_t *resp, const char *name,
                               void (*fn)(void *ud, const char *value), void *ud);

/* Frees what resp owns and zeroes it; NULL-safe. */
void http_response_clear(http_response_t *resp);

#endif
