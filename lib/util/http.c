/* SPDX-License-Identifier: Apache-2.0 */
#include "http.h"
typedef int kacme_http_pending_t;
