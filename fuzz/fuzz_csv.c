/* fuzz_csv.c - recorded CSV traces (sim_csv_parse): header, rows, hex cells, time order.
 * The first byte picks the column and window so headers and windows vary too. */
#include "fuzz/fuzz.h"
#include "sim/sim_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const char *const columns[] = {"power_w", "util", "t_s", "clock_event_reasons"};
	struct sim_csv_query q = {.file = "fuzz.csv",
	                          .column = columns[data[0] & 3],
	                          .time_column = data[0] & 4 ? "time" : "t_s",
	                          .start = data[0] & 8 ? 1.5 : -1e300,
	                          .end = data[0] & 16 ? 10 : 1e300};
	char *text = fuzz_cstr(data + 1, size - 1);
	struct sim_csv_rows rows = {0};
	char err[1024];
	sim_csv_parse(text, &q, &rows, "metrics.x.csv", err, sizeof(err));
	free(rows.t);
	free(rows.v);
	free(text);
	return 0;
}
