/* fuzz_accept.c - the scrapers' Accept and Accept-Encoding headers (http/accept.c). */
#include "fuzz/fuzz.h"
#include "http/accept.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	http_header_allows(s, "application/openmetrics-text");
	http_header_allows(s, "gzip");
	free(s);
	return 0;
}
