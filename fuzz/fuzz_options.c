/* fuzz_options.c - command-line values from users and scripts: durations, spans,
 * timestamps (series/time_text.c) and diagnosis thresholds (analyze/config_set.c).  Every
 * parser sees every input.  --listen is left out: its host part goes to getaddrinfo(),
 * which would make the fuzzer a DNS client. */
#include "analyze/analyze.h"
#include "fuzz/fuzz.h"
#include "series/time_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	double d;
	long long t;
	if (parse_duration(s, &d) == 0 && !(d >= 0))
		abort(); /* a parsed duration is a non-negative number */
	if (parse_span(s, &d) == 0 && !(d >= 0 && d <= PARSE_SPAN_MAX_S))
		abort();
	parse_timestamp(s, &t);
	struct analyze_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	char err[512];
	analyze_config_set(&cfg, s, err, sizeof(err));
	if (cfg.nxid_critical > ANALYZE_XID_CRITICAL_MAX)
		abort();
	free(s);
	return 0;
}
