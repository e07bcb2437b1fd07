// SPDX-License-Identifier: GPL-2.0-or-later
/* Test certificates made at run time; see testcerts.h. */
#include <stdio.h>
#include <stdlib.h>

#include "testcerts.h"

static char dir[] = "/tmp/realcom-certs-XXXXXX";

int testcerts_setup(void **state)
{
	const char *mk = getenv("MKCERTS");
	char cmd[512];

	if (!mk || !mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "sh '%s' '%s' >/dev/null 2>&1", mk, dir);
	return system(cmd) == 0 ? 0 : -1;
}

int testcerts_teardown(void **state)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

const char *testcerts_path(const char *name)
{
	static char buf[16][256];
	static unsigned int next;
	char *p = buf[next++ % 16];

	snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	return p;
}
