package postgres

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
// audit trail append-only, and the function they call, as migration 1
// made them. Run it with psql in the schema of a database Open refuses
// for want of them, once the trail has been checked.
const AuditTriggers = `CREATE OR REPLACE FUNCTION mamori_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING MESSAGE = TG_ARGV[0], ERRCODE = 'restrict_violation';
END
$$;
DROP TRIGGER IF EXISTS audit_no_update ON audit;
DROP TRIGGER IF EXISTS audit_no_delete ON audit;
DROP TRIGGER IF EXISTS audit_no_truncate ON audit;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
	FOR EACH ROW EXECUTE FUNCTION mamori_refuse('audit is append-only');
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
	FOR EACH ROW EXECUTE FUNCTION mamori_refuse('audit is append-only');
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
	FOR EACH STATEMENT EXECUTE FUNCTION mamori_refuse('audit is append-only');
`

// appendOnly are the triggers checkTriggers wants, by name, with what
// their definition (pg_get_triggerdef, schema left out) must be.
var appendOnly = map[string]string{
	"audit_no_update":   "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit FOR EACH ROW EXECUTE FUNCTION mamori_refuse('audit is append-only')",
	"audit_no_delete":   "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit FOR EACH ROW EXECUTE FUNCTION mamori_refuse('audit is append-only')",
	"audit_no_truncate": "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION mamori_refuse('audit is append-only')",
}

// checkTriggers fails, and logs, when a trigger that keeps the audit
// trail append-only is missing, disabled or changed, or the function
// they call no longer raises: someone with the rights to do so removed
// them, maybe to cut the trail, and Mamori does not write on such a
// trail.
func (db *DB) checkTriggers(ctx context.Context) error {
	bad, err := sqlrow.BadTriggers(ctx, db.db, "postgres", `
		SELECT t.tgname, t.tgenabled::text, pg_get_triggerdef(t.oid), n.nspname, p.prosrc
		FROM pg_trigger t
		JOIN pg_class c ON c.oid = t.tgrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_proc p ON p.oid = t.tgfoid
		WHERE t.tgrelid = 'audit'::regclass AND NOT t.tgisinternal`, []string{"audit_no_update", "audit_no_delete", "audit_no_truncate"},
		func(row sqlrow.Scanner) (string, error) {
			var name, enabled, def, schema, src string
			if err := row.Scan(&name, &enabled, &def, &schema, &src); err != nil || !(enabled == "O" || enabled == "A") ||
				strings.ReplaceAll(def, schema+".", "") != appendOnly[name] || !strings.Contains(src, "RAISE EXCEPTION USING MESSAGE = TG_ARGV[0]") {
				return "", err
			}
			return name, nil
		})
	if err != nil || len(bad) == 0 {
		return err
	}
	db.log.Error("postgres: the audit trail's append-only triggers are missing, disabled or changed: not starting", "db", db.name, "triggers", bad)
	return fmt.Errorf("postgres: %s: the audit trail's append-only triggers are missing, disabled or changed (%s): someone with the rights to alter the table removed them, and the trail may have been cut. Mamori does not start on it. Check the trail on a copy (restore the triggers there with `mamori audit triggers | psql COPY-URL`, then mamori audit verify -checkpoint YOUR-LATEST-CHECKPOINT against it), then restore them here the same way",
		db.name, strings.Join(bad, ", "))
}

// keyMigration is the migration since which audit rows are keyed.
const keyMigration = 4

// keyChain keys the chain in the Open that applies keyMigration (see
// sqlrow.KeyChain).
func (db *DB) keyChain(ctx context.Context, migrated []*goose.MigrationResult) error {
	return sqlrow.KeyChain(ctx, db.db, db.sealer, dialect, migrated, keyMigration, db.log, "postgres", "db", db.name)
}
