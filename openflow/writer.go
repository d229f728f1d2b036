package openflow

import (
	"net"
	"runtime"
	"sync"
	"time"
)

// batchWriter coalesces messages into few write syscalls. Senders append
// into a buffer under a lock; a flusher writes whatever has accumulated
// since its last pass. The flusher is started by the first write into an
// empty buffer and ends when it finds the buffer empty, so under load many
// messages leave in one write, and an idle switch costs no goroutine and
// no buffer.
type batchWriter struct {
	conn    net.Conn
	timeout time.Duration

	mu       sync.Mutex
	buf      []byte // queued bytes; allocated when used, released when idle
	err      error  // first write error; sticky
	flushing bool   // a flusher goroutine is running
	closed   bool
}

// Write sizes: a write this large goes out at once (back-pressure on the
// sender); after a flush a buffer larger than writerKeep is released, so
// an idle switch holds no write buffer.
const (
	writerFlushAt = 16 << 10
	writerKeep    = 4 << 10
)

func newBatchWriter(c net.Conn, writeTimeout time.Duration) *batchWriter {
	return &batchWriter{conn: c, timeout: writeTimeout}
}

// write queues one encoded message. The bytes are copied, so the caller may
// reuse msg at once.
func (w *batchWriter) write(msg []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return net.ErrClosed
	}
	w.buf = append(w.buf, msg...)
	// A full buffer is written here, under the lock: that is the
	// back-pressure we want from a slow peer, and needs a deadline.
	// Otherwise the flusher writes it: not reading the clock per message
	// keeps this path cheap.
	if len(w.buf) >= writerFlushAt {
		w.flushLocked()
	} else if !w.flushing {
		w.flushing = true
		go w.flushLoop()
	}
	return w.err
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

// flushLoop writes until it finds nothing queued, then ends.
func (w *batchWriter) flushLoop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.buf) > 0 && w.err == nil {
		w.flushLocked()
		// Let senders add to the buffer before the next pass.
		w.mu.Unlock()
		runtime.Gosched()
		w.mu.Lock()
	}
	w.flushing = false
}

// close flushes what is queued (bounded by the write timeout). It does not
// close the connection; a flusher still running finds nothing left.
func (w *batchWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	w.flushLocked()
}
