/* screen.h - the interactive loop of `gpuscope top` (ncursesw) and its one-frame form.
 *
 * The loop owns the terminal: it refreshes the model through the caller's fetch function
 * every interval, draws the frame (tui/frame.h), and applies keys between refreshes.
 * Colours are used when the terminal has them and NO_COLOR is unset or empty; block glyphs
 * when the locale is UTF-8.  A resize redraws at once.
 */
#ifndef GPUSCOPE_TUI_SCREEN_H
#define GPUSCOPE_TUI_SCREEN_H

#include <signal.h>
#include <stdio.h>

#include "tui/frame.h"
#include "tui/model.h"

struct top_source {
	/* Refreshes the model: 0, or -1 with m->error set (the loop goes on). */
	int (*fetch)(void *ctx, struct top_model *m);
	void *ctx;
	const char *name;            /* "local", "demo" or the URL: shown in the header */
	volatile sig_atomic_t *stop; /* non-zero (a signal came): leave the loop */
};

/* Runs until q; 0, or 1 when the terminal cannot be used (printed). */
int top_screen_run(const struct top_source *src, struct top_model *m, double interval_s);

/* One refresh, one plain frame to out (--once): cols 0 means 120, rows 0 as many as the
 * GPUs and processes need.  0, or 1 when the refresh failed (the frame says why). */
int top_print_once(const struct top_source *src, struct top_model *m, double interval_s, int cols,
                   int rows, FILE *out);

/* True when the locale's character set is UTF-8 (after setlocale). */
bool top_locale_utf8(void);

#endif
