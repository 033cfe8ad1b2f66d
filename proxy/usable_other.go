//go:build !unix

package proxy

// usable reports whether an idle connection can carry a request. Without
// a non-blocking peek, a connection the upstream closed while idle is
// found when the request is written or its answer read, and a request
// that can be sent again is retried on a new connection.
func (c *upConn) usable() bool { return true }
