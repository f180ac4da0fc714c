/* webconfig.c - exporter-toolkit web configuration; see webconfig.h. */
#include "http/webconfig.h"

#include <crypt.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define PEM_MAX (1024 * 1024)

/* A small walk over libyaml's document tree: mappings of scalars only. */
static const char *scalar(yaml_document_t *d, yaml_node_t *n)
{
	(void)d;
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int path_join(char *out, size_t len, const char *base, const char *p, char *err,
                     size_t errlen, const char *key)
{
	int n = p[0] == '/' || !base || !*base ? snprintf(out, len, "%s", p)
	                                       : snprintf(out, len, "%s/%s", base, p);
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "%s: the path is too long", key);
		return -1;
	}
	return 0;
}

static int parse_client_auth(const char *v, enum client_auth *out)
{
	static const struct {
		const char *name;
		enum client_auth v;
	} kinds[] = {{"NoClientCert", CLIENT_AUTH_NONE},
	             {"RequestClientCert", CLIENT_AUTH_REQUEST},
	             {"RequireAnyClientCert", CLIENT_AUTH_REQUIRE_ANY},
	             {"VerifyClientCertIfGiven", CLIENT_AUTH_VERIFY_IF_GIVEN},
	             {"RequireAndVerifyClientCert", CLIENT_AUTH_REQUIRE_VERIFY}};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(v, kinds[i].name) == 0) {
			*out = kinds[i].v;
			return 0;
		}
	return -1;
}

static int parse_tls(yaml_document_t *d, yaml_node_t *m, const char *base, struct webconfig *w,
                     char *err, size_t errlen)
{
	if (m->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "tls_server_config: expected a mapping");
		return -1;
	}
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(d, yaml_document_get_node(d, p->key));
		const char *v = scalar(d, yaml_document_get_node(d, p->value));
		if (!k) {
			snprintf(err, errlen, "tls_server_config: keys must be plain words");
			return -1;
		}
		if (!v) {
			/* cipher_suites, curve_preferences: lists gpuscope leaves to GnuTLS */
			if (strcmp(k, "cipher_suites") == 0 || strcmp(k, "curve_preferences") == 0)
				continue;
			snprintf(err, errlen, "tls_server_config.%s: expected a value", k);
			return -1;
		}
		if (strcmp(k, "cert_file") == 0) {
			if (path_join(w->cert_file, sizeof(w->cert_file), base, v, err, errlen, k))
				return -1;
		} else if (strcmp(k, "key_file") == 0) {
			if (path_join(w->key_file, sizeof(w->key_file), base, v, err, errlen, k))
				return -1;
		} else if (strcmp(k, "client_ca_file") == 0) {
			if (path_join(w->client_ca_file, sizeof(w->client_ca_file), base, v, err,
			              errlen, k))
				return -1;
		} else if (strcmp(k, "client_auth_type") == 0) {
			if (parse_client_auth(v, &w->client_auth) != 0) {
				snprintf(
				    err, errlen,
				    "tls_server_config.client_auth_type '%s': use NoClientCert, "
				    "RequestClientCert, RequireAnyClientCert, "
				    "VerifyClientCertIfGiven or RequireAndVerifyClientCert",
				    v);
				return -1;
			}
		} else if (strcmp(k, "min_version") == 0 || strcmp(k, "max_version") == 0 ||
		           strcmp(k, "prefer_server_cipher_suites") == 0) {
			continue; /* GnuTLS's defaults: TLS 1.2 and newer */
		} else {
			snprintf(err, errlen, "tls_server_config: unknown key '%s'", k);
			return -1;
		}
	}
	if (!w->cert_file[0] || !w->key_file[0]) {
		snprintf(err, errlen, "tls_server_config: cert_file and key_file are both needed");
		return -1;
	}
	bool verify = w->client_auth == CLIENT_AUTH_VERIFY_IF_GIVEN ||
	              w->client_auth == CLIENT_AUTH_REQUIRE_VERIFY;
	if (verify && !w->client_ca_file[0]) {
		snprintf(err, errlen,
		         "tls_server_config: client_auth_type verifies client certificates: give "
		         "client_ca_file");
		return -1;
	}
	w->tls = true;
	return 0;
}

static int parse_users(yaml_document_t *d, yaml_node_t *m, struct webconfig *w, char *err,
                       size_t errlen)
{
	if (m->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "basic_auth_users: expected a mapping of user: bcrypt hash");
		return -1;
	}
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(d, yaml_document_get_node(d, p->key));
		const char *v = scalar(d, yaml_document_get_node(d, p->value));
		if (!k || !v || !*k) {
			snprintf(err, errlen, "basic_auth_users: expected user: bcrypt hash pairs");
			return -1;
		}
		if (w->nusers >= WEBCONFIG_USERS_MAX) {
			snprintf(err, errlen, "basic_auth_users: more than %d users",
			         WEBCONFIG_USERS_MAX);
			return -1;
		}
		if (strlen(k) >= sizeof(w->users[0].name) || strchr(k, ':')) {
			snprintf(err, errlen,
			         "basic_auth_users: user '%.40s' is too long or has a ':'", k);
			return -1;
		}
		bool bcrypt = strlen(v) == 60 && v[0] == '$' && v[1] == '2' &&
		              (v[2] == 'a' || v[2] == 'b' || v[2] == 'y') && v[3] == '$';
		if (!bcrypt) {
			snprintf(err, errlen,
			         "basic_auth_users.%s: not a bcrypt hash ($2a$, $2b$ or $2y$, 60 "
			         "characters); make one with htpasswd -nbBC 10 USER PASSWORD",
			         k);
			return -1;
		}
		for (size_t i = 0; i < w->nusers; i++)
			if (strcmp(w->users[i].name, k) == 0) {
				snprintf(err, errlen, "basic_auth_users: '%s' is listed twice", k);
				return -1;
			}
		snprintf(w->users[w->nusers].name, sizeof(w->users[0].name), "%s", k);
		snprintf(w->users[w->nusers].hash, sizeof(w->users[0].hash), "%s", v);
		/* libxcrypt spells the same algorithm $2b$; $2y$ hashes (htpasswd) verify as $2b$.
		 */
		if (w->users[w->nusers].hash[2] == 'y')
			w->users[w->nusers].hash[2] = 'b';
		w->nusers++;
	}
	return 0;
}

int webconfig_parse(const char *buf, size_t len, const char *base_dir, struct webconfig *out,
                    char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	yaml_parser_t parser;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "not YAML: %s (line %zu)",
		         parser.problem ? parser.problem : "parse error",
		         parser.problem_mark.line + 1);
		yaml_parser_delete(&parser);
		return -1;
	}
	int rc = 0;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root) {
		rc = 0; /* an empty file: no TLS, no users (what exporter-toolkit does) */
	} else if (root->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "expected a mapping at the top");
		rc = -1;
	} else {
		for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
		     rc == 0 && p < root->data.mapping.pairs.top; p++) {
			const char *k = scalar(&doc, yaml_document_get_node(&doc, p->key));
			yaml_node_t *v = yaml_document_get_node(&doc, p->value);
			if (!k || !v) {
				snprintf(err, errlen, "keys at the top must be plain words");
				rc = -1;
			} else if (strcmp(k, "tls_server_config") == 0) {
				rc = parse_tls(&doc, v, base_dir, out, err, errlen);
			} else if (strcmp(k, "basic_auth_users") == 0) {
				rc = parse_users(&doc, v, out, err, errlen);
			} else if (strcmp(k, "http_server_config") == 0) {
				continue; /* http2 and headers: nothing gpuscope needs to change */
			} else {
				snprintf(err, errlen,
				         "unknown key '%s' (expected tls_server_config, "
				         "basic_auth_users, http_server_config)",
				         k);
				rc = -1;
			}
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

/* Reads a whole small file into a NUL-terminated buffer. */
static char *read_text(const char *path, size_t max, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = malloc(max + 1);
	size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
	bool bad = !buf || ferror(f) || n > max;
	fclose(f);
	if (bad) {
		snprintf(err, errlen, "%s: %s", path,
		         !buf      ? "out of memory"
		         : n > max ? "too large"
		                   : "read error (a directory?)");
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

/* The certificate and key parse, and the key is the certificate's. */
static int check_pair(const struct webconfig *w, char *err, size_t errlen)
{
	gnutls_certificate_credentials_t cred;
	if (gnutls_certificate_allocate_credentials(&cred) != GNUTLS_E_SUCCESS) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	gnutls_datum_t cert = {(unsigned char *)w->cert_pem, (unsigned)strlen(w->cert_pem)};
	gnutls_datum_t key = {(unsigned char *)w->key_pem, (unsigned)strlen(w->key_pem)};
	int rc = gnutls_certificate_set_x509_key_mem(cred, &cert, &key, GNUTLS_X509_FMT_PEM);
	if (rc < 0)
		snprintf(err, errlen,
		         "%.400s and %.400s: %s (a PEM certificate and the PEM key it "
		         "was made for are needed)",
		         w->cert_file, w->key_file, gnutls_strerror(rc));
	if (rc >= 0 && w->ca_pem) {
		gnutls_datum_t ca = {(unsigned char *)w->ca_pem, (unsigned)strlen(w->ca_pem)};
		int n = gnutls_certificate_set_x509_trust_mem(cred, &ca, GNUTLS_X509_FMT_PEM);
		if (n <= 0) {
			snprintf(err, errlen, "%.600s: no PEM certificate in it%s%s",
			         w->client_ca_file, n < 0 ? ": " : "",
			         n < 0 ? gnutls_strerror(n) : "");
			rc = -1;
		}
	}
	gnutls_certificate_free_credentials(cred);
	return rc < 0 ? -1 : 0;
}

int webconfig_load(const char *path, struct webconfig *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	char why[1024];
	char *text = read_text(path, 64 * 1024, why, sizeof(why));
	if (!text) {
		snprintf(err, errlen, "--web-config-file %s", why);
		return -1;
	}
	char base[1024];
	snprintf(base, sizeof(base), "%s", path);
	char *slash = strrchr(base, '/');
	if (slash)
		*slash = 0;
	else
		snprintf(base, sizeof(base), ".");
	int rc = webconfig_parse(text, strlen(text), base, out, why, sizeof(why));
	free(text);
	if (rc != 0) {
		snprintf(err, errlen, "--web-config-file %s: %s", path, why);
		return -1;
	}
	if (out->tls) {
		if (!(out->cert_pem = read_text(out->cert_file, PEM_MAX, why, sizeof(why))) ||
		    !(out->key_pem = read_text(out->key_file, PEM_MAX, why, sizeof(why))) ||
		    (out->client_ca_file[0] &&
		     !(out->ca_pem = read_text(out->client_ca_file, PEM_MAX, why, sizeof(why)))) ||
		    check_pair(out, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "--web-config-file %s: %s", path, why);
			webconfig_free(out);
			return -1;
		}
	}
	return 0;
}

void webconfig_free(struct webconfig *w)
{
	free(w->cert_pem);
	free(w->key_pem);
	free(w->ca_pem);
	w->cert_pem = w->key_pem = w->ca_pem = NULL;
}

bool webconfig_check_password(const struct webconfig *w, const char *user, const char *password)
{
	const char *hash = NULL;
	for (size_t i = 0; i < w->nusers; i++)
		if (strcmp(w->users[i].name, user) == 0)
			hash = w->users[i].hash;
	/* An unknown user costs a bcrypt too, so timing does not tell users apart. */
	static const char decoy[] = "$2b$10$gpuscopedecoysaltvaluePGVQxUOZgBr./5/qRzICt6qsXrGZaSi";
	struct crypt_data data;
	memset(&data, 0, sizeof(data));
	const char *got = crypt_r(password, hash ? hash : decoy, &data);
	if (!got || !hash)
		return false;
	size_t n = strlen(hash);
	if (strlen(got) != n)
		return false;
	unsigned char diff = 0;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(got[i] ^ hash[i]);
	return diff == 0;
}
