/* frame.h - one screen of `gpuscope top`, drawn into a grid of cells.
 *
 * The layout is a pure function of the model, the view state and the size: it never
 * touches the terminal.  The same frame goes to ncurses (tui/screen.c) and, as plain
 * text, to `top --once`; tests read either.  Every glyph takes one column, so a cell is
 * one code point and clipping at the right edge is exact.  Colours are roles (attr), not
 * colours: the screen maps them, or drops them under NO_COLOR and on a monochrome terminal.
 */
#ifndef GPUSCOPE_TUI_FRAME_H
#define GPUSCOPE_TUI_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tui/model.h"

enum top_attr {
	TA_PLAIN,
	TA_HEAD,  /* headers: bold */
	TA_DIM,   /* absent values, hints */
	TA_GOOD,  /* info verdicts, healthy */
	TA_WARN,  /* warnings, throttling */
	TA_CRIT,  /* critical verdicts, lost GPUs, errors */
	TA_SEL,   /* the selected row: reverse */
	TA_SPARK, /* sparklines */
	TA_COUNT
};

enum top_sort { SORT_MEM, SORT_SM, SORT_CPU, SORT_PID, SORT_NAME, SORT_COUNT };

/* What the user chose; changed by keys (top_view_key). */
struct top_view {
	enum top_sort sort;
	char filter[64];   /* substring over pid, name, user, workload ("" none) */
	bool editing;      /* typing the filter */
	unsigned selected; /* position in model->gpu */
	bool detail;       /* the selected-GPU view */
	bool help;
	bool quit;
};

#define TOP_MAX_COLS 512
#define TOP_MAX_ROWS 256

struct top_cell {
	uint32_t ch; /* Unicode code point, one column wide */
	uint8_t attr;
};

struct top_frame {
	int rows, cols;
	bool unicode; /* block glyphs for sparklines, else ASCII */
	struct top_cell cell[TOP_MAX_ROWS][TOP_MAX_COLS];
};

/* Everything around the model the frame shows. */
struct top_status {
	const char *source; /* "local", "demo", or the agent's URL */
	double now;         /* wall seconds */
	double interval_s;  /* refresh period */
};

/* Lays out one screen of rows x cols (clamped to the grid). */
void top_frame_draw(struct top_frame *f, int rows, int cols, bool unicode,
                    const struct top_model *m, const struct top_view *v,
                    const struct top_status *st);

/* Writes the frame as UTF-8 (or ASCII) text, trailing blanks trimmed, one line a row. */
void top_frame_print(const struct top_frame *f, FILE *out);

/* Applies one key (a character, or TOP_KEY_*); returns true when the screen changes. */
#define TOP_KEY_UP    0x110000
#define TOP_KEY_DOWN  0x110001
#define TOP_KEY_ENTER 0x110002
#define TOP_KEY_ESC   0x110003
#define TOP_KEY_BACK  0x110004
bool top_view_key(struct top_view *v, const struct top_model *m, int key);

const char *top_sort_name(enum top_sort s);

#endif
