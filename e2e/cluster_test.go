package e2e_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"gatehouse/config"
	"gatehouse/gatehousetest"
	"gatehouse/keys"
)

// twoNodes starts two gateways on one PostgreSQL schema and one master key.
func twoNodes(t *testing.T) (a, b *gateway) {
	t.Helper()
	storage := gatehousetest.MustPostgresSchema(t)
	a = startGateway(t, func(c *config.Config) { c.Storage = storage })
	return a, a.nextNode(t)
}

func TestClusterChangesAcrossNodes(t *testing.T) {
	t.Parallel()
	a, b := twoNodes(t)
	ctx := context.Background()

	// Created on A, usable on B.
	id, secret := a.key(t, "cross-node", "assets:read")
	t.Logf("create on A usable on B after %v", waitStatus(t, b.URL+"/api/v2/assets", secret, 200, time.Second))

	// Expired key renewed on B is usable on A.
	until := time.Now().Add(2 * time.Second)
	eid, esecret := a.keyUntil(t, "expiring", &until, "assets:read")
	waitStatus(t, a.URL+"/api/v2/assets", esecret, 401, 5*time.Second)
	if _, err := b.Keys().Renew(ctx, eid, nil, nil, keys.Admin("test")); err != nil {
		t.Fatal(err)
	}
	t.Logf("renew on B usable on A after %v", waitStatus(t, a.URL+"/api/v2/assets", esecret, 200, time.Second))

	// Deleted on A, refused on B within a second.
	if err := a.Keys().Delete(ctx, id, keys.Admin("test")); err != nil {
		t.Fatal(err)
	}
	t.Logf("delete on A refused on B after %v", waitStatus(t, b.URL+"/api/v2/assets", secret, 401, time.Second))
}

// TestClusterPropagationDelay measures how long a change on one node takes
// to reach the other, over 100 changes, and reports p50 and p99.
func TestClusterPropagationDelay(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	t.Parallel()
	a, b := twoNodes(t)
	var delays []time.Duration
	for i := range 100 {
		_, secret := a.key(t, "prop-"+string(rune('a'+i%26))+time.Now().Format("150405.000000"), "assets:read")
		delays = append(delays, waitStatus(t, b.URL+"/api/v2/assets", secret, 200, time.Second))
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	t.Logf("propagation A→B over %d creates: p50 %v, p99 %v, max %v", len(delays), delays[len(delays)/2], delays[len(delays)*99/100], delays[len(delays)-1])
}

// TestClusterDayTwo: a roll, a disable and an address change made on node
// A hold on node B within a second (PostgreSQL's NOTIFY, else the poll).
func TestClusterDayTwo(t *testing.T) {
	t.Parallel()
	a, b := twoNodes(t)
	ctx := context.Background()
	admin := keys.Admin("test")
	id, old := a.key(t, "cluster day two", "assets:read")
	url := b.URL + "/api/v2/assets"
	waitStatus(t, url, old, 200, time.Second)

	_, secret, err := a.Keys().Roll(ctx, id, 0, admin)
	if err != nil {
		t.Fatal(err)
	}
	next := secret.Reveal()
	a.RememberSecret(next)
	b.RememberSecret(next)
	t.Logf("roll on A: old secret refused on B after %v", waitCode(t, url, old, 401, "key_rolled", time.Second))
	waitStatus(t, url, next, 200, time.Second)

	if _, err := a.Keys().SetDisabled(ctx, id, true, admin); err != nil {
		t.Fatal(err)
	}
	t.Logf("disable on A: refused on B after %v", waitCode(t, url, next, 401, "key_disabled", time.Second))
	if _, err := a.Keys().SetDisabled(ctx, id, false, admin); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, url, next, 200, time.Second)

	ips := []string{"203.0.113.7"}
	if _, err := a.Keys().Update(ctx, id, keys.UpdateRequest{AllowedIPs: &ips}, admin); err != nil {
		t.Fatal(err)
	}
	t.Logf("allowedIps on A: refused on B after %v", waitCode(t, url, next, 403, "ip_not_allowed", time.Second))
}
