package e2e_test

import (
	"testing"

	"gatehouse"
	"gatehouse/keys"
	"gatehouse/server"
)

// TestFirstRequestWithAKeyMadeElsewhere: a key created a moment ago by the
// CLI (another process's store handle, which cannot tell the gateway)
// works on its very first request, before the gateway's next poll; a
// well-formed key nobody made is still refused.
func TestFirstRequestWithAKeyMadeElsewhere(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	store, err := server.OpenStore(t.Context(), g.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cli, _, err := server.NewKeyService(t.Context(), g.Config, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		_, secret, err := cli.Create(t.Context(), keys.CreateRequest{Name: "made by the CLI " + string(rune('a'+i)), Scopes: []string{"assets:read"}}, keys.Admin("cli:test"))
		if err != nil {
			t.Fatal(err)
		}
		g.RememberSecret(secret.Reveal())
		if r := g.one(t, req("GET", "/api/v2/assets/158", apiKey(secret.Reveal()))); r.Status != 200 {
			t.Fatalf("first request with key %d made by the CLI: %v, want 200", i, r)
		}
	}
	if r := g.one(t, req("GET", "/api/v2/assets/158", apiKey(gatehouse.NewSecret().Reveal()))); r.Status != 401 || r.code() != "invalid_key" {
		t.Errorf("a well-formed key nobody made: %v, want 401 invalid_key", r)
	}
}
