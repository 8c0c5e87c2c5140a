package teams_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/teams"
	"github.com/mamori-oss/mamori/bot/teams/teamstest"
	"github.com/mamori-oss/mamori/flows"
)

// The adapter takes the real engine.
var _ teams.Flows = (*flows.Service)(nil)

// fakeFlows stands in for flows.Service at this boundary (the journeys
// through the real one are in cmd/mamori): it records inputs and answers
// with canned messages.
type fakeFlows struct {
	mu     sync.Mutex
	inputs []mamori.Input
	err    error
	panics bool
}

func (f *fakeFlows) Handle(ctx context.Context, in mamori.Input) error {
	if f.panics {
		panic("boom")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	return f.err
}

func (f *fakeFlows) Inputs() []mamori.Input {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mamori.Input(nil), f.inputs...)
}

func (f *fakeFlows) CaseDetails(ctx context.Context, viewer mamori.User, number string) (mamori.Message, error) {
	if viewer.ID != "aad-sato" {
		return mamori.Message{Text: "見られません"}, mamori.ErrForbidden
	}
	return mamori.Message{Header: number, Fields: []mamori.Field{{Label: "経緯", Value: "秘密の経緯"}}}, nil
}
func (f *fakeFlows) Home(ctx context.Context, u mamori.User) (mamori.Message, error) {
	return mamori.Message{Header: "Home " + string(u.Lang)}, nil
}
func (f *fakeFlows) Take(ctx context.Context, actor mamori.User, number string) (mamori.Message, error) {
	return mamori.Message{Text: "took " + number + " as " + actor.Email}, nil
}
func (f *fakeFlows) Judge(ctx context.Context, actor mamori.User, number string, d mamori.Decision) (mamori.Message, error) {
	if d.Outcome == "" {
		return mamori.Message{Text: "choose an outcome"}, mamori.ErrInvalid
	}
	return mamori.Message{Text: "judged " + d.Outcome + " " + strings.Join(d.Actions, "+")}, nil
}
func (f *fakeFlows) Reopen(ctx context.Context, actor mamori.User, number, reason string) (mamori.Message, error) {
	return mamori.Message{Text: "reopened"}, nil
}
func (f *fakeFlows) Ask(ctx context.Context, actor mamori.User, number, question string) (mamori.Message, error) {
	return mamori.Message{Text: "asked " + question}, nil
}
func (f *fakeFlows) Suggestion(ctx context.Context, actor mamori.User, number string) (mamori.Decision, error) {
	return mamori.Decision{Outcome: mamori.OutcomeKasuhara}, nil
}
func (f *fakeFlows) CareAction(ctx context.Context, actor mamori.User, action, id, note string) (mamori.Message, error) {
	return mamori.Message{Text: action + " " + id}, nil
}
func (f *fakeFlows) AssignTraining(ctx context.Context, actor mamori.User, number string) (mamori.Message, error) {
	return mamori.Message{Text: "assigned"}, nil
}

type rig struct {
	fake  *teamstest.Fake
	flows *fakeFlows
	refs  *memRefs
	url   string
}

func newRig(t *testing.T) *rig {
	f := teamstest.New(t, teamstest.Options{AppID: appID, Password: "pw"})
	for _, m := range []teamstest.Member{tanaka, sato} {
		f.AddMember(m)
	}
	p, err := mamori.Preset("mhlw-2022")
	if err != nil {
		t.Fatal(err)
	}
	ff := &fakeFlows{}
	refs := &memRefs{}
	a, err := teams.New(teams.Config{AppID: appID, Password: "pw", TenantID: teamstest.Tenant, OpenIDMetadataURL: f.MetadataURL,
		TokenURL: f.TokenURL, Policy: p}, ff, refs)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(func() { srv.Close(); a.Close() })
	return &rig{fake: f, flows: ff, refs: refs, url: srv.URL + teams.Path}
}

func (r *rig) post(t *testing.T, act map[string]any) (int, map[string]any) {
	t.Helper()
	code, body, err := teamstest.Post(r.url, act, r.fake.Token())
	if err != nil {
		t.Fatal(err)
	}
	return code, body
}

func TestNewNamesTheMissingSetting(t *testing.T) {
	p, _ := mamori.Preset("mhlw-2022")
	for _, tc := range []struct {
		cfg  teams.Config
		want string
	}{
		{teams.Config{AppID: "x", TenantID: "t", Policy: p}, "MICROSOFT_APP_PASSWORD"},
		{teams.Config{AppID: "x", Password: "pw", Policy: p}, "MICROSOFT_APP_TENANT_ID"},
		{teams.Config{Password: "pw", Policy: p}, "MICROSOFT_APP_ID"},
	} {
		if _, err := teams.New(tc.cfg, &fakeFlows{}, &memRefs{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %s", tc.cfg, err, tc.want)
		}
	}
}

func TestMessagesAndClicks(t *testing.T) {
	r := newRig(t)
	if code, _ := r.post(t, r.fake.Message(tanaka, "昨日の15時ごろ")); code != http.StatusOK {
		t.Fatalf("message: %d", code)
	}
	if code, _ := r.post(t, r.fake.Message(tanaka, "/kasuhara 報告")); code != http.StatusOK {
		t.Fatalf("command: %d", code)
	}
	ins := r.flows.Inputs()
	if len(ins) != 2 {
		t.Fatalf("inputs %+v", ins)
	}
	u := ins[0].User
	if ins[0].Kind != mamori.InputText || ins[0].Text != "昨日の15時ごろ" || u.ID != "aad-tanaka" || u.Email != "tanaka@example.co.jp" ||
		u.Lang != mamori.JA || u.Platform != mamori.PlatformTeams || ins[0].Delivery == "" {
		t.Errorf("the message became %+v", ins[0])
	}
	if ins[1].Kind != mamori.InputStart || ins[1].Value != mamori.StartReport {
		t.Errorf("the command became %+v", ins[1])
	}
	// The person's chat is remembered, by object id and email.
	for _, key := range []string{"teams:user:aad-tanaka", "teams:email:tanaka@example.co.jp", "teams:service"} {
		if _, err := r.refs.Reference(context.Background(), key); err != nil {
			t.Errorf("no reference %s", key)
		}
	}
	// A click: the question becomes its answer, in place.
	card := teams.Card(mamori.Message{Header: "安全ですか？", Step: "safety", Choices: []mamori.Choice{{Value: "safe", Label: "安全です"}}}, nil)
	data := card["body"].([]any)[1].(map[string]any)["actions"].([]any)[0].(map[string]any)["data"]
	code, body := r.post(t, r.fake.Execute(tanaka, teamstest.Personal(tanaka), toMap(t, data), nil))
	if code != http.StatusOK || body["type"] != "application/vnd.microsoft.card.adaptive" || !strings.Contains(toJSON(body), "✓ 安全です") {
		t.Errorf("the click was answered %d %v", code, body)
	}
	if in := r.flows.Inputs()[2]; in.Kind != mamori.InputChoice || in.Step != "safety" || in.Value != "safe" {
		t.Errorf("the click became %+v", in)
	}
	// A failure says so to the clicker.
	r.flows.err = errors.New("disk full")
	code, body = r.post(t, r.fake.Execute(tanaka, teamstest.Personal(tanaka), toMap(t, data), nil))
	if code != http.StatusOK || body["statusCode"] != float64(500) {
		t.Errorf("a failed click was answered %d %v", code, body)
	}
}

func TestCardDialogs(t *testing.T) {
	r := newRig(t)
	ch := teamstest.Channel(storeChannel, "上長", "19:team", "チーム")
	fetch := func(m teamstest.Member, value string) map[string]any {
		_, body := r.post(t, r.fake.Task("task/fetch", m, ch, map[string]any{"mamori": 1, "k": "choice", "s": mamori.StepCard, "v": value}, nil))
		return body["task"].(map[string]any)
	}
	if task := fetch(sato, "details:KH-2026-0001"); task["type"] != "continue" || !strings.Contains(toJSON(task), "秘密の経緯") {
		t.Errorf("the supervisor's details: %v", task)
	}
	if task := fetch(tanaka, "details:KH-2026-0001"); task["type"] != "message" || strings.Contains(toJSON(task), "秘密") {
		t.Errorf("someone else's details: %v", task)
	}
	task := fetch(sato, "judge:KH-2026-0001")
	if task["type"] != "continue" {
		t.Fatalf("judge: %v", task)
	}
	submit := map[string]any{"mamori": 1, "k": "form", "f": "judge", "c": "KH-2026-0001"}
	_, body := r.post(t, r.fake.Task("task/submit", sato, ch, submit, map[string]any{"judge.validity": "invalid", "judge.means": "unacceptable"}))
	if again := body["task"].(map[string]any); again["type"] != "continue" || !strings.Contains(toJSON(again), "choose an outcome") {
		t.Errorf("a refused judgement: %v", again)
	}
	_, body = r.post(t, r.fake.Task("task/submit", sato, ch, submit, map[string]any{"judge.outcome": "kasuhara", "judge.actions": "warn,police"}))
	if done := body["task"].(map[string]any); done["type"] != "message" || done["value"] != "judged kasuhara warn+police" {
		t.Errorf("the judgement: %v", done)
	}
	// Take answers the clicker alone, with their email known.
	_, body = r.post(t, r.fake.Execute(sato, ch, map[string]any{"mamori": 1, "k": "choice", "s": mamori.StepCard, "v": "take:KH-2026-0001"}, nil))
	if body["value"] != "took KH-2026-0001 as sato@example.co.jp" {
		t.Errorf("take: %v", body)
	}
}

// Every bad token is refused with 401 or 403, a panicking engine answers
// 500, and none of it leaves goroutines behind.
func TestAdapterRefusesWithoutLeaks(t *testing.T) {
	r := newRig(t)
	act := r.fake.Message(tanaka, "hello")
	if code, _ := r.post(t, act); code != http.StatusOK {
		t.Fatalf("valid: %d", code)
	}
	c := r.fake.Claims()
	bad := map[string]int{
		"": 401,
		r.fake.Sign(with(c, func(c *teamstest.Claims) { c.ForgeKey = true })):                      401,
		r.fake.Sign(with(c, func(c *teamstest.Claims) { c.Issuer = "x" })):                         401,
		r.fake.Sign(with(c, func(c *teamstest.Claims) { c.Audience = "x" })):                       401,
		r.fake.Sign(with(c, func(c *teamstest.Claims) { c.Kid = "x" })):                            401,
		r.fake.Sign(with(c, func(c *teamstest.Claims) { c.ServiceURL = "x" })):                     403,
		r.fake.Sign(with(c, func(c *teamstest.Claims) { c.Expires = time.Now().Add(-time.Hour) })): 401,
	}
	runtime.GC()
	before := runtime.NumGoroutine()
	for range 20 {
		for tok, want := range bad {
			if code, _, err := teamstest.Post(r.url, act, tok); err != nil || code != want {
				t.Fatalf("%q: %d %v, want %d", tok, code, err, want)
			}
		}
	}
	r.flows.panics = true
	if code, _ := r.post(t, r.fake.Message(tanaka, "boom")); code != http.StatusInternalServerError {
		t.Errorf("a panic answered %d", code)
	}
	time.Sleep(100 * time.Millisecond)
	runtime.GC()
	if after := runtime.NumGoroutine(); after > before+4 {
		t.Errorf("goroutines grew from %d to %d", before, after)
	}
}

func toMap(t *testing.T, v any) map[string]any {
	t.Helper()
	var m map[string]any
	if err := jsonRoundTrip(v, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
