/* users.h - uid -> user name from a passwd file we parse ourselves.
 *
 * Not getpwuid(): the agent often runs in a container whose /etc/passwd is not the host's,
 * NSS modules can block on the network, and tests need fixture files. The table is built off
 * the hot path (attrib_refresh) and is immutable once built, so lookups need no lock of
 * their own. A uid with no entry is shown as its number by the caller. */
#ifndef GPUSCOPE_WORKLOAD_USERS_H
#define GPUSCOPE_WORKLOAD_USERS_H

#include <stddef.h>
#include <stdint.h>

#define USER_NAME_MAX 64

struct user_entry {
	uint32_t uid;
	uint32_t line; /* position in the file, to keep the first of duplicate uids */
	char name[USER_NAME_MAX];
};

struct user_table {
	struct user_entry *entries; /* sorted by uid, one per uid (the first line wins) */
	size_t count;
};

/* Parses passwd text ("name:x:uid:gid:gecos:home:shell" lines). Comment, NIS (+/-) and
 * malformed lines are skipped. Returns 0, or -1 (errno ENOMEM). */
int user_table_parse(const char *text, size_t len, struct user_table *out);

/* Reads and parses a passwd file. A missing file gives an empty table and returns 0. */
int user_table_load(const char *path, struct user_table *out);

void user_table_free(struct user_table *t);

/* The name for uid, or NULL. */
const char *user_table_name(const struct user_table *t, uint32_t uid);

#endif
