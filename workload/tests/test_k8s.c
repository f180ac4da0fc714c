/* test_k8s.c - kubelet log-directory names: parsing, scanning the fixture, resolving. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload/k8s.h"
#include "workload/tests/test_util.h"

#define UID1  "11111111-2222-3333-4444-555555555555"
#define UID2  "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
#define UID3  "12345678-90ab-cdef-1234-567890abcdef"
#define CID_C "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3"
#define CID_D "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4"

static void pod_dir_names(void **state)
{
	(void)state;
	struct k8s_pod p;
	assert_true(k8s_parse_pod_dir_name("ml-serving_vllm-llama-0_" UID1, &p));
	assert_string_equal(p.pod_namespace, "ml-serving");
	assert_string_equal(p.name, "vllm-llama-0");
	assert_string_equal(p.uid, UID1);
	assert_true(
	    k8s_parse_pod_dir_name("kube-system_etcd-node1_0123456789abcdef0123456789abcdef", &p));
	assert_string_equal(p.name, "etcd-node1");
	assert_false(k8s_parse_pod_dir_name("not_a_pod", &p));
	assert_false(k8s_parse_pod_dir_name("nounderscores", &p));
	assert_false(k8s_parse_pod_dir_name("ns_" UID1, &p));
	assert_false(k8s_parse_pod_dir_name("_pod_" UID1, &p));
	assert_false(k8s_parse_pod_dir_name("ns__" UID1, &p));
	assert_false(k8s_parse_pod_dir_name("ns_pod_" UID1 "x", &p));
}

static void container_log_names(void **state)
{
	(void)state;
	struct k8s_container c;
	assert_true(k8s_parse_container_log_name("vllm-llama-0_ml-serving_vllm-" CID_C ".log", &c));
	assert_string_equal(c.pod, "vllm-llama-0");
	assert_string_equal(c.pod_namespace, "ml-serving");
	assert_string_equal(c.name, "vllm");
	assert_string_equal(c.id, CID_C);
	assert_true(k8s_parse_container_log_name("p_n_c-with-dashes-" CID_C ".log", &c));
	assert_string_equal(c.name, "c-with-dashes");
	assert_false(k8s_parse_container_log_name("garbage.log", &c));
	assert_false(k8s_parse_container_log_name("p_n_c-" CID_C ".txt", &c));
	assert_false(k8s_parse_container_log_name("p_n_c_" CID_C ".log", &c));
	assert_false(k8s_parse_container_log_name("too_many_under_scores-" CID_C ".log", &c));
	assert_false(k8s_parse_container_log_name("pn_c-" CID_C ".log", &c));
	assert_false(k8s_parse_container_log_name("p_n_-" CID_C ".log", &c));
	assert_false(k8s_parse_container_log_name(
	    "p_n_c-C3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3.log", &c));
}

static void scan_fixture_and_resolve(void **state)
{
	(void)state;
	struct k8s_index idx;
	assert_int_equal(
	    k8s_index_scan(fixture_path("var/log/pods"), fixture_path("var/log/containers"), &idx),
	    0);
	assert_int_equal(idx.pod_count, 4); /* not_a_pod and a_b_notauid are skipped */
	assert_int_equal(idx.container_count, 4);
	const struct k8s_pod *p = k8s_find_pod(&idx, UID2);
	assert_non_null(p);
	assert_string_equal(p->pod_namespace, "batch");
	assert_int_equal(p->container_count, 2);
	assert_string_equal(idx.container_names[p->first_container], "log-shipper");
	assert_string_equal(idx.container_names[p->first_container + 1], "trainer");
	assert_null(k8s_find_pod(&idx, "ffffffff-2222-3333-4444-555555555555"));
	assert_null(k8s_find_pod(&idx, ""));
	assert_null(k8s_find_container(&idx, NULL));

	struct k8s_names n;
	/* Pod from its UID, container name from the container log. */
	assert_true(k8s_resolve(&idx, UID1, CID_C, &n));
	assert_string_equal(n.pod_namespace, "ml-serving");
	assert_string_equal(n.pod, "vllm-llama-0");
	assert_string_equal(n.container, "vllm");
	assert_true(k8s_resolve(&idx, UID2, CID_D, &n));
	assert_string_equal(n.container, "trainer");
	/* Unknown container of a two-container pod: no guess. */
	assert_true(k8s_resolve(&idx, UID2, "", &n));
	assert_string_equal(n.pod, "trainer-xyz");
	assert_string_equal(n.container, "");
	/* Unknown container of a one-container pod: that container. */
	assert_true(k8s_resolve(&idx, UID3, "", &n));
	assert_string_equal(n.pod, "notebook-7");
	assert_string_equal(n.container, "jupyter");
	/* No pod UID (docker-shim era cgroupfs), the container log still names everything. */
	assert_true(k8s_resolve(&idx, "", CID_C, &n));
	assert_string_equal(n.pod_namespace, "ml-serving");
	assert_string_equal(n.container, "vllm");
	assert_false(k8s_resolve(&idx, "", "", &n));
	assert_string_equal(n.pod, "");
	k8s_index_free(&idx);
}

static void missing_directories_are_empty(void **state)
{
	(void)state;
	struct k8s_index idx;
	assert_int_equal(k8s_index_scan("/nonexistent/pods", NULL, &idx), 0);
	assert_int_equal(idx.pod_count, 0);
	assert_int_equal(idx.container_count, 0);
	struct k8s_names n;
	assert_false(k8s_resolve(&idx, UID1, CID_C, &n));
	k8s_index_free(&idx);
	/* A pod directory that is a file, and an empty pod directory. */
	char *dir = tree_make_temp();
	tree_write_text(dir, "pods/ns_file_" UID1, "");
	tree_write_text(dir, "pods/ns_empty_" UID2 "/.keep", "");
	char pods[4200];
	snprintf(pods, sizeof(pods), "%s/pods", dir);
	assert_int_equal(k8s_index_scan(pods, NULL, &idx), 0);
	assert_int_equal(idx.pod_count, 2);
	const struct k8s_pod *p = k8s_find_pod(&idx, UID2);
	assert_non_null(p);
	assert_int_equal(p->container_count, 0);
	k8s_index_free(&idx);
	tree_remove(dir);
	free(dir);
}

int test_k8s_run(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pod_dir_names),
	    cmocka_unit_test(container_log_names),
	    cmocka_unit_test(scan_fixture_and_resolve),
	    cmocka_unit_test(missing_directories_are_empty),
	};
	return cmocka_run_group_tests_name("workload.k8s", tests, NULL, NULL);
}
