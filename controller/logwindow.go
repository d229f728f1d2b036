package controller

import "time"

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
