/* test_inference_acc.c - the open per-interval inference cells (series/inference_acc.h):
 * one cell per key and interval, the array growing as cells open (none before the first),
 * INFERENCE_ACC_CELLS at most with the rest dropped and counted, and take/copy seeing
 * every cell whatever the array grew through. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "series/inference_acc.h"

#define T0_NS (1767225600LL * 1000000000LL) /* an interval's first second */

static struct inference_key key(int pid)
{
	struct inference_key k = {.gpu = 0, .pid = pid};
	snprintf(k.process, sizeof(k.process), "proc%d", pid);
	return k;
}

static struct inference_msg msg(long long end_ns, double latency_s)
{
	struct inference_msg m = {.complete = true, .latency_s = latency_s, .energy_j = NAN};
	m.start_unix_ns = end_ns - 1000000;
	m.end_unix_ns = end_ns;
	return m;
}

static void test_no_cells_until_one_opens(void **state)
{
	(void)state;
	struct inference_acc a;
	assert_int_equal(inference_acc_init(&a), 0);
	assert_null(a.cells);
	struct inference_cell *c;
	uint64_t dropped = 1;
	assert_int_equal(inference_acc_copy(&a, &c, &dropped), 0);
	assert_int_equal(dropped, 0);
	free(c);
	assert_int_equal(inference_acc_take(&a, INT64_MAX / 2, true, &c), 0);
	assert_null(c);
	inference_acc_free(&a);
}

static void test_grows_keeps_every_cell_then_drops(void **state)
{
	(void)state;
	struct inference_acc a;
	assert_int_equal(inference_acc_init(&a), 0);
	/* Every pid twice in one interval (one cell each), then more keys than fit. */
	for (int pid = 1; pid <= INFERENCE_ACC_CELLS + 10; pid++) {
		struct inference_key k = key(pid);
		struct inference_msg m = msg(T0_NS + 2000000000LL, 0.5);
		inference_acc_add(&a, &k, &m);
		m.end_unix_ns += 1000000000LL;
		inference_acc_add(&a, &k, &m);
	}
	assert_int_equal(a.n, INFERENCE_ACC_CELLS);
	assert_true(a.cap <= INFERENCE_ACC_CELLS);
	struct inference_cell *c;
	uint64_t dropped = 0;
	int n = inference_acc_copy(&a, &c, &dropped);
	assert_int_equal(n, INFERENCE_ACC_CELLS);
	assert_int_equal(dropped, 20); /* the 10 keys past the cap, twice each */
	for (int i = 0; i < n; i++) {
		assert_int_equal(c[i].key.pid, i + 1); /* the order they opened in */
		assert_int_equal(c[i].agg.n, 2);
		assert_int_equal(c[i].t, T0_NS / 1000000000LL);
	}
	free(c);
	/* Taken out, the array has room again for a new key. */
	assert_int_equal(inference_acc_take(&a, INT64_MAX / 2, true, &c), INFERENCE_ACC_CELLS);
	free(c);
	struct inference_key k = key(9999);
	struct inference_msg m = msg(T0_NS, 0.25);
	inference_acc_add(&a, &k, &m);
	assert_int_equal(inference_acc_copy(&a, &c, &dropped), 1);
	assert_int_equal(c[0].key.pid, 9999);
	assert_int_equal(dropped, 20);
	free(c);
	inference_acc_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_cells_until_one_opens),
	    cmocka_unit_test(test_grows_keeps_every_cell_then_drops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
