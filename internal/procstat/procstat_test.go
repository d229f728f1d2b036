package procstat

import (
	"os"
	"testing"
)

func TestReadsThisProcess(t *testing.T) {
	buf := make([]byte, 32<<20)
	for i := range buf {
		buf[i] = 1 // resident
	}
	if kb := RSSKB(os.Getpid()); kb < 32<<10 {
		t.Fatalf("RSS %d KiB with 32 MiB touched", kb)
	}
	for i := 0; i < 1e8; i++ {
		buf[i%len(buf)]++
	}
	if s := CPUSeconds(os.Getpid()); s <= 0 {
		t.Fatalf("CPU %v s after a busy loop", s)
	}
	if RSSKB(0) != 0 || CPUSeconds(-1) != 0 {
		t.Fatal("no process should read as zero")
	}
}
