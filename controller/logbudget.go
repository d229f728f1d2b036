package controller

import "time"

// logBudget lets a repeated condition log one line per interval and says
// how many occurrences the line stands for. It is owned by one goroutine.
type logBudget struct {
	last    time.Time
	pending int
}

// spend records one occurrence; it returns true (with the count since the
// last line, this one included) when a line is due.
func (b *logBudget) spend(now time.Time, every time.Duration) (int, bool) {
	b.pending++
	if !b.last.IsZero() && now.Sub(b.last) < every {
		return 0, false
	}
	n := b.pending
	b.last, b.pending = now, 0
	return n, true
}

// lineWindow lets the first n occurrences of each window log a line of
// their own and counts the rest for one summary line. Owned by one
// goroutine.
type lineWindow struct {
	start      time.Time
	used, over int
}

// allow says whether this occurrence gets its own line.
func (w *lineWindow) allow(now time.Time, n int, every time.Duration) bool {
	if now.Sub(w.start) >= every && w.over == 0 {
		w.start, w.used = now, 0
	}
	if w.used < n {
		w.used++
		return true
	}
	w.over++
	return false
}

// summary returns the occurrences not logged, once per window.
func (w *lineWindow) summary(now time.Time, every time.Duration) (int, bool) {
	if w.over == 0 || now.Sub(w.start) < every {
		return 0, false
	}
	n := w.over
	w.start, w.used, w.over = now, 0, 0
	return n, true
}
