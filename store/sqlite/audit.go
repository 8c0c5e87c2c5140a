package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/pressly/goose/v3"

	"github.com/mamori-oss/mamori/store/audit"
	"github.com/mamori-oss/mamori/store/sqlrow"
)

// ErrAuditBroken is returned by VerifyAudit and CheckAudit when the audit
// trail does not hold: a row was altered, removed or inserted out of
// band, the trail is shorter than or differs from a checkpoint, or a case
// lacks its submission entry.
var ErrAuditBroken = audit.ErrBroken

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
	bad, err := sqlrow.BadTriggers(ctx, db.rw, "sqlite", `SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'`,
		[]string{"audit_no_update", "audit_no_delete"}, func(row sqlrow.Scanner) (string, error) {
			var name, sql string
			if err := row.Scan(&name, &sql); err != nil || strings.Join(strings.Fields(sql), " ") != appendOnly[name] {
				return "", err
			}
			return name, nil
		})
	if err != nil || len(bad) == 0 {
		return err
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
	return sqlrow.KeyChain(ctx, db.rw, db.sealer, dialect, migrated, keyMigration, db.log, "sqlite", "path", db.path)
}
