/* fuzz_collectors.c - dcgm-exporter's counters CSV (export/collectors.c, -f/--collectors). */
#include "export/collectors.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct collectors c;
	char err[256];
	collectors_parse((const char *)data, size, &c, err, sizeof(err));
	for (size_t i = 0; i < c.n; i++)
		if (c.v[i].name[0] == 0 ||
		    (c.v[i].metric < 0 && c.v[i].exp < 0 && c.v[i].label < 0 && !c.v[i].why))
			abort(); /* every row names a field and says whether it is served */
	collectors_free(&c);
	return 0;
}
