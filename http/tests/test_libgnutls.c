/* test_libgnutls.c - GnuTLS loaded on first use (http/libgnutls.c), in a program that does
 * not link it: no libgnutls in the process before the first call, the library's answers
 * after it (SHA-256 of "abc", the public half of a fixed P-256 key, memory given back
 * through gnutls_free).  Built a second time as test_libgnutls_absent, with the shim
 * pointed at a library that does not exist: every function fails the way GnuTLS reports
 * failure, and the reason is printed once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* True when /proc/self/maps maps a file whose path holds name (this program's own path holds
 * "libgnutls" too: ask for "/libgnutls.so"). */
static bool mapped(const char *name)
{
	FILE *f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	char line[4096];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, name) != NULL;
	fclose(f);
	return found;
}

#ifndef GPUSCOPE_GNUTLS_SONAME

/* FIPS 180-2, appendix B.1. */
static const unsigned char sha256_abc[32] = {
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};

/* Runs first: nothing before it may call GnuTLS. */
static void test_loaded_on_first_call(void **state)
{
	assert_false(mapped("/libgnutls.so"));
	unsigned char d[32] = {0};
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, "abc", 3, d), GNUTLS_E_SUCCESS);
	assert_memory_equal(d, sha256_abc, sizeof(d));
	assert_true(mapped("/libgnutls.so.30"));
}

static void test_library_answers(void **state)
{
	assert_int_equal(gnutls_error_is_fatal(GNUTLS_E_AGAIN), 0);
	assert_int_not_equal(gnutls_error_is_fatal(GNUTLS_E_INTERNAL_ERROR), 0);
	const char *text = gnutls_strerror(GNUTLS_E_AGAIN);
	assert_non_null(text);
	assert_null(strstr(text, "could not be loaded"));
}

/* A fixed key (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256) and its
 * SubjectPublicKeyInfo (openssl pkey -pubout -outform DER). */
static const char key_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgULb86lIa8oWrttjt\n"
                              "SJQSxGuAGpecZAEYtdCTQq/wHG+hRANCAAR1GM7ijOW2wmKTr5OeTyM3RokmRNEI\n"
                              "8V532NySN2Ffk5uyMwLRrwt5+0iMvgBo6DTq20hIJhR9mpXG6gtkfWDq\n"
                              "-----END PRIVATE KEY-----\n";
static const unsigned char pub_der[91] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04, 0x75, 0x18, 0xce, 0xe2, 0x8c,
    0xe5, 0xb6, 0xc2, 0x62, 0x93, 0xaf, 0x93, 0x9e, 0x4f, 0x23, 0x37, 0x46, 0x89, 0x26, 0x44, 0xd1,
    0x08, 0xf1, 0x5e, 0x77, 0xd8, 0xdc, 0x92, 0x37, 0x61, 0x5f, 0x93, 0x9b, 0xb2, 0x33, 0x02, 0xd1,
    0xaf, 0x0b, 0x79, 0xfb, 0x48, 0x8c, 0xbe, 0x00, 0x68, 0xe8, 0x34, 0xea, 0xdb, 0x48, 0x48, 0x26,
    0x14, 0x7d, 0x9a, 0x95, 0xc6, 0xea, 0x0b, 0x64, 0x7d, 0x60, 0xea};

/* The key path tlscert.c takes, ending in memory the library allocated and gnutls_free
 * (a variable in GnuTLS's headers, not a function) gives back: ASan's build checks that
 * it reaches the allocator the library used. */
static void test_public_half_and_free(void **state)
{
	gnutls_privkey_t key;
	gnutls_pubkey_t pub;
	gnutls_datum_t pem = {(unsigned char *)key_pem, sizeof(key_pem) - 1};
	gnutls_datum_t der = {NULL, 0};
	assert_int_equal(gnutls_privkey_init(&key), GNUTLS_E_SUCCESS);
	assert_int_equal(gnutls_privkey_import_x509_raw(key, &pem, GNUTLS_X509_FMT_PEM, NULL, 0),
	                 GNUTLS_E_SUCCESS);
	assert_int_equal(gnutls_pubkey_init(&pub), GNUTLS_E_SUCCESS);
	assert_int_equal(gnutls_pubkey_import_privkey(pub, key, 0, 0), GNUTLS_E_SUCCESS);
	assert_int_equal(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der), GNUTLS_E_SUCCESS);
	assert_int_equal(der.size, sizeof(pub_der));
	assert_memory_equal(der.data, pub_der, sizeof(pub_der));
	gnutls_free(der.data);
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(key);

	gnutls_datum_t junk = {(unsigned char *)"not a key", 9};
	assert_int_equal(gnutls_privkey_init(&key), GNUTLS_E_SUCCESS);
	assert_true(gnutls_privkey_import_x509_raw(key, &junk, GNUTLS_X509_FMT_PEM, NULL, 0) < 0);
	gnutls_privkey_deinit(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_loaded_on_first_call),
	    cmocka_unit_test(test_library_answers),
	    cmocka_unit_test(test_public_half_and_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* built with a soname that cannot be loaded */

static void test_fails_like_gnutls(void **state)
{
	/* The reason goes to stderr: catch it in a file. */
	fflush(stderr);
	FILE *caught = tmpfile();
	assert_non_null(caught);
	int saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fileno(caught), STDERR_FILENO), STDERR_FILENO);

	unsigned char d[32] = {0}, zero[32] = {0};
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, "abc", 3, d), GNUTLS_E_INTERNAL_ERROR);
	assert_memory_equal(d, zero, sizeof(d));

	gnutls_session_t s = (gnutls_session_t)&d; /* any non-NULL value, to see it cleared */
	assert_int_equal(gnutls_init(&s, GNUTLS_SERVER), GNUTLS_E_INTERNAL_ERROR);
	assert_null(s);
	gnutls_certificate_credentials_t cred = (gnutls_certificate_credentials_t)&d;
	assert_int_equal(gnutls_certificate_allocate_credentials(&cred), GNUTLS_E_INTERNAL_ERROR);
	assert_null(cred);
	gnutls_privkey_t key = (gnutls_privkey_t)&d;
	assert_int_equal(gnutls_privkey_init(&key), GNUTLS_E_INTERNAL_ERROR);
	assert_null(key);
	gnutls_pubkey_t pub = (gnutls_pubkey_t)&d;
	assert_int_equal(gnutls_pubkey_init(&pub), GNUTLS_E_INTERNAL_ERROR);
	assert_null(pub);

	unsigned n = 7, status = 0;
	assert_null(gnutls_certificate_get_peers(s, &n));
	assert_int_equal(n, 0);
	assert_int_equal(gnutls_certificate_verify_peers2(s, &status), GNUTLS_E_INTERNAL_ERROR);
	assert_true(status & GNUTLS_CERT_INVALID);
	char buf[16];
	assert_int_equal(gnutls_record_recv(s, buf, sizeof(buf)), GNUTLS_E_INTERNAL_ERROR);
	assert_int_equal(gnutls_record_send(s, "x", 1), GNUTLS_E_INTERNAL_ERROR);
	assert_int_equal(gnutls_record_check_pending(s), 0);
	assert_int_equal(gnutls_handshake(s), GNUTLS_E_INTERNAL_ERROR);
	assert_int_equal(gnutls_bye(s, GNUTLS_SHUT_RDWR), GNUTLS_E_INTERNAL_ERROR);
	assert_int_not_equal(gnutls_error_is_fatal(GNUTLS_E_AGAIN), 0);
	assert_string_equal(gnutls_strerror(GNUTLS_E_AGAIN), "GnuTLS could not be loaded");

	/* Deinit and free do nothing. */
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(cred);
	gnutls_privkey_deinit(key);
	gnutls_pubkey_deinit(pub);
	void *none = NULL;
	gnutls_free(none);

	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	rewind(caught);
	char line[512];
	int lines = 0;
	bool said = false;
	while (fgets(line, sizeof(line), caught)) {
		lines++;
		said = said || strstr(line, "cannot load GnuTLS") != NULL;
	}
	fclose(caught);
	assert_int_equal(lines, 1);
	assert_true(said);
	assert_false(mapped("/libgnutls.so"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fails_like_gnutls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
