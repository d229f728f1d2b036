// Package memtrim gives memory back to the operating system after a load
// spike. The Go runtime keeps freed heap for reuse and returns it only
// gradually, so after a connect storm or a burst of API watchers loomd's
// RSS stays near its peak for minutes although its live heap is back to
// normal. Operators read RSS; a controller that looks like it leaks gets
// restarted. Once the live heap has fallen to half its peak since the last
// trim, one debug.FreeOSMemory (a collection and a full scavenge,
// milliseconds at loomd's heap sizes) returns what is free; in a steady
// state it never runs.
package memtrim

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// minFree is the free heap below which a trim is not worth a collection.
const minFree = 16 << 20

// Trimmer remembers the live heap's peak since its last trim. One
// goroutine owns it.
type Trimmer struct {
	peak uint64
}

// Run checks every interval until ctx ends; onTrim (may be nil) hears how
// much free heap was given back.
func Run(ctx context.Context, every time.Duration, onTrim func(freed uint64)) {
	var tr Trimmer
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if freed, ok := tr.Check(); ok && onTrim != nil {
				onTrim(freed)
			}
		}
	}
}

// Check samples the heap and trims when the live heap is at most half its
// peak since the last trim and enough is free; it reports the free heap
// given back and whether it trimmed.
func (tr *Trimmer) Check() (uint64, bool) {
	free, live := heapFreeAndLive()
	tr.peak = max(tr.peak, live)
	if live > tr.peak/2 || free < minFree {
		return 0, false
	}
	debug.FreeOSMemory()
	_, tr.peak = heapFreeAndLive()
	return free, true
}

// heapFreeAndLive reads, without stopping the world, the heap the runtime
// holds free (not yet returned) and the heap in use by objects.
func heapFreeAndLive() (free, live uint64) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}
