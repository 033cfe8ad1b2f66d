package ratelimit

// Entries returns the number of keys whose state a Local holds.
func (l *Local) Entries() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}
