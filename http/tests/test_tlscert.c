/* test_tlscert.c - the swappable TLS pair (http/tlscert.h): what the GnuTLS callback hands
 * out before and after a swap, that a bad certificate, a bad key or a key of another
 * certificate keeps the pair in force, and that a replaced pair stays readable.  The pairs
 * are made here with GnuTLS (ECDSA P-256, self-signed), so no fixture file can go stale. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/tlscert.h"

struct pem_pair {
	char *cert, *key;
	gnutls_datum_t der; /* the certificate, as a handshake presents it */
};

static void make_pair(struct pem_pair *p, const char *cn)
{
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	gnutls_datum_t out;
	assert_int_equal(gnutls_x509_privkey_init(&key), 0);
	assert_int_equal(
	    gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
	                                 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
	    0);
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_set_key(crt, key), 0);
	assert_int_equal(gnutls_x509_crt_set_version(crt, 3), 0);
	unsigned char serial = (unsigned char)cn[0];
	assert_int_equal(gnutls_x509_crt_set_serial(crt, &serial, 1), 0);
	assert_int_equal(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
	                                               (unsigned)strlen(cn)),
	                 0);
	time_t now = time(NULL);
	assert_int_equal(gnutls_x509_crt_set_activation_time(crt, now - 60), 0);
	assert_int_equal(gnutls_x509_crt_set_expiration_time(crt, now + 86400), 0);
	assert_int_equal(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0), 0);
	assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out), 0);
	p->cert = strndup((const char *)out.data, out.size);
	gnutls_free(out.data);
	assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &p->der), 0);
	assert_int_equal(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &out), 0);
	p->key = strndup((const char *)out.data, out.size);
	gnutls_free(out.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
}

static void free_pair(struct pem_pair *p)
{
	free(p->cert);
	free(p->key);
	gnutls_free(p->der.data);
}

/* What a handshake would get now: the leaf's DER, or NULL when the callback fails. */
static const gnutls_datum_t *presented(gnutls_privkey_t *key)
{
	gnutls_certificate_retrieve_function2 *f =
	    (gnutls_certificate_retrieve_function2 *)tlscert_callback();
	gnutls_pcert_st *pcert = NULL;
	unsigned n = 0;
	*key = NULL;
	if (f(NULL, NULL, 0, NULL, 0, &pcert, &n, key) != 0)
		return NULL;
	assert_true(n >= 1);
	assert_non_null(*key);
	return &pcert[0].cert;
}

static void assert_presents(const gnutls_datum_t *got, const struct pem_pair *p)
{
	assert_non_null(got);
	assert_int_equal(got->size, p->der.size);
	assert_memory_equal(got->data, p->der.data, p->der.size);
}

static void test_swap_and_refusals(void **state)
{
	struct pem_pair a, b;
	make_pair(&a, "a");
	make_pair(&b, "b");
	char err[256];
	gnutls_privkey_t key;

	assert_null(presented(&key)); /* nothing set: the handshake fails, no crash */

	assert_int_equal(tlscert_set(a.cert, a.key, err, sizeof(err)), 0);
	const gnutls_datum_t *held = presented(&key);
	assert_presents(held, &a);

	/* Refused, each with its reason; A stays in force. */
	assert_int_equal(tlscert_set(b.cert, a.key, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not the certificate's"));
	assert_int_equal(tlscert_set("-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n",
	                             b.key, err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "the certificate"));
	assert_int_equal(tlscert_set(b.cert, "not a key", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "the key"));
	assert_int_equal(tlscert_set("", "", err, sizeof(err)), -1);
	assert_presents(presented(&key), &a);

	/* Swapped: new handshakes get B; what a handshake in flight holds is still A. */
	assert_int_equal(tlscert_set(b.cert, b.key, err, sizeof(err)), 0);
	assert_presents(presented(&key), &b);
	assert_presents(held, &a);

	tlscert_clear();
	assert_null(presented(&key));
	free_pair(&a);
	free_pair(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_swap_and_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
