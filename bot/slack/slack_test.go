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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack"
	"github.com/mamori-oss/mamori/bot/slack/slacktest"
	"github.com/mamori-oss/mamori/flows"
)

// The adapter takes the real engine.
var _ slack.Flows = (*flows.Service)(nil)

const (
	botToken = "xoxb-test-token"
	secret   = "test-signing-secret"
)

var jst = time.FixedZone("JST", 9*60*60)

// fakeFlows stands in for flows.Service at this boundary until the
// end-to-end tests through the real service exist: it records inputs and
// answers with canned messages.
type fakeFlows struct {
	mu        sync.Mutex
	inputs    []mamori.Input
	handleErr error
	details   map[string]detailsAnswer
	home      mamori.Message
	homeFor   []mamori.User
	viewers   []mamori.User

	// Take, Judge, Reopen and Suggestion: their answers and their calls.
	acts       map[string]detailsAnswer // by method
	judge      func(d mamori.Decision) (mamori.Message, error)
	suggestion mamori.Decision
	suggestErr error
	caseCalls  []caseCall
}

// caseCall is one call of Take, Judge, Reopen or Suggestion.
type caseCall struct {
	Method   string
	User     mamori.User
	Number   string
	Decision mamori.Decision
	Reason   string
}

func (f *fakeFlows) act(c caseCall) (mamori.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.caseCalls = append(f.caseCalls, c)
	if c.Method == "Judge" && f.judge != nil {
		return f.judge(c.Decision)
	}
	a, ok := f.acts[c.Method]
	if !ok {
		return mamori.Message{Text: c.Method + " done: " + c.Number}, nil
	}
	return a.msg, a.err
}

func (f *fakeFlows) Take(ctx context.Context, actor mamori.User, number string) (mamori.Message, error) {
	return f.act(caseCall{Method: "Take", User: actor, Number: number})
}

func (f *fakeFlows) Judge(ctx context.Context, actor mamori.User, number string, d mamori.Decision) (mamori.Message, error) {
	return f.act(caseCall{Method: "Judge", User: actor, Number: number, Decision: d})
}

func (f *fakeFlows) Reopen(ctx context.Context, actor mamori.User, number, reason string) (mamori.Message, error) {
	return f.act(caseCall{Method: "Reopen", User: actor, Number: number, Reason: reason})
}

func (f *fakeFlows) Ask(ctx context.Context, actor mamori.User, number, question string) (mamori.Message, error) {
	return f.act(caseCall{Method: "Ask", User: actor, Number: number, Reason: question})
}

func (f *fakeFlows) CareAction(ctx context.Context, actor mamori.User, action, id, note string) (mamori.Message, error) {
	return f.act(caseCall{Method: "Care:" + action, User: actor, Number: id, Reason: note})
}

func (f *fakeFlows) AssignTraining(ctx context.Context, actor mamori.User, number string) (mamori.Message, error) {
	return f.act(caseCall{Method: "AssignTraining", User: actor, Number: number})
}

// Open and Submit stand in until these tests use the real flows: the
// supervisors' forms are tested through mamori serve (cmd/mamori).
func (f *fakeFlows) Open(ctx context.Context, actor mamori.User, a mamori.Action) (*mamori.Form, mamori.Message, error) {
	m, err := f.act(caseCall{Method: a.Kind, User: actor, Number: a.Subject})
	return nil, m, err
}

func (f *fakeFlows) Submit(ctx context.Context, actor mamori.User, a mamori.Action, v mamori.Values) (mamori.Message, error) {
	return f.act(caseCall{Method: "Submit:" + a.Kind, User: actor, Number: a.Subject})
}

func (f *fakeFlows) Suggestion(ctx context.Context, actor mamori.User, number string) (mamori.Decision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.caseCalls = append(f.caseCalls, caseCall{Method: "Suggestion", User: actor, Number: number})
	return f.suggestion, f.suggestErr
}

// CaseCalls returns the calls of Take, Judge, Reopen and Suggestion.
func (f *fakeFlows) CaseCalls() []caseCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]caseCall(nil), f.caseCalls...)
}

func (f *fakeFlows) setJudge(fn func(d mamori.Decision) (mamori.Message, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.judge = fn
}

func (f *fakeFlows) setSuggestion(d mamori.Decision, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.suggestion, f.suggestErr = d, err
}

func (f *fakeFlows) setAct(method string, a detailsAnswer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acts[method] = a
}

func newFakeFlows() *fakeFlows {
	return &fakeFlows{details: map[string]detailsAnswer{}, acts: map[string]detailsAnswer{}}
}

type detailsAnswer struct {
	msg mamori.Message
	err error
}

func (f *fakeFlows) Handle(ctx context.Context, in mamori.Input) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	return f.handleErr
}

func (f *fakeFlows) CaseDetails(ctx context.Context, viewer mamori.User, number string) (mamori.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.viewers = append(f.viewers, viewer)
	a, ok := f.details[number]
	if !ok {
		return mamori.Message{}, fmt.Errorf("case %s: %w", number, mamori.ErrNotFound)
	}
	return a.msg, a.err
}

func (f *fakeFlows) Home(ctx context.Context, u mamori.User) (mamori.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.homeFor = append(f.homeFor, u)
	return f.home, nil
}

func (f *fakeFlows) Inputs() []mamori.Input {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mamori.Input(nil), f.inputs...)
}

func (f *fakeFlows) setDetails(number string, a detailsAnswer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.details[number] = a
}

func (f *fakeFlows) Viewers() []mamori.User {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mamori.User(nil), f.viewers...)
}

func (f *fakeFlows) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handleErr = err
}

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

// harness is an adapter served over loopback HTTP, talking to a fake Web API.
type harness struct {
	t     *testing.T
	api   *slacktest.Server
	flows *fakeFlows
	ad    *slack.Adapter
	srv   *httptest.Server

	mu  sync.Mutex
	now time.Time
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, api: slacktest.New(t, botToken), flows: newFakeFlows(),
		now: time.Date(2026, 10, 1, 9, 0, 0, 0, jst)}
	h.api.AddUser(slacktest.User{ID: "UJA", Name: "hanako", RealName: "山田 花子", Email: "hanako@example.co.jp", Locale: "ja-JP"})
	h.api.AddUser(slacktest.User{ID: "UEN", Name: "alex", RealName: "Alex Smith", Email: "alex@example.com", Locale: "en-US"})
	h.api.AddUser(slacktest.User{ID: "USUP", Name: "sato", RealName: "佐藤 課長", Email: "sato@example.co.jp", Locale: "ja-JP"})
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
	h.srv = httptest.NewServer(ad)
	t.Cleanup(func() {
		h.srv.Close()
		ad.Close()
	})
	return h
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
	form := url.Values{
		"token": {"legacy"}, "team_id": {"T0000001"}, "team_domain": {"example"},
		"channel_id": {"C0GENERAL"}, "channel_name": {"general"}, "user_id": {user}, "user_name": {"someone"},
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
	if in := h.flows.Inputs(); len(in) != 0 {
		t.Errorf("flows got %d inputs from refused requests", len(in))
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
	if in := h.flows.Inputs(); len(in) != 0 {
		t.Errorf("flows got %d inputs from malformed requests", len(in))
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

	en := mamori.User{Platform: "slack", ID: "UEN", Name: "alex", Email: "alex@example.com", Lang: mamori.EN}
	ja := mamori.User{Platform: "slack", ID: "UJA", Name: "hanako", Email: "hanako@example.co.jp", Lang: mamori.JA}
	want := []mamori.Input{
		{Kind: mamori.InputText, User: en, Text: "The customer shouted at me.", Delivery: "Ev0001"},
		{Kind: mamori.InputText, User: en, Text: "The customer shouted at me.", Delivery: "Ev0001"},
		{Kind: mamori.InputFile, User: ja, Text: "録音です", Delivery: "Ev0002",
			Files: []mamori.File{{ID: "F0001", Name: "recording.m4a", URL: "https://example.slack.com/files/UJA/F0001/recording.m4a"}}},
	}
	if diff := cmp.Diff(want, h.flows.Inputs()); diff != "" {
		t.Errorf("inputs (-want +got):\n%s", diff)
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
	h.event(dm("UEN", "one"), "Ev1", nil)
	h.mu.Lock()
	h.now = h.now.Add(11 * time.Minute)
	h.mu.Unlock()
	h.api.ServerError("users.info", 1)
	h.event(dm("UEN", "two"), "Ev2", nil) // lookup fails: Japanese, no email
	h.event(dm("UEN", "three"), "Ev3", nil)

	in := h.flows.Inputs()
	if len(in) != 3 {
		t.Fatalf("%d inputs", len(in))
	}
	if in[0].User.Lang != mamori.EN || in[1].User.Lang != mamori.JA || in[1].User.Email != "" || in[2].User.Lang != mamori.EN {
		t.Errorf("users = %+v / %+v / %+v", in[0].User, in[1].User, in[2].User)
	}
	if n := len(h.api.Calls("users.info")); n != 3 {
		t.Errorf("users.info calls = %d, want 3", n)
	}
}

func TestEventHandleFailureIsNotAcknowledged(t *testing.T) {
	h := newHarness(t)
	h.flows.setErr(errors.New("database is locked"))
	status, body := h.event(dm("UJA", "hello"), "Ev9", nil)
	if status != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500 so Slack retries", status)
	}
	if strings.Contains(body, "database") {
		t.Errorf("body leaks the internal error: %q", body)
	}
	h.flows.setErr(nil)
	if status, _ := h.event(dm("UJA", "hello"), "Ev9", http.Header{"X-Slack-Retry-Num": {"1"}}); status != http.StatusOK {
		t.Errorf("retry status = %d", status)
	}
	in := h.flows.Inputs()
	if len(in) != 2 || in[0].Delivery != in[1].Delivery {
		t.Errorf("inputs = %+v", in)
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
	if n := len(h.flows.Inputs()); n != 0 {
		t.Errorf("flows got %d inputs", n)
	}
}

func TestSlashCommand(t *testing.T) {
	tests := []struct {
		user, text, wantValue, wantAck string
	}{
		{"UJA", "", "", "Mamori とのDMを確認してください。"},
		{"UJA", " 報告 ", mamori.StartReport, "Mamori とのDMを確認してください。"},
		{"UJA", "相談", mamori.StartConsult, "Mamori とのDMを確認してください。"},
		{"UJA", "方針", mamori.StartPolicy, "Mamori とのDMを確認してください。"},
		{"UEN", "Report", mamori.StartReport, "Check your direct messages with Mamori."},
		{"UEN", "consult", mamori.StartConsult, "Check your direct messages with Mamori."},
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
			in := h.flows.Inputs()
			if len(in) != 1 || in[0].Kind != mamori.InputStart || in[0].Value != tt.wantValue || in[0].User.ID != tt.user || in[0].Delivery == "" {
				t.Errorf("inputs = %+v", in)
			}
		})
	}
}

func TestSlashCommandFailureSaysSo(t *testing.T) {
	h := newHarness(t)
	h.flows.setErr(errors.New("disk full"))
	status, body := h.command("UEN", "report")
	if status != http.StatusOK || !strings.Contains(body, "Something went wrong") || strings.Contains(body, "disk") {
		t.Errorf("status %d body %s", status, body)
	}
}

func question() mamori.Message {
	return mamori.Message{
		Text: "Are you safe now?", Step: "safety",
		Choices: []mamori.Choice{
			{Value: "safe", Label: "I am safe", Style: mamori.StylePrimary},
			{Value: "danger", Label: "I am in danger", Style: mamori.StyleDanger},
		},
		Controls: []mamori.Choice{{Value: "cancel", Label: "Cancel"}},
	}
}

func TestButtonClick(t *testing.T) {
	h := newHarness(t)
	blocks := blocksOf(t, question())
	status, _ := h.interact(clickPayload(t, "UEN", "DUEN", blocks, "danger"))
	if status != http.StatusOK {
		t.Fatalf("status = %d", status)
	}
	status, _ = h.interact(clickPayload(t, "UEN", "DUEN", blocks, "cancel"))
	if status != http.StatusOK {
		t.Fatalf("status = %d", status)
	}
	in := h.flows.Inputs()
	if len(in) != 2 {
		t.Fatalf("inputs = %+v", in)
	}
	if in[0].Kind != mamori.InputChoice || in[0].Step != "safety" || in[0].Value != "danger" || in[0].User.Lang != mamori.EN {
		t.Errorf("click = %+v", in[0])
	}
	if in[1].Kind != mamori.InputChoice || in[1].Step != "safety" || in[1].Value != "cancel" {
		t.Errorf("control click = %+v", in[1])
	}
	if in[0].Delivery == "" || in[0].Delivery == in[1].Delivery {
		t.Errorf("deliveries %q, %q: want distinct ids", in[0].Delivery, in[1].Delivery)
	}
	// The same click delivered again has the same id.
	h.interact(clickPayload(t, "UEN", "DUEN", blocks, "danger"))
	if again := h.flows.Inputs()[2]; again.Delivery != in[0].Delivery {
		t.Errorf("redelivered click id %q, want %q", again.Delivery, in[0].Delivery)
	}
	// The replies to a click in the DM may go through its response_url.
	if in[0].Respond == "" || !strings.HasPrefix(in[0].Respond, h.api.URL[:len(h.api.URL)-len("api/")]) {
		t.Errorf("click's Respond = %q, want the payload's response_url", in[0].Respond)
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

// TestButtonClickWithoutResponseURL: a click that brings no usable
// response_url is marked answered with chat.update, and its replies have
// no Respond. A response_url that is not Slack's (or the configured API
// host's) is never used.
func TestButtonClickWithoutResponseURL(t *testing.T) {
	for name, u := range map[string]any{"none": nil, "foreign": "https://attacker.example/actions/1"} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			p := clickPayload(t, "UEN", "DUEN", blocksOf(t, question()), "safe")
			if u == nil {
				delete(p, "response_url")
			} else {
				p["response_url"] = u
			}
			if status, _ := h.interact(p); status != http.StatusOK {
				t.Fatalf("status = %d", status)
			}
			if in := h.flows.Inputs(); len(in) != 1 || in[0].Respond != "" {
				t.Errorf("inputs = %+v, want one without Respond", in)
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
	if status, _ := h.interact(clickPayload(t, "UEN", "C0STORE", blocksOf(t, question()), "safe")); status != http.StatusOK {
		t.Fatalf("status = %d", status)
	}
	if in := h.flows.Inputs(); len(in) != 1 || in[0].Respond != "" {
		t.Errorf("inputs = %+v, want one without Respond", in)
	}
}

func TestButtonClickFailure(t *testing.T) {
	h := newHarness(t)
	h.flows.setErr(errors.New("boom"))
	status, body := h.interact(clickPayload(t, "UEN", "DUEN", blocksOf(t, question()), "safe"))
	if status != http.StatusInternalServerError || strings.Contains(body, "boom") {
		t.Errorf("status %d body %q", status, body)
	}
	c := h.api.WaitCalls(t, "chat.postEphemeral", 1, 5*time.Second)[0]
	if !strings.Contains(c.Get("text"), "Something went wrong") {
		t.Errorf("ephemeral = %v", c.Params)
	}
}

func behaviours16() *mamori.Multi {
	m := &mamori.Multi{Submit: mamori.Choice{Value: "done", Label: "Done"}}
	for i := 1; i <= 16; i++ {
		m.Options = append(m.Options, mamori.Choice{Value: fmt.Sprintf("b%02d", i), Label: fmt.Sprintf("Behaviour %d", i)})
	}
	return m
}

func TestMultiSubmit(t *testing.T) {
	h := newHarness(t)
	multi := behaviours16()
	multi.Selected = []string{"b03", "b12"}
	blocks := blocksOf(t, mamori.Message{Text: "Which?", Step: "behaviours", Multi: multi})

	// Toggling a checkbox only acknowledges.
	toggle := clickPayload(t, "UJA", "DUJA", blocks, "done")
	toggle["actions"] = []any{map[string]any{"type": "checkboxes", "block_id": "multi/1/behaviours", "action_id": "multi",
		"selected_options": []any{map[string]any{"value": "b11"}}, "action_ts": "1790000001.000001"}}
	if status, _ := h.interact(toggle); status != http.StatusOK {
		t.Fatalf("toggle status = %d", status)
	}
	if n := len(h.flows.Inputs()); n != 0 {
		t.Fatalf("toggle reached the flows: %d inputs", n)
	}

	// Submit: the state holds both groups; the first group's box for b03
	// was unticked and b01, b10 ticked; the second has b11 and b16.
	submit := clickPayload(t, "UJA", "DUJA", blocks, "done")
	opt := func(v string) map[string]any {
		return map[string]any{"text": map[string]any{"type": "plain_text", "text": v}, "value": v}
	}
	submit["state"] = map[string]any{"values": map[string]any{
		"multi/1/behaviours": map[string]any{"multi": map[string]any{"type": "checkboxes", "selected_options": []any{opt("b11"), opt("b16")}}},
		"multi/0/behaviours": map[string]any{"multi": map[string]any{"type": "checkboxes", "selected_options": []any{opt("b01"), opt("b10")}}},
		"multi/0/other":      map[string]any{"multi": map[string]any{"type": "checkboxes", "selected_options": []any{opt("x")}}},
	}}
	if status, _ := h.interact(submit); status != http.StatusOK {
		t.Fatalf("submit status = %d", status)
	}
	// Without a state for a group, its initial selection stands.
	partial := clickPayload(t, "UJA", "DUJA", blocks, "done")
	partial["actions"].([]any)[0].(map[string]any)["action_ts"] = "1790000002.000000"
	partial["state"] = map[string]any{"values": map[string]any{
		"multi/0/behaviours": map[string]any{"multi": map[string]any{"type": "checkboxes", "selected_options": []any{}}},
	}}
	h.interact(partial)

	in := h.flows.Inputs()
	if len(in) != 2 {
		t.Fatalf("inputs = %+v", in)
	}
	if in[0].Kind != mamori.InputMulti || in[0].Step != "behaviours" {
		t.Errorf("submit = %+v", in[0])
	}
	if diff := cmp.Diff([]string{"b01", "b10", "b11", "b16"}, in[0].Values); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b12"}, in[1].Values); diff != "" {
		t.Errorf("values with a group missing from the state (-want +got):\n%s", diff)
	}
}

func card() mamori.Message {
	return mamori.Message{
		Header: "KH-2026-0042", Step: mamori.StepCard, Text: "A new report.",
		Choices: []mamori.Choice{{Value: "details:KH-2026-0042", Label: "Details"}, {Value: "take:KH-2026-0042", Label: "Take"}},
	}
}

func TestCardDetails(t *testing.T) {
	h := newHarness(t)
	h.flows.setDetails("KH-2026-0042", detailsAnswer{msg: mamori.Message{Header: "KH-2026-0042 details",
		Fields: []mamori.Field{{Label: "Narrative", Value: "He shouted <!channel>."}}}})
	blocks := blocksOf(t, card())

	t.Run("allowed", func(t *testing.T) {
		status, _ := h.interact(clickPayload(t, "USUP", "CSUP", blocks, "details:KH-2026-0042"))
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
		if v := h.flows.Viewers(); len(v) != 1 || v[0].ID != "USUP" || v[0].Email != "sato@example.co.jp" {
			t.Errorf("viewers = %+v", v)
		}
		if n := len(h.flows.Inputs()); n != 0 {
			t.Errorf("details click went to Handle: %d inputs", n)
		}
	})

	t.Run("forbidden", func(t *testing.T) {
		h.flows.setDetails("KH-2026-0042", detailsAnswer{msg: mamori.Message{Text: "Only the case's supervisors and HR can see this."},
			err: fmt.Errorf("viewer: %w", mamori.ErrForbidden)})
		status, _ := h.interact(clickPayload(t, "UEN", "CSUP", blocks, "details:KH-2026-0042"))
		if status != http.StatusOK {
			t.Fatalf("status = %d", status)
		}
		c := h.api.WaitCalls(t, "chat.postEphemeral", 1, 5*time.Second)[0]
		if c.Get("channel") != "CSUP" || c.Get("user") != "UEN" || !strings.Contains(c.Get("blocks"), "Only the case") {
			t.Errorf("ephemeral = %v", c.Params)
		}
		if n := len(h.api.Calls("views.open")); n != 1 {
			t.Errorf("views.open calls = %d, want still 1", n)
		}
	})

	t.Run("unknown case", func(t *testing.T) {
		gone := card()
		gone.Choices[0].Value = "details:KH-2026-9999"
		h.interact(clickPayload(t, "USUP", "CSUP", blocksOf(t, gone), "details:KH-2026-9999"))
		c := h.api.WaitCalls(t, "chat.postEphemeral", 2, 5*time.Second)[1]
		if c.Get("user") != "USUP" || !strings.Contains(c.Get("text"), "うまくいきませんでした") || strings.Contains(c.Get("text"), "not found") {
			t.Errorf("ephemeral = %v", c.Params)
		}
	})

	t.Run("forbidden from App Home", func(t *testing.T) {
		p := clickPayload(t, "UEN", "", blocks, "details:KH-2026-0042")
		delete(p, "channel")
		p["container"] = map[string]any{"type": "view", "view_id": "V1"}
		if status, _ := h.interact(p); status != http.StatusOK {
			t.Fatalf("status = %d", status)
		}
		opens := h.api.Calls("views.open")
		if len(opens) != 2 || !strings.Contains(opens[1].Get("view"), "Only the case") {
			t.Errorf("views.open = %+v", opens)
		}
	})

	t.Run("other card actions go to the flows' Open", func(t *testing.T) {
		other := card()
		other.Choices[1].Value = "ack:KH-2026-0042"
		h.interact(clickPayload(t, "USUP", "CSUP", blocksOf(t, other), "ack:KH-2026-0042"))
		calls := h.flows.CaseCalls()
		if len(calls) != 1 || calls[0].Method != "ack" || calls[0].Number != "KH-2026-0042" || len(h.flows.Inputs()) != 0 {
			t.Errorf("calls = %+v, inputs = %+v", calls, h.flows.Inputs())
		}
	})
}

func TestAppHome(t *testing.T) {
	h := newHarness(t)
	h.flows.home = mamori.Message{Header: "Mamori", Step: "home",
		Choices: []mamori.Choice{{Value: mamori.StartReport, Label: "Report"}}}
	ev := map[string]any{"type": "app_home_opened", "user": "UEN", "channel": "DUEN", "tab": "home",
		"event_ts": "1790000000.000300"}
	if status, _ := h.event(ev, "EvHome", nil); status != http.StatusOK {
		t.Fatalf("status = %d", status)
	}
	c := h.api.WaitCalls(t, "views.publish", 1, 5*time.Second)[0]
	if c.Get("user_id") != "UEN" || !strings.Contains(c.Get("view"), `"type":"home"`) {
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
	h.flows.setErr(nil)
	ad, err := slack.New(slack.Config{BotToken: botToken, SigningSecret: secret, APIURL: h.api.URL, Clock: h.clock,
		Policy: testPolicy()}, panicky{})
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

type panicky struct{}

func (panicky) Handle(context.Context, mamori.Input) error { panic("boom") }
func (panicky) CaseDetails(context.Context, mamori.User, string) (mamori.Message, error) {
	panic("boom")
}
func (panicky) Home(context.Context, mamori.User) (mamori.Message, error) { panic("boom") }
func (panicky) CareAction(context.Context, mamori.User, string, string, string) (mamori.Message, error) {
	panic("boom")
}
func (panicky) AssignTraining(context.Context, mamori.User, string) (mamori.Message, error) {
	panic("boom")
}
func (panicky) Take(context.Context, mamori.User, string) (mamori.Message, error) {
	panic("boom")
}
func (panicky) Judge(context.Context, mamori.User, string, mamori.Decision) (mamori.Message, error) {
	panic("boom")
}
func (panicky) Reopen(context.Context, mamori.User, string, string) (mamori.Message, error) {
	panic("boom")
}
func (panicky) Ask(context.Context, mamori.User, string, string) (mamori.Message, error) {
	panic("boom")
}
func (panicky) Suggestion(context.Context, mamori.User, string) (mamori.Decision, error) {
	panic("boom")
}
func (panicky) Open(context.Context, mamori.User, mamori.Action) (*mamori.Form, mamori.Message, error) {
	panic("boom")
}
func (panicky) Submit(context.Context, mamori.User, mamori.Action, mamori.Values) (mamori.Message, error) {
	panic("boom")
}

func TestTypedTextIsUnescaped(t *testing.T) {
	h := newHarness(t)
	// Slack sends "A&B <3" as "A&amp;B &lt;3"; the flows keep what was typed.
	h.event(dm("UJA", "A&amp;B &lt;3 &gt; &amp;lt;"), "Ev0900", nil)
	in := h.flows.Inputs()
	if len(in) != 1 || in[0].Text != "A&B <3 > &lt;" {
		t.Fatalf("inputs = %+v", in)
	}
}
