/* libgnutls.c - GnuTLS, loaded the first time gpuscope needs it.
 *
 * Only a --web-config-file that asks for TLS (the server's certificate pair, client
 * certificates) or for basic-auth users (a SHA-256 of each accepted password, so a repeated
 * request skips bcrypt) needs GnuTLS, and most agents serve plain HTTP.  Linked at build
 * time, GnuTLS brings p11-kit, nettle, hogweed, gmp, libtasn1, libidn2, libunistring and
 * libffi into every process, with libtasn1's start-up heap: a bare program's RSS grows by
 * 2.8-3.0 MiB when it loads them, which such an agent pays for nothing.  So gpuscope does
 * not link GnuTLS: this file defines the GnuTLS functions it calls, and the first call (from
 * any thread) loads libgnutls.so.30 and binds them all.  GnuTLS initialises itself when it
 * is loaded (3.3 and newer); it stays loaded until exit.
 *
 * Call sites are plain GnuTLS.  When the library cannot be loaded, the functions fail the
 * way GnuTLS's own do (GNUTLS_E_INTERNAL_ERROR, NULL, nothing pending), deinit and free
 * functions do nothing, gnutls_strerror says why, and the reason is printed once.
 *
 * The definitions are hidden: they serve gpuscope's own code and are never exported, so a
 * library that itself links GnuTLS (libmicrohttpd today, libcurl-gnutls once loaded) binds
 * to GnuTLS's functions, not to these, and nothing the library runs while it is being loaded
 * can come back here.  dlsym() on the library's handle finds the library's own definitions,
 * also in a program that links GnuTLS besides (the unit test that makes certificates).
 *
 * gnutls_free is not a function but a variable holding one (gnutls.h: "extern
 * gnutls_free_function gnutls_free"; the macro beside it, which also clears the pointer, is
 * for GnuTLS's own build only).  So it is bound like the functions, as the address of the
 * library's variable, and the variable here holds a function that calls that variable's
 * value (GnuTLS 3.7: free). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

/* Tests build this file again under a name that does not exist, to run the failure paths. */
#ifndef GPUSCOPE_GNUTLS_SONAME
#define GPUSCOPE_GNUTLS_SONAME "libgnutls.so.30"
#endif

#define SHIM __attribute__((visibility("hidden")))

static struct {
	int (*init)(gnutls_session_t *, unsigned);
	void (*deinit)(gnutls_session_t);
	int (*set_default_priority)(gnutls_session_t);
	int (*priority_set_direct)(gnutls_session_t, const char *, const char **);
	int (*credentials_set)(gnutls_session_t, gnutls_credentials_type_t, void *);
	int (*certificate_allocate_credentials)(gnutls_certificate_credentials_t *);
	void (*certificate_free_credentials)(gnutls_certificate_credentials_t);
	void (*certificate_set_retrieve_function2)(gnutls_certificate_credentials_t,
	                                           gnutls_certificate_retrieve_function2 *);
	int (*certificate_set_x509_key_mem)(gnutls_certificate_credentials_t,
	                                    const gnutls_datum_t *, const gnutls_datum_t *,
	                                    gnutls_x509_crt_fmt_t);
	int (*certificate_set_x509_trust_mem)(gnutls_certificate_credentials_t,
	                                      const gnutls_datum_t *, gnutls_x509_crt_fmt_t);
	void (*certificate_server_set_request)(gnutls_session_t, gnutls_certificate_request_t);
	const gnutls_datum_t *(*certificate_get_peers)(gnutls_session_t, unsigned *);
	int (*certificate_verify_peers2)(gnutls_session_t, unsigned *);
	void (*transport_set_int2)(gnutls_session_t, int, int);
	int (*handshake)(gnutls_session_t);
	void (*handshake_set_timeout)(gnutls_session_t, unsigned);
	ssize_t (*record_recv)(gnutls_session_t, void *, size_t);
	ssize_t (*record_send)(gnutls_session_t, const void *, size_t);
	size_t (*record_check_pending)(gnutls_session_t);
	int (*record_get_direction)(gnutls_session_t);
	int (*bye)(gnutls_session_t, gnutls_close_request_t);
	int (*alert_send_appropriate)(gnutls_session_t, int);
	int (*error_is_fatal)(int);
	const char *(*strerror)(int);
	int (*hash_fast)(gnutls_digest_algorithm_t, const void *, size_t, void *);
	int (*pcert_list_import_x509_raw)(gnutls_pcert_st *, unsigned *, const gnutls_datum_t *,
	                                  gnutls_x509_crt_fmt_t, unsigned);
	void (*pcert_deinit)(gnutls_pcert_st *);
	int (*privkey_init)(gnutls_privkey_t *);
	int (*privkey_import_x509_raw)(gnutls_privkey_t, const gnutls_datum_t *,
	                               gnutls_x509_crt_fmt_t, const char *, unsigned);
	void (*privkey_deinit)(gnutls_privkey_t);
	int (*pubkey_init)(gnutls_pubkey_t *);
	int (*pubkey_import_privkey)(gnutls_pubkey_t, gnutls_privkey_t, unsigned, unsigned);
	int (*pubkey_export2)(gnutls_pubkey_t, gnutls_x509_crt_fmt_t, gnutls_datum_t *);
	void (*pubkey_deinit)(gnutls_pubkey_t);
	gnutls_free_function *free; /* the library's variable, not a function */
} fn;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool loaded;

/* Binds every symbol or none: a partial table would fail later, in a stranger place. */
static bool bind_all(void *h)
{
	struct {
		const char *name;
		void **slot;
	} rows[] = {
	    {"gnutls_init", (void **)&fn.init},
	    {"gnutls_deinit", (void **)&fn.deinit},
	    {"gnutls_set_default_priority", (void **)&fn.set_default_priority},
	    {"gnutls_priority_set_direct", (void **)&fn.priority_set_direct},
	    {"gnutls_credentials_set", (void **)&fn.credentials_set},
	    {"gnutls_certificate_allocate_credentials",
	     (void **)&fn.certificate_allocate_credentials},
	    {"gnutls_certificate_free_credentials", (void **)&fn.certificate_free_credentials},
	    {"gnutls_certificate_set_retrieve_function2",
	     (void **)&fn.certificate_set_retrieve_function2},
	    {"gnutls_certificate_set_x509_key_mem", (void **)&fn.certificate_set_x509_key_mem},
	    {"gnutls_certificate_set_x509_trust_mem", (void **)&fn.certificate_set_x509_trust_mem},
	    {"gnutls_certificate_server_set_request", (void **)&fn.certificate_server_set_request},
	    {"gnutls_certificate_get_peers", (void **)&fn.certificate_get_peers},
	    {"gnutls_certificate_verify_peers2", (void **)&fn.certificate_verify_peers2},
	    {"gnutls_transport_set_int2", (void **)&fn.transport_set_int2},
	    {"gnutls_handshake", (void **)&fn.handshake},
	    {"gnutls_handshake_set_timeout", (void **)&fn.handshake_set_timeout},
	    {"gnutls_record_recv", (void **)&fn.record_recv},
	    {"gnutls_record_send", (void **)&fn.record_send},
	    {"gnutls_record_check_pending", (void **)&fn.record_check_pending},
	    {"gnutls_record_get_direction", (void **)&fn.record_get_direction},
	    {"gnutls_bye", (void **)&fn.bye},
	    {"gnutls_alert_send_appropriate", (void **)&fn.alert_send_appropriate},
	    {"gnutls_error_is_fatal", (void **)&fn.error_is_fatal},
	    {"gnutls_strerror", (void **)&fn.strerror},
	    {"gnutls_hash_fast", (void **)&fn.hash_fast},
	    {"gnutls_pcert_list_import_x509_raw", (void **)&fn.pcert_list_import_x509_raw},
	    {"gnutls_pcert_deinit", (void **)&fn.pcert_deinit},
	    {"gnutls_privkey_init", (void **)&fn.privkey_init},
	    {"gnutls_privkey_import_x509_raw", (void **)&fn.privkey_import_x509_raw},
	    {"gnutls_privkey_deinit", (void **)&fn.privkey_deinit},
	    {"gnutls_pubkey_init", (void **)&fn.pubkey_init},
	    {"gnutls_pubkey_import_privkey", (void **)&fn.pubkey_import_privkey},
	    {"gnutls_pubkey_export2", (void **)&fn.pubkey_export2},
	    {"gnutls_pubkey_deinit", (void **)&fn.pubkey_deinit},
	    {"gnutls_free", (void **)&fn.free},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (!(*rows[i].slot = dlsym(h, rows[i].name))) {
			fprintf(stderr, "gpuscope: GnuTLS lacks %s (3.4 or newer is needed)\n",
			        rows[i].name);
			return false;
		}
	return true;
}

static void load(void)
{
	void *h = dlopen(GPUSCOPE_GNUTLS_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr,
		        "gpuscope: cannot load GnuTLS (%s): TLS and basic authentication in "
		        "--web-config-file need it (Debian: apt-get install libgnutls30)\n",
		        dlerror());
		return;
	}
	if (!bind_all(h)) {
		dlclose(h);
		return;
	}
	loaded = true;
}

static bool ready(void)
{
	pthread_once(&once, load);
	return loaded;
}

/* Only memory GnuTLS handed out comes here, so the library is loaded by then. */
static void free_through_library(void *p)
{
	if (p && ready())
		(*fn.free)(p);
}

SHIM gnutls_free_function gnutls_free = free_through_library;

SHIM int gnutls_init(gnutls_session_t *session, unsigned int flags)
{
	if (ready())
		return fn.init(session, flags);
	*session = NULL;
	return GNUTLS_E_INTERNAL_ERROR;
}

SHIM void gnutls_deinit(gnutls_session_t session)
{
	if (session && ready())
		fn.deinit(session);
}

SHIM int gnutls_set_default_priority(gnutls_session_t session)
{
	return ready() ? fn.set_default_priority(session) : GNUTLS_E_INTERNAL_ERROR;
}

SHIM int gnutls_priority_set_direct(gnutls_session_t session, const char *priorities,
                                    const char **err_pos)
{
	return ready() ? fn.priority_set_direct(session, priorities, err_pos)
	               : GNUTLS_E_INTERNAL_ERROR;
}

SHIM int gnutls_credentials_set(gnutls_session_t session, gnutls_credentials_type_t type,
                                void *cred)
{
	return ready() ? fn.credentials_set(session, type, cred) : GNUTLS_E_INTERNAL_ERROR;
}

SHIM int gnutls_certificate_allocate_credentials(gnutls_certificate_credentials_t *res)
{
	if (ready())
		return fn.certificate_allocate_credentials(res);
	*res = NULL;
	return GNUTLS_E_INTERNAL_ERROR;
}

SHIM void gnutls_certificate_free_credentials(gnutls_certificate_credentials_t sc)
{
	if (sc && ready())
		fn.certificate_free_credentials(sc);
}

SHIM void gnutls_certificate_set_retrieve_function2(gnutls_certificate_credentials_t cred,
                                                    gnutls_certificate_retrieve_function2 *func)
{
	if (ready())
		fn.certificate_set_retrieve_function2(cred, func);
}

SHIM int gnutls_certificate_set_x509_key_mem(gnutls_certificate_credentials_t res,
                                             const gnutls_datum_t *cert, const gnutls_datum_t *key,
                                             gnutls_x509_crt_fmt_t type)
{
	return ready() ? fn.certificate_set_x509_key_mem(res, cert, key, type)
	               : GNUTLS_E_INTERNAL_ERROR;
}

SHIM int gnutls_certificate_set_x509_trust_mem(gnutls_certificate_credentials_t res,
                                               const gnutls_datum_t *ca, gnutls_x509_crt_fmt_t type)
{
	return ready() ? fn.certificate_set_x509_trust_mem(res, ca, type) : GNUTLS_E_INTERNAL_ERROR;
}

SHIM void gnutls_certificate_server_set_request(gnutls_session_t session,
                                                gnutls_certificate_request_t req)
{
	if (ready())
		fn.certificate_server_set_request(session, req);
}

SHIM const gnutls_datum_t *gnutls_certificate_get_peers(gnutls_session_t session,
                                                        unsigned int *list_size)
{
	if (ready())
		return fn.certificate_get_peers(session, list_size);
	*list_size = 0;
	return NULL;
}

/* Unloaded, the status says invalid too, for a caller that reads only the status. */
SHIM int gnutls_certificate_verify_peers2(gnutls_session_t session, unsigned int *status)
{
	if (ready())
		return fn.certificate_verify_peers2(session, status);
	*status = GNUTLS_CERT_INVALID;
	return GNUTLS_E_INTERNAL_ERROR;
}

SHIM void gnutls_transport_set_int2(gnutls_session_t session, int r, int s)
{
	if (ready())
		fn.transport_set_int2(session, r, s);
}

SHIM int gnutls_handshake(gnutls_session_t session)
{
	return ready() ? fn.handshake(session) : GNUTLS_E_INTERNAL_ERROR;
}

SHIM void gnutls_handshake_set_timeout(gnutls_session_t session, unsigned int ms)
{
	if (ready())
		fn.handshake_set_timeout(session, ms);
}

SHIM ssize_t gnutls_record_recv(gnutls_session_t session, void *data, size_t data_size)
{
	return ready() ? fn.record_recv(session, data, data_size) : GNUTLS_E_INTERNAL_ERROR;
}

SHIM ssize_t gnutls_record_send(gnutls_session_t session, const void *data, size_t data_size)
{
	return ready() ? fn.record_send(session, data, data_size) : GNUTLS_E_INTERNAL_ERROR;
}

SHIM size_t gnutls_record_check_pending(gnutls_session_t session)
{
	return ready() ? fn.record_check_pending(session) : 0;
}

SHIM int gnutls_record_get_direction(gnutls_session_t session)
{
	return ready() ? fn.record_get_direction(session) : 0;
}

SHIM int gnutls_bye(gnutls_session_t session, gnutls_close_request_t how)
{
	return ready() ? fn.bye(session, how) : GNUTLS_E_INTERNAL_ERROR;
}

SHIM int gnutls_alert_send_appropriate(gnutls_session_t session, int err)
{
	return ready() ? fn.alert_send_appropriate(session, err) : GNUTLS_E_INTERNAL_ERROR;
}

/* gnutls.h declares this and gnutls_strerror __attribute__((const)): a caller may reuse an
 * answer for the same code, which stays true here, since the library never goes away. */
SHIM int gnutls_error_is_fatal(int error)
{
	return ready() ? fn.error_is_fatal(error) : 1;
}

SHIM const char *gnutls_strerror(int error)
{
	return ready() ? fn.strerror(error) : "GnuTLS could not be loaded";
}

SHIM int gnutls_hash_fast(gnutls_digest_algorithm_t algorithm, const void *text, size_t textlen,
                          void *digest)
{
	return ready() ? fn.hash_fast(algorithm, text, textlen, digest) : GNUTLS_E_INTERNAL_ERROR;
}

SHIM int gnutls_pcert_list_import_x509_raw(gnutls_pcert_st *pcerts, unsigned int *pcert_max,
                                           const gnutls_datum_t *data, gnutls_x509_crt_fmt_t format,
                                           unsigned int flags)
{
	return ready() ? fn.pcert_list_import_x509_raw(pcerts, pcert_max, data, format, flags)
	               : GNUTLS_E_INTERNAL_ERROR;
}

SHIM void gnutls_pcert_deinit(gnutls_pcert_st *pcert)
{
	if (ready())
		fn.pcert_deinit(pcert);
}

SHIM int gnutls_privkey_init(gnutls_privkey_t *key)
{
	if (ready())
		return fn.privkey_init(key);
	*key = NULL;
	return GNUTLS_E_INTERNAL_ERROR;
}

SHIM int gnutls_privkey_import_x509_raw(gnutls_privkey_t pkey, const gnutls_datum_t *data,
                                        gnutls_x509_crt_fmt_t format, const char *password,
                                        unsigned int flags)
{
	return ready() ? fn.privkey_import_x509_raw(pkey, data, format, password, flags)
	               : GNUTLS_E_INTERNAL_ERROR;
}

SHIM void gnutls_privkey_deinit(gnutls_privkey_t key)
{
	if (key && ready())
		fn.privkey_deinit(key);
}

SHIM int gnutls_pubkey_init(gnutls_pubkey_t *key)
{
	if (ready())
		return fn.pubkey_init(key);
	*key = NULL;
	return GNUTLS_E_INTERNAL_ERROR;
}

SHIM int gnutls_pubkey_import_privkey(gnutls_pubkey_t key, gnutls_privkey_t pkey,
                                      unsigned int usage, unsigned int flags)
{
	return ready() ? fn.pubkey_import_privkey(key, pkey, usage, flags)
	               : GNUTLS_E_INTERNAL_ERROR;
}

SHIM int gnutls_pubkey_export2(gnutls_pubkey_t key, gnutls_x509_crt_fmt_t format,
                               gnutls_datum_t *out)
{
	return ready() ? fn.pubkey_export2(key, format, out) : GNUTLS_E_INTERNAL_ERROR;
}

SHIM void gnutls_pubkey_deinit(gnutls_pubkey_t key)
{
	if (key && ready())
		fn.pubkey_deinit(key);
}
