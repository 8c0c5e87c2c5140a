package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	slackapi "github.com/slack-go/slack"
)

// Socket Mode limits and timings.
const (
	// maxEnvelopes bounds the envelopes handled at once.
	maxEnvelopes = 32
	// slotWait is how long an envelope waits for one of those slots before
	// it is left for Slack to send again, here or to another replica.
	slotWait = 2 * time.Second
	// envelopeTimeout bounds the handling of one envelope.
	envelopeTimeout = 30 * time.Second
	// drainTimeout is how long a closing connection, or a stopping serve,
	// waits for the envelopes in flight to be handled and acknowledged.
	drainTimeout = 5 * time.Second
	// retireAfter is how long a connection Slack asked to leave
	// (refresh_requested, warning) keeps serving beside its successor,
	// unless Slack closes it first.
	retireAfter = 10 * time.Second

	openTimeout  = 10 * time.Second // apps.connections.open, dial and hello
	pingEvery    = 10 * time.Second
	readTimeout  = 30 * time.Second // no frame, not even a ping: the link is dead
	writeTimeout = 5 * time.Second
	maxFrame     = 4 << 20
	// maxAck is Slack's limit on an acknowledgement; a larger one is
	// silently dropped.
	maxAck = 20 << 10

	minBackoff = time.Second
	maxBackoff = time.Minute
	// crowdedBackoff is the least wait after too_many_websockets: the app
	// already has the ten connections Slack allows.
	crowdedBackoff = 30 * time.Second
	// stableAfter is how long a connection must have lived for its end to
	// be ordinary, with a new one opened at once.
	stableAfter = 30 * time.Second
)

// RunSocketMode receives Slack's requests over Socket Mode
// (Config.AppToken) until ctx ends. Each envelope goes through the same
// translation as an HTTP request and is acknowledged, on the connection
// it came on, only when that succeeded; Slack sends the rest again.
//
// Every replica of serve runs its own connection. Slack spreads envelopes
// over an app's connections (ten at most) and sends one not acknowledged
// in time again, maybe on another replica's connection; the flows record
// each delivery in the database, so a second one is acknowledged but not
// acted on. When Slack asks a connection to leave (refresh_requested,
// warning) a new one is opened before the old one closes. When ctx ends,
// no new envelope is taken, and those in flight are finished and
// acknowledged, for up to drainTimeout, before the connection closes.
func (a *Adapter) RunSocketMode(ctx context.Context) error { return a.runSocketMode(ctx, time.After) }

// runSocketMode is RunSocketMode waiting out its backoffs through after:
// time.After, or a test's that shows them without waiting.
func (a *Adapter) runSocketMode(ctx context.Context, after func(time.Duration) <-chan time.Time) error {
	if a.cfg.AppToken == "" {
		return errors.New("slack: socket mode needs an app token")
	}
	// Envelopes in flight outlive ctx by up to drainTimeout.
	work, stop := context.WithCancel(context.WithoutCancel(ctx))
	r := &socketRun{a: a, work: work, after: after, slots: make(chan struct{}, maxEnvelopes),
		events: make(chan connEvent), quit: make(chan struct{}), conns: map[*socketConn]bool{}}
	err := r.loop(ctx)
	close(r.quit)
	r.retireAll()
	stop()
	r.wg.Wait()
	return err
}

// socketRun is one RunSocketMode: its connections and envelopes.
type socketRun struct {
	a      *Adapter
	work   context.Context // for envelopes: ends after the drain
	after  func(time.Duration) <-chan time.Time
	slots  chan struct{}
	events chan connEvent
	quit   chan struct{} // closed when the loop has stopped
	wg     sync.WaitGroup

	mu      sync.Mutex
	conns   map[*socketConn]bool // open
	current *socketConn          // the one kept open
	seq     int
}

// connEvent is news from a connection's reader: Slack's disconnect
// message, or the end of the connection.
type connEvent struct {
	c      *socketConn
	reason string // the disconnect reason; "" when the connection ended
	err    error
}

// socketConn is one Socket Mode WebSocket.
type socketConn struct {
	n      int // the n-th connection of this run, for logs
	ws     *websocket.Conn
	opened time.Time
	wmu    sync.Mutex    // serialises data writes
	done   chan struct{} // closed when the reader has stopped

	mu      sync.Mutex
	leaving bool           // takes no new envelope
	work    sync.WaitGroup // envelopes taken and not yet acknowledged
	retire  sync.Once
	retired chan struct{} // closed once closed
}

// socketFrame is one message from Slack over Socket Mode: hello,
// disconnect, or an envelope.
type socketFrame struct {
	Type         string          `json:"type"`
	EnvelopeID   string          `json:"envelope_id"`
	Payload      json.RawMessage `json:"payload"`
	RetryAttempt int             `json:"retry_attempt"`
	RetryReason  string          `json:"retry_reason"`
	Reason       string          `json:"reason"`          // disconnect
	Connections  int             `json:"num_connections"` // hello
}

type socketAck struct {
	EnvelopeID string `json:"envelope_id"`
	Payload    any    `json:"payload,omitempty"`
}

// disconnected is Slack sending a disconnect message instead of hello.
type disconnected string

func (d disconnected) Error() string { return "slack sent disconnect: " + string(d) }

// loop keeps one connection open until ctx ends.
func (r *socketRun) loop(ctx context.Context) error {
	log := r.a.log
	failures := 0
	var wait time.Duration
	for {
		if r.currentConn() == nil {
			if err := r.sleep(ctx, wait); err != nil {
				return err
			}
			c, err := r.open(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if fatal(err) {
					// No retry helps; serve logs it.
					return fmt.Errorf("slack: socket mode: Slack refused the app token: %w", err)
				}
				failures++
				wait = backoff(failures, err)
				log.Warn("slack: socket mode connection failed", "err", err, "retry_in", wait.Round(time.Millisecond).String())
				continue
			}
			r.setCurrent(c)
			wait = 0
		}
		var ev connEvent
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev = <-r.events:
		}
		if ev.c != r.currentConn() {
			r.replaced(ev)
			continue
		}
		r.setCurrent(nil)
		c := ev.c
		switch ev.reason {
		case "":
			if time.Since(c.opened) >= stableAfter {
				failures, wait = 0, 0
			} else {
				failures++
				wait = backoff(failures, nil)
			}
			log.Warn("slack: socket mode connection lost", "connection", c.n, "err", ev.err, "retry_in", wait.Round(time.Millisecond).String())
		case "too_many_websockets":
			// Another connection would be refused too: leave the ten to
			// the other replicas for a while.
			failures++
			wait = backoff(failures, disconnected(ev.reason))
			log.Warn("slack: socket mode: the app has too many connections", "connection", c.n, "retry_in", wait.Round(time.Millisecond).String())
			go r.retire(c)
		case "link_disabled":
			failures++
			wait = maxBackoff
			log.Error("slack: socket mode is turned off in the app's settings", "connection", c.n)
			go r.retire(c)
		default: // refresh_requested, warning
			// Slack closes it soon: the next one opens now, and this one
			// serves on until Slack closes it or its successor settled.
			failures, wait = 0, 0
			log.Info("slack: socket mode: Slack asked for a new connection", "connection", c.n, "reason", ev.reason)
			time.AfterFunc(retireAfter, func() { r.retire(c) })
		}
	}
}

// sleep waits d, or until ctx ends; events from connections already
// replaced are dropped meanwhile.
func (r *socketRun) sleep(ctx context.Context, d time.Duration) error {
	done := r.after(d)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-r.events:
			r.replaced(ev)
		case <-done:
			return nil
		}
	}
}

// replaced notes news from a connection already replaced: no reason to
// open another.
func (r *socketRun) replaced(ev connEvent) {
	r.a.log.Debug("slack: socket mode: news from a replaced connection", "connection", ev.c.n, "reason", ev.reason, "err", ev.err)
}

// open asks Slack for a connection, dials it and waits for hello.
func (r *socketRun) open(ctx context.Context) (*socketConn, error) {
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	_, url, err := r.a.api.StartSocketModeContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("apps.connections.open: %w", err)
	}
	dialer := websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: openTimeout}
	ws, resp, err := dialer.DialContext(ctx, url, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	ws.SetReadLimit(maxFrame)
	deadline, _ := ctx.Deadline()
	ws.SetReadDeadline(deadline)
	var hello socketFrame
	if err := ws.ReadJSON(&hello); err != nil {
		ws.Close()
		return nil, fmt.Errorf("waiting for hello: %w", err)
	}
	switch hello.Type {
	case "hello":
	case "disconnect":
		ws.Close()
		return nil, disconnected(hello.Reason)
	default:
		ws.Close()
		return nil, fmt.Errorf("%q before hello", hello.Type)
	}
	// Any frame, pings included, shows the link alive.
	ws.SetPingHandler(func(data string) error {
		ws.SetReadDeadline(time.Now().Add(readTimeout))
		ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeTimeout))
		return nil
	})
	ws.SetPongHandler(func(string) error {
		ws.SetReadDeadline(time.Now().Add(readTimeout))
		return nil
	})
	c := &socketConn{ws: ws, opened: time.Now(), done: make(chan struct{}), retired: make(chan struct{})}
	r.mu.Lock()
	r.seq++
	c.n = r.seq
	r.conns[c] = true
	r.mu.Unlock()
	r.wg.Add(2)
	go r.read(c)
	go r.ping(c)
	r.a.log.Info("slack: socket mode connected", "connection", c.n, "app_connections", hello.Connections)
	return c, nil
}

// fatal reports whether Slack refused the app token: no retry helps.
func fatal(err error) bool {
	var se slackapi.SlackErrorResponse
	if !errors.As(err, &se) {
		return false
	}
	switch se.Err {
	case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "not_allowed_token_type":
		return true
	}
	return false
}

// backoff is the wait before the next connection after failures failed
// ones in a row: doubling from minBackoff to maxBackoff, with jitter, so
// that replicas do not come back in step.
func backoff(failures int, err error) time.Duration {
	d := maxBackoff
	if failures < 8 {
		d = min(maxBackoff, minBackoff<<(failures-1))
	}
	var crowded disconnected
	if errors.As(err, &crowded) && crowded == "too_many_websockets" {
		d = max(d, crowdedBackoff)
	}
	var limited *slackapi.RateLimitedError
	if errors.As(err, &limited) {
		d = max(d, limited.RetryAfter)
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func (r *socketRun) currentConn() *socketConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current
}

func (r *socketRun) setCurrent(c *socketConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.current = c
}

// tell hands ev to the loop, unless it has stopped.
func (r *socketRun) tell(ev connEvent) {
	select {
	case r.events <- ev:
	case <-r.quit:
	}
}

// read takes Slack's messages on c until it closes.
func (r *socketRun) read(c *socketConn) {
	defer r.wg.Done()
	var err error
	defer func() {
		r.mu.Lock()
		delete(r.conns, c)
		r.mu.Unlock()
		close(c.done)
		r.tell(connEvent{c: c, err: err})
	}()
	for {
		c.ws.SetReadDeadline(time.Now().Add(readTimeout))
		var data []byte
		if _, data, err = c.ws.ReadMessage(); err != nil {
			return
		}
		var f socketFrame
		if json.Unmarshal(data, &f) != nil {
			// Not logged: it may hold what someone typed.
			r.a.log.Warn("slack: socket mode: unreadable message", "connection", c.n, "bytes", len(data))
			continue
		}
		switch f.Type {
		case "events_api", "interactive", "slash_commands":
			r.dispatch(c, f)
		case "disconnect":
			r.tell(connEvent{c: c, reason: f.Reason})
		case "hello":
		default:
			if f.EnvelopeID != "" {
				// A kind Mamori does not use: acknowledged, so that Slack
				// stops sending it.
				r.ack(c, f.EnvelopeID, nil)
			}
		}
	}
}

// ping keeps c's link busy, so that a dead one shows within readTimeout.
func (r *socketRun) ping(c *socketConn) {
	defer r.wg.Done()
	t := time.NewTicker(pingEvery)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout))
		}
	}
}

// take counts an envelope in flight on c, unless c is closing.
func (c *socketConn) take() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leaving {
		return false
	}
	c.work.Add(1)
	return true
}

func (c *socketConn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// dispatch handles an envelope in its own goroutine. One that arrives on
// a closing connection, or finds every slot busy, is not acknowledged:
// Slack sends it again, to this replica or another.
func (r *socketRun) dispatch(c *socketConn, f socketFrame) {
	if f.EnvelopeID == "" {
		r.a.log.Warn("slack: socket mode: envelope without an id", "type", f.Type)
		return
	}
	if !c.take() {
		r.a.log.Info("slack: socket mode: envelope left for redelivery: connection closing", "type", f.Type, "connection", c.n)
		return
	}
	t := time.NewTimer(slotWait)
	select {
	case r.slots <- struct{}{}:
		t.Stop()
	case <-t.C:
		c.work.Done()
		r.a.log.Warn("slack: socket mode: too busy, envelope left for redelivery", "type", f.Type)
		return
	}
	if f.RetryAttempt > 0 {
		r.a.log.Info("slack: socket mode: redelivered envelope", "type", f.Type, "attempt", f.RetryAttempt,
			"reason", f.RetryReason, "connection", c.n)
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer c.work.Done()
		defer func() { <-r.slots }()
		r.envelope(c, f)
	}()
}

// envelope translates one Socket Mode request and acknowledges it.
func (r *socketRun) envelope(c *socketConn, f socketFrame) {
	a := r.a
	defer func() {
		if p := recover(); p != nil {
			a.log.Error("slack: panic in socket mode envelope", "type", f.Type, "panic", fmt.Sprint(p))
		}
	}()
	ctx, cancel := context.WithTimeout(r.work, envelopeTimeout)
	defer cancel()
	var res reply
	switch f.Type {
	case "events_api":
		res = a.events(ctx, f.Payload, true)
	case "interactive":
		res = a.interaction(ctx, f.Payload)
	case "slash_commands":
		res = a.socketCommand(ctx, f.Payload)
	}
	if res.status == http.StatusOK || res.status == http.StatusBadRequest {
		// A malformed envelope would only come again: acknowledge it.
		r.ack(c, f.EnvelopeID, res.body)
	} else {
		a.log.Warn("slack: socket mode envelope left for redelivery", "type", f.Type, "status", res.status)
	}
	a.later(f.Type, res.after)
}

// ack acknowledges an envelope on the connection it came on; when that
// one is gone, on the current one.
func (r *socketRun) ack(c *socketConn, id string, body any) {
	b, err := json.Marshal(socketAck{EnvelopeID: id, Payload: body})
	if err != nil || len(b) >= maxAck {
		r.a.log.Error("slack: socket mode acknowledgement too large; sent without its payload", "bytes", len(b), "err", err)
		b, _ = json.Marshal(socketAck{EnvelopeID: id})
	}
	err = c.write(b)
	if cur := r.currentConn(); err != nil && cur != nil && cur != c {
		err = cur.write(b)
	}
	if err != nil {
		r.a.log.Warn("slack: socket mode acknowledgement not sent; Slack will send the envelope again", "err", err)
	}
}

// retire closes c once the envelopes in flight on it are acknowledged,
// or after drainTimeout; it takes no new one meanwhile.
func (r *socketRun) retire(c *socketConn) {
	c.retire.Do(func() {
		defer close(c.retired)
		c.mu.Lock()
		c.leaving = true
		c.mu.Unlock()
		drained := make(chan struct{})
		go func() { c.work.Wait(); close(drained) }()
		t := time.NewTimer(drainTimeout)
		select {
		case <-drained:
		case <-t.C:
			r.a.log.Warn("slack: socket mode: envelopes still in flight at close; Slack will send them again", "connection", c.n)
		}
		t.Stop()
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
			time.Now().Add(time.Second))
		c.ws.Close()
		<-c.done
	})
	<-c.retired
}

// retireAll closes every connection, each after its drain.
func (r *socketRun) retireAll() {
	r.mu.Lock()
	open := make([]*socketConn, 0, len(r.conns))
	for c := range r.conns {
		open = append(open, c)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range open {
		wg.Go(func() { r.retire(c) })
	}
	wg.Wait()
}

func (a *Adapter) socketCommand(ctx context.Context, payload []byte) reply {
	var c slashCommand
	if err := json.Unmarshal(payload, &c); err != nil {
		return bad("malformed slash command")
	}
	return a.command(ctx, c)
}
