/* fuzz_kubelet.c - the kubelet's pod-resources answer: HTTP/2 frames (workload/h2c.c,
 * h2c_decode_response: the reader the socket feeds) and the protobuf message inside
 * (workload/podres.c over workload/protobuf.c).  An input whose first byte is odd is
 * decoded as frames and any message found is parsed; even, the rest is the message. */
#include "fuzz/fuzz.h"
#include "workload/h2c.h"
#include "workload/podres.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct podres_table t;
	if (data[0] & 1) {
		uint8_t *msg = NULL;
		size_t len = 0;
		if (h2c_decode_response(data + 1, size - 1, &msg, &len) == H2C_OK) {
			podres_parse(msg, len, &t);
			podres_table_free(&t); /* empty after a failure: freeing it is a no-op */
			free(msg);
		} else if (msg) {
			abort(); /* a failure hands nothing back */
		}
	} else {
		podres_parse(data + 1, size - 1, &t);
		podres_table_free(&t);
	}
	return 0;
}
