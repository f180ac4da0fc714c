/* process_table.c - a GPU's process table, shared by reference (see process_table.h). */
#include "series/process_table.h"

#include <stdlib.h>

struct process_table *process_table_new(void)
{
	struct process_table *t = calloc(1, sizeof(*t));
	if (t)
		atomic_init(&t->refs, 1);
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
