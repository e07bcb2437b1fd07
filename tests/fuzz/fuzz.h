/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What every libFuzzer target here shares: the entry point and CHECK(),
 * which stops the run on a broken invariant. */
#ifndef REALCOM_FUZZ_H
#define REALCOM_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#define CHECK(cond)					\
	do {						\
		if (!(cond))				\
			__builtin_trap();		\
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
