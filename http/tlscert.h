/* tlscert.h - the server certificate and key that TLS handshakes present, swappable at
 * run time (SIGHUP) without touching the listening socket or connections in flight.
 *
 * Every handshake asks for the certificate through one GnuTLS callback (the engine's
 * credentials' retrieve function), which carries no pointer of ours: so the pair in force
 * lives in this file, behind a mutex, and the callback hands out whatever is current.
 * GnuTLS does not copy what the callback returns, and a handshake started before a swap may
 * still be reading the old pair: replaced pairs are kept until tlscert_clear (at stop), a
 * few kilobytes per certificate rotation.  One certificate per process (one server).
 */
#ifndef GPUSCOPE_HTTP_TLSCERT_H
#define GPUSCOPE_HTTP_TLSCERT_H

#include <stddef.h>

/* Builds the pair from PEM texts (the chain, leaf first, and its private key), checks that
 * the key is the leaf's, and makes it the one new handshakes get.  Returns 0, or -1 with a
 * sentence in err and the pair in force unchanged. */
int tlscert_set(const char *cert_pem, const char *key_pem, char *err, size_t errlen);

/* The GnuTLS retrieve function (gnutls_certificate_retrieve_function2), as the pointer
 * http_engine_config.retrieve carries. */
void *tlscert_callback(void);

/* Frees the pair in force and every replaced one; call once no TLS server runs. */
void tlscert_clear(void);

#endif
