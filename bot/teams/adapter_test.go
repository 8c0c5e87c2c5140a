package teams_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/teams"
	"github.com/mamori-oss/mamori/bot/teams/teamstest"
	"github.com/mamori-oss/mamori/flows"
	"github.com/mamori-oss/mamori/store/mem"
)

// The adapter takes the real engine, and these tests give it one: the
// flows over the in-memory store (store/mem, which passes the stores'
// conformance suite), which also keeps the conversation references. They
// check what the adapter answers the Connector and what the flows did with
// what it passed on, as the store keeps it.
var _ teams.Flows = (*flows.Service)(nil)

func testPolicy(t *testing.T) *mamori.Policy {
	t.Helper()
	p, err := mamori.Preset("mhlw-2022")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testOrg: the store's supervisors meet in storeChannel; sato supervises,
// tanaka works there, both known by email only, so the flows know them
// only when the adapter passed their email on.
func testOrg() *mamori.Org {
	return &mamori.Org{Name: "Example", Lang: mamori.JA, HRChannel: "19:hr@thread.tacv2", HR: []string{"hr@example.co.jp"},
		Departments: []mamori.Department{{ID: "store", Name: mamori.Text{JA: "店舗", EN: "Store"}, SupervisorChannel: storeChannel,
			Supervisors: []string{"sato@example.co.jp"}, Members: []string{"tanaka@example.co.jp", "suzuki@example.co.jp"}}}}
}

// newFlows returns the flows over a new in-memory store.
func newFlows(t *testing.T) (*flows.Service, *mem.DB) {
	t.Helper()
	db := mem.New()
	t.Cleanup(func() { db.Close() })
	return flows.NewService(db, testPolicy(t), testOrg(), nil, nil), db
}

type rig struct {
	fake *teamstest.Fake
	db   *mem.DB
	url  string
}

// newRig serves an adapter on a fake Bot Connector, handing what comes to
// the flows over a new in-memory store.
func newRig(t *testing.T) *rig {
	svc, db := newFlows(t)
	f := teamstest.New(t, teamstest.Options{AppID: appID, Password: "pw"})
	for _, m := range []teamstest.Member{tanaka, sato} {
		f.AddMember(m)
	}
	return &rig{fake: f, db: db, url: serve(t, f, svc, db)}
}

// serve serves an adapter for fake handing what comes to fl, keeping
// references in db, and returns its URL.
func serve(t *testing.T, fake *teamstest.Fake, fl teams.Flows, db mamori.Store) string {
	a, err := teams.New(teams.Config{AppID: appID, Password: "pw", TenantID: teamstest.Tenant, OpenIDMetadataURL: fake.MetadataURL,
		TokenURL: fake.TokenURL, Policy: testPolicy(t)}, fl, teams.StoreRefs(db, nil))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(func() { srv.Close(); a.Close() })
	return srv.URL + teams.Path
}

func (r *rig) post(t *testing.T, act map[string]any) (int, map[string]any) {
	t.Helper()
	code, body, err := teamstest.Post(r.url, act, r.fake.Token())
	if err != nil {
		t.Fatal(err)
	}
	return code, body
}

// conversation returns the conversation the store keeps for a Teams user
// (by Entra object id).
func (r *rig) conversation(t *testing.T, aad string) mamori.Conversation {
	t.Helper()
	var c mamori.Conversation
	err := r.db.View(context.Background(), func(tx mamori.Tx) error {
		var err error
		c, err = tx.Conversation(mamori.User{Platform: mamori.PlatformTeams, ID: aad}.Key())
		return err
	})
	if err != nil {
		t.Fatalf("conversation of %s: %v", aad, err)
	}
	return c
}

// question returns the last question the flows put in the outbox for a
// Teams user: what the person is looking at.
func (r *rig) question(t *testing.T, aad string) mamori.Message {
	t.Helper()
	items, err := r.db.ListOutbox(context.Background(), mamori.OutboxPending, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(items) - 1; i >= 0; i-- {
		if it := items[i]; it.Target.ID == aad && it.Target.Kind == mamori.TargetUser && it.Message.Step != "" {
			return it.Message
		}
	}
	t.Fatalf("no question for %s in the outbox", aad)
	return mamori.Message{}
}

// handled reports whether the flows recorded delivery as acted on.
func (r *rig) handled(t *testing.T, delivery string) bool {
	t.Helper()
	var fresh bool
	rollback := errors.New("rollback")
	err := r.db.Update(context.Background(), func(tx mamori.Tx) error {
		var err error
		if fresh, err = tx.Seen(delivery, time.Now()); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	return !fresh
}

// storedCase returns the case as the store keeps it.
func (r *rig) storedCase(t *testing.T, number string) mamori.Case {
	t.Helper()
	var k mamori.Case
	if err := r.db.View(context.Background(), func(tx mamori.Tx) error {
		var err error
		k, err = tx.Case(number)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return k
}

// fileCase stores a report by suzuki (of the store, not a member of the
// fake team), filed as the flows file one: it went to the store's
// supervisors.
func (r *rig) fileCase(t *testing.T, number string) mamori.Case {
	t.Helper()
	suzuki := mamori.User{Platform: mamori.PlatformTeams, ID: "aad-suzuki", Email: "suzuki@example.co.jp", Lang: mamori.JA}
	c := mamori.Conversation{User: suzuki, Flow: mamori.FlowReport, Answers: mamori.Answers{
		Safety: "safe", ForWhom: "self", When: "2026-11-19", Narrative: "秘密の経緯", Behaviours: []string{"verbal_attack"},
		Repeat: "first", Fault: "no", Wellbeing: "ok", Talk: "no"}}
	k := flows.BuildCase(flows.Env{Policy: testPolicy(t), Org: testOrg(), Now: time.Now()}, c, number)
	if k.Route != mamori.RouteDepartment || k.Channel != storeChannel {
		t.Fatalf("the case went to %s %s, want the store's supervisors", k.Route, k.Channel)
	}
	if err := r.db.Update(context.Background(), func(tx mamori.Tx) error { return tx.InsertCase(k) }); err != nil {
		t.Fatal(err)
	}
	return k
}

// choiceData returns the data of the button with value in card c.
func choiceData(t *testing.T, c map[string]any, value string) map[string]any {
	t.Helper()
	var found map[string]any
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if d, ok := v["data"].(map[string]any); ok && d["v"] == value && found == nil {
				found = d
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(toMap(t, c))
	if found == nil {
		t.Fatalf("no button with value %q in %s", value, toJSON(c))
	}
	return found
}

func TestNewNamesTheMissingSetting(t *testing.T) {
	p := testPolicy(t)
	svc, db := newFlows(t)
	for _, tc := range []struct {
		cfg  teams.Config
		want string
	}{
		{teams.Config{AppID: "x", TenantID: "t", Policy: p}, "MICROSOFT_APP_PASSWORD"},
		{teams.Config{AppID: "x", Password: "pw", Policy: p}, "MICROSOFT_APP_TENANT_ID"},
		{teams.Config{Password: "pw", Policy: p}, "MICROSOFT_APP_ID"},
	} {
		if _, err := teams.New(tc.cfg, svc, teams.StoreRefs(db, nil)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %s", tc.cfg, err, tc.want)
		}
	}
}

func TestMessagesAndClicks(t *testing.T) {
	r := newRig(t)
	if code, _ := r.post(t, r.fake.Message(tanaka, "/kasuhara 報告")); code != http.StatusOK {
		t.Fatalf("command: %d", code)
	}
	if c := r.conversation(t, "aad-tanaka"); c.Flow != mamori.FlowReport {
		t.Fatalf("the command led to %+v, want a report", c)
	}
	msg := r.fake.Message(tanaka, "昨日の15時ごろ")
	if code, _ := r.post(t, msg); code != http.StatusOK {
		t.Fatalf("message: %d", code)
	}
	// Acted on under the activity's id, so a redelivery is not.
	if d := "teams:" + teamstest.PersonalConv(tanaka.ID) + ":" + fmt.Sprint(msg["id"]); !r.handled(t, d) {
		t.Errorf("delivery %s was not recorded", d)
	}
	// The flows know who wrote, with the email and language from Teams.
	want := mamori.User{Platform: mamori.PlatformTeams, ID: "aad-tanaka", Name: tanaka.Name, Email: "tanaka@example.co.jp", Lang: mamori.JA}
	if c := r.conversation(t, "aad-tanaka"); c.User != want {
		t.Errorf("the message's user = %+v, want %+v", c.User, want)
	}
	// The person's chat is remembered, by object id and email.
	refs := teams.StoreRefs(r.db, nil)
	for _, key := range []string{"teams:user:aad-tanaka", "teams:email:tanaka@example.co.jp", "teams:service"} {
		if _, err := refs.Reference(context.Background(), key); err != nil {
			t.Errorf("no reference %s", key)
		}
	}
	// A click on the question asked: it becomes its answer, in place.
	q := r.question(t, "aad-tanaka")
	safe := testPolicy(t).T(mamori.JA, "a.safety.safe")
	data := choiceData(t, teams.Card(q, nil), "safe")
	code, body := r.post(t, r.fake.Execute(tanaka, teamstest.Personal(tanaka), data, nil))
	if code != http.StatusOK || body["type"] != "application/vnd.microsoft.card.adaptive" || !strings.Contains(toJSON(body), "✓ "+safe) {
		t.Errorf("the click was answered %d %v", code, body)
	}
	if c := r.conversation(t, "aad-tanaka"); c.Answers.Safety != "safe" || c.Step == q.Step {
		t.Errorf("after the click: %+v", c)
	}
	// A failure says so to the clicker.
	r.db.Close()
	code, body = r.post(t, r.fake.Execute(tanaka, teamstest.Personal(tanaka), data, nil))
	if code != http.StatusOK || body["statusCode"] != float64(500) {
		t.Errorf("a failed click was answered %d %v", code, body)
	}
}

func TestCardDialogs(t *testing.T) {
	r := newRig(t)
	p := testPolicy(t)
	k := r.fileCase(t, "KH-2026-0001")
	ch := teamstest.Channel(storeChannel, "上長", "19:team", "チーム")
	fetch := func(m teamstest.Member, value string) map[string]any {
		_, body := r.post(t, r.fake.Task("task/fetch", m, ch, map[string]any{"mamori": 1, "k": "choice", "s": mamori.StepCard, "v": value}, nil))
		return body["task"].(map[string]any)
	}
	if task := fetch(sato, "details:"+k.Number); task["type"] != "continue" || !strings.Contains(toJSON(task), "秘密の経緯") {
		t.Errorf("the supervisor's details: %v", task)
	}
	if task := fetch(tanaka, "details:"+k.Number); task["type"] != "message" || strings.Contains(toJSON(task), "秘密") {
		t.Errorf("someone else's details: %v", task)
	}
	// Take answers the clicker alone, with their email known.
	_, body := r.post(t, r.fake.Execute(sato, ch, map[string]any{"mamori": 1, "k": "choice", "s": mamori.StepCard, "v": "take:" + k.Number}, nil))
	if want := fmt.Sprintf(p.T(mamori.JA, "judge.done.take"), k.Number); body["value"] != want {
		t.Errorf("take: %v, want %q", body, want)
	}
	if got := r.storedCase(t, k.Number); got.Assignee != "teams:aad-sato" {
		t.Errorf("taken by %q", got.Assignee)
	}

	task := fetch(sato, "judge:"+k.Number)
	if task["type"] != "continue" {
		t.Fatalf("judge: %v", task)
	}
	submit := map[string]any{"mamori": 1, "k": "form", "f": "judge", "c": k.Number}
	_, body = r.post(t, r.fake.Task("task/submit", sato, ch, submit, map[string]any{"note": "録音あり, 2回目"}))
	pick := fmt.Sprintf(p.T(mamori.JA, "judge.pick"), p.T(mamori.JA, "judge.validity"))
	if again := body["task"].(map[string]any); again["type"] != "continue" || !strings.Contains(toJSON(again), pick) ||
		!strings.Contains(toJSON(again), "録音あり, 2回目") {
		t.Errorf("a refused judgement: %v", again)
	}
	_, body = r.post(t, r.fake.Task("task/submit", sato, ch, submit, map[string]any{"validity": "invalid", "means": "unacceptable",
		"outcome": "kasuhara", "m.actions": "warn,police", "note": "録音あり, 2回目"}))
	if done := body["task"].(map[string]any); done["type"] != "message" || done["value"] != fmt.Sprintf(p.T(mamori.JA, "judge.done.judge"), k.Number) {
		t.Errorf("the judgement: %v", done)
	}
	// A multi-select's values are split, a text's commas kept.
	if d := r.storedCase(t, k.Number).Decision; d == nil || d.By != "teams:aad-sato" || !slices.Equal(d.Actions, []string{"warn", "police"}) ||
		d.Note != "録音あり, 2回目" {
		t.Errorf("the decision recorded: %+v", d)
	}
}

// Every bad token is refused with 401 or 403, a panicking engine answers
// 500, and none of it leaves goroutines behind.
func TestAdapterRefusesWithoutLeaks(t *testing.T) {
	r := newRig(t)
	// Flows without a store panic at their first transaction.
	broken := flows.NewService(nil, testPolicy(t), testOrg(), nil, nil)
	if p := func() (p any) {
		defer func() { p = recover() }()
		broken.Handle(context.Background(), mamori.Input{Kind: mamori.InputText, Text: "hi",
			User: mamori.User{Platform: mamori.PlatformTeams, ID: "aad-tanaka"}})
		return nil
	}(); p == nil {
		t.Fatal("flows without a store did not panic: this test needs another way to make the flows panic")
	}
	brokenURL := serve(t, r.fake, broken, r.db)
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
	if code, _, err := teamstest.Post(brokenURL, r.fake.Message(tanaka, "boom"), r.fake.Token()); err != nil || code != http.StatusInternalServerError {
		t.Errorf("a panic answered %d (%v)", code, err)
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
