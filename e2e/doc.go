// Package e2e holds end-to-end tests of a running gateway: hostile input
// sent over raw TCP, management API abuse, store faults and upstream
// faults. Every test starts its own gateway (server.Open and Serve on a
// real listener, so the server's own limits and timeouts apply) in front of
// a recording upstream that proves what got through. The package has no
// code of its own beyond this comment.
package e2e
