/* run_nccl.c - the NCCL section of `gpuscope run` (see run_nccl.h). */
#include "inference/run_nccl.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	double d = json_is_number(v) ? json_number_value(v) : NAN;
	return isfinite(d) && d >= 0 ? d : NAN;
}

static void str(char *dst, size_t cap, json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	snprintf(dst, cap, "%s", s ? s : "");
}

static int add_kind(struct run_nccl *n, json_t *o, int pid)
{
	struct run_nccl_kind k = {.pid = pid};
	str(k.comm, sizeof(k.comm), o, "comm");
	str(k.collective, sizeof(k.collective), o, "collective");
	str(k.algorithm, sizeof(k.algorithm), o, "algorithm");
	str(k.protocol, sizeof(k.protocol), o, "protocol");
	str(k.timing, sizeof(k.timing), o, "timing");
	k.rank = (int)json_integer_value(json_object_get(o, "rank"));
	k.nranks = (int)json_integer_value(json_object_get(o, "nranks"));
	k.count = num(o, "count");
	k.bytes = num(o, "bytes");
	k.time_s = num(o, "time_s");
	k.enqueue_s = num(o, "enqueue_s");
	k.busbw = num(o, "busbw_bytes_per_s");
	if (!k.comm[0] || !k.collective[0] || isnan(k.count))
		return -1;
	size_t i = 0;
	while (i < n->nk &&
	       !(n->k[i].pid == pid && n->k[i].rank == k.rank && !strcmp(n->k[i].comm, k.comm) &&
	         !strcmp(n->k[i].collective, k.collective)))
		i++;
	if (i == n->nk) {
		if (n->nk == RUN_NCCL_KINDS) {
			n->overflow++;
			return 1;
		}
		n->nk++;
	}
	n->k[i] = k; /* lines are cumulative: the latest wins */
	return 1;
}

static int add_proc(struct run_nccl *n, json_t *o, int pid)
{
	struct run_nccl_proc p = {.pid = pid};
	str(p.process, sizeof(p.process), o, "process");
	p.busy_s = num(o, "busy_s");
	p.wall_s = num(o, "wall_s");
	double d = num(o, "dropped"); /* finite and >= 0, or NaN; 1e308 must not be cast */
	p.dropped = !isnan(d) && d < 1.8e19 ? (unsigned long long)d : 0;
	if (isnan(p.busy_s))
		return -1;
	size_t i = 0;
	while (i < n->np && n->p[i].pid != pid)
		i++;
	if (i == n->np) {
		if (n->np == RUN_NCCL_PROCS) {
			n->overflow++;
			return 1;
		}
		n->np++;
	}
	n->p[i] = p;
	return 1;
}

int run_nccl_add(struct run_nccl *n, json_t *o)
{
	const char *type = json_string_value(json_object_get(o, "type"));
	if (!type || strncmp(type, "nccl", 4) != 0)
		return 0;
	if (json_integer_value(json_object_get(o, "v")) != 1)
		return -1;
	int pid = (int)json_integer_value(json_object_get(o, "pid"));
	if (!strcmp(type, "nccl"))
		return add_kind(n, o, pid);
	if (!strcmp(type, "nccl_process"))
		return add_proc(n, o, pid);
	return -1;
}

/* Sizes in binary units (MiB), rates in decimal ones (GB/s), as NCCL's own tools print. */
static void human(char *out, size_t cap, double v, const char *unit)
{
	static const char *const dec[] = {"", "k", "M", "G", "T"};
	static const char *const bin[] = {"", "Ki", "Mi", "Gi", "Ti"};
	bool binary = !strcmp(unit, "B");
	double base = binary ? 1024 : 1000;
	int i = 0;
	if (isnan(v)) {
		snprintf(out, cap, "-");
		return;
	}
	while (v >= base && i < 4)
		v /= base, i++;
	snprintf(out, cap, "%.3g %s%s", v, binary ? bin[i] : dec[i], unit);
}

static void seconds(char *out, size_t cap, double s)
{
	if (isnan(s))
		snprintf(out, cap, "-");
	else if (s < 1e-3)
		snprintf(out, cap, "%.1f us", s * 1e6);
	else if (s < 1)
		snprintf(out, cap, "%.2f ms", s * 1e3);
	else
		snprintf(out, cap, "%.2f s", s);
}

void run_nccl_print(const struct run_nccl *n, FILE *to)
{
	if (!n->nk && !n->np)
		return;
	fprintf(to, "\nNCCL collectives (libgpuscope-nccl.so; timing gpu = GPU timers, kernel = "
	            "kernel-channel events, proxy = network proxy, enqueue = the call only)\n");
	fprintf(to, "  %-7s %-8s %-5s %-13s %8s %10s %10s %10s %11s %-14s %s\n", "pid", "comm",
	        "rank", "collective", "calls", "mean size", "time", "mean", "bus bw", "algo/proto",
	        "timing");
	for (size_t i = 0; i < n->nk; i++) {
		const struct run_nccl_kind *k = &n->k[i];
		char size[32], total[32], mean[32], bw[32], rank[16], ap[48];
		human(size, sizeof(size), k->count > 0 ? k->bytes / k->count : NAN, "B");
		bool timed = strcmp(k->timing, "enqueue") != 0;
		seconds(total, sizeof(total), timed ? k->time_s : NAN);
		seconds(mean, sizeof(mean), timed && k->count > 0 ? k->time_s / k->count : NAN);
		human(bw, sizeof(bw), k->busbw, "B/s");
		if (k->nranks > 0)
			snprintf(rank, sizeof(rank), "%d/%d", k->rank, k->nranks);
		else
			snprintf(rank, sizeof(rank), "?");
		snprintf(ap, sizeof(ap), "%s/%s", k->algorithm[0] ? k->algorithm : "-",
		         k->protocol[0] ? k->protocol : "-");
		fprintf(to, "  %-7d %-8.8s %-5s %-13s %8.0f %10s %10s %10s %11s %-14s %s\n", k->pid,
		        k->comm + (strlen(k->comm) > 8 ? strlen(k->comm) - 8 : 0), rank,
		        k->collective, k->count, size, total, mean, bw, ap, k->timing);
	}
	for (size_t i = 0; i < n->np; i++) {
		const struct run_nccl_proc *p = &n->p[i];
		char busy[32], wall[32];
		seconds(busy, sizeof(busy), p->busy_s);
		seconds(wall, sizeof(wall), p->wall_s);
		fprintf(to,
		        "  %s (pid %d): %s inside collectives over %s since its first "
		        "communicator",
		        p->process, p->pid, busy, wall);
		if (p->wall_s > 0)
			fprintf(to, " (%.1f %%)", 100 * p->busy_s / p->wall_s);
		if (p->dropped)
			fprintf(to, "; %llu events dropped", p->dropped);
		fputc('\n', to);
	}
	if (n->overflow)
		fprintf(to, "  (%zu more lines not shown)\n", n->overflow);
}

size_t run_nccl_comms(const struct run_nccl *n, struct analyze_comm_series *out, size_t cap)
{
	size_t m = 0;
	for (size_t i = 0; i < n->np && m < cap; i++) {
		const struct run_nccl_proc *p = &n->p[i];
		struct analyze_comm_series *c = &out[m++];
		memset(c, 0, sizeof(*c));
		c->pid = (unsigned)p->pid;
		snprintf(c->process, sizeof(c->process), "%s", p->process);
		c->gpu_index = -1;
		c->window_s = p->wall_s;
		c->busy_s = p->busy_s;
		c->busbw = NAN;
		c->bytes_per_call = NAN;
		c->link_bytes_per_s = NAN;
		double best = -1;
		for (size_t j = 0; j < n->nk; j++) {
			const struct run_nccl_kind *k = &n->k[j];
			double t = isnan(k->time_s) ? 0 : k->time_s;
			if (k->pid != p->pid || t < best)
				continue;
			best = t;
			snprintf(c->collective, sizeof(c->collective), "%s", k->collective);
			snprintf(c->timing, sizeof(c->timing), "%s", k->timing);
			c->calls = k->count;
			c->bytes_per_call = k->count > 0 ? k->bytes / k->count : NAN;
			c->busbw = k->busbw;
			c->nranks = k->nranks;
		}
	}
	return m;
}
