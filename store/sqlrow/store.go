package sqlrow

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/audit"
	"github.com/mamori-oss/mamori/store/seal"
)

// Store is the methods of a SQL store that are the same on every backend,
// each running the statements of Tx or package audit the store's way.
// Read is the pool for reads, each audit check in one read transaction
// begun with Snapshot; Write runs fn in a write transaction on the
// store's commit path, handing it the transaction and the context to run
// it with. Where Lone is set (a pool that writes), RetryOutbox's one
// statement runs on Read, committed alone. Backend names the store in
// errors ("sqlite", "postgres").
type Store struct {
	Read     *sql.DB
	Snapshot *sql.TxOptions
	Write    func(ctx context.Context, fn func(context.Context, Querier) error) error
	Lone     bool
	Sealer   *seal.Sealer
	Dialect  *Dialect
	Log      *slog.Logger
	Backend  string
}

// tx is a Tx on q, writing (its reads lock) or not.
func (s *Store) tx(ctx context.Context, q Querier, write bool) *Tx {
	return &Tx{Ctx: ctx, Q: q, Sealer: s.Sealer, Dialect: s.Dialect, Write: write}
}

// write runs fn in a write transaction; its error says what failed.
func (s *Store) write(ctx context.Context, what string, fn func(*Tx) error) error {
	if err := s.Write(ctx, func(ctx context.Context, q Querier) error { return fn(s.tx(ctx, q, true)) }); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func (s *Store) SentOutbox(ctx context.Context, id int64, p mamori.Posted, now time.Time) error {
	return s.write(ctx, "sent outbox", func(t *Tx) error { return t.SentOutbox(id, p, now) })
}

func (s *Store) RetryOutbox(ctx context.Context, id int64, next time.Time, errText string, giveUp bool) error {
	retry := func(t *Tx) error { return t.RetryOutbox(id, next, errText, giveUp) }
	if !s.Lone {
		return s.write(ctx, "retry outbox", retry)
	}
	if err := retry(s.tx(ctx, s.Read, false)); err != nil {
		return fmt.Errorf("retry outbox: %w", err)
	}
	return nil
}

func (s *Store) PostedRef(ctx context.Context, ref string) (mamori.Posted, error) {
	return s.tx(ctx, s.Read, false).PostedRef(ref)
}

func (s *Store) ListOutbox(ctx context.Context, status string, limit int) ([]mamori.OutboxItem, error) {
	items, err := s.tx(ctx, s.Read, false).ListOutbox(s.Log, status, limit)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return items, nil
}

func (s *Store) ClaimJobs(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]mamori.Job, error) {
	if limit <= 0 {
		return nil, nil
	}
	var jobs []mamori.Job
	err := s.write(ctx, "claim jobs", func(t *Tx) (err error) {
		jobs, err = t.ClaimJobs(now, lease, limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	return jobs, nil
}

func (s *Store) DoneJob(ctx context.Context, id int64, now time.Time) error {
	return s.write(ctx, "done job", func(t *Tx) error { return t.DoneJob(id, now) })
}

// VerifyAudit walks the keyed audit chain from its first row and returns
// how many rows hold (see audit.Verify).
func (s *Store) VerifyAudit(ctx context.Context) (int, error) {
	r, err := audit.Verify(ctx, s.Read, audit.Key(s.Sealer))
	return int(r.Entries), err
}

// CheckAudit verifies the audit chain, that it holds every checkpoint
// given, and that every case has its submission entry, all in one
// snapshot (see audit.Check).
func (s *Store) CheckAudit(ctx context.Context, checkpoints ...audit.Checkpoint) (audit.Result, error) {
	tx, err := s.Read.BeginTx(ctx, s.Snapshot)
	if err != nil {
		return audit.Result{}, fmt.Errorf("%s: begin: %w", s.Backend, err)
	}
	defer tx.Rollback()
	return audit.Check(ctx, tx, audit.Key(s.Sealer), checkpoints)
}

// AuditCheckpoint checks the audit trail (CheckAudit) and returns its
// head as a checkpoint, in the compact form audit.ParseCheckpoint reads.
// A trail that does not hold gets no checkpoint: the error says why.
func (s *Store) AuditCheckpoint(ctx context.Context) (string, error) {
	r, err := s.CheckAudit(ctx)
	if err != nil {
		return "", err
	}
	return r.Head.String(), nil
}

// AuditTrail returns the audit entries about subject, oldest first.
func (s *Store) AuditTrail(ctx context.Context, subject string) ([]mamori.AuditEntry, error) {
	return audit.Trail(ctx, s.Read, s.Dialect.Q(`SELECT at, actor, action, subject, detail FROM audit WHERE subject = ? ORDER BY id`), subject)
}
