/* inference.c - parse inference datagrams and fold them into capped histograms. */
#include "series/inference.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Bucket upper bounds (le), chosen to resolve what inference work spans: 0.5 ms to 10 s,
 * 1 KiB to 4 GiB of copies, 16 MiB to 256 GiB of memory. */
static const double b_seconds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1,    0.25,  0.5,    1,     2.5,  5,     10};
static const double b_bytes[] = {1024.0,     4096.0,      16384.0,      65536.0,
                                 262144.0,   1048576.0,   4194304.0,    16777216.0,
                                 67108864.0, 268435456.0, 1073741824.0, 4294967296.0};
static const double b_memory[] = {16777216.0,   67108864.0,    268435456.0,   1073741824.0,
                                  4294967296.0, 17179869184.0, 68719476736.0, 274877906944.0};
static const double b_count[] = {1, 10, 100, 1000, 10000, 100000};
static const double b_joules[] = {0.01, 0.1, 0.5, 1, 5, 10, 50, 100, 500, 1000};

#define BOUNDS(a) a, sizeof(a) / sizeof(a[0])
static const struct {
	const char *suffix, *help;
	const double *bounds;
	unsigned n;
} families[INF_FAM_COUNT] = {
#define SECONDS                      BOUNDS(b_seconds)
#define BYTES                        BOUNDS(b_bytes)
#define MEMORY                       BOUNDS(b_memory)
#define COUNT                        BOUNDS(b_count)
#define JOULES                       BOUNDS(b_joules)
#define X(id, suffix, help, buckets) [INF_FAM_##id] = {suffix, help, buckets},
    INFERENCE_FAMILIES(X)
#undef X
#undef SECONDS
#undef BYTES
#undef MEMORY
#undef COUNT
#undef JOULES
};

const char *inference_family_suffix(enum inference_family f)
{
	return families[f].suffix;
}

const char *inference_family_help(enum inference_family f)
{
	return families[f].help;
}

unsigned inference_family_bounds(enum inference_family f, const double **bounds)
{
	*bounds = families[f].bounds;
	return families[f].n;
}

static void copy_str(char *dst, size_t cap, json_t *v)
{
	const char *s = json_string_value(v);
	snprintf(dst, cap, "%s", s ? s : "");
}

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

int inference_msg_parse(const char *buf, size_t len, struct inference_msg *m)
{
	memset(m, 0, sizeof(*m));
	json_error_t err;
	json_t *o = json_loadb(buf, len, 0, &err);
	int rc = -1;
	const char *type = json_string_value(json_object_get(o, "type"));
	if (!json_is_object(o) || !type || strcmp(type, "inference") != 0)
		goto out;
	m->pid = (int)json_integer_value(json_object_get(o, "pid"));
	copy_str(m->process, sizeof(m->process), json_object_get(o, "process"));
	copy_str(m->range, sizeof(m->range), json_object_get(o, "range"));
	copy_str(m->boundary, sizeof(m->boundary), json_object_get(o, "boundary"));
	m->complete = !json_is_false(json_object_get(o, "complete"));
	m->latency_s = num(o, "latency_s");
	m->gpu_busy_s = num(o, "gpu_busy_s");
	m->h2d_bytes = num(o, "h2d_bytes");
	m->d2h_bytes = num(o, "d2h_bytes");
	m->mem_peak_bytes = num(o, "mem_peak_bytes");
	m->kernels = num(o, "kernels");
	m->energy_j = num(o, "energy_j");
	copy_str(m->gpu, sizeof(m->gpu), json_object_get(o, "gpu"));
	m->start_unix_ns = (long long)json_integer_value(json_object_get(o, "start_unix_ns"));
	m->end_unix_ns = (long long)json_integer_value(json_object_get(o, "end_unix_ns"));
	/* A message without a latency is not one we can count. */
	if (!isfinite(m->latency_s) || m->latency_s < 0)
		goto out;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

int inference_table_init(struct inference_table *t, unsigned cap)
{
	memset(t, 0, sizeof(*t));
	if (cap == 0)
		cap = INFERENCE_CAP_DEFAULT;
	if (cap > INFERENCE_CAP_MAX)
		cap = INFERENCE_CAP_MAX;
	t->cap = cap;
	t->s = calloc(cap + 1, sizeof(*t->s));
	if (!t->s)
		return -1;
	struct inference_series *o = &t->s[cap];
	strcpy(o->process, "_other");
	strcpy(o->workload, "_other");
	strcpy(o->range, "_other");
	pthread_mutex_init(&t->lock, NULL);
	return 0;
}

void inference_table_free(struct inference_table *t)
{
	if (!t->s)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->s);
	t->s = NULL;
}

static void observe(struct inference_hist *h, enum inference_family f, double v)
{
	if (!isfinite(v) || v < 0)
		return;
	const double *b;
	unsigned n = inference_family_bounds(f, &b);
	for (unsigned i = 0; i < n; i++)
		if (v <= b[i]) {
			h->bucket[i]++;
			break;
		}
	h->count++;
	h->sum += v;
}

static struct inference_series *find(struct inference_table *t, const char *process,
                                     const char *workload, const char *range)
{
	for (unsigned i = 0; i < t->n; i++)
		if (!strcmp(t->s[i].process, process) && !strcmp(t->s[i].range, range) &&
		    !strcmp(t->s[i].workload, workload))
			return &t->s[i];
	return NULL;
}

void inference_table_add_energy(struct inference_table *t, const char *process,
                                const char *workload, const char *range, double joules)
{
	pthread_mutex_lock(&t->lock);
	struct inference_series *s = find(t, process, workload, range);
	if (!s && t->other_used)
		s = &t->s[t->cap];
	if (s)
		observe(&s->h[INF_FAM_ENERGY], INF_FAM_ENERGY, joules);
	pthread_mutex_unlock(&t->lock);
}

void inference_table_add(struct inference_table *t, const struct inference_msg *m,
                         const char *workload)
{
	pthread_mutex_lock(&t->lock);
	t->received++;
	struct inference_series *s = find(t, m->process, workload, m->range);
	if (!s && t->n < t->cap) {
		s = &t->s[t->n++];
		snprintf(s->process, sizeof(s->process), "%s", m->process);
		snprintf(s->range, sizeof(s->range), "%s", m->range);
		snprintf(s->workload, sizeof(s->workload), "%s", workload);
	}
	if (!s) {
		s = &t->s[t->cap];
		t->other_used = true;
		t->folded++;
	}
	observe(&s->h[INF_FAM_LATENCY], INF_FAM_LATENCY, m->latency_s);
	observe(&s->h[INF_FAM_GPU_BUSY], INF_FAM_GPU_BUSY, m->gpu_busy_s);
	observe(&s->h[INF_FAM_H2D], INF_FAM_H2D, m->h2d_bytes);
	observe(&s->h[INF_FAM_D2H], INF_FAM_D2H, m->d2h_bytes);
	observe(&s->h[INF_FAM_MEM_PEAK], INF_FAM_MEM_PEAK, m->mem_peak_bytes);
	observe(&s->h[INF_FAM_KERNELS], INF_FAM_KERNELS, m->kernels);
	observe(&s->h[INF_FAM_ENERGY], INF_FAM_ENERGY, m->energy_j);
	if (!m->complete)
		s->incomplete++;
	pthread_mutex_unlock(&t->lock);
}

void inference_table_reject(struct inference_table *t)
{
	pthread_mutex_lock(&t->lock);
	t->rejected++;
	pthread_mutex_unlock(&t->lock);
}

int inference_table_copy(struct inference_table *t, struct inference_series **out, unsigned *n,
                         uint64_t counters[3])
{
	pthread_mutex_lock(&t->lock);
	unsigned k = t->n + (t->other_used ? 1 : 0);
	*out = malloc((k ? k : 1) * sizeof(**out));
	if (*out) {
		memcpy(*out, t->s, t->n * sizeof(**out));
		if (t->other_used)
			(*out)[t->n] = t->s[t->cap];
		*n = k;
	}
	counters[0] = t->received;
	counters[1] = t->rejected;
	counters[2] = t->folded;
	pthread_mutex_unlock(&t->lock);
	return *out ? 0 : -1;
}
