package keyindex

import (
	"maps"

	"gatehouse"
)

// shards is the number of parts each map of a table is cut into, so that
// a change copies 1/shards of the keys instead of all of them.
const shards = 256

// table is an immutable snapshot of every key. Readers load it through an
// atomic pointer and never lock; a writer builds a new table that shares
// every shard it did not touch with the old one (copy-on-write per shard).
type table struct {
	byDigest [shards]map[gatehouse.Digest]*gatehouse.APIKey
	byID     [shards]map[string]*gatehouse.APIKey
	n        int
}

// digestShard picks a digest's shard: a SHA-256 digest is uniform already.
func digestShard(d *gatehouse.Digest) int { return int(d[0]) }

// idShard picks an ID's shard with FNV-1a, without allocating.
func idShard(id string) int {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return int(h % shards)
}

// newTable returns a table holding keys. A later key with the same ID or
// digest replaces an earlier one.
func newTable(keys []*gatehouse.APIKey) *table {
	t := &table{}
	per := len(keys)/shards + 1
	e := &edit{t: t}
	for i := range shards {
		t.byDigest[i] = make(map[gatehouse.Digest]*gatehouse.APIKey, per)
		t.byID[i] = make(map[string]*gatehouse.APIKey, per)
		e.digestCopy[i], e.idCopy[i] = true, true // the maps are the table's own
	}
	for _, k := range keys {
		e.put(k)
	}
	return t
}

func (t *table) lookup(d *gatehouse.Digest) (*gatehouse.APIKey, bool) {
	k, ok := t.byDigest[digestShard(d)][*d]
	return k, ok
}

func (t *table) get(id string) (*gatehouse.APIKey, bool) {
	k, ok := t.byID[idShard(id)][id]
	return k, ok
}

// each calls fn for every key until fn returns false.
func (t *table) each(fn func(*gatehouse.APIKey) bool) {
	for _, m := range t.byID {
		for _, k := range m {
			if !fn(k) {
				return
			}
		}
	}
}

// edit is a batch of changes to a table: the shards it touched are copies,
// the others are shared with the table it started from.
type edit struct {
	t          *table
	digestCopy [shards]bool
	idCopy     [shards]bool
}

func (t *table) edit() *edit {
	nt := *t
	return &edit{t: &nt}
}

func (e *edit) digestShard(d *gatehouse.Digest) map[gatehouse.Digest]*gatehouse.APIKey {
	i := digestShard(d)
	if !e.digestCopy[i] {
		e.t.byDigest[i] = maps.Clone(e.t.byDigest[i])
		e.digestCopy[i] = true
	}
	return e.t.byDigest[i]
}

func (e *edit) idShard(id string) map[string]*gatehouse.APIKey {
	i := idShard(id)
	if !e.idCopy[i] {
		e.t.byID[i] = maps.Clone(e.t.byID[i])
		e.idCopy[i] = true
	}
	return e.t.byID[i]
}

// remove deletes the key with the ID, by both of its digests, and reports
// whether there was one.
func (e *edit) remove(id string) bool {
	old, ok := e.t.get(id)
	if !ok {
		return false
	}
	delete(e.idShard(id), id)
	e.removeDigest(&old.Digest, old)
	if old.PreviousDigest != nil {
		e.removeDigest(old.PreviousDigest, old)
	}
	e.t.n--
	return true
}

// removeDigest deletes d if it leads to k.
func (e *edit) removeDigest(d *gatehouse.Digest, k *gatehouse.APIKey) {
	if cur, ok := e.t.lookup(d); ok && cur == k {
		delete(e.digestShard(d), *d)
	}
}

// put adds k, or replaces the key with its ID. A key is found by its
// digest and, after a roll, by its previous digest too: at most two
// entries. A digest belongs to one key: another key holding either is
// removed.
func (e *edit) put(k *gatehouse.APIKey) {
	e.remove(k.ID)
	if other, ok := e.t.lookup(&k.Digest); ok {
		e.remove(other.ID)
	}
	if k.PreviousDigest != nil {
		if other, ok := e.t.lookup(k.PreviousDigest); ok {
			e.remove(other.ID)
		}
		e.digestShard(k.PreviousDigest)[*k.PreviousDigest] = k
	}
	e.idShard(k.ID)[k.ID] = k
	e.digestShard(&k.Digest)[k.Digest] = k
	e.t.n++
}
