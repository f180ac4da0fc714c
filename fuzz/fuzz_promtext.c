/* fuzz_promtext.c - inference servers' /metrics bodies (promtext_parse, and the reduction
 * to a reading with every server's name table, server_reading_parse), /proc/net/tcp
 * text (discover_parse_tcp) and /proc/net/fib_trie text (discover_parse_fib_trie).  The first byte
 * picks the parser; the input is given as the exact buffer (no NUL added), since the parsers take a
 * length, never a C string.
 *
 * fuzz/CMakeLists.txt (on the branch that has fuzz/):
 *   fuzz_target(fuzz_promtext ${ROOT}/servers/promtext.c ${ROOT}/servers/kinds.c
 *               ${ROOT}/servers/discover.c)
 */
#include "fuzz/fuzz.h"
#include "servers/discover.h"
#include "servers/kinds.h"
#include "servers/promtext.h"

static void count(void *ctx, const struct promtext_sample *s)
{
	(*(unsigned *)ctx) += s->nlabels;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* a private copy of exactly size - 1 bytes, so ASan sees any read past the end */
	size_t n = size - 1;
	char *buf = malloc(n ? n : 1);
	if (!buf)
		abort();
	memcpy(buf, data + 1, n);
	switch (data[0] % 4) {
	case 0: {
		unsigned labels = 0, bad = 0;
		promtext_parse(buf, n, count, &labels, &bad);
		break;
	}
	case 1: {
		static struct server_reading r;
		const char *why;
		server_reading_parse(buf, n, &r, &why);
		break;
	}
	case 3: {
		char addr[16];
		discover_parse_fib_trie(buf, n, addr, sizeof(addr));
		break;
	}
	default: {
		struct discover_listen l[16];
		discover_parse_tcp(buf, n, data[0] & 4 ? 6 : 4, l, 16);
		break;
	}
	}
	free(buf);
	return 0;
}
