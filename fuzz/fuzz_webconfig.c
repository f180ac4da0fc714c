/* fuzz_webconfig.c - the exporter-toolkit web configuration (http/webconfig.c). */
#include "fuzz/fuzz.h"
#include "http/webconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct webconfig w;
	char err[512];
	if (webconfig_parse((const char *)data, size, "/etc/gpuscope", &w, err, sizeof(err)) == 0 &&
	    w.tls && (!w.cert_file[0] || !w.key_file[0]))
		abort(); /* TLS on means both files named */
	webconfig_free(&w);
	return 0;
}
