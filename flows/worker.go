package flows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mamori-oss/mamori"
)

// Sender delivers one outbox item on one platform. prev is where an
// earlier message with the same Ref landed (update it in place), or nil.
type Sender interface {
	Send(ctx context.Context, item mamori.OutboxItem, prev *mamori.Posted) (mamori.Posted, error)
}

// ConcurrentSender is a Sender that may be called for several targets at
// once: up to Concurrency() Sends, each to a different target, and besides
// those the urgent ones (mamori.UrgentKey), which wait for no slot. The
// worker calls any other Sender one item at a time, urgent ones first.
type ConcurrentSender interface {
	Sender
	Concurrency() int
}

// JobRunner does one due job.
type JobRunner interface {
	RunJob(ctx context.Context, j mamori.Job) error
}

// SentHook is a JobRunner that also wants to know when an urgent message
// reached its platform (the Service: the time from an SOS to its alert).
// The worker calls it after marking such a message sent; its failure is
// logged, never a reason to send again.
type SentHook interface {
	Sent(ctx context.Context, item mamori.OutboxItem, at time.Time) error
}

// Timers is what the worker waits on: the poll between passes and the
// renewal of the leases it holds. It is tailscale's tstime.Clock: the wall
// clock in production (RealTimers), a fake one in tests
// (flows/flowstest.Clock), so a test of minutes of retries and pacing runs
// in milliseconds.
type Timers interface {
	Now() time.Time
	NewTimer(d time.Duration) (TimerController, <-chan time.Time)
	NewTicker(d time.Duration) (TickerController, <-chan time.Time)
	AfterFunc(d time.Duration, f func()) TimerController
}

// TimerController is a *time.Timer's controls.
type TimerController interface {
	Reset(d time.Duration) bool
	Stop() bool
}

// TickerController is a *time.Ticker's controls.
type TickerController interface {
	Reset(d time.Duration)
	Stop()
}

// RealTimers are the wall clock's timers.
type RealTimers struct{}

var _ Timers = RealTimers{}

// Now returns time.Now().
func (RealTimers) Now() time.Time { return time.Now() }

// NewTimer returns a time.Timer and its channel.
func (RealTimers) NewTimer(d time.Duration) (TimerController, <-chan time.Time) {
	t := time.NewTimer(d)
	return t, t.C
}

// NewTicker returns a time.Ticker and its channel.
func (RealTimers) NewTicker(d time.Duration) (TickerController, <-chan time.Time) {
	t := time.NewTicker(d)
	return t, t.C
}

// AfterFunc is time.AfterFunc.
func (RealTimers) AfterFunc(d time.Duration, f func()) TimerController { return time.AfterFunc(d, f) }

// Worker delivers the outbox and runs due jobs. Several workers (on
// several replicas) may run at once: rows are claimed with a lease.
// NewWorker sets the defaults; a Worker made as a literal gets the same
// ones when a field is left nil.
//
// Urgent messages (mamori.UrgentKey: an SOS alert) do not wait behind a
// campaign: the store's claim takes them first; they are sent outside the
// ConcurrentSender's slots, which ordinary sends fill; and while a batch
// is out (seconds, on a rate-limited platform) the worker looks for new
// ones at every Kick and Poll and sends them beside it.
type Worker struct {
	Store   mamori.Store
	Senders map[string]Sender // by platform
	Jobs    JobRunner
	// Clock is the time rows are due by (a demo clock may jump ahead);
	// default time.Now.
	Clock mamori.Clock
	// Timers are what the worker waits on, and the real time its leases
	// are held in (default RealTimers): a Clock that jumps ahead must not
	// cut a send short.
	Timers Timers
	Log    *slog.Logger
	// Lease is how long a claimed job is ours (default 1 minute); a send
	// is cut off at a third of it.
	Lease time.Duration
	// Hold is how long a claimed message is ours (default 3 s) unless the
	// worker renews it, which it does every Hold/4 while it holds it. A
	// replica that dies leaves its messages to others within Hold; one
	// that cannot renew stops its sends when a third of Hold is left.
	Hold time.Duration
	// GiveUpAfter is how long a message is retried before it is marked
	// failed (default 24 hours). GaveUp is then called, if set.
	GiveUpAfter time.Duration
	GaveUp      func(ctx context.Context, item mamori.OutboxItem, err error)
	// Poll is how often the worker looks for due rows (default 1 s).
	// A message handed back to be sent sooner (a channel's pace, a
	// Retry-After) wakes the worker when it is due rather than at the
	// next poll.
	Poll time.Duration

	kick     chan struct{}
	gaveUpMu sync.Mutex // GaveUp is called by one send at a time

	// Sends in flight at once, across a batch and the urgent messages
	// sent beside it: sems holds a ConcurrentSender's slots by platform,
	// gates the sends that must not overlap (one target on a concurrent
	// platform, any two on another).
	sendMu sync.Mutex
	sems   map[string]chan struct{}
	gates  map[string]*gate
	urgent atomic.Int64 // urgent messages this worker holds

	dueMu sync.Mutex
	due   time.Time // the earliest a message handed back since the last pass is due again
}

// NewWorker returns a Worker delivering store's outbox, with no senders
// yet, ready to Kick. A nil clock is time.Now; a nil log discards.
func NewWorker(store mamori.Store, clock mamori.Clock, log *slog.Logger) *Worker {
	w := &Worker{Store: store, Senders: map[string]Sender{}, Clock: clock, Log: log}
	w.defaults()
	return w.Init()
}

// defaults fills in what was left nil. Run and Drain call it, so a Worker
// made as a literal works too; it is not safe to call while the worker runs.
func (w *Worker) defaults() {
	if w.Clock == nil {
		w.Clock = time.Now
	}
	if w.Timers == nil {
		w.Timers = RealTimers{}
	}
	if w.Log == nil {
		w.Log = slog.New(slog.DiscardHandler)
	}
}

// Kick wakes the worker now. It never blocks.
func (w *Worker) Kick() {
	if w.kick == nil {
		return
	}
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Init prepares Kick; call it before the worker is shared.
func (w *Worker) Init() *Worker {
	w.kick = make(chan struct{}, 1)
	return w
}

// Run works until ctx is done.
func (w *Worker) Run(ctx context.Context) {
	if w.kick == nil {
		w.Init()
	}
	w.defaults()
	poll := w.poll()
	// The timer is made after the first pass, so that a fake clock sees
	// the worker waiting only once a pass is over (flowstest.Clock.Idle).
	var (
		t  TimerController
		tc <-chan time.Time
	)
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		w.takeDue()
		if _, err := w.drain(ctx); err != nil && ctx.Err() == nil {
			w.Log.Error("worker pass failed", "err", err)
		}
		// A conversation's next message held back for a channel's pace
		// is due in a fraction of a second: waiting for the next poll
		// would add up to a second to every answer.
		wait := poll
		if due := w.takeDue(); !due.IsZero() {
			wait = min(poll, max(due.Sub(w.Clock()), minWake))
		}
		if t == nil {
			t, tc = w.Timers.NewTimer(wait)
		} else {
			t.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-tc:
		case <-w.kick:
		}
	}
}

// minWake is the shortest wait between passes for a message due again: a
// pace of a millisecond must not make the worker spin.
const minWake = 5 * time.Millisecond

// noteDue remembers that a message handed back is due again at t.
func (w *Worker) noteDue(t time.Time) {
	w.dueMu.Lock()
	defer w.dueMu.Unlock()
	if w.due.IsZero() || t.Before(w.due) {
		w.due = t
	}
}

// takeDue returns and forgets the earliest time noted by noteDue.
func (w *Worker) takeDue() time.Time {
	w.dueMu.Lock()
	defer w.dueMu.Unlock()
	t := w.due
	w.due = time.Time{}
	return t
}

// Drain runs due jobs and sends due messages until none is left that is
// due now, and returns how many messages it sent.
func (w *Worker) Drain(ctx context.Context) (int, error) {
	w.defaults()
	return w.drain(ctx)
}

func (w *Worker) drain(ctx context.Context) (int, error) {
	sent := 0
	for {
		ran, err := w.runJobs(ctx)
		if err != nil {
			return sent, err
		}
		n, claimed, err := w.sendBatch(ctx)
		sent += n
		if err != nil {
			return sent, err
		}
		if claimed == 0 && ran == 0 {
			return sent, nil
		}
	}
}

func (w *Worker) poll() time.Duration {
	if w.Poll <= 0 {
		return time.Second
	}
	return w.Poll
}

func (w *Worker) lease() time.Duration {
	if w.Lease == 0 {
		return time.Minute
	}
	return w.Lease
}

func (w *Worker) hold() time.Duration {
	if w.Hold == 0 {
		return 3 * time.Second
	}
	return w.Hold
}

func (w *Worker) runJobs(ctx context.Context) (int, error) {
	if w.Jobs == nil {
		return 0, nil
	}
	jobs, err := w.Store.ClaimJobs(ctx, w.Clock(), w.lease(), 32)
	if err != nil {
		return 0, fmt.Errorf("claim jobs: %w", err)
	}
	for _, j := range jobs {
		if err := w.Jobs.RunJob(ctx, j); err != nil {
			// The lease runs out and the job is claimed again later.
			w.Log.Error("job failed", "kind", j.Kind, "id", j.ID, "attempts", j.Attempts, "err", err)
			continue
		}
		if err := w.Store.DoneJob(ctx, j.ID, w.Clock()); err != nil {
			return 0, fmt.Errorf("job done: %w", err)
		}
	}
	return len(jobs), nil
}

// batchSize is how many messages one pass claims.
const batchSize = 32

// isUrgent reports whether it must go before any other message.
func isUrgent(it mamori.OutboxItem) bool { return strings.HasPrefix(it.Key, mamori.UrgentKey) }

// sendBatch claims due messages and sends them. The messages to one target
// go in order, one at a time: when one fails, the later ones wait with it,
// so a conversation never arrives out of order. Targets on a
// ConcurrentSender's platform are sent to side by side; the rest go one
// item at a time in the outbox's order. Urgent messages enqueued while the
// batch is out are sent beside it (watchUrgent).
func (w *Worker) sendBatch(ctx context.Context) (sent, claimed int, err error) {
	claimedAt, started := w.Clock(), w.Timers.Now()
	items, err := w.Store.ClaimOutbox(ctx, claimedAt, w.hold(), batchSize)
	if err != nil {
		return 0, 0, fmt.Errorf("claim outbox: %w", err)
	}
	if len(items) == 0 {
		return 0, 0, nil
	}
	var (
		n       int
		sendErr error
		done    = make(chan struct{})
	)
	go func() {
		defer close(done)
		n, sendErr = w.sendItems(ctx, items, started)
	}()
	un, urgentErr := w.watchUrgent(ctx, done)
	return n + un, len(items), errors.Join(sendErr, urgentErr)
}

// watchUrgent claims and sends, beside the batch, the urgent messages that
// are pending while it is out: looked for at each Kick (a flow enqueued
// something) and each Poll (another replica did). It returns once done is
// closed and what it sent is sent.
func (w *Worker) watchUrgent(ctx context.Context, done <-chan struct{}) (int, error) {
	tick, tc := w.Timers.NewTicker(w.poll())
	defer tick.Stop()
	kick := w.kick
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		sent int
		errs []error
	)
	for {
		select {
		case <-done:
			wg.Wait()
			return sent, errors.Join(errs...)
		case <-ctx.Done():
			kick, tc = nil, nil // stopping: wait for the batch only
			continue
		case <-kick:
		case <-tc:
		}
		items, started, err := w.claimUrgent(ctx)
		if err != nil {
			if ctx.Err() == nil {
				w.Log.Warn("urgent claim failed", "err", err)
			}
			continue
		}
		if len(items) == 0 {
			continue
		}
		wg.Go(func() {
			n, err := w.sendItems(ctx, items, started)
			mu.Lock()
			defer mu.Unlock()
			sent += n
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
}

// claimUrgent claims as many items as there are urgent ones pending that
// this worker does not hold: the claim takes those due first. Counting
// first keeps a claim from taking ordinary messages when nothing urgent
// waits, the usual case.
func (w *Worker) claimUrgent(ctx context.Context) ([]mamori.OutboxItem, time.Time, error) {
	counts, err := w.Store.CountOutbox(ctx, mamori.UrgentKey)
	if err != nil {
		return nil, time.Time{}, err
	}
	n := counts[mamori.OutboxPending] - int(w.urgent.Load())
	if n <= 0 {
		return nil, time.Time{}, nil
	}
	started := w.Timers.Now()
	items, err := w.Store.ClaimOutbox(ctx, w.Clock(), w.hold(), min(n, batchSize))
	return items, started, err
}

// sendItems sends claimed items, in lanes: one per target on a concurrent
// platform, one per platform otherwise, each in order, side by side.
func (w *Worker) sendItems(ctx context.Context, items []mamori.OutboxItem, started time.Time) (int, error) {
	ctx, h := w.keep(ctx, items, started)
	defer h.close()
	type lane struct {
		key   string
		items []mamori.OutboxItem
		sem   chan struct{}
	}
	var (
		lanes []*lane
		byKey = map[string]*lane{}
	)
	for _, it := range items {
		key, sem := w.lane(it)
		l := byKey[key]
		if l == nil {
			l = &lane{key: key, sem: sem}
			byKey[key] = l
			lanes = append(lanes, l)
		}
		l.items = append(l.items, it)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []error
		nsent int
	)
	for _, l := range lanes {
		wg.Go(func() {
			n, err := w.sendLane(ctx, h, l.key, l.sem, l.items)
			mu.Lock()
			nsent += n
			if err != nil {
				errs = append(errs, err)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return nsent, errors.Join(errs...)
}

// lane returns the lane of it and, on a concurrent platform, the
// platform's slots.
func (w *Worker) lane(it mamori.OutboxItem) (string, chan struct{}) {
	cs, ok := w.Senders[it.Target.Platform].(ConcurrentSender)
	if !ok || cs.Concurrency() <= 1 {
		return "platform:" + it.Target.Platform, nil
	}
	w.sendMu.Lock()
	defer w.sendMu.Unlock()
	sem := w.sems[it.Target.Platform]
	if sem == nil {
		if w.sems == nil {
			w.sems = map[string]chan struct{}{}
		}
		sem = make(chan struct{}, cs.Concurrency())
		w.sems[it.Target.Platform] = sem
	}
	return fmt.Sprintf("target:%s/%s/%s/%s", it.Target.Platform, it.Target.Kind, it.Target.ID, it.Target.Thread), sem
}

// gate lets one send at a time through a lane's key, across the batch
// and the urgent messages sent beside it.
type gate struct {
	mu   sync.Mutex
	refs int
}

// enter waits for key's gate and returns the function that leaves it.
func (w *Worker) enter(key string) (leave func()) {
	w.sendMu.Lock()
	g := w.gates[key]
	if g == nil {
		if w.gates == nil {
			w.gates = map[string]*gate{}
		}
		g = &gate{}
		w.gates[key] = g
	}
	g.refs++
	w.sendMu.Unlock()
	g.mu.Lock()
	return func() {
		g.mu.Unlock()
		w.sendMu.Lock()
		if g.refs--; g.refs == 0 {
			delete(w.gates, key)
		}
		w.sendMu.Unlock()
	}
}

// sendLane sends items in order. A target whose message failed has its
// later messages wait until the failed one is due again. On a concurrent
// platform the lane takes one of its slots (sem) for its ordinary
// messages; urgent ones, first in a claim, go without: a campaign filling
// every slot does not hold them back.
func (w *Worker) sendLane(ctx context.Context, h *holding, key string, sem chan struct{}, items []mamori.OutboxItem) (sent int, err error) {
	blocked := map[mamori.Target]time.Time{}
	slot := false
	defer func() {
		if slot {
			<-sem
		}
	}()
	for _, it := range items {
		// Leases not renewed in time: another worker may have the items
		// now, so this one leaves them alone.
		if context.Cause(ctx) == errHoldLost {
			return sent, nil
		}
		if next, ok := blocked[it.Target]; ok {
			err := w.Store.RetryOutbox(ctx, it.ID, next, "waiting for an earlier message", false)
			h.release(it.ID)
			if err != nil {
				return sent, err
			}
			continue
		}
		if sem != nil && !slot && !isUrgent(it) {
			sem <- struct{}{}
			slot = true
		}
		leave := w.enter(key)
		next, err := w.send(ctx, it)
		leave()
		h.release(it.ID)
		if err != nil {
			return sent, err
		}
		if !next.IsZero() {
			blocked[it.Target] = next
			continue
		}
		sent++
	}
	return sent, nil
}

// send delivers one item. It returns when the target is next due if the
// send failed, or the zero time.
func (w *Worker) send(ctx context.Context, it mamori.OutboxItem) (time.Time, error) {
	s, ok := w.Senders[it.Target.Platform]
	if !ok {
		err := &mamori.PermanentError{Err: fmt.Errorf("no sender for platform %q", it.Target.Platform)}
		return w.failed(ctx, it, err)
	}
	var prev *mamori.Posted
	if it.Message.Ref != "" {
		p, err := w.Store.PostedRef(ctx, it.Message.Ref)
		if err == nil && p.TS != "" {
			prev = &p
		} else if err != nil && !errors.Is(err, mamori.ErrNotFound) {
			return time.Time{}, err
		}
	}
	if it.Message.Tidy && prev == nil {
		// Nothing posted to tidy: done, nothing sent.
		return time.Time{}, w.Store.SentOutbox(context.WithoutCancel(ctx), it.ID, mamori.Posted{}, w.Clock())
	}
	// A send that hangs must end well before the lease, or another worker
	// could take the item over and send it a second time.
	sctx, cancel := context.WithTimeout(ctx, w.lease()/3)
	if it.Target.Thread != "" {
		p, err := w.Store.PostedRef(ctx, it.Target.Thread)
		if err == nil {
			it.InThread = &p
		} else if !errors.Is(err, mamori.ErrNotFound) {
			cancel()
			return time.Time{}, err
		}
		// A thread whose parent was never posted: the message goes to the
		// channel itself rather than nowhere.
	}
	posted, err := s.Send(sctx, it, prev)
	cancel()
	if err != nil {
		return w.failed(ctx, it, err)
	}
	// Between Slack's answer and this commit is the one window in which a
	// crash sends the message twice: the item is claimed again after its
	// lease, and Slack has no idempotency key. Stopping, or a lease not
	// renewed, does not keep a sent message from being marked sent.
	at := w.Clock()
	if err := w.Store.SentOutbox(context.WithoutCancel(ctx), it.ID, posted, at); err != nil {
		return time.Time{}, err
	}
	if h, ok := w.Jobs.(SentHook); ok && strings.HasPrefix(it.Key, mamori.UrgentKey) {
		if err := h.Sent(context.WithoutCancel(ctx), it, at); err != nil {
			w.Log.Error("worker: recording an urgent message's delivery failed", "id", it.ID, "err", err)
		}
	}
	return time.Time{}, nil
}

func (w *Worker) failed(ctx context.Context, it mamori.OutboxItem, sendErr error) (time.Time, error) {
	now := w.Clock()
	if context.Cause(ctx) == errHoldLost {
		// Another worker may have the item now: it is theirs to write.
		w.Log.Warn("send stopped: lease not renewed", "id", it.ID, "platform", it.Target.Platform)
		return now, nil
	}
	if ctx.Err() != nil {
		// Stopping, not failing: the item is handed back at once, for
		// the next start or another replica, instead of waiting out its
		// lease.
		w.Log.Debug("send stopped", "id", it.ID, "platform", it.Target.Platform)
		return now, w.Store.RetryOutbox(context.WithoutCancel(ctx), it.ID, now, "stopped before it was sent", false)
	}
	giveUpAfter := w.GiveUpAfter
	if giveUpAfter == 0 {
		giveUpAfter = 24 * time.Hour
	}
	var perm *mamori.PermanentError
	var ra *mamori.RetryAfterError
	next := now.Add(backoff(it.Attempts, now.Sub(it.Created)))
	if errors.As(sendErr, &ra) {
		next = now.Add(ra.After)
	}
	giveUp := errors.As(sendErr, &perm) || next.Sub(it.Created) > giveUpAfter
	level := slog.LevelWarn
	if ra != nil && ra.Paced && !giveUp {
		// The sender keeping to a rate limit: routine in a campaign.
		level = slog.LevelDebug
	}
	w.Log.Log(ctx, level, "send failed", "id", it.ID, "platform", it.Target.Platform, "kind", it.Target.Kind,
		"attempts", it.Attempts, "give_up", giveUp, "err", sendErr)
	if err := w.Store.RetryOutbox(ctx, it.ID, next, sendErr.Error(), giveUp); err != nil {
		return next, err
	}
	if !giveUp {
		w.noteDue(next)
		if isUrgent(it) {
			// Due again perhaps while a batch is out: the kick has it
			// looked for then (watchUrgent), not after the batch.
			w.Timers.AfterFunc(next.Sub(now), w.Kick)
		}
	}
	if giveUp && w.GaveUp != nil {
		w.gaveUpMu.Lock()
		w.GaveUp(ctx, it, sendErr)
		w.gaveUpMu.Unlock()
	}
	return next, nil
}

// Backoff is the wait before attempt n+1: exponential from 1 s, at most
// 5 minutes, with up to 50% jitter so replicas do not retry in step.
func Backoff(attempts int) time.Duration { return backoff(attempts, 5*time.Minute) }

// backoff is Backoff for an item age old, waiting no longer than its age
// (but at least 1 s): an item's attempts count its claims, which include
// waiting behind an earlier message and a sender's own pacing, so in a
// campaign they overstate the failures; the cap keeps retries doubling in
// real time instead.
func backoff(attempts int, age time.Duration) time.Duration {
	if attempts < 1 {
		attempts = 1
	}
	d := time.Second << min(attempts-1, 9)
	d = min(d, 5*time.Minute, max(age, time.Second))
	return d + time.Duration(rand.Int64N(int64(d/2)+1))
}

// errHoldLost is the cause of a batch's context when the leases of the
// messages it holds could not be renewed in time: another worker may take
// them over, so this one neither sends them nor writes them.
var errHoldLost = errors.New("outbox lease not renewed in time")

// holding keeps the leases of a batch of claimed messages: every Hold/4 it
// renews those not yet done (RenewOutbox). If no renewal succeeds until a
// third of Hold is left, it cancels the batch's context with errHoldLost,
// so no send outlasts the lease: a dead replica's messages go to another
// within Hold, a live one's never go twice.
type holding struct {
	w      *Worker
	cancel context.CancelCauseFunc
	stop   chan struct{}
	done   chan struct{}

	mu   sync.Mutex
	held map[int64]mamori.OutboxItem
}

// keep starts holding items, claimed for Hold by a claim that started
// at started (real time), and returns the context their sends run in.
func (w *Worker) keep(ctx context.Context, items []mamori.OutboxItem, started time.Time) (context.Context, *holding) {
	ctx, cancel := context.WithCancelCause(ctx)
	h := &holding{w: w, cancel: cancel, stop: make(chan struct{}), done: make(chan struct{}),
		held: make(map[int64]mamori.OutboxItem, len(items))}
	for _, it := range items {
		h.held[it.ID] = it
		if isUrgent(it) {
			w.urgent.Add(1)
		}
	}
	go h.run(ctx, started)
	return ctx, h
}

// release stops renewing an item: it was sent or handed back.
func (h *holding) release(id int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if it, ok := h.held[id]; ok && isUrgent(it) {
		h.w.urgent.Add(-1)
	}
	delete(h.held, id)
}

// close stops renewing; the batch is over.
func (h *holding) close() {
	close(h.stop)
	<-h.done
	h.cancel(nil)
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, it := range h.held {
		if isUrgent(it) {
			h.w.urgent.Add(-1)
		}
		delete(h.held, id)
	}
}

func (h *holding) run(ctx context.Context, claimed time.Time) {
	defer close(h.done)
	hold := h.w.hold()
	// Timers, not Clock: this is about the process running its sends in
	// real time, measured from just before the claim ended (a renewal
	// counts from just before it started).
	timers := h.w.Timers
	keepFor := hold - hold/3
	lose := timers.AfterFunc(keepFor-timers.Now().Sub(claimed), func() { h.cancel(errHoldLost) })
	defer lose.Stop()
	tick, tc := timers.NewTicker(hold / 4)
	defer tick.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-ctx.Done():
			return
		case <-tc:
		}
		h.mu.Lock()
		items := make([]mamori.OutboxItem, 0, len(h.held))
		for _, it := range h.held {
			items = append(items, it)
		}
		h.mu.Unlock()
		if len(items) == 0 {
			continue
		}
		started, now := timers.Now(), h.w.Clock()
		kept, err := h.w.Store.RenewOutbox(ctx, items, now, now.Add(hold))
		if err != nil {
			if ctx.Err() == nil {
				h.w.Log.Warn("outbox lease not renewed", "items", len(items), "err", err)
			}
			continue
		}
		// An item not renewed was done meanwhile; one whose lease ran out
		// was not renewed in time, and lose has fired or fires first.
		if len(kept) > 0 && !lose.Reset(keepFor-timers.Now().Sub(started)) {
			return // it fired already
		}
	}
}
