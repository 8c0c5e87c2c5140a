package flows_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

// alertsTo are the SOS alert cards the target received, in order.
func (r *rig) alertsTo(kind, id string) []mamori.Message {
	var out []mamori.Message
	for _, m := range r.sent.to(kind, id) {
		if strings.HasPrefix(m.Ref, "sos:") {
			out = append(out, m)
		}
	}
	return out
}

// alertPosts counts the distinct alert cards the target got (an update in
// place is not a new one).
func (r *rig) alertPosts(kind, id string) int {
	refs := map[string]bool{}
	for _, m := range r.alertsTo(kind, id) {
		refs[m.Ref] = true
	}
	return len(refs)
}

func fieldValue(m mamori.Message, label string) string {
	for _, f := range m.Fields {
		if f.Label == label {
			return f.Value
		}
	}
	return ""
}

func audited(t *testing.T, r *rig, subject string) []string {
	t.Helper()
	es, err := r.db.AuditTrail(context.Background(), subject)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Action)
	}
	return out
}

// TestSOSLife: an SOS from the menu alerts at once (department channel,
// HR, on-call), asks where they are and updates the alert with it; nobody
// answers, so it escalates by DM along the chain on the clock, telling
// the employee; a restart in the middle loses and repeats nothing; the
// first responder is named to the employee and on every card, later ones
// are told who has it; outsiders may not; "safe now" closes it and the
// report starts with what is known.
func TestSOSLife(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.svc.SOS = sosConfig()
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartSOS})
	const n = "SOS-2026-0001"

	// Alerted at once, before any question.
	for _, ch := range []string{"C0STORE", "C0HR"} {
		a := r.alertsTo(mamori.TargetChannel, ch)
		if len(a) != 1 || !a[0].Urgent || !strings.Contains(a[0].Text, "<@UME>") || a[0].Choices[0].Value != mamori.SOSAck+":"+n {
			t.Fatalf("%s: %+v", ch, a)
		}
	}
	if a := r.alertsTo(mamori.TargetUser, "UONCALL"); len(a) != 1 {
		t.Fatalf("on call: %+v", a)
	}
	// That it went out first, then what to do on the spot; last, where a
	// phone shows it, the one question.
	raised := r.sent.to(mamori.TargetUser, "UME")
	if len(raised) < 3 || !strings.Contains(raised[0].Header, n) || !strings.Contains(raised[len(raised)-1].Text, "どこ") ||
		!strings.Contains(raised[1].Header, "その場での対応") {
		t.Fatalf("the employee: %+v", raised)
	}

	// When the first alert reached the platform is kept, for the figure.
	if k := r.kase(n); k.Decision.Emergency.Posted.IsZero() {
		t.Error("the alert's delivery was not recorded")
	}

	// The one question: where. The cards show it.
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "1階 レジ前"})
	if a := r.alertsTo(mamori.TargetChannel, "C0STORE"); fieldValue(a[len(a)-1], "場所") != "1階 レジ前" {
		t.Fatalf("place not on the card: %+v", a[len(a)-1])
	}
	// A photo and a line during the SOS are kept with it.
	r.do(mamori.Input{Kind: mamori.InputFile, User: user("UME"), Files: []mamori.File{{ID: "F1", Name: "voice.m4a"}}})
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "まだ大声で怒鳴っています"})
	k := r.kase(n)
	if e := k.Decision.Emergency; e == nil || len(e.Files) != 1 || len(e.Notes) != 1 || e.Place != "1階 レジ前" {
		t.Fatalf("record: %+v", k.Decision)
	}
	// Nothing of it in a channel but the place.
	for _, ch := range []string{"C0STORE", "C0HR"} {
		for _, m := range r.sent.to(mamori.TargetChannel, ch) {
			if strings.Contains(m.Text+m.Note+fieldValue(m, "場所"), "怒鳴") {
				t.Errorf("the note reached %s", ch)
			}
		}
	}

	// Nobody answers: round 1 alerts the first level by DM...
	r.advance(3*time.Minute + time.Second)
	if a := r.alertsTo(mamori.TargetUser, "USUP"); len(a) != 1 || a[0].Choices[0].Value != mamori.SOSAck+":"+n {
		t.Fatalf("round 1 to USUP: %+v", a)
	}
	if m := r.sent.to(mamori.TargetUser, "UME"); !strings.Contains(m[len(m)-1].Text, "1 回目") || !strings.Contains(m[len(m)-1].Text, "110") {
		t.Fatalf("the employee is not told: %+v", m[len(m)-1])
	}
	// ...a restart in the middle loses nothing and repeats nothing...
	r.restart()
	r.svc.SOS = sosConfig()
	r.worker.Drain(ctx)
	if n := r.alertPosts(mamori.TargetUser, "USUP"); n != 1 {
		t.Fatalf("USUP alerted again after a restart: %d", n)
	}
	// ...round 2 the next level, round 3 the last level again.
	r.advance(3*time.Minute + time.Second)
	if n := r.alertPosts(mamori.TargetUser, "UBOSS"); n != 1 {
		t.Fatalf("round 2 to UBOSS: %d", n)
	}
	r.advance(3*time.Minute + time.Second)
	if n := r.alertPosts(mamori.TargetUser, "UBOSS"); n != 2 {
		t.Fatalf("round 3 to UBOSS: %d", n)
	}
	if got := fieldValue(r.alertsTo(mamori.TargetChannel, "C0HR")[len(r.alertsTo(mamori.TargetChannel, "C0HR"))-1], "状況"); !strings.Contains(got, "3 回") {
		t.Errorf("the HR card does not show the rounds: %q", got)
	}

	// Outsiders and the employee may not acknowledge.
	for _, who := range []string{"UOTHER", "UME", "USTRANGER"} {
		if _, m, err := r.svc.Open(ctx, user(who), mamori.Action{Kind: mamori.SOSAck, Subject: n}); !errors.Is(err, mamori.ErrForbidden) || m.Text == "" {
			t.Errorf("%s acknowledged: %v", who, err)
		}
	}
	// The first responder: named to the employee and on every card.
	_, m, err := r.svc.Open(ctx, user("UBOSS"), mamori.Action{Kind: mamori.SOSAck, Subject: n})
	if err != nil || !strings.Contains(m.Text, "<@UME>") {
		t.Fatalf("ack: %+v %v", m, err)
	}
	r.worker.Drain(ctx)
	if got := r.sent.to(mamori.TargetUser, "UME"); !strings.Contains(got[len(got)-1].Header, "<@UBOSS> さんが対応します") {
		t.Fatalf("the employee is not told who: %+v", got[len(got)-1])
	}
	for _, target := range [][2]string{{mamori.TargetChannel, "C0STORE"}, {mamori.TargetChannel, "C0HR"}, {mamori.TargetUser, "UONCALL"}, {mamori.TargetUser, "USUP"}} {
		a := r.alertsTo(target[0], target[1])
		last := a[len(a)-1]
		// What the employee sent is read behind the details button.
		if !strings.Contains(fieldValue(last, "状況"), "<@UBOSS>") || len(last.Choices) != 2 || last.Choices[0].Value != mamori.SOSClose+":"+n ||
			last.Choices[1].Value != mamori.CardDetails+":"+n ||
			!strings.HasPrefix(fieldValue(last, "本人から"), "メッセージ 1 件・ファイル 1 件") {
			t.Errorf("%s's card after the ack: %+v", target[1], last)
		}
	}
	// A later responder is told who has it; the chain stops.
	if _, m, err := r.svc.Open(ctx, user("UHR"), mamori.Action{Kind: mamori.SOSAck, Subject: n}); err != nil || !strings.Contains(m.Text, "<@UBOSS>") {
		t.Errorf("second ack: %+v %v", m, err)
	}
	before := len(r.sent.items)
	r.advance(10 * time.Minute)
	if len(r.sent.items) != before {
		t.Errorf("escalated after the ack: %+v", r.sent.items[before:])
	}

	// Safe now: closed, and a report starts with what is known.
	r.click("UME", mamori.SOSSafe+":"+n)
	if k := r.kase(n); k.Status != mamori.StatusClosed || k.Decision.Emergency.Safe.IsZero() {
		t.Fatalf("not closed: %+v", k)
	}
	safe := r.last("UME")
	if len(safe.Choices) != 1 || safe.Choices[0].Value != mamori.SOSReport+":"+n {
		t.Fatalf("no report offered: %+v", safe)
	}
	if a := r.alertsTo(mamori.TargetChannel, "C0STORE"); !strings.Contains(a[len(a)-1].Text, "安全になった") {
		t.Errorf("the card does not say safe: %+v", a[len(a)-1])
	}
	r.click("UME", mamori.SOSReport+":"+n)
	// Not asked again whether she is safe: she has just said so.
	if step := r.last("UME").Step; step == "safety" {
		t.Errorf("the report from the SOS asks %q first", step)
	}
	for i := 0; r.last("UME").Step != "place"; i++ {
		if i > 10 {
			t.Fatal("never asked the place")
		}
		r.answer("UME")
	}
	if m := r.last("UME"); !strings.Contains(m.Note, "1階 レジ前") {
		t.Fatalf("the place is not filled in: %+v", m)
	}
	r.click("UME", "nav:keep")
	r.reportToSummary("UME")
	r.click("UME", "submit")
	var report mamori.Case
	report = r.kase("KH-2026-0001")
	if report.Answers.FromSOS != n || report.Answers.Place != "1階 レジ前" || len(report.Answers.Files) != 1 {
		t.Fatalf("report not carried over: %+v", report.Answers)
	}
	if r.kase(n).Decision.Emergency.Report != report.Number {
		t.Errorf("the SOS does not name its report")
	}
	want := []string{"sos.alerted", "sos.posted", "sos.place", "sos.file", "sos.note", "sos.escalated", "sos.ack_refused", "sos.acked", "sos.safe"}
	got := strings.Join(audited(t, r, n), " ")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("audit lacks %s: %s", w, got)
		}
	}
}

func sosConfig() flows.SOS {
	return flows.SOS{OnCall: []string{"UONCALL"}, AckWithin: 3 * time.Minute, Escalation: [][]string{{"USUP"}, {"UBOSS"}}}
}

// TestSOSTyped: typed words raise it; pressing again says where it
// stands; skipping the question; in English; "safe" with nobody there.
func TestSOSTyped(t *testing.T) {
	r := newRig(t)
	for _, word := range []string{"助けて！", "たすけて", "SOS"} {
		r := newRig(t)
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: word})
		if a := r.alertsTo(mamori.TargetChannel, "C0HR"); len(a) != 1 {
			t.Errorf("%q raised no SOS", word)
		}
	}
	en := user("UME")
	en.Lang = mamori.EN
	r.do(mamori.Input{Kind: mamori.InputText, User: en, Text: "sos"})
	if m := r.sent.to(mamori.TargetUser, "UME"); !strings.Contains(m[len(m)-3].Header, "SOS sent") || !strings.Contains(m[len(m)-1].Text, "Where are you") {
		t.Fatalf("english: %+v", m[len(m)-3:])
	}
	r.do(mamori.Input{Kind: mamori.InputChoice, User: en, Step: "sos", Value: mamori.SOSSkip + ":SOS-2026-0001"})
	r.do(mamori.Input{Kind: mamori.InputText, User: en, Text: "SOS"})
	if m := r.sent.to(mamori.TargetUser, "UME"); !strings.Contains(m[len(m)-1].Text, "has been sent") {
		t.Fatalf("again: %+v", m[len(m)-1])
	}
	if a := r.alertsTo(mamori.TargetChannel, "C0HR"); len(a) != 1 {
		t.Errorf("a second SOS was raised: %d", len(a))
	}
	// Skipped: text now is a note, not the place.
	r.do(mamori.Input{Kind: mamori.InputText, User: en, Text: "back office"})
	if k := r.kase("SOS-2026-0001"); k.Decision.Emergency.Place != "" || len(k.Decision.Emergency.Notes) != 1 {
		t.Errorf("after skip: %+v", k.Decision.Emergency)
	}
	// Someone else's button does nothing.
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UOTHER"), Step: "sos", Value: mamori.SOSSafe + ":SOS-2026-0001"})
	if r.kase("SOS-2026-0001").Status == mamori.StatusClosed {
		t.Error("someone else closed the SOS")
	}
}

// TestSOSSafeTyped: "I'm safe now" typed instead of pressed closes the
// SOS, in either language, where they are asked the place too; what only
// looks like it is kept as a note.
func TestSOSSafeTyped(t *testing.T) {
	for _, tc := range []struct {
		typed string
		place bool // typed at the place question
		safe  bool
	}{
		{"I'm safe now", false, true},
		{"i’m safe now!", true, true},
		{"安全になった", true, true},
		{"もう大丈夫です。", false, true},
		{"大丈夫じゃない", false, false},
		{"not safe", false, false},
	} {
		r := newRig(t)
		me := user("UME")
		if strings.ContainsAny(tc.typed, "abcdefghijklmnopqrstuvwxyz") {
			me.Lang = mamori.EN
		}
		r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "SOS"})
		if !tc.place {
			r.do(mamori.Input{Kind: mamori.InputChoice, User: me, Step: "sos", Value: mamori.SOSSkip + ":SOS-2026-0001"})
		}
		r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: tc.typed})
		k := r.kase("SOS-2026-0001")
		if closed := k.Status == mamori.StatusClosed; closed != tc.safe {
			t.Errorf("%q: closed %v, want %v", tc.typed, closed, tc.safe)
			continue
		}
		if !tc.safe {
			continue
		}
		if e := k.Decision.Emergency; e.Place != "" || len(e.Notes) != 0 {
			t.Errorf("%q kept as the place or a note too: %+v", tc.typed, e)
		}
		m := r.sent.to(mamori.TargetUser, "UME")
		if last := m[len(m)-1]; !strings.Contains(last.Header, r.svc.Policy.T(me.Lang, "sos.safe.header")) {
			t.Errorf("%q: told %+v", tc.typed, last)
		}
	}
}

// TestSOSSafeTypedInReport: an SOS raised at the report's safety
// question learns the place the report is told; "安全になった" typed
// during that report closes it and is not kept as an answer — the report
// goes on at the same question; "大丈夫" there is an answer like any.
func TestSOSSafeTypedInReport(t *testing.T) {
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	r.click("UME", "danger")
	n := "SOS-2026-0001"
	if k := r.kase(n); k.Status == mamori.StatusClosed {
		t.Fatalf("no SOS: %+v", k)
	}
	for i := 0; r.last("UME").Step != "place"; i++ {
		if i > 10 {
			t.Fatal("never asked the place")
		}
		r.answer("UME")
	}
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "2階 倉庫"})
	if k := r.kase(n); k.Decision.Emergency.Place != "2階 倉庫" {
		t.Errorf("the SOS did not learn the place: %+v", k.Decision.Emergency)
	}
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "大丈夫"})
	if r.kase(n).Status == mamori.StatusClosed {
		t.Error("大丈夫 during the report closed the SOS")
	}
	step := r.last("UME").Step
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "安全になった"})
	if k := r.kase(n); k.Status != mamori.StatusClosed {
		t.Fatalf("not closed: %+v", k.Status)
	}
	ms := r.sent.to(mamori.TargetUser, "UME")
	if got := ms[len(ms)-2]; !strings.Contains(got.Text, r.svc.Policy.T(mamori.JA, "sos.safe.in_report")) || len(got.Choices) != 0 {
		t.Errorf("told %+v", got)
	}
	if last := r.last("UME"); last.Step != step {
		t.Errorf("the report moved on to %q, not %q again", last.Step, step)
	}
	err := r.db.View(context.Background(), func(tx mamori.Tx) error {
		c, err := tx.Conversation("slack:UME")
		if err == nil && strings.Contains(c.Answers.When+c.Answers.Narrative+c.Answers.Place+c.Answers.Customer, "安全になった") {
			t.Errorf("kept as an answer: %+v", c.Answers)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTypedAtTheMenuIsKept: what happened, typed before anything was
// asked, is kept and filled in as the account when the report starts; a
// greeting is not.
func TestTypedAtTheMenuIsKept(t *testing.T) {
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "こんにちは"})
	const told = "今日お客様にレジで怒鳴られて、まだ手が震えています"
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: told})
	if m := r.last("UME"); !strings.Contains(m.Text, r.svc.Policy.T(mamori.JA, "menu.kept")) {
		t.Fatalf("not kept: %+v", m)
	}
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UME"), Step: "menu", Value: mamori.StartReport})
	for i := 0; r.last("UME").Step != "narrative"; i++ {
		if i > 10 {
			t.Fatal("never asked what happened")
		}
		r.answer("UME")
	}
	if m := r.last("UME"); !strings.Contains(m.Note, told) {
		t.Errorf("the account is not filled in: %+v", m)
	}
	// The button's label, typed: kept, not overwritten with the label.
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "このままにする"})
	r.reportToSummary("UME")
	r.click("UME", "submit")
	if k := r.kase("KH-2026-0001"); k.Answers.Narrative != told {
		t.Errorf("narrative %q", k.Answers.Narrative)
	}
}

// TestTypedButtonWords: on the questions that take only buttons, their
// words typed work as pressed: "いいえ" at "stop and delete?", the
// summary's "この内容で報告する".
func TestTypedButtonWords(t *testing.T) {
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	r.answer("UME")
	at := r.last("UME").Step
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "やめる"})
	if got := r.last("UME").Step; got != "cancel" {
		t.Fatalf("at %q after やめる", got)
	}
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "いいえ"})
	if got := r.last("UME").Step; got != at {
		t.Fatalf("いいえ at cancel: at %q, want %q", got, at)
	}
	r.reportToSummary("UME")
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "この内容で報告する"})
	if k := r.kase("KH-2026-0001"); k.Number == "" {
		t.Fatal("the summary's words typed did not send the report")
	}
}

// TestSOSDuringReport: SOS pressed in the middle of a report keeps the
// report; the place question comes first, then the report goes on.
func TestSOSDuringReport(t *testing.T) {
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	r.answer("UME") // safe
	at := r.last("UME").Step
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UME"), Step: "menu", Value: mamori.StartSOS})
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "倉庫"})
	if k := r.kase("SOS-2026-0001"); k.Decision.Emergency.Place != "倉庫" {
		t.Fatalf("place: %+v", k.Decision.Emergency)
	}
	r.do(mamori.Input{Kind: mamori.InputStart})
	if m := r.last("UME"); m.Step != at {
		t.Fatalf("the report was lost: at %q, want %q", m.Step, at)
	}
}

// TestSOSUnknownDepartment: someone in no department alerts HR, and is
// told so.
func TestSOSUnknownDepartment(t *testing.T) {
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, User: user("UNEW"), Value: mamori.StartSOS})
	if m := r.sent.to(mamori.TargetUser, "UNEW"); !strings.Contains(m[0].Text, "人事の相談窓口") || strings.Contains(m[0].Text, "上長") {
		t.Fatalf("unknown department: %q", m[0].Text)
	}
	if a := r.alertsTo(mamori.TargetChannel, "C0HR"); len(a) != 1 {
		t.Fatalf("HR: %+v", a)
	}
	// The default chain without a department: HR by DM.
	r.advance(3*time.Minute + time.Second)
	if a := r.alertsTo(mamori.TargetUser, "UHR"); len(a) != 1 {
		t.Fatalf("HR not alerted by DM: %+v", a)
	}
}

// TestSOSClosedByResponder: an employee who never says "safe" — the
// responder who has it closes it, once someone has it; the employee is
// told and offered a report, and what they type next is no SOS note.
func TestSOSClosedByResponder(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartSOS})
	const n = "SOS-2026-0001"
	closeIt := func(who string) (mamori.Message, error) {
		_, m, err := r.svc.Open(ctx, user(who), mamori.Action{Kind: mamori.SOSClose, Subject: n})
		r.worker.Drain(ctx)
		return m, err
	}
	if _, err := closeIt("USUP"); !errors.Is(err, mamori.ErrConflict) {
		t.Fatalf("closed before anyone had it: %v", err)
	}
	if _, _, err := r.svc.Open(ctx, user("USUP"), mamori.Action{Kind: mamori.SOSAck, Subject: n}); err != nil {
		t.Fatal(err)
	}
	if _, err := closeIt("UOTHER"); !errors.Is(err, mamori.ErrForbidden) {
		t.Fatalf("an outsider closed it: %v", err)
	}
	if m, err := closeIt("UHR"); err != nil || !strings.Contains(m.Text, n) {
		t.Fatalf("close: %+v %v", m, err)
	}
	k := r.kase(n)
	if k.Status != mamori.StatusClosed || k.Decision.Emergency.SafeBy != "slack:UHR" {
		t.Fatalf("not closed: %+v", k)
	}
	got := r.last("UME")
	if !strings.Contains(got.Header, "<@UHR>") || len(got.Choices) != 1 || got.Choices[0].Value != mamori.SOSReport+":"+n {
		t.Fatalf("the employee: %+v", got)
	}
	// The supervisor who was on it hears that HR closed it (found by a
	// supervisor trial: they were left responding to a closed SOS).
	if ms := r.sent.to(mamori.TargetUser, "USUP"); len(ms) == 0 {
		t.Error("the responder was not told")
	} else if m := ms[len(ms)-1]; !strings.Contains(m.Text, "<@UHR>") || !strings.Contains(m.Text, n) || !strings.Contains(m.Text, "<@UME>") {
		t.Errorf("the responder was not told: %+v", m)
	}
	if a := r.alertsTo(mamori.TargetChannel, "C0HR"); !strings.Contains(fieldValue(a[len(a)-1], "状況"), "<@UHR>") || len(a[len(a)-1].Choices) != 0 {
		t.Errorf("the card: %+v", a[len(a)-1])
	}
	// Their App Home says who closed it, not that they said so (found by
	// a trial).
	if home, err := r.svc.Home(ctx, user("UME")); err != nil || !strings.Contains(messageText(home), "<@UHR> さんが安全を確認して閉じました") {
		t.Errorf("home: %s %v", messageText(home), err)
	}
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "ありがとうございました"})
	if len(r.kase(n).Decision.Emergency.Notes) != 0 {
		t.Error("text after the close was kept as an SOS note")
	}
	if !strings.Contains(strings.Join(audited(t, r, n), " "), "sos.closed") {
		t.Error("not audited")
	}
}

// TestSOSSurvivesTheMenu: opening the menu (the slash command, App Home)
// during an open SOS does not forget it: SOS again says where it stands
// instead of raising a second, and what is typed is still kept with it.
func TestSOSSurvivesTheMenu(t *testing.T) {
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartSOS})
	r.do(mamori.Input{Kind: mamori.InputStart})
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "SOS"})
	if m := r.sent.to(mamori.TargetUser, "UME"); !strings.Contains(m[len(m)-1].Text, "SOS-2026-0001") {
		t.Fatalf("SOS again after the menu: %+v", m[len(m)-1])
	}
	if a := r.alertsTo(mamori.TargetChannel, "C0HR"); r.alertPosts(mamori.TargetChannel, "C0HR") != 1 {
		t.Errorf("a second SOS was raised: %+v", a)
	}
	// The place was still asked (found by a user trial: the command, or a
	// restart, forgot it): the command brings that question back, not
	// the menu, and the answer is the place; what follows is a note.
	r.do(mamori.Input{Kind: mamori.InputStart})
	if m := r.last("UME"); m.Step != "sos" || !strings.Contains(m.Text, r.svc.Policy.T(mamori.JA, "sos.place.ask")) {
		t.Errorf("the command while asked where they are: %+v", m)
	}
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "倉庫に逃げました"})
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "ドアに鍵をかけました"})
	if e := r.kase("SOS-2026-0001").Decision.Emergency; e.Place != "倉庫に逃げました" || len(e.Notes) != 1 {
		t.Errorf("after the command, the place then a note: %+v", e)
	}
}

// TestSOSNewsDuringReport (found by a user trial): with an SOS raised at
// the report's safety question, the place button's words typed skip it;
// fear typed at a question asked in words ("まだお客様がいて怖いです" at
// "when?") goes to those responding, not into the report; "もう大丈夫です"
// closes the SOS and the report asks its question again; fear in the
// account itself stays the account.
func TestSOSNewsDuringReport(t *testing.T) {
	r := newRig(t)
	me := user("UME")
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	r.click("UME", "danger")
	n := "SOS-2026-0001"
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "答えない"})
	if k := r.kase(n); k.Decision.Emergency.Place != "" {
		t.Errorf("the skip button's words became the place: %q", k.Decision.Emergency.Place)
	}
	r.answerUntil("UME", "when")
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "まだお客様がいて怖いです"})
	if e := r.kase(n).Decision.Emergency; len(e.Notes) != 1 || e.Notes[0].Text != "まだお客様がいて怖いです" {
		t.Errorf("not passed on: %+v", e)
	}
	if last := r.last("UME"); last.Step != "when" {
		t.Errorf("the report moved on to %q", last.Step)
	}
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "もう大丈夫です"})
	if k := r.kase(n); k.Status != mamori.StatusClosed {
		t.Errorf("もう大丈夫です did not close the SOS: %s", k.Status)
	}
	if last := r.last("UME"); last.Step != "when" {
		t.Errorf("the report moved on to %q", last.Step)
	}
	r.db.View(context.Background(), func(tx mamori.Tx) error {
		c, _ := tx.Conversation("slack:UME")
		if c.Answers.When != "" {
			t.Errorf("kept as the date: %q", c.Answers.When)
		}
		return nil
	})
	// Fear in the account is the account.
	r = newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	r.click("UME", "danger")
	r.answerUntil("UME", "narrative")
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "大声で怒鳴られて怖かった"})
	r.db.View(context.Background(), func(tx mamori.Tx) error {
		c, _ := tx.Conversation("slack:UME")
		if c.Answers.Narrative != "大声で怒鳴られて怖かった" {
			t.Errorf("the account was not kept: %+v", c.Answers)
		}
		return nil
	})
}

// TestDraftKeptThroughCommand: what was typed at the menu is still kept
// for the report after the command that shows the menu again.
func TestDraftKeptThroughCommand(t *testing.T) {
	r := newRig(t)
	me := user("UME")
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "今日また別のお客様に怒鳴られました"})
	r.do(mamori.Input{Kind: mamori.InputStart, User: me})
	r.reportUntil("UME", "narrative")
	if m := r.last("UME"); !strings.Contains(m.Note, "今日また別のお客様に怒鳴られました") {
		t.Errorf("the draft is gone: %+v", m)
	}
}

// TestSOSPlaceAfterRestart (found by a user trial): an SOS raised during
// a report asks where they are; coming back with the command (or a
// restart of the terminal, which sends one) asks that again rather than
// the report's question, and the answer is the SOS's place, not the
// report's.
func TestSOSPlaceAfterRestart(t *testing.T) {
	r := newRig(t)
	me := user("UME")
	r.reportUntil("UME", "narrative")
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "助けて"})
	r.restart()
	r.do(mamori.Input{Kind: mamori.InputStart, User: me})
	if m := r.last("UME"); m.Step != "sos" {
		t.Fatalf("on coming back: %+v", m)
	}
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "バックヤード"})
	if e := r.kase("SOS-2026-0001").Decision.Emergency; e.Place != "バックヤード" {
		t.Errorf("the SOS's place: %q", e.Place)
	}
	if c := r.conv(me); c.Answers.Narrative != "" || c.Step != "narrative" || c.SOSPlace {
		t.Errorf("the report: %+v", c)
	}
	if m := r.last("UME"); m.Step != "narrative" {
		t.Errorf("the report's question does not come back: %+v", m)
	}
}

// TestSOSOutlivesTheReport (found by a user re-trial): stopping a report,
// or starting a new one, during an open SOS keeps the SOS: "もう大丈夫です"
// still closes it, and no second SOS is raised.
func TestSOSOutlivesTheReport(t *testing.T) {
	r := newRig(t)
	me := r.sosInReport("narrative")
	r.click("UME", "nav:cancel")
	r.click("UME", "yes")
	if c := r.conv(me); c.SOS != "SOS-2026-0001" {
		t.Fatalf("after stopping the report: %+v", c)
	}
	r.do(mamori.Input{Kind: mamori.InputStart, User: me, Value: mamori.StartReport})
	r.click("UME", "danger")
	if r.alertPosts(mamori.TargetChannel, "C0HR") != 1 {
		t.Errorf("a second SOS was raised")
	}
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "もう大丈夫です"})
	if e := r.kase("SOS-2026-0001").Decision.Emergency; e.Safe.IsZero() {
		t.Errorf("not closed: %+v", e)
	}
	// An older message's "I'm safe now", pressed after the close: said to
	// be closed, not "glad you're safe" again (found by a user trial).
	r.click("UME", mamori.SOSSafe+":SOS-2026-0001")
	if ms := r.sent.to(mamori.TargetUser, "UME"); !slices.ContainsFunc(ms[len(ms)-3:], func(m mamori.Message) bool {
		return m.Header == "" && strings.Contains(m.Text, "もう閉じています")
	}) {
		t.Errorf("an old safe button after the close: %+v", ms[len(ms)-3:])
	}
}

// TestHelpCalledAtTheMenu (found by a user re-trial): calls for help said
// as people say them raise the SOS at the menu; "I need help" is offered
// it.
func TestHelpCalledAtTheMenu(t *testing.T) {
	for _, typed := range []string{"お願い、助けて", "please help me", "I need help now", "someone please help", "誰か助けて！"} {
		r := newRig(t)
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: typed})
		if c := r.conv(user("UME")); c.SOS == "" {
			t.Errorf("%q raised no SOS", typed)
		}
	}
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "I need help"})
	if m := r.last("UME"); r.conv(user("UME")).SOS != "" || !strings.Contains(m.Text, r.svc.Policy.T(mamori.JA, "sos.offer")) {
		t.Errorf("「I need help」: %+v", m)
	}
}

// TestSOSAckedDuringReport (found by a user re-trial): "佐藤さんが対応します"
// reaching someone writing a report is followed by the report's question,
// so that it is what their screen shows last.
func TestSOSAckedDuringReport(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.sosInReport("narrative")
	if _, _, err := r.svc.Open(ctx, user("USUP"), mamori.Action{Kind: mamori.SOSAck, Subject: "SOS-2026-0001"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.worker.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	ms := r.sent.to(mamori.TargetUser, "UME")
	if len(ms) < 2 || !strings.Contains(ms[len(ms)-2].Header, "USUP") || ms[len(ms)-1].Step != "narrative" {
		t.Errorf("after the acknowledgement: %+v", ms[len(ms)-2:])
	}
}

// TestSOSDMInTheirLanguage (found by an English user trial): the SOS's
// DM to a responder is in their language, the channels' cards in the
// organisation's.
func TestSOSDMInTheirLanguage(t *testing.T) {
	r := newRig(t)
	r.svc.Org.Langs = map[string]mamori.Lang{"USUP": mamori.EN}
	r.do(mamori.Input{Kind: mamori.InputStart, User: user("UME"), Value: mamori.StartSOS})
	r.advance(4 * time.Minute) // nobody has pressed "I'm on it": DMs
	var dm, card *mamori.OutboxItem
	for i, it := range r.sent.items {
		switch {
		case it.Target.Kind == mamori.TargetUser && it.Target.ID == "USUP" && strings.HasPrefix(it.Message.Ref, "sos:"):
			dm = &r.sent.items[i]
		case it.Target.ID == "C0STORE" && strings.HasPrefix(it.Message.Ref, "sos:"):
			card = &r.sent.items[i]
		}
	}
	if dm == nil || dm.Lang != mamori.EN || card == nil || card.Lang != mamori.JA {
		t.Errorf("the DM %+v, the card %+v", dm, card)
	}
}

// TestSOSNewsNotifies (found by two trials): what the employee sends
// during an SOS reaches those responding as a message that notifies —
// a reply in each channel card's thread before anyone has it, a DM to
// the one who has it after — never with the words, which details shows.
func TestSOSNewsNotifies(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartSOS})
	const n, words = "SOS-2026-0001", "お客様がまだ店内にいます。怖いです"
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UME"), Step: "sos", Value: mamori.SOSSkip + ":" + n})
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: words})
	threaded := 0
	r.sent.mu.Lock()
	items := slices.Clone(r.sent.items)
	r.sent.mu.Unlock()
	for _, it := range items {
		if strings.Contains(messageText(it.Message), words) && it.Target.ID != "UME" {
			t.Errorf("the words reached %+v", it.Target)
		}
		if it.Target.Kind == mamori.TargetChannel && it.Target.Thread == "sos:"+n+":hr" && strings.Contains(it.Message.Text, "<@UME>") &&
			it.Message.Choices[0].Value == mamori.CardDetails+":"+n {
			threaded++
		}
	}
	if threaded != 1 {
		t.Errorf("HR's card got %d thread replies, want 1", threaded)
	}
	if _, _, err := r.svc.Open(ctx, user("USUP"), mamori.Action{Kind: mamori.SOSAck, Subject: n}); err != nil {
		t.Fatal(err)
	}
	r.worker.Drain(ctx)
	before := len(r.sent.to(mamori.TargetUser, "USUP"))
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "腕をつかまれました"})
	if ms := r.sent.to(mamori.TargetUser, "USUP"); len(ms) != before+1 || !ms[len(ms)-1].Urgent || !strings.Contains(ms[len(ms)-1].Text, n) {
		t.Errorf("the one on it: %+v; notes %d; UME told %+v", ms[before:], len(r.kase(n).Decision.Emergency.Notes), r.sent.to(mamori.TargetUser, "UME")[len(r.sent.to(mamori.TargetUser, "UME"))-1])
	}
}

// TestSOSSafeAtOnceNoApology (found by a re-trial): safe seconds after
// the SOS, before any round went unanswered, is no "sorry nobody came"
// and no word to HR about it.
func TestSOSSafeAtOnceNoApology(t *testing.T) {
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartSOS})
	r.click("UME", mamori.SOSSafe+":SOS-2026-0001")
	if m := r.last("UME"); strings.Contains(m.Text, "ごめんなさい") {
		t.Errorf("apologised: %+v", m)
	}
	for _, m := range r.sent.to(mamori.TargetChannel, "C0HR") {
		if strings.Contains(m.Header, "応答のないまま") {
			t.Errorf("HR told: %+v", m)
		}
	}
}

// TestSOSUnansweredTellsTheEmployee (found by a trial): when the rounds
// run out with nobody on it, HR's channel hears — and so does the
// employee, with what to do now, not left waiting in silence.
func TestSOSUnansweredTellsTheEmployee(t *testing.T) {
	r := newRig(t)
	r.svc.SOS.MaxRounds = 2
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartSOS})
	for range 4 {
		r.advance(6 * time.Minute)
	}
	got := r.sent.to(mamori.TargetUser, "UME")
	last := got[len(got)-1]
	if !strings.Contains(last.Header, "まだ誰も応答していません") || !strings.Contains(last.Text, "110") ||
		last.Choices[0].Value != mamori.SOSSafe+":SOS-2026-0001" {
		t.Errorf("the employee: %+v", last)
	}
	hr := r.sent.to(mamori.TargetChannel, "C0HR")
	if !strings.Contains(hr[len(hr)-1].Header, "SOS に応答がありません") {
		t.Errorf("HR: %+v", hr[len(hr)-1])
	}
	// Safe at last, with nobody having come: said, and HR hears.
	r.click("UME", mamori.SOSSafe+":SOS-2026-0001")
	if m := r.last("UME"); !strings.Contains(m.Text, "ごめんなさい") {
		t.Errorf("safe, nobody came: %+v", m)
	}
	if hr := r.sent.to(mamori.TargetChannel, "C0HR"); !slices.ContainsFunc(hr, func(m mamori.Message) bool { return strings.Contains(m.Header, "応答のないまま終わった") }) {
		t.Errorf("HR: %+v", hr[len(hr)-2:])
	}
}

// TestSOSPlaceNotNews (found by two trials): at "where are you?",
// 「大丈夫じゃないです」, "hes back", "not safe" are news for those
// responding, not the place; the place is asked again.
func TestSOSPlaceNotNews(t *testing.T) {
	for _, typed := range []string{"大丈夫じゃないです", "hes back", "not safe", "he left", "まだ近くにいます"} {
		r := newRig(t)
		r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartSOS})
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: typed})
		e := r.kase("SOS-2026-0001").Decision.Emergency
		if e.Place != "" || len(e.Notes) != 1 || !r.conv(user("UME")).SOSPlace {
			t.Errorf("%q: place %q, notes %d", typed, e.Place, len(e.Notes))
		}
	}
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartSOS})
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "bookshop"})
	if e := r.kase("SOS-2026-0001").Decision.Emergency; e.Place != "bookshop" {
		t.Errorf("a place: %q", e.Place)
	}
	for _, place := range []string{"safe room", "left exit", "事務所に行った"} { // (found by a review)
		r := newRig(t)
		r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartSOS})
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: place})
		if e := r.kase("SOS-2026-0001").Decision.Emergency; e.Place != place {
			t.Errorf("a place: %q, want %q", e.Place, place)
		}
	}
}

// TestGoneAndSafeAtTheMenu (found by a smoke test): 「もう大丈夫です、帰り
// ました」 typed at the menu during an SOS closes it, as "ok hes gone now,
// im safe" does.
func TestGoneAndSafeAtTheMenu(t *testing.T) {
	for _, typed := range []string{"もう大丈夫です、帰りました", "ok hes gone now, im safe"} {
		r := newRig(t)
		r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartSOS})
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "2階の倉庫"})
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: typed})
		if k := r.kase("SOS-2026-0001"); k.Status != mamori.StatusClosed {
			t.Errorf("%q: the SOS is %s", typed, k.Status)
		}
	}
}

// TestSafeInReportClosesSOS (found by a trial): "safe" answered at a
// report's "are you safe now?" while an SOS is open closes it — it went
// on escalating.
func TestSafeInReportClosesSOS(t *testing.T) {
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartSOS})
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UME"), Step: "sos", Value: mamori.SOSSkip + ":SOS-2026-0001"})
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UME"), Step: "safety", Value: "safe"})
	if k := r.kase("SOS-2026-0001"); k.Status != mamori.StatusClosed {
		t.Errorf("the SOS: %s", k.Status)
	}
	if c := r.conv(user("UME")); c.SOS != "" || c.Flow != mamori.FlowReport || c.Step == "safety" {
		t.Errorf("the report: %+v", c)
	}
}
