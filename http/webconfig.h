/* webconfig.h - the Prometheus exporter-toolkit web configuration (`--web-config-file`):
 * TLS and basic authentication, in the file format every Prometheus exporter shares, so
 * the secret a dcgm-exporter deployment mounts works unchanged.
 *
 *   tls_server_config:
 *     cert_file: server.crt            # PEM; relative paths are relative to this file
 *     key_file: server.key
 *     client_auth_type: RequireAndVerifyClientCert   # or NoClientCert (default),
 *                                      # RequestClientCert, RequireAnyClientCert,
 *                                      # VerifyClientCertIfGiven
 *     client_ca_file: ca.crt           # needed by the Verify kinds
 *   basic_auth_users:
 *     prometheus: $2y$10$...            # bcrypt hashes only
 *
 * Crypto is the system's: TLS through GnuTLS (loaded when it is first used), bcrypt through
 * libxcrypt's crypt_r().  Parsing (libyaml) is a pure function over a buffer, so it has a fuzz
 * target; loading reads the certificate files and checks that a key matches its certificate and
 * that every hash is a bcrypt hash, so a bad file is an error at start (exit 2) or keeps the
 * old configuration on reload, never a server that half works.
 */
#ifndef GPUSCOPE_HTTP_WEBCONFIG_H
#define GPUSCOPE_HTTP_WEBCONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define WEBCONFIG_USERS_MAX 64

enum client_auth {
	CLIENT_AUTH_NONE,            /* NoClientCert */
	CLIENT_AUTH_REQUEST,         /* RequestClientCert: asked, not checked */
	CLIENT_AUTH_REQUIRE_ANY,     /* RequireAnyClientCert: must send one, not verified */
	CLIENT_AUTH_VERIFY_IF_GIVEN, /* VerifyClientCertIfGiven */
	CLIENT_AUTH_REQUIRE_VERIFY,  /* RequireAndVerifyClientCert */
};

struct webconfig_user {
	char name[128];
	char hash[128]; /* bcrypt: $2a$, $2b$ or $2y$ */
};

struct webconfig {
	bool tls;
	char cert_file[1024], key_file[1024], client_ca_file[1024];
	enum client_auth client_auth;
	struct webconfig_user users[WEBCONFIG_USERS_MAX];
	size_t nusers;
	/* After webconfig_load: the PEM texts (malloc'd, NUL-terminated), or NULL. */
	char *cert_pem, *key_pem, *ca_pem;
};

/* Parses the YAML text; relative paths resolve against base_dir.  Returns 0, or -1 with
 * a sentence in err (unknown keys included: a misspelt key must not silently turn TLS
 * off).  Does not read the files. */
int webconfig_parse(const char *buf, size_t len, const char *base_dir, struct webconfig *out,
                    char *err, size_t errlen);

/* Reads path, parses it, reads the PEM files and checks them (key against certificate,
 * CA parses, hashes are bcrypt).  Returns 0, or -1 with a sentence naming the file. */
int webconfig_load(const char *path, struct webconfig *out, char *err, size_t errlen);

void webconfig_free(struct webconfig *w);

/* True when user and password match a configured user (constant-time compare of the
 * crypt_r result).  Costs one bcrypt. */
bool webconfig_check_password(const struct webconfig *w, const char *user, const char *password);

#endif
