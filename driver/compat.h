/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h: every difference between the kernels realcom.ko is built for
 * (Debian 12's 6.1 and 6.12, and what lies between) lives here, as a type
 * name the driver's .c files use in their prototypes, so that they read as
 * code for one kernel.  Nothing else in the driver tests LINUX_VERSION_CODE.
 *
 * Differences that need no guard because both kernels already agree:
 * set_termios() takes a const struct ktermios * (6.1), write_room() and
 * chars_in_buffer() return unsigned int (5.14), tty_insert_flip_char() is a
 * static inline in both (6.1 reaches the old __tty_insert_flip_char(), 6.12
 * __tty_insert_flip_string_flags(); the driver calls only the inline), and
 * tty_port_tty_hangup() keeps its signature (a function in 6.1, an inline
 * over __tty_port_tty_hangup() in 6.12).  no_llseek is gone in 6.12:
 * dev.c does not name it (stream_open() makes the file unseekable).
 */
#ifndef REALCOM_COMPAT_H
#define REALCOM_COMPAT_H

#include <linux/types.h>
#include <linux/version.h>

/* 6.6: tty_operations.write takes (const u8 *, size_t), returns ssize_t. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
#define REALCOM_WRITE_RET	ssize_t
#define REALCOM_WRITE_LEN	size_t
#else
#define REALCOM_WRITE_RET	int
#define REALCOM_WRITE_LEN	int
#endif

/* 6.8: tty_operations.send_xchar takes a u8 (was char). */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
#define REALCOM_XCHAR		u8
#else
#define REALCOM_XCHAR		char
#endif

/*
 * 6.3: tty_port_operations.carrier_raised returns bool and dtr_rts takes a
 * bool (both were int).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define REALCOM_PORT_BOOL	bool
#else
#define REALCOM_PORT_BOOL	int
#endif

/*
 * tty_check_change() is exported (EXPORT_SYMBOL) by 6.1 and 6.12 alike but
 * declared only in drivers/tty/tty.h, which out-of-tree modules cannot
 * include; same signature in both.
 */
struct tty_struct;
int tty_check_change(struct tty_struct *tty);

#endif /* REALCOM_COMPAT_H */
