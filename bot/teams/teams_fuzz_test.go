package teams_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/teams"
	"github.com/mamori-oss/mamori/bot/teams/teamstest"
	"github.com/mamori-oss/mamori/flows"
	"github.com/mamori-oss/mamori/store/mem"
)

// The fuzz targets here feed the adapter what the Bot Connector posts —
// activities, and the tokens that authenticate them — with the real
// flows over a fresh in-memory store behind it and the fake Connector
// (with its own keys) in front, and check what must hold whatever comes:
// no panic (the handler recovers from one, so its log is watched), a
// token the Connector did not issue is refused and the activity reaches
// nothing, a refused activity (4xx) queues nothing, and nothing is queued
// for an id Teams could not deliver to. Seeds: f.Add below, and
// testdata/fuzz/<target>.

// serviceURLSeed stands in seeds for the fake Connector's serviceUrl,
// which changes from run to run (its port); it is replaced before
// posting. It is the Connector's own, so the seeds read as Teams sends
// them.
const serviceURLSeed = "https://smba.trafficmanager.net/jp/"

// Token tampering of FuzzTeamsActivity, by its tamper argument (mod
// tampers).
const (
	tokenValid     = iota // issued by the fake Connector for its serviceUrl
	tokenNone             // no Authorization header
	tokenForged           // a signature byte changed
	tokenElsewhere        // issued for another serviceUrl
	tokenBasic            // not a bearer token
	tampers
)

// FuzzTeamsActivity posts an activity to the adapter's handler with a
// token tamper says.
func FuzzTeamsActivity(f *testing.F) {
	r := newTeamsFuzzRig(f)
	for _, s := range r.seeds(f) {
		f.Add(s, uint8(tokenValid))
	}
	msg, _ := json.Marshal(r.activity("message", tanaka, teamstest.Personal(tanaka), map[string]any{"text": "報告"}))
	for _, tamper := range []uint8{tokenNone, tokenForged, tokenElsewhere, tokenBasic} {
		f.Add(msg, tamper)
	}

	f.Fuzz(func(t *testing.T, body []byte, tamper uint8) {
		r.post(t, body, tamper%tampers)
	})
}

// teamsFuzzRig is what the runs of FuzzTeamsActivity share: the fake
// Connector, its tokens, the policy, and the state each run's store
// starts from.
type teamsFuzzRig struct {
	fake   *teamstest.Fake
	now    time.Time
	policy *mamori.Policy
	log    *panicLog
	// tokens by tamper.
	tokens [tampers]string
	// conv is tanaka at her report's first question; kase a report filed
	// to the store's supervisors (sato).
	conv     mamori.Conversation
	question mamori.Message
	kase     mamori.Case
}

var tanakaUser = mamori.User{Platform: mamori.PlatformTeams, ID: "aad-tanaka", Name: tanaka.Name, Email: tanaka.Email, Lang: mamori.JA}

func newTeamsFuzzRig(f *testing.F) *teamsFuzzRig {
	p, err := mamori.Preset("mhlw-2022")
	if err != nil {
		f.Fatal(err)
	}
	fake := teamstest.New(f, teamstest.Options{AppID: appID, Password: "pw", Forget: true})
	for _, m := range []teamstest.Member{tanaka, sato} {
		fake.AddMember(m)
	}
	// The clock stands still, so that the same input gives the same run,
	// a little after the tokens were issued.
	r := &teamsFuzzRig{fake: fake, now: time.Now(), policy: p, log: &panicLog{}}
	valid := fake.Token()
	// A character in the middle of the signature: a change there changes
	// the signature's bytes.
	sig := strings.LastIndexByte(valid, '.') + 10
	flip := "A"
	if valid[sig] == 'A' {
		flip = "B"
	}
	forged := valid[:sig] + flip + valid[sig+1:]
	elsewhere := fake.Claims()
	elsewhere.ServiceURL = "https://smba.example.net/"
	r.tokens = [tampers]string{
		tokenValid:     "Bearer " + valid,
		tokenForged:    "Bearer " + forged,
		tokenElsewhere: "Bearer " + fake.Sign(elsewhere),
		tokenBasic:     "Basic " + base64.StdEncoding.EncodeToString([]byte(appID+":pw")),
	}

	ctx := context.Background()
	db := mem.New()
	defer db.Close()
	if err := r.flows(db).Handle(ctx, mamori.Input{Kind: mamori.InputStart, User: tanakaUser, Value: mamori.StartReport}); err != nil {
		f.Fatal(err)
	}
	if err := db.View(ctx, func(tx mamori.Tx) error {
		var err error
		r.conv, err = tx.Conversation(tanakaUser.Key())
		return err
	}); err != nil {
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
	suzuki := mamori.User{Platform: mamori.PlatformTeams, ID: "aad-suzuki", Email: "suzuki@example.co.jp", Lang: mamori.JA}
	r.kase = flows.BuildCase(flows.Env{Policy: p, Org: testOrg(), Now: r.now}, mamori.Conversation{User: suzuki, Flow: mamori.FlowReport,
		Answers: mamori.Answers{Safety: "safe", ForWhom: "self", When: "2026-11-19", Narrative: "秘密の経緯", Behaviours: []string{"verbal_attack"},
			Repeat: "first", Fault: "no", Wellbeing: "ok", Talk: "no"}}, "KH-2026-0042")
	return r
}

func (r *teamsFuzzRig) flows(db *mem.DB) *flows.Service {
	return flows.NewService(db, r.policy, testOrg(), func() time.Time { return r.now }, nil)
}

// watched is the flows, counting the calls that may queue a message.
type watched struct {
	teams.Flows
	mu    sync.Mutex
	acted []string
}

func (w *watched) note(what string, u mamori.User) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.acted = append(w.acted, fmt.Sprintf("%s by %q", what, u.ID))
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

// post posts one activity to a new adapter over a new store holding the
// rig's conversation and case, waits for the work after the answer, and
// checks what must hold.
func (r *teamsFuzzRig) post(t *testing.T, body []byte, tamper uint8) {
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
	a, err := teams.New(teams.Config{AppID: appID, Password: "pw", TenantID: teamstest.Tenant, OpenIDMetadataURL: r.fake.MetadataURL,
		TokenURL: r.fake.TokenURL, Clock: func() time.Time { return r.now }, Log: slog.New(r.log), Policy: r.policy},
		fl, teams.StoreRefs(db, nil))
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, teams.Path, bytes.NewReader(bytes.ReplaceAll(body, []byte(serviceURLSeed), []byte(r.fake.ServiceURL))))
	req.RemoteAddr = "52.112.0.1:443" // not loopback: only the token lets it in
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if tok := r.tokens[tamper]; tok != "" {
		req.Header.Set("Authorization", tok)
	}
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	a.Close() // waits for the work after the answer

	if p := r.log.panics(); len(p) > 0 {
		t.Fatalf("token %d: the adapter panicked: %s", tamper, strings.Join(p, "; "))
	}
	status := rec.Code
	switch {
	case tamper != tokenValid && status != http.StatusUnauthorized && status != http.StatusForbidden && status != http.StatusBadRequest:
		// 400: the activity is read before its token is checked (the
		// check needs its serviceUrl and channelId), so a malformed one
		// is refused as such whatever the token.
		t.Fatalf("token %d: status %d for an activity without a valid token, want 401, 403 or 400", tamper, status)
	case tamper == tokenValid && status != http.StatusOK && status != http.StatusBadRequest && status != http.StatusForbidden:
		// 403: the body's serviceUrl or channelId is not the token's.
		t.Fatalf("status %d, want 200, 400 or 403: %s", status, rec.Body)
	}
	queued, err := db.ListOutbox(ctx, mamori.OutboxPending, 0)
	if err != nil {
		t.Fatal(err)
	}
	if status >= 400 && (len(fl.acted) > 0 || len(queued) > 0) {
		t.Fatalf("token %d: refused with %d, yet the flows were called (%q) and %d messages queued", tamper, status, fl.acted, len(queued))
	}
	for _, it := range queued {
		if !deliverable(it.Target.ID) {
			t.Fatalf("a message queued for %+v, which Teams cannot deliver to (flows called: %q)", it.Target, fl.acted)
		}
	}
}

// deliverable reports whether id has the shape of an id Teams gives (an
// Entra object id, a 29:… id, a conversation id): printable ASCII.
func deliverable(id string) bool {
	if id == "" {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// activity is an activity as Teams sends it, with serviceURLSeed for its
// serviceUrl and extra fields set.
func (r *teamsFuzzRig) activity(typ string, m teamstest.Member, conv teamstest.Conv, extra map[string]any) map[string]any {
	act := r.fake.Activity(typ, m, conv)
	act["serviceUrl"] = serviceURLSeed
	act["id"] = "1790000000123"
	act["timestamp"] = "2026-10-01T00:00:00.000Z"
	act["localTimestamp"] = "2026-10-01T09:00:00.000+09:00"
	for k, v := range extra {
		act[k] = v
	}
	return act
}

// seeds are activities as Teams sends them, built from what Mamori
// renders: messages, a file, clicks (Action.Execute and Action.Submit) on
// a question and on a case card, a dialog's fetch and submission,
// installations, and malformed ids.
func (r *teamsFuzzRig) seeds(f *testing.F) [][]byte {
	jsonOf := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	// data finds the data of the button with value v in a rendered card.
	data := func(c any, v string) map[string]any {
		var found map[string]any
		var walk func(x any)
		walk = func(x any) {
			switch x := x.(type) {
			case map[string]any:
				if d, ok := x["data"].(map[string]any); ok && d["v"] == v && found == nil {
					found = d
				}
				for _, y := range x {
					walk(y)
				}
			case []any:
				for _, y := range x {
					walk(y)
				}
			}
		}
		var generic any
		if err := json.Unmarshal(jsonOf(c), &generic); err != nil {
			f.Fatal(err)
		}
		walk(generic)
		if found == nil {
			f.Fatalf("no button %q", v)
		}
		return found
	}
	personal := teamstest.Personal(tanaka)
	store := teamstest.Channel(storeChannel, "店舗", "19:team@thread.tacv2", "Example")
	answer := data(teams.Card(r.question, nil), r.question.Choices[0].Value)
	judge := mamori.Action{Kind: mamori.CardJudge, Subject: r.kase.Number}
	card := flows.Card(flows.Env{Policy: r.policy, Org: testOrg(), Now: r.now}, r.kase, mamori.JA, time.FixedZone("JST", 9*60*60))
	judgeButton := data(teams.Card(card, nil), judge.Value())

	// The judge form, filled in, as sato sends it.
	db := mem.New()
	defer db.Close()
	if err := db.Update(context.Background(), func(tx mamori.Tx) error { return tx.InsertCase(r.kase) }); err != nil {
		f.Fatal(err)
	}
	satoUser := mamori.User{Platform: mamori.PlatformTeams, ID: "aad-sato", Email: sato.Email, Lang: mamori.JA}
	form, _, err := r.flows(db).Open(context.Background(), satoUser, judge)
	if err != nil || form == nil {
		f.Fatalf("the judge form: %v %v", form, err)
	}
	var dialog struct {
		Actions []struct {
			Data map[string]any `json:"data"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(jsonOf(teams.FormDialog(*form, "", nil).Card), &dialog); err != nil || len(dialog.Actions) == 0 {
		f.Fatalf("the judge dialog's submit button: %v", err)
	}
	filled := dialog.Actions[0].Data
	for _, fd := range form.Fields {
		switch {
		case fd.Kind == mamori.FieldMany && len(fd.Options) > 0:
			filled["m."+fd.ID] = fd.Options[0].Value
		case len(fd.Options) > 0:
			filled[fd.ID] = fd.Options[0].Value
		default:
			filled[fd.ID] = "店長にも共有"
		}
	}
	dataOf := func(v any) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(jsonOf(v), &m); err != nil {
			f.Fatal(err)
		}
		return m
	}
	execute := func(m teamstest.Member, conv teamstest.Conv, d map[string]any) map[string]any {
		return r.activity("invoke", m, conv, map[string]any{"name": "adaptiveCard/action",
			"value": map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": "mamori", "data": d}, "trigger": "manual"}})
	}
	task := func(name string, m teamstest.Member, conv teamstest.Conv, d map[string]any) map[string]any {
		return r.activity("invoke", m, conv, map[string]any{"name": name,
			"value": map[string]any{"data": d, "context": map[string]any{"theme": "default"}}})
	}
	badAAD := r.activity("message", tanaka, personal, map[string]any{"text": "報告"})
	badAAD["from"] = map[string]any{"id": tanaka.ID, "name": tanaka.Name, "aadObjectId": "aad-\xfftanaka"}
	badConv := r.activity("message", tanaka, personal, map[string]any{"text": "報告"})
	badConv["conversation"] = map[string]any{"id": "a:1 tanaka\n", "conversationType": "personal", "tenantId": teamstest.Tenant}
	added := r.activity("conversationUpdate", tanaka, personal, map[string]any{"membersAdded": []any{map[string]any{"id": r.fake.BotID()}}})
	addedChannel := r.activity("conversationUpdate", sato, store, map[string]any{"membersAdded": []any{map[string]any{"id": r.fake.BotID()}}})
	addedChannel["channelData"].(map[string]any)["eventType"] = "teamMemberAdded"

	acts := []map[string]any{
		r.activity("message", tanaka, personal, map[string]any{"text": "報告", "textFormat": "plain"}),
		r.activity("message", tanaka, personal, map[string]any{"text": "<at>Mamori</at> 返金しろと言われた &lt;怖かった&gt;"}),
		r.activity("message", tanaka, personal, map[string]any{"text": "home"}),
		r.activity("message", tanaka, personal, map[string]any{"attachments": []any{
			map[string]any{"contentType": "application/vnd.microsoft.teams.file.download.info", "name": "rec.m4a",
				"contentUrl": "https://example.sharepoint.com/rec.m4a",
				"content":    map[string]any{"downloadUrl": "https://example.sharepoint.com/dl/rec.m4a", "uniqueId": "1a2b3c", "fileType": "m4a"}},
			map[string]any{"contentType": "image/png", "contentUrl": "https://smba.trafficmanager.net/jp/v3/attachments/0/views/original"}}}),
		r.activity("message", sato, store, map[string]any{"text": "<at>Mamori</at> hello"}),
		execute(tanaka, personal, answer),
		r.activity("message", tanaka, personal, map[string]any{"value": answer}),
		execute(tanaka, personal, dataOf(map[string]any{"mamori": 1, "k": "home", "v": "teams:home"})),
		task("task/fetch", sato, store, judgeButton),
		task("task/submit", sato, store, filled),
		execute(sato, store, judgeButton),
		added,
		addedChannel,
		r.activity("installationUpdate", tanaka, personal, map[string]any{"action": "add"}),
		r.activity("messageReaction", tanaka, personal, map[string]any{"reactionsAdded": []any{map[string]any{"type": "like"}}}),
		badAAD,
		badConv,
	}
	var out [][]byte
	for _, a := range acts {
		out = append(out, jsonOf(a))
	}
	return out
}

// FuzzTeamsToken: only a token the Connector issued is accepted — any
// change to it is refused, unless it decodes to the same bytes — and
// whatever the Authorization header holds, Validate answers with one of
// its errors and does not panic.
func FuzzTeamsToken(f *testing.F) {
	fake := teamstest.New(f, teamstest.Options{AppID: appID, Password: "pw", Forget: true})
	now := time.Now()
	v := &teams.Validator{AppID: appID, MetadataURL: fake.MetadataURL, Clock: func() time.Time { return now },
		Client: &http.Client{Timeout: 5 * time.Second}}
	valid := fake.Token()
	validParts, ok := jwtParts(valid)
	if !ok {
		f.Fatal("the fake's token does not decode")
	}
	expired := fake.Claims()
	expired.Expires = now.Add(-time.Hour)
	unknown := fake.Claims()
	unknown.Kid = "unknown"
	for _, tok := range []string{valid, fake.Sign(expired), fake.Sign(unknown), "",
		// alg none, and HS256 keyed with nothing: never accepted.
		"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpc3MiOiJodHRwczovL2FwaS5ib3RmcmFtZXdvcmsuY29tIn0.",
		"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImsxIn0.eyJpc3MiOiJodHRwczovL2FwaS5ib3RmcmFtZXdvcmsuY29tIn0.c2ln"} {
		f.Add(tok, uint16(0), byte(0))
	}
	f.Add(valid, uint16(len(valid)/2), byte('x'))
	f.Add(valid, uint16(strings.LastIndexByte(valid, '.')+5), byte('A'))
	f.Add(" "+valid+"\n", uint16(3), byte('.'))

	check := func(t *testing.T, tok string) {
		err := v.Validate(context.Background(), "Bearer "+tok, teamstest.ChannelID, fake.ServiceURL)
		if err != nil {
			if !errors.Is(err, teams.ErrNoToken) && !errors.Is(err, teams.ErrBadToken) && !errors.Is(err, teams.ErrNotAllowed) {
				t.Fatalf("token %q: %v, want one of Validate's errors", tok, err)
			}
			return
		}
		parts, ok := jwtParts(strings.TrimSpace(tok))
		if !ok || parts != validParts {
			t.Fatalf("token %q accepted; only the issued one (or its encodings) may be", tok)
		}
	}
	f.Fuzz(func(t *testing.T, tok string, pos uint16, b byte) {
		check(t, tok)
		if i := int(pos) % len(valid); valid[i] != b {
			check(t, valid[:i]+string(b)+valid[i+1:])
		}
	})
}

// jwtParts decodes a compact JWT's three parts as the JWT library does;
// two tokens with the same parts are the same token.
func jwtParts(tok string) ([3]string, bool) {
	var out [3]string
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return out, false
	}
	for i, p := range parts {
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			return out, false
		}
		out[i] = string(b)
	}
	return out, true
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
