/* fuzz_inference.c - what injected libraries send and write: the agent's datagram parsers
 * (series/inference.c, and series/nccl.c for the NCCL plugin's lines), `gpuscope run`'s JSON-lines
 * reader (cmd/run_summary.c) and the CUPTI activity record decoder (inject/records.c) over bytes
 * laid out as records. */
#include "cmd/run_summary.h"
#include "fuzz/fuzz.h"
#include "inject/records.h"
#include "series/inference.h"
#include "series/nccl.h"

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
	return 0;
}
