package server

import (
	"context"
	"fmt"
	"log/slog"

	"gatehouse"
	"gatehouse/config"
	"gatehouse/keys"
	"gatehouse/postgres"
	"gatehouse/sqlite"
)

// OpenStore opens the store that cfg's storage names. log, if not nil,
// receives the store's own warnings: the modes of SQLite's files it
// tightened, the PostgreSQL change listener's connection problems.
func OpenStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (gatehouse.Store, error) {
	kind, location, err := config.ParseStorage(cfg.Storage)
	if err != nil {
		return nil, fmt.Errorf("config: storage: %w", err)
	}
	if kind == config.StorageSQLite {
		st, err := sqlite.OpenWith(ctx, location, sqlite.Options{Logger: log})
		if err != nil {
			return nil, fmt.Errorf("open sqlite store: %w", err)
		}
		return st, nil
	}
	st, err := postgres.OpenWith(ctx, location, postgres.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	return st, nil
}

// NewKeyService returns the key service over store as cfg sets it up: the
// master key seals keys for "Copy key", and the routes' scopes are the
// known ones. It returns the master key too, which also signs the Settings
// sessions. The server and the CLI build it here, so that both validate
// and seal alike.
func NewKeyService(cfg *config.Config, store keys.Store) (*keys.Service, []byte, error) {
	master, err := keys.LoadMasterKey(cfg.SecretKeyFile)
	if err != nil {
		return nil, nil, err
	}
	sealer, err := gatehouse.NewSealer(master)
	if err != nil {
		return nil, nil, err
	}
	scopes := map[string]bool{}
	for _, n := range cfg.ScopeNames() {
		scopes[n] = true
	}
	return &keys.Service{
		Store:      store,
		Sealer:     sealer,
		KnownScope: func(name string) bool { return scopes[name] },
	}, master, nil
}
