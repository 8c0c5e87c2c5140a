package postgres_test

import (
	"context"
	"database/sql"
	"log/slog"
	"testing"

	"github.com/mamori-oss/mamori/store/audit/audittest"
	"github.com/mamori-oss/mamori/store/postgres"
)

// TestAuditTampering runs the tampering suite on a PostgreSQL schema,
// tampered with by a role that may alter the table, as with psql.
func TestAuditTampering(t *testing.T) {
	MustSchema(t) // skips here without a server
	audittest.Run(t, audittest.Backend{
		New: func(t *testing.T) (audittest.Opener, *sql.DB) {
			u, raw := MustSchema(t)
			open := func(key []byte, log *slog.Logger) (audittest.Store, error) {
				return postgres.Open(context.Background(), u, MustSealer(t, key), log)
			}
			return open, raw
		},
		Dollar:  true,
		Unguard: []string{`ALTER TABLE audit DISABLE TRIGGER USER`, `ALTER TABLE audit DROP CONSTRAINT audit_keyed`},
		Restore: postgres.AuditTriggers,
		Disarm: []string{
			`DROP TRIGGER audit_no_update ON audit`,
			`DROP TRIGGER audit_no_delete ON audit`,
			`DROP TRIGGER audit_no_truncate ON audit`,
			`ALTER TABLE audit DISABLE TRIGGER audit_no_delete`,
			`ALTER TABLE audit DISABLE TRIGGER USER`,
			// Still there, letting everything through.
			`CREATE OR REPLACE FUNCTION mamori_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$`,
			`DROP TRIGGER audit_no_delete ON audit; CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit FOR EACH ROW WHEN (false) EXECUTE FUNCTION mamori_refuse('audit is append-only')`,
		},
		Legacy: []string{
			`ALTER TABLE audit DROP CONSTRAINT audit_keyed`, `DELETE FROM goose_db_version WHERE version_id = 4`,
			// The migrations after it (issue 16) go too, to be applied again after it.
			`DROP TABLE register_index`, `DROP TABLE register`, `DROP TABLE case_links`, `DROP TABLE customer_index`,
			`DELETE FROM goose_db_version WHERE version_id > 4`},
	})
}

// TestAuditKeyedConstraint: a row hashed the old way (a replica of a
// Mamori older than the database) is refused.
func TestAuditKeyedConstraint(t *testing.T) {
	u, raw := MustSchema(t)
	MustOpen(t, u)
	_, err := raw.Exec(`INSERT INTO audit (id, at, actor, action, subject, detail, prev_hash, hash) VALUES (1, 0, 'a', 'b', 'c', '', '', 'f00d')`)
	if err == nil {
		t.Error("an unkeyed row was appended")
	}
}
