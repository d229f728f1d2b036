package openflow

import (
	"net"
	"sync"
	"time"
)

// batchWriter coalesces messages into few write syscalls. Senders append
// into a buffer under a lock and poke the flusher; the flusher writes
// whatever has accumulated since its last pass. Under load many messages
// leave in one write, when idle each leaves at once.
type batchWriter struct {
	conn    net.Conn
	timeout time.Duration

	mu     sync.Mutex
	buf    []byte // queued bytes; allocated when used, released when idle
	err    error  // first write error; sticky
	kick   chan struct{}
	done   chan struct{}
	closed bool
}

// Write sizes: a write this large goes out at once (back-pressure on the
// sender); after a flush a buffer larger than writerKeep is released, so
// an idle switch holds no write buffer.
const (
	writerFlushAt = 16 << 10
	writerKeep    = 4 << 10
)

func newBatchWriter(c net.Conn, writeTimeout time.Duration) *batchWriter {
	w := &batchWriter{
		conn:    c,
		timeout: writeTimeout,
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	go w.flushLoop()
	return w
}

// write queues one encoded message. The bytes are copied, so the caller may
// reuse msg at once.
func (w *batchWriter) write(msg []byte) error {
	w.mu.Lock()
	if w.err != nil {
		w.mu.Unlock()
		return w.err
	}
	if w.closed {
		w.mu.Unlock()
		return net.ErrClosed
	}
	w.buf = append(w.buf, msg...)
	// A full buffer is written here, under the lock: that is the
	// back-pressure we want from a slow peer, and needs a deadline.
	// Otherwise the flusher sets it: not reading the clock per message
	// keeps this path cheap.
	if len(w.buf) >= writerFlushAt {
		w.flushLocked()
	}
	err := w.err
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
	return err
}

// flushLocked writes what is queued; w.mu held.
func (w *batchWriter) flushLocked() {
	if w.err != nil || len(w.buf) == 0 {
		return
	}
	w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	_, w.err = w.conn.Write(w.buf)
	if cap(w.buf) > writerKeep {
		w.buf = nil
	} else {
		w.buf = w.buf[:0]
	}
}

func (w *batchWriter) flushLoop() {
	for {
		select {
		case <-w.done:
			return
		case <-w.kick:
		}
		w.mu.Lock()
		w.flushLocked()
		w.mu.Unlock()
	}
}

// close flushes what is queued (bounded by the write timeout) and stops the
// flusher. It does not close the connection.
func (w *batchWriter) close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	w.flushLocked()
	w.mu.Unlock()
	close(w.done)
}
