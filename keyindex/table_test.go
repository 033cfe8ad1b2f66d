package keyindex

import (
	"testing"

	"gatehouse"
)

func testKey(id string) *gatehouse.APIKey {
	return &gatehouse.APIKey{ID: id, Name: id, Digest: gatehouse.NewSecret().Digest()}
}

func TestEditSharesUntouchedShards(t *testing.T) {
	t.Parallel()
	keys := make([]*gatehouse.APIKey, 1000)
	for i := range keys {
		keys[i] = testKey(gatehouse.NewKeyID())
	}
	old := newTable(keys)
	e := old.edit()
	e.remove(keys[0].ID)
	added := testKey("key_added")
	e.put(added)
	replaced := *keys[1]
	replaced.Name = "renamed"
	e.put(&replaced)

	if old.n != 1000 || e.t.n != 1000 {
		t.Errorf("n: old %d, new %d; want 1000, 1000", old.n, e.t.n)
	}
	if _, ok := old.get(keys[0].ID); !ok {
		t.Errorf("old table lost a key removed in the edit")
	}
	if _, ok := e.t.lookup(&keys[0].Digest); ok {
		t.Errorf("new table still has the removed key")
	}
	if k, ok := e.t.lookup(&keys[1].Digest); !ok || k.Name != "renamed" {
		t.Errorf("new table: replaced key = %+v, %v", k, ok)
	}
	if k, _ := old.lookup(&keys[1].Digest); k.Name == "renamed" {
		t.Errorf("old table sees the replacement")
	}
	copied := 0
	for i := range shards {
		if e.digestCopy[i] {
			copied++
		}
	}
	if copied > 3 {
		t.Errorf("edit of 3 keys copied %d digest shards, want at most 3", copied)
	}
}

func TestPutDropsOtherKeyWithTheDigest(t *testing.T) {
	t.Parallel()
	a := testKey("key_a")
	b := &gatehouse.APIKey{ID: "key_b", Digest: a.Digest}
	e := newTable([]*gatehouse.APIKey{a}).edit()
	e.put(b)
	if _, ok := e.t.get("key_a"); ok || e.t.n != 1 {
		t.Errorf("after put of another key with the digest: key_a present %v, n %d", ok, e.t.n)
	}
}

// BenchmarkEditOne is the cost of applying one changed key to an index of
// 100,000 keys: two shards are copied.
func BenchmarkEditOne(b *testing.B) {
	keys := make([]*gatehouse.APIKey, 100_000)
	for i := range keys {
		keys[i] = testKey(gatehouse.NewKeyID())
	}
	t := newTable(keys)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e := t.edit()
		e.put(keys[i%len(keys)])
		t = e.t
	}
}
