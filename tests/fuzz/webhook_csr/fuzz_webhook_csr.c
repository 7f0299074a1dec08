/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes wcsr_parse() and wcsr_pem_has_cert() with raw bytes (DER or PEM): an accepted CSR has at most
 * X509_CSR_MAX_NAMES names, each NUL-free; a refusal has a reason; never a crash, leak or hang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csr.h"
#include "x509/csr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[160] = "";
    wcsr_t *c = wcsr_parse(data, size, err, sizeof(err));
    if (!c && !err[0])
        abort();
    if (c) {
        if (c->n_dns + c->n_ip > X509_CSR_MAX_NAMES || (c->common_name && !c->common_name[0]))
            abort();
        for (size_t i = 0; i < c->n_dns; i++)
            if (!c->dns_names[i])
                abort();
        for (size_t i = 0; i < c->n_ip; i++)
            if (!c->ip_addresses[i] || strlen(c->ip_addresses[i]) < 2)
                abort();
    }
    wcsr_free(c);
    (void)wcsr_pem_has_cert(data, size);
    return 0;
}
