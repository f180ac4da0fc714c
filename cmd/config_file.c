/* config_file.c - `serve --config FILE`; see config_file.h. */
#include "cmd/config_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static int push(struct config_args *a, const char *s)
{
	if (a->n >= CONFIG_ARGS_MAX)
		return -1;
	if (a->n + 1 >= a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;
		char **v = realloc(a->v, cap * sizeof(*v));
		if (!v)
			return -1;
		a->v = v;
		a->cap = cap;
	}
	if (!(a->v[a->n] = strdup(s)))
		return -1;
	a->n++;
	a->v[a->n] = NULL; /* argv-shaped: NULL after the last */
	return 0;
}

void config_args_free(struct config_args *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	memset(a, 0, sizeof(*a));
}

static const char *scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A flag name: lower-case letters, digits and '-', starting with a letter. */
static int flag_name_ok(const char *k)
{
	if (!(k[0] >= 'a' && k[0] <= 'z') || strlen(k) > 64)
		return 0;
	for (const char *p = k; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return 0;
	return 1;
}

static int fail(char *err, size_t errlen, yaml_node_t *n, const char *what, const char *key)
{
	snprintf(err, errlen, "line %zu: %s%s%s", n ? n->start_mark.line + 1 : 0, key ? key : "",
	         key ? ": " : "", what);
	return -1;
}

/* One key and its value, as flags. */
static int add_option(yaml_document_t *d, const char *key, yaml_node_t *v, struct config_args *out,
                      char *err, size_t errlen)
{
	char flag[80];
	snprintf(flag, sizeof(flag), "--%s", key);
	const char *s = scalar(v);
	if (s) {
		/* A YAML boolean: the flag alone, or nothing. */
		if (v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		    (strcmp(s, "true") == 0 || strcmp(s, "false") == 0))
			return strcmp(s, "true") == 0 && push(out, flag) != 0
			           ? fail(err, errlen, v, "too many values", key)
			           : 0;
		if (push(out, flag) != 0 || push(out, s) != 0)
			return fail(err, errlen, v, "too many values", key);
		return 0;
	}
	if (v->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = v->data.sequence.items.start;
		     i < v->data.sequence.items.top; i++) {
			yaml_node_t *item = yaml_document_get_node(d, *i);
			const char *is = scalar(item);
			if (!is)
				return fail(err, errlen, item, "a list of plain values is expected",
				            key);
			if (push(out, flag) != 0 || push(out, is) != 0)
				return fail(err, errlen, item, "too many values", key);
		}
		return 0;
	}
	if (v->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
		     p < v->data.mapping.pairs.top; p++) {
			yaml_node_t *kn = yaml_document_get_node(d, p->key);
			yaml_node_t *vn = yaml_document_get_node(d, p->value);
			const char *ks = scalar(kn), *vs = scalar(vn);
			if (!ks || !vs)
				return fail(err, errlen, kn, "a mapping of NAME: VALUE is expected",
				            key);
			char kv[512];
			if ((size_t)snprintf(kv, sizeof(kv), "%s=%s", ks, vs) >= sizeof(kv))
				return fail(err, errlen, kn, "the entry is too long", key);
			if (push(out, flag) != 0 || push(out, kv) != 0)
				return fail(err, errlen, kn, "too many values", key);
		}
		return 0;
	}
	return fail(err, errlen, v, "an empty value", key);
}

int config_yaml_args(const char *buf, size_t len, struct config_args *out, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "line %zu: not YAML: %s", parser.problem_mark.line + 1,
		         parser.problem ? parser.problem : "parse error");
		yaml_parser_delete(&parser);
		return -1;
	}
	int rc = 0;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root && root->type != YAML_MAPPING_NODE) {
		rc = fail(err, errlen, root, "the file must be a mapping of option: value", NULL);
	} else if (root) {
		for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
		     rc == 0 && p < root->data.mapping.pairs.top; p++) {
			yaml_node_t *kn = yaml_document_get_node(&doc, p->key);
			const char *k = scalar(kn);
			if (!k || !flag_name_ok(k))
				rc = fail(err, errlen, kn,
				          "keys are option names without their dashes (e.g. "
				          "fast-interval)",
				          k);
			else if (strcmp(k, "config") == 0)
				rc = fail(err, errlen, kn, "a config file cannot name another", k);
			else
				rc = add_option(&doc, k, yaml_document_get_node(&doc, p->value),
				                out, err, errlen);
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

static int load_file(const char *path, struct config_args *out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "--config %s: %s", path, strerror(errno));
		return -1;
	}
	char *buf = malloc(CONFIG_FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, CONFIG_FILE_MAX + 1, f) : 0;
	int bad = !buf || ferror(f) || n > CONFIG_FILE_MAX;
	fclose(f);
	if (bad) {
		snprintf(err, errlen, "--config %s: %s", path,
		         !buf                  ? "out of memory"
		         : n > CONFIG_FILE_MAX ? "larger than 256 KiB"
		                               : "read error (a directory?)");
		free(buf);
		return -1;
	}
	char why[512];
	int rc = config_yaml_args(buf, n, out, why, sizeof(why));
	free(buf);
	if (rc != 0)
		snprintf(err, errlen, "--config %s: %s", path, why);
	return rc;
}

int config_expand_argv(int argc, char **argv, struct config_args *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const char *path = NULL;
	int at = -1, span = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc || !argv[i + 1][0]) {
				snprintf(err, errlen, "--config needs a file");
				return -1;
			}
			path = argv[i + 1];
			at = i;
			span = 2;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			path = argv[i] + 9;
			at = i;
			span = 1;
		}
	}
	if (argc > 0 && push(out, argv[0]) != 0)
		goto oom;
	if (path && load_file(path, out, err, errlen) != 0) {
		config_args_free(out);
		return -1;
	}
	for (int i = 1; i < argc; i++) {
		if (path && i >= at && i < at + span)
			continue;
		if (push(out, argv[i]) != 0)
			goto oom;
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory (or more than %d arguments)", CONFIG_ARGS_MAX);
	config_args_free(out);
	return -1;
}
