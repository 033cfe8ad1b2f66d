// Package logbuf is the buffered writer that the server's log lines go
// through: one access-log line per request written straight to stderr
// would cost a system call per request. Lines are kept whole and in order,
// and flushed at least every interval, when the buffer fills, and on
// Close, so that a crash loses at most an interval of log.
package logbuf

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// size is the buffer's size: a few hundred access-log lines.
const size = 64 << 10

// Writer buffers what is written to it for at most an interval. It is safe
// for concurrent use; each Write's bytes stay together.
type Writer struct {
	mu     sync.Mutex
	bw     *bufio.Writer
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

// New returns a Writer that writes to w at least every interval, and
// starts its flusher, which Close stops.
func New(w io.Writer, interval time.Duration) *Writer {
	b := &Writer{bw: bufio.NewWriterSize(w, size), stop: make(chan struct{}), done: make(chan struct{})}
	go b.flushEvery(interval)
	return b
}

func (b *Writer) flushEvery(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.Flush()
		case <-b.stop:
			return
		}
	}
}

// Write buffers p; after Close it writes p through at once.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(p) > b.bw.Available() && b.bw.Buffered() > 0 {
		// Keep a line in one piece rather than split across writes.
		b.bw.Flush()
	}
	n, err := b.bw.Write(p)
	if err == nil && b.closed {
		err = b.bw.Flush()
	}
	return n, err
}

// Flush writes what is buffered.
func (b *Writer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bw.Flush()
}

// Close flushes, stops the flusher and makes later writes go through at
// once. It never closes the underlying writer.
func (b *Writer) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	err := b.bw.Flush()
	b.mu.Unlock()
	close(b.stop)
	<-b.done
	return err
}
