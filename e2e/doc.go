// Package e2e holds the end-to-end tests of a running gateway: the
// gateway's own endpoints and metrics, key changes seen at once (also by
// open websockets), hostile input sent over raw TCP, management API abuse,
// login throttling, log redaction, store faults (a read-only or full disk)
// and upstream faults, and two-node clusters on PostgreSQL and Redis,
// through a database outage. Every test starts its own gateway
// (gatewaytest: server.Open and Serve on real listeners, so the server's
// own limits and timeouts apply) in front of a recording upstream
// (gatehousetest.NewUpstream) that proves what got through, and at its
// end scans the gateway's log for every plain key it saw. The package has
// no code of its own beyond this comment.
package e2e
