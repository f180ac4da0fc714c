/* attrib_table.c - slots, pid index and free stack; see attrib_table.h. */
#include "workload/attrib_table.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Slots are 2.4 KB each and zeroed when made: 32 (77 KB) cover a node's GPU processes,
 * and the table doubles past that. */
#define INITIAL_CAPACITY 32

static size_t pid_hash(pid_t pid, size_t mask)
{
	return ((uint32_t)pid * 2654435761u) & mask; /* Knuth's multiplicative hash */
}

static void index_insert(struct attrib_table *t, pid_t pid, uint32_t slot)
{
	size_t h = pid_hash(pid, t->index_mask);
	while (t->index[h] >= 0)
		h = (h + 1) & t->index_mask;
	t->index[h] = (int32_t)slot;
}

void attrib_table_rebuild_index(struct attrib_table *t)
{
	for (size_t i = 0; i <= t->index_mask; i++)
		t->index[i] = -1;
	for (size_t s = 0; s < t->capacity; s++)
		if (t->entries[s].in_use)
			index_insert(t, t->entries[s].proc.pid, (uint32_t)s);
}

bool attrib_table_grow(struct attrib_table *t)
{
	size_t old_cap = t->capacity;
	size_t new_cap = old_cap ? old_cap * 2 : INITIAL_CAPACITY;
	size_t index_size = 1;
	while (index_size < new_cap * 2)
		index_size <<= 1;
	/* Each realloc that succeeds is kept even if a later one fails: arrays larger than
	 * capacity are harmless, and capacity moves only at the end. */
	struct attrib_entry *entries = realloc(t->entries, new_cap * sizeof(*entries));
	if (!entries)
		return false;
	t->entries = entries;
	uint32_t *free_slots = realloc(t->free_slots, new_cap * sizeof(*free_slots));
	if (!free_slots)
		return false;
	t->free_slots = free_slots;
	uint32_t *results = realloc(t->results, new_cap * sizeof(*results));
	if (!results)
		return false;
	t->results = results;
	int32_t *index = malloc(index_size * sizeof(*index));
	if (!index)
		return false;
	free(t->index);
	t->index = index;
	t->index_mask = index_size - 1;
	memset(t->entries + old_cap, 0, (new_cap - old_cap) * sizeof(*entries));
	for (size_t s = new_cap; s-- > old_cap;) /* lowest new slot on top of the stack */
		t->free_slots[t->free_count++] = (uint32_t)s;
	t->capacity = new_cap;
	attrib_table_rebuild_index(t);
	return true;
}

int32_t attrib_table_find(const struct attrib_table *t, pid_t pid)
{
	if (!t->capacity)
		return -1;
	size_t h = pid_hash(pid, t->index_mask);
	for (;;) {
		int32_t s = t->index[h];
		if (s < 0 || t->entries[s].proc.pid == pid)
			return s;
		h = (h + 1) & t->index_mask;
	}
}

int32_t attrib_table_acquire(struct attrib_table *t, pid_t pid)
{
	assert(attrib_table_find(t, pid) < 0);
	if (t->free_count == 0 && !attrib_table_grow(t))
		return -1;
	assert(t->free_count > 0 && t->in_use < t->capacity);
	uint32_t s = t->free_slots[--t->free_count];
	struct attrib_entry *e = &t->entries[s];
	assert(!e->in_use);
	memset(e, 0, sizeof(*e));
	e->in_use = true;
	e->stat_fd = -1;
	e->pidfd = -1;
	e->proc.pid = pid;
	index_insert(t, pid, s);
	t->in_use++;
	return (int32_t)s;
}

void attrib_table_release(struct attrib_table *t, uint32_t slot)
{
	assert(slot < t->capacity && t->entries[slot].in_use);
	assert(t->entries[slot].stat_fd < 0 && t->entries[slot].pidfd < 0); /* the owner closes */
	t->entries[slot].in_use = false;
	t->free_slots[t->free_count++] = slot;
	t->in_use--;
	assert(t->free_count <= t->capacity);
}

void attrib_table_free(struct attrib_table *t)
{
	free(t->entries);
	free(t->free_slots);
	free(t->results);
	free(t->index);
	memset(t, 0, sizeof(*t));
}
