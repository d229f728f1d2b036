package openflow

import (
	"bufio"
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
	buf    *bufio.Writer
	err    error // first write error; sticky
	kick   chan struct{}
	done   chan struct{}
	closed bool
}

func newBatchWriter(c net.Conn, writeTimeout time.Duration) *batchWriter {
	w := &batchWriter{
		conn:    c,
		timeout: writeTimeout,
		buf:     bufio.NewWriterSize(c, 16<<10), // larger writes go straight through
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
	// bufio flushes by itself when msg does not fit; that write happens
	// under the lock, which is the back-pressure we want from a slow peer,
	// and needs a deadline. Otherwise the flusher sets it: not reading the
	// clock per message keeps this path cheap.
	if len(msg) > w.buf.Available() {
		w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	}
	_, err := w.buf.Write(msg)
	if err != nil {
		w.err = err
	}
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
	return err
}

func (w *batchWriter) flushLoop() {
	for {
		select {
		case <-w.done:
			return
		case <-w.kick:
		}
		w.mu.Lock()
		if w.err == nil && w.buf.Buffered() > 0 {
			w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
			w.err = w.buf.Flush()
		}
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
	if w.err == nil && w.buf.Buffered() > 0 {
		w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
		w.err = w.buf.Flush()
	}
	w.mu.Unlock()
	close(w.done)
}
