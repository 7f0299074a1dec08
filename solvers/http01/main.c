/* SPDX-License-Identifier: Apache-2.0 */
/* kacme-acmesolver: serves one ACME HTTP-01 challenge response (RFC 8555 §8.3) from the solver pod. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "acmesolver.h"
#include "util/log.h"
#include "util/version.h"

static acmesolver_server_t *g_server;

static void on_signal(int sig)
{
    (void)sig;
    acmesolver_server_stop(g_server); /* async-signal-safe: one write(2) to a pipe */
}

int main(int argc, char **argv)
{
    acmesolver_config_t cfg;
    char err[ACMESOLVER_ERR_LEN];

    int rc = acmesolver_parse_args(argc, argv, &cfg, err, sizeof(err));
    if (rc == 1) {
        printf("%s\n", err);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "kacme-acmesolver: %s\n", err);
        return 2;
    }
    log_setup(cfg.verbosity, LOG_FORMAT_TEXT);

    g_server = acmesolver_server_new(&cfg, false, err, sizeof(err));
    if (!g_server) {
        LOG_ERROR("cannot listen", "error", err);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char port[8];
    snprintf(port, sizeof(port), "%d", acmesolver_server_port(g_server));
    /* never the token or the key */
    LOG_INFO("listening", "component", "kacme-acmesolver", "version", kacme_version(), "port", port, "domain",
             cfg.domain);
    rc = acmesolver_server_run(g_server);
    acmesolver_server_free(g_server);
    LOG_INFO("stopped");
    return rc == 0 ? 0 : 1;
}
