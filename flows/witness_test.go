package flows_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mamori-oss/mamori"
)

// TestWitness: a supervisor asks a colleague for a witness statement; the
// colleague gets a button in their DM (never the report), says what they
// saw, and is told they are protected; the statement joins the case's
// confidential record and the thread only hears that one came. Nobody
// else can give or read it; a reopening keeps it; a decided case takes
// no more.
func TestWitness(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	n := r.filed(nil)
	sup := user("USUP")
	a := action(mamori.CardWitness, n)

	// Who may ask: the department's supervisors and HR, never the
	// reporter or an outsider.
	for _, who := range []string{"UME", "UOUT"} {
		if _, _, err := r.svc.Open(ctx, user(who), a); !errors.Is(err, mamori.ErrForbidden) {
			t.Errorf("%s opened the witness form: %v", who, err)
		}
	}
	form, _, err := r.svc.Open(ctx, sup, a)
	if err != nil || form == nil || fieldOf(form, "witness") == nil || fieldOf(form, "witness").Kind != mamori.FieldUser {
		t.Fatalf("witness form: %+v %v", form, err)
	}
	if _, _, err := r.svc.Open(ctx, user("UHR"), a); err != nil {
		t.Errorf("HR may ask for a statement: %v", err)
	}

	// Not the reporter, not oneself, not nobody.
	for who, key := range map[string]string{"": "witness.who.empty", "3日の夕方、見ていましたか？": "witness.who.unknown", "UME": "witness.who.reporter", "<@USUP>": "witness.who.self",
		"UHR": "witness.who.hr"} { // HR would be shut out of the case (found by a user trial)
		_, err := r.svc.Submit(ctx, sup, a, mamori.Values{"witness": {who}})
		var rf *mamori.Refusal
		if !errors.As(err, &rf) || rf.Field != "witness" || rf.Key != key {
			t.Errorf("witness %q: %v, want %s", who, err, key)
		}
	}
	const question = "3日の夕方、レジでのやりとりを見ていましたか？"
	if _, err := r.svc.Submit(ctx, sup, a, mamori.Values{"witness": {"UOTHER"}, "question": {question}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Submit(ctx, sup, a, mamori.Values{"witness": {"UOTHER"}}); err == nil {
		t.Error("the same colleague asked twice")
	}
	r.worker.Drain(ctx)
	dm := r.last("UOTHER")
	if !strings.Contains(dm.Header, n) || !strings.Contains(dm.Text, question) || !strings.Contains(dm.Note, "不利益") ||
		len(dm.Choices) != 1 || dm.Choices[0].Value != "witness:"+n {
		t.Fatalf("the request in the colleague's DM: %+v", dm)
	}
	// The colleague never sees the report.
	for _, m := range r.sent.to(mamori.TargetUser, "UOTHER") {
		if strings.Contains(m.Text+m.Note, "秘密の出来事") {
			t.Errorf("the report reached the witness: %+v", m)
		}
	}

	// Someone else clicking the button gets nowhere.
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UOUT"), Step: "witness", Value: "witness:" + n})
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UOUT"), Text: "私も見ました（うそ）"})

	const statement = "レジで男性客が大声で店員を罵倒し、10分ほど続いていました。"
	r.click("UOTHER", "witness:"+n)
	if p := r.last("UOTHER"); !strings.Contains(p.Text, n) {
		t.Fatalf("the prompt: %+v", p)
	}
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UOTHER"), Text: statement})
	if got := r.sent.to(mamori.TargetUser, "UOTHER"); !strings.Contains(got[len(got)-1].Text, "不利益") {
		t.Errorf("the witness is not told they are protected: %+v", got[len(got)-1])
	}
	k := r.kase(n)
	if len(k.Decision.Witnesses) != 1 || k.Decision.Witnesses[0].Statement != statement || k.Decision.Witnesses[0].Given.IsZero() {
		t.Fatalf("statement not kept: %+v", k.Decision.Witnesses)
	}
	// "Add more" adds to it.
	r.click("UOTHER", "witness:"+n)
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UOTHER"), Text: "防犯カメラの位置から映っているはずです。"})
	if w := r.kase(n).Decision.Witnesses[0]; !strings.Contains(w.Statement, statement) || !strings.Contains(w.Statement, "防犯カメラ") {
		t.Fatalf("the addition: %q", w.Statement)
	}

	// The shared channel hears that statements were asked for and came,
	// never who gave them or what they said; the card counts them.
	var notes, counted bool
	for _, m := range r.sent.to(mamori.TargetChannel, "C0STORE") {
		all := m.Header + m.Text + m.Note
		for _, f := range m.Fields {
			all += f.Label + f.Value
			if f.Value == "依頼 1 件・回答 1 件" {
				counted = true
			}
		}
		if strings.Contains(all, "罵倒") || strings.Contains(all, "UOTHER") || strings.Contains(all, "レジでのやりとり") || strings.Contains(all, "うそ") {
			t.Errorf("the channel shows the witness or their words: %+v", m)
		}
		if strings.Contains(m.Text, "証言が届きました") {
			notes = true
		}
	}
	if !notes || !counted {
		t.Errorf("thread note %v, card count %v", notes, counted)
	}

	// Those who may see the case read it; the witness may not read the case.
	det, err := r.svc.CaseDetails(ctx, sup, n)
	all := ""
	for _, f := range det.Fields {
		all += f.Label + f.Value
	}
	if err != nil || !strings.Contains(all, statement) || !strings.Contains(all, question) {
		t.Errorf("details: %v\n%s", err, all)
	}
	if _, err := r.svc.CaseDetails(ctx, user("UOTHER"), n); !errors.Is(err, mamori.ErrForbidden) {
		t.Errorf("the witness read the case: %v", err)
	}
	// The reporter reads their report, not who gave a statement or what
	// it said: the witness was told only those responding read it.
	mine, err := r.svc.CaseDetails(ctx, user("UME"), n)
	all = ""
	for _, f := range mine.Fields {
		all += f.Label + f.Value
	}
	if err != nil || strings.Contains(all, statement) || strings.Contains(all, question) || strings.Contains(all, "UOTHER") || all == "" {
		t.Errorf("the reporter's details show the witness: %v\n%s", err, all)
	}
	if !auditHas(t, r, n, "case.witness_statement") || !auditHas(t, r, n, "case.witness") {
		t.Error("not audited")
	}

	// Decided: the statement stays through a reopening; no more are taken.
	if _, err := r.svc.Submit(ctx, sup, action(mamori.CardJudge, n), mamori.Values{"validity": {"invalid"}, "means": {"unacceptable"}, "outcome": {mamori.OutcomeKasuhara}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.svc.Open(ctx, sup, a); !errors.Is(err, mamori.ErrInvalid) {
		t.Errorf("witness form on a decided case: %v", err)
	}
	r.click("UOTHER", "witness:"+n)
	if p := r.sent.to(mamori.TargetUser, "UOTHER"); !strings.Contains(p[len(p)-1].Text, "受付は終わりました") {
		t.Errorf("a click after the decision: %+v", p[len(p)-1])
	}
	if _, err := r.svc.Submit(ctx, sup, action(mamori.CardReopen, n), mamori.Values{"reason": {"証言の確認"}}); err != nil {
		t.Fatal(err)
	}
	if w := r.kase(n).Decision.Witnesses; len(w) != 1 || w[0].Statement == "" {
		t.Errorf("reopening lost the statement: %+v", w)
	}
}

func auditHas(t *testing.T, r *rig, number, action string) bool {
	t.Helper()
	trail, err := r.db.AuditTrail(context.Background(), number)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range trail {
		if e.Action == action {
			return true
		}
	}
	return false
}

// TestWitnessMayNotJudge: a supervisor HR asked for a statement no
// longer acts on the case; HR still does.
func TestWitnessMayNotJudge(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	n := r.filed(nil)
	if _, err := r.svc.Submit(ctx, user("UHR"), action(mamori.CardWitness, n), mamori.Values{"witness": {"USUP"}}); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{mamori.CardJudge, mamori.CardAsk, mamori.CardTake} {
		if _, _, err := r.svc.Open(ctx, user("USUP"), action(kind, n)); !errors.Is(err, mamori.ErrForbidden) {
			t.Errorf("the witness opened %s: %v", kind, err)
		}
		if _, _, err := r.svc.Open(ctx, user("UHR"), action(kind, n)); err != nil {
			t.Errorf("HR opened %s: %v", kind, err)
		}
	}
}
