package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"gatehouse"
)

// BenchmarkRecordUsage writes one flush of the usage recorder: 10,000 keys
// used in the last interval, as under load with many integrations.
func BenchmarkRecordUsage(b *testing.B) {
	s := MustOpenStore(b)
	ctx := context.Background()
	const n = 10000
	batch := make([]gatehouse.Usage, n)
	now := time.Now().UTC()
	for i := range batch {
		k := newKey(fmt.Sprintf("key-%d", i))
		if err := s.CreateKey(ctx, k); err != nil {
			b.Fatal(err)
		}
		batch[i] = gatehouse.Usage{KeyID: k.ID, Hour: now.Truncate(time.Hour), Count: 3, LastUsedAt: now}
	}
	b.ResetTimer()
	for b.Loop() {
		if err := s.RecordUsage(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/key")
}
