/* cap.c - keep the top K processes by memory, fold the rest; see cap.h. */
#include "workload/cap.h"

#include <assert.h>
#include <string.h>

#include "workload/inplace_sort.h"

static int compare_memory_desc_pid_asc(const void *a, const void *b)
{
	const struct cap_entry *x = a, *y = b;
	if (x->memory_bytes != y->memory_bytes)
		return x->memory_bytes > y->memory_bytes ? -1 : 1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

size_t cap_top_k(struct cap_entry *entries, size_t n, size_t k, struct cap_other *other)
{
	assert(other);
	assert(n == 0 || entries);
	memset(other, 0, sizeof(*other));
	inplace_sort(entries, n, sizeof(*entries), compare_memory_desc_pid_asc);
	size_t kept = n < k ? n : k;
	for (size_t i = kept; i < n; i++) {
		const struct cap_entry *e = &entries[i];
		assert(i == 0 || compare_memory_desc_pid_asc(&entries[i - 1], e) <= 0);
		other->count++;
		other->memory_bytes += e->memory_bytes;
		if (e->sm_util_valid) {
			other->sm_util += e->sm_util;
			other->sm_util_valid = true;
		}
		if (e->cpu_valid) {
			other->cpu_cores += e->cpu_cores;
			other->cpu_valid = true;
		}
	}
	return kept;
}
