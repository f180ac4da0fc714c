/* screen.c - ncursesw around the frame (see screen.h).
 *
 * The frame is drawn off-screen first, then copied to curses run by run of one attribute;
 * curses sends only what changed, so an idle screen costs next to nothing per refresh.
 * The wait between refreshes is a blocking get_wch() with a timeout: no busy loop.
 */
#include "tui/screen.h"

#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "series/snapshot.h"

bool top_locale_utf8(void)
{
	const char *cs = nl_langinfo(CODESET);
	return cs && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0);
}

static bool want_colour(void)
{
	const char *nc = getenv("NO_COLOR");
	return !(nc && *nc) && has_colors();
}

static void colours(attr_t map[TA_COUNT], bool colour)
{
	for (int i = 0; i < TA_COUNT; i++)
		map[i] = A_NORMAL;
	map[TA_HEAD] = A_BOLD;
	map[TA_DIM] = A_DIM;
	map[TA_SEL] = A_REVERSE;
	map[TA_CRIT] = A_BOLD;
	if (!colour)
		return;
	start_color();
	use_default_colors();
	init_pair(1, COLOR_GREEN, -1);
	init_pair(2, COLOR_YELLOW, -1);
	init_pair(3, COLOR_RED, -1);
	init_pair(4, COLOR_CYAN, -1);
	map[TA_GOOD] = COLOR_PAIR(1);
	map[TA_WARN] = COLOR_PAIR(2);
	map[TA_CRIT] = COLOR_PAIR(3) | A_BOLD;
	map[TA_SPARK] = COLOR_PAIR(4);
}

static void paint(const struct top_frame *f, const attr_t map[TA_COUNT])
{
	wchar_t run[TOP_MAX_COLS + 1];
	erase();
	for (int r = 0; r < f->rows; r++) {
		int c = 0;
		while (c < f->cols) {
			int attr = f->cell[r][c].attr, start = c, n = 0;
			/* The bottom-right cell would scroll the screen: leave it. */
			int end = r == f->rows - 1 ? f->cols - 1 : f->cols;
			while (c < end && f->cell[r][c].attr == attr)
				run[n++] = (wchar_t)f->cell[r][c++].ch;
			if (n == 0)
				break;
			attrset(map[attr]);
			mvaddnwstr(r, start, run, n);
		}
	}
	attrset(A_NORMAL);
	refresh();
}

static int map_key(wint_t wk, int kind)
{
	if (kind == KEY_CODE_YES) {
		switch (wk) {
		case KEY_UP:
			return TOP_KEY_UP;
		case KEY_DOWN:
			return TOP_KEY_DOWN;
		case KEY_ENTER:
			return TOP_KEY_ENTER;
		case KEY_BACKSPACE:
			return TOP_KEY_BACK;
		default:
			return -1;
		}
	}
	if (wk == '\n' || wk == '\r')
		return TOP_KEY_ENTER;
	if (wk == 27)
		return TOP_KEY_ESC;
	if (wk == 127 || wk == 8)
		return TOP_KEY_BACK;
	return (int)wk;
}

int top_screen_run(const struct top_source *src, struct top_model *m, double interval_s)
{
	struct top_frame *f = malloc(sizeof(*f));
	if (!f) {
		fprintf(stderr, "gpuscope top: out of memory\n");
		return 1;
	}
	bool unicode = top_locale_utf8();
	set_escdelay(25);
	if (!initscr()) {
		fprintf(stderr, "gpuscope top: cannot use this terminal (TERM=%s)\n",
		        getenv("TERM") ? getenv("TERM") : "");
		free(f);
		return 1;
	}
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	attr_t map[TA_COUNT];
	colours(map, want_colour());

	struct top_view view = {0};
	struct top_status st = {.source = src->name, .interval_s = interval_s};
	double next = 0;
	while (!view.quit && !*src->stop) {
		double now = mono_now();
		if (now >= next) {
			src->fetch(src->ctx, m);
			next = next + interval_s > now ? next + interval_s : now + interval_s;
			if (view.selected >= m->n_gpus)
				view.selected = m->n_gpus ? m->n_gpus - 1 : 0;
		}
		st.now = wall_now();
		top_frame_draw(f, LINES, COLS, unicode, m, &view, &st);
		paint(f, map);
		/* Keys until the next refresh; each one redraws at once. */
		for (;;) {
			double wait = next - mono_now();
			if (wait <= 0)
				break;
			timeout((int)(wait * 1000) + 1);
			wint_t wk;
			int kind = get_wch(&wk);
			if (kind == ERR || *src->stop)
				break;
			if (kind == KEY_CODE_YES && wk == KEY_RESIZE)
				break;
			int key = map_key(wk, kind);
			if (key >= 0 && top_view_key(&view, m, key))
				break;
		}
	}
	endwin();
	free(f);
	return 0;
}

int top_print_once(const struct top_source *src, struct top_model *m, double interval_s, int cols,
                   int rows, FILE *out)
{
	struct top_frame *f = malloc(sizeof(*f));
	if (!f) {
		fprintf(stderr, "gpuscope top: out of memory\n");
		return 1;
	}
	int rc = src->fetch(src->ctx, m);
	if (rows <= 0) {
		/* Header, two lines a GPU, process title and columns, processes, status. */
		rows = 1 + 2 * (int)m->n_gpus + 1 + 2 + (int)m->n_procs + 1;
		rows = rows < 10 ? 10 : rows > TOP_MAX_ROWS ? TOP_MAX_ROWS : rows;
	}
	struct top_view view = {0};
	struct top_status st = {.source = src->name, .now = wall_now(), .interval_s = interval_s};
	top_frame_draw(f, rows, cols > 0 ? cols : 120, top_locale_utf8(), m, &view, &st);
	top_frame_print(f, out);
	free(f);
	return rc == 0 ? 0 : 1;
}
