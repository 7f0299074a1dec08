/* SPDX-License-Identifier: Apache-2.0 */
/* Keeps the core OBJECT library non-empty until the module lands. */
typedef int kacme_placeholder_t;
