package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// stopGrace is how long Stop (and teardown) waits after SIGTERM before
// resorting to SIGKILL.
const stopGrace = 10 * time.Second

// Process is a long-running program the lab started. Its stdout and stderr
// go to a log file. The lab stops it on Close if it is still running.
type Process struct {
	Name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has been reaped
	err     error         // result of Wait, valid after done is closed
}

// Start runs args (program first) as a background process in namespace ns
// ("" = the root namespace) with env appended to the environment. Output
// goes to a log file in the lab directory. The process is stopped (SIGTERM,
// then SIGKILL) when the lab closes. Start fails the test if the program
// cannot be started, so call it from the test goroutine.
func (l *Lab) Start(name string, ns string, env []string, args ...string) *Process {
	l.t.Helper()
	return l.start(name, ns, env, l.logPath(name), args...)
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// logPath picks a unique log file name for a process called name.
func (l *Lab) logPath(name string) string {
	base := unsafeFileChars.ReplaceAllString(name, "_")
	l.mu.Lock()
	defer l.mu.Unlock()
	candidate := base
	for i := 2; l.logNames[candidate]; i++ {
		candidate = fmt.Sprintf("%s-%d", base, i)
	}
	l.logNames[candidate] = true
	return filepath.Join(l.dir, candidate+".log")
}

func (l *Lab) start(name, ns string, env []string, logPath string, args ...string) *Process {
	l.t.Helper()
	if len(args) == 0 {
		l.t.Fatalf("harness: Start(%q): no command", name)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		l.t.Fatalf("harness: Start(%q): %v", name, err)
	}
	full := inNS(ns, args...)
	cmd := exec.Command(full[0], full[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = logFile // an *os.File: the child writes directly, no copier goroutine
	cmd.Stderr = logFile
	// Safety net for when the test binary dies without running cleanups
	// (e.g. killed by go test -timeout): take the child down with us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		l.t.Fatalf("harness: Start(%q): %v", name, err)
	}
	p := &Process{Name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()

	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	l.onClose(func() {
		if p.Exited() {
			return
		}
		if err := p.Stop(); err != nil && !isSignalExit(err) {
			l.t.Logf("harness: process %s: %v", p.Name, err)
		}
	})
	return p
}

// PID is the process id of the program (not of a wrapper: `ip netns exec`
// execs the program in place).
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has terminated (and been reaped).
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to exit on its own and returns its exit error.
func (p *Process) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("process %s (pid %d) still running after %v", p.Name, p.PID(), timeout)
	}
}

// Kill9 sends SIGKILL and waits until the process is gone.
func (p *Process) Kill9() {
	// os.Process.Signal uses a pidfd, so it cannot hit a recycled PID.
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM, waits up to 10s, then sends SIGKILL. It returns the
// exit error of the process, if any. Note that a program without a SIGTERM
// handler reports "signal: terminated"; a program that shuts down gracefully
// on SIGTERM and exits 0 returns nil. If SIGKILL was needed the error says
// so. Stopping an exited process just returns its exit error.
func (p *Process) Stop() error {
	if p.Exited() {
		return p.err
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(stopGrace):
	}
	p.Kill9()
	return fmt.Errorf("process %s (pid %d) ignored SIGTERM for %v, killed: %w", p.Name, p.PID(), stopGrace, p.err)
}

// LogPath is the file receiving the process's stdout and stderr.
func (p *Process) LogPath() string { return p.logPath }

// Log returns the process output written so far.
func (p *Process) Log() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("<reading %s: %v>", p.logPath, err)
	}
	return string(b)
}

// isSignalExit reports whether err only says the process died of SIGTERM,
// the expected outcome of stopping a program without a handler.
func isSignalExit(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM
}

// String describes the process for log messages.
func (p *Process) String() string {
	return fmt.Sprintf("%s (pid %d: %s)", p.Name, p.PID(), strings.Join(p.cmd.Args, " "))
}

// Signal sends sig (SIGHUP, SIGUSR1) to the process.
func (p *Process) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }
