/* tests.h - the alert test groups (one ctest entry each, unit.alert.<group>). */
#ifndef GPUSCOPE_ALERT_TESTS_H
#define GPUSCOPE_ALERT_TESTS_H

int test_rules_run(void);
int test_eval_run(void);
int test_queue_run(void);

#endif
