/* discover.h - which TCP ports a process listens on, read from a host root's /proc.
 *
 * An inference server on the node is found from the GPU's own process list: for a GPU
 * process (and its ancestors: vLLM's API server is the parent of the EngineCore that holds
 * the GPU) gpuscope lists the process's socket inodes (/proc/PID/fd links "socket:[N]"),
 * finds those in LISTEN state in /proc/PID/net/tcp and tcp6 (the process's own network
 * namespace), and asks each such port for /metrics.  Only a body with a known server's
 * names makes it a server (servers/kinds.h).
 *
 * discover_parse_tcp is a pure function over the text of a /proc/net/tcp file, so a fuzz
 * target is one small file.  The rest reads files under a root and allocates nothing.
 */
#ifndef GPUSCOPE_SERVERS_DISCOVER_H
#define GPUSCOPE_SERVERS_DISCOVER_H

#include <stdbool.h>
#include <stddef.h>

#define DISCOVER_PORTS_MAX 8

struct discover_listen {
	unsigned long inode;
	unsigned port;
	int family;   /* 4 or 6 */
	int loopback; /* bound to 127.0.0.0/8 or ::1 only */
};

/* Reads the LISTEN (state 0A) rows of a /proc/net/tcp or tcp6 text into out[0..cap);
 * returns how many were kept.  Lines it cannot read are skipped. */
size_t discover_parse_tcp(const char *buf, size_t len, int family, struct discover_listen *out,
                          size_t cap);

/* The ports process pid listens on (via root/proc/pid/fd and root/proc/pid/net/tcp{,6});
 * returns how many (at most cap, lowest first, each once). */
size_t discover_ports(const char *root, int pid, unsigned *ports, size_t cap);

/* The first local IPv4 address outside 127.0.0.0/8 in the text of a /proc/net/fib_trie
 * (a leaf "|-- A.B.C.D" followed by "/32 host LOCAL") into addr; 0, or -1 when none. */
int discover_parse_fib_trie(const char *buf, size_t len, char *addr, size_t addrlen);

/* Where the agent reaches a port pid listens on: "127.0.0.1" when pid shares the agent's
 * network namespace (or that cannot be told), else the namespace's own address (a
 * container's or pod's, from root/proc/pid/net/fib_trie), so a TGI listening on port 80
 * in its container is read on the container's address.  Writes addr; false when pid is
 * in another namespace that has no address (nothing there can be reached). */
bool discover_address(const char *root, int pid, char *addr, size_t addrlen);

/* The parent of pid from root/proc/pid/stat, or -1. */
int discover_parent(const char *root, int pid);

/* The children of pid (from every root/proc/N/stat), at most cap; returns how many.  For
 * TGI, whose router holds the port while its GPU shards are the router's siblings, both
 * children of text-generation-launcher: the launcher "listens" through its router. */
size_t discover_children(const char *root, int pid, int *out, size_t cap);

/* True when the command line in root/proc/pid/cmdline names a known inference server
 * (vllm, sglang, text-generation, tritonserver, trtllm, llama-server...): the ancestors of
 * a GPU process are asked for /metrics only then, so a shell's sshd is never sent HTTP. */
bool discover_known_server(const char *root, int pid);

/* The same test on a command line's text (NUL-separated arguments, len bytes). */
bool discover_cmdline_known(const char *cmdline, size_t len);

#endif
