package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mamori-oss/mamori/store/sqlrow"
)

// Group commit. Every write — Update, and the Outbox and Jobs methods —
// goes to one committer goroutine, the only user of the write
// connection. It takes all the writes waiting at that moment, runs them
// in one BEGIN IMMEDIATE transaction, and commits them with one fsync
// (synchronous=FULL). A write whose function fails or panics is rolled
// back alone and the others commit: the batch is then run again, each
// write in a savepoint, so a write's function may run twice. Each
// caller returns only once its own write is on disk, so a request is
// still acknowledged only after its step is durable, but a busy server
// pays one fsync per batch instead of one per request.

// maxBatch bounds the writes committed together, so one commit's latency
// stays bounded however long the queue.
const maxBatch = 256

// A batch of fewer than gatherBelow writes, while the committer is busy,
// waits gatherWait for more before it runs (see committer).
const (
	gatherBelow = 16
	gatherWait  = 150 * time.Microsecond
)

var errClosed = errors.New("sqlite: database is closed")

// op is one write waiting for the committer.
type op struct {
	ctx   context.Context
	fn    func(querier) error
	err   error
	panic any // what fn panicked with, re-raised in the caller
	done  chan struct{}
}

// commit runs fn in the next group transaction and waits until that
// transaction is committed or fn's part of it rolled back.
func (db *DB) commit(ctx context.Context, fn func(querier) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op{ctx: ctx, fn: fn, done: make(chan struct{})}
	select {
	case db.ops <- o:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.quit:
		return errClosed
	}
	// Once handed over, wait for the outcome even if ctx ends: fn may
	// already be committed, and the caller must not take it for lost.
	<-o.done
	if o.panic != nil {
		panic(o.panic)
	}
	return o.err
}

// querier runs statements: the committer's connection, inside its group
// transaction, or a read transaction.
type querier = sqlrow.Querier

// committer runs batches of writes until Close.
func (db *DB) committer() {
	defer close(db.stopped)
	batch := make([]*op, 0, maxBatch)
	last := 0 // the last batch's size, while writes keep coming
	for {
		select {
		case o := <-db.ops:
			batch = append(batch[:0], o)
		default:
			last = 0 // quiet: the next write is not kept waiting
			select {
			case o := <-db.ops:
				batch = append(batch[:0], o)
			case <-db.quit:
				return
			}
		}
		batch = db.gather(batch)
		if last > 1 && len(batch) < gatherBelow {
			// Busy (the last batch had company) but few writes came: a
			// moment's wait lets the requests on their way be read and
			// join this commit, instead of the committer's statements
			// and fsync taking turns with them. Measured on one core at
			// 16 clients: 40 % fewer thread switches and 11–16 % less
			// CPU a request. A write alone is never kept waiting.
			time.Sleep(gatherWait)
			batch = db.gather(batch)
		}
		last = len(batch)
		db.runBatch(batch)
		for i := range batch {
			close(batch[i].done)
			batch[i] = nil
		}
		db.commits.Add(1)
		db.committed.Add(int64(len(batch)))
		if db.restartWAL.Swap(false) {
			if _, err := db.conn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(RESTART)"); err != nil {
				db.log.Warn("sqlite: restart the WAL", "err", err)
			}
		}
	}
}

// gather adds the writes waiting now to batch, up to maxBatch.
func (db *DB) gather(batch []*op) []*op {
	for len(batch) < maxBatch {
		select {
		case o := <-db.ops:
			batch = append(batch, o)
		default:
			return batch
		}
	}
	return batch
}

// runBatch runs the batch in one transaction and sets each op's err.
//
// The transaction is begun and ended with statements on the committer's
// own connection rather than with database/sql's Tx: a Tx's context can
// end, so database/sql watches every query made in one with a goroutine of
// its own, a goroutine and a thread switch per statement. The statements
// here run under a context that never ends (the transaction outlives any
// one request: a caller that goes away must not roll back the others'
// writes), and database/sql then adds nothing.
func (db *DB) runBatch(batch []*op) {
	if db.runWhole(batch) {
		return
	}
	for _, o := range batch {
		o.err, o.panic = nil, nil
	}
	db.runSavepoints(batch)
}

// runWhole runs the batch as one plain transaction, the usual case where
// every write succeeds: no savepoint per write, which would cost two
// statements and a copy of every page the write changes. If a write
// fails or panics, it rolls the whole transaction back and returns false:
// the batch is then run again with savepoints (runSavepoints), each write
// from the start. A batch of one needs no second run.
func (db *DB) runWhole(batch []*op) bool {
	exec := db.execPrepared
	if err := exec("BEGIN IMMEDIATE"); err != nil {
		for _, o := range batch {
			o.err = fmt.Errorf("sqlite: begin: %w", err)
		}
		return true
	}
	ran := 0
	for _, o := range batch {
		if err := o.ctx.Err(); err != nil {
			o.err = err
			continue
		}
		o.err, o.panic = call(o.fn, (*prepared)(db))
		if o.err != nil || o.panic != nil {
			exec("ROLLBACK")
			return len(batch) == 1
		}
		ran++
	}
	if ran == 0 {
		exec("ROLLBACK")
		return true
	}
	if err := exec("COMMIT"); err != nil {
		// SQLite may have rolled back already (an I/O error, a full disk);
		// either way nothing in it is committed.
		exec("ROLLBACK")
		for _, o := range batch {
			if o.err == nil {
				o.err = fmt.Errorf("sqlite: commit: %w", err)
			}
		}
	}
	return true
}

// runSavepoints runs each write of the batch in a savepoint of one
// transaction, so that a write that fails is rolled back alone.
func (db *DB) runSavepoints(batch []*op) {
	fail := func(err error) {
		for _, o := range batch {
			if o.err == nil && o.panic == nil {
				o.err = err
			}
		}
	}
	exec := db.execPrepared
	abort := func(what string, err error) {
		// SQLite may have rolled the whole transaction back already (an
		// I/O error, a full disk); either way nothing in it is committed.
		exec("ROLLBACK")
		fail(fmt.Errorf("sqlite: %s: %w", what, err))
	}
	if err := exec("BEGIN IMMEDIATE"); err != nil {
		fail(fmt.Errorf("sqlite: begin: %w", err))
		return
	}
	ran := 0
	for _, o := range batch {
		if err := o.ctx.Err(); err != nil {
			o.err = err
			continue
		}
		if err := exec("SAVEPOINT w"); err != nil {
			abort("savepoint", err)
			return
		}
		o.err, o.panic = call(o.fn, (*prepared)(db))
		var err error
		if o.err == nil && o.panic == nil {
			ran++
		} else {
			err = exec("ROLLBACK TO w")
		}
		if err == nil {
			err = exec("RELEASE w")
		}
		if err != nil {
			abort("savepoint", err)
			return
		}
	}
	if ran == 0 {
		exec("ROLLBACK")
		return
	}
	if err := exec("COMMIT"); err != nil {
		abort("commit", err)
	}
}

// execPrepared runs one of the committer's own statements (BEGIN,
// SAVEPOINT, COMMIT…). Only the committer calls it.
func (db *DB) execPrepared(stmt string) error {
	_, err := (*prepared)(db).ExecContext(context.Background(), stmt)
	return err
}

// maxStmts bounds the committer's prepared statements: the store's
// statements are a fixed set, but one built with an IN-list of many
// placeholders is run as it is rather than kept.
const maxStmts = 512

// prepared is the committer's connection as the writes see it: each
// statement is prepared once on it and kept, rather than parsed again
// for every write (SQLite's parse is a large part of a small write).
// Only the committer uses it.
type prepared DB

func (p *prepared) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s := p.stmts[query]; s != nil {
		return s, nil
	}
	if len(p.stmts) >= maxStmts {
		return nil, nil
	}
	s, err := p.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.stmts[query] = s
	return s, nil
}

func (p *prepared) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := p.stmt(ctx, query)
	if err != nil || s == nil {
		if err != nil {
			return nil, err
		}
		return p.conn.ExecContext(ctx, query, args...)
	}
	return s.ExecContext(ctx, args...)
}

func (p *prepared) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := p.stmt(ctx, query)
	if err != nil || s == nil {
		if err != nil {
			return nil, err
		}
		return p.conn.QueryContext(ctx, query, args...)
	}
	return s.QueryContext(ctx, args...)
}

func (p *prepared) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s, err := p.stmt(ctx, query); err == nil && s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return p.conn.QueryRowContext(ctx, query, args...)
}

// call runs fn, turning a panic into a value for its caller to re-raise.
func call(fn func(querier) error, q querier) (err error, panicked any) {
	defer func() {
		if p := recover(); p != nil {
			panicked = p
		}
	}()
	return fn(q), nil
}

// CommitStats reports the writes asked of the committer and the
// transactions it ran for them, for /metrics: their ratio is the mean
// group size.
func (db *DB) CommitStats() (writes, commits int64) {
	return db.committed.Load(), db.commits.Load()
}

// closeCommitter stops the committer after its current batch; writes
// not yet taken fail with errClosed.
func (db *DB) closeCommitter() {
	db.closeOnce.Do(func() { close(db.quit) })
	select {
	case <-db.stopped:
	case <-time.After(time.Minute):
		db.log.Error("sqlite: committer did not stop within a minute")
	}
}

// Checkpoints. A WAL checkpoint copies committed pages into the database
// file and fsyncs it: several milliseconds with a busy WAL. SQLite runs it
// inside the commit that crosses wal_autocheckpoint, which would stall
// every write waiting behind that commit. Instead the write connection
// never checkpoints, and a checkpointer on its own connection runs PASSIVE
// checkpoints beside the writes (they wait for no one and block no one),
// at most every checkpointEvery while there are writes.
const checkpointEvery = 200 * time.Millisecond

// walFramesLimit is the WAL length (in pages) past which the committer
// starts the WAL over. Under steady writes the checkpointer's PASSIVE
// checkpoints never find the WAL idle, and only the writer can restart
// it: between two groups, with a RESTART checkpoint that has little left
// to copy.
const walFramesLimit = 4096

func (db *DB) checkpointer(ck *sql.DB) {
	defer close(db.ckStopped)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-db.quit:
			// A last full checkpoint leaves the database file whole.
			if _, err := ck.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
				db.log.Warn("sqlite: final checkpoint", "err", err)
			}
			return
		case <-t.C:
		}
		n := db.commits.Load()
		if n == last {
			continue // no writes since the last one
		}
		last = n
		var busy, frames, done int
		if err := ck.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done); err != nil {
			db.log.Warn("sqlite: checkpoint", "err", err)
			continue
		}
		if frames > walFramesLimit {
			db.restartWAL.Store(true)
		}
	}
}
