/* strbuf.h - a growable byte buffer for rendering exposition and JSON. */
#ifndef GPUSCOPE_STRBUF_H
#define GPUSCOPE_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *data;
	size_t len;
	size_t cap;
	bool oom; /* an append failed; the content is incomplete */
};

void sb_init(struct strbuf *sb, size_t cap);
void sb_free(struct strbuf *sb);
void sb_append(struct strbuf *sb, const char *s, size_t n);
void sb_puts(struct strbuf *sb, const char *s);
void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends the decimal digits of u. */
void sb_uint(struct strbuf *sb, unsigned long long u);
/* Appends v as the shortest decimal that reads back as the same double,
 * with Prometheus spellings for the non-finite values. */
void sb_double(struct strbuf *sb, double v);
/* Appends s escaped for a Prometheus label value (\\, \", \n). */
void sb_label_value(struct strbuf *sb, const char *s);

#endif
