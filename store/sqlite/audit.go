package sqlite

import (
	"context"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/audit"
	"github.com/mamori-oss/mamori/store/sqlrow"
)

// ErrAuditBroken is returned by VerifyAudit when the audit chain does not
// hold: a row was altered, removed or inserted out of band.
var ErrAuditBroken = audit.ErrBroken

// VerifyAudit walks the audit chain from its first row and returns how
// many rows hold (see audit.Verify).
func (db *DB) VerifyAudit(ctx context.Context) (int, error) { return audit.Verify(ctx, db.ro) }

// AuditTrail returns the audit entries about subject, oldest first.
func (db *DB) AuditTrail(ctx context.Context, subject string) ([]mamori.AuditEntry, error) {
	return audit.Trail(ctx, db.ro, dialect.Q(sqlrow.AuditTrail), subject)
}
