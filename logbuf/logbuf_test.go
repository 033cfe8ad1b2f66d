package logbuf_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/logbuf"
)

// syncBuffer is a bytes.Buffer safe to read while the flusher writes.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFlushedWithinInterval(t *testing.T) {
	var out syncBuffer
	w := logbuf.New(&out, 10*time.Millisecond)
	defer w.Close()
	fmt.Fprintln(w, "one")
	fmt.Fprintln(w, "two")
	if got := out.String(); got != "" {
		t.Fatalf("written at once: %q; want it buffered", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != "one\ntwo\n" {
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s the output is %q, want both lines", out.String())
		}
		time.Sleep(time.Millisecond)
	}
	out.mu.Lock()
	writes := out.writes
	out.mu.Unlock()
	if writes != 1 {
		t.Errorf("two lines took %d writes, want 1", writes)
	}
}

func TestCloseFlushesAndLaterWritesGoThrough(t *testing.T) {
	var out syncBuffer
	w := logbuf.New(&out, time.Hour)
	fmt.Fprintln(w, "before")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "before\n" {
		t.Fatalf("after Close: %q, want the buffered line", got)
	}
	fmt.Fprintln(w, "after")
	if got := out.String(); got != "before\nafter\n" {
		t.Fatalf("a write after Close: %q, want it written at once", got)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// Lines written at once from many goroutines, some longer than what is
// left of the buffer, come out whole.
func TestConcurrentLinesStayWhole(t *testing.T) {
	var out syncBuffer
	w := logbuf.New(&out, time.Millisecond)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				fmt.Fprintf(w, "%d-%d %s\n", g, i, strings.Repeat("x", 100*(i%50)))
			}
		})
	}
	wg.Wait()
	w.Close()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8*200 {
		t.Fatalf("%d lines, want %d", len(lines), 8*200)
	}
	for _, l := range lines {
		var g, i int
		var xs string
		if n, _ := fmt.Sscanf(l, "%d-%d %s", &g, &i, &xs); n < 2 || len(xs) != 100*(i%50) && !(i%50 == 0 && n == 2) {
			t.Fatalf("broken line %.80q", l)
		}
	}
}
