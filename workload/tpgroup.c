/* tpgroup.c - workload keys, grouping over GPUs and skew; see tpgroup.h. */
#include "workload/tpgroup.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "workload/inplace_sort.h"

void tpgroup_key_for(const struct cgroup_identity *id, pid_t ppid, struct tpgroup_key *key)
{
	assert(key);
	memset(key, 0, sizeof(*key));
	if (id && id->container_id[0]) {
		key->kind = TPGROUP_KEY_CONTAINER;
		snprintf(key->value, sizeof(key->value), "%s", id->container_id);
	} else if (id && id->has_slurm_job) {
		key->kind = TPGROUP_KEY_SLURM_JOB;
		snprintf(key->value, sizeof(key->value), "%llu", (unsigned long long)id->slurm_job);
	} else if (id && id->pod_uid[0]) {
		key->kind = TPGROUP_KEY_POD;
		snprintf(key->value, sizeof(key->value), "%s", id->pod_uid);
	} else if (ppid > 1) {
		key->kind = TPGROUP_KEY_PARENT;
		snprintf(key->value, sizeof(key->value), "%d", (int)ppid);
	}
}

double tpgroup_skew(double min, double max, double floor)
{
	assert(floor > 0);
	if (!(max > 0))
		return 1.0;
	return max / (min > floor ? min : floor);
}

double tpgroup_imbalance(double min, double max)
{
	if (!(max > 0))
		return 0.0;
	double v = (max - min) / max;
	return v < 0 ? 0 : v > 1 ? 1 : v;
}

static int compare_keys(const struct tpgroup_key *a, const struct tpgroup_key *b)
{
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return strcmp(a->value, b->value);
}

static int compare_members(const void *a, const void *b)
{
	const struct tpgroup_member *x = a, *y = b;
	int c = compare_keys(&x->key, &y->key);
	if (c)
		return c;
	if (x->gpu != y->gpu)
		return x->gpu < y->gpu ? -1 : 1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* A launcher that is itself on a GPU (vLLM's rank 0) has a parent key naming ITS parent;
 * its workers name the launcher. Give the launcher its workers' key. O(n^2) over members:
 * n is the processes of one node (hundreds at most) and this runs once per sweep. */
static void adopt_parent_keys(struct tpgroup_member *members, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct tpgroup_member *m = &members[i];
		if (m->key.kind != TPGROUP_KEY_PARENT && m->key.kind != TPGROUP_KEY_NONE)
			continue;
		for (size_t j = 0; j < n; j++) {
			if (members[j].key.kind == TPGROUP_KEY_PARENT &&
			    members[j].ppid == m->pid && members[j].pid != m->pid) {
				m->key.kind = TPGROUP_KEY_PARENT;
				snprintf(m->key.value, sizeof(m->key.value), "%d", (int)m->pid);
				break;
			}
		}
	}
}

/* Folds one run of members with the same key into a group; false when it spans one GPU. */
static bool summarize_run(const struct tpgroup_member *members, size_t first, size_t count,
                          struct tpgroup *g)
{
	memset(g, 0, sizeof(*g));
	g->key = members[first].key;
	g->first_member = first;
	g->member_count = count;
	g->util_valid = true;
	size_t i = first;
	const size_t end = first + count;
	while (i < end) {
		unsigned gpu = members[i].gpu;
		double mem = 0, util = 0;
		for (; i < end && members[i].gpu == gpu; i++) {
			mem += (double)members[i].memory_bytes;
			if (members[i].sm_util_valid)
				util += members[i].sm_util;
			else
				g->util_valid = false;
		}
		if (g->gpu_count == 0 || mem < g->memory_min_bytes)
			g->memory_min_bytes = mem;
		if (g->gpu_count == 0 || mem > g->memory_max_bytes)
			g->memory_max_bytes = mem;
		if (g->gpu_count == 0 || util < g->util_min)
			g->util_min = util;
		if (g->gpu_count == 0 || util > g->util_max)
			g->util_max = util;
		g->gpu_count++;
	}
	if (g->gpu_count < 2)
		return false;
	g->memory_skew =
	    tpgroup_skew(g->memory_min_bytes, g->memory_max_bytes, TPGROUP_MEMORY_FLOOR_BYTES);
	g->memory_imbalance = tpgroup_imbalance(g->memory_min_bytes, g->memory_max_bytes);
	if (g->util_valid) {
		g->util_skew = tpgroup_skew(g->util_min, g->util_max, TPGROUP_UTIL_FLOOR_PERCENT);
		g->util_imbalance = tpgroup_imbalance(g->util_min, g->util_max);
	} else {
		g->util_min = g->util_max = 0;
	}
	return true;
}

size_t tpgroup_find(struct tpgroup_member *members, size_t n, struct tpgroup *groups,
                    size_t groups_cap)
{
	assert(n == 0 || members);
	assert(groups_cap == 0 || groups);
	adopt_parent_keys(members, n);
	inplace_sort(members, n, sizeof(*members), compare_members);
	size_t found = 0;
	size_t i = 0;
	while (i < n) {
		size_t j = i + 1;
		while (j < n && compare_keys(&members[j].key, &members[i].key) == 0)
			j++;
		if (members[i].key.kind != TPGROUP_KEY_NONE) {
			struct tpgroup g;
			if (summarize_run(members, i, j - i, &g)) {
				if (found < groups_cap)
					groups[found] = g;
				found++;
			}
		}
		i = j;
	}
	return found;
}
