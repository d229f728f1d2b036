package memtrim

import (
	"runtime"
	"testing"
)

var sink [][]byte

// A spike that ends is given back once; a steady heap is never trimmed.
func TestTrimAfterASpikeOnly(t *testing.T) {
	var tr Trimmer
	if _, ok := tr.Check(); ok {
		t.Fatal("trimmed a heap that never peaked")
	}
	for i := 0; i < 256; i++ {
		sink = append(sink, make([]byte, 1<<20))
	}
	if _, ok := tr.Check(); ok { // at its peak: nothing to give back
		t.Fatal("trimmed at the peak")
	}
	sink = nil
	runtime.GC()
	before, _ := heapFreeAndLive()
	if before < minFree {
		t.Fatalf("test setup: only %d MiB free after dropping 256 MiB", before>>20)
	}
	if _, ok := tr.Check(); !ok {
		t.Fatalf("%d MiB free after the spike was not given back", before>>20)
	}
	if after, _ := heapFreeAndLive(); after >= minFree {
		t.Fatalf("free heap %d MiB before the trim, %d MiB after", before>>20, after>>20)
	}
	if _, ok := tr.Check(); ok {
		t.Fatal("trimmed again with no new spike")
	}
}
