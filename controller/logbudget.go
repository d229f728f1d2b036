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
