/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Certificates for the unit tests that need them, made fresh in a temporary
 * directory by tests/lib/mkcerts.sh (path in $MKCERTS); see that script for
 * the names. */
#ifndef REALCOM_TESTCERTS_H
#define REALCOM_TESTCERTS_H

/* cmocka group setup and teardown */
int testcerts_setup(void **state);
int testcerts_teardown(void **state);
/* DIR/name; each call returns its own buffer (the last 16 stay valid). */
const char *testcerts_path(const char *name);

#endif
