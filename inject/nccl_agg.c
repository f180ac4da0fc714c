/* nccl_agg.c - fold finished collectives and format them (see nccl_agg.h). */
#include "inject/nccl_agg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "inject/emit.h"

static const char *const kind_names[] = {
#define X(id, name) name,
    NCCL_KINDS(X)
#undef X
};
static const char *const algo_names[] = {
#define X(id, name) name,
    NCCL_ALGOS(X)
#undef X
};
static const char *const proto_names[] = {"", "ll", "ll128", "simple"};
static const char *const timing_names[] = {"gpu", "kernel", "proxy", "enqueue"};

const char *nccl_kind_name(enum nccl_kind k)
{
	return k < NCCL_KIND_COUNT ? kind_names[k] : "Other";
}

const char *nccl_algo_name(enum nccl_algo a)
{
	return a < NCCL_ALGO_COUNT ? algo_names[a] : "";
}

const char *nccl_proto_name(enum nccl_proto p)
{
	return p < NCCL_PROTO_COUNT ? proto_names[p] : "";
}

const char *nccl_timing_name(enum nccl_timing t)
{
	return t < NCCL_TIMING_COUNT ? timing_names[t] : "enqueue";
}

enum nccl_kind nccl_kind_of(const char *f)
{
	if (!f)
		return NCCL_KIND_OTHER;
	for (int k = 0; k < NCCL_KIND_OTHER; k++)
		if (!strcasecmp(f, kind_names[k]))
			return (enum nccl_kind)k;
	return NCCL_KIND_OTHER;
}

enum nccl_algo nccl_algo_of(const char *s)
{
	static const struct {
		const char *name;
		enum nccl_algo a;
	} t[] = {{"tree", NCCL_ALGO_TREE},
	         {"ring", NCCL_ALGO_RING},
	         {"collnet_direct", NCCL_ALGO_COLLNET_DIRECT},
	         {"collnetdirect", NCCL_ALGO_COLLNET_DIRECT},
	         {"collnet_chain", NCCL_ALGO_COLLNET_CHAIN},
	         {"collnetchain", NCCL_ALGO_COLLNET_CHAIN},
	         {"nvls", NCCL_ALGO_NVLS},
	         {"nvls_tree", NCCL_ALGO_NVLS_TREE},
	         {"nvlstree", NCCL_ALGO_NVLS_TREE},
	         {"pat", NCCL_ALGO_PAT}};
	for (size_t i = 0; s && i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcasecmp(s, t[i].name))
			return t[i].a;
	return NCCL_ALGO_UNKNOWN;
}

enum nccl_proto nccl_proto_of(const char *s)
{
	if (!s)
		return NCCL_PROTO_UNKNOWN;
	if (!strcasecmp(s, "LL"))
		return NCCL_PROTO_LL;
	if (!strcasecmp(s, "LL128"))
		return NCCL_PROTO_LL128;
	if (!strcasecmp(s, "Simple"))
		return NCCL_PROTO_SIMPLE;
	return NCCL_PROTO_UNKNOWN;
}

unsigned nccl_type_size(const char *d)
{
	if (!d)
		return 0;
	if (!strncasecmp(d, "nccl", 4))
		d += 4;
	static const struct {
		const char *name;
		unsigned size;
	} t[] = {{"int8", 1},      {"char", 1},   {"uint8", 1},    {"int32", 4},
	         {"int", 4},       {"uint32", 4}, {"int64", 8},    {"uint64", 8},
	         {"float16", 2},   {"half", 2},   {"float32", 4},  {"float", 4},
	         {"float64", 8},   {"double", 8}, {"bfloat16", 2}, {"float8e4m3", 1},
	         {"float8e5m2", 1}};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcasecmp(d, t[i].name))
			return t[i].size;
	return 0;
}

/* NCCL 2.23's ncclFunc_t, algorithm and protocol indices, ncclDataType_t. */
enum nccl_kind nccl_kind_of_v1(uint8_t f)
{
	static const enum nccl_kind t[] = {
	    NCCL_KIND_BROADCAST, NCCL_KIND_REDUCE, NCCL_KIND_ALLGATHER, NCCL_KIND_REDUCESCATTER,
	    NCCL_KIND_ALLREDUCE, NCCL_KIND_OTHER,  NCCL_KIND_SEND,      NCCL_KIND_RECV};
	return f < sizeof(t) / sizeof(t[0]) ? t[f] : NCCL_KIND_OTHER;
}

enum nccl_algo nccl_algo_of_v1(uint8_t a)
{
	return a < 7 ? (enum nccl_algo)(a + 1) : NCCL_ALGO_UNKNOWN; /* Tree=0 ... PAT=6 */
}

enum nccl_proto nccl_proto_of_v1(uint8_t p)
{
	return p < 3 ? (enum nccl_proto)(p + 1) : NCCL_PROTO_UNKNOWN; /* LL=0, LL128, Simple */
}

unsigned nccl_type_size_v1(uint8_t d)
{
	static const unsigned t[] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2, 1, 1};
	return d < sizeof(t) / sizeof(t[0]) ? t[d] : 0;
}

uint64_t nccl_op_bytes(enum nccl_kind k, uint64_t count, unsigned type_size, int nranks)
{
	uint64_t b = count * type_size;
	if ((k == NCCL_KIND_ALLGATHER || k == NCCL_KIND_REDUCESCATTER) && nranks > 0)
		b *= (uint64_t)nranks;
	return b;
}

double nccl_bus_factor(enum nccl_kind k, int nranks)
{
	if (nranks <= 0)
		return NAN;
	double n = nranks;
	switch (k) {
	case NCCL_KIND_ALLREDUCE:
		return 2 * (n - 1) / n;
	case NCCL_KIND_ALLGATHER:
	case NCCL_KIND_REDUCESCATTER:
		return (n - 1) / n;
	default:
		return 1;
	}
}

void nccl_agg_init(struct nccl_agg *a, uint64_t now)
{
	memset(a, 0, sizeof(*a));
	a->window_start = now;
	a->first_ns = now;
}

/* Adds [s, e) to the union of collective time, one union per clock (GPU-timed collectives
 * on the GPU's globaltimer, the others on the host's).  Collectives finish roughly in start
 * order, so a running end is exact for them; one that started before the union's end counts
 * only past it (a late straggler is undercounted, never double counted). */
static void cover(struct nccl_agg *a, int clock, uint64_t s, uint64_t e)
{
	if (s < a->covered_until[clock])
		s = a->covered_until[clock];
	if (e <= s)
		return;
	a->busy_ns += e - s;
	a->window_busy_ns += e - s;
	a->covered_until[clock] = e;
}

void nccl_agg_add(struct nccl_agg *a, const struct nccl_done *d)
{
	if (d->comm >= a->ncomm || d->kind >= NCCL_KIND_COUNT)
		return;
	struct nccl_kind_stats *k = &a->comm[d->comm].k[d->kind];
	k->count++;
	k->bytes += d->bytes;
	if (d->bytes > k->max_bytes)
		k->max_bytes = d->bytes;
	k->enqueue_s += (double)d->enqueue / 1e9;
	k->by_timing[d->timing < NCCL_TIMING_COUNT ? d->timing : NCCL_TIMING_ENQUEUE]++;
	k->by_algo[d->algo < NCCL_ALGO_COUNT ? d->algo : 0]++;
	k->by_proto[d->proto < NCCL_PROTO_COUNT ? d->proto : 0]++;
	if (d->timing == NCCL_TIMING_ENQUEUE) {
		k->enqueue_only++;
	} else {
		k->timed++;
		k->time_s += (double)d->dur / 1e9;
		k->timed_bytes += (double)d->bytes;
	}
	cover(a, d->timing == NCCL_TIMING_GPU, d->start, d->start + d->dur);
}

void nccl_agg_window(struct nccl_agg *a, uint64_t now)
{
	if (now <= a->window_start)
		return;
	a->last_ns = now;
	a->last_window_ns = now - a->window_start;
	a->last_window_busy_ns = a->window_busy_ns;
	a->window_start = now;
	a->window_busy_ns = 0;
}

static unsigned argmax(const uint64_t *v, unsigned n)
{
	unsigned best = 0;
	for (unsigned i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	return best;
}

static void num(char *out, size_t cap, double v)
{
	if (isfinite(v))
		snprintf(out, cap, "%.15g", v);
	else
		snprintf(out, cap, "null");
}

unsigned nccl_agg_format(const struct nccl_agg *a, const struct nccl_line_meta *m,
                         void (*emit)(const char *line, size_t len, void *arg), void *arg)
{
	char buf[2048], name[NCCL_NAME_MAX * 6];
	unsigned lines = 0;
	for (unsigned c = 0; c < a->ncomm; c++) {
		const struct nccl_agg_comm *cm = &a->comm[c];
		emit_json_escape(cm->info.name, name, sizeof(name));
		for (int kk = 0; kk < NCCL_KIND_COUNT; kk++) {
			const struct nccl_kind_stats *k = &cm->k[kk];
			if (!k->count)
				continue;
			/* The timing most of its calls had names the series; enqueue-only
			 * ones are counted apart so a mix is never hidden. */
			unsigned timing = k->timed ? argmax(k->by_timing, NCCL_TIMING_ENQUEUE)
			                           : NCCL_TIMING_ENQUEUE;
			double bf = nccl_bus_factor((enum nccl_kind)kk, cm->info.nranks);
			char busbw[32], algbw[32];
			num(algbw, sizeof(algbw), k->time_s > 0 ? k->timed_bytes / k->time_s : NAN);
			num(busbw, sizeof(busbw),
			    k->time_s > 0 ? k->timed_bytes * bf / k->time_s : NAN);
			int n = snprintf(
			    buf, sizeof(buf),
			    "{\"type\":\"nccl\",\"v\":1,\"pid\":%d,\"process\":\"%s\","
			    "\"comm\":\"%016llx\",\"comm_name\":\"%s\",\"rank\":%d,\"nranks\":%d,"
			    "\"nnodes\":%d,\"abi\":%d,\"collective\":\"%s\",\"algorithm\":\"%s\","
			    "\"protocol\":\"%s\",\"timing\":\"%s\",\"count\":%llu,\"bytes\":%llu,"
			    "\"max_bytes\":%llu,\"timed\":%llu,\"enqueue_only\":%llu,"
			    "\"time_s\":%.9f,\"timed_bytes\":%.0f,\"enqueue_s\":%.9f,"
			    "\"algbw_bytes_per_s\":%s,\"busbw_bytes_per_s\":%s,\"final\":%s}\n",
			    m->pid, m->process, (unsigned long long)cm->info.hash, name,
			    cm->info.rank, cm->info.nranks, cm->info.nnodes, cm->info.abi,
			    nccl_kind_name((enum nccl_kind)kk),
			    nccl_algo_name((enum nccl_algo)argmax(k->by_algo, NCCL_ALGO_COUNT)),
			    nccl_proto_name((enum nccl_proto)argmax(k->by_proto, NCCL_PROTO_COUNT)),
			    nccl_timing_name((enum nccl_timing)timing),
			    (unsigned long long)k->count, (unsigned long long)k->bytes,
			    (unsigned long long)k->max_bytes, (unsigned long long)k->timed,
			    (unsigned long long)k->enqueue_only, k->time_s, k->timed_bytes,
			    k->enqueue_s, algbw, busbw, m->final);
			if (n > 0 && (size_t)n < sizeof(buf)) {
				emit(buf, (size_t)n, arg);
				lines++;
			}
		}
	}
	char share[32];
	num(share, sizeof(share),
	    a->last_window_ns ? (double)a->last_window_busy_ns / (double)a->last_window_ns : NAN);
	int n =
	    snprintf(buf, sizeof(buf),
	             "{\"type\":\"nccl_process\",\"v\":1,\"pid\":%d,\"process\":\"%s\","
	             "\"communicators\":%u,\"busy_s\":%.9f,\"wall_s\":%.9f,\"window_s\":%.9f,"
	             "\"window_busy_s\":%.9f,\"window_share\":%s,\"dropped\":%llu,"
	             "\"foreign_proxy\":%llu,\"swept\":%llu,\"final\":%s}\n",
	             m->pid, m->process, a->ncomm, (double)a->busy_ns / 1e9,
	             a->last_ns > a->first_ns ? (double)(a->last_ns - a->first_ns) / 1e9 : 0.0,
	             (double)a->last_window_ns / 1e9, (double)a->last_window_busy_ns / 1e9, share,
	             (unsigned long long)a->dropped, (unsigned long long)a->foreign_proxy,
	             (unsigned long long)a->swept, m->final);
	if (n > 0 && (size_t)n < sizeof(buf)) {
		emit(buf, (size_t)n, arg);
		lines++;
	}
	return lines;
}
