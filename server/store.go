package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"gatehouse"
	"gatehouse/postgres"
	"gatehouse/sqlite"
)

// openStore opens the store named by a storage setting; log, if not nil,
// receives the SQLite store's warnings about the modes of its files.
func openStore(ctx context.Context, storage string, log *slog.Logger) (gatehouse.Store, error) {
	switch {
	case strings.HasPrefix(storage, "sqlite:"):
		st, err := sqlite.OpenWith(ctx, strings.TrimPrefix(storage, "sqlite:"), sqlite.Options{Logger: log})
		if err != nil {
			return nil, fmt.Errorf("open sqlite store: %w", err)
		}
		return st, nil
	case strings.HasPrefix(storage, "postgres://"), strings.HasPrefix(storage, "postgresql://"):
		st, err := postgres.Open(ctx, storage)
		if err != nil {
			return nil, fmt.Errorf("open postgres store: %w", err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("storage %q: must start with sqlite: or postgres://", storage)
}
