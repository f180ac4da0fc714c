/* tests.h - the groups of test_analyze, one per file; each returns the
 * number of failed tests. */
#ifndef GPUSCOPE_ANALYZE_TESTS_H
#define GPUSCOPE_ANALYZE_TESTS_H

int analyze_boundary_tests(void);
int analyze_verdict_tests(void);
int analyze_trace_tests(void);
int analyze_shape_tests(void);
int analyze_comm_tests(void);

#endif
