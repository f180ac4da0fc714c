/* auth.c - client certificates and basic authentication; see auth.h. */
#include "http/auth.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_CACHE 8

struct remembered {
	char user[128];
	unsigned char digest[32]; /* SHA-256 of user NUL password */
	bool used;
};

struct http_auth {
	struct webconfig w;   /* users and client_auth (PEM pointers not owned) */
	pthread_mutex_t lock; /* guards cache and next */
	struct remembered cache[AUTH_CACHE];
	unsigned next;
	pthread_mutex_t bcrypt; /* one bcrypt at a time */
};

struct http_auth *http_auth_new(const struct webconfig *w)
{
	if (w->nusers == 0 && w->client_auth == CLIENT_AUTH_NONE)
		return NULL;
	struct http_auth *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->w = *w;
	a->w.cert_pem = a->w.key_pem = a->w.ca_pem = NULL;
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->bcrypt, NULL);
	return a;
}

void http_auth_free(struct http_auth *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->lock);
	pthread_mutex_destroy(&a->bcrypt);
	free(a);
}

static void refuse(struct http_response *out, unsigned status, const char *text, const char *header,
                   const char *value)
{
	http_response_set(out, status, "text/plain; charset=utf-8", text, strlen(text), NULL, NULL);
	if (header)
		http_response_field(out, header, value);
}

/* The client certificate rule of the configuration: true when it is met. */
static bool client_cert_ok(const struct http_auth *a, const struct http_request *rq)
{
	enum client_auth kind = a->w.client_auth;
	if (kind == CLIENT_AUTH_NONE || kind == CLIENT_AUTH_REQUEST)
		return true;
	gnutls_session_t s = rq->tls;
	unsigned n = 0;
	const gnutls_datum_t *peers = s ? gnutls_certificate_get_peers(s, &n) : NULL;
	bool given = peers && n > 0;
	if (!given)
		return kind == CLIENT_AUTH_VERIFY_IF_GIVEN;
	if (kind == CLIENT_AUTH_REQUIRE_ANY)
		return true;
	unsigned status = 0;
	return gnutls_certificate_verify_peers2(s, &status) == GNUTLS_E_SUCCESS && status == 0;
}

/* False when there is no digest (no memory, GnuTLS not loadable): the password is then
 * checked with bcrypt and neither looked up nor remembered, since a zero digest would match
 * any password of a remembered user. */
static bool digest_of(const char *user, const char *password, unsigned char out[32])
{
	size_t ul = strlen(user), pl = strlen(password);
	char *buf = malloc(ul + pl + 1);
	if (!buf)
		return false;
	memcpy(buf, user, ul + 1);
	memcpy(buf + ul + 1, password, pl);
	int rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, ul + 1 + pl, out);
	free(buf);
	return rc == GNUTLS_E_SUCCESS;
}

static bool remembered(struct http_auth *a, const char *user, const unsigned char d[32])
{
	bool hit = false;
	pthread_mutex_lock(&a->lock);
	for (unsigned i = 0; i < AUTH_CACHE && !hit; i++)
		hit = a->cache[i].used && strcmp(a->cache[i].user, user) == 0 &&
		      memcmp(a->cache[i].digest, d, 32) == 0;
	pthread_mutex_unlock(&a->lock);
	return hit;
}

static void remember(struct http_auth *a, const char *user, const unsigned char d[32])
{
	pthread_mutex_lock(&a->lock);
	struct remembered *r = &a->cache[a->next++ % AUTH_CACHE];
	r->used = true;
	snprintf(r->user, sizeof(r->user), "%s", user);
	memcpy(r->digest, d, 32);
	pthread_mutex_unlock(&a->lock);
}

bool http_auth_allow(struct http_auth *a, const struct http_request *rq, const char *url,
                     struct http_response *out)
{
	if (!a || strcmp(url, "/health") == 0)
		return true;
	if (!client_cert_ok(a, rq)) {
		refuse(out, 403, "a client certificate signed by the configured CA is required\n",
		       NULL, NULL);
		return false;
	}
	if (a->w.nusers == 0)
		return true;
	char user[128], pass[256];
	bool ok = false, busy = false;
	if (wire_basic_auth(wire_header(rq->head, "Authorization"), user, sizeof(user), pass,
	                    sizeof(pass))) {
		unsigned char d[32];
		bool have_digest = digest_of(user, pass, d);
		if (have_digest && remembered(a, user, d)) {
			ok = true;
		} else if (pthread_mutex_trylock(&a->bcrypt) == 0) {
			ok = webconfig_check_password(&a->w, user, pass);
			pthread_mutex_unlock(&a->bcrypt);
			if (ok && have_digest)
				remember(a, user, d);
		} else {
			busy = true;
		}
		explicit_bzero(pass, sizeof(pass));
	}
	if (ok)
		return true;
	if (busy) {
		refuse(out, 429, "another password is being checked; retry\n", "Retry-After", "1");
		return false;
	}
	refuse(out, 401, "unauthorized\n", "WWW-Authenticate", "Basic realm=\"gpuscope\"");
	return false;
}
