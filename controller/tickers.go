package controller

import (
	"time"

	"github.com/loomsdn/loom/apps"
)

// tickers schedules every apps.Ticker's turns on one session with one
// timer in the session's own loop: ticks are ordered with the switch's
// events, and an idle switch costs no goroutine per ticking app.
type tickers struct {
	apps []apps.App
	next []time.Time
}

func (s *session) newTickers(now time.Time) *tickers {
	t := &tickers{}
	for _, a := range s.c.apps {
		if tk, ok := a.(apps.Ticker); ok && tk.Every() > 0 {
			t.apps = append(t.apps, a)
			t.next = append(t.next, now.Add(tk.Every()))
		}
	}
	return t
}

// tickIdle is the timer's wait when no app ticks.
const tickIdle = time.Hour

// wait is how long until the next turn is due.
func (t *tickers) wait(now time.Time) time.Duration {
	if len(t.apps) == 0 {
		return tickIdle
	}
	first := t.next[0]
	for _, n := range t.next[1:] {
		if n.Before(first) {
			first = n
		}
	}
	return max(first.Sub(now), 0)
}

// due returns the apps whose turn has come and schedules their next one
// (a turn missed while the session was busy is not made up twice).
func (t *tickers) due(now time.Time) []apps.App {
	var out []apps.App
	for i, a := range t.apps {
		if now.Before(t.next[i]) {
			continue
		}
		out = append(out, a)
		every := a.(apps.Ticker).Every()
		t.next[i] = t.next[i].Add(every)
		if !t.next[i].After(now) {
			t.next[i] = now.Add(every)
		}
	}
	return out
}
