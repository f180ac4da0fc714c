/* inplace_sort.h - an allocation-free sort for the per-sweep helpers.
 *
 * glibc's qsort (before 2.37) mallocs a merge buffer for arrays over 1 KiB, and the
 * cardinality cap and tensor-parallel grouping run on every sweep, where the attribution
 * promises no allocation in steady state. Heapsort: O(n log n), in place, not stable, so
 * comparators must be total orders (every caller breaks ties by pid or GPU). */
#ifndef GPUSCOPE_WORKLOAD_INPLACE_SORT_H
#define GPUSCOPE_WORKLOAD_INPLACE_SORT_H

#include <stddef.h>

void inplace_sort(void *base, size_t count, size_t size,
                  int (*compare)(const void *, const void *));

#endif
