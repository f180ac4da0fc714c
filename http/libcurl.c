/* libcurl.c - libcurl, loaded the first time gpuscope makes an HTTP request.
 *
 * Alert delivery, inference servers' /metrics, `top --url` and `report --prometheus` are
 * the only clients, and an agent may never use any of them.  Linked at build time, libcurl
 * brings libssh2, libcrypto, Kerberos, LDAP, RTMP and more into every process: about 5 MiB
 * of private, relocated pages and a millisecond of start-up that the agent pays for nothing.
 * So gpuscope does not link libcurl: this file defines the libcurl functions it calls, and
 * the first call (from any thread) loads the library, binds them and runs
 * curl_global_init once.  The library stays loaded until exit.
 *
 * Call sites are plain libcurl.  When the library cannot be loaded, the functions fail the
 * way libcurl's own do (NULL handles, CURLE_FAILED_INIT), and the reason is printed once. */

/* The type-checking macros of curl/typecheck-gcc.h would rename the definitions below. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

/* Debian's libcurl3-gnutls first (the build's -dev package), then the OpenSSL flavour:
 * their ABI is one. */
static const char *const sonames[] = {"libcurl-gnutls.so.4", "libcurl.so.4"};

static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_perform)(CURLM *, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd[], unsigned, int, int *);
	CURLMcode (*multi_cleanup)(CURLM *);
} fn;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool loaded;

/* Binds every function or none: a partial table would fail later, in a stranger place. */
static bool bind_all(void *h)
{
	struct {
		const char *name;
		void **slot;
	} rows[] = {
	    {"curl_global_init", (void **)&fn.global_init},
	    {"curl_easy_init", (void **)&fn.easy_init},
	    {"curl_easy_setopt", (void **)&fn.easy_setopt},
	    {"curl_easy_perform", (void **)&fn.easy_perform},
	    {"curl_easy_getinfo", (void **)&fn.easy_getinfo},
	    {"curl_easy_cleanup", (void **)&fn.easy_cleanup},
	    {"curl_easy_strerror", (void **)&fn.easy_strerror},
	    {"curl_slist_append", (void **)&fn.slist_append},
	    {"curl_slist_free_all", (void **)&fn.slist_free_all},
	    {"curl_multi_init", (void **)&fn.multi_init},
	    {"curl_multi_add_handle", (void **)&fn.multi_add_handle},
	    {"curl_multi_remove_handle", (void **)&fn.multi_remove_handle},
	    {"curl_multi_perform", (void **)&fn.multi_perform},
	    {"curl_multi_info_read", (void **)&fn.multi_info_read},
	    {"curl_multi_poll", (void **)&fn.multi_poll},
	    {"curl_multi_cleanup", (void **)&fn.multi_cleanup},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (!(*rows[i].slot = dlsym(h, rows[i].name))) {
			fprintf(stderr, "gpuscope: libcurl lacks %s (7.85 or newer is needed)\n",
			        rows[i].name);
			return false;
		}
	return true;
}

static void load(void)
{
	void *h = NULL;
	for (size_t i = 0; i < sizeof(sonames) / sizeof(sonames[0]) && !h; i++)
		h = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(
		    stderr,
		    "gpuscope: cannot load libcurl (%s): alerts, inference servers, top --url "
		    "and report --prometheus need it (Debian: apt-get install libcurl3-gnutls)\n",
		    dlerror());
		return;
	}
	if (!bind_all(h) || fn.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
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

CURL *curl_easy_init(void)
{
	return ready() ? fn.easy_init() : NULL;
}

/* libcurl reads the third argument by the option's number range (CURLOPTTYPE_*), and so
 * does this: a long, an object pointer, a function pointer, a curl_off_t, a blob pointer. */
CURLcode curl_easy_setopt(CURL *c, CURLoption opt, ...)
{
	if (!ready())
		return CURLE_FAILED_INIT;
	va_list ap;
	va_start(ap, opt);
	CURLcode rc;
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = fn.easy_setopt(c, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		rc = fn.easy_setopt(c, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = fn.easy_setopt(c, opt, va_arg(ap, void (*)(void)));
	else if (opt < CURLOPTTYPE_BLOB)
		rc = fn.easy_setopt(c, opt, va_arg(ap, curl_off_t));
	else
		rc = fn.easy_setopt(c, opt, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode curl_easy_perform(CURL *c)
{
	return ready() ? fn.easy_perform(c) : CURLE_FAILED_INIT;
}

/* Every CURLINFO_* answer is written through a pointer. */
CURLcode curl_easy_getinfo(CURL *c, CURLINFO info, ...)
{
	if (!ready())
		return CURLE_FAILED_INIT;
	va_list ap;
	va_start(ap, info);
	CURLcode rc = fn.easy_getinfo(c, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

void curl_easy_cleanup(CURL *c)
{
	if (c && ready())
		fn.easy_cleanup(c);
}

const char *curl_easy_strerror(CURLcode rc)
{
	return ready() ? fn.easy_strerror(rc) : "libcurl could not be loaded";
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
	return ready() ? fn.slist_append(list, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
	if (list && ready())
		fn.slist_free_all(list);
}

CURLM *curl_multi_init(void)
{
	return ready() ? fn.multi_init() : NULL;
}

CURLMcode curl_multi_add_handle(CURLM *m, CURL *c)
{
	return ready() ? fn.multi_add_handle(m, c) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_remove_handle(CURLM *m, CURL *c)
{
	return ready() ? fn.multi_remove_handle(m, c) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_perform(CURLM *m, int *running)
{
	return ready() ? fn.multi_perform(m, running) : CURLM_INTERNAL_ERROR;
}

CURLMsg *curl_multi_info_read(CURLM *m, int *left)
{
	return ready() ? fn.multi_info_read(m, left) : NULL;
}

CURLMcode curl_multi_poll(CURLM *m, struct curl_waitfd extra[], unsigned n, int timeout_ms,
                          int *ret)
{
	return ready() ? fn.multi_poll(m, extra, n, timeout_ms, ret) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_cleanup(CURLM *m)
{
	return ready() ? fn.multi_cleanup(m) : CURLM_INTERNAL_ERROR;
}
