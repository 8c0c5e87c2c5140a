package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack"
	"github.com/mamori-oss/mamori/bot/slack/slacktest"
	"github.com/mamori-oss/mamori/flows"
	"github.com/mamori-oss/mamori/store/mem"
)

// The adapter takes the real engine, and these tests give it one: the
// flows over the in-memory store (store/mem, which passes the stores'
// conformance suite). They check what the adapter answers Slack, what it
// posts to the fake Web API, and what the flows did with what it passed
// on, as the store keeps it.
var _ slack.Flows = (*flows.Service)(nil)

const (
	botToken = "xoxb-test-token"
	secret   = "test-signing-secret"
)

var jst = time.FixedZone("JST", 9*60*60)

// testPolicy is seed 004 (its actions, its medical exception, the built-in
// texts) with the adapter's own texts as the tests know them.
func testPolicy() *mamori.Policy {
	p, err := mamori.Preset("seed-004")
	if err != nil {
		panic(err)
	}
	for k, v := range map[string]mamori.Text{
		"slack.command_ack": {JA: "Mamori とのDMを確認してください。", EN: "Check your direct messages with Mamori."},
		"slack.error":       {JA: "うまくいきませんでした。もう一度お試しください。", EN: "Something went wrong. Please try again."},
		"slack.too_long":    {JA: "メッセージが長すぎます。分けて送ってください。", EN: "That message is too long. Please send it in parts."},
	} {
		p.Texts[k] = v
	}
	return p
}

// testOrg is one department, whose supervisors' channel is CSUP: sato
// supervises it and hanako and alex work in it, all named by email, so
// the flows know them only when the adapter passed their email on. HR's
// channel is CHR.
func testOrg() *mamori.Org {
	return &mamori.Org{Name: "Example", Lang: mamori.JA, HRChannel: "CHR", HR: []string{"hr@example.co.jp"},
		Departments: []mamori.Department{{ID: "store", Name: mamori.Text{JA: "店舗", EN: "Store"}, SupervisorChannel: "CSUP",
			Supervisors: []string{"sato@example.co.jp"}, Members: []string{"hanako@example.co.jp", "alex@example.com"}}}}
}

// The people of the fake workspace, as users.info describes them, and as
// the flows should see them.
var (
	hanako = slacktest.User{ID: "UJA", Name: "hanako", RealName: "山田 花子", Email: "hanako@example.co.jp", Locale: "ja-JP"}
	alex   = slacktest.User{ID: "UEN", Name: "alex", RealName: "Alex Smith", Email: "alex@example.com", Locale: "en-US"}
	sato   = slacktest.User{ID: "USUP", Name: "sato", RealName: "佐藤 課長", Email: "sato@example.co.jp", Locale: "ja-JP"}

	hanakoUser = mamori.User{Platform: mamori.PlatformSlack, ID: "UJA", Name: "hanako", Email: "hanako@example.co.jp", Lang: mamori.JA}
	alexUser   = mamori.User{Platform: mamori.PlatformSlack, ID: "UEN", Name: "alex", Email: "alex@example.com", Lang: mamori.EN}
)

// newFlows returns the flows over a new in-memory store, on clock (nil:
// the time now).
func newFlows(t *testing.T, clock mamori.Clock) (*flows.Service, *mem.DB) {
	t.Helper()
	db := mem.New()
	t.Cleanup(func() { db.Close() })
	svc := flows.NewService(db, testPolicy(), testOrg(), clock, nil)
	svc.Location = jst
	return svc, db
}

// harness is an adapter served over loopback HTTP, talking to a fake Web
// API and handing what comes to the flows over an in-memory store.
type harness struct {
	t     *testing.T
	api   *slacktest.Server
	flows *flows.Service
	db    *mem.DB
	ad    *slack.Adapter
	srv   *httptest.Server
	// cancel, when set, cancels the next request's context before the
	// adapter sees it, as Slack closing the connection would.
	cancel atomic.Bool

	mu  sync.Mutex
	now time.Time
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, api: slacktest.New(t, botToken), now: time.Date(2026, 10, 1, 9, 0, 0, 0, jst)}
	h.flows, h.db = newFlows(t, h.clock)
	for _, u := range []slacktest.User{hanako, alex, sato} {
		h.api.AddUser(u)
	}
	ad, err := slack.New(slack.Config{
		BotToken:      botToken,
		SigningSecret: secret,
		APIURL:        h.api.URL,
		Clock:         h.clock,
		Log:           slog.New(slog.DiscardHandler),
		Policy:        testPolicy(),
	}, h.flows)
	if err != nil {
		t.Fatal(err)
	}
	h.ad = ad
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.cancel.Swap(false) {
			ctx, cancel := context.WithCancel(r.Context())
			cancel()
			r = r.WithContext(ctx)
		}
		ad.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		h.srv.Close()
		ad.Close()
	})
	return h
}

// at puts a Slack user in a report at step with answers a, as if they had
// answered the questions before it and been shown this one. The store
// knows only their id: the rest must come from the adapter.
func (h *harness) at(id, step string, a mamori.Answers) {
	h.t.Helper()
	now := h.clock()
	c := mamori.Conversation{User: mamori.User{Platform: mamori.PlatformSlack, ID: id}, Flow: mamori.FlowReport, Step: step,
		Answers: a, Started: now, Updated: now}
	if err := h.db.Update(context.Background(), func(tx mamori.Tx) error { return tx.PutConversation(c) }); err != nil {
		h.t.Fatal(err)
	}
}

// conversation returns the conversation the store keeps for a Slack user.
func conversation(t *testing.T, db mamori.Store, id string) (mamori.Conversation, bool) {
	t.Helper()
	var c mamori.Conversation
	err := db.View(context.Background(), func(tx mamori.Tx) error {
		var err error
		c, err = tx.Conversation(mamori.User{Platform: mamori.PlatformSlack, ID: id}.Key())
		return err
	})
	if errors.Is(err, mamori.ErrNotFound) {
		return c, false
	} else if err != nil {
		t.Fatal(err)
	}
	return c, true
}

// outbox returns the messages the flows put in the outbox for the worker
// to send, oldest first.
func outbox(t *testing.T, db mamori.Store) []mamori.OutboxItem {
	t.Helper()
	items, err := db.ListOutbox(context.Background(), mamori.OutboxPending, 0)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// dms returns the messages in the outbox for a Slack user's DM.
func dms(t *testing.T, db mamori.Store, id string) []mamori.OutboxItem {
	t.Helper()
	var out []mamori.OutboxItem
	for _, it := range outbox(t, db) {
		if it.Target == (mamori.Target{Platform: mamori.PlatformSlack, Kind: mamori.TargetUser, ID: id}) {
			out = append(out, it)
		}
	}
	return out
}

// deliveries lists, in order, the deliveries the flows acted on: the
// outbox keys of Handle's replies are the delivery and the reply's
// number (mamori.FreshKey + delivery + ":" + n). Only for tests where
// nothing but Handle wrote: the case actions' keys look alike.
func deliveries(t *testing.T, db mamori.Store) []string {
	t.Helper()
	var out []string
	for _, it := range outbox(t, db) {
		rest, ok := strings.CutPrefix(it.Key, mamori.FreshKey)
		i := strings.LastIndex(rest, ":")
		if !ok || i < 0 {
			continue
		}
		if _, err := strconv.Atoi(rest[i+1:]); err != nil {
			continue
		}
		if d := rest[:i]; !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// repliesTo returns the replies to one delivery.
func repliesTo(t *testing.T, db mamori.Store, delivery string) []mamori.OutboxItem {
	t.Helper()
	var out []mamori.OutboxItem
	for _, it := range outbox(t, db) {
		if rest, ok := strings.CutPrefix(it.Key, mamori.FreshKey+delivery+":"); ok {
			if _, err := strconv.Atoi(rest); err == nil {
				out = append(out, it)
			}
		}
	}
	return out
}

// question returns the last question the flows put in the outbox for a
// Slack user: what the person is looking at.
func question(t *testing.T, db mamori.Store, id string) mamori.Message {
	t.Helper()
	ms := dms(t, db, id)
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Message.Step != "" {
			return ms[i].Message
		}
	}
	t.Fatalf("no question for %s in the outbox: %+v", id, ms)
	return mamori.Message{}
}

// fileCase stores the report KH-2026-0042 by hanako, filed as the flows
// file one: it went to her department's supervisors (CSUP).
func (h *harness) fileCase() mamori.Case {
	h.t.Helper()
	env := flows.Env{Policy: testPolicy(), Org: testOrg(), Now: h.clock()}
	c := mamori.Conversation{User: hanakoUser, Flow: mamori.FlowReport, Answers: mamori.Answers{
		Safety: "safe", ForWhom: "self", When: "2026-09-30", Narrative: "He shouted <!channel>.", Channel: "in_person",
		Behaviours: []string{"intimidation"}, Repeat: "first", Fault: "no", Wellbeing: "ok", Talk: "no"}}
	k := flows.BuildCase(env, c, "KH-2026-0042")
	if k.Route != mamori.RouteDepartment || k.Channel != "CSUP" {
		h.t.Fatalf("the case went to %s %s, want the department's channel", k.Route, k.Channel)
	}
	if err := h.db.Update(context.Background(), func(tx mamori.Tx) error { return tx.InsertCase(k) }); err != nil {
		h.t.Fatal(err)
	}
	return k
}

// card is the case's card as the flows render it for its channel.
func (h *harness) card(k mamori.Case) mamori.Message {
	return flows.Card(flows.Env{Policy: testPolicy(), Org: testOrg(), Now: h.clock()}, k, mamori.JA, jst)
}

// storedCase returns the case as the store keeps it.
func (h *harness) storedCase(number string) mamori.Case {
	h.t.Helper()
	var k mamori.Case
	err := h.db.View(context.Background(), func(tx mamori.Tx) error {
		var err error
		k, err = tx.Case(number)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return k
}

// audited returns the audit trail about subject as "actor action" lines.
func (h *harness) audited(subject string) []string {
	h.t.Helper()
	entries, err := h.db.AuditTrail(context.Background(), subject)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Actor+" "+e.Action)
	}
	return out
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

// post sends body to path signed with secret at the harness's now plus
// skew, with extra headers.
func (h *harness) post(path, contentType string, body []byte, skew time.Duration, extra http.Header) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range slacktest.Sign(secret, h.clock().Add(skew), body) {
		req.Header[k] = v
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

const formType = "application/x-www-form-urlencoded"

func (h *harness) command(user, text string) (int, string) {
	h.t.Helper()
	return h.commandIn("C0GENERAL", user, text)
}

// commandIn runs the slash command as user in channel.
func (h *harness) commandIn(channel, user, text string) (int, string) {
	h.t.Helper()
	form := url.Values{
		"token": {"legacy"}, "team_id": {"T0000001"}, "team_domain": {"example"},
		"channel_id": {channel}, "channel_name": {"general"}, "user_id": {user}, "user_name": {"someone"},
		"command": {"/kasuhara"}, "text": {text}, "api_app_id": {"A0MAMORI"},
		"response_url": {"https://hooks.slack.com/commands/T0000001/1/abc"},
		"trigger_id":   {"13345224609.738474920.8088930838d88f008e0" + user},
	}
	return h.post("/slack/commands", formType, []byte(form.Encode()), 0, nil)
}

func (h *harness) event(ev map[string]any, eventID string, extra http.Header) (int, string) {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{
		"token": "legacy", "team_id": "T0000001", "api_app_id": "A0MAMORI", "type": "event_callback",
		"event_id": eventID, "event_time": 1790000000, "event": ev,
		"authorizations": []map[string]any{{"team_id": "T0000001", "user_id": slacktest.BotUserID, "is_bot": true}},
	})
	return h.post("/slack/events", "application/json", body, 0, extra)
}

// responseURLPlaceholder in a payload stands for a response_url of the
// harness's fake, filled in by interact: a test never reaches Slack.
const responseURLPlaceholder = "response_url of the fake"

func (h *harness) interact(payload map[string]any) (int, string) {
	h.t.Helper()
	if payload["response_url"] == responseURLPlaceholder {
		c, _ := payload["container"].(map[string]any)
		ch, _ := c["channel_id"].(string)
		ts, _ := c["message_ts"].(string)
		u, _ := payload["user"].(map[string]any)
		id, _ := u["id"].(string)
		payload["response_url"] = h.api.ResponseURL(ch, ts, id)
	}
	b, _ := json.Marshal(payload)
	return h.post("/slack/interactivity", formType, []byte(url.Values{"payload": {string(b)}}.Encode()), 0, nil)
}

func dm(user, text string) map[string]any {
	return map[string]any{"type": "message", "channel": "D" + user, "user": user, "text": text,
		"ts": "1790000000.000100", "event_ts": "1790000000.000100", "channel_type": "im"}
}

// clickPayload is a block_actions payload for a click on the button with
// value in the message blocks, as Slack sends it.
func clickPayload(t *testing.T, user, channel string, blocks []map[string]any, value string) map[string]any {
	t.Helper()
	for _, b := range blocks {
		if b["type"] != "actions" {
			continue
		}
		for _, e := range b["elements"].([]any) {
			el := e.(map[string]any)
			if el["type"] == "button" && el["value"] == value {
				act := map[string]any{"type": "button", "block_id": b["block_id"], "action_id": el["action_id"],
					"value": value, "text": el["text"], "action_ts": "1790000001.123456"}
				if s, ok := el["style"]; ok {
					act["style"] = s
				}
				return map[string]any{
					"type": "block_actions", "token": "legacy", "api_app_id": "A0MAMORI",
					"user":         map[string]any{"id": user, "username": "someone", "name": "someone", "team_id": "T0000001"},
					"team":         map[string]any{"id": "T0000001", "domain": "example"},
					"container":    map[string]any{"type": "message", "message_ts": "1790000000.000200", "channel_id": channel, "is_ephemeral": false},
					"channel":      map[string]any{"id": channel, "name": "directmessage"},
					"trigger_id":   "1790000001.738474920.trigger" + user,
					"message":      map[string]any{"type": "message", "ts": "1790000000.000200", "blocks": blocks},
					"response_url": responseURLPlaceholder,
					"actions":      []any{act},
				}
			}
		}
	}
	t.Fatalf("no button with value %q", value)
	return nil
}

// blocksOf renders m as Slack would hand the blocks back in a payload.
func blocksOf(t *testing.T, m mamori.Message) []map[string]any {
	t.Helper()
	b, err := json.Marshal(slack.Blocks(m))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerifySlackExample(t *testing.T) {
	// From Slack's "Verifying requests from Slack".
	const (
		docSecret = "8f742231b10e8888abcd99yyyzzz85a5"
		docBody   = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
		docSig    = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	)
	stamp := time.Unix(1531420618, 0)
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", "1531420618")
	h.Set("X-Slack-Signature", docSig)

	if got := slacktest.Sign(docSecret, stamp, []byte(docBody)).Get("X-Slack-Signature"); got != docSig {
		t.Errorf("Sign = %s, want %s", got, docSig)
	}
	tests := []struct {
		name   string
		secret string
		body   string
		now    time.Time
		want   error
	}{
		{"the example", docSecret, docBody, stamp.Add(time.Minute), nil},
		{"five minutes exactly", docSecret, docBody, stamp.Add(5 * time.Minute), nil},
		{"stale", docSecret, docBody, stamp.Add(5*time.Minute + time.Second), slack.ErrStale},
		{"future", docSecret, docBody, stamp.Add(-5*time.Minute - time.Second), slack.ErrStale},
		{"body changed", docSecret, docBody + "x", stamp, slack.ErrBadSignature},
		{"other secret", "0" + docSecret[1:], docBody, stamp, slack.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := slack.Verify(tt.secret, h, []byte(tt.body), tt.now); !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRequestsAreVerified(t *testing.T) {
	h := newHarness(t)
	body := []byte(`{"type":"url_verification","challenge":"abc"}`)
	send := func(mutate func(*http.Request)) int {
		req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/slack/events", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range slacktest.Sign(secret, h.clock(), body) {
			req.Header[k] = v
		}
		mutate(req)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	tests := []struct {
		name   string
		mutate func(*http.Request)
		want   int
	}{
		{"signed", func(*http.Request) {}, http.StatusOK},
		{"forged signature", func(r *http.Request) {
			r.Header.Set("X-Slack-Signature", slacktest.Sign("another-secret", h.clock(), body).Get("X-Slack-Signature"))
		}, http.StatusUnauthorized},
		{"stale", func(r *http.Request) {
			old := h.clock().Add(-5*time.Minute - time.Second)
			for k, v := range slacktest.Sign(secret, old, body) {
				r.Header[k] = v
			}
		}, http.StatusUnauthorized},
		{"future-dated", func(r *http.Request) {
			ahead := h.clock().Add(5*time.Minute + time.Second)
			for k, v := range slacktest.Sign(secret, ahead, body) {
				r.Header[k] = v
			}
		}, http.StatusUnauthorized},
		{"no signature", func(r *http.Request) { r.Header.Del("X-Slack-Signature") }, http.StatusUnauthorized},
		{"no timestamp", func(r *http.Request) { r.Header.Del("X-Slack-Request-Timestamp") }, http.StatusUnauthorized},
		{"timestamp not a number", func(r *http.Request) { r.Header.Set("X-Slack-Request-Timestamp", "yesterday") }, http.StatusUnauthorized},
		{"timestamp absurd", func(r *http.Request) { r.Header.Set("X-Slack-Request-Timestamp", "-9223372036854775808") }, http.StatusUnauthorized},
		{"GET", func(r *http.Request) { r.Method = http.MethodGet }, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := send(tt.mutate); got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
		})
	}
	if items := outbox(t, h.db); len(items) != 0 {
		t.Errorf("the flows acted on refused requests: %+v", items)
	}
}

func TestMalformedAndOversize(t *testing.T) {
	h := newHarness(t)
	big := bytes.Repeat([]byte("a"), slack.MaxBody+1)
	tests := []struct {
		name, path, ctype string
		body              []byte
		want              int
	}{
		{"event not JSON", "/slack/events", "application/json", []byte(`{"type":`), http.StatusBadRequest},
		{"event without type", "/slack/events", "application/json", []byte(`{"event_id":"Ev1"}`), http.StatusBadRequest},
		{"event callback without event", "/slack/events", "application/json", []byte(`{"type":"event_callback","event_id":"Ev1"}`), http.StatusBadRequest},
		{"command not form", "/slack/commands", formType, []byte("user_id=%zz"), http.StatusBadRequest},
		{"command without user", "/slack/commands", formType, []byte("command=%2Fkasuhara&text="), http.StatusBadRequest},
		{"interaction without payload", "/slack/interactivity", formType, []byte("foo=bar"), http.StatusBadRequest},
		{"interaction payload not JSON", "/slack/interactivity", formType, []byte("payload=%7Bnope"), http.StatusBadRequest},
		{"block_actions without actions", "/slack/interactivity", formType,
			[]byte(url.Values{"payload": {`{"type":"block_actions","user":{"id":"UJA"}}`}}.Encode()), http.StatusBadRequest},
		{"oversize", "/slack/events", "application/json", big, http.StatusRequestEntityTooLarge},
		{"unknown path", "/slack/other", "application/json", []byte(`{}`), http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := h.post(tt.path, tt.ctype, tt.body, 0, nil)
			if status != tt.want {
				t.Errorf("status = %d (%q), want %d", status, body, tt.want)
			}
			if status == http.StatusBadRequest && strings.TrimSpace(body) == "" {
				t.Error("400 without an explanation")
			}
		})
	}
	if items := outbox(t, h.db); len(items) != 0 {
		t.Errorf("the flows acted on malformed requests: %+v", items)
	}
}

func TestURLVerification(t *testing.T) {
	h := newHarness(t)
	status, body := h.post("/slack/events", "application/json",
		[]byte(`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`), 0, nil)
	if status != http.StatusOK {
		t.Fatalf("status = %d", status)
	}
	var got struct{ Challenge string }
	if err := json.Unmarshal([]byte(body), &got); err != nil || got.Challenge != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Errorf("body = %s", body)
	}
}

func TestDirectMessages(t *testing.T) {
	h := newHarness(t)
	// Both are at the question about what happened, which takes text.
	h.at("UEN", "narrative", mamori.Answers{})
	h.at("UJA", "narrative", mamori.Answers{})

	// A message is text input from a user whose language and email come
	// from users.info.
	if status, _ := h.event(dm("UEN", "  The customer shouted at me.  "), "Ev0001", nil); status != http.StatusOK {
		t.Fatalf("status = %d", status)
	}
	// Slack retries the same event: the flows see the same delivery id.
	if status, _ := h.event(dm("UEN", "  The customer shouted at me.  "), "Ev0001",
		http.Header{"X-Slack-Retry-Num": {"1"}, "X-Slack-Retry-Reason": {"http_timeout"}}); status != http.StatusOK {
		t.Fatalf("retry status = %d", status)
	}
	// A file sent in the DM.
	file := dm("UJA", "録音です")
	file["subtype"] = "file_share"
	file["files"] = []map[string]any{{"id": "F0001", "name": "recording.m4a", "title": "recording",
		"permalink": "https://example.slack.com/files/UJA/F0001/recording.m4a", "url_private": "https://files.slack.com/x"}}
	h.event(file, "Ev0002", nil)

	// Not for the flows: the bot's own messages, other bots, edits,
	// deletions, channel messages, empty messages.
	own := dm(slacktest.BotUserID, "echo")
	bot := dm("UJA", "from a bot")
	bot["bot_id"] = "B0OTHER"
	botMsg := dm("UJA", "legacy bot")
	botMsg["subtype"] = "bot_message"
	changed := map[string]any{"type": "message", "subtype": "message_changed", "channel": "DUJA", "channel_type": "im",
		"message": map[string]any{"user": "UJA", "text": "edited"}}
	deleted := map[string]any{"type": "message", "subtype": "message_deleted", "channel": "DUJA", "channel_type": "im"}
	channel := dm("UJA", "in a channel")
	channel["channel_type"] = "channel"
	empty := dm("UJA", "  ")
	for i, ev := range []map[string]any{own, bot, botMsg, changed, deleted, channel, empty} {
		if status, _ := h.event(ev, fmt.Sprintf("EvIgnored%d", i), nil); status != http.StatusOK {
			t.Errorf("ignored event %d: status = %d", i, status)
		}
	}

	// The flows acted on the message once and on the file.
	if diff := cmp.Diff([]string{"Ev0001", "Ev0002"}, deliveries(t, h.db)); diff != "" {
		t.Errorf("deliveries acted on (-want +got):\n%s", diff)
	}
	c, _ := conversation(t, h.db, "UEN")
	if diff := cmp.Diff(alexUser, c.User); diff != "" {
		t.Errorf("the message's user (-want +got):\n%s", diff)
	}
	if c.Answers.Narrative != "The customer shouted at me." {
		t.Errorf("answer = %q", c.Answers.Narrative)
	}
	c, _ = conversation(t, h.db, "UJA")
	if diff := cmp.Diff(hanakoUser, c.User); diff != "" {
		t.Errorf("the file's user (-want +got):\n%s", diff)
	}
	wantFiles := []mamori.File{{ID: "F0001", Name: "recording.m4a", URL: "https://example.slack.com/files/UJA/F0001/recording.m4a"}}
	if diff := cmp.Diff(wantFiles, c.Answers.Files); diff != "" || c.Answers.Narrative != "録音です" {
		t.Errorf("answer %q, files (-want +got):\n%s", c.Answers.Narrative, diff)
	}
	// users.info was asked once per user (cached) and with the locale.
	infos := h.api.Calls("users.info")
	if len(infos) != 2 {
		t.Errorf("users.info called %d times, want 2 (cached)", len(infos))
	}
	for _, c := range infos {
		if c.Get("include_locale") != "true" {
			t.Errorf("users.info without include_locale: %v", c.Params)
		}
	}
}

func TestUserCacheExpiresAndLookupFailureMeansJapanese(t *testing.T) {
	h := newHarness(t)
	h.at("UEN", "narrative", mamori.Answers{})
	var users []mamori.User
	say := func(id, text string) {
		h.event(dm("UEN", text), id, nil)
		c, _ := conversation(t, h.db, "UEN")
		users = append(users, c.User)
	}
	say("Ev1", "one")
	h.mu.Lock()
	h.now = h.now.Add(11 * time.Minute)
	h.mu.Unlock()
	h.api.ServerError("users.info", 1)
	say("Ev2", "two") // lookup fails: Japanese, no email
	// Not asked again at once: while Slack fails, each click would wait
	// for it.
	say("Ev3", "three")
	if n := len(h.api.Calls("users.info")); n != 2 {
		t.Errorf("users.info calls right after a failure = %d, want 2", n)
	}
	h.mu.Lock()
	h.now = h.now.Add(31 * time.Second)
	h.mu.Unlock()
	say("Ev4", "four")

	if n := len(deliveries(t, h.db)); n != 4 {
		t.Fatalf("%d deliveries acted on, want 4", n)
	}
	if users[0].Lang != mamori.EN || users[1].Lang != mamori.JA || users[1].Email != "" || users[2].Lang != mamori.JA || users[3].Lang != mamori.EN {
		t.Errorf("users = %+v / %+v / %+v / %+v", users[0], users[1], users[2], users[3])
	}
	if n := len(h.api.Calls("users.info")); n != 3 {
		t.Errorf("users.info calls = %d, want 3", n)
	}
}

func TestEventHandleFailureIsNotAcknowledged(t *testing.T) {
	h := newHarness(t)
	h.at("UJA", "narrative", mamori.Answers{})
	// Slack closes the connection while the adapter works: the store
	// refuses the cancelled transaction.
	h.cancel.Store(true)
	status, body := h.event(dm("UJA", "he shouted at me"), "Ev9", nil)
	if status != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500 so Slack retries", status)
	}
	if strings.Contains(body, "cancel") || strings.Contains(body, "context") {
		t.Errorf("body leaks the internal error: %q", body)
	}
	if d := deliveries(t, h.db); len(d) != 0 {
		t.Fatalf("the failed attempt was kept: %v", d)
	}
	// Slack's retry is acted on.
	if status, _ := h.event(dm("UJA", "he shouted at me"), "Ev9", http.Header{"X-Slack-Retry-Num": {"1"}}); status != http.StatusOK {
		t.Errorf("retry status = %d", status)
	}
	if c, _ := conversation(t, h.db, "UJA"); c.Answers.Narrative != "he shouted at me" || !slices.Equal(deliveries(t, h.db), []string{"Ev9"}) {
		t.Errorf("after the retry: answer %q, deliveries %v", c.Answers.Narrative, deliveries(t, h.db))
	}
}

func TestTooLongMessage(t *testing.T) {
	h := newHarness(t)
	status, _ := h.event(dm("UEN", strings.Repeat("あ", slack.MaxText+1)), "EvLong", nil)
	if status != http.StatusOK {
		t.Fatalf("status = %d", status)
	}
	c := h.api.WaitCalls(t, "chat.postEphemeral", 1, 5*time.Second)[0]
	if c.Get("channel") != "DUEN" || c.Get("user") != "UEN" || !strings.Contains(c.Get("text"), "too long") {
		t.Errorf("ephemeral = %v", c.Params)
	}
	if items := outbox(t, h.db); len(items) != 0 {
		t.Errorf("the flows acted on it: %+v", items)
	}
}

func TestSlashCommand(t *testing.T) {
	tests := []struct {
		user, text string
		want       string // where the person lands: the menu (""), a report, a consultation, the policy
		wantAck    string
	}{
		{"UJA", "", "", "Mamori とのDMを確認してください。"},
		{"UJA", " 報告 ", mamori.FlowReport, "Mamori とのDMを確認してください。"},
		{"UJA", "相談", mamori.FlowConsult, "Mamori とのDMを確認してください。"},
		{"UJA", "方針", mamori.StartPolicy, "Mamori とのDMを確認してください。"},
		{"UEN", "Report", mamori.FlowReport, "Check your direct messages with Mamori."},
		{"UEN", "consult", mamori.FlowConsult, "Check your direct messages with Mamori."},
		{"UEN", "policy", mamori.StartPolicy, "Check your direct messages with Mamori."},
		{"UEN", "something else", "", "Check your direct messages with Mamori."},
	}
	for _, tt := range tests {
		t.Run(tt.user+"/"+tt.text, func(t *testing.T) {
			h := newHarness(t)
			status, body := h.command(tt.user, tt.text)
			if status != http.StatusOK {
				t.Fatalf("status = %d", status)
			}
			var ack map[string]string
			if err := json.Unmarshal([]byte(body), &ack); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(map[string]string{"response_type": "ephemeral", "text": tt.wantAck}, ack); diff != "" {
				t.Errorf("ack (-want +got):\n%s", diff)
			}
			if d := deliveries(t, h.db); len(d) != 1 || !strings.HasPrefix(d[0], "command:") {
				t.Errorf("deliveries = %v, want the command's", d)
			}
			lang := mamori.JA
			if tt.user == "UEN" {
				lang = mamori.EN
			}
			replies := dms(t, h.db, tt.user)
			if len(replies) == 0 {
				t.Fatal("no reply in the DM")
			}
			for _, r := range replies {
				if r.Lang != lang {
					t.Errorf("reply in %s, want %s: %+v", r.Lang, lang, r.Message)
				}
			}
			landed := ""
			if c, ok := conversation(t, h.db, tt.user); ok {
				landed = c.Flow
			} else if replies[0].Message.Header == testPolicy().Name.In(lang) {
				landed = mamori.StartPolicy
			}
			if landed != tt.want {
				t.Errorf("landed at %q, want %q; replies %+v", landed, tt.want, replies)
			}
		})
	}
}

// TestSlashCommandInTheDM (found by a user trial): the command used in
// the app's DM itself gets no word pointing to the DM — the menu is
// right there; used anywhere else, it still does.
func TestSlashCommandInTheDM(t *testing.T) {
	h := newHarness(t)
	if status, _ := h.event(dm("UJA", "こんにちは"), "Ev0DM1", nil); status != http.StatusOK {
		t.Fatal(status)
	}
	if status, body := h.commandIn("DUJA", "UJA", ""); status != http.StatusOK || strings.Contains(body, "DM") {
		t.Errorf("in the DM: %d %q", status, body)
	}
	if _, body := h.commandIn("DUEN", "UJA", ""); !strings.Contains(body, "ephemeral") {
		t.Errorf("in another DM: %q", body)
	}
}

func TestSlashCommandFailureSaysSo(t *testing.T) {
	h := newHarness(t)
	h.db.Close()
	status, body := h.command("UEN", "report")
	if status != http.StatusOK || !strings.Contains(body, "Something went wrong") || strings.Contains(body, "closed") {
		t.Errorf("status %d body %s", status, body)
	}
}

// startReport has a Slack user start a report with the slash command and
// returns the first question the flows asked.
func (h *harness) startReport(id string) mamori.Message {
	h.t.Helper()
	if status, _ := h.command(id, "report"); status != http.StatusOK {
		h.t.Fatalf("command: status %d", status)
	}
	q := question(h.t, h.db, id)
	if q.Step != "safety" {
		h.t.Fatalf("the report began with %+v, want the safety question", q)
	}
	return q
}

func TestButtonClick(t *testing.T) {
	h := newHarness(t)
	blocks := blocksOf(t, h.startReport("UEN"))
	status, _ := h.interact(clickPayload(t, "UEN", "DUEN", blocks, "safe"))
	if status != http.StatusOK {
		t.Fatalf("status = %d", status)
	}
	if c, _ := conversation(t, h.db, "UEN"); c.Answers.Safety != "safe" || c.User.Lang != mamori.EN {
		t.Errorf("after the click: %+v", c)
	}
	// A control (cancel) on the question asked next.
	status, _ = h.interact(clickPayload(t, "UEN", "DUEN", blocksOf(t, question(t, h.db, "UEN")), "nav:cancel"))
	if status != http.StatusOK {
		t.Fatalf("status = %d", status)
	}
	if c, _ := conversation(t, h.db, "UEN"); c.Step != "cancel" {
		t.Errorf("after the control click: step %q, want cancel", c.Step)
	}
	ds := deliveries(t, h.db)
	if len(ds) != 3 {
		t.Fatalf("deliveries %q: want the command's and two distinct clicks'", ds)
	}
	// The same click delivered again has the same id: nothing more is done.
	h.interact(clickPayload(t, "UEN", "DUEN", blocks, "safe"))
	if again := deliveries(t, h.db); !slices.Equal(again, ds) {
		t.Errorf("deliveries after a redelivered click: %q, want %q", again, ds)
	}
	if c, _ := conversation(t, h.db, "UEN"); c.Step != "cancel" {
		t.Errorf("the redelivered click moved the conversation to %q", c.Step)
	}
	// The replies to a click in the DM may go through its response_url.
	replies := repliesTo(t, h.db, ds[1])
	if len(replies) == 0 {
		t.Fatal("no replies to the click")
	}
	for _, r := range replies {
		if r.Target.ID == "UEN" && !strings.HasPrefix(r.Message.Respond, h.api.URL[:len(h.api.URL)-len("api/")]) {
			t.Errorf("reply's Respond = %q, want the payload's response_url", r.Message.Respond)
		}
	}
	// The answered question is replaced in place through the response_url
	// (no chat.update, whose rate limit would leave most questions with
	// buttons): its buttons give way to the answer.
	up := h.api.WaitCalls(t, "response_url", 1, 5*time.Second)[0]
	if up.Get("replace_original") != "true" {
		t.Errorf("mark = %v, want replace_original", up.JSON)
	}
	if b := up.Get("blocks"); strings.Contains(b, `"button"`) || !strings.Contains(b, "✓") {
		t.Errorf("updated blocks = %s", b)
	}
	if n := len(h.api.Calls("chat.update")); n != 0 {
		t.Errorf("%d chat.update calls, want the marks through response_url", n)
	}
}

// clickReplies returns the replies the flows put in the DM for the last
// click, which must have answered the safety question.
func clickReplies(t *testing.T, h *harness, id string) []mamori.OutboxItem {
	t.Helper()
	if c, _ := conversation(t, h.db, id); c.Answers.Safety != "safe" {
		t.Fatalf("the click was not taken: %+v", c)
	}
	ds := deliveries(t, h.db)
	replies := repliesTo(t, h.db, ds[len(ds)-1])
	if len(replies) == 0 {
		t.Fatal("no replies to the click")
	}
	return replies
}

// TestButtonClickWithoutResponseURL: a click that brings no usable
// response_url is marked answered with chat.update, and its replies have
// no Respond. A response_url that is not Slack's (or the configured API
// host's) is never used.
func TestButtonClickWithoutResponseURL(t *testing.T) {
	for name, u := range map[string]any{"none": nil, "foreign": "https://attacker.example/actions/1"} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			p := clickPayload(t, "UEN", "DUEN", blocksOf(t, h.startReport("UEN")), "safe")
			if u == nil {
				delete(p, "response_url")
			} else {
				p["response_url"] = u
			}
			if status, _ := h.interact(p); status != http.StatusOK {
				t.Fatalf("status = %d", status)
			}
			for _, r := range clickReplies(t, h, "UEN") {
				if r.Message.Respond != "" {
					t.Errorf("reply with Respond %q", r.Message.Respond)
				}
			}
			up := h.api.WaitCalls(t, "chat.update", 1, 5*time.Second)[0]
			if up.Get("channel") != "DUEN" || up.Get("ts") != "1790000000.000200" {
				t.Errorf("update = %v", up.Params)
			}
			if b := up.Get("blocks"); strings.Contains(b, `"button"`) || !strings.Contains(b, "✓") {
				t.Errorf("updated blocks = %s", b)
			}
		})
	}
}

// TestClickOutsideDMHasNoRespond: the flows' replies go to the clicker's
// DM, so a click elsewhere (a channel) must not hand them a response_url
// that would answer in that channel.
func TestClickOutsideDMHasNoRespond(t *testing.T) {
	h := newHarness(t)
	if status, _ := h.interact(clickPayload(t, "UEN", "C0STORE", blocksOf(t, h.startReport("UEN")), "safe")); status != http.StatusOK {
		t.Fatalf("status = %d", status)
	}
	for _, r := range clickReplies(t, h, "UEN") {
		if r.Message.Respond != "" {
			t.Errorf("reply with Respond %q", r.Message.Respond)
		}
	}
}

func TestButtonClickFailure(t *testing.T) {
	h := newHarness(t)
	blocks := blocksOf(t, h.startReport("UEN"))
	h.db.Close()
	status, body := h.interact(clickPayload(t, "UEN", "DUEN", blocks, "safe"))
	if status != http.StatusInternalServerError || strings.Contains(body, "closed") {
		t.Errorf("status %d body %q", status, body)
	}
	c := h.api.WaitCalls(t, "chat.postEphemeral", 1, 5*time.Second)[0]
	if !strings.Contains(c.Get("text"), "Something went wrong") {
		t.Errorf("ephemeral = %v", c.Params)
	}
}

func TestMultiSubmit(t *testing.T) {
	h := newHarness(t)
	var ids []string
	for _, b := range testPolicy().Behaviours {
		ids = append(ids, b.ID)
	}
	if len(ids) <= 10 {
		t.Fatalf("%d behaviours: the test wants more than one group of checkboxes", len(ids))
	}
	last := len(ids) - 1
	// hanako reaches the behaviours, one ticked earlier in each group.
	ticked := mamori.Answers{Behaviours: []string{ids[2], ids[last]}}
	h.at("UJA", "demand", ticked)
	h.event(dm("UJA", "返金しろと言われた"), "EvDemand", nil)
	q := question(t, h.db, "UJA")
	if q.Step != "behaviours" || q.Multi == nil {
		t.Fatalf("question = %+v, want the behaviours' checkboxes", q)
	}
	blocks := blocksOf(t, q)
	done := q.Multi.Submit.Value
	before := deliveries(t, h.db)

	// Toggling a checkbox only acknowledges.
	toggle := clickPayload(t, "UJA", "DUJA", blocks, done)
	toggle["actions"] = []any{map[string]any{"type": "checkboxes", "block_id": "multi/1/behaviours", "action_id": "multi",
		"selected_options": []any{map[string]any{"value": ids[10]}}, "action_ts": "1790000001.000001"}}
	if status, _ := h.interact(toggle); status != http.StatusOK {
		t.Fatalf("toggle status = %d", status)
	}
	if d := deliveries(t, h.db); !slices.Equal(d, before) {
		t.Fatalf("toggle reached the flows: %v", d)
	}

	// Submit: the state holds both groups; the first group's box for
	// ids[2] was unticked and ids[0], ids[9] ticked; the second has
	// ids[10] and the last.
	submit := clickPayload(t, "UJA", "DUJA", blocks, done)
	opt := func(v string) map[string]any {
		return map[string]any{"text": map[string]any{"type": "plain_text", "text": v}, "value": v}
	}
	submit["state"] = map[string]any{"values": map[string]any{
		"multi/1/behaviours": map[string]any{"multi": map[string]any{"type": "checkboxes", "selected_options": []any{opt(ids[10]), opt(ids[last])}}},
		"multi/0/behaviours": map[string]any{"multi": map[string]any{"type": "checkboxes", "selected_options": []any{opt(ids[0]), opt(ids[9])}}},
		"multi/0/other":      map[string]any{"multi": map[string]any{"type": "checkboxes", "selected_options": []any{opt("x")}}},
	}}
	if status, _ := h.interact(submit); status != http.StatusOK {
		t.Fatalf("submit status = %d", status)
	}
	c, _ := conversation(t, h.db, "UJA")
	if diff := cmp.Diff([]string{ids[0], ids[9], ids[10], ids[last]}, c.Answers.Behaviours); diff != "" || c.Step == "behaviours" {
		t.Errorf("at %q, behaviours (-want +got):\n%s", c.Step, diff)
	}

	// Without a state for a group, its initial selection stands. (Back at
	// the question, as it was shown.)
	h.at("UJA", "behaviours", ticked)
	partial := clickPayload(t, "UJA", "DUJA", blocks, done)
	partial["actions"].([]any)[0].(map[string]any)["action_ts"] = "1790000002.000000"
	partial["state"] = map[string]any{"values": map[string]any{
		"multi/0/behaviours": map[string]any{"multi": map[string]any{"type": "checkboxes", "selected_options": []any{}}},
	}}
	h.interact(partial)
	c, _ = conversation(t, h.db, "UJA")
	if diff := cmp.Diff([]string{ids[last]}, c.Answers.Behaviours); diff != "" {
		t.Errorf("behaviours with a group missing from the state (-want +got):\n%s", diff)
	}
}

func TestCardDetails(t *testing.T) {
	h := newHarness(t)
	k := h.fileCase()
	blocks := blocksOf(t, h.card(k))
	details := mamori.Action{Kind: mamori.CardDetails, Subject: k.Number}.Value()

	t.Run("allowed", func(t *testing.T) {
		status, _ := h.interact(clickPayload(t, "USUP", "CSUP", blocks, details))
		if status != http.StatusOK {
			t.Fatalf("status = %d", status)
		}
		opens := h.api.Calls("views.open")
		if len(opens) != 1 {
			t.Fatalf("views.open calls = %d", len(opens))
		}
		if got := opens[0].Get("trigger_id"); got != "1790000001.738474920.triggerUSUP" {
			t.Errorf("trigger_id = %q", got)
		}
		var view struct {
			Type   string
			Blocks []map[string]any
		}
		if err := opens[0].Decode("view", &view); err != nil {
			t.Fatal(err)
		}
		raw := opens[0].Get("view")
		if view.Type != "modal" || !strings.Contains(raw, "He shouted \\u0026lt;!channel\\u0026gt;.") {
			t.Errorf("view = %s", raw)
		}
		// The supervisor, known to the flows by the email users.info gave.
		if diff := cmp.Diff([]string{"slack:USUP case.viewed"}, h.audited(k.Number)); diff != "" {
			t.Errorf("audit (-want +got):\n%s", diff)
		}
		if m := dms(t, h.db, "USUP"); len(m) != 0 {
			t.Errorf("details click went to Handle: %+v", m)
		}
	})

	t.Run("forbidden", func(t *testing.T) {
		status, _ := h.interact(clickPayload(t, "UEN", "CSUP", blocks, details))
		if status != http.StatusOK {
			t.Fatalf("status = %d", status)
		}
		c := h.api.WaitCalls(t, "chat.postEphemeral", 1, 5*time.Second)[0]
		if c.Get("channel") != "CSUP" || c.Get("user") != "UEN" || !strings.Contains(c.Get("blocks"), "can see this case") {
			t.Errorf("ephemeral = %v", c.Params)
		}
		if n := len(h.api.Calls("views.open")); n != 1 {
			t.Errorf("views.open calls = %d, want still 1", n)
		}
		if a := h.audited(k.Number); !slices.Contains(a, "slack:UEN case.view_refused") {
			t.Errorf("audit = %q", a)
		}
	})

	t.Run("unknown case", func(t *testing.T) {
		gone := mamori.Message{Step: mamori.StepCard, Choices: []mamori.Choice{{Value: "details:KH-2026-9999", Label: "詳細"}}}
		h.interact(clickPayload(t, "USUP", "CSUP", blocksOf(t, gone), "details:KH-2026-9999"))
		c := h.api.WaitCalls(t, "chat.postEphemeral", 2, 5*time.Second)[1]
		if c.Get("user") != "USUP" || !strings.Contains(c.Get("text"), "うまくいきませんでした") || strings.Contains(c.Get("text"), "見つかりません") {
			t.Errorf("ephemeral = %v", c.Params)
		}
	})

	t.Run("forbidden from App Home", func(t *testing.T) {
		p := clickPayload(t, "UEN", "", blocks, details)
		delete(p, "channel")
		p["container"] = map[string]any{"type": "view", "view_id": "V1"}
		if status, _ := h.interact(p); status != http.StatusOK {
			t.Fatalf("status = %d", status)
		}
		opens := h.api.Calls("views.open")
		if len(opens) != 2 || !strings.Contains(opens[1].Get("view"), "can see this case") {
			t.Errorf("views.open = %+v", opens)
		}
	})

	t.Run("other card actions go to the flows' Open", func(t *testing.T) {
		take := mamori.Action{Kind: mamori.CardTake, Subject: k.Number}.Value()
		h.interact(clickPayload(t, "USUP", "CSUP", blocks, take))
		c := h.api.WaitCalls(t, "chat.postEphemeral", 3, 5*time.Second)[2]
		if c.Get("channel") != "CSUP" || c.Get("user") != "USUP" || !strings.Contains(c.Get("text"), "を担当します") {
			t.Errorf("ephemeral = %v", c.Params)
		}
		if got := h.storedCase(k.Number); got.Status != mamori.StatusTaken || got.Assignee != "slack:USUP" {
			t.Errorf("case %s, assignee %q; want taken by USUP", got.Status, got.Assignee)
		}
		if m := dms(t, h.db, "USUP"); len(m) != 0 {
			t.Errorf("take went to Handle: %+v", m)
		}
	})
}

// submit posts a view_submission and returns the status and the decoded
// JSON answer (nil for an empty one).
func (h *harness) submit(payload map[string]any) (int, map[string]any) {
	h.t.Helper()
	status, body := h.interact(payload)
	if strings.TrimSpace(body) == "" {
		return status, nil
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		h.t.Fatalf("answer %q is not JSON: %v", body, err)
	}
	return status, out
}

// TestCardForm: a card's judge button opens the flows' form as a modal; a
// submission the flows refuse keeps it open with their words under the
// input; one they accept closes it and is recorded; someone who may not
// judge sees the modal turn into the refusal; a failure keeps the modal.
func TestCardForm(t *testing.T) {
	h := newHarness(t)
	p := testPolicy()
	k := h.fileCase()
	judge := mamori.Action{Kind: mamori.CardJudge, Subject: k.Number}.Value()
	if status, _ := h.interact(clickPayload(t, "USUP", "CSUP", blocksOf(t, h.card(k)), judge)); status != http.StatusOK {
		t.Fatalf("status = %d", status)
	}
	open := h.api.WaitCalls(t, "views.open", 1, 5*time.Second)[0]
	if v := open.Get("view"); !strings.Contains(v, `"callback_id":"mamori.form"`) || !strings.Contains(v, k.Number) || strings.Contains(v, "He shouted") {
		t.Errorf("judge modal = %s", v)
	}
	form, err := slacktest.OpenedForm(open)
	if err != nil {
		t.Fatal(err)
	}

	status, ack := h.submit(form.Submission("USUP"))
	pick := fmt.Sprintf(p.T(mamori.JA, "judge.pick"), p.T(mamori.JA, "judge.validity"))
	if diff := cmp.Diff(map[string]any{"response_action": "errors", "errors": map[string]any{"validity": pick}}, ack); status != http.StatusOK || diff != "" {
		t.Errorf("nothing chosen: status %d, ack (-want +got):\n%s", status, diff)
	}

	for _, err := range []error{
		form.Choose("validity", "invalid"), form.Choose("means", "unacceptable"), form.Choose("outcome", mamori.OutcomeKasuhara),
		form.Choose("actions", "police"), form.Type("note", "  店長にも共有  "),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if status, ack := h.submit(form.Submission("USUP")); status != http.StatusOK || ack["response_action"] != "clear" {
		t.Fatalf("submission answered %d %v", status, ack)
	}
	got := h.storedCase(k.Number)
	if d := got.Decision; got.Status != mamori.StatusJudged || d == nil || d.By != "slack:USUP" || d.Validity != "invalid" ||
		d.Outcome != mamori.OutcomeKasuhara || !slices.Equal(d.Actions, []string{"police"}) || d.Note != "店長にも共有" {
		t.Errorf("case %s, decision %+v", got.Status, got.Decision)
	}
	eph := h.api.WaitCalls(t, "chat.postEphemeral", 1, 5*time.Second)[0]
	if eph.Get("channel") != "CSUP" || eph.Get("user") != "USUP" || !strings.Contains(eph.Get("text"), "の判断を記録し") {
		t.Errorf("confirmation = %v", eph.Params)
	}

	status, ack = h.submit(form.Submission("UEN"))
	if view, _ := json.Marshal(ack["view"]); status != http.StatusOK || ack["response_action"] != "update" ||
		!strings.Contains(string(view), "Sorry, only") {
		t.Errorf("someone who may not judge: %d %v", status, ack)
	}

	h.db.Close()
	status, ack = h.submit(form.Submission("USUP"))
	if errs, _ := ack["errors"].(map[string]any); status != http.StatusOK || len(errs) != 1 || !strings.Contains(fmt.Sprint(errs), "うまくいきませんでした") {
		t.Errorf("failure: %d %v", status, ack)
	}
	if n := len(h.api.Calls("chat.postEphemeral")); n != 1 {
		t.Errorf("%d ephemerals, want only the one confirmation", n)
	}
}

func TestAppHome(t *testing.T) {
	h := newHarness(t)
	ev := map[string]any{"type": "app_home_opened", "user": "UEN", "channel": "DUEN", "tab": "home",
		"event_ts": "1790000000.000300"}
	if status, _ := h.event(ev, "EvHome", nil); status != http.StatusOK {
		t.Fatalf("status = %d", status)
	}
	c := h.api.WaitCalls(t, "views.publish", 1, 5*time.Second)[0]
	// The flows' home, in alex's language.
	if v := c.Get("view"); c.Get("user_id") != "UEN" || !strings.Contains(v, `"type":"home"`) ||
		!strings.Contains(v, testPolicy().T(mamori.EN, "menu.report")) {
		t.Errorf("views.publish = %v", c.JSON)
	}
	// The messages tab does not publish.
	ev["tab"] = "messages"
	h.event(ev, "EvHome2", nil)
	h.ad.Close()
	if n := len(h.api.Calls("views.publish")); n != 1 {
		t.Errorf("views.publish calls = %d", n)
	}
}

func TestPanicIsRecovered(t *testing.T) {
	h := newHarness(t)
	// A service without a store panics at its first transaction.
	broken := flows.NewService(nil, testPolicy(), testOrg(), h.clock, nil)
	if p := func() (p any) {
		defer func() { p = recover() }()
		broken.Handle(context.Background(), mamori.Input{Kind: mamori.InputText, User: hanakoUser, Text: "hi"})
		return nil
	}(); p == nil {
		t.Fatal("a service without a store did not panic: this test needs another way to make the flows panic")
	}
	ad, err := slack.New(slack.Config{BotToken: botToken, SigningSecret: secret, APIURL: h.api.URL, Clock: h.clock,
		Policy: testPolicy()}, broken)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ad)
	defer srv.Close()
	body, _ := json.Marshal(map[string]any{"type": "event_callback", "event_id": "EvP", "event": dm("UJA", "hi")})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/slack/events", bytes.NewReader(body))
	for k, v := range slacktest.Sign(secret, h.clock(), body) {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusInternalServerError {
		t.Errorf("status = %d", res.StatusCode)
	}
}

func TestTypedTextIsUnescaped(t *testing.T) {
	h := newHarness(t)
	h.at("UJA", "narrative", mamori.Answers{})
	// Slack sends "A&B <3" as "A&amp;B &lt;3"; the flows keep what was typed.
	h.event(dm("UJA", "A&amp;B &lt;3 &gt; &amp;lt;"), "Ev0900", nil)
	if c, _ := conversation(t, h.db, "UJA"); c.Answers.Narrative != "A&B <3 > &lt;" {
		t.Fatalf("answer = %q", c.Answers.Narrative)
	}
}
