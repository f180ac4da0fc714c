/* cupti_locate.c - where libcupti may be (order in cupti_locate.h). */
#include "inject/cupti_locate.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cupti_site_dirs(const char *maps, size_t len, char *out, size_t cap)
{
	static const char key[] = "/site-packages/";
	static const char key2[] = "/dist-packages/";
	int n = 0;
	size_t used = 0;
	const char *end = maps + len;
	for (const char *line = maps; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *le = nl ? nl : end;
		const char *slash = memchr(line, '/', (size_t)(le - line));
		if (slash) {
			size_t plen = (size_t)(le - slash);
			const char *hit = NULL;
			for (size_t i = 0; i + sizeof(key) - 1 <= plen && !hit; i++)
				if (memcmp(slash + i, key, sizeof(key) - 1) == 0 ||
				    memcmp(slash + i, key2, sizeof(key2) - 1) == 0)
					hit = slash + i + sizeof(key) - 2; /* at the trailing '/' */
			if (hit) {
				size_t dlen = (size_t)(hit - slash);
				int seen = 0;
				for (size_t o = 0; o < used; o += strlen(out + o) + 1)
					if (strlen(out + o) == dlen &&
					    memcmp(out + o, slash, dlen) == 0)
						seen = 1;
				if (!seen && used + dlen + 1 <= cap) {
					memcpy(out + used, slash, dlen);
					out[used + dlen] = '\0';
					used += dlen + 1;
					n++;
				}
			}
		}
		line = le + 1;
	}
	return n;
}

static void note(char *why, size_t cap, const char *what)
{
	size_t n = strlen(why);
	if (n + 3 < cap)
		snprintf(why + n, cap - n, "%s%s", n ? "; " : "", what);
}

static void *try_open(const char *path, char *out, size_t cap, char *why, size_t why_cap)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h) {
		snprintf(out, cap, "%s", path);
		return h;
	}
	char msg[512];
	snprintf(msg, sizeof(msg), "%s: %s", path, dlerror());
	note(why, why_cap, msg);
	return NULL;
}

/* Newest first: glob sorts names, and libcupti.so.13 > libcupti.so.12 as text. */
static void *try_glob(const char *pattern, char *out, size_t cap, char *why, size_t why_cap)
{
	glob_t g;
	void *h = NULL;
	if (glob(pattern, 0, NULL, &g) != 0) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s: none", pattern);
		note(why, why_cap, msg);
		return NULL;
	}
	for (size_t i = g.gl_pathc; i-- > 0 && !h;)
		h = try_open(g.gl_pathv[i], out, cap, why, why_cap);
	globfree(&g);
	return h;
}

static size_t read_maps(char *buf, size_t cap)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	size_t n = 0;
	ssize_t r;
	while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	return n;
}

void *cupti_locate(const char *explicit_path, char *path, size_t path_cap, char *why,
                   size_t why_cap)
{
	why[0] = '\0';
	void *h;
	if (explicit_path && explicit_path[0])
		return try_open(explicit_path, path, path_cap, why, why_cap);

	size_t cap = 1 << 20;
	char *maps = malloc(cap), *dirs = malloc(8192);
	if (maps && dirs) {
		size_t n = read_maps(maps, cap);
		int nd = cupti_site_dirs(maps, n, dirs, 8192);
		const char *d = dirs;
		for (int i = 0; i < nd; i++, d += strlen(d) + 1) {
			char pat[4200];
			snprintf(pat, sizeof(pat), "%s/nvidia/cuda_cupti/lib/libcupti.so*", d);
			if ((h = try_glob(pat, path, path_cap, why, why_cap))) {
				free(maps);
				free(dirs);
				return h;
			}
			snprintf(pat, sizeof(pat), "%s/nvidia/cu13/lib/libcupti.so*", d);
			if ((h = try_glob(pat, path, path_cap, why, why_cap))) {
				free(maps);
				free(dirs);
				return h;
			}
		}
	}
	free(maps);
	free(dirs);
	if ((h = try_open("libcupti.so", path, path_cap, why, why_cap)))
		return h;
	if ((h = try_glob("/usr/local/cuda/extras/CUPTI/lib64/libcupti.so*", path, path_cap, why,
	                  why_cap)))
		return h;
	return try_glob("/usr/local/cuda-*/extras/CUPTI/lib64/libcupti.so*", path, path_cap, why,
	                why_cap);
}
