/* users.c - passwd parsing into a sorted uid table; see users.h. */
#include "workload/users.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A passwd file larger than this is not one (the biggest real ones are a few MB with LDAP
 * dumps); refuse rather than read a runaway file. */
#define USERS_FILE_MAX (16u << 20)

/* Sorting by (uid, line) keeps "the first line wins" for duplicate uids (root and toor). */
static int compare_uid_then_line(const void *a, const void *b)
{
	const struct user_entry *x = a, *y = b;
	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return (x->line > y->line) - (x->line < y->line);
}

/* Splits one line into its name and uid. False for lines that are not user entries. */
static bool parse_line(const char *line, size_t len, struct user_entry *out)
{
	if (len == 0 || line[0] == '#' || line[0] == '+' || line[0] == '-')
		return false;
	const char *colon1 = memchr(line, ':', len);
	if (!colon1 || colon1 == line)
		return false;
	const char *rest = colon1 + 1;
	const char *colon2 = memchr(rest, ':', len - (size_t)(rest - line));
	if (!colon2)
		return false;
	const char *p = colon2 + 1;
	const char *end = line + len;
	uint64_t uid = 0;
	if (p >= end || *p < '0' || *p > '9')
		return false;
	while (p < end && *p >= '0' && *p <= '9') {
		uid = uid * 10 + (uint64_t)(*p - '0');
		if (uid > UINT32_MAX)
			return false;
		p++;
	}
	if (p < end && *p != ':')
		return false;
	size_t name_len = (size_t)(colon1 - line);
	if (name_len >= sizeof(out->name))
		name_len = sizeof(out->name) - 1;
	for (size_t i = 0; i < name_len; i++)
		if ((unsigned char)line[i] < 0x21 || line[i] == 0x7f)
			return false; /* control bytes or spaces: not a user name */
	memcpy(out->name, line, name_len);
	out->name[name_len] = 0;
	out->uid = (uint32_t)uid;
	return true;
}

int user_table_parse(const char *text, size_t len, struct user_table *out)
{
	assert(out);
	out->entries = NULL;
	out->count = 0;
	size_t lines = 1;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	struct user_entry *entries = calloc(lines, sizeof(*entries));
	if (!entries) {
		errno = ENOMEM;
		return -1;
	}
	size_t n = 0;
	const char *line = text;
	const char *end = text + len;
	for (uint32_t line_no = 0; line < end; line_no++) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t line_len = (size_t)((nl ? nl : end) - line);
		if (line_len && line[line_len - 1] == '\r')
			line_len--;
		if (parse_line(line, line_len, &entries[n])) {
			entries[n].line = line_no;
			n++;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	assert(n <= lines);
	if (n > 1)
		qsort(entries, n, sizeof(*entries), compare_uid_then_line);
	size_t kept = 0;
	for (size_t i = 0; i < n; i++)
		if (kept == 0 || entries[kept - 1].uid != entries[i].uid)
			entries[kept++] = entries[i];
	out->entries = entries;
	out->count = kept;
	return 0;
}

int user_table_load(const char *path, struct user_table *out)
{
	assert(path && out);
	out->entries = NULL;
	out->count = 0;
	char *text = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* no passwd: every user shows as its number */
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > USERS_FILE_MAX)
		goto empty;
	size_t cap = (size_t)st.st_size + 1;
	text = malloc(cap);
	if (!text)
		goto err;
	size_t len = 0;
	while (len < cap - 1) {
		ssize_t k = read(fd, text + len, cap - 1 - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	close(fd);
	fd = -1;
	int rc = user_table_parse(text, len, out);
	free(text);
	return rc;
empty:
	close(fd);
	return 0;
err:
	if (fd >= 0)
		close(fd);
	free(text);
	errno = ENOMEM;
	return -1;
}

void user_table_free(struct user_table *t)
{
	if (!t)
		return;
	free(t->entries);
	t->entries = NULL;
	t->count = 0;
}

const char *user_table_name(const struct user_table *t, uint32_t uid)
{
	if (!t || !t->count)
		return NULL;
	size_t lo = 0, hi = t->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->entries[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < t->count && t->entries[lo].uid == uid)
		return t->entries[lo].name;
	return NULL;
}
