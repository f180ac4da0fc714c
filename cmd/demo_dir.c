/* demo_dir.c - see demo_dir.h. */
#include "cmd/demo_dir.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int demo_dir_create(struct demo_dir *d, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	const char *tmp = getenv("TMPDIR");
	char path[sizeof(d->path)];
	snprintf(path, sizeof(path), "%s/gpuscope-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(path)) {
		snprintf(err, errlen, "--demo: cannot make a temporary directory (%s): %s", path,
		         strerror(errno));
		return -1;
	}
	snprintf(d->path, sizeof(d->path), "%s", path);
	snprintf(d->host, sizeof(d->host), "%s/host", path);
	snprintf(d->history, sizeof(d->history), "%s/history.db", path);
	char proc[sizeof(d->host) + 8];
	snprintf(proc, sizeof(proc), "%s/proc", d->host);
	if (mkdir(d->host, 0700) != 0 || mkdir(proc, 0755) != 0) {
		snprintf(err, errlen, "--demo: cannot make %s: %s", proc, strerror(errno));
		demo_dir_remove(d);
		return -1;
	}
	setenv("GPUSCOPE_SIM_HOST_ROOT", d->host, 1);
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0; /* go on: remove what can be removed */
}

void demo_dir_remove(struct demo_dir *d)
{
	if (!d->path[0])
		return;
	nftw(d->path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	d->path[0] = 0;
}
