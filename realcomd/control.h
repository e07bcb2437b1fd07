/* SPDX-License-Identifier: GPL-2.0-or-later */
/* realcomd's JSON control socket; the format is in realcomctl(8). */
#ifndef REALCOMD_CONTROL_H
#define REALCOMD_CONTROL_H

#include <stddef.h>

#include "port.h"

/* Re-read the configuration: 0 with summary, or -1 with err. */
typedef int control_reload_fn(struct daemon *d, char *summary, size_t len, char *err);

int control_open(struct daemon *d, const char *path, control_reload_fn *reload);
void control_close(void);

#endif
