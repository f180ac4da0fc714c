/* tlscert.c - the swappable server certificate (see tlscert.h): a list of pairs, newest
 * first, the head in force; GnuTLS reads the head through retrieve() on every handshake. */
#include "http/tlscert.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLSCERT_CHAIN_MAX 16

struct tlscert_pair {
	gnutls_pcert_st pcert[TLSCERT_CHAIN_MAX];
	unsigned n;
	gnutls_privkey_t key;
	struct tlscert_pair *older; /* replaced: a handshake may still hold it */
};

static pthread_mutex_t tlscert_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tlscert_pair *tlscert_head; /* under tlscert_lock */

static void pair_free(struct tlscert_pair *p)
{
	for (unsigned i = 0; i < p->n; i++)
		gnutls_pcert_deinit(&p->pcert[i]);
	if (p->key)
		gnutls_privkey_deinit(p->key);
	free(p);
}

static int retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                    gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
	pthread_mutex_lock(&tlscert_lock);
	struct tlscert_pair *p = tlscert_head;
	pthread_mutex_unlock(&tlscert_lock);
	if (!p)
		return -1; /* the handshake fails; never reached once the server started */
	*pcert = p->pcert;
	*pcert_length = p->n;
	*privkey = p->key;
	return 0;
}

/* True when key's public half is the certificate's public key. */
static bool key_matches(gnutls_privkey_t key, gnutls_pubkey_t cert_pub)
{
	gnutls_pubkey_t pub;
	gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
	bool same = false;
	if (gnutls_pubkey_init(&pub) != GNUTLS_E_SUCCESS)
		return false;
	if (gnutls_pubkey_import_privkey(pub, key, 0, 0) == GNUTLS_E_SUCCESS &&
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &a) == GNUTLS_E_SUCCESS &&
	    gnutls_pubkey_export2(cert_pub, GNUTLS_X509_FMT_DER, &b) == GNUTLS_E_SUCCESS)
		same = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
	gnutls_free(a.data);
	gnutls_free(b.data);
	gnutls_pubkey_deinit(pub);
	return same;
}

int tlscert_set(const char *cert_pem, const char *key_pem, char *err, size_t errlen)
{
	struct tlscert_pair *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	gnutls_datum_t cert = {(unsigned char *)cert_pem, (unsigned)strlen(cert_pem)};
	gnutls_datum_t key = {(unsigned char *)key_pem, (unsigned)strlen(key_pem)};
	unsigned n = TLSCERT_CHAIN_MAX;
	int rc = gnutls_pcert_list_import_x509_raw(p->pcert, &n, &cert, GNUTLS_X509_FMT_PEM, 0);
	if (rc != GNUTLS_E_SUCCESS) {
		snprintf(err, errlen, "the certificate: %s",
		         rc == GNUTLS_E_SHORT_MEMORY_BUFFER ? "more than 16 in the chain"
		                                            : gnutls_strerror(rc));
		free(p);
		return -1;
	}
	p->n = n;
	if ((rc = gnutls_privkey_init(&p->key)) != GNUTLS_E_SUCCESS ||
	    (rc = gnutls_privkey_import_x509_raw(p->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) !=
	        GNUTLS_E_SUCCESS) {
		snprintf(err, errlen, "the key: %s", gnutls_strerror(rc));
		pair_free(p);
		return -1;
	}
	if (!key_matches(p->key, p->pcert[0].pubkey)) {
		snprintf(err, errlen, "the key is not the certificate's");
		pair_free(p);
		return -1;
	}
	pthread_mutex_lock(&tlscert_lock);
	p->older = tlscert_head;
	tlscert_head = p;
	pthread_mutex_unlock(&tlscert_lock);
	return 0;
}

void *tlscert_callback(void)
{
	gnutls_certificate_retrieve_function2 *f = retrieve;
	return (void *)f;
}

void tlscert_clear(void)
{
	pthread_mutex_lock(&tlscert_lock);
	struct tlscert_pair *p = tlscert_head;
	tlscert_head = NULL;
	pthread_mutex_unlock(&tlscert_lock);
	while (p) {
		struct tlscert_pair *older = p->older;
		pair_free(p);
		p = older;
	}
}
