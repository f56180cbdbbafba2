/*
 * vmopts.h - how the heap's memory is asked of the kernel (vm.c).
 *
 * gm_os_huge_pages: when true (the default) committed heap memory is
 * madvise'd MADV_HUGEPAGE, so that the kernel backs it with transparent
 * huge pages where THP is in "madvise" mode, at the price of the kernel
 * compacting memory on the faults that find no free huge page (seen as
 * system time on a busy machine).  When false the heap takes whatever the
 * kernel's default is.  Set before the heap grows; applies to memory
 * committed from then on.
 */
#ifndef GM_OS_VMOPTS_H
#define GM_OS_VMOPTS_H

#include <stdbool.h>

extern bool gm_os_huge_pages;

#endif
