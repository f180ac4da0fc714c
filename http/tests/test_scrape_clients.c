/* test_scrape_clients.c - each scraper's window (http/scrape_clients.h): a first scrape gets
 * the last SCRAPE_FIRST_WINDOW_S seconds, later ones every second since their previous
 * scrape exactly once, a repeat in the same second the same window, several scrapers
 * their own windows, no window longer than asked, and a full table forgets the client
 * seen least recently. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "http/scrape_clients.h"

/* The longest window the server asks for (WINDOW_SECONDS). */
#define LONGEST 180

struct window {
	int64_t from, to;
};

static int setup(void **state)
{
	struct scrape_clients *t = test_malloc(sizeof(*t));
	scrape_clients_init(t);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	scrape_clients_destroy(*state);
	test_free(*state);
	return 0;
}

static struct window scrape(struct scrape_clients *t, const char *key, int64_t newest,
                            int64_t longest, double now)
{
	struct window w = {-1, -1};
	scrape_clients_window(t, key, newest, longest, now, &w.from, &w.to);
	return w;
}

static void assert_window(struct window w, int64_t from, int64_t to)
{
	assert_int_equal(w.from, from);
	assert_int_equal(w.to, to);
}

static void a_first_scrape_gets_the_last_first_window_seconds(void **state)
{
	struct window w = scrape(*state, "10.0.0.1|Prometheus/2.53", 1000, LONGEST, 1);
	assert_window(w, 1000 - SCRAPE_FIRST_WINDOW_S + 1, 1000);
}

static void later_scrapes_cover_every_second_exactly_once(void **state)
{
	const char *key = "10.0.0.1|Prometheus/2.53";
	/* Irregular intervals, some within one second (newest unchanged). */
	static const int64_t newest[] = {1000, 1015, 1016, 1016, 1030, 1031, 1091, 1092, 1092};
	int64_t covered_to = 0;
	struct window prev = {0, 0};
	for (size_t i = 0; i < sizeof(newest) / sizeof(newest[0]); i++) {
		struct window w = scrape(*state, key, newest[i], LONGEST, (double)i);
		assert_int_equal(w.to, newest[i]);
		if (i > 0 && newest[i] == newest[i - 1]) {
			/* A repeat in the same second: the same window again, nothing new. */
			assert_window(w, prev.from, prev.to);
		} else if (i > 0) {
			assert_int_equal(w.from, covered_to + 1);
		}
		covered_to = w.to;
		prev = w;
	}
}

static void each_scraper_has_its_own_window(void **state)
{
	/* A Prometheus HA pair, and curl from the same host as one of them. */
	const char *a = "10.0.0.1|Prometheus/2.53", *b = "10.0.0.2|Prometheus/2.53",
	           *curl = "10.0.0.1|curl/7.88.1";
	assert_window(scrape(*state, a, 1000, LONGEST, 1), 986, 1000);
	assert_window(scrape(*state, b, 1007, LONGEST, 2), 993, 1007);
	assert_window(scrape(*state, a, 1015, LONGEST, 3), 1001, 1015);
	assert_window(scrape(*state, curl, 1016, LONGEST, 4), 1002, 1016);
	assert_window(scrape(*state, b, 1022, LONGEST, 5), 1008, 1022);
	assert_window(scrape(*state, a, 1030, LONGEST, 6), 1016, 1030);
}

static void no_window_is_longer_than_asked(void **state)
{
	const char *key = "10.0.0.1|Prometheus/2.53";
	assert_window(scrape(*state, key, 1000, LONGEST, 1), 986, 1000);
	/* Back after ten minutes: the newest LONGEST seconds, not every second since. */
	assert_window(scrape(*state, key, 1600, LONGEST, 2), 1600 - LONGEST + 1, 1600);
	/* And then on from there. */
	assert_window(scrape(*state, key, 1615, LONGEST, 3), 1601, 1615);
	/* A first scrape under a shorter limit. */
	assert_window(scrape(*state, "10.0.0.9|x", 1000, 5, 4), 996, 1000);
}

static void a_full_table_forgets_the_client_seen_least_recently(void **state)
{
	struct scrape_clients *t = *state;
	char key[SCRAPE_CLIENTS_MAX][32];
	for (unsigned i = 0; i < SCRAPE_CLIENTS_MAX; i++) {
		snprintf(key[i], sizeof(key[i]), "10.0.1.%u|Prometheus", i);
		scrape(t, key[i], 1000, LONGEST, 10 + i); /* client i last seen at 10 + i */
	}
	/* Client 0 comes back, so client 1 is now the one seen least recently. */
	assert_window(scrape(t, key[0], 1001, LONGEST, 100), 1001, 1001);
	/* A newcomer takes client 1's place... */
	assert_window(scrape(t, "10.0.2.1|Prometheus", 1001, LONGEST, 101), 987, 1001);
	/* ...so client 1, back, is a newcomer again (a first window), and takes the place of
	 * client 2, now seen least recently. */
	assert_window(scrape(t, key[1], 1010, LONGEST, 102), 996, 1010);
	assert_window(scrape(t, key[2], 1010, LONGEST, 103), 996, 1010);
	/* Every other client kept its window going. */
	assert_window(scrape(t, key[0], 1010, LONGEST, 104), 1002, 1010);
	for (unsigned i = 4; i < SCRAPE_CLIENTS_MAX; i++)
		assert_window(scrape(t, key[i], 1010, LONGEST, 105 + i), 1001, 1010);
	assert_window(scrape(t, "10.0.2.1|Prometheus", 1010, LONGEST, 200), 1002, 1010);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(a_first_scrape_gets_the_last_first_window_seconds,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(later_scrapes_cover_every_second_exactly_once, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(each_scraper_has_its_own_window, setup, teardown),
	    cmocka_unit_test_setup_teardown(no_window_is_longer_than_asked, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_full_table_forgets_the_client_seen_least_recently,
	                                    setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
