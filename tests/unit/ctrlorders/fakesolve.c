/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test tool for it_orders.sh (stands in for the challenges controller): with the issuer's account key,
 * tells the ACME server to validate one challenge and polls its authorization (100 ms apart, at most 20 s)
 * until it leaves "pending". Prints "<authz state>\t<the challenge error as type: detail, or empty>".
 *
 * usage: ctrlorders_fakesolve DIRECTORY_URL CA_FILE ACCOUNT_KEY_PEM_FILE CHALLENGE_URL AUTHZ_URL
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme/acme.h"

static int die(const char *what, const acme_error_t *e)
{
    char buf[700] = "";
    if (e)
        acme_error_format(e, buf, sizeof(buf));
    fprintf(stderr, "fakesolve: %s: %s\n", what, buf);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s DIRECTORY_URL CA_FILE ACCOUNT_KEY_PEM_FILE CHALLENGE_URL AUTHZ_URL\n", argv[0]);
        return 2;
    }
    char pem[16384], err[256];
    FILE *f = fopen(argv[3], "r");
    if (!f)
        return die("cannot open the key file", NULL);
    size_t n = fread(pem, 1, sizeof(pem), f);
    fclose(f);
    acme_key_t *k = acme_key_from_pem(pem, n, err, sizeof(err));
    if (!k) {
        fprintf(stderr, "fakesolve: key: %s\n", err);
        return 1;
    }
    acme_client_opts_t o = {.directory_url = argv[1], .ca_file = argv[2]};
    acme_client_t *c = acme_client_new(&o, k, err, sizeof(err));
    acme_key_free(k);
    if (!c) {
        fprintf(stderr, "fakesolve: client: %s\n", err);
        return 1;
    }
    acme_error_t e;
    acme_account_t *a = NULL;
    if (acme_account_lookup(c, &a, &e) != 0)
        return die("account lookup", &e);
    acme_account_free(a);
    if (acme_challenge_accept(c, argv[4], NULL, &e) != 0)
        return die("accept", &e);
    for (int i = 0; i < 200; i++) {
        acme_authz_t *az = NULL;
        if (acme_authz_get(c, argv[5], &az, &e) != 0)
            return die("authorization", &e);
        if (az->status != ACME_STATUS_PENDING) {
            char reason[700] = "";
            for (size_t j = 0; j < az->n_challenges; j++)
                if (az->challenges[j].error)
                    acme_error_format(az->challenges[j].error, reason, sizeof(reason));
            printf("%s\t%s\n", acme_status_name(az->status), reason);
            acme_authz_free(az);
            acme_client_free(c);
            return 0;
        }
        acme_authz_free(az);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    acme_client_free(c);
    return die("the authorization stayed pending", NULL);
}
