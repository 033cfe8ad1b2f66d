package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migrations hold the schema, one numbered file per version
// ("0001_init.sql"). A file never changes once released; a change to the
// schema is a new file.
//
//go:embed migrations/*.sql
var migrations embed.FS

type migration struct {
	version int
	name    string
}

// listMigrations returns the embedded migrations in version order.
func listMigrations() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		prefix, _, _ := strings.Cut(path.Base(name), "_")
		v, err := strconv.Atoi(prefix)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a version number", name)
		}
		ms = append(ms, migration{version: v, name: name})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrate applies the migrations that the schema lacks, each in its own
// transaction under an advisory lock on the schema's name, so that nodes
// that start at once apply each migration exactly once.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := listMigrations()
	if err != nil {
		return err
	}
	var newest int
	for _, m := range ms {
		err := s.write(ctx, fmt.Sprintf("migrate to version %d", m.version), func(tx pgx.Tx) error {
			return applyMigration(ctx, tx, m, &newest)
		})
		if err != nil {
			return err
		}
	}
	if latest := ms[len(ms)-1].version; newest > latest {
		return fmt.Errorf("the database has schema version %d, newer than this program's %d: run a newer gatehouse", newest, latest)
	}
	return nil
}

func applyMigration(ctx context.Context, tx pgx.Tx, m migration, newest *int) error {
	var schema *string
	if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	}
	if schema == nil {
		return fmt.Errorf("no schema of the search_path exists: create it first")
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('gatehouse migrate ' || current_schema()))`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return err
	}
	var applied bool
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0), bool_or(version = $1) IS TRUE
		FROM schema_migrations`, m.version).Scan(newest, &applied); err != nil {
		return err
	}
	if applied {
		return nil
	}
	body, err := migrations.ReadFile(m.name)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, string(body)); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.version)
	return err
}
