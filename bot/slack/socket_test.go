package slack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack"
	"github.com/mamori-oss/mamori/bot/slack/slacktest"
	"github.com/mamori-oss/mamori/flows"
	"github.com/mamori-oss/mamori/store/mem"
)

// shared is the store replicas of mamori serve share, each with flows of
// its own over it. Service.Kick runs once a handling has committed,
// before Handle returns: holding it holds that handling, its work done,
// as a slow database would.
type shared struct {
	db *mem.DB

	mu   sync.Mutex
	hold chan struct{} // holds the next handling until closed
	held chan struct{} // a handling is being held
}

func newShared(t *testing.T) *shared {
	_, db := newFlows(t, nil)
	return &shared{db: db, held: make(chan struct{}, 16)}
}

// flows returns a replica's flows over the shared store.
func (s *shared) flows() *flows.Service {
	svc := flows.NewService(s.db, testPolicy(), testOrg(), nil, nil)
	svc.Location = jst
	svc.Kick = s.kick
	return svc
}

// holdNext holds the next handling that commits until release is closed.
func (s *shared) holdNext(release chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold = release
}

func (s *shared) kick() {
	s.mu.Lock()
	release := s.hold
	s.hold = nil
	s.mu.Unlock()
	if release == nil {
		return
	}
	s.held <- struct{}{}
	select {
	case <-release:
	case <-time.After(10 * time.Second):
	}
}

// safetyQuestion is a question with buttons as the flows ask one; a
// click on it goes to the flows, whatever they make of it.
func safetyQuestion() mamori.Message {
	return mamori.Message{
		Text: "Are you safe now?", Step: "safety",
		Choices: []mamori.Choice{
			{Value: "safe", Label: "I am safe", Style: mamori.StylePrimary},
			{Value: "danger", Label: "I am in danger", Style: mamori.StyleDanger},
		},
	}
}

func TestSocketMode(t *testing.T) {
	api := slacktest.New(t, botToken)
	api.AddUser(alex)
	svc, db := newFlows(t, nil)
	ad, err := slack.New(slack.Config{BotToken: botToken, AppToken: api.AppToken, APIURL: api.URL,
		Log: slog.New(slog.DiscardHandler), Policy: testPolicy()}, svc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ad.RunSocketMode(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("RunSocketMode did not stop")
		}
		ad.Close()
	})

	// An event: acknowledged after Handle, with the event id as delivery.
	env := api.SendEnvelope(t, "events_api", map[string]any{"type": "event_callback", "event_id": "EvS1",
		"team_id": "T0000001", "event": dm("UEN", "hello over a socket")})
	api.WaitAck(t, env, 5*time.Second)

	// A slash command: the ack carries the ephemeral text.
	env = api.SendEnvelope(t, "slash_commands", map[string]any{"command": "/kasuhara", "text": "consult",
		"user_id": "UEN", "channel_id": "C0GENERAL", "trigger_id": "T.1"})
	var ack map[string]string
	if err := json.Unmarshal(api.WaitAck(t, env, 5*time.Second), &ack); err != nil || ack["text"] != "Check your direct messages with Mamori." {
		t.Errorf("slash command ack = %v (%v)", ack, err)
	}
	c, _ := conversation(t, db, "UEN")
	if c.Flow != mamori.FlowConsult {
		t.Fatalf("after the command: %+v, want a consultation", c)
	}

	// A click on the consultation's question: "later".
	q := question(t, db, "UEN")
	env = api.SendEnvelope(t, "interactive", clickPayload(t, "UEN", "DUEN", blocksOf(t, q), "nav:later"))
	api.WaitAck(t, env, 5*time.Second)
	if c, _ := conversation(t, db, "UEN"); !c.Paused || c.Step != q.Step {
		t.Errorf("after the click: %+v, want the consultation paused at %s", c, q.Step)
	}

	ds := deliveries(t, db)
	if len(ds) != 3 || ds[0] != "EvS1" || ds[1] != "command:T.1" || !strings.HasPrefix(ds[2], "action:") {
		t.Errorf("deliveries = %q", ds)
	}
	for _, r := range dms(t, db, "UEN") {
		if r.Lang != mamori.EN {
			t.Errorf("a reply in %s: %+v", r.Lang, r.Message)
		}
	}

	// A failing Handle leaves the event unacknowledged for redelivery.
	db.Close()
	env = api.SendEnvelope(t, "events_api", map[string]any{"type": "event_callback", "event_id": "EvS2",
		"event": dm("UEN", "again")})
	time.Sleep(300 * time.Millisecond)
	if _, acked := api.Ack(env); acked {
		t.Error("failed event was acknowledged")
	}
}

// replica runs RunSocketMode for an adapter of its own on api, as one
// `mamori serve` would, and returns what stops it and waits.
func replica(t *testing.T, api *slacktest.Server, f slack.Flows) (stop func() error) {
	t.Helper()
	return replicaWith(t, api, f, nil, slog.DiscardHandler)
}

// replicaWith is replica waiting out its backoffs through w (nil: the
// real clock) and logging to log.
func replicaWith(t *testing.T, api *slacktest.Server, f slack.Flows, w *waits, log slog.Handler) (stop func() error) {
	t.Helper()
	ad, err := slack.New(slack.Config{BotToken: botToken, AppToken: api.AppToken, APIURL: api.URL,
		Log: slog.New(log), Policy: testPolicy()}, f)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		if w == nil {
			done <- ad.RunSocketMode(ctx)
		} else {
			done <- ad.RunSocketModeAfter(ctx, w.after)
		}
	}()
	var once sync.Once
	var result error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(10 * time.Second):
				result = errors.New("RunSocketMode did not stop")
			}
			ad.Close()
		})
		return result
	}
	t.Cleanup(func() {
		if err := stop(); err != nil && !errors.Is(err, context.Canceled) {
			t.Error(err)
		}
	})
	return stop
}

// waitAcks waits until an envelope was acknowledged n times and returns
// the connections the acknowledgements came on.
func waitAcks(t *testing.T, api *slacktest.Server, env string, n int) []int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if conns := api.AckConns(env); len(conns) >= n {
			return conns
		}
		if time.Now().After(deadline) {
			t.Fatalf("envelope %s acknowledged on %v, want %d acknowledgements", env, api.AckConns(env), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func event(id, user, text string) map[string]any {
	return map[string]any{"type": "event_callback", "event_id": id, "team_id": slacktest.TeamID, "event": dm(user, text)}
}

// TestSocketModeReplicas: two replicas, each with its own connection,
// share the envelopes; an envelope sent again on the other connection —
// after its acknowledgement was lost, or because it was slow — carries the
// same delivery, so the shared store acts on it once.
func TestSocketModeReplicas(t *testing.T) {
	api := slacktest.New(t, botToken)
	api.AddUser(slacktest.User{ID: "UEN", Name: "alex", Locale: "en-US"})
	// No redelivery on a timer: each sending is one the test makes,
	// whatever the machine's load.
	api.SetRedelivery(0, 0)
	f := newShared(t)
	replica(t, api, f.flows())
	replica(t, api, f.flows())
	conns := api.WaitConnections(t, 2, 5*time.Second)

	// Round-robin over both; each acknowledged on its own connection.
	var envs []string
	for i := range 6 {
		envs = append(envs, api.SendEnvelope(t, "events_api", event(fmt.Sprintf("EvR%d", i), "UEN", fmt.Sprintf("message %d", i))))
	}
	for i, env := range envs {
		got := waitAcks(t, api, env, 1)
		d := api.Deliveries(env)
		if len(d) != 1 || d[0].Conn != conns[i%2] || got[0] != d[0].Conn {
			t.Errorf("envelope %d: sent %+v, acknowledged on %v; want once on connection %d", i, d, got, conns[i%2])
		}
	}

	// A retry of an acknowledged event, a click and a slash command, on
	// the other connection: acknowledged there, acted on once.
	click := clickPayload(t, "UEN", "DUEN", blocksOf(t, safetyQuestion()), "safe")
	command := map[string]any{"command": "/kasuhara", "text": "report", "user_id": "UEN", "channel_id": "C0GENERAL", "trigger_id": "T.replicas"}
	for _, c := range []struct {
		typ      string
		payload  any
		delivery string
	}{
		{"events_api", event("EvR9", "UEN", "once only"), "EvR9"},
		{"interactive", click, ""},
		{"slash_commands", command, "command:T.replicas"},
	} {
		env := api.SendEnvelope(t, c.typ, c.payload)
		first := waitAcks(t, api, env, 1)[0]
		ds := deliveries(t, f.db)
		if last := ds[len(ds)-1]; (c.delivery != "" && last != c.delivery) || (c.delivery == "" && !strings.HasPrefix(last, "action:")) {
			t.Errorf("%s: delivery %q, want %q", c.typ, last, c.delivery)
		}
		again := api.Resend(t, env)
		acks := waitAcks(t, api, env, 2)
		if again == first || acks[1] != again {
			t.Errorf("%s: first acknowledged on %d, sent again on %d, acknowledgements %v", c.typ, first, again, acks)
		}
		// Sent again, it carried the same delivery: nothing new was done.
		if after := deliveries(t, f.db); !slices.Equal(after, ds) {
			t.Errorf("%s: deliveries acted on %q after it was sent again, want %q", c.typ, after, ds)
		}
	}
	if ds := deliveries(t, f.db); len(ds) != 9 {
		t.Errorf("%d deliveries acted on, want 9: %q", len(ds), ds)
	}

	// A slow envelope is sent again on the other connection while the
	// first replica still works on it; both acknowledge it, once acted on.
	// The first handling is held until the retry is acknowledged, and the
	// retry goes once that handling began (as Slack's would after its
	// timeout): the order does not hang on the machine's speed.
	slow := make(chan struct{})
	f.holdNext(slow)
	env := api.SendEnvelope(t, "events_api", event("EvSlow", "UEN", "slow"))
	<-f.held
	api.Resend(t, env)
	waitAcks(t, api, env, 1)
	close(slow)
	acks := waitAcks(t, api, env, 2)
	d := api.Deliveries(env)
	if len(d) != 2 || d[1].Attempt != 1 || d[1].Reason == "" || d[1].Conn == d[0].Conn || acks[0] != d[1].Conn || acks[1] != d[0].Conn {
		t.Errorf("slow envelope: sent %+v, acknowledged on %v; want a retry on the other connection, acknowledged first", d, acks)
	}
	if ds := deliveries(t, f.db); len(ds) != 10 || ds[9] != "EvSlow" {
		t.Errorf("slow envelope: deliveries acted on %q, want it last, once", ds)
	}
}

// TestSocketModeRefresh: Slack asks for a new connection; the replica
// opens one before the old one closes, serves the old one meanwhile, and
// loses nothing even without redelivery.
func TestSocketModeRefresh(t *testing.T) {
	for _, reason := range []string{"refresh_requested", "warning"} {
		t.Run(reason, func(t *testing.T) {
			api := slacktest.New(t, botToken)
			api.AddUser(slacktest.User{ID: "UEN", Name: "alex", Locale: "en-US"})
			api.SetRedelivery(0, 0) // whatever is lost stays lost
			// The old connection is closed when the test says (Drop), not
			// after a grace in real time.
			api.SetDisconnectGrace(time.Hour)
			f := newShared(t)
			log := &replacedLog{ended: make(chan int, 4)}
			replicaWith(t, api, f.flows(), nil, log)
			old := api.WaitConnections(t, 1, 5*time.Second)[0]
			api.WaitAck(t, api.SendEnvelope(t, "events_api", event("EvF0", "UEN", "before")), 5*time.Second)

			api.Disconnect(t, old, reason)
			// Slack may still send on the old connection before it closes.
			late := api.SendEnvelopeOn(t, old, "events_api", event("EvF1", "UEN", "late on the old one"))
			next := api.WaitConnections(t, 1, 5*time.Second)[0]
			if next == old {
				t.Fatalf("no new connection after %s", reason)
			}
			if conns := waitAcks(t, api, late, 1); conns[0] != old {
				t.Errorf("late envelope acknowledged on %v, want on the old connection %d", conns, old)
			}
			for i := range 4 {
				env := api.SendEnvelope(t, "events_api", event(fmt.Sprintf("EvF%d", i+2), "UEN", "after"))
				if conns := waitAcks(t, api, env, 1); conns[0] != next {
					t.Errorf("envelope after the refresh acknowledged on %v, want %d", conns, next)
				}
			}
			// The old connection closing is no reason for yet another:
			// once the replica has seen it end, still two were opened.
			api.Drop(t, old)
			select {
			case n := <-log.ended:
				if n != old {
					t.Errorf("connection %d ended, want the old one, %d", n, old)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the replica did not see the old connection end within 5 s")
			}
			if n := api.Opened(); n != 2 {
				t.Errorf("%d connections opened, want 2", n)
			}
			if ds := deliveries(t, f.db); len(ds) != 6 {
				t.Errorf("deliveries acted on %q, want 6", ds)
			}
		})
	}
}

// TestSocketModeStopDrains: a replica that stops takes no new envelope but
// finishes and acknowledges those in flight; a click in flight shows no
// error to its clicker.
func TestSocketModeStopDrains(t *testing.T) {
	api := slacktest.New(t, botToken)
	api.AddUser(slacktest.User{ID: "UEN", Name: "alex", Locale: "en-US"})
	api.SetRedelivery(0, 0)
	f := newShared(t)
	gate := make(chan struct{})
	f.holdNext(gate)
	stop := replica(t, api, f.flows())
	conn := api.WaitConnections(t, 1, 5*time.Second)[0]

	click := api.SendEnvelope(t, "interactive", clickPayload(t, "UEN", "DUEN", blocksOf(t, safetyQuestion()), "safe"))
	<-f.held
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	time.Sleep(200 * time.Millisecond) // the stop has begun
	late := api.SendEnvelopeOn(t, conn, "events_api", event("EvLate", "UEN", "too late"))
	time.Sleep(200 * time.Millisecond)
	close(gate)
	if err := <-stopped; !errors.Is(err, context.Canceled) {
		t.Errorf("RunSocketMode returned %v", err)
	}
	// Written before the close: the fake reads it in its own time.
	api.WaitAck(t, click, time.Second)
	ds := deliveries(t, f.db)
	if _, ok := api.Ack(late); ok || slices.Contains(ds, "EvLate") {
		t.Error("an envelope arriving while stopping was taken: it should be left for another replica")
	}
	if len(ds) != 1 || !strings.HasPrefix(ds[0], "action:") {
		t.Errorf("deliveries acted on %q, want the click", ds)
	}
	if c := api.Calls("chat.postEphemeral"); len(c) != 0 {
		t.Errorf("the clicker was shown an error: %v", c[0].Get("text"))
	}
}

// TestSocketModeReconnects: a connection lost without a word is replaced
// after a short backoff.
func TestSocketModeReconnects(t *testing.T) {
	api := slacktest.New(t, botToken)
	api.AddUser(slacktest.User{ID: "UEN", Name: "alex", Locale: "en-US"})
	w := &waits{}
	replicaWith(t, api, newShared(t).flows(), w, slog.DiscardHandler)
	first := api.WaitConnections(t, 1, 5*time.Second)[0]
	api.Drop(t, first)
	// The first backoff: a second, give or take a fifth.
	if d := w.next(t, 0); d < 800*time.Millisecond || d > 1200*time.Millisecond {
		t.Errorf("backoff %s after the drop, want about 1 s", d)
	}
	deadline := time.Now().Add(5 * time.Second)
	for api.Opened() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if conns := api.WaitConnections(t, 1, 5*time.Second); conns[0] == first {
		t.Fatalf("connections %v after the drop", conns)
	}
	api.WaitAck(t, api.SendEnvelope(t, "events_api", event("EvBack", "UEN", "back")), 5*time.Second)
}

// TestSocketModeTooManyConnections: Slack keeps ten connections for an
// app and refuses the eleventh; the eleventh replica backs off instead of
// asking again and again.
func TestSocketModeTooManyConnections(t *testing.T) {
	api := slacktest.New(t, botToken)
	f := newShared(t)
	for range slacktest.MaxSocketConnections {
		replica(t, api, f.flows())
	}
	api.WaitConnections(t, slacktest.MaxSocketConnections, 10*time.Second)
	opens := len(api.Calls("apps.connections.open"))
	// The eleventh waits out its backoff on a clock that never moves.
	w := &waits{hold: true}
	eleventh := replicaWith(t, api, f.flows(), w, slog.DiscardHandler)
	if d := w.next(t, 0); d < crowdedBackoff*8/10 {
		t.Errorf("backoff %s after too_many_websockets, want at least %s", d, crowdedBackoff*8/10)
	}
	if n := api.Refused(); n != 1 {
		t.Errorf("the eleventh replica was refused %d times before its backoff, want once", n)
	}
	if n := len(api.Calls("apps.connections.open")) - opens; n != 1 {
		t.Errorf("the eleventh replica called apps.connections.open %d times before its backoff, want once", n)
	}
	if n := len(api.Connections()); n != slacktest.MaxSocketConnections {
		t.Errorf("%d connections, want %d", n, slacktest.MaxSocketConnections)
	}
	start := time.Now()
	if err := eleventh(); !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Errorf("the waiting replica stopped with %v after %s", err, time.Since(start))
	}
}

// TestSocketModeBadAppToken: an app token Slack refuses ends Socket Mode
// with the reason at once; no retry would help.
func TestSocketModeBadAppToken(t *testing.T) {
	api := slacktest.New(t, botToken)
	ad, err := slack.New(slack.Config{BotToken: botToken, AppToken: "xapp-revoked", APIURL: api.URL,
		Log: slog.New(slog.DiscardHandler), Policy: testPolicy()}, newShared(t).flows())
	if err != nil {
		t.Fatal(err)
	}
	defer ad.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ad.RunSocketMode(ctx); err == nil || !strings.Contains(err.Error(), "invalid_auth") || ctx.Err() != nil {
		t.Errorf("RunSocketMode with a refused token = %v, want invalid_auth at once", err)
	}
	if n := len(api.Calls("apps.connections.open")); n != 1 {
		t.Errorf("apps.connections.open called %d times, want once", n)
	}
}

// crowdedBackoff is the least wait, before jitter, after Slack refused a
// connection as one too many (slack.crowdedBackoff).
const crowdedBackoff = 30 * time.Second

// replacedLog is a log handler that sends on ended the connection of
// each "news from a replaced connection" the replica logs.
type replacedLog struct{ ended chan int }

func (l *replacedLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *replacedLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *replacedLog) WithGroup(string) slog.Handler            { return l }

func (l *replacedLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "slack: socket mode: news from a replaced connection" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "connection" {
			select {
			case l.ended <- int(a.Value.Int64()):
			default:
			}
		}
		return true
	})
	return nil
}
