/* fuzz_top.c - what `gpuscope top --url` reads from a remote agent: /api/v1/gpus,
 * /api/v1/processes, /api/v1/diagnosis and /api/v1/inference (tui/model.c).  The first byte picks
 * the document; the model is kept across inputs, as top keeps it across refreshes. */
#include "fuzz/fuzz.h"
#include "tui/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct top_model m; /* large; the harness is single-threaded */
	static int ready;
	if (!ready) {
		top_model_init(&m);
		ready = 1;
	}
	if (size == 0)
		return 0;
	char err[256];
	const char *doc = (const char *)data + 1;
	size_t len = size - 1;
	switch (data[0] % 4) {
	case 0:
		top_model_parse_gpus(&m, doc, len, err, sizeof(err));
		break;
	case 1:
		top_model_parse_processes(&m, doc, len, err, sizeof(err));
		break;
	case 2:
		top_model_parse_diagnosis(&m, doc, len, err, sizeof(err));
		break;
	default:
		top_model_parse_inference(&m, doc, len, err, sizeof(err));
	}
	return 0;
}
