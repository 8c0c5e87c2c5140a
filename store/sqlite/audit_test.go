package sqlite_test

import (
	"context"
	"database/sql"
	"log/slog"
	"testing"

	"github.com/mamori-oss/mamori/store/audit/audittest"
	"github.com/mamori-oss/mamori/store/sqlite"
)

// TestAuditTampering runs the tampering suite on real SQLite files,
// tampered with through a second connection as with the sqlite3 shell.
func TestAuditTampering(t *testing.T) {
	audittest.Run(t, audittest.Backend{
		New: func(t *testing.T) (audittest.Opener, *sql.DB) {
			path := tempPath(t)
			open := func(key []byte, log *slog.Logger) (audittest.Store, error) {
				return sqlite.Open(context.Background(), path, MustSealer(t, key), log)
			}
			return open, MustRaw(t, path)
		},
		Unguard: []string{`DROP TRIGGER audit_no_update`, `DROP TRIGGER audit_no_delete`, `DROP TRIGGER audit_keyed`},
		Restore: sqlite.AuditTriggers,
		Disarm: []string{
			`DROP TRIGGER audit_no_update`,
			`DROP TRIGGER audit_no_delete`,
			`DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete`,
			// Still there, never firing.
			`DROP TRIGGER audit_no_delete; CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit WHEN 0 BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END`,
			// Still there, raising nothing.
			`DROP TRIGGER audit_no_update; CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT 1; END`,
		},
		Legacy: []string{
			`DROP TRIGGER audit_keyed`, `DELETE FROM goose_db_version WHERE version_id = 10`,
			// The migrations after it (issue 16) go too, to be applied again after it.
			`DROP TABLE register_index`, `DROP TABLE register`, `DROP TABLE case_links`, `DROP TABLE customer_index`,
			`DELETE FROM goose_db_version WHERE version_id > 10`},
	})
}

// TestAuditKeyedTrigger: a row hashed the old way (a Mamori older than
// the database) is refused.
func TestAuditKeyedTrigger(t *testing.T) {
	path := tempPath(t)
	MustOpen(t, path)
	raw := MustRaw(t, path)
	_, err := raw.Exec(`INSERT INTO audit (id, at, actor, action, subject, detail, prev_hash, hash) VALUES (1, 0, 'a', 'b', 'c', '', '', 'f00d')`)
	if err == nil {
		t.Error("an unkeyed row was appended")
	}
}
