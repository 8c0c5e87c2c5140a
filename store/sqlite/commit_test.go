package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/sqlite"
)

// TestGroupCommit: concurrent updates are committed together, and one
// that fails or panics is rolled back alone while the others in its
// group are kept.
func TestGroupCommit(t *testing.T) {
	path := tempPath(t)
	db := MustOpen(t, path)
	const n = 200
	refused := errors.New("refused")
	var (
		wg      sync.WaitGroup
		release = make(chan struct{})
		mu      sync.Mutex
		results = map[int]error{}
		panics  = map[int]any{}
	)
	// One slow update holds the committer so that the rest queue up and
	// go in the next groups.
	wg.Go(func() {
		db.Update(context.Background(), func(tx mamori.Tx) error {
			<-release
			return nil
		})
	})
	time.Sleep(20 * time.Millisecond)
	for i := range n {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					mu.Lock()
					panics[i] = p
					mu.Unlock()
				}
			}()
			err := db.Update(context.Background(), func(tx mamori.Tx) error {
				u := mamori.User{Platform: mamori.PlatformSlack, ID: fmt.Sprintf("U%03d", i), Lang: mamori.JA}
				if err := tx.PutConversation(mamori.Conversation{User: u, Step: "when"}); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return refused // after a write: it must be undone
				case 7:
					panic(fmt.Sprint("boom ", i))
				}
				return nil
			})
			mu.Lock()
			results[i] = err
			mu.Unlock()
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()

	for i := range n {
		u := mamori.User{Platform: mamori.PlatformSlack, ID: fmt.Sprintf("U%03d", i)}
		var got error
		if err := db.View(context.Background(), func(tx mamori.Tx) error {
			_, got = tx.Conversation(u.Key())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		switch i % 10 {
		case 3:
			if !errors.Is(results[i], refused) {
				t.Errorf("update %d returned %v, want its own error", i, results[i])
			}
			if !errors.Is(got, mamori.ErrNotFound) {
				t.Errorf("update %d failed but its write was kept (%v)", i, got)
			}
		case 7:
			if panics[i] != fmt.Sprint("boom ", i) {
				t.Errorf("update %d: caller recovered %v, want its own panic", i, panics[i])
			}
			if !errors.Is(got, mamori.ErrNotFound) {
				t.Errorf("update %d panicked but its write was kept (%v)", i, got)
			}
		default:
			if results[i] != nil || panics[i] != nil {
				t.Errorf("update %d: %v %v", i, results[i], panics[i])
			}
			if got != nil {
				t.Errorf("update %d returned nil but its write is missing: %v", i, got)
			}
		}
	}
	writes, commits := db.CommitStats()
	t.Logf("%d writes in %d commits", writes, commits)
	if commits > writes/4 {
		t.Errorf("%d writes took %d commits: concurrent writes were not committed together", writes, commits)
	}

	// What was acknowledged is on disk: a second handle sees it.
	other := MustOpen(t, path)
	if err := other.View(context.Background(), func(tx mamori.Tx) error {
		_, err := tx.Conversation(mamori.User{Platform: mamori.PlatformSlack, ID: "U000"}.Key())
		return err
	}); err != nil {
		t.Errorf("another handle: %v", err)
	}
}

// TestGroupCommitCancelled: an update whose context ended before its turn
// is not run; one that ends while it waits for its group's commit still
// learns the outcome.
func TestGroupCommitCancelled(t *testing.T) {
	db := MustOpen(t, tempPath(t))
	release := hold(db)
	ctx, cancel := context.WithCancel(context.Background())
	ran := false
	done := make(chan error, 1)
	go func() {
		done <- db.Update(ctx, func(tx mamori.Tx) error { ran = true; return nil })
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	release()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled update returned %v, want context.Canceled", err)
	}
	if ran {
		t.Error("a cancelled update was run")
	}
	if err := db.Update(context.Background(), func(tx mamori.Tx) error { return nil }); err != nil {
		t.Errorf("update after a cancelled one: %v", err)
	}
}

// TestGroupCommitRunsAgain: when one write of a batch fails, the others
// are run again from the start, each in a savepoint, and what they did
// is kept once — the first run's changes are all rolled back.
func TestGroupCommitRunsAgain(t *testing.T) {
	db := MustOpen(t, tempPath(t))
	counter := mamori.User{Platform: mamori.PlatformSlack, ID: "UCOUNT", Lang: mamori.JA}
	release := hold(db)
	const n = 20
	const failing = n - 1 // queued last: every other write runs before it fails
	refused := errors.New("refused")
	var wg sync.WaitGroup
	runs := make([]atomic.Int32, n)
	errs := make([]error, n)
	for i := range n {
		if i == failing {
			time.Sleep(20 * time.Millisecond) // the others wait for the committer
		}
		wg.Go(func() {
			errs[i] = db.Update(context.Background(), func(tx mamori.Tx) error {
				runs[i].Add(1)
				c, err := tx.Conversation(counter.Key())
				if errors.Is(err, mamori.ErrNotFound) {
					c = mamori.Conversation{User: counter, Step: "0"}
				} else if err != nil {
					return err
				}
				v, _ := strconv.Atoi(c.Step)
				c.Step = strconv.Itoa(v + 1)
				if err := tx.PutConversation(c); err != nil {
					return err
				}
				if i == failing {
					return refused // after its write: it must be undone
				}
				return nil
			})
		})
	}
	time.Sleep(20 * time.Millisecond)
	release()
	wg.Wait()

	if !errors.Is(errs[failing], refused) {
		t.Errorf("the failing update returned %v, want its own error", errs[failing])
	}
	for i := range failing {
		if errs[i] != nil {
			t.Errorf("update %d: %v", i, errs[i])
		}
		if r := runs[i].Load(); r != 2 {
			t.Errorf("update %d ran %d times, want twice: once in the batch rolled back, once in savepoints", i, r)
		}
	}
	var got mamori.Conversation
	if err := db.View(context.Background(), func(tx mamori.Tx) (err error) {
		got, err = tx.Conversation(counter.Key())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got.Step != strconv.Itoa(n-1) {
		t.Errorf("counter = %s after %d updates of which one failed, want %d", got.Step, n, n-1)
	}
}

// hold keeps the committer busy with a write that waits for release, so
// that the writes sent meanwhile queue up for one batch.
func hold(db *sqlite.DB) (release func()) {
	r, held := make(chan struct{}), make(chan struct{})
	go db.Update(context.Background(), func(tx mamori.Tx) error {
		close(held)
		<-r
		return nil
	})
	<-held
	return func() { close(r) }
}

// TestClosedStore: an update on a closed store fails at once.
func TestClosedStore(t *testing.T) {
	db := MustOpen(t, tempPath(t))
	db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.Update(ctx, func(tx mamori.Tx) error { return nil }); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("update on a closed store returned %v, want it refused at once", err)
	}
}

// BenchmarkUpdate measures durable updates (synchronous=FULL) from many
// goroutines: `go test -run '^$' -bench Update -cpu 1,2 ./store/sqlite`.
func BenchmarkUpdate(b *testing.B) {
	db := MustOpen(b, tempPath(b))
	b.SetParallelism(64)
	var i int64
	var mu sync.Mutex
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			i++
			k := i
			mu.Unlock()
			err := db.Update(context.Background(), func(tx mamori.Tx) error {
				if _, err := tx.Seen(fmt.Sprint("Ev", k), t0); err != nil {
					return err
				}
				u := mamori.User{Platform: mamori.PlatformSlack, ID: fmt.Sprintf("U%d", k%1000)}
				return tx.PutConversation(mamori.Conversation{User: u, Step: "when"})
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	w, c := db.CommitStats()
	b.ReportMetric(float64(w)/float64(max(c, 1)), "writes/commit")
}
