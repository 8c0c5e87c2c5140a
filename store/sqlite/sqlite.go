// Package sqlite implements mamori.Store on a SQLite database file.
//
// It is the store for a single server: one file, written through one
// connection in BEGIN IMMEDIATE transactions and read through a separate
// read-only pool, in WAL mode with synchronous=FULL so a commit survives
// a power cut. Migrations are embedded and run by goose on Open.
//
// Confidential data — conversations, case answers, outgoing messages and
// job payloads — is sealed with package seal before it is written, each
// blob bound to its row; the remaining columns hold no confidential text.
// All times are stored as UTC unix milliseconds.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/pressly/goose/v3"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/seal"
	"github.com/mamori-oss/mamori/store/sqlrow"
)

//go:embed migrations/*.sql
var migrations embed.FS

// busyTimeout is how long a writer waits for another process's write
// transaction (a backup, a second instance during a deploy) to finish.
const busyTimeout = 5 * time.Second

// readConns bounds the read pool.
const readConns = 4

// DB is a Mamori store in one SQLite file.
type DB struct {
	common                      // the methods the SQL stores share (outbox.go)
	rw     *sql.DB              // one connection: SQLite has one writer anyway
	conn   *sql.Conn            // rw's connection, the committer's once the migrations are done
	stmts  map[string]*sql.Stmt // the committer's prepared BEGIN, COMMIT…, on conn
	ro     *sql.DB              // read-only, for View and listings
	sealer *seal.Sealer
	log    *slog.Logger
	path   string

	// The committer and the checkpointer (commit.go).
	ck         *sql.DB  // one connection, for checkpoints
	ops        chan *op // writes for the committer
	quit       chan struct{}
	stopped    chan struct{}
	ckStopped  chan struct{}
	closeOnce  sync.Once
	committed  atomic.Int64 // writes taken
	commits    atomic.Int64 // transactions run for them
	restartWAL atomic.Bool  // asks the committer to start the WAL over
}

var _ mamori.Store = (*DB)(nil)

// Open opens or creates the database file at path, creating its directory
// if needed, and migrates it to the current schema. The file is created
// readable only by its owner. sealer seals confidential data; opening an
// existing database with another key succeeds, but reading sealed data
// then fails. log may be nil.
func Open(ctx context.Context, path string, sealer *seal.Sealer, log *slog.Logger) (*DB, error) {
	if sealer == nil {
		return nil, errors.New("sqlite: no sealer")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if path == "" || path == ":memory:" {
		return nil, errors.New("sqlite: need a database file path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := createFile(abs); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}

	db := &DB{sealer: sealer, log: log, path: abs}
	uri := "file:" + (&url.URL{Path: abs}).EscapedPath()
	db.rw, err = sql.Open("sqlite3", uri+"?"+url.Values{
		"_journal_mode": {"WAL"},
		"_txlock":       {"immediate"},
		"_busy_timeout": {fmt.Sprint(busyTimeout.Milliseconds())},
		"_foreign_keys": {"on"},
		"_synchronous":  {"FULL"},
		// What is deleted or overwritten is zeroed in the file, not left
		// in free space: a case past its retention is gone from the disk,
		// not only from the tables (its blobs are sealed, but the key is
		// kept with the file).
		"_secure_delete": {"on"},
		// The committer runs the same few statements again and again.
		"_stmt_cache_size": {"64"},
	}.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	db.rw.SetMaxOpenConns(1)
	db.rw.SetConnMaxLifetime(0)
	db.rw.SetConnMaxIdleTime(0)

	if err := db.setup(ctx); err != nil {
		db.rw.Close()
		return nil, err
	}

	// Checkpoints are the checkpointer's, not the commits'.
	// After a restart, a WAL file longer than 16 MB is cut back to that.
	if _, err := db.rw.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 16777216"); err != nil {
		db.rw.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	db.ck, err = sql.Open("sqlite3", uri+"?"+url.Values{
		"_busy_timeout": {fmt.Sprint(busyTimeout.Milliseconds())},
		"_synchronous":  {"FULL"},
	}.Encode())
	if err != nil {
		db.rw.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	db.ck.SetMaxOpenConns(1)
	if db.conn, err = db.rw.Conn(ctx); err != nil {
		db.ck.Close()
		db.rw.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	db.stmts = map[string]*sql.Stmt{}
	db.ops, db.quit = make(chan *op), make(chan struct{})
	db.stopped, db.ckStopped = make(chan struct{}), make(chan struct{})
	go db.committer()
	go db.checkpointer(db.ck)

	// The read pool opens after the migrations so the file is in WAL mode
	// and has its schema. A few connections are enough: reads are short,
	// and each connection keeps its own page cache.
	db.ro, err = sql.Open("sqlite3", uri+"?"+url.Values{
		"mode":             {"ro"},
		"_stmt_cache_size": {"32"},
		"_busy_timeout":    {fmt.Sprint(busyTimeout.Milliseconds())},
		"_foreign_keys":    {"on"},
	}.Encode())
	if err == nil {
		db.ro.SetMaxOpenConns(readConns)
		db.ro.SetMaxIdleConns(readConns)
		err = db.ro.PingContext(ctx)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open read pool: %w", err)
	}
	db.common = newCommon(db)
	return db, nil
}

// createFile creates an empty database file with owner-only permissions,
// which SQLite's WAL and shared-memory files then inherit.
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

func (db *DB) setup(ctx context.Context) error {
	var mode string
	if err := db.rw.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", db.path, err)
	}
	if mode != "wal" {
		return fmt.Errorf("sqlite: open %s: journal mode is %q, want wal", db.path, mode)
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.rw, fsys)
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", db.path, err)
	}
	for _, r := range results {
		db.log.Info("sqlite: migrated", "path", db.path, "version", r.Source.Version, "file", r.Source.Path, "took_ms", r.Duration.Milliseconds())
	}
	if err := db.checkKey(ctx); err != nil {
		return err
	}
	if err := db.checkTriggers(ctx); err != nil {
		return err
	}
	return db.keyChain(ctx, results)
}

// checkKey fails when the database was written with another key, so a
// lost or swapped key file stops the start instead of making every
// confidential row unreadable.
func (db *DB) checkKey(ctx context.Context) error {
	const known = "mamori"
	aad := []byte("key_check")
	var sealed []byte
	err := db.rw.QueryRowContext(ctx, `SELECT sealed FROM key_check WHERE id = 1`).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = db.rw.ExecContext(ctx, `INSERT INTO key_check (id, sealed) VALUES (1, ?)`, db.sealer.Seal([]byte(known), aad))
		return err
	}
	if err != nil {
		return fmt.Errorf("sqlite: key check: %w", err)
	}
	if b, err := db.sealer.Open(sealed, aad); err != nil || string(b) != known {
		return fmt.Errorf("sqlite: %s was written with another encryption key: restore its key file or MAMORI_ENCRYPTION_KEY", db.path)
	}
	return nil
}

// Close closes the database. It may be called more than once.
func (db *DB) Close() error {
	if db.quit != nil {
		db.closeCommitter()
		<-db.ckStopped
		db.ck.Close()
		db.conn.Close()
	}
	var err error
	if db.ro != nil {
		err = db.ro.Close()
	}
	if cerr := db.rw.Close(); err == nil {
		err = cerr
	}
	return err
}

// Update runs fn in a BEGIN IMMEDIATE transaction, committing it if fn
// returns nil and rolling it back otherwise; fn's error is returned as it
// is. A panic in fn rolls back too, and goes on panicking in the caller.
// Concurrent updates are committed together (see commit.go); each returns
// only when its own changes are on disk. fn's statements are not
// interrupted when ctx ends once it has started.
func (db *DB) Update(ctx context.Context, fn func(mamori.Tx) error) error {
	return db.commit(ctx, func(q querier) error {
		return fn(&sqlrow.Tx{Ctx: context.WithoutCancel(ctx), Q: q, Sealer: db.sealer, Dialect: dialect, Write: true})
	})
}

// View runs fn in a read-only transaction that sees one snapshot.
// Writes inside fn fail.
func (db *DB) View(ctx context.Context, fn func(mamori.Tx) error) error {
	sqlTx, err := db.ro.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer sqlTx.Rollback()
	return fn(&sqlrow.Tx{Ctx: ctx, Q: sqlTx, Sealer: db.sealer, Dialect: dialect})
}

// write runs fn in a write transaction, for the Outbox and Jobs methods.
// Like Update's, fn's ctx does not end with the caller's.
func (db *DB) write(ctx context.Context, fn func(context.Context, querier) error) error {
	return db.commit(ctx, func(q querier) error { return fn(context.WithoutCancel(ctx), q) })
}

// Backup writes a consistent copy of the database to dest with VACUUM INTO,
// without stopping writers. dest must not exist; it is created readable
// only by its owner. The copy holds the same sealed blobs, so it needs the
// same key to be read.
func (db *DB) Backup(ctx context.Context, dest string) error {
	f, err := os.OpenFile(dest, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	f.Close()
	// VACUUM INTO accepts an existing empty file, keeping its permissions.
	if _, err := db.ro.ExecContext(ctx, "VACUUM INTO ?", dest); err != nil {
		os.Remove(dest)
		return fmt.Errorf("sqlite: backup to %s: %w", dest, err)
	}
	return nil
}

// dialect is SQLite's: ? placeholders, no row locks (one writer), IN
// lists of placeholders.
var dialect = &sqlrow.Dialect{IsUnique: isUnique}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var e sqlite3.Error
	if errors.As(err, &e) {
		return e.ExtendedCode == sqlite3.ErrConstraintUnique || e.ExtendedCode == sqlite3.ErrConstraintPrimaryKey
	}
	return false
}
