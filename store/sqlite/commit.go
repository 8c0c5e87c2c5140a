package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Group commit. Every write — Update, and the Outbox and Jobs methods —
// goes to one committer goroutine, the only user of the write
// connection. It takes all the writes waiting at that moment, runs each
// in a savepoint of one BEGIN IMMEDIATE transaction, and commits them
// with one fsync (synchronous=FULL). A write whose function fails or
// panics is rolled back to its savepoint alone; the others commit. Each
// caller returns only once its own write is on disk, so a request is
// still acknowledged only after its step is durable, but a busy server
// pays one fsync per batch instead of one per request.

// maxBatch bounds the writes committed together, so one commit's latency
// stays bounded however long the queue.
const maxBatch = 256

var errClosed = errors.New("sqlite: database is closed")

// op is one write waiting for the committer.
type op struct {
	ctx   context.Context
	fn    func(*sql.Tx) error
	err   error
	panic any // what fn panicked with, re-raised in the caller
	done  chan struct{}
}

// commit runs fn in the next group transaction and waits until that
// transaction is committed or fn's part of it rolled back.
func (db *DB) commit(ctx context.Context, fn func(*sql.Tx) error) error {
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

// committer runs batches of writes until Close.
func (db *DB) committer() {
	defer close(db.stopped)
	batch := make([]*op, 0, maxBatch)
	for {
		select {
		case o := <-db.ops:
			batch = append(batch[:0], o)
		case <-db.quit:
			return
		}
	gather:
		for len(batch) < maxBatch {
			select {
			case o := <-db.ops:
				batch = append(batch, o)
			default:
				break gather
			}
		}
		db.runBatch(batch)
		for i := range batch {
			close(batch[i].done)
			batch[i] = nil
		}
		db.commits.Add(1)
		db.committed.Add(int64(len(batch)))
		if db.restartWAL.Swap(false) {
			if _, err := db.rw.Exec("PRAGMA wal_checkpoint(RESTART)"); err != nil {
				db.log.Warn("sqlite: restart the WAL", "err", err)
			}
		}
	}
}

// runBatch runs the batch in one transaction and sets each op's err.
func (db *DB) runBatch(batch []*op) {
	fail := func(err error) {
		for _, o := range batch {
			if o.err == nil && o.panic == nil {
				o.err = err
			}
		}
	}
	// The transaction outlives any one request: a caller that goes away
	// must not roll back the others' writes.
	sqlTx, err := db.rw.BeginTx(context.Background(), nil)
	if err != nil {
		fail(fmt.Errorf("sqlite: begin: %w", err))
		return
	}
	ran := 0
	for _, o := range batch {
		if err := o.ctx.Err(); err != nil {
			o.err = err
			continue
		}
		if _, err := sqlTx.Exec("SAVEPOINT w"); err != nil {
			sqlTx.Rollback()
			fail(fmt.Errorf("sqlite: savepoint: %w", err))
			return
		}
		o.err, o.panic = call(o.fn, sqlTx)
		undo := "RELEASE w"
		if o.err == nil && o.panic == nil {
			ran++
		} else {
			undo = "ROLLBACK TO w; RELEASE w"
		}
		if _, err := sqlTx.Exec(undo); err != nil {
			// SQLite rolled the whole transaction back (an I/O error, a
			// full disk): nothing in this batch is committed.
			sqlTx.Rollback()
			fail(fmt.Errorf("sqlite: savepoint: %w", err))
			return
		}
	}
	if ran == 0 {
		sqlTx.Rollback()
		return
	}
	if err := sqlTx.Commit(); err != nil {
		fail(fmt.Errorf("sqlite: commit: %w", err))
	}
}

// call runs fn, turning a panic into a value for its caller to re-raise.
func call(fn func(*sql.Tx) error, tx *sql.Tx) (err error, panicked any) {
	defer func() {
		if p := recover(); p != nil {
			panicked = p
		}
	}()
	return fn(tx), nil
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
