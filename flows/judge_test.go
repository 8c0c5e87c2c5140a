package flows_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

// filed files one report from UME and returns its number.
func (r *rig) filed(edit func(*mamori.Input)) string {
	r.t.Helper()
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	r.reportToSummary("UME")
	r.click("UME", "submit")
	var number string
	r.db.View(context.Background(), func(tx mamori.Tx) error {
		cs, _ := tx.CasesOf("slack:UME")
		number = cs[0].Number
		return nil
	})
	return number
}

func (r *rig) kase(number string) mamori.Case {
	r.t.Helper()
	var k mamori.Case
	if err := r.db.View(context.Background(), func(tx mamori.Tx) error {
		var err error
		k, err = tx.Case(number)
		return err
	}); err != nil {
		r.t.Fatal(err)
	}
	return k
}

func TestJudgement(t *testing.T) {
	ctx := context.Background()
	for _, outcome := range []string{mamori.OutcomeKasuhara, mamori.OutcomeLegitimate, mamori.OutcomeMoreInfo, mamori.OutcomeMedical} {
		t.Run(outcome, func(t *testing.T) {
			r := newRig(t)
			n := r.filed(nil)
			sup := user("USUP")
			if m, err := r.svc.Take(ctx, sup, n); err != nil || !strings.Contains(m.Text, n) {
				t.Fatalf("take: %+v %v", m, err)
			}
			r.worker.Drain(ctx)
			if k := r.kase(n); k.Status != mamori.StatusTaken || k.Assignee != "slack:USUP" {
				t.Fatalf("after take: %+v", k)
			}
			cards := r.sent.to(mamori.TargetChannel, "C0STORE")
			if len(cards) != 2 || r.sent.prevs[len(r.sent.prevs)-1] == nil {
				t.Fatalf("card not updated in place: %d cards", len(cards))
			}
			if !strings.Contains(cards[1].Text, "事実を確認") {
				t.Errorf("card after take: %q", cards[1].Text)
			}
			k := r.kase(n)
			d := flows.SuggestDecision(r.svc.Policy, k)
			// Actions follow a decision of カスハラ only; a decision
			// against ② or against the policy's suggestion needs its
			// reason.
			d.Outcome, d.Facts, d.Actions = outcome, "録音で確認した", nil
			if outcome == mamori.OutcomeKasuhara {
				d.Actions = []string{"warn", "external_body"}
			}
			if flows.Contradicts(d.Means, d.Outcome) || flows.AgainstSuggestion(k, d.Means, d.Outcome) {
				d.Reason = "お客様の要望には応えるべき点があった"
			}
			if _, err := r.svc.Judge(ctx, sup, n, d); err != nil {
				t.Fatal(err)
			}
			r.worker.Drain(ctx)
			k = r.kase(n)
			want := mamori.StatusJudged
			if outcome == mamori.OutcomeMoreInfo {
				want = mamori.StatusMoreInfo
			}
			if k.Status != want || k.Decision == nil || k.Decision.By != "slack:USUP" || k.Decision.Facts != "録音で確認した" {
				t.Fatalf("after judge: %+v %+v", k, k.Decision)
			}
			got := r.sent.to(mamori.TargetUser, "UME")
			tell, care := got[len(got)-2], got[len(got)-1]
			ja := func(key string) string { return r.svc.Policy.T(mamori.JA, key) }
			if outcome == mamori.OutcomeMoreInfo {
				// Nothing decided: no care resources again (found by a
				// trial: three times in a minute).
				tell = care
			} else if care.Header != ja("care.header") || len(care.Fields) == 0 {
				t.Fatalf("reporter told: %+v / %+v", tell, care)
			}
			if !strings.HasPrefix(tell.Text, ja("outcome."+outcome)) {
				t.Fatalf("reporter told: %+v", tell)
			}
			// What the company will do, in words for the reporter, and
			// how to ask HR or disagree: the consult button.
			actions := []string{ja("outcome.action.warn"), ja("outcome.action.external_body")}
			for _, a := range actions {
				if has := strings.Contains(tell.Text, a); has != (outcome == mamori.OutcomeKasuhara) {
					t.Errorf("the reporter told %q: %v\n%s", a, has, tell.Text)
				}
			}
			if len(tell.Choices) != 1 || tell.Choices[0].Value != "about:"+n || tell.Step != "menu" {
				t.Errorf("no way to ask HR: %+v", tell.Choices)
			}
			if strings.Contains(tell.Text+care.Text, "録音で確認") || strings.Contains(tell.Text, "USUP") {
				t.Errorf("the facts or the supervisor told to the reporter:\n%s", tell.Text)
			}
			// Care once in this moment: one list, one 「ひとりで抱えないでください」.
			if n := strings.Count(tell.Text+care.Text, "ひとりで抱え"); n != 1 && outcome != mamori.OutcomeMoreInfo {
				t.Errorf("「ひとりで抱えないでください」 %d times", n)
			}
			last := r.sent.to(mamori.TargetChannel, "C0STORE")
			card := last[len(last)-1]
			var shown string
			for _, f := range card.Fields {
				shown += f.Value + "\n"
			}
			if !strings.Contains(shown, r.svc.Policy.T(mamori.JA, "decision."+outcome)) || strings.Contains(shown, "録音で確認") {
				t.Fatalf("card after judgement:\n%s", shown)
			}
			trail, _ := r.db.AuditTrail(ctx, n)
			if trail[len(trail)-1].Action != "case.judge" || !strings.Contains(trail[len(trail)-1].Detail, "outcome="+outcome) {
				t.Fatalf("audit: %+v", trail[len(trail)-1])
			}
		})
	}
}

func TestJudgementAuthority(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	n := r.filed(nil)
	d := mamori.Decision{Validity: "invalid", Means: "unacceptable", Outcome: mamori.OutcomeKasuhara}
	for _, who := range []string{"UOTHER", "USTRANGER", "UME"} {
		m, err := r.svc.Judge(ctx, user(who), n, d)
		if !errors.Is(err, mamori.ErrForbidden) || m.Text == "" {
			t.Errorf("%s judged: %v", who, err)
		}
	}
	if m, _ := r.svc.Take(ctx, user("UME"), n); !strings.Contains(m.Text, "あなたが報告") {
		t.Errorf("reporter's refusal: %q", m.Text)
	}
	trail, _ := r.db.AuditTrail(ctx, n)
	refused := 0
	for _, e := range trail {
		if strings.HasSuffix(e.Action, "_refused") {
			refused++
		}
	}
	if refused != 4 {
		t.Errorf("%d refusals audited, want 4", refused)
	}
	if k := r.kase(n); k.Status != mamori.StatusNew || k.Decision != nil {
		t.Fatalf("a refused action changed the case: %+v", k)
	}
	// HR may act on any case.
	if _, err := r.svc.Judge(ctx, user("UHR"), n, d); err != nil {
		t.Fatal(err)
	}
}

func TestSupervisorNamedInReport(t *testing.T) {
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	for i := 0; i < 40 && r.last("UME").Step != "narrative"; i++ {
		r.answer("UME")
	}
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "USUP さんも同席していた"})
	r.reportToSummary("UME")
	r.click("UME", "submit")
	// The case went to HR, and the named supervisor may not judge it.
	if len(r.sent.to(mamori.TargetChannel, "C0HR")) == 0 {
		t.Fatal("not routed to HR")
	}
	if _, err := r.svc.Take(context.Background(), user("USUP"), "KH-2026-0001"); !errors.Is(err, mamori.ErrForbidden) {
		t.Fatalf("named supervisor took the case: %v", err)
	}
}

func TestJudgeInputAndReopen(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	n := r.filed(nil)
	sup := user("USUP")
	bad := []mamori.Decision{
		{Validity: "maybe", Means: "unacceptable", Outcome: mamori.OutcomeKasuhara},
		{Validity: "invalid", Means: "rude", Outcome: mamori.OutcomeKasuhara},
		{Validity: "invalid", Means: "unacceptable", Outcome: "guilty"},
		{Validity: "invalid", Means: "unacceptable", Outcome: mamori.OutcomeKasuhara, Actions: []string{"jail"}},
		{Validity: "invalid", Means: "unacceptable", Outcome: mamori.OutcomeKasuhara, Note: strings.Repeat("あ", flows.MaxText+1)},
	}
	for _, d := range bad {
		if m, err := r.svc.Judge(ctx, sup, n, d); !errors.Is(err, mamori.ErrInvalid) || m.Text == "" {
			t.Errorf("%+v accepted: %v", d, err)
		}
	}
	if m, err := r.svc.Reopen(ctx, sup, n, "理由"); !errors.Is(err, mamori.ErrInvalid) {
		t.Errorf("reopened an undecided case: %+v %v", m, err)
	}
	d := mamori.Decision{Validity: "invalid", Means: "unacceptable", Outcome: mamori.OutcomeKasuhara, Actions: []string{"warn"}}
	if _, err := r.svc.Judge(ctx, sup, n, d); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Judge(ctx, sup, n, d); !errors.Is(err, mamori.ErrInvalid) {
		t.Errorf("judged twice: %v", err)
	}
	if _, err := r.svc.Reopen(ctx, sup, n, "  "); !errors.Is(err, mamori.ErrInvalid) {
		t.Errorf("reopened without a reason: %v", err)
	}
	if _, err := r.svc.Reopen(ctx, user("UHR"), n, "新しい録音が見つかった"); err != nil {
		t.Fatal(err)
	}
	k := r.kase(n)
	if k.Status != mamori.StatusReopened || !strings.Contains(k.Decision.Note, "新しい録音") {
		t.Fatalf("after reopen: %+v", k)
	}
	d.Outcome, d.Actions, d.Means = mamori.OutcomeLegitimate, nil, "acceptable"
	if _, err := r.svc.Judge(ctx, sup, n, d); !errors.Is(err, mamori.ErrInvalid) {
		t.Errorf("a possible crime judged a legitimate complaint without a reason: %v", err)
	}
	d.Reason = "防犯カメラで、別の人の行為とわかった"
	hrBefore := len(r.sent.to(mamori.TargetChannel, "C0HR"))
	if _, err := r.svc.Judge(ctx, sup, n, d); err != nil {
		t.Fatalf("judging a reopened case: %v", err)
	}
	// A possible crime judged a complaint by a supervisor: HR hears,
	// with the way to the reason (found by a trial: it did not).
	r.worker.Drain(ctx)
	against := 0
	for _, m := range r.sent.to(mamori.TargetChannel, "C0HR")[hrBefore:] {
		if strings.Contains(m.Header, "方針と異なる判断") && strings.Contains(m.Text, "<@USUP>") && strings.Contains(m.Text, "犯罪") &&
			!strings.Contains(m.Text, d.Reason) && m.Choices[0].Value == mamori.CardDetails+":"+n {
			against++
		}
	}
	if against != 1 {
		t.Errorf("HR heard of the decision against the policy %d times", against)
	}
	if _, err := r.svc.Take(ctx, sup, "KH-2026-9999"); !errors.Is(err, mamori.ErrNotFound) {
		t.Errorf("missing case: %v", err)
	}
}

// A reopened case keeps its assignee, and its card looks like the card
// of a case taken the first time: the assignee beside it, "judge" and no
// "take".
func TestReopenedCardKeepsAssignee(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	n := r.filed(nil)
	sup := user("USUP")
	if _, err := r.svc.Take(ctx, sup, n); err != nil {
		t.Fatal(err)
	}
	r.worker.Drain(ctx)
	taken := r.card("C0STORE", n)
	d := mamori.Decision{Validity: "invalid", Means: "unacceptable", Outcome: mamori.OutcomeKasuhara, Actions: []string{"warn"}}
	if _, err := r.svc.Judge(ctx, sup, n, d); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Submit(ctx, user("UHR"), mamori.Action{Kind: mamori.CardReopen, Subject: n},
		mamori.Values{"reason": {"新しい録音が見つかった"}}); err != nil {
		t.Fatal(err)
	}
	r.worker.Drain(ctx)
	c := r.card("C0STORE", n)
	assignee := r.svc.Policy.T(mamori.JA, "card.assignee")
	if got := fieldValue(c, assignee); got != "<@USUP>" {
		t.Errorf("reopened card's assignee: %q", got)
	}
	if hasChoice(c, mamori.CardTake+":"+n) || !hasChoice(c, mamori.CardJudge+":"+n) {
		t.Errorf("reopened card with an assignee: %+v", c.Choices)
	}
	var want, got []string
	for _, ch := range taken.Choices {
		want = append(want, ch.Value+"/"+ch.Style)
	}
	for _, ch := range c.Choices {
		got = append(got, ch.Value+"/"+ch.Style)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("reopened card's buttons %v, a taken card's %v", got, want)
	}
	// Taken again (say by someone else), it changes hands as a taken case does.
	if _, err := r.svc.Take(ctx, user("UHR"), n); err != nil {
		t.Errorf("taking a reopened case: %v", err)
	}
}

func TestSuggestDecision(t *testing.T) {
	p, _ := mamori.Preset("seed-004")
	k := mamori.Case{Suggestion: mamori.SuggestKasuhara, Crime: true, Behaviours: []string{"physical_attack"}, Answers: mamori.Answers{Fault: "no"}}
	d := flows.SuggestDecision(p, k)
	if d.Outcome != mamori.OutcomeKasuhara || d.Means != "unacceptable" || d.Validity != "invalid" || len(d.Actions) != 1 || d.Actions[0] != "police" {
		t.Fatalf("violence: %+v", d)
	}
	d = flows.SuggestDecision(p, mamori.Case{Suggestion: mamori.SuggestDepends, Behaviours: []string{"compensation"}, Answers: mamori.Answers{Fault: "yes"}})
	if d.Outcome != mamori.OutcomeMoreInfo || d.Means != "acceptable" || d.Validity != "unclear" || d.Actions != nil {
		t.Fatalf("depends: %+v", d)
	}
}

func TestDeadlines(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	n := r.filed(nil) // a normal case: 24 h to take, 72 h to judge
	step := func(d time.Duration) {
		r.clock.Add(d)
		if _, err := r.worker.Drain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	channel := func() int { return len(r.sent.to(mamori.TargetChannel, "C0STORE")) }
	// Escalations only; the report's care task has reminders of its own.
	escalations := func() []mamori.Message {
		var es []mamori.Message
		for _, m := range r.sent.to(mamori.TargetChannel, "C0HR") {
			if !strings.HasPrefix(m.Ref, "care:") && !strings.Contains(m.Text, "ケア") && !m.Tidy {
				es = append(es, m)
			}
		}
		return es
	}
	hr := func() int { return len(escalations()) }
	c0, h0 := channel(), hr()

	step(23 * time.Hour)
	if channel() != c0 {
		t.Fatal("reminded before the deadline")
	}
	r.restart() // reminders are rows: a restart loses none
	step(2 * time.Hour)
	if channel() != c0+1 || !strings.Contains(r.sent.to(mamori.TargetChannel, "C0STORE")[c0].Header, n) {
		t.Fatalf("no take reminder after 25 h: %d", channel()-c0)
	}
	// Taken from the reminder itself (found by a user trial: the card was
	// days up the channel).
	if ch := r.sent.to(mamori.TargetChannel, "C0STORE")[c0].Choices; len(ch) == 0 || ch[0].Value != mamori.CardTake+":"+n {
		t.Errorf("the reminder's buttons: %+v", ch)
	}
	step(24 * time.Hour)
	if channel() != c0+1 {
		t.Fatal("take reminder repeated")
	}
	// Taken but not judged: escalation to HR at 72 h, and again.
	if _, err := r.svc.Take(ctx, user("USUP"), n); err != nil {
		t.Fatal(err)
	}
	step(24 * time.Hour) // 73 h
	if hr() != h0+1 {
		t.Fatalf("no escalation at 73 h: %d", hr()-h0)
	}
	// The one who has it heard first, at 54 h, by DM, with the button to
	// judge (found by a trial: HR heard before they did).
	due := 0
	for _, m := range r.sent.to(mamori.TargetUser, "USUP") {
		if strings.Contains(m.Header, "判断の期限が近づいています") && m.Choices[0].Value == mamori.CardJudge+":"+n {
			due++
		}
	}
	if due != 1 {
		t.Errorf("the assignee was reminded %d times", due)
	}
	esc := escalations()[h0]
	if !esc.Urgent || !strings.Contains(esc.Header, n) || strings.Contains(esc.Text, "秘密") {
		t.Fatalf("escalation: %+v", esc)
	}
	// HR opens the case from it (found by a user trial: HR may not be in
	// the department's channel).
	if len(esc.Choices) != 1 || esc.Choices[0].Value != mamori.CardDetails+":"+n {
		t.Errorf("the escalation's buttons: %+v", esc.Choices)
	}
	step(72 * time.Hour)
	if hr() != h0+2 {
		t.Fatalf("escalation not repeated: %d", hr()-h0)
	}
	// A decision stops it at once.
	if _, err := r.svc.Judge(ctx, user("USUP"), n, mamori.Decision{Validity: "invalid", Means: "unacceptable", Outcome: mamori.OutcomeKasuhara}); err != nil {
		t.Fatal(err)
	}
	step(500 * time.Hour)
	if hr() != h0+2 {
		t.Fatal("escalated after the decision")
	}
	// Its two escalations, and the take reminder, now say it is done, in
	// place (found by a trial: red cards stayed for decided cases).
	tidied := map[string]int{}
	for i, it := range r.sent.items {
		if it.Message.Tidy {
			if r.sent.prevs[i] == nil {
				t.Errorf("a tidy-up posted anew: %+v", it.Message)
			}
			tidied[it.Target.ID]++
		}
	}
	if tidied["C0HR"] != 2 || tidied["C0STORE"] != 1 {
		t.Errorf("tidied: %v", tidied)
	}
	trail, _ := r.db.AuditTrail(ctx, n)
	var esc2 int
	for _, e := range trail {
		if e.Action == "case.escalate" {
			esc2++
		}
	}
	if esc2 != 2 {
		t.Errorf("%d escalations audited, want 2", esc2)
	}
}

// TestReopenedDeadlines (found by a user trial): a case reopened while
// its first escalation chain still ran (it needed more information) is
// escalated once its reopening's deadline passes, counted and said from
// the reopening, not a day early by the first chain.
func TestReopenedDeadlines(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	n := r.filed(nil) // 72 h to judge
	step := func(d time.Duration) {
		r.clock.Add(d)
		if _, err := r.worker.Drain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	escalations := func() (es []string) {
		for _, m := range r.sent.to(mamori.TargetChannel, "C0HR") {
			if strings.HasPrefix(m.Header, "判断の遅れ") {
				es = append(es, m.Text)
			}
		}
		return es
	}
	if _, err := r.svc.Take(ctx, user("USUP"), n); err != nil {
		t.Fatal(err)
	}
	step(10 * time.Hour)
	if _, err := r.svc.Judge(ctx, user("USUP"), n, mamori.Decision{Validity: "unclear", Means: "acceptable", Outcome: mamori.OutcomeMoreInfo, Reason: "防犯カメラの確認待ち"}); err != nil {
		t.Fatal(err)
	}
	step(20 * time.Hour) // 30 h
	if _, err := r.svc.Reopen(ctx, user("UHR"), n, "本人に確認する"); err != nil {
		t.Fatal(err)
	}
	step(50 * time.Hour) // 80 h: the first chain's 72 h have passed
	if es := escalations(); len(es) != 0 {
		t.Fatalf("escalated by the chain before the reopening: %q", es)
	}
	step(23 * time.Hour) // 103 h: 73 h after the reopening
	es := escalations()
	if len(es) != 1 || !strings.HasPrefix(es[0], "再開から73時間") {
		t.Fatalf("after the reopening's deadline: %q", es)
	}
	step(72 * time.Hour)
	if es := escalations(); len(es) != 2 || !strings.HasPrefix(es[1], "再開から145時間") {
		t.Fatalf("repeated: %q", es)
	}
}

func TestUrgentDeadlines(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	r.click("UME", "injured")
	// The SOS it raised is answered; its escalation stops.
	if _, _, err := r.svc.Open(ctx, user("USUP"), mamori.Action{Kind: mamori.SOSAck, Subject: "SOS-2026-0001"}); err != nil {
		t.Fatal(err)
	}
	r.reportToSummary("UME")
	r.click("UME", "submit")
	h0 := len(r.sent.to(mamori.TargetChannel, "C0HR"))
	c0 := len(r.sent.to(mamori.TargetChannel, "C0STORE"))
	r.clock.Add(61 * time.Minute)
	r.worker.Drain(ctx)
	if len(r.sent.to(mamori.TargetChannel, "C0STORE")) != c0+1 {
		t.Fatal("no take reminder after an hour for an urgent case")
	}
	r.clock.Add(3 * time.Hour)
	r.worker.Drain(ctx)
	if len(r.sent.to(mamori.TargetChannel, "C0HR")) != h0+1 {
		t.Fatal("urgent case not escalated after 4 h")
	}
}

func TestHomeByRole(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	n := r.filed(nil)
	fields := func(u string) string {
		m, err := r.svc.Home(ctx, user(u))
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, f := range m.Fields {
			b.WriteString(f.Label + "=" + f.Value + "\n")
		}
		return b.String()
	}
	if got := fields("UOTHER"); strings.Contains(got, n) {
		t.Errorf("a colleague sees the case:\n%s", got)
	}
	if got := fields("UME"); !strings.Contains(got, n) || strings.Contains(got, "未完了") {
		t.Errorf("reporter's home:\n%s", got)
	}
	if got := fields("USUP"); !strings.Contains(got, "あなたの部署の未完了") || !strings.Contains(got, n) || strings.Contains(got, "期限超過") {
		t.Errorf("supervisor's home:\n%s", got)
	}
	r.clock.Add(80 * time.Hour)
	if got := fields("UHR"); !strings.Contains(got, "すべての未完了") || !strings.Contains(got, "期限超過") {
		t.Errorf("HR's home:\n%s", got)
	}
	if _, err := r.svc.Judge(ctx, user("USUP"), n, mamori.Decision{Validity: "invalid", Means: "unacceptable", Outcome: mamori.OutcomeKasuhara}); err != nil {
		t.Fatal(err)
	}
	if got := fields("USUP"); !strings.Contains(got, "未完了の案件はありません") {
		t.Errorf("decided case still open:\n%s", got)
	}
}

func TestAskTheReporter(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	n := r.filed(nil)
	// The reporter has started another report meanwhile.
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	r.click("UME", "safe")

	if _, err := r.svc.Ask(ctx, user("UOTHER"), n, "いつですか"); !errors.Is(err, mamori.ErrForbidden) {
		t.Fatalf("a colleague asked: %v", err)
	}
	if _, err := r.svc.Ask(ctx, user("USUP"), n, "  "); !errors.Is(err, mamori.ErrInvalid) {
		t.Fatalf("empty question: %v", err)
	}
	r.ask("USUP", n, "相手は何回来店していますか？")
	dms := r.sent.to(mamori.TargetUser, "UME")
	q := dms[len(dms)-1]
	if q.Text != "相手は何回来店していますか？" || q.Choices[0].Value != "reply:"+n+":1" {
		t.Fatalf("question DM: %+v", q)
	}
	if q.Header != "上長からの質問（"+n+"）" || q.Note != r.svc.Policy.T(mamori.JA, "ask.note") {
		t.Errorf("question DM: %q / %q", q.Header, q.Note)
	}
	// The case thread, under the card, hears that a question was asked;
	// the question itself is in the case's confidential record.
	var thread []mamori.OutboxItem
	for i, it := range r.sent.items {
		if it.Target.Thread == "card:"+n {
			thread = append(thread, it)
			if it.InThread == nil || it.InThread.TS == "" {
				t.Errorf("thread message %d without its parent", i)
			}
		}
	}
	if len(thread) != 1 || strings.Contains(thread[0].Message.Text, "来店") {
		t.Fatalf("thread: %+v", thread)
	}
	if qs := r.kase(n).Decision.Questions; len(qs) != 1 || qs[0].Text != "相手は何回来店していますか？" || qs[0].By != "slack:USUP" || qs[0].Answer != "" {
		t.Fatalf("the question kept: %+v", qs)
	}
	// Someone else cannot answer it.
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UOTHER"), Step: "reply", Value: "reply:" + n})
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UOTHER"), Text: "なりすまし"})
	r.click("UME", "reply:"+n)
	r.restart() // the pending answer survives a restart
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "三回目です"})
	// The answer is kept with its question; the thread gets only a
	// notice, with the button that opens the details.
	var notices []mamori.Message
	for _, it := range r.sent.items {
		if it.Target.Thread == "card:"+n {
			notices = append(notices, it.Message)
		}
	}
	if len(notices) != 2 || len(notices[1].Choices) != 1 || notices[1].Choices[0].Value != "details:"+n || notices[1].Step != mamori.StepCard {
		t.Fatalf("thread after the answer: %+v", notices)
	}
	for _, it := range r.sent.items {
		if it.Target.Kind == mamori.TargetChannel && strings.Contains(fmt.Sprintf("%+v", it.Message), "三回目") {
			t.Errorf("the answer reached channel %s: %+v", it.Target.ID, it.Message)
		}
	}
	k := r.kase(n)
	if qs := k.Decision.Questions; len(qs) != 1 || qs[0].Answer != "三回目です" || !qs[0].Answered.Equal(r.clock.Now()) {
		t.Fatalf("the answer kept: %+v", qs)
	}
	if k.Status != mamori.StatusNew || k.Decision.Decided() {
		t.Fatalf("a question decided the case: %s %+v", k.Status, k.Decision)
	}
	// Behind the details gate: the supervisor reads both; a colleague is
	// refused.
	m, err := r.svc.CaseDetails(ctx, user("USUP"), n)
	if err != nil || !strings.Contains(fmt.Sprintf("%+v", m.Fields), "相手は何回来店していますか？") || !strings.Contains(fmt.Sprintf("%+v", m.Fields), "三回目です") {
		t.Fatalf("details for the supervisor: %v %+v", err, m.Fields)
	}
	if m, err := r.svc.CaseDetails(ctx, user("UOTHER"), n); !errors.Is(err, mamori.ErrForbidden) || strings.Contains(m.Text, "三回目") {
		t.Fatalf("details for a colleague: %v %+v", err, m)
	}
	// The report in progress goes on where it was.
	if m := r.last("UME"); m.Step != "for_whom" {
		t.Fatalf("report in progress lost: at %q", m.Step)
	}
	trail, _ := r.db.AuditTrail(ctx, n)
	var actions []string
	for _, e := range trail[1:] { // after the submission
		actions = append(actions, e.Action+" "+e.Detail)
	}
	want := "care.task_opened task=1|case.ask_refused |case.ask question=1|case.reply question=1|case.viewed |case.view_refused "
	if got := strings.Join(actions, "|"); got != want {
		t.Fatalf("audit:\n got %s\nwant %s", got, want)
	}
}

// TestJudgementAcrossRestarts restarts Mamori between every pair of
// steps of a case's life and checks that nothing is lost or sent twice.
func TestJudgementAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	n := r.filed(nil)
	sup := user("USUP")
	steps := []func(){
		func() { r.svc.Take(ctx, sup, n) },
		func() { r.svc.Ask(ctx, sup, n, "何回目ですか") },
		func() { r.click("UME", "reply:"+n) },
		func() { r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "三回目です"}) },
		func() {
			r.svc.Judge(ctx, sup, n, mamori.Decision{Validity: "invalid", Means: "unacceptable", Outcome: mamori.OutcomeKasuhara, Actions: []string{"warn"}})
		},
		func() { r.svc.Reopen(ctx, user("UHR"), n, "新しい証拠") },
		func() {
			r.svc.Judge(ctx, user("UHR"), n, mamori.Decision{Validity: "invalid", Means: "unacceptable", Outcome: mamori.OutcomeKasuhara, Actions: []string{"refuse"}})
		},
	}
	for i, step := range steps {
		step()
		r.restart()
		if _, err := r.worker.Drain(ctx); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		before := len(r.sent.items)
		r.restart()
		if n, _ := r.worker.Drain(ctx); n != 0 || len(r.sent.items) != before {
			t.Fatalf("step %d: %d messages sent again after a restart", i, n)
		}
	}
	k := r.kase(n)
	if k.Status != mamori.StatusJudged || k.Decision.Actions[0] != "refuse" || !strings.Contains(k.Decision.Note, "新しい証拠") {
		t.Fatalf("case: %+v %+v", k, k.Decision)
	}
	// Two decisions later the question and its answer are still there.
	if qs := k.Decision.Questions; len(qs) != 1 || qs[0].Text != "何回目ですか" || qs[0].Answer != "三回目です" {
		t.Fatalf("questions after two decisions: %+v", qs)
	}
	var thread []string
	for _, it := range r.sent.items {
		if it.Target.Thread == "card:"+n {
			thread = append(thread, it.Message.Header+it.Message.Text)
		}
	}
	// Question, answer, two decisions, and the reopening between them,
	// calling the supervisor who decided first (found by a user trial).
	if len(thread) != 5 || thread[3] != "<@UHR> さんがこのケースを再開しました。理由は「詳細を見る」から。 <@USUP> さん、もう一度判断をお願いします。" {
		t.Fatalf("thread: %q", thread)
	}
	trail, _ := r.db.AuditTrail(ctx, n)
	var actions []string
	for _, e := range trail {
		actions = append(actions, e.Action)
	}
	want := "report.submitted care.task_opened case.take case.ask case.reply case.judge case.reopen case.judge"
	if got := strings.Join(actions, " "); got != want {
		t.Fatalf("audit trail:\n got %s\nwant %s", got, want)
	}
	if _, err := r.db.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestJobRunTwice: a worker that dies after a job committed but before it
// marked the job done leaves it to run again after the lease. The second
// run changes nothing: no second message, audit entry or escalation round.
func TestJobRunTwice(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	n := r.filed(nil)
	if _, err := r.svc.Take(ctx, user("USUP"), n); err != nil {
		t.Fatal(err)
	}
	r.clock.Add(73 * time.Hour)
	jobs, err := r.db.ClaimJobs(ctx, r.clock.Now(), time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	var esc *mamori.Job
	for i := range jobs {
		if jobs[i].Kind == "case.escalate" {
			esc = &jobs[i]
		}
	}
	if esc == nil {
		t.Fatalf("no escalation job due at 73 h: %+v", jobs)
	}
	for range 2 { // the first worker's run, then the one after its lease
		if err := r.svc.RunJob(ctx, *esc); err != nil {
			t.Fatal(err)
		}
	}
	r.clock.Add(2 * time.Minute) // the other claimed jobs' leases run out
	if _, err := r.worker.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	count := func() (msgs, audited int) {
		for _, m := range r.sent.to(mamori.TargetChannel, "C0HR") {
			if strings.Contains(m.Header, n) && m.Urgent && !strings.HasPrefix(m.Ref, "care:") && !strings.HasPrefix(m.Header, "ケアの依頼") {
				msgs++
			}
		}
		trail, _ := r.db.AuditTrail(ctx, n)
		for _, e := range trail {
			if e.Action == "case.escalate" {
				audited++
			}
		}
		return msgs, audited
	}
	if msgs, audited := count(); msgs != 1 || audited != 1 {
		t.Fatalf("after running the escalation twice: %d messages, %d audit entries, want 1 and 1: %+v", msgs, audited, r.sent.to(mamori.TargetChannel, "C0HR"))
	}
	// The next round comes once, not twice.
	r.clock.Add(73 * time.Hour)
	if _, err := r.worker.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if msgs, audited := count(); msgs != 2 || audited != 2 {
		t.Fatalf("next round: %d messages, %d audit entries, want 2 and 2", msgs, audited)
	}
}

// TestActionDeliveredTwice: a submission the platform delivers again
// (Slack's Socket Mode redelivers what was not acknowledged) is acted on
// once and answered as the first time; a refused one is refused again.
func TestActionDeliveredTwice(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	n := r.filed(nil)
	sub := flows.WithDelivery(ctx, "slack:submit:T1")
	var answers []string
	for range 2 {
		m, err := r.svc.Ask(sub, user("USUP"), n, "何時ごろでしたか？")
		if err != nil {
			t.Fatal(err)
		}
		answers = append(answers, m.Text)
	}
	if answers[0] != answers[1] {
		t.Errorf("answered %q, then %q", answers[0], answers[1])
	}
	if _, err := r.worker.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	var asked int
	for _, m := range r.sent.to(mamori.TargetUser, "UME") {
		if m.Step == "reply" {
			asked++
		}
	}
	if asked != 1 {
		t.Errorf("the question reached the reporter %d times, want once", asked)
	}
	trail, _ := r.db.AuditTrail(ctx, n)
	var audited int
	for _, e := range trail {
		if e.Action == "case.ask" {
			audited++
		}
	}
	if audited != 1 {
		t.Errorf("%d asks audited, want 1", audited)
	}

	// Refused (nothing picked), then the same delivery again: refused again.
	bad := flows.WithDelivery(ctx, "slack:submit:T2")
	for i := range 2 {
		if _, err := r.svc.Judge(bad, user("USUP"), n, mamori.Decision{}); !errors.Is(err, mamori.ErrInvalid) {
			t.Fatalf("empty judgement, delivery %d: %v, want ErrInvalid", i+1, err)
		}
	}
}

// Judged again after a reopening: the facts written before are filled in
// (nothing the supervisor wrote is lost), ①② and the decision are not;
// the earlier judgement is kept whole in the history.
func TestRejudgeKeepsFacts(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	n := r.filed(nil)
	sup := user("USUP")
	const facts = "防犯カメラで、カウンターを叩いたのを確認"
	if _, err := r.svc.Judge(ctx, sup, n, mamori.Decision{Facts: facts, Validity: "invalid", Means: "unacceptable",
		Outcome: mamori.OutcomeKasuhara, Actions: []string{"warn"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Reopen(ctx, sup, n, "映像を見直す"); err != nil {
		t.Fatal(err)
	}
	form, _, err := r.svc.Open(ctx, sup, mamori.Action{Kind: mamori.CardJudge, Subject: n})
	if err != nil {
		t.Fatal(err)
	}
	if v := fieldOf(form, "facts").Value; len(v) != 1 || v[0] != facts {
		t.Errorf("the facts in the second judge form: %v", v)
	}
	for _, id := range []string{"validity", "means", "outcome"} {
		if v := fieldOf(form, id).Value; len(v) != 0 {
			t.Errorf("%s chosen in the second judge form: %v", id, v)
		}
	}
	h := r.kase(n).Decision.History
	if len(h) != 1 || h[0].Facts != facts || h[0].Validity != "invalid" || h[0].Means != "unacceptable" {
		t.Errorf("the earlier judgement kept: %+v", h)
	}
}

// TestSupervisorNamed (found by a user trial): a report that names the
// department's supervisor goes to HR whatever the reporter chose, and
// the reporter reads so, and why, in the summary and the receipt; the
// supervisor named is refused the case without being told they are
// named in it.
func TestSupervisorNamed(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	T := func(key string) string { return r.svc.Policy.T(mamori.JA, key) }
	me := user("UME")
	r.reportUntil("UME", "narrative")
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "上長の USUP さんがお客様の味方をして、土下座して謝れと言いました"})
	r.answerUntil("UME", "summary")
	sum := r.last("UME")
	if sum.Note != T("summary.note.report.hr.named") {
		t.Errorf("the summary's note: %q", sum.Note)
	}
	for _, f := range sum.Fields {
		if strings.Contains(f.Value, T("a.route.department")) {
			t.Errorf("the summary says %s: %q", f.Label, f.Value)
		}
	}
	r.click("UME", "submit")
	n := r.caseOf("UME")
	if k := r.kase(n); k.Route != mamori.RouteHR {
		t.Fatalf("routed %s", k.Route)
	}
	ms := r.sent.to(mamori.TargetUser, "UME")
	found := false
	for _, m := range ms {
		found = found || strings.Contains(m.Text, T("submitted.text.report.hr.named"))
	}
	if !found {
		t.Errorf("the receipt does not say why it went to HR")
	}
	m, err := r.svc.Take(ctx, user("USUP"), n)
	if !errors.Is(err, mamori.ErrForbidden) || m.Text != T("judge.named") {
		t.Errorf("the supervisor named is told %q (%v)", m.Text, err)
	}
}

// TestSupervisorNamedByName (found by a supervisor trial): a report that
// names its supervisor as people do (「佐藤店長が…」), not by id, went to
// him and he judged it. He is refused without being told why, HR hears
// once; his own name elsewhere (the customer's) does not stop him.
func TestSupervisorNamedByName(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.reportUntil("UME", "narrative")
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "佐藤店長がお客様と一緒になって私を責めました"})
	r.answerUntil("UME", "summary")
	r.click("UME", "submit")
	n := r.caseOf("UME")
	sato := user("USUP")
	sato.Name = "佐藤 太郎"
	for range 2 {
		if m, err := r.svc.Take(ctx, sato, n); !errors.Is(err, mamori.ErrForbidden) || m.Text != r.svc.Policy.T(mamori.JA, "judge.named") {
			t.Fatalf("the supervisor named: %q (%v)", m.Text, err)
		}
	}
	r.worker.Drain(ctx)
	told := 0
	for _, m := range r.sent.to(mamori.TargetChannel, "C0HR") {
		if strings.Contains(m.Text, "<@USUP>") && strings.Contains(m.Text, n) {
			told++
		}
	}
	if told != 1 {
		t.Errorf("HR told %d times", told)
	}
	if _, err := r.svc.Take(ctx, user("UHR"), n); err != nil {
		t.Errorf("HR takes it: %v", err)
	}
	// Nor may he read it (found by a re-trial).
	if m, err := r.svc.CaseDetails(ctx, sato, n); !errors.Is(err, mamori.ErrForbidden) || strings.Contains(messageText(m), "責め") {
		t.Errorf("the supervisor named read it: %v %s", err, messageText(m))
	}
	// A name in the customer's field only: not his case.
	if mentionsName := (mamori.Answers{Customer: "佐藤と名乗る男性"}); flows.MentionsName(mentionsName, "佐藤 太郎") {
		t.Error("the customer's name stopped the supervisor")
	}
	for _, tc := range []struct {
		said, name string
		want       bool
	}{
		{"Taro Sato yelled at me too", "Taro Sato", true},
		{"Satoshi helped me", "Sato", false},
		{"佐藤さんがその場にいた", "佐藤太郎", true}, // its first two kanji
		{"佐々木さんが助けてくれた", "佐藤", false},
		// Places, customers and words are no colleague (found by a review).
		{"渋谷店のレジで怒鳴られた", "渋谷 一郎", false},
		{"上野駅前店で", "上野太郎", false},
		{"常連の田中様が怒鳴った", "田中 一郎", false},
		{"he would not pay the bill", "Bill Smith", false},
		{"Smith was standing next to me", "Bill Smith", true},
		{"上司のsatoさんも横で見ていた", "sato", true},
		{"I asked sato-san for help", "sato", true},
		// Found by a second review.
		{"店長の佐藤がお客様と一緒に責めた", "佐藤 太郎", true},
		{"佐藤　店長が見ていた", "佐藤 太郎", true},
		{"林店長が止めなかった", "林 一郎", true},
		{"my manager sato told me to apologise", "Taro Sato", true},
		{"佐藤(店長)も", "佐藤太郎/店舗運営部", true},
		{"林の中で", "林 一郎", false},
		{"店長の佐藤太郎さん", "佐藤太郎", true},
	} {
		if got := flows.MentionsName(mamori.Answers{Narrative: tc.said}, tc.name); got != tc.want {
			t.Errorf("%q names %q: %t", tc.said, tc.name, got)
		}
	}
}

// TestOnlySupervisorReports (found by a user trial): a report by the
// department's only supervisor goes to HR (nobody else there could take
// it), without asking where it should go, and the summary says why.
func TestOnlySupervisorReports(t *testing.T) {
	r := newRig(t)
	T := func(key string) string { return r.svc.Policy.T(mamori.JA, key) }
	r.do(mamori.Input{Kind: mamori.InputStart, User: user("USUP"), Value: mamori.StartReport})
	for i := 0; r.last("USUP").Step != "summary"; i++ {
		if i > 30 {
			t.Fatal("never reached the summary")
		}
		if s := r.last("USUP").Step; s == "route" {
			t.Fatal("asked whether it goes to the supervisors")
		}
		r.answer("USUP")
	}
	if n := r.last("USUP").Note; n != T("summary.note.report.hr.self") {
		t.Errorf("the summary's note: %q", n)
	}
	r.click("USUP", "submit")
	if k := r.kase(r.caseOf("USUP")); k.Route != mamori.RouteHR || k.Department != "store" {
		t.Errorf("routed %s, department %q", k.Route, k.Department)
	}
}

// TestAnswerTheQuestionPressed (found by a user trial): with two
// questions open, the answer goes with the question whose "Answer" was
// pressed, and the prompt shows that question; a button of before the
// questions were numbered still answers the oldest open one.
func TestAnswerTheQuestionPressed(t *testing.T) {
	r := newRig(t)
	n := r.filed(nil)
	for _, q := range []string{"何時ごろでしたか？", "どのレジでしたか？"} {
		r.ask("USUP", n, q)
	}
	r.click("UME", "reply:"+n+":2")
	if m := r.last("UME"); !strings.Contains(m.Text, "どのレジでしたか？") {
		t.Errorf("the prompt does not show the question: %+v", m)
	}
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "3番レジです"})
	qs := r.kase(n).Decision.Questions
	if qs[0].Answer != "" || qs[1].Answer != "3番レジです" {
		t.Fatalf("answers: %q, %q", qs[0].Answer, qs[1].Answer)
	}
	r.click("UME", "reply:"+n)
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "15時ごろです"})
	if qs := r.kase(n).Decision.Questions; qs[0].Answer != "15時ごろです" {
		t.Errorf("an old button's answer: %q", qs[0].Answer)
	}

	// Two questions open and words typed, then sent as the answer (no
	// question pressed): they answer the newest, the one read last.
	for _, q := range []string{"お客様は何人でしたか？", "けがはありませんでしたか？"} {
		r.ask("USUP", n, q)
	}
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "けがはありません"})
	r.click("UME", "replydraft:"+n)
	qs = r.kase(n).Decision.Questions
	if len(qs) != 4 || qs[2].Answer != "" || qs[3].Answer != "けがはありません" {
		t.Errorf("typed, then sent as the answer: %+v", qs)
	}
}

// TestCardStatusAfterDecision (found by a user trial): a question left
// unanswered when the case is decided does not make the card or the
// details say the case waits for the reporter; after a reopening either.
func TestCardStatusAfterDecision(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	n := r.filed(nil)
	r.ask("USUP", n, "何時ごろでしたか？")
	env := flows.Env{Policy: r.svc.Policy, Org: r.svc.Org, Now: r.clock.Now()}
	waiting := r.svc.Policy.T(mamori.JA, "status.waiting")
	if !strings.Contains(messageText(flows.Card(env, r.kase(n), mamori.JA, nil)), waiting) {
		t.Fatal("a case with a question open does not say it waits")
	}
	r.advance(time.Minute)
	d := mamori.Decision{Validity: "valid", Means: "acceptable", Outcome: mamori.OutcomeLegitimate, Reason: "返金の要求には理由があった"}
	if _, err := r.svc.Judge(ctx, user("USUP"), n, d); err != nil {
		t.Fatal(err)
	}
	if got := messageText(flows.Card(env, r.kase(n), mamori.JA, nil)); strings.Contains(got, waiting) {
		t.Errorf("a decided case waits for the reporter:\n%s", got)
	}
	r.advance(time.Minute)
	if _, err := r.svc.Reopen(ctx, user("USUP"), n, "防犯カメラの映像が見つかった"); err != nil {
		t.Fatal(err)
	}
	if got := messageText(flows.Card(env, r.kase(n), mamori.JA, nil)); strings.Contains(got, waiting) ||
		strings.Contains(got, r.svc.Policy.T(mamori.JA, "card.next.waiting")) {
		t.Errorf("a reopened case waits for an old question:\n%s", got)
	}
}

// TestAnswerTypedDuringReport (found by a user trial): a supervisor's
// question arrives while the reporter writes another report; what they
// type next is not taken for the report's answer unasked — they choose:
// send it as the answer (the report's question comes again), or use it
// for the report.
func TestAnswerTypedDuringReport(t *testing.T) {
	r := newRig(t)
	n := r.filed(nil)
	me := user("UME")
	r.typedWhileAsked(n, "15時ごろです")
	m := r.last("UME")
	if m.Step != "narrative" || len(m.Choices) < 2 || m.Choices[0].Value != "replydraft:"+n {
		t.Fatalf("not asked which question it answers: %+v", m)
	}
	r.click("UME", "replydraft:"+n)
	if qs := r.kase(n).Decision.Questions; qs[len(qs)-1].Answer != "15時ごろです" {
		t.Errorf("the answer: %+v", qs)
	}
	c := r.conv(me)
	if c.Answers.Narrative != "" || c.Step != "narrative" || r.last("UME").Step != "narrative" {
		t.Errorf("the report: at %s, account %q", c.Step, c.Answers.Narrative)
	}
	// Or for the report: the account.
	r.advance(time.Minute)
	r.ask("USUP", n, "ほかに見ていた人はいますか？")
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "レジで大声で怒鳴られました"})
	r.click("UME", "nav:draft")
	c = r.conv(me)
	if c.Answers.Narrative != "レジで大声で怒鳴られました" {
		t.Errorf("the account: %q", c.Answers.Narrative)
	}
}

// TestDraftAfterRestart (a user trial): text waiting for "which question
// does it answer?" is still offered after the person comes back.
func TestDraftAfterRestart(t *testing.T) {
	r := newRig(t)
	n := r.filed(nil)
	me := user("UME")
	r.typedWhileAsked(n, "15時ごろです")
	r.restart()
	r.do(mamori.Input{Kind: mamori.InputStart, User: me})
	m := r.last("UME")
	if m.Step != "narrative" || len(m.Choices) == 0 || m.Choices[0].Value != "nav:draft" || !strings.Contains(m.Note, "15時ごろです") {
		t.Fatalf("the text sent before is not offered: %+v", m)
	}
	r.click("UME", "nav:draft")
	if c := r.conv(me); c.Answers.Narrative != "15時ごろです" {
		t.Errorf("the account: %q", c.Answers.Narrative)
	}
}

// TestAskHRAboutOutcome (a user trial): "talk to the HR desk" under a
// decision starts a question to HR about that report — HR's card names
// it, and the receipt does not offer to make it a report.
func TestAskHRAboutOutcome(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	n := r.filed(nil)
	d := mamori.Decision{Validity: "valid", Means: "acceptable", Outcome: mamori.OutcomeLegitimate, Reason: "返金の要求には理由があった"}
	if _, err := r.svc.Judge(ctx, user("USUP"), n, d); err != nil {
		t.Fatal(err)
	}
	r.worker.Drain(ctx)
	r.click("UME", "about:"+n)
	// The question says it is about that report (found by a user trial).
	intro := fmt.Sprintf(r.svc.Policy.T(mamori.JA, "consult.intro.about"), n)
	if !slices.ContainsFunc(r.sent.to(mamori.TargetUser, "UME"), func(m mamori.Message) bool { return strings.Contains(m.Text, intro) }) {
		t.Errorf("the consultation does not begin with %q", intro)
	}
	r.answerUntil("UME", "c_summary")
	r.click("UME", "submit")
	named := false
	for _, m := range r.sent.to(mamori.TargetChannel, "C0HR") {
		named = named || strings.Contains(m.Header, "SD-2026-0001") && strings.Contains(fmt.Sprint(m.Fields), n)
	}
	if !named {
		t.Errorf("HR's card does not name the report")
	}
	for _, m := range r.sent.to(mamori.TargetUser, "UME") {
		for _, c := range m.Choices {
			if strings.HasPrefix(c.Value, "from:SD-") {
				t.Errorf("offered to make a report of a question about one: %+v", m)
			}
		}
	}
	// Someone else's report: refused.
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UOTHER"), Step: "menu", Value: "about:" + n})
	r.db.View(ctx, func(tx mamori.Tx) error {
		if c, err := tx.Conversation("slack:UOTHER"); err == nil && c.Answers.AboutCase != "" {
			t.Errorf("someone else asked about the report: %+v", c)
		}
		return nil
	})
}

// TestTakeAgainAndOutsiders (found by a user trial): taking a case one
// already handles says so and changes nothing; a colleague named in a
// report, who may not handle it anyway, reads the same refusal as anyone
// else who may not.
func TestTakeAgainAndOutsiders(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	T := func(key string) string { return r.svc.Policy.T(mamori.JA, key) }
	r.reportUntil("UME", "witnesses")
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "UOTHER さんが見ていました"})
	r.reportToSummary("UME")
	r.click("UME", "submit")
	n := r.caseOf("UME")
	if _, err := r.svc.Take(ctx, user("USUP"), n); err != nil {
		t.Fatal(err)
	}
	r.worker.Drain(ctx)
	cards := len(r.sent.to(mamori.TargetChannel, "C0STORE"))
	m, err := r.svc.Take(ctx, user("USUP"), n)
	if want := fmt.Sprintf(T("judge.take.already"), n); err == nil || m.Text != want {
		t.Errorf("taken again: %q (%v), want %q", m.Text, err, want)
	}
	r.worker.Drain(ctx)
	if got := len(r.sent.to(mamori.TargetChannel, "C0STORE")); got != cards {
		t.Errorf("the card was posted again (%d → %d)", cards, got)
	}
	if m, err := r.svc.Take(ctx, user("UOTHER"), n); !errors.Is(err, mamori.ErrForbidden) || m.Text != T("judge.refused") {
		t.Errorf("the colleague named is told %q (%v)", m.Text, err)
	}
}

// typedWhileAsked has UME, writing a report at its account, receive a
// supervisor's question about case n and type typed.
func (r *rig) typedWhileAsked(n, typed string) {
	r.t.Helper()
	r.reportUntil("UME", "narrative")
	r.advance(time.Minute)
	r.ask("USUP", n, "お客様は何時ごろ来店されましたか？")
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: typed})
}

// TestReplyDraftApart (found by a user trial): words typed at the menu
// before a supervisor's question (perhaps for HR alone) never go with
// the answer sent in one click; only what was typed since the question.
func TestReplyDraftApart(t *testing.T) {
	r := newRig(t)
	n := r.filed(nil)
	me := user("UME")
	const forHR = "人事の方へ：佐藤さんに我慢しろと言われたのがつらいです"
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: forHR})
	r.advance(time.Minute)
	r.ask("USUP", n, "録音はありますか？")
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "はい、録音があります"})
	r.click("UME", "replydraft:"+n)
	qs := r.kase(n).Decision.Questions
	if got := qs[len(qs)-1].Answer; got != "はい、録音があります" {
		t.Errorf("the answer sent: %q", got)
	}
	if c := r.conv(me); c.Draft != forHR || c.ReplyDraft != "" {
		t.Errorf("the conversation: draft %q, reply draft %q", c.Draft, c.ReplyDraft)
	}
}
