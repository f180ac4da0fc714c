/* inplace_sort.c - heapsort without allocation; see inplace_sort.h. */
#include "workload/inplace_sort.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

/* Through a small buffer in fixed-size chunks: the compiler turns these memcpy calls into a
 * few vector moves, where a byte loop over a 100-byte record was most of the sort's time. */
static void swap_bytes(unsigned char *a, unsigned char *b, size_t size)
{
	unsigned char tmp[64];
	while (size >= sizeof(tmp)) {
		memcpy(tmp, a, sizeof(tmp));
		memcpy(a, b, sizeof(tmp));
		memcpy(b, tmp, sizeof(tmp));
		a += sizeof(tmp);
		b += sizeof(tmp);
		size -= sizeof(tmp);
	}
	if (size) {
		memcpy(tmp, a, size);
		memcpy(a, b, size);
		memcpy(b, tmp, size);
	}
}

static void sift_down(unsigned char *base, size_t root, size_t count, size_t size,
                      int (*compare)(const void *, const void *))
{
	for (;;) {
		size_t child = 2 * root + 1;
		if (child >= count)
			return;
		if (child + 1 < count &&
		    compare(base + child * size, base + (child + 1) * size) < 0)
			child++;
		if (compare(base + root * size, base + child * size) >= 0)
			return;
		swap_bytes(base + root * size, base + child * size, size);
		root = child;
	}
}

void inplace_sort(void *base, size_t count, size_t size, int (*compare)(const void *, const void *))
{
	assert(compare && size > 0);
	assert(count == 0 || base);
	if (count < 2)
		return;
	unsigned char *b = base;
	for (size_t i = count / 2; i-- > 0;)
		sift_down(b, i, count, size, compare);
	for (size_t end = count - 1; end > 0; end--) {
		swap_bytes(b, b + end * size, size);
		sift_down(b, 0, end, size, compare);
	}
}
