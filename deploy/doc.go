// Package deploy holds what runs Gatehouse outside Go: the systemd unit
// gatehouse.service, which its test checks with systemd-analyze. It has no
// Go code.
package deploy
