package slack_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
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

// The fuzz targets here feed what Slack sends — signed or not, well
// formed or not — to the adapter as an HTTP handler, with the real flows
// over a fresh in-memory store behind it and the fake Web API in front,
// and check what must hold whatever comes: no panic (the handler
// recovers from one, so its log is watched), a request not signed as
// Slack signs is refused with 401 and reaches nothing, a refused request
// (4xx) queues nothing, and nothing is queued for an id Slack could not
// deliver to. Seeds: f.Add below, and testdata/fuzz/<target>.

// fuzzNow is the fuzz targets' fixed clock: the same input gives the
// same run.
var fuzzNow = time.Date(2026, 10, 1, 9, 0, 0, 0, jst)

// sign is Slack's signature of body sent at ts (a header value, as is).
func sign(key, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

func slackHeaders(ts, sig string) http.Header {
	h := http.Header{}
	if ts != "" {
		h.Set("X-Slack-Request-Timestamp", ts)
	}
	if sig != "" {
		h.Set("X-Slack-Signature", sig)
	}
	return h
}

// FuzzVerify: a signature made with the secret over the timestamp and the
// body is accepted within the five minutes, and a change to the body, the
// timestamp or the signature is refused.
func FuzzVerify(f *testing.F) {
	const (
		docSecret = "8f742231b10e8888abcd99yyyzzz85a5"
		docBody   = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	)
	now := strconv.FormatInt(fuzzNow.Unix(), 10)
	docSig := sign(docSecret, now, []byte(docBody))
	f.Add(docSecret, []byte(docBody), now, docSig, []byte(docBody+"x"), strconv.FormatInt(fuzzNow.Unix()+1, 10))
	f.Add(secret, []byte(`{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}`), now, "v0=", []byte(`{}`), "+"+now)
	f.Add(secret, []byte(""), strconv.FormatInt(fuzzNow.Unix()-300, 10), strings.ToUpper(docSig), []byte(" "), "0"+now)
	f.Add(secret, []byte("payload=%7B%7D"), strconv.FormatInt(fuzzNow.Unix()+301, 10), "", []byte("payload=%7B%7D"), "")
	f.Add("", []byte("a"), "abc", "v0=00", []byte("a"), "9223372036854775807")

	f.Fuzz(func(t *testing.T, key string, body []byte, ts, sig string, body2 []byte, ts2 string) {
		valid := sign(key, ts, body)
		sec, perr := strconv.ParseInt(ts, 10, 64)
		fresh := perr == nil && key != "" && ts != "" && sec >= fuzzNow.Unix()-300 && sec <= fuzzNow.Unix()+300

		err := slack.Verify(key, slackHeaders(ts, valid), body, fuzzNow)
		if fresh && err != nil {
			t.Fatalf("a valid signature at %q refused: %v", ts, err)
		}
		if !fresh && !errors.Is(err, slack.ErrStale) && !errors.Is(err, slack.ErrMissingHeaders) {
			t.Fatalf("timestamp %q (secret %q): %v, want it stale or missing", ts, key, err)
		}
		if err := slack.Verify(key, slackHeaders(ts, sig), body, fuzzNow); err == nil && sig != valid {
			t.Fatalf("signature %q accepted; only %q is valid", sig, valid)
		}
		if err := slack.Verify(key, slackHeaders(ts, valid), body2, fuzzNow); err == nil && !bytes.Equal(body, body2) {
			t.Fatalf("a signature over %q accepted for %q", body, body2)
		}
		if err := slack.Verify(key, slackHeaders(ts2, valid), body, fuzzNow); err == nil && ts2 != ts {
			t.Fatalf("a signature at %q accepted for %q", ts, ts2)
		}
	})
}

// Routes of FuzzSlackHTTP, by its route argument.
var fuzzRoutes = []string{slack.PathCommands, slack.PathInteractivity, slack.PathEvents}

// Tampering of FuzzSlackHTTP, by its tamper argument (mod tampers).
const (
	signed      = iota // signed as Slack signs
	bodyChanged        // signed, then the body changed
	tsChanged          // the timestamp changed, still within the window
	sigChanged         // one hex digit of the signature changed
	stale              // signed six minutes ago
	unsigned           // no signature headers
	tampers
)

// Ids Slack could send, for the outbox check: anything else in a queued
// message's target could not be delivered.
var (
	slackUserID    = regexp.MustCompile(`^[UW][0-9A-Z]+$`)
	slackChannelID = regexp.MustCompile(`^[CDG][0-9A-Z]+$`)
)

// FuzzSlackHTTP posts a request to the adapter's HTTP handler: route
// picks the path, tamper how the request is signed.
func FuzzSlackHTTP(f *testing.F) {
	r := newSlackFuzzRig(f)
	for _, s := range r.seeds(f) {
		for _, tamper := range []uint8{signed, bodyChanged, sigChanged} {
			f.Add(s.route, s.body, tamper)
		}
	}
	f.Add(uint8(0), []byte("command=%2Fkasuhara&user_id=UJA"), uint8(tsChanged))
	f.Add(uint8(2), []byte(`{"type":"url_verification","challenge":"c"}`), uint8(stale))
	f.Add(uint8(1), []byte("payload=%7B%7D"), uint8(unsigned))

	f.Fuzz(func(t *testing.T, route uint8, body []byte, tamper uint8) {
		r.post(t, fuzzRoutes[int(route)%len(fuzzRoutes)], body, tamper%tampers)
	})
}

// FuzzSlackSocket hands a Socket Mode message to the adapter as its
// connection's reader does: an envelope is acknowledged (200 or 400, the
// acknowledgement valid JSON naming it) and anything else reaches
// nothing.
func FuzzSlackSocket(f *testing.F) {
	r := newSlackFuzzRig(f)
	types := []string{"slash_commands", "interactive", "events_api"}
	for _, s := range r.seeds(f) {
		payload := s.body
		switch s.route {
		case 0:
			form, err := url.ParseQuery(string(s.body))
			if err != nil {
				continue // not UTF-8: JSON cannot carry it
			}
			m := map[string]string{}
			for k := range form {
				m[k] = form.Get(k)
			}
			payload, _ = json.Marshal(m)
		case 1:
			form, _ := url.ParseQuery(string(s.body))
			payload = []byte(form.Get("payload"))
		}
		frame, err := json.Marshal(map[string]any{"envelope_id": "a3f9c2d0-5e1b-4c7e-9d2a-7b1e0c4f8a61", "type": types[s.route],
			"payload": json.RawMessage(payload), "accepts_response_payload": s.route != 2, "retry_attempt": 0, "retry_reason": ""})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame)
	}
	f.Add([]byte(`{"type":"hello","num_connections":1,"debug_info":{"host":"applink-1","build_number":1,"approximate_connection_time":18060},"connection_info":{"app_id":"A0MAMORI"}}`))
	f.Add([]byte(`{"type":"disconnect","reason":"refresh_requested","debug_info":{"host":"applink-1"}}`))
	f.Add([]byte(`{"type":"events_api","payload":{"type":"event_callback"}}`))

	f.Fuzz(func(t *testing.T, frame []byte) {
		var handled bool
		var status int
		var ack []byte
		r.run(t, "socket mode", func(ad *slack.Adapter) int {
			handled, status, ack = ad.SocketFrame(context.Background(), frame)
			if !handled {
				return http.StatusBadRequest // not an envelope: it must reach nothing
			}
			return status
		})
		if !handled {
			return
		}
		var a struct {
			EnvelopeID string `json:"envelope_id"`
		}
		switch {
		case status != http.StatusOK && status != http.StatusBadRequest:
			t.Fatalf("envelope answered %d, want 200 or 400 (acknowledged)", status)
		case json.Unmarshal(ack, &a) != nil || a.EnvelopeID == "":
			t.Fatalf("acknowledgement %q is not JSON naming the envelope", ack)
		}
	})
}

// slackFuzzRig is what the runs of FuzzSlackHTTP share: the fake Web API,
// the policy, and the state each run's store starts from.
type slackFuzzRig struct {
	api    *slacktest.Server
	policy *mamori.Policy
	log    *panicLog
	// conv is hanako at her report's first question; kase is a report
	// filed to CSUP, which sato supervises.
	conv     mamori.Conversation
	question mamori.Message
	kase     mamori.Case
}

func newSlackFuzzRig(f *testing.F) *slackFuzzRig {
	r := &slackFuzzRig{api: slacktest.New(f, botToken), policy: testPolicy(), log: &panicLog{}}
	for _, u := range []slacktest.User{hanako, alex, sato} {
		r.api.AddUser(u)
	}
	ctx := context.Background()
	db := mem.New()
	defer db.Close()
	svc := r.flows(db)
	if err := svc.Handle(ctx, mamori.Input{Kind: mamori.InputStart, User: hanakoUser, Value: mamori.StartReport}); err != nil {
		f.Fatal(err)
	}
	err := db.View(ctx, func(tx mamori.Tx) error {
		var err error
		r.conv, err = tx.Conversation(hanakoUser.Key())
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	items, err := db.ListOutbox(ctx, mamori.OutboxPending, 0)
	if err != nil {
		f.Fatal(err)
	}
	for _, it := range items {
		if it.Message.Step != "" {
			r.question = it.Message
		}
	}
	if r.question.Step == "" {
		f.Fatal("the report asked no question")
	}
	env := flows.Env{Policy: r.policy, Org: testOrg(), Now: fuzzNow}
	r.kase = flows.BuildCase(env, mamori.Conversation{User: hanakoUser, Flow: mamori.FlowReport, Answers: mamori.Answers{
		Safety: "safe", ForWhom: "self", When: "2026-09-30", Narrative: "He shouted.", Channel: "in_person",
		Behaviours: []string{"intimidation"}, Repeat: "first", Fault: "no", Wellbeing: "ok", Talk: "no"}}, "KH-2026-0042")
	return r
}

func (r *slackFuzzRig) flows(db *mem.DB) *flows.Service {
	svc := flows.NewService(db, r.policy, testOrg(), func() time.Time { return fuzzNow }, nil)
	svc.Location = jst
	return svc
}

// watched is the flows, counting the calls that may queue a message.
type watched struct {
	slack.Flows
	mu    sync.Mutex
	acted []string
}

func (w *watched) note(what string, u mamori.User) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.acted = append(w.acted, what+" by "+strconv.Quote(u.ID))
}

func (w *watched) Handle(ctx context.Context, in mamori.Input) error {
	w.note("Handle", in.User)
	return w.Flows.Handle(ctx, in)
}

func (w *watched) Open(ctx context.Context, actor mamori.User, a mamori.Action) (*mamori.Form, mamori.Message, error) {
	w.note("Open", actor)
	return w.Flows.Open(ctx, actor, a)
}

func (w *watched) Submit(ctx context.Context, actor mamori.User, a mamori.Action, v mamori.Values) (mamori.Message, error) {
	w.note("Submit", actor)
	return w.Flows.Submit(ctx, actor, a, v)
}

// run hands one request to a new adapter over a new store holding the
// rig's conversation and case (send, which returns the status it was
// answered with), waits for the work after the answer, and checks what
// must hold whatever the request: no panic; refused (4xx), nothing done;
// nothing queued for an id Slack could not deliver to.
func (r *slackFuzzRig) run(t *testing.T, what string, send func(*slack.Adapter) int) int {
	ctx := context.Background()
	db := mem.New()
	defer db.Close()
	err := db.Update(ctx, func(tx mamori.Tx) error {
		if err := tx.PutConversation(r.conv); err != nil {
			return err
		}
		return tx.InsertCase(r.kase)
	})
	if err != nil {
		t.Fatal(err)
	}
	fl := &watched{Flows: r.flows(db)}
	r.log.reset()
	r.api.Reset()
	ad, err := slack.New(slack.Config{BotToken: botToken, SigningSecret: secret, AppToken: r.api.AppToken, APIURL: r.api.URL,
		Clock: func() time.Time { return fuzzNow }, Log: slog.New(r.log), Policy: r.policy}, fl)
	if err != nil {
		t.Fatal(err)
	}
	status := send(ad)
	ad.Close() // waits for the work after the answer

	if p := r.log.panics(); len(p) > 0 {
		t.Fatalf("%s: the adapter panicked: %s", what, strings.Join(p, "; "))
	}
	queued, err := db.ListOutbox(ctx, mamori.OutboxPending, 0)
	if err != nil {
		t.Fatal(err)
	}
	if status >= 400 && (len(fl.acted) > 0 || len(queued) > 0) {
		t.Fatalf("%s: refused with %d, yet the flows were called (%q) and %d messages queued", what, status, fl.acted, len(queued))
	}
	for _, it := range queued {
		if !deliverable(it.Target) {
			t.Fatalf("%s: a message queued for %+v, which Slack cannot deliver to (flows called: %q)", what, it.Target, fl.acted)
		}
	}
	return status
}

// post posts body to path, signed as tamper says, and checks the status:
// 401 unless signed as Slack signs, else 200 or 400.
func (r *slackFuzzRig) post(t *testing.T, path string, body []byte, tamper uint8) {
	ts := strconv.FormatInt(fuzzNow.Unix(), 10)
	sent := body
	var h http.Header
	switch tamper {
	case signed:
		h = slackHeaders(ts, sign(secret, ts, body))
	case bodyChanged:
		h = slackHeaders(ts, sign(secret, ts, body))
		sent = append(bytes.Clone(body), ' ')
	case tsChanged:
		h = slackHeaders(strconv.FormatInt(fuzzNow.Unix()-1, 10), sign(secret, ts, body))
	case sigChanged:
		sig := []byte(sign(secret, ts, body))
		sig[len(sig)-1] = "1032547698badcfe"[strings.IndexByte("0123456789abcdef", sig[len(sig)-1])]
		h = slackHeaders(ts, string(sig))
	case stale:
		old := strconv.FormatInt(fuzzNow.Add(-6*time.Minute).Unix(), 10)
		h = slackHeaders(old, sign(secret, old, body))
	case unsigned:
		h = http.Header{}
	}
	var answer string
	what := fmt.Sprintf("%s (tamper %d)", path, tamper)
	status := r.run(t, what, func(ad *slack.Adapter) int {
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(sent))
		for k, v := range h {
			req.Header[k] = v
		}
		if path == slack.PathEvents {
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		rec := httptest.NewRecorder()
		ad.ServeHTTP(rec, req)
		answer = rec.Body.String()
		return rec.Code
	})
	switch {
	case tamper != signed && status != http.StatusUnauthorized:
		t.Fatalf("%s: status %d for a request not signed as Slack signs, want 401", what, status)
	case tamper == signed && status != http.StatusOK && status != http.StatusBadRequest:
		t.Fatalf("%s: status %d, want 200 or 400: %s", what, status, answer)
	}
}

// deliverable reports whether a Slack target has the shape of an id Slack
// gives. (Every target of the fuzz targets' organisation is a Slack id.)
func deliverable(t mamori.Target) bool {
	switch t.Kind {
	case mamori.TargetUser:
		return slackUserID.MatchString(t.ID)
	case mamori.TargetChannel:
		return slackChannelID.MatchString(t.ID)
	}
	return false
}

// slackSeed is one request of the seed corpus.
type slackSeed struct {
	route uint8 // index in fuzzRoutes
	body  []byte
}

// seeds are requests as Slack sends them, built from what Mamori renders:
// slash commands, direct messages, App Home, clicks on a question and on
// a case card, a form's submission, shortcuts, and malformed ids.
func (r *slackFuzzRig) seeds(f *testing.F) []slackSeed {
	command := func(user, text string) slackSeed {
		form := url.Values{"token": {"legacy"}, "team_id": {"T0000001"}, "team_domain": {"example"},
			"channel_id": {"C0GENERAL"}, "channel_name": {"general"}, "user_id": {user}, "user_name": {"someone"},
			"command": {"/kasuhara"}, "text": {text}, "api_app_id": {"A0MAMORI"},
			"response_url": {"https://hooks.slack.com/commands/T0000001/1/abc"},
			"trigger_id":   {"13345224609.738474920.8088930838d88f008e0"}}
		return slackSeed{0, []byte(form.Encode())}
	}
	jsonOf := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	event := func(ev map[string]any) slackSeed {
		return slackSeed{2, jsonOf(map[string]any{"token": "legacy", "team_id": "T0000001", "api_app_id": "A0MAMORI",
			"type": "event_callback", "event_id": "Ev0FUZZ", "event_time": 1790000000, "event": ev})}
	}
	interact := func(p map[string]any) slackSeed {
		return slackSeed{1, []byte(url.Values{"payload": {string(jsonOf(p))}}.Encode())}
	}
	click := func(user, channel string, m mamori.Message, value string) map[string]any {
		var blocks []map[string]any
		if err := json.Unmarshal(jsonOf(slack.Blocks(m)), &blocks); err != nil {
			f.Fatal(err)
		}
		act := map[string]any{"type": "button", "value": value, "action_ts": "1790000001.123456"}
		for _, b := range blocks {
			els, _ := b["elements"].([]any)
			for _, e := range els {
				if el, _ := e.(map[string]any); el["value"] == value {
					act["block_id"], act["action_id"], act["text"] = b["block_id"], el["action_id"], el["text"]
				}
			}
		}
		if act["block_id"] == nil {
			f.Fatalf("no button %q", value)
		}
		return map[string]any{"type": "block_actions", "token": "legacy", "api_app_id": "A0MAMORI",
			"user":       map[string]any{"id": user, "username": "someone", "team_id": "T0000001"},
			"team":       map[string]any{"id": "T0000001", "domain": "example"},
			"container":  map[string]any{"type": "message", "message_ts": "1790000000.000200", "channel_id": channel},
			"channel":    map[string]any{"id": channel, "name": "directmessage"},
			"trigger_id": "1790000001.738474920.trigger", "response_url": r.api.ResponseURL(channel, "1790000000.000200", user),
			"message": map[string]any{"type": "message", "ts": "1790000000.000200", "blocks": blocks},
			"actions": []any{act}}
	}

	// The judge form, filled in, as sato submits it.
	judge := mamori.Action{Kind: mamori.CardJudge, Subject: r.kase.Number}
	db := mem.New()
	defer db.Close()
	if err := db.Update(context.Background(), func(tx mamori.Tx) error { return tx.InsertCase(r.kase) }); err != nil {
		f.Fatal(err)
	}
	satoUser := mamori.User{Platform: mamori.PlatformSlack, ID: "USUP", Email: "sato@example.co.jp", Lang: mamori.JA}
	form, _, err := r.flows(db).Open(context.Background(), satoUser, judge)
	if err != nil || form == nil {
		f.Fatalf("the judge form: %v %v", form, err)
	}
	var view map[string]any
	if err := json.Unmarshal(jsonOf(slack.FormModal(*form, "CSUP")), &view); err != nil {
		f.Fatal(err)
	}
	view["id"] = "V0FUZZ"
	filled, err := slacktest.NewForm(view)
	if err != nil {
		f.Fatal(err)
	}
	for _, err := range []error{filled.Choose("validity", "invalid"), filled.Choose("means", "unacceptable"),
		filled.Choose("outcome", mamori.OutcomeKasuhara), filled.Type("note", "店長にも共有")} {
		if err != nil {
			f.Fatal(err)
		}
	}
	card := flows.Card(flows.Env{Policy: r.policy, Org: testOrg(), Now: fuzzNow}, r.kase, mamori.JA, jst)

	answer := r.question.Choices[0].Value
	return []slackSeed{
		command("UJA", "report"),
		command("UEN", "相談"),
		command("U0NEW", ""),
		command("U\xff", "report"),
		command("uja", "report"),
		event(dm("UJA", "返金しろと言われた &lt;怖かった&gt;")),
		event(map[string]any{"type": "message", "subtype": "file_share", "channel": "DUJA", "user": "UJA", "channel_type": "im",
			"files": []any{map[string]any{"id": "F0001", "name": "rec.m4a", "permalink": "https://example.slack.com/files/UJA/F0001/rec.m4a"}}}),
		event(map[string]any{"type": "app_home_opened", "user": "UEN", "channel": "DUEN", "tab": "home", "event_ts": "1790000000.000300"}),
		event(dm("U\u00ffJA", "hello")),
		{2, []byte(`{"token":"legacy","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)},
		{2, []byte(`{"type":"app_rate_limited","team_id":"T0000001","minute_rate_limited":1518467820}`)},
		interact(click("UJA", "DUJA", r.question, answer)),
		interact(click("USUP", "CSUP", card, judge.Value())),
		interact(click("USUP", "CSUP", card, mamori.Action{Kind: mamori.CardDetails, Subject: r.kase.Number}.Value())),
		interact(filled.Submission("USUP")),
		interact(map[string]any{"type": "shortcut", "callback_id": "mamori.sos", "trigger_id": "1790000001.1.t",
			"user": map[string]any{"id": "UJA"}, "team": map[string]any{"id": "T0000001"}}),
		interact(map[string]any{"type": "message_action", "callback_id": "mamori.report", "trigger_id": "1790000001.1.t",
			"user": map[string]any{"id": "UJA"}, "channel": map[string]any{"id": "C0GENERAL"},
			"message": map[string]any{"type": "message", "user": "UEN", "text": "…", "ts": "1790000000.000100"}}),
		interact(map[string]any{"type": "view_closed", "user": map[string]any{"id": "USUP"}, "view": map[string]any{"id": "V0FUZZ"}}),
	}
}

// panicLog is a log handler that keeps the records of a panic the adapter
// recovered from, which would otherwise pass unseen.
type panicLog struct {
	mu     sync.Mutex
	caught []string
}

func (l *panicLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *panicLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *panicLog) WithGroup(string) slog.Handler            { return l }

func (l *panicLog) Handle(_ context.Context, rec slog.Record) error {
	if !strings.Contains(rec.Message, "panic") {
		return nil
	}
	s := rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		s += " " + a.Key + "=" + a.Value.String()
		return true
	})
	l.mu.Lock()
	l.caught = append(l.caught, s)
	l.mu.Unlock()
	return nil
}

func (l *panicLog) reset() {
	l.mu.Lock()
	l.caught = nil
	l.mu.Unlock()
}

func (l *panicLog) panics() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.caught...)
}
