/* discover.c - listening ports of a process, from /proc (discover.h). */
#include "servers/discover.h"

#include <dirent.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One row: "  0: 0100007F:1F90 00000000:0000 0A ... uid timeout inode ...". */
static int parse_row(const char *p, const char *end, int family, struct discover_listen *out)
{
	char line[512];
	size_t n = (size_t)(end - p);
	if (n >= sizeof(line))
		return -1;
	memcpy(line, p, n);
	line[n] = 0;
	char local[64], remote[64], state[8];
	unsigned long inode;
	if (sscanf(line, " %*[0-9]: %63s %63s %7s %*s %*s %*s %*s %*s %lu", local, remote, state,
	           &inode) != 4)
		return -1;
	if (strcmp(state, "0A") != 0)
		return -1;
	char *colon = strchr(local, ':');
	if (!colon)
		return -1;
	*colon = 0;
	char *e;
	unsigned long port = strtoul(colon + 1, &e, 16);
	if (*e || port == 0 || port > 65535)
		return -1;
	size_t alen = strlen(local);
	if ((family == 4 && alen != 8) || (family == 6 && alen != 32))
		return -1;
	/* Addresses are hex in host order per 32-bit word: 127.x.x.x is "..7F" in the last byte
	 * of the first word on little-endian kernels; ::1 is 0...0 01000000. */
	int lo = family == 4 ? strcmp(local + 6, "7F") == 0
	                     : strcmp(local, "00000000000000000000000001000000") == 0;
	*out = (struct discover_listen){inode, (unsigned)port, family, lo};
	return 0;
}

size_t discover_parse_tcp(const char *buf, size_t len, int family, struct discover_listen *out,
                          size_t cap)
{
	size_t k = 0;
	const char *p = buf, *end = buf + len;
	bool first = true;
	while (p < end && k < cap) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;
		if (!first && parse_row(p, le, family, &out[k]) == 0)
			k++;
		first = false; /* the header line */
		p = eol ? eol + 1 : end;
	}
	return k;
}

/* Reads a whole small file into buf (NUL-terminated); returns its length or -1. */
static long read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = 0;
	return (long)n;
}

#define LISTEN_MAX 256

int discover_parent(const char *root, int pid)
{
	char path[512], buf[1024];
	snprintf(path, sizeof(path), "%s/proc/%d/stat", root, pid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return -1;
	const char *rp = strrchr(buf, ')');
	int ppid;
	if (!rp || sscanf(rp + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

int discover_parse_fib_trie(const char *buf, size_t len, char *addr, size_t addrlen)
{
	char leaf[16] = "";
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;
		const char *mark = NULL;
		for (const char *q = p; q + 4 <= le; q++)
			if (memcmp(q, "|-- ", 4) == 0) {
				mark = q + 4;
				break;
			}
		if (mark) {
			size_t n = (size_t)(le - mark);
			unsigned a, b, c, d;
			char tmp[32], extra;
			leaf[0] = 0;
			if (n < sizeof(tmp)) {
				memcpy(tmp, mark, n);
				tmp[n] = 0;
				if (sscanf(tmp, "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) == 4 &&
				    a < 256 && b < 256 && c < 256 && d < 256)
					snprintf(leaf, sizeof(leaf), "%u.%u.%u.%u", a, b, c, d);
			}
		} else if (leaf[0] && strncmp(leaf, "127.", 4) != 0) {
			static const char want[] = "/32 host LOCAL";
			size_t n = (size_t)(le - p), w = sizeof(want) - 1;
			for (size_t i = 0; i + w <= n; i++)
				if (memcmp(p + i, want, w) == 0) {
					snprintf(addr, addrlen, "%s", leaf);
					return 0;
				}
		}
		p = eol ? eol + 1 : end;
	}
	return -1;
}

bool discover_address(const char *root, int pid, char *addr, size_t addrlen)
{
	char path[512], mine[64], theirs[64];
	snprintf(addr, addrlen, "127.0.0.1");
	snprintf(path, sizeof(path), "%s/proc/%d/ns/net", root, pid);
	ssize_t a = readlink("/proc/self/ns/net", mine, sizeof(mine) - 1);
	ssize_t b = readlink(path, theirs, sizeof(theirs) - 1);
	if (a <= 0 || b <= 0)
		return true; /* cannot tell (no permission, no such file): as before */
	mine[a] = theirs[b] = 0;
	if (strcmp(mine, theirs) == 0)
		return true;
	snprintf(path, sizeof(path), "%s/proc/%d/net/fib_trie", root, pid);
	char *buf = malloc(64 * 1024);
	if (!buf)
		return false;
	long n = read_small(path, buf, 64 * 1024);
	int rc = n > 0 ? discover_parse_fib_trie(buf, (size_t)n, addr, addrlen) : -1;
	free(buf);
	return rc == 0;
}

size_t discover_children(const char *root, int pid, int *out, size_t cap)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/proc", root);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	size_t k = 0;
	unsigned scanned = 0;
	struct dirent *e;
	/* bounded: a host with more processes than this misses some children (documented) */
	while ((e = readdir(d)) != NULL && k < cap && scanned < 65536) {
		char *end;
		long child = strtol(e->d_name, &end, 10);
		if (*end || child <= 1 || child == pid)
			continue;
		scanned++;
		if (discover_parent(root, (int)child) == pid)
			out[k++] = (int)child;
	}
	closedir(d);
	return k;
}

size_t discover_ports(const char *root, int pid, unsigned *ports, size_t cap)
{
	static const size_t TCP_FILE_MAX = 256 * 1024;
	struct discover_listen listen[LISTEN_MAX];
	size_t nl = 0;
	char path[512];
	char *buf = malloc(TCP_FILE_MAX);
	if (!buf)
		return 0;
	for (int v6 = 0; v6 < 2; v6++) {
		snprintf(path, sizeof(path), "%s/proc/%d/net/tcp%s", root, pid, v6 ? "6" : "");
		long n = read_small(path, buf, TCP_FILE_MAX);
		if (n > 0)
			nl += discover_parse_tcp(buf, (size_t)n, v6 ? 6 : 4, listen + nl,
			                         LISTEN_MAX - nl);
	}
	free(buf);
	size_t k = 0;
	if (nl == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/proc/%d/fd", root, pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	struct dirent *e;
	unsigned scanned = 0;
	while ((e = readdir(d)) != NULL && k < cap && scanned++ < 4096) {
		if (e->d_name[0] == '.')
			continue;
		char link[800], target[64];
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		ssize_t t = readlink(link, target, sizeof(target) - 1);
		if (t <= 0)
			continue;
		target[t] = 0;
		unsigned long inode;
		if (sscanf(target, "socket:[%lu]", &inode) != 1)
			continue;
		for (size_t i = 0; i < nl; i++) {
			if (listen[i].inode != inode)
				continue;
			size_t j = 0;
			while (j < k && ports[j] != listen[i].port)
				j++;
			if (j == k)
				ports[k++] = listen[i].port;
		}
	}
	closedir(d);
	/* lowest first: the API port is usually the lowest a server holds */
	for (size_t i = 1; i < k; i++)
		for (size_t j = i; j > 0 && ports[j] < ports[j - 1]; j--) {
			unsigned t = ports[j];
			ports[j] = ports[j - 1];
			ports[j - 1] = t;
		}
	return k;
}

bool discover_cmdline_known(const char *cmdline, size_t len)
{
	static const char *const names[] = {"vllm",         "sglang",    "text-generation",
	                                    "tritonserver", "trtllm",    "tensorrt_llm",
	                                    "llama-server", "llama_cpp", "llama.cpp",
	                                    "lmdeploy",     "ollama"};
	char text[1024];
	size_t n = len < sizeof(text) - 1 ? len : sizeof(text) - 1;
	for (size_t i = 0; i < n; i++)
		text[i] = cmdline[i] ? cmdline[i] : ' ';
	text[n] = 0;
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (strstr(text, names[k]))
			return true;
	return false;
}

bool discover_known_server(const char *root, int pid)
{
	char path[512], buf[1024];
	snprintf(path, sizeof(path), "%s/proc/%d/cmdline", root, pid);
	long n = read_small(path, buf, sizeof(buf));
	return n > 0 && discover_cmdline_known(buf, (size_t)n);
}
