package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/mem"
	"github.com/mamori-oss/mamori/store/postgres"
	"github.com/mamori-oss/mamori/store/seal"
	"github.com/mamori-oss/mamori/store/sqlite"
)

// storeDB is what the commands need of a store: mamori.Store and the
// operator's audit and backup commands.
type storeDB interface {
	mamori.Store
	VerifyAudit(ctx context.Context) (n int, err error)
	AuditTrail(ctx context.Context, subject string) ([]mamori.AuditEntry, error)
	// Backup writes a consistent copy to dest, or says how to make one.
	Backup(ctx context.Context, dest string) error
}

var (
	_ storeDB = (*sqlite.DB)(nil)
	_ storeDB = (*postgres.DB)(nil)
	_ storeDB = (*mem.DB)(nil)
)

// memDB is the MAMORI_DB that keeps everything in memory, for demos.
const memDB = "mem:"

// isMem reports whether MAMORI_DB names the in-memory store.
func isMem(path string) bool { return strings.HasPrefix(path, memDB) }

// dbPath is MAMORI_DB: a SQLite file, a postgres:// URL, or mem:.
func dbPath(getenv func(string) string) string {
	if p := getenv("MAMORI_DB"); p != "" {
		return p
	}
	return "mamori.db"
}

// dataDir is where local files go beside the database: the SQLite
// file's directory, or the working directory with PostgreSQL or mem:.
func dataDir(getenv func(string) string) string {
	if p := dbPath(getenv); !postgres.IsURL(p) && !isMem(p) {
		return filepath.Dir(p)
	}
	return "."
}

// openStore opens the database named by MAMORI_DB with its key: a
// postgres:// or postgresql:// URL opens PostgreSQL, anything else is a
// SQLite file. Either is migrated on open. mem: keeps everything in
// memory, with no key: it is lost at exit, and the log says so.
func openStore(ctx context.Context, getenv func(string) string, log *slog.Logger) (storeDB, error) {
	path := dbPath(getenv)
	if isMem(path) {
		log.Warn("MAMORI_DB=mem: the data is kept in memory only and is lost when mamori exits")
		return mem.New(), nil
	}
	pg := postgres.IsURL(path)
	if pg && getenv("MAMORI_KEY_FILE") == "" && getenv(seal.EnvVar) == "" {
		// A key file made on one replica would not be on the others.
		return nil, errors.New("MAMORI_ENCRYPTION_KEY is not set: with PostgreSQL every replica needs the same key (or set MAMORI_KEY_FILE to a file each one has)")
	}
	keyFile := keyFilePath(getenv)
	if scheme, _, ok := strings.Cut(path, "://"); ok && !pg && !strings.ContainsAny(scheme, "/\\") {
		return nil, fmt.Errorf("MAMORI_DB: %s:// is not a database Mamori can use: give a SQLite file path, a postgres:// URL or mem:", scheme)
	}
	if !pg {
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			return nil, fmt.Errorf("MAMORI_DB %s is a directory: give the database file's path, such as %s", path, filepath.Join(path, "mamori.db"))
		}
		if err := writableDir(path); err != nil {
			return nil, err
		}
	}
	if getenv(seal.EnvVar) == "" {
		if _, err := os.Stat(keyFile); errors.Is(err, fs.ErrNotExist) {
			// A new key would not open what the old one sealed: say so
			// rather than start on a key nobody can use with this data.
			if pg {
				return nil, fmt.Errorf("MAMORI_KEY_FILE %s does not exist: with PostgreSQL every replica needs the same key; copy it from where the database was first set up (no new key was made)", keyFile)
			}
			if st, err := os.Stat(path); err == nil && st.Size() > 0 {
				return nil, fmt.Errorf("the key file %s is missing, but the database %s exists: its confidential answers cannot be read without the key they were sealed with. Restore the key file from your backup, or set MAMORI_ENCRYPTION_KEY (no new key was made)", keyFile, path)
			}
		}
	}
	key, err := seal.LoadKey(getenv(seal.EnvVar), keyFile)
	if err != nil {
		return nil, err
	}
	s, err := seal.New(key)
	if err != nil {
		return nil, fmt.Errorf("MAMORI_ENCRYPTION_KEY: %w", err)
	}
	if pg {
		db, err := postgres.Open(ctx, path, s, log)
		if err != nil {
			// Not the URL: it may hold a password. The error names the
			// server and database.
			return nil, fmt.Errorf("MAMORI_DB: %w", err)
		}
		return db, nil
	}
	db, err := sqlite.Open(ctx, path, s, log)
	if err != nil {
		return nil, fmt.Errorf("MAMORI_DB %s: %w", path, err)
	}
	return db, nil
}

// writableDir says plainly when the SQLite file's directory cannot be
// written: SQLite keeps its journal beside the file, so even an existing
// database needs it.
func writableDir(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("MAMORI_DB %s: the directory %s does not exist", path, dir)
	} else if err != nil {
		return fmt.Errorf("MAMORI_DB %s: %w", path, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("MAMORI_DB %s: %s is not a directory", path, dir)
	}
	f, err := os.CreateTemp(dir, ".mamori-write-check-*")
	if err != nil {
		return fmt.Errorf("MAMORI_DB %s: the directory %s is read-only for mamori (SQLite writes its journal beside the database): make it writable, or set MAMORI_DB to a file in a writable directory", path, dir)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// migrate applies the database migrations and says so. Every command
// migrates on open; this one does only that, for a deploy step that runs
// before the replicas start.
func migrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) != 0 {
		return errors.New("usage: mamori migrate")
	}
	db, err := openStore(ctx, getenv, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "database schema is up to date")
	return nil
}
