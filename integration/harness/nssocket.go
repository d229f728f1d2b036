package harness

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// InNS runs fn on an OS thread switched into network namespace ns (a
// lab's, e.g. Hypervisor.NS), so sockets fn opens live there: a test can
// listen on or dial from an address inside the lab without any process of
// its own in the namespace. The thread is switched back before it is
// released; if that fails the thread is left locked, and Go ends it with
// the goroutine, so no other goroutine ever runs in the wrong namespace.
func InNS(ns string, fn func() error) error {
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		return fmt.Errorf("harness: namespace %s: %w", ns, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer self.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("harness: setns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("harness: back from namespace %s: %w", ns, err) // thread stays locked: Go discards it
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
