//go:build unix

package proxy

import "syscall"

// usable reports whether an idle connection can carry a request: the
// upstream has neither closed it nor sent anything on it since its last
// answer. It peeks at the socket without blocking: one system call, which
// is what keeps a request from being written to a connection the upstream
// closed while it was idle, or from reading stray bytes as its answer.
func (c *upConn) usable() bool {
	if c.raw == nil {
		return true
	}
	var buf [1]byte
	usable := false
	err := c.raw.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing to read (EAGAIN) is a usable connection; 0 bytes is
		// the upstream's close, any byte is unasked for.
		usable = n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
	})
	return err == nil && usable
}
