/* serve_procs.h - the per-process flags of `gpuscope serve` and the attribution they start
 * (sample/attribution.h).  Kept out of serve.c so that file only gains a few lines. */
#ifndef GPUSCOPE_CMD_SERVE_PROCS_H
#define GPUSCOPE_CMD_SERVE_PROCS_H

#include <stdbool.h>
#include <stddef.h>

struct serve_procs {
	bool off;                        /* --no-processes */
	const char *host_root;           /* --host-root DIR */
	const char *proc_root;           /* --proc-root DIR */
	const char *kubelet_socket;      /* --kubelet-socket PATH ("": none) */
	unsigned cap;                    /* --process-cap N */
	double growth_sample_s;          /* --growth-sample DUR */
	struct attribution *attribution; /* after start; NULL when off */
};

void serve_procs_init(struct serve_procs *p);

/* Tries argv[*i] as one of these flags (advancing *i past its value).  Returns 1 when taken,
 * 0 when not ours, -1 on a bad value (err filled). */
int serve_procs_take(struct serve_procs *p, int argc, char **argv, int *i, char *err,
                     size_t errlen);

/* The --help lines of those flags. */
extern const char serve_procs_usage[];

/* Starts the attribution (unless off); a /proc it cannot read is a warning, not an error.
 * Returns 0, or -1 with a message printed. */
int serve_procs_start(struct serve_procs *p, double slow_s);

/* Stops it; leaves it allocated when sampler threads may still use it (hung in the driver). */
void serve_procs_stop(struct serve_procs *p, bool sampler_hung);

#endif
