/* rollup.c - per-minute summaries of the 1 s rows, written as the minutes close.
 *
 * A report over a day or a week reads at minute resolution.  Folding 86,400
 * seconds per GPU per day into minutes at read time cost a 24 h, 8-GPU report
 * 1.5 s and its whole file in page cache; reading one summary row per minute
 * costs 1/60 of that.  So the writer keeps gpu_rollup: for every whole minute
 * whose 1 s rows are still stored, one row with the same summary the fold
 * would make (mean of means, max of maxes, min of mins, latest value, n
 * seconds), computed from the stored seconds in the same transaction as the
 * batch that completed the minute.  Recomputing from the seconds, rather than
 * keeping running sums in memory, makes a rollup right whatever came before:
 * a restart mid-minute, a second written twice, a batch rolled back.
 *
 * Invariant: a gpu_rollup row summarizes exactly the 1 s rows of its minute.
 * A batch that writes into a minute already rolled up rolls it up again
 * before it commits; the fold deletes a minute's rollup with its seconds.
 * Minutes with seconds and no rollup (the open minute, or one a crashed or
 * cache-starved writer never closed) are simply read from their seconds.
 */
#include "store/internal.h"

int store_rollup_range(struct store *s, int64_t gid, int64_t from, int64_t to)
{
	int64_t m = from;
	while (m < to) {
		int64_t t;
		bool found;
		int rows, rc = store_next_second(s, gid, m, to, &t, &found);
		if (rc != STORE_OK)
			return rc;
		if (!found)
			return STORE_OK;
		m = store_minute_of(t);
		if ((rc = store_fold_minute(s, gid, m, true, &rows)) != STORE_OK)
			return rc;
		m += 60;
	}
	return STORE_OK;
}

int store_rollup_pending(struct store *s)
{
	int64_t cutoff = store_minute_of(s->batch_max_t - s->opt.second_retention_s);
	for (size_t i = 0; i < s->ngpus; i++) {
		struct gpu_cache_entry *e = &s->gpus[i];
		if (e->roll_from == INT64_MAX)
			continue; /* nothing written since the last commit */
		int64_t open_minute = store_minute_of(e->newest_t);
		/* A minute written into before the fold cutoff may have lost seconds
		 * to the fold already: the fold merges those in itself. */
		int64_t from = e->roll_from > cutoff ? e->roll_from : cutoff;
		if (from < open_minute) {
			int rc = store_rollup_range(s, e->id, from, open_minute);
			if (rc != STORE_OK)
				return rc;
		}
		e->roll_from = e->roll_from < open_minute ? open_minute : e->roll_from;
	}
	return STORE_OK;
}
