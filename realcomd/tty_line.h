/* SPDX-License-Identifier: GPL-2.0-or-later */
/* termios <-> struct serial_line, with termios2 so custom (BOTHER) rates
 * come through.  Kept apart: <asm/termbits.h> cannot meet <termios.h>. */
#ifndef REALCOMD_TTY_LINE_H
#define REALCOMD_TTY_LINE_H

#include "serial.h"

/* Read fd's termios into line (modem untouched); 0 or -errno. */
int tty_line_get(int fd, struct serial_line *line);
/* Set fd's hardware settings from line: both rates and c_cflag's CSIZE,
 * parity, CSTOPB and CRTSCTS (what LINE_APPLIED sets, docs/uapi.md);
 * c_iflag and the control characters stay as they are. */
int tty_line_set(int fd, const struct serial_line *line);

#endif
