/* fuzz_inference.c - what injected libraries send and write: the agent's datagram parsers
 * (series/inference.c, and series/nccl.c for the NCCL plugin's lines), `gpuscope run`'s
 * JSON-lines reader (inference/run_summary.c) and the CUPTI activity record decoder
 * (inject/records.c) over bytes laid out as records, and the history's latency sketch
 * decoder (series/inference_agg.c), whose every accepted input must encode back to a
 * sketch that decodes the same. */
#include "inference/run_summary.h"
#include "fuzz/fuzz.h"
#include "inject/records.h"
#include "series/inference.h"
#include "series/inference_agg.h"
#include "series/nccl.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inference_msg m;
	inference_msg_parse((const char *)data, size, &m);
	struct nccl_msg nm;
	nccl_msg_parse((const char *)data, size, &nm);

	struct run_summary s;
	run_summary_init(&s);
	const char *p = (const char *)data, *end = p + size;
	while (p < end) { /* line by line, as run reads a program's file */
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		run_summary_add_line(&s, p, len);
		p += len + 1;
	}
	run_summary_free(&s);

	struct rec_decoded r;
	rec_decode(data, size, &r);

	struct inference_sketch *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	unsigned char *buf = malloc(INFERENCE_SKETCH_ENCODED_MAX);
	if (a && b && buf && inference_sketch_decode(data, size, a) == 0) {
		size_t len = inference_sketch_encode(a, buf, INFERENCE_SKETCH_ENCODED_MAX);
		if (inference_sketch_decode(buf, len, b) != 0 || memcmp(a, b, sizeof(*a)) != 0)
			abort();
		inference_sketch_quantile(a, 0.99);
	}
	free(a);
	free(b);
	free(buf);
	return 0;
}
