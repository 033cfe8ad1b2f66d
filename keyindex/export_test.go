package keyindex

// OpenWatches returns the number of registered watches, so that tests can
// check that cancelled watches are released.
func (x *Index) OpenWatches() int {
	x.watches.mu.Lock()
	defer x.watches.mu.Unlock()
	return x.watches.n
}
