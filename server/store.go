package server

import (
	"context"
	"errors"
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

// KeyServiceStore is what NewKeyService needs of a store: the key
// service's part (keys.Store) and the master key's fingerprint
// (gatehouse.ClusterStore). Every gatehouse.Store is one.
type KeyServiceStore interface {
	keys.Store
	gatehouse.ClusterStore
}

// NewKeyService returns the key service over store as cfg sets it up: the
// master key seals keys for "Copy key", and the routes' scopes are the
// known ones. It returns the master key too, which also signs the Settings
// sessions. The server and the CLI build it here, so that both validate
// and seal alike, and both refuse a master key that is not the one the
// store's keys are sealed under (ErrMasterKeyMismatch; see claimMasterKey).
// log, if not nil, receives whether the master key file was created now
// and the key's short fingerprint (never the key).
func NewKeyService(ctx context.Context, cfg *config.Config, store KeyServiceStore, log *slog.Logger) (*keys.Service, []byte, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	master, created, err := keys.EnsureMasterKey(cfg.SecretKeyFile)
	if err != nil {
		return nil, nil, err
	}
	sealer, err := gatehouse.NewSealer(master)
	if err != nil {
		return nil, nil, err
	}
	mk := masterKeyFile{path: cfg.SecretKeyFile, fingerprint: keys.Fingerprint(master), created: created}
	if created {
		log.Info("created a new master key", "file", mk.path, "fingerprint", keys.ShortFingerprint(mk.fingerprint))
	} else {
		log.Info("loaded the master key", "file", mk.path, "fingerprint", keys.ShortFingerprint(mk.fingerprint))
	}
	if err := claimMasterKey(ctx, store, sealer, mk, log); err != nil {
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

// ErrMasterKeyMismatch is the error of NewKeyService (and so of Open) when
// the node's master key is not the one the store's keys are sealed under.
var ErrMasterKeyMismatch = errors.New("master key mismatch")

// masterKeyFile is the node's master key as NewKeyService loaded it.
type masterKeyFile struct {
	path        string
	fingerprint string
	// created is true when the file did not exist and was created now.
	created bool
}

// describe names the file and its key's short fingerprint for messages.
func (mk masterKeyFile) describe() string {
	created := ""
	if mk.created {
		created = " (it did not exist and was created now)"
	}
	return fmt.Sprintf("secret_key_file %s%s has fingerprint %s", mk.path, created, keys.ShortFingerprint(mk.fingerprint))
}

// copyHint ends every ErrMasterKeyMismatch: what to do about it.
const copyHint = "copy the master key file of the other nodes here (every node of a cluster needs the same file)"

// claimMasterKey makes sure that the store's keys are sealed under mk:
// a store that records no fingerprint yet records mk's, and a store that
// records another refuses it with ErrMasterKeyMismatch.
//
// A store from before fingerprints (an upgrade) may hold keys already,
// sealed under the master key of the nodes that created them. Its oldest
// key must open with mk before mk is recorded, so that a node with another
// key file cannot record the wrong key, whichever node of the cluster
// starts first: only the oldest key's master key can be recorded.
func claimMasterKey(ctx context.Context, store KeyServiceStore, sealer *gatehouse.Sealer, mk masterKeyFile, log *slog.Logger) error {
	stored, err := store.MasterKeyFingerprint(ctx)
	if err != nil {
		return fmt.Errorf("check the master key: %w", err)
	}
	if stored == "" {
		oldest, _, err := store.FindKeys(ctx, gatehouse.KeyFilter{Limit: 1})
		if err != nil {
			return fmt.Errorf("check the master key: %w", err)
		}
		if len(oldest) > 0 {
			if _, err := sealer.Open(oldest[0].ID, oldest[0].Sealed); err != nil {
				return fmt.Errorf("%w: %s, but the store's oldest key (%s) does not open with it: it was sealed under another master key; %s",
					ErrMasterKeyMismatch, mk.describe(), oldest[0].ID, copyHint)
			}
		}
		if stored, err = store.ClaimMasterKey(ctx, mk.fingerprint); err != nil {
			return fmt.Errorf("record the master key's fingerprint: %w", err)
		}
		if stored == mk.fingerprint {
			log.Info("the store records this master key's fingerprint now: nodes and commands with another master key will refuse to start",
				"fingerprint", keys.ShortFingerprint(mk.fingerprint))
		}
	}
	if stored != mk.fingerprint {
		return fmt.Errorf("%w: %s, but the store's keys were sealed under %s; %s",
			ErrMasterKeyMismatch, mk.describe(), keys.ShortFingerprint(stored), copyHint)
	}
	return nil
}
