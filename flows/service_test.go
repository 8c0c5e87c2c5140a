package flows_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
	"github.com/mamori-oss/mamori/store/seal"
	"github.com/mamori-oss/mamori/store/sqlite"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sent records what a platform received: a stand-in for Slack's Web API
// at the Sender boundary, which can also fail like it.
type sent struct {
	mu    sync.Mutex
	items []mamori.OutboxItem
	prevs []*mamori.Posted
	fail  func(mamori.OutboxItem) error
	n     int
}

func (s *sent) Send(_ context.Context, it mamori.OutboxItem, prev *mamori.Posted) (mamori.Posted, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		if err := s.fail(it); err != nil {
			return mamori.Posted{}, err
		}
	}
	s.n++
	s.items = append(s.items, it)
	s.prevs = append(s.prevs, prev)
	return mamori.Posted{Channel: it.Target.ID, TS: fmt.Sprint(s.n)}, nil
}

func (s *sent) to(kind, id string) []mamori.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []mamori.Message
	for _, it := range s.items {
		if it.Target.Kind == kind && it.Target.ID == id {
			out = append(out, it.Message)
		}
	}
	return out
}

type rig struct {
	t       *testing.T
	path    string
	key     []byte
	db      *sqlite.DB
	svc     *flows.Service
	worker  *flows.Worker
	clock   *clock
	sent    *sent
	gaveUp  []mamori.OutboxItem
	deliver int
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, path: filepath.Join(t.TempDir(), "mamori.db"), key: make([]byte, 32),
		clock: &clock{t: time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)}, sent: &sent{}}
	r.open()
	return r
}

// open (re)starts Mamori on the database file, as a process start would.
func (r *rig) open() {
	r.t.Helper()
	s, err := seal.New(r.key)
	if err != nil {
		r.t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), r.path, s, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { db.Close() })
	r.db = db
	log := slog.New(slog.DiscardHandler)
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	p, err := mamori.Preset("seed-004")
	if err != nil {
		r.t.Fatal(err)
	}
	r.svc = &flows.Service{Store: db, Policy: p, Org: org(), Clock: r.clock.Now, Log: log, Location: tokyo}
	r.worker = &flows.Worker{Store: db, Senders: map[string]flows.Sender{mamori.PlatformSlack: r.sent}, Jobs: r.svc,
		Clock: r.clock.Now, Log: log, GaveUp: func(_ context.Context, it mamori.OutboxItem, _ error) { r.gaveUp = append(r.gaveUp, it) }}
}

func (r *rig) restart() {
	r.t.Helper()
	if err := r.db.Close(); err != nil {
		r.t.Fatal(err)
	}
	r.open()
}

func org() *mamori.Org {
	return &mamori.Org{HRChannel: "C0HR", HR: []string{"UHR"}, Departments: []mamori.Department{
		{ID: "store", Name: mamori.Text{JA: "店舗運営部", EN: "Store"}, SupervisorChannel: "C0STORE",
			Supervisors: []string{"USUP"}, Members: []string{"UME", "UOTHER"}},
	}}
}

func user(id string) mamori.User {
	return mamori.User{Platform: mamori.PlatformSlack, ID: id, Lang: mamori.JA}
}

// do hands an input to the service and delivers the outbox.
func (r *rig) do(in mamori.Input) {
	r.t.Helper()
	if in.User.ID == "" {
		in.User = user("UME")
	}
	if err := r.svc.Handle(context.Background(), in); err != nil {
		r.t.Fatalf("handle %+v: %v", in, err)
	}
	n, err := r.worker.Drain(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	r.deliver += n
}

// last returns the last message the user received with a step.
func (r *rig) last(id string) mamori.Message {
	r.t.Helper()
	ms := r.sent.to(mamori.TargetUser, id)
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Step != "" {
			return ms[i]
		}
	}
	r.t.Fatalf("no question sent to %s", id)
	return mamori.Message{}
}

func (r *rig) click(id, value string) {
	r.t.Helper()
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user(id), Step: r.last(id).Step, Value: value})
}

// answer answers whatever the user was last asked with its first choice,
// a text, or no behaviours.
func (r *rig) answer(id string) {
	r.t.Helper()
	m := r.last(id)
	switch {
	case m.Multi != nil:
		r.do(mamori.Input{Kind: mamori.InputMulti, User: user(id), Step: m.Step, Values: []string{"verbal_attack"}})
	case m.Prompt != "" && (len(m.Choices) == 0 || m.Choices[0].Value == "nav:skip"):
		r.do(mamori.Input{Kind: mamori.InputText, User: user(id), Text: "秘密の出来事 " + m.Step})
	default:
		r.click(id, m.Choices[0].Value)
	}
}

func (r *rig) reportToSummary(id string) {
	r.t.Helper()
	for i := 0; r.last(id).Fields == nil || r.last(id).Choices[0].Value != "submit"; i++ {
		if i > 30 {
			r.t.Fatal("report never reached the summary")
		}
		r.answer(id)
	}
}

func TestReportEndToEndWithRestarts(t *testing.T) {
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport, Delivery: "cmd-1"})
	// A restart between every pair of steps loses nothing.
	for i := 0; r.last("UME").Choices == nil || r.last("UME").Choices[0].Value != "submit"; i++ {
		if i > 30 {
			t.Fatal("never reached the summary")
		}
		r.answer("UME")
		r.restart()
	}
	before := r.deliver
	r.click("UME", "submit")
	r.restart()
	if n, _ := r.worker.Drain(context.Background()); n != 0 {
		t.Fatalf("%d messages sent again after a restart", n)
	}
	cards := r.sent.to(mamori.TargetChannel, "C0STORE")
	if len(cards) != 1 || !strings.Contains(cards[0].Header, "KH-2026-0001") {
		t.Fatalf("cards: %+v", cards)
	}
	for _, f := range cards[0].Fields {
		if strings.Contains(f.Value, "秘密の出来事") {
			t.Fatal("narrative on the channel card")
		}
	}
	got := r.sent.to(mamori.TargetUser, "UME")
	done := got[len(got)-2]
	if !strings.Contains(done.Header, "KH-2026-0001") || !strings.Contains(done.Text, "不利益") || done.Note == "" {
		t.Fatalf("confirmation: %+v", done)
	}
	if care := got[len(got)-1]; len(care.Fields) == 0 {
		t.Fatalf("care resources missing: %+v", care)
	}
	// Confirmation, care resources, the card, and (the reporter asked to
	// talk) a care request to HR.
	if r.deliver-before != 4 || len(r.sent.to(mamori.TargetChannel, "C0HR")) != 1 {
		t.Fatalf("%d messages on submit", r.deliver-before)
	}
	// The conversation is gone; the case stays.
	err := r.db.View(context.Background(), func(tx mamori.Tx) error {
		if _, err := tx.Conversation("slack:UME"); !errors.Is(err, mamori.ErrNotFound) {
			return fmt.Errorf("conversation left: %v", err)
		}
		k, err := tx.Case("KH-2026-0001")
		if err != nil {
			return err
		}
		if k.Answers.Narrative == "" || k.Department != "store" {
			return fmt.Errorf("case: %+v", k)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	trail, err := r.db.AuditTrail(context.Background(), "KH-2026-0001")
	if err != nil || len(trail) == 0 || trail[0].Action != "report.submitted" {
		t.Fatalf("audit: %+v %v", trail, err)
	}
	if _, err := r.db.VerifyAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A second report gets the next number.
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	r.reportToSummary("UME")
	r.click("UME", "submit")
	if cards := r.sent.to(mamori.TargetChannel, "C0STORE"); len(cards) != 2 || !strings.Contains(cards[1].Header, "KH-2026-0002") {
		t.Fatalf("second card: %+v", cards)
	}
}

func TestRetriedDeliveryAnswersOnce(t *testing.T) {
	r := newRig(t)
	in := mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "こんにちは", Delivery: "Ev123"}
	r.do(in)
	n := r.deliver
	r.do(in) // Slack retries the event
	r.restart()
	r.do(in) // and again after a restart
	if r.deliver != n {
		t.Fatalf("a retried event was answered again: %d then %d", n, r.deliver)
	}
}

func TestSafetyAlertGoesOutAtOnce(t *testing.T) {
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	r.click("UME", "injured")
	for _, ch := range []string{"C0STORE", "C0HR"} {
		ms := r.sent.to(mamori.TargetChannel, ch)
		if len(ms) != 1 || !ms[0].Urgent || !strings.Contains(ms[0].Text, "<@UME>") {
			t.Fatalf("%s: %+v", ch, ms)
		}
	}
	trail, _ := r.db.AuditTrail(context.Background(), "slack:UME")
	if len(trail) < 2 || trail[len(trail)-1].Action != "safety.alert" {
		t.Fatalf("audit: %+v", trail)
	}
}

func TestConsultationBecomesReport(t *testing.T) {
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartConsult})
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "これはカスハラでしょうか"})
	r.click("UME", "yes")
	r.click("UME", "submit")
	hr := r.sent.to(mamori.TargetChannel, "C0HR")
	if len(hr) != 1 || !strings.Contains(hr[0].Header, "SD-2026-0001") || strings.Contains(hr[0].Text, "カスハラでしょうか") {
		t.Fatalf("HR card: %+v", hr)
	}
	r.click("UME", "from:SD-2026-0001")
	if m := r.last("UME"); m.Step != "safety" {
		t.Fatalf("report did not start: %+v", m)
	}
	r.reportToSummary("UME")
	var narrative string
	for _, f := range r.last("UME").Fields {
		if f.Label == "出来事" {
			narrative = f.Value
		}
	}
	if narrative != "これはカスハラでしょうか" {
		t.Fatalf("narrative not carried over: %q", narrative)
	}
}

func TestCaseDetailsAccess(t *testing.T) {
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	r.reportToSummary("UME")
	r.click("UME", "submit")
	ctx := context.Background()
	for _, tt := range []struct {
		who  string
		lang mamori.Lang
		ok   bool
	}{{"USUP", mamori.JA, true}, {"UHR", mamori.EN, true}, {"UME", mamori.JA, true}, {"UOTHER", mamori.JA, false}, {"USTRANGER", mamori.EN, false}} {
		u := user(tt.who)
		u.Lang = tt.lang
		m, err := r.svc.CaseDetails(ctx, u, "KH-2026-0001")
		if tt.ok != (err == nil) {
			t.Fatalf("%s: err %v", tt.who, err)
		}
		has := false
		for _, f := range m.Fields {
			has = has || strings.Contains(f.Value, "秘密の出来事")
		}
		if has != tt.ok {
			t.Fatalf("%s sees narrative: %v", tt.who, has)
		}
		if !tt.ok && (!errors.Is(err, mamori.ErrForbidden) || m.Text == "") {
			t.Fatalf("%s: refusal %+v %v", tt.who, m, err)
		}
	}
	if _, err := r.svc.CaseDetails(ctx, user("USUP"), "KH-2026-9999"); !errors.Is(err, mamori.ErrNotFound) {
		t.Fatalf("missing case: %v", err)
	}
	trail, _ := r.db.AuditTrail(ctx, "KH-2026-0001")
	var refused int
	for _, e := range trail {
		if e.Action == "case.view_refused" {
			refused++
		}
	}
	if refused != 2 {
		t.Fatalf("refusals audited: %d", refused)
	}
}

func TestHome(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	m, err := r.svc.Home(ctx, user("UME"))
	if err != nil || len(m.Choices) != 3 || m.Fields[0].Value != "まだありません" {
		t.Fatalf("home: %+v %v", m, err)
	}
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	r.reportToSummary("UME")
	r.click("UME", "submit")
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	m, _ = r.svc.Home(ctx, user("UME"))
	if m.Fields[0].Label != "KH-2026-0001" || !strings.Contains(m.Text, "書きかけ") {
		t.Fatalf("home: %+v", m)
	}
}

// TestReminderFollowsLastStep: the reminder is due a day after the last
// step, however many steps came after the first, and never after the
// report is cancelled.
func TestReminderFollowsLastStep(t *testing.T) {
	r := newRig(t)
	drain := func() {
		t.Helper()
		if _, err := r.worker.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	r.clock.Add(20 * time.Hour)
	r.click("UME", "safe") // the last step: the reminder is due 20 h + 24 h after the start
	before := len(r.sent.to(mamori.TargetUser, "UME"))
	r.clock.Add(5 * time.Hour) // a day after the first step
	drain()
	if len(r.sent.to(mamori.TargetUser, "UME")) != before {
		t.Fatal("reminded a day after the first step, not the last")
	}
	r.clock.Add(20 * time.Hour) // a day and an hour after the last step
	drain()
	got := r.sent.to(mamori.TargetUser, "UME")
	if len(got) != before+1 || got[before].Step != "resume" {
		t.Fatalf("no reminder a day after the last step: %d → %d", before, len(got))
	}
	// Back after the reminder, then gone again: reminded again a day later.
	r.click("UME", "continue")
	before = len(r.sent.to(mamori.TargetUser, "UME"))
	r.clock.Add(25 * time.Hour)
	drain()
	if got := r.sent.to(mamori.TargetUser, "UME"); len(got) != before+1 || got[before].Step != "resume" {
		t.Fatalf("no second reminder after coming back: %d → %d", before, len(got))
	}

	// Cancelled: no reminder.
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport, User: user("UTWO")})
	r.click("UTWO", "nav:cancel")
	r.click("UTWO", "yes")
	n := len(r.sent.to(mamori.TargetUser, "UTWO"))
	r.clock.Add(72 * time.Hour)
	drain()
	if got := r.sent.to(mamori.TargetUser, "UTWO"); len(got) != n {
		t.Fatalf("reminded after cancelling: %+v", got[n:])
	}
}

func TestReminderAfterPause(t *testing.T) {
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	r.click("UME", "safe")
	r.click("UME", "nav:later")
	before := len(r.sent.to(mamori.TargetUser, "UME"))
	r.clock.Add(23 * time.Hour)
	r.do(mamori.Input{Kind: mamori.InputStart, User: user("UNOBODY")}) // unrelated traffic
	if len(r.sent.to(mamori.TargetUser, "UME")) != before {
		t.Fatal("reminded early")
	}
	r.restart()
	r.clock.Add(2 * time.Hour)
	if _, err := r.worker.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := r.sent.to(mamori.TargetUser, "UME")
	if len(got) != before+1 || got[before].Step != "resume" {
		t.Fatalf("no reminder: %d → %d", before, len(got))
	}
	// It is sent once.
	r.clock.Add(48 * time.Hour)
	r.worker.Drain(context.Background())
	if len(r.sent.to(mamori.TargetUser, "UME")) != before+1 {
		t.Fatal("reminded twice")
	}
	r.click("UME", "continue")
	if m := r.last("UME"); m.Step != "for_whom" {
		t.Fatalf("resumed at %q", m.Step)
	}
}

func TestWorkerRetries(t *testing.T) {
	r := newRig(t)
	calls := 0
	r.sent.fail = func(it mamori.OutboxItem) error {
		calls++
		switch calls {
		case 1:
			return &mamori.RetryAfterError{After: 30 * time.Second}
		case 2:
			return errors.New("502 bad gateway")
		}
		return nil
	}
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	if len(r.sent.items) != 0 {
		t.Fatal("sent despite 429")
	}
	r.clock.Add(29 * time.Second)
	r.worker.Drain(context.Background())
	if calls != 1 {
		t.Fatalf("retried before Retry-After: %d calls", calls)
	}
	r.clock.Add(2 * time.Second)
	r.worker.Drain(context.Background())
	r.clock.Add(10 * time.Second)
	r.worker.Drain(context.Background())
	ms := r.sent.to(mamori.TargetUser, "UME")
	// The intro and the first question arrive as one message.
	if len(ms) != 1 || ms[0].Step != "safety" || !strings.Contains(ms[0].Text, "ひとつずつ") {
		t.Fatalf("after retries: %+v", ms)
	}

	// A permanent error gives up at once and tells someone.
	r.sent.fail = func(it mamori.OutboxItem) error {
		if it.Target.ID == "C0STORE" {
			return &mamori.PermanentError{Err: errors.New("channel_not_found")}
		}
		return nil
	}
	r.reportToSummary("UME")
	r.click("UME", "submit")
	if len(r.gaveUp) != 1 || r.gaveUp[0].Target.ID != "C0STORE" {
		t.Fatalf("gave up: %+v", r.gaveUp)
	}
	failed, _ := r.db.ListOutbox(context.Background(), mamori.OutboxFailed, 10)
	if len(failed) != 1 || !strings.Contains(failed[0].LastErr, "channel_not_found") {
		t.Fatalf("failed: %+v", failed)
	}
}

func TestInvalidInput(t *testing.T) {
	r := newRig(t)
	if err := r.svc.Handle(context.Background(), mamori.Input{Kind: mamori.InputText}); !errors.Is(err, mamori.ErrInvalid) {
		t.Fatalf("no user: %v", err)
	}
	// A click on a step this version does not know falls back to the menu.
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UME"), Step: "nonsense", Value: "x"})
	if m := r.last("UME"); m.Step != "menu" {
		t.Fatalf("got %+v", m)
	}
}
