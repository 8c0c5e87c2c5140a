package sqlrow

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/mamori-oss/mamori/store/audit"
	"github.com/mamori-oss/mamori/store/seal"
)

// KeyChain appends the audit.keyed entry after a trail written before the
// chain was keyed, in the Open that applied the keying migration (version
// keyed is among those migrated): from there on the trail is keyed. At
// any other time a newest row that is not keyed was written behind
// Mamori's back, and keying after it would hide that: it is left for
// verify to find, and logged. backend names the store in the log
// ("sqlite", "postgres"); attrs say which one.
//
// Replicas starting at once migrate one after another: only one applies
// the migration, and the dialect's AuditLock keeps the check and the
// entry together.
func KeyChain(ctx context.Context, db *sql.DB, sealer *seal.Sealer, d *Dialect, migrated []*goose.MigrationResult, keyed int64, log *slog.Logger, backend string, attrs ...any) error {
	last, err := audit.Unkeyed(ctx, db)
	if err != nil || last == 0 {
		return err
	}
	if !slices.ContainsFunc(migrated, func(r *goose.MigrationResult) bool { return r.Source.Version == keyed }) {
		log.Error(backend+": the audit trail's newest row is not keyed: it was written without the key; run mamori audit verify",
			append(attrs, "row", last)...)
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: key the audit chain: %w", backend, err)
	}
	defer tx.Rollback()
	if d.AuditLock != "" {
		if _, err := tx.ExecContext(ctx, d.AuditLock); err != nil {
			return fmt.Errorf("%s: key the audit chain: %w", backend, err)
		}
	}
	if last, err = audit.Unkeyed(ctx, tx); err != nil || last == 0 {
		return err
	}
	// Open has no clock: this entry records when it ran.
	t := &Tx{Ctx: ctx, Q: tx, Sealer: sealer, Dialect: d, Write: true}
	if err := t.Audit(audit.KeyedEntry(last, time.Now())); err != nil {
		return fmt.Errorf("%s: key the audit chain: %w", backend, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: key the audit chain: %w", backend, err)
	}
	log.Info(backend+": the audit chain is keyed from now on", append(attrs, "unkeyed_rows", last)...)
	return nil
}

// BadTriggers returns the audit trail's append-only triggers of want, in
// want's order, that are missing from what query reads through q or are
// not as they should be: good scans one of its rows and returns the
// trigger's name if it is as it should be, else "". Backend names the
// store in errors.
func BadTriggers(ctx context.Context, q Querier, backend, query string, want []string, good func(Scanner) (string, error)) ([]string, error) {
	ok, err := All(&Tx{Ctx: ctx, Q: q, Dialect: &Dialect{}}, query, nil, good)
	if err != nil {
		return nil, fmt.Errorf("%s: audit triggers: %w", backend, err)
	}
	return slices.DeleteFunc(slices.Clone(want), func(name string) bool { return slices.Contains(ok, name) }), nil
}
