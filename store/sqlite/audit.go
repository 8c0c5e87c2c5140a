package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/pressly/goose/v3"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/audit"
	"github.com/mamori-oss/mamori/store/sqlrow"
)

// ErrAuditBroken is returned by VerifyAudit and CheckAudit when the audit
// trail does not hold: a row was altered, removed or inserted out of
// band, the trail is shorter than or differs from a checkpoint, or a case
// lacks its submission entry.
var ErrAuditBroken = audit.ErrBroken

// VerifyAudit walks the keyed audit chain from its first row and returns
// how many rows hold (see audit.Verify).
func (db *DB) VerifyAudit(ctx context.Context) (int, error) {
	r, err := audit.Verify(ctx, db.ro, audit.Key(db.sealer))
	return int(r.Entries), err
}

// CheckAudit verifies the audit chain, that it holds every checkpoint
// given, and that every case has its submission entry, all in one
// snapshot (see audit.Check).
func (db *DB) CheckAudit(ctx context.Context, checkpoints ...audit.Checkpoint) (audit.Result, error) {
	tx, err := db.ro.BeginTx(ctx, nil)
	if err != nil {
		return audit.Result{}, fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	return audit.Check(ctx, tx, audit.Key(db.sealer), checkpoints)
}

// AuditCheckpoint checks the audit trail (CheckAudit) and returns its
// head as a checkpoint, in the compact form audit.ParseCheckpoint reads.
// A trail that does not hold gets no checkpoint: the error says why.
func (db *DB) AuditCheckpoint(ctx context.Context) (string, error) {
	r, err := db.CheckAudit(ctx)
	if err != nil {
		return "", err
	}
	return r.Head.String(), nil
}

// AuditTrail returns the audit entries about subject, oldest first.
func (db *DB) AuditTrail(ctx context.Context, subject string) ([]mamori.AuditEntry, error) {
	return audit.Trail(ctx, db.ro, dialect.Q(sqlrow.AuditTrail), subject)
}

// AuditTriggers is the SQL that (re)creates the triggers keeping the
// audit trail append-only, as migration 1 made them; checkTriggers wants
// them exactly so. Run it with sqlite3 on a database Open refuses for
// want of them, once the trail has been checked.
const AuditTriggers = `DROP TRIGGER IF EXISTS audit_no_update;
DROP TRIGGER IF EXISTS audit_no_delete;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit is append-only');
END;
`

// appendOnly are the triggers checkTriggers wants, by name, with their
// SQL with whitespace collapsed: one with a WHEN, or that raises nothing,
// is as good as none.
var appendOnly = map[string]string{
	"audit_no_update": "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END",
	"audit_no_delete": "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END",
}

// checkTriggers fails, and logs, when a trigger that keeps the audit
// trail append-only is missing or changed: someone with write access to
// the file removed it, maybe to cut the trail, and Mamori does not write
// on such a trail.
func (db *DB) checkTriggers(ctx context.Context) error {
	rows, err := db.rw.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'`)
	if err != nil {
		return fmt.Errorf("sqlite: audit triggers: %w", err)
	}
	defer rows.Close()
	found := map[string]bool{}
	for rows.Next() {
		var name, sql string
		if err := rows.Scan(&name, &sql); err != nil {
			return fmt.Errorf("sqlite: audit triggers: %w", err)
		}
		found[name] = strings.Join(strings.Fields(sql), " ") == appendOnly[name]
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: audit triggers: %w", err)
	}
	var bad []string
	for _, name := range []string{"audit_no_update", "audit_no_delete"} {
		if !found[name] {
			bad = append(bad, name)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	db.log.Error("sqlite: the audit trail's append-only triggers are missing or changed: not starting", "path", db.path, "triggers", bad)
	return fmt.Errorf("sqlite: %s: the audit trail's append-only triggers are missing or changed (%s): someone with write access to the database file removed them, and the trail may have been cut. Mamori does not start on it. Check the trail on a copy (restore the triggers there with `mamori audit triggers | sqlite3 COPY`, then MAMORI_DB=COPY mamori audit verify -checkpoint YOUR-LATEST-CHECKPOINT), then restore them here the same way",
		db.path, strings.Join(bad, ", "))
}

// keyMigration is the migration since which audit rows are keyed.
const keyMigration = 10

// keyChain keys the chain in the Open that applies keyMigration (see
// sqlrow.KeyChain).
func (db *DB) keyChain(ctx context.Context, migrated []*goose.MigrationResult) error {
	applied := false
	for _, r := range migrated {
		applied = applied || r.Source.Version == keyMigration
	}
	return sqlrow.KeyChain(ctx, db.rw, db.sealer, dialect, applied, db.log, "sqlite", "path", db.path)
}
