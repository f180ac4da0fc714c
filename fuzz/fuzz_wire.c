/* fuzz_wire.c - request heads as clients send them (http/wire.c): the request line, header
 * fields, the path and query decoded in place, and Basic credentials. */
#include <string.h>

#include "fuzz/fuzz.h"
#include "http/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	struct wire_request r;
	struct wire_limits lim = {8192, 512};
	long used = wire_parse(buf, size, &lim, &r);
	if (used > 0) {
		if ((size_t)used > size || r.path[0] != '/')
			abort();
		const char *v;
		wire_arg(&r, "range", &v);
		wire_arg(&r, "plain", &v);
		char user[128], pass[256];
		wire_basic_auth(wire_header(&r, "Authorization"), user, sizeof(user), pass,
		                sizeof(pass));
		wire_header(&r, "Accept-Encoding");
	}
	free(buf);
	return 0;
}
