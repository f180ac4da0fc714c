/* test_queue.c - the outbox on a real SQLite file: order per receiver,
 * rows that survive closing the file (a stand-in for kill -9: nothing is
 * flushed at close that was not committed before), the firing table a
 * restart restores, and the receiver payloads' documented fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert/payload.h"
#include "alert/queue.h"
#include "alert/tests/tests.h"

static struct alert make(const char *fp, enum alert_state st)
{
	struct alert a;
	memset(&a, 0, sizeof(a));
	snprintf(a.fingerprint, sizeof(a.fingerprint), "%s", fp);
	snprintf(a.rule, sizeof(a.rule), "GpuXidError");
	a.severity = ALERT_CRITICAL;
	a.state = st;
	a.gpu = 2;
	snprintf(a.uuid, sizeof(a.uuid), "GPU-2");
	a.active_at = 1800000000.25;
	a.fired_at = 1800000001.5;
	a.resolved_at = st == ALERT_STATE_RESOLVED ? 1800000100 : 0;
	a.value = 1;
	a.threshold = NAN;
	a.nlabels = 2;
	snprintf(a.labels[0].name, sizeof(a.labels[0].name), "alertname");
	snprintf(a.labels[0].value, sizeof(a.labels[0].value), "GpuXidError");
	snprintf(a.labels[1].name, sizeof(a.labels[1].name), "hostname");
	snprintf(a.labels[1].value, sizeof(a.labels[1].value), "node \"1\"");
	snprintf(a.summary, sizeof(a.summary), "Xid");
	snprintf(a.description, sizeof(a.description), "GPU 2: Xid 79");
	return a;
}

static void test_roundtrip_json(void **state)
{
	struct alert a = make("00000000000000aa", ALERT_STATE_FIRING), b;
	char *text = alert_to_json_text(&a);
	assert_non_null(text);
	assert_int_equal(alert_from_json_text(text, &b), 0);
	free(text);
	assert_string_equal(b.fingerprint, a.fingerprint);
	assert_int_equal(b.state, ALERT_STATE_FIRING);
	assert_float_equal(b.active_at, a.active_at, 0);
	assert_float_equal(b.fired_at, a.fired_at, 0);
	assert_true(isnan(b.threshold));
	assert_int_equal(b.nlabels, 2);
	assert_string_equal(b.labels[1].value, "node \"1\"");
	assert_int_equal(alert_from_json_text("{\"rule\": 3}", &b), -1);
	assert_int_equal(alert_from_json_text("not json", &b), -1);
}

static void test_order_persistence_and_firing(void **state)
{
	char path[] = "/tmp/alert-queue-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	char err[300];
	struct alert_queue *q = alert_queue_open(path, err, sizeof(err));
	assert_non_null(q);
	const char *recv[] = {"webhook", "slack"};
	struct alert ev[2] = {make("00000000000000aa", ALERT_STATE_FIRING),
	                      make("00000000000000bb", ALERT_STATE_FIRING)};
	assert_int_equal(alert_queue_record(q, ev, 2, recv, 2, 1, err, sizeof(err)), 0);
	assert_int_equal(alert_queue_pending(q, NULL), 4);
	assert_int_equal(alert_queue_pending(q, "slack"), 2);
	struct alert res = make("00000000000000aa", ALERT_STATE_RESOLVED);
	assert_int_equal(alert_queue_record(q, &res, 1, recv, 2, 2, err, sizeof(err)), 0);
	alert_queue_close(q); /* everything committed is on disk */

	q = alert_queue_open(path, err, sizeof(err));
	assert_non_null(q);
	struct alert *firing;
	size_t n;
	assert_int_equal(alert_queue_firing(q, &firing, &n), 0);
	assert_int_equal(n, 1); /* aa resolved, bb still firing */
	assert_string_equal(firing[0].fingerprint, "00000000000000bb");
	free(firing);
	/* Per receiver, in order: aa firing, bb firing, aa resolved. */
	const char *want_fp[] = {"00000000000000aa", "00000000000000bb", "00000000000000aa"};
	enum alert_state want_st[] = {ALERT_STATE_FIRING, ALERT_STATE_FIRING, ALERT_STATE_RESOLVED};
	for (int i = 0; i < 3; i++) {
		struct alert_queue_row row;
		assert_int_equal(alert_queue_next(q, "webhook", &row), 1);
		assert_string_equal(row.alert.fingerprint, want_fp[i]);
		assert_int_equal(row.alert.state, want_st[i]);
		if (i == 0) { /* a failure keeps it at the head, counted */
			assert_int_equal(alert_queue_failed(q, row.id), 0);
			struct alert_queue_row again;
			assert_int_equal(alert_queue_next(q, "webhook", &again), 1);
			assert_int_equal(again.id, row.id);
			assert_int_equal(again.attempts, 1);
		}
		assert_int_equal(alert_queue_done(q, row.id), 0);
	}
	struct alert_queue_row row;
	assert_int_equal(alert_queue_next(q, "webhook", &row), 0);
	assert_int_equal(alert_queue_pending(q, "slack"), 3); /* untouched */
	const char *keep[] = {"webhook"};
	assert_int_equal(alert_queue_forget_except(q, keep, 1), 3);
	assert_int_equal(alert_queue_pending(q, NULL), 0);
	alert_queue_close(q);
	unlink(path);
	assert_null(alert_queue_open("/nonexistent/dir/q.db", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/dir/q.db"));
}

static json_t *parse(char *text)
{
	assert_non_null(text);
	json_t *j = json_loads(text, 0, NULL);
	free(text);
	assert_non_null(j);
	return j;
}

static const char *str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	assert_true(json_is_string(v));
	return json_string_value(v);
}

static void test_payloads(void **state)
{
	struct alert f = make("00000000000000aa", ALERT_STATE_FIRING);
	struct alert r = make("00000000000000aa", ALERT_STATE_RESOLVED);
	json_t *am = parse(alert_payload_alertmanager(&f, 1, 1800000002, 240));
	json_t *a0 = json_array_get(am, 0);
	assert_string_equal(str(json_object_get(a0, "labels"), "alertname"), "GpuXidError");
	assert_string_equal(str(a0, "startsAt"), "2027-01-15T08:00:01.500Z");
	assert_string_equal(str(a0, "endsAt"), "2027-01-15T08:04:02.000Z");
	json_decref(am);
	am = parse(alert_payload_alertmanager(&r, 1, 1800000200, 240));
	assert_string_equal(str(json_array_get(am, 0), "endsAt"), "2027-01-15T08:01:40.000Z");
	json_decref(am);

	json_t *wh = parse(alert_payload_webhook(&r, "gpuscope"));
	assert_string_equal(str(wh, "version"), "4");
	assert_string_equal(str(wh, "status"), "resolved");
	assert_string_equal(str(wh, "receiver"), "gpuscope");
	assert_non_null(json_object_get(wh, "truncatedAlerts"));
	json_t *wa = json_array_get(json_object_get(wh, "alerts"), 0);
	assert_string_equal(str(wa, "fingerprint"), "00000000000000aa");
	assert_string_equal(str(wa, "endsAt"), "2027-01-15T08:01:40.000Z");
	json_decref(wh);

	json_t *sl = parse(alert_payload_slack(&f));
	assert_non_null(strstr(str(sl, "text"), "[FIRING] GpuXidError"));
	json_t *blk = json_array_get(json_object_get(sl, "blocks"), 0);
	assert_string_equal(str(blk, "type"), "section");
	assert_string_equal(str(json_object_get(blk, "text"), "type"), "mrkdwn");
	json_decref(sl);

	json_t *pd = parse(alert_payload_pagerduty(&f, "KEY"));
	assert_string_equal(str(pd, "routing_key"), "KEY");
	assert_string_equal(str(pd, "event_action"), "trigger");
	assert_string_equal(str(pd, "dedup_key"), "gpuscope-00000000000000aa");
	json_t *p = json_object_get(pd, "payload");
	assert_string_equal(str(p, "severity"), "critical");
	assert_string_equal(str(p, "source"), "node \"1\"");
	assert_true(strlen(str(p, "summary")) <= 1024);
	json_decref(pd);
	pd = parse(alert_payload_pagerduty(&r, "KEY"));
	assert_string_equal(str(pd, "event_action"), "resolve");
	assert_string_equal(str(pd, "dedup_key"), "gpuscope-00000000000000aa");
	assert_null(json_object_get(pd, "payload"));
	json_decref(pd);
}

int test_queue_run(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_json),
	    cmocka_unit_test(test_order_persistence_and_firing),
	    cmocka_unit_test(test_payloads),
	};
	return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
