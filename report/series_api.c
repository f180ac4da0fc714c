/* series_api.c - see series_api.h. */
#include "report/series_api.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/series.h"
#include "store/store.h"

struct series_api {
	struct board *board;
	char *path;
	pthread_mutex_t lock; /* one query at a time; guards store */
	struct store *store;
};

struct series_api *series_api_new(struct board *b, const char *history_path)
{
	struct series_api *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->board = b;
	a->path = strdup(history_path);
	if (!a->path) {
		free(a);
		return NULL;
	}
	pthread_mutex_init(&a->lock, NULL);
	return a;
}

void series_api_free(struct series_api *a)
{
	if (!a)
		return;
	store_close(a->store);
	pthread_mutex_destroy(&a->lock);
	free(a->path);
	free(a);
}

static char *error_doc(const char *why)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	fputs("{\"schema\": \"gpuscope.series/v1\", \"error\": \"", f);
	for (const char *p = why; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', f);
		fputc((unsigned char)*p < 0x20 ? ' ' : *p, f);
	}
	fputs("\"}\n", f);
	fclose(f);
	return out;
}

char *series_api_json(struct series_api *a, const char *const args[5], unsigned *status)
{
	char err[512];
	struct series_args sa = {args[0], args[1], args[2], args[3], args[4]};
	struct series_request q;
	if (series_parse_args(&sa, (int64_t)wall_now(), &q, err, sizeof(err)) != 0) {
		*status = 400;
		return error_doc(err);
	}
	if (pthread_mutex_trylock(&a->lock) != 0) {
		*status = 503;
		return error_doc("busy: one history query at a time; retry in a second");
	}
	char *json = NULL;
	if (!a->store) {
		struct store_options opt;
		store_options_default(&opt);
		opt.read_only = true;
		if (store_open(a->path, &opt, &a->store, err, sizeof(err)) != STORE_OK) {
			*status = 503;
			json = error_doc(err);
			goto out;
		}
	}
	struct board_snapshot snap;
	if (board_snapshot(a->board, &snap) != 0) {
		*status = 503;
		json = error_doc("out of memory");
		goto out;
	}
	const char **uuids = calloc(snap.count ? snap.count : 1, sizeof(*uuids));
	for (unsigned i = 0; uuids && i < snap.count; i++)
		uuids[i] = snap.gpus[i].has_identity ? snap.gpus[i].id.uuid : NULL;
	if (uuids)
		json = series_json(a->store, &q, uuids, snap.count, snap.info.scenario[0] != 0, err,
		                   sizeof(err));
	else
		snprintf(err, sizeof(err), "out of memory");
	free(uuids);
	board_snapshot_free(&snap);
	if (!json) {
		*status = 503;
		json = error_doc(err);
	}
out:
	store_release_memory(a->store); /* held open between requests, not its pages */
	pthread_mutex_unlock(&a->lock);
	return json;
}
