package store

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// The writer half of TestKill9NeverCorrupts: run as a child process, it
// commits increasing counters and prints each one only after its commit
// returned, i.e. after it was acknowledged. LOOM_STORE_OPEN_CHILD runs the
// child of the damaged-file tests (check_test.go): a fault inside bbolt
// kills that child, not the test.
func TestMain(m *testing.M) {
	if path := os.Getenv("LOOM_STORE_CRASH_WRITER"); path != "" {
		os.Exit(crashWriter(path))
	}
	if path := os.Getenv("LOOM_STORE_OPEN_CHILD"); path != "" {
		os.Exit(openChild(path))
	}
	os.Exit(m.Run())
}

func crashWriter(path string) int {
	s, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	start := 0
	s.LoadDesired(func(c DesiredChange) error {
		if c.Key == "counter" && len(c.Flows) == 1 {
			start, _ = strconv.Atoi(c.Flows[0])
		}
		return nil
	})
	for i := start + 1; ; i++ {
		// A batch of several keys per transaction, like a reconcile's.
		batch := []DesiredChange{{DPID: 1, App: "crash", Key: "counter", Flows: []string{strconv.Itoa(i)}}}
		for j := 0; j < 20; j++ {
			batch = append(batch, DesiredChange{DPID: uint64(2 + j%3), App: "crash", Key: fmt.Sprintf("k%d", (i*20+j)%500),
				Flows: []string{fmt.Sprintf("table=%d, priority=%d actions=drop", j, i)}})
		}
		if err := s.SaveDesired(batch); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(i)
	}
}

// TestKill9NeverCorrupts kills a writing process with SIGKILL at random
// points, many times: the file must always open, and the counter must
// never be behind the last value the writer saw acknowledged.
func TestKill9NeverCorrupts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loom.db")
	lastAcked := 0
	rng := rand.New(rand.NewSource(1))
	for round := 0; round < 25; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "LOOM_STORE_CRASH_WRITER="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		acks := 1 + rng.Intn(40)
		for i := 0; i < acks && lines.Scan(); i++ {
			n, _ := strconv.Atoi(lines.Text())
			if n <= lastAcked {
				t.Fatalf("round %d: writer acknowledged %d after %d", round, n, lastAcked)
			}
			lastAcked = n
		}
		cmd.Process.Signal(syscall.SIGKILL) // mid-write, as likely as not
		cmd.Wait()

		s, err := Open(path)
		if err != nil {
			t.Fatalf("round %d: database unusable after kill -9: %v", round, err)
		}
		stored := -1
		err = s.LoadDesired(func(c DesiredChange) error {
			if c.Key == "counter" {
				stored, _ = strconv.Atoi(c.Flows[0])
			}
			return nil
		})
		s.Close()
		if err != nil {
			t.Fatalf("round %d: reading after kill -9: %v", round, err)
		}
		if stored < lastAcked {
			t.Fatalf("round %d: stored counter %d is behind the acknowledged %d", round, stored, lastAcked)
		}
		lastAcked = stored // a commit may have landed after its ack was lost
	}
	if lastAcked < 25 {
		t.Fatalf("only %d commits in 25 rounds: the writer hardly ran", lastAcked)
	}
}
