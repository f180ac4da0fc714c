/* process_table.c - a GPU's process table, shared by reference (see process_table.h). */
#include "series/process_table.h"

#include <stdlib.h>

struct process_table *process_table_new(unsigned cap)
{
	if (cap > GPU_MAX_PROCESSES)
		cap = GPU_MAX_PROCESSES;
	struct process_table *t = calloc(1, sizeof(*t) + cap * sizeof(t->proc[0]));
	if (!t)
		return NULL;
	atomic_init(&t->refs, 1);
	t->cap = cap;
	return t;
}

const struct process_table *process_table_ref(const struct process_table *t)
{
	if (t)
		atomic_fetch_add(&((struct process_table *)t)->refs, 1);
	return t;
}

void process_table_unref(struct process_table *t)
{
	if (t && atomic_fetch_sub(&t->refs, 1) == 1)
		free(t);
}

bool process_family_value(enum process_family f, const struct process_record *r, double *v)
{
	switch (f) {
	case PROC_FAMILY_MEMORY:
		*v = r->memory_bytes;
		return r->memory_valid;
	case PROC_FAMILY_SM:
		*v = r->sm_util / 100.0;
		return r->util_valid;
	case PROC_FAMILY_CPU:
		*v = r->cpu_cores;
		return r->cpu_valid;
	default:
#ifdef GPUSCOPE_PROCESS_FAMILY_VALUE_EXTRA
		GPUSCOPE_PROCESS_FAMILY_VALUE_EXTRA(f, r, v) /* the test build's extra family */
#endif
		return false;
	}
}
