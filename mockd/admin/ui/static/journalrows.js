// The journal's table body: a FrameFeed's entries, newest first, drawn a bounded number of rows
// at a time, so that heavy traffic never holds the page up. At most BUDGET rows are built in
// one animation frame (a long list is filled in over the next frames, oldest last); a stream
// batch bigger than that is more than anyone reads as it scrolls by: the tail pauses (the rows
// shown stay put, the newer ones are counted) and goes on once the batches are small again.

/** Rows built in one go (one frame): ~100 ms with a thousand rows in the table. */
export const BUDGET = 100;
/** A paused tail goes on after this long without an oversized batch. */
const QUIET_MS = 1000;

/** The index of the first entry whose seq is above `seq` (entries in seq order). */
function indexAfter(entries, seq) {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (entries[mid].seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class JournalRows {
  /**
   * makeRow(entry) -> <tr> (with tr.entry); matcher() -> null (no search) or entry -> bool;
   * onRender() after each change of the rows or of the pause.
   */
  constructor(tbody, {makeRow, matcher, onRender}) {
    this.tbody = tbody;
    this.makeRow = makeRow;
    this.matcher = matcher;
    this.onRender = onRender;
    this.feed = null;
    this.matching = 0; // rows the search leaves shown
    this.pending = 0; // entries that came since the rows last caught up
    this.paused = false;
    this.rebuild = false;
    this.frame = 0;
    this.quiet = null;
  }

  get total() {
    return this.tbody.childElementCount;
  }

  /** Start over with another feed (its onChange calls change()): no rows until it loads. */
  show(feed) {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.feed = feed;
    this.unpause();
    this.rebuild = false;
    this.matching = 0;
    this.tbody.replaceChildren();
  }

  /** FrameFeed's onChange. */
  change({added, reset, reloaded, live}) {
    this.pending += added.length;
    const flood = live && added.length > BUDGET;
    if (reloaded) {
      this.unpause();
      this.rebuild = true;
    } else if (this.paused || (flood && this.tbody.firstElementChild)) {
      if (flood) this.pause();
      this.onRender();
      return;
    } else if (reset) {
      this.rebuild = true;
    }
    this.schedule();
  }

  pause() {
    this.paused = true;
    clearTimeout(this.quiet);
    this.quiet = setTimeout(() => this.resume(), QUIET_MS);
  }

  unpause() {
    this.paused = false;
    this.pending = 0;
    clearTimeout(this.quiet);
  }

  /** Show the newest entries now (and follow them again). */
  resume() {
    if (!this.paused) return;
    this.unpause();
    this.rebuild = true;
    this.schedule();
    this.onRender();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.sync());
  }

  /** Rows for entries[from, to), newest first, in one fragment; the search applied to them. */
  rows(entries, from, to) {
    const match = this.matcher();
    const fragment = document.createDocumentFragment();
    for (let i = to - 1; i >= from; i -= 1) {
      const tr = this.makeRow(entries[i]);
      if (match && !match(entries[i])) tr.hidden = true;
      else this.matching += 1;
      fragment.append(tr);
    }
    return fragment;
  }

  /** The rows older than `seq` (at the bottom) go, in one go. */
  trim(seq) {
    let first = null;
    for (let tr = this.tbody.lastElementChild; tr && tr.entry.seq < seq; tr = tr.previousElementSibling) {
      first = tr;
      if (!tr.hidden) this.matching -= 1;
    }
    if (!first) return;
    const range = document.createRange();
    range.setStartBefore(first);
    range.setEndAfter(this.tbody.lastChild);
    range.deleteContents();
  }

  clearRows() {
    this.matching = 0;
    this.tbody.replaceChildren();
  }

  /** Bring the rows toward the feed's entries: the new ones on top, then older ones below. */
  sync() {
    this.frame = 0;
    if (this.paused || !this.feed) return;
    const {tbody} = this;
    const entries = this.feed.entries;
    if (this.rebuild) {
      this.rebuild = false;
      this.clearRows();
    }
    this.trim(entries.length ? entries[0].seq : Infinity);
    const top = tbody.firstElementChild;
    let start = top ? indexAfter(entries, top.entry.seq) : 0;
    if (entries.length - start > BUDGET) {
      // More new ones than one go builds (a tab in the background, a catch-up): start over
      // from the newest, the rest filled in below over the next frames.
      this.clearRows();
      start = entries.length - BUDGET;
    }
    const fresh = entries.length - start;
    if (fresh) tbody.prepend(this.rows(entries, start, entries.length));
    this.pending = 0;
    const bottom = tbody.lastElementChild;
    const end = bottom ? indexAfter(entries, bottom.entry.seq - 1) : 0;
    const from = Math.max(0, end - (BUDGET - fresh));
    if (from < end) tbody.append(this.rows(entries, from, end));
    if (from > 0) this.schedule();
    this.onRender();
  }

  /** The search changed: applied to every row. */
  research() {
    const match = this.matcher();
    this.matching = 0;
    for (const tr of this.tbody.children) {
      const hit = !match || match(tr.entry);
      tr.hidden = !hit;
      if (hit) this.matching += 1;
    }
    this.onRender();
  }

  destroy() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    clearTimeout(this.quiet);
    this.feed = null;
  }
}
