package server

import (
	"context"
	"fmt"
	"strings"

	"gatehouse"
	"gatehouse/postgres"
	"gatehouse/sqlite"
)

func openStore(ctx context.Context, storage string) (gatehouse.KeyStore, error) {
	switch {
	case strings.HasPrefix(storage, "sqlite:"):
		st, err := sqlite.Open(ctx, strings.TrimPrefix(storage, "sqlite:"))
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
