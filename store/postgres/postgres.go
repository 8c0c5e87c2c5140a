// Package postgres implements mamori.Store on PostgreSQL, for several
// replicas of Mamori sharing one database.
//
// It behaves like package sqlite — the same conformance suite passes
// against both — and stores the same things the same way: confidential
// data is sealed with package seal, each blob bound to its row by the same
// associated data; times are UTC unix milliseconds; the audit trail is
// append-only (triggers) and hash-chained with the same hash; cases cannot
// be deleted. Replicas claim outbox items and jobs with
// SELECT … FOR UPDATE SKIP LOCKED and a lease, so no two claim one row.
//
// Migrations are embedded and run by goose on Open under a PostgreSQL
// advisory lock, so replicas starting at once migrate one after another.
//
// It goes through pgx's database/sql driver (pgx/v5/stdlib) rather than
// pgxpool: goose needs a *sql.DB, one pool then serves both, and the code
// stays line for line comparable with the SQLite backend.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/seal"
	"github.com/mamori-oss/mamori/store/sqlrow"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Pool limits: enough for the HTTP handlers and the worker of one
// replica, well under PostgreSQL's default max_connections (100) for a
// few replicas.
const (
	maxOpenConns    = 10
	connMaxIdleTime = 5 * time.Minute
)

// ErrNoBackup is returned by Backup: a PostgreSQL database is backed up
// with PostgreSQL's own tools.
var ErrNoBackup = errors.New("postgres: mamori backup copies a SQLite file; back up PostgreSQL with pg_dump (the dump holds sealed data: keep the encryption key apart from it)")

// DB is a Mamori store in a PostgreSQL database.
type DB struct {
	common // the methods the SQL stores share (outbox.go)
	db     *sql.DB
	sealer *seal.Sealer
	log    *slog.Logger
	name   string // the URL without its password, for messages
}

var _ mamori.Store = (*DB)(nil)

// IsURL reports whether s names a PostgreSQL database: a postgres:// or
// postgresql:// URL.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Open connects to the database at url (postgres://user:pass@host/db?…,
// any libpq parameter pgx understands, search_path included) and migrates
// it to the current schema. sealer seals confidential data; a database
// written with another key is refused. log may be nil.
func Open(ctx context.Context, url string, sealer *seal.Sealer, log *slog.Logger) (*DB, error) {
	if sealer == nil {
		return nil, errors.New("postgres: no sealer")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !IsURL(url) {
		return nil, errors.New("postgres: need a postgres:// URL")
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's parse errors leave the password out.
		return nil, fmt.Errorf("postgres: %w", err)
	}
	name := fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	db := &DB{db: stdlib.OpenDB(*cfg), sealer: sealer, log: log, name: name}
	db.common = newCommon(db)
	db.db.SetMaxOpenConns(maxOpenConns)
	db.db.SetMaxIdleConns(maxOpenConns)
	db.db.SetConnMaxIdleTime(connMaxIdleTime)
	if err := db.db.PingContext(ctx); err != nil {
		db.db.Close()
		return nil, fmt.Errorf("postgres: connect to %s: %w", name, err)
	}
	migrated, err := db.migrate(ctx)
	if err != nil {
		db.db.Close()
		return nil, err
	}
	if err := db.checkKey(ctx); err != nil {
		db.db.Close()
		return nil, err
	}
	if err := db.checkTriggers(ctx); err != nil {
		db.db.Close()
		return nil, err
	}
	if err := db.keyChain(ctx, migrated); err != nil {
		db.db.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) migrate(ctx context.Context) ([]*goose.MigrationResult, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	// A session advisory lock: a replica that starts while another
	// migrates waits (polling each second, up to 5 minutes), then finds
	// nothing left to do.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db.db, fsys, goose.WithSessionLocker(locker))
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate %s: %w", db.name, err)
	}
	for _, r := range results {
		db.log.Info("postgres: migrated", "db", db.name, "version", r.Source.Version, "file", r.Source.Path, "took_ms", r.Duration.Milliseconds())
	}
	return results, nil
}

// checkKey fails when the database was written with another key, so a
// replica started with a wrong key stops instead of making every
// confidential row unreadable.
func (db *DB) checkKey(ctx context.Context) error {
	const known = "mamori"
	aad := []byte("key_check")
	// Two replicas starting on an empty database: one inserts, the other
	// inserts nothing and reads the first one's.
	if _, err := db.db.ExecContext(ctx, `INSERT INTO key_check (id, sealed) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`,
		db.sealer.Seal([]byte(known), aad)); err != nil {
		return fmt.Errorf("postgres: key check: %w", err)
	}
	var sealed []byte
	if err := db.db.QueryRowContext(ctx, `SELECT sealed FROM key_check WHERE id = 1`).Scan(&sealed); err != nil {
		return fmt.Errorf("postgres: key check: %w", err)
	}
	if b, err := db.sealer.Open(sealed, aad); err != nil || string(b) != known {
		return fmt.Errorf("postgres: %s was written with another encryption key: start with its MAMORI_ENCRYPTION_KEY", db.name)
	}
	return nil
}

// Close closes the connection pool. It may be called more than once.
func (db *DB) Close() error {
	return db.db.Close()
}

// Update runs fn in one READ COMMITTED transaction, committing it if fn
// returns nil and rolling it back otherwise; fn's error is returned as it
// is. A panic in fn rolls back too, and goes on panicking.
//
// fn runs once, never retried, so it may have effects outside the store;
// the rows it reads to change (a conversation, a case, a care task, an
// assignment) are locked FOR UPDATE, so concurrent updates of one row
// follow each other as in SQLite.
func (db *DB) Update(ctx context.Context, fn func(mamori.Tx) error) error {
	return db.run(ctx, nil, fn)
}

// View runs fn in a read-only REPEATABLE READ transaction, which sees one
// snapshot. Writes inside fn fail.
func (db *DB) View(ctx context.Context, fn func(mamori.Tx) error) error {
	return db.run(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}, fn)
}

func (db *DB) run(ctx context.Context, opts *sql.TxOptions, fn func(mamori.Tx) error) error {
	sqlTx, err := db.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			if rerr := sqlTx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
				db.log.Error("postgres: rollback", "err", rerr)
			}
		}
	}()
	if err := fn(&sqlrow.Tx{Ctx: ctx, Q: sqlTx, Sealer: db.sealer, Dialect: dialect, Write: opts == nil}); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	committed = true
	return nil
}

// write runs fn in a write transaction, for the Outbox and Jobs methods.
func (db *DB) write(ctx context.Context, fn func(*sql.Tx) error) error {
	sqlTx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	if err := fn(sqlTx); err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// Backup returns ErrNoBackup: use pg_dump.
func (db *DB) Backup(ctx context.Context, dest string) error {
	return ErrNoBackup
}

// dialect is PostgreSQL's: $N placeholders; an Update locks the rows it
// reads to change; IN lists are arrays; appenders to the audit chain take
// a table lock, which does not block readers and is held only until the
// transaction ends.
var dialect = &sqlrow.Dialect{
	Dollar:    true,
	LockRows:  true,
	Arrays:    true,
	AuditLock: `LOCK TABLE audit IN SHARE ROW EXCLUSIVE MODE`,
	ClaimLock: ` FOR UPDATE SKIP LOCKED`,
	IsUnique:  isUnique,
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}
