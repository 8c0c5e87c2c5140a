package flows_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mamori-oss/mamori"
)

// registered files a report about customer ids to the store, judges it
// カスハラ with a refusal of service and records the customer on the
// register as HR, with other reports it rests on too: it returns the
// report's number and the entry's.
func (r *rig) registered(u mamori.User, ids string, other ...string) (number, entry string) {
	r.t.Helper()
	ctx := context.Background()
	number = r.fileCustomer(u, ids, mamori.RouteDepartment)
	if _, err := r.svc.Submit(ctx, user("USUP"), mamori.Action{Kind: mamori.CardJudge, Subject: number},
		mamori.Values{"validity": {"invalid"}, "means": {"unacceptable"}, "outcome": {"kasuhara"}, "actions": {"warn", "refuse"}}); err != nil {
		r.t.Fatal(err)
	}
	m, err := r.svc.Submit(ctx, user("UHR"), mamori.Action{Kind: mamori.RegisterAdd, Subject: number},
		mamori.Values{"identifiers": {ids}, "departments": {"store"}, "until": {"2027-10-31"}, "review": {"2027-05-01"},
			"cases": {strings.Join(other, ", ")}})
	if err != nil {
		r.t.Fatal(err)
	}
	r.worker.Drain(ctx)
	entry = strings.Fields(m.Text)[0]
	if !strings.HasPrefix(entry, "RF-") {
		r.t.Fatalf("added: %q", m.Text)
	}
	return number, entry
}

// entry reads a register entry.
func (r *rig) entry(number string) mamori.RegisterEntry {
	r.t.Helper()
	var e mamori.RegisterEntry
	if err := r.db.View(context.Background(), func(tx mamori.Tx) error {
		var err error
		e, err = tx.Entry(number)
		return err
	}); err != nil {
		r.t.Fatal(err)
	}
	return e
}

// hrHeard returns what the HR channel was told under header key (one
// %s: the entry's number) since it had before messages.
func (r *rig) hrHeard(before int, key, entry string) []mamori.Message {
	var out []mamori.Message
	want := strings.ReplaceAll(r.svc.Policy.T(mamori.JA, key), "%s", entry)
	for _, m := range r.sent.to(mamori.TargetChannel, "C0HR")[before:] {
		if m.Header == want {
			out = append(out, m)
		}
	}
	return out
}

// lastEntryCard is the last version of entry's card in the HR channel.
func (r *rig) lastEntryCard(entry string) mamori.Message {
	r.t.Helper()
	ms := r.sent.to(mamori.TargetChannel, "C0HR")
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Ref == "register:"+entry {
			return ms[i]
		}
	}
	r.t.Fatalf("no card of %s", entry)
	return mamori.Message{}
}

// Whoever reopens or judges again a report a register entry rests on
// reads, in their confirmation, that HR was told; a report no entry rests
// on says nothing of the register.
func TestRegisterBasisToldSupervisor(t *testing.T) {
	ctx := context.Background()
	r := newCustomerRig(t)
	k, _ := r.registered(user("UME"), "山田太郎 090-1234-5678")
	sup := user("USUP")
	sup.Lang = mamori.EN
	told := func(l mamori.Lang) string { return r.svc.Policy.T(l, "register.basis.told") }
	m, err := r.svc.Submit(ctx, sup, mamori.Action{Kind: mamori.CardReopen, Subject: k}, mamori.Values{"reason": {"new footage"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, told(mamori.EN)) || !strings.Contains(m.Text, k) {
		t.Errorf("the reopening's confirmation: %q", m.Text)
	}
	m, err = r.svc.Submit(ctx, user("USUP"), mamori.Action{Kind: mamori.CardJudge, Subject: k},
		mamori.Values{"validity": {"valid"}, "means": {"acceptable"}, "outcome": {"legitimate"}, "reason": {"別の人の行為だった"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, told(mamori.JA)) {
		t.Errorf("the judgement's confirmation: %q", m.Text)
	}
	// HR reopening it is not told that HR was told.
	m, err = r.svc.Submit(ctx, user("UHR"), mamori.Action{Kind: mamori.CardReopen, Subject: k}, mamori.Values{"reason": {"再確認"}})
	if err != nil || strings.Contains(m.Text, told(mamori.JA)) {
		t.Errorf("HR's reopening: %q %v", m.Text, err)
	}
	// Another report about someone else, on no entry.
	other := r.fileCustomer(user("UOTHER"), "090-9999-0000", mamori.RouteDepartment)
	if _, err := r.svc.Submit(ctx, user("USUP"), mamori.Action{Kind: mamori.CardJudge, Subject: other},
		mamori.Values{"validity": {"invalid"}, "means": {"unacceptable"}, "outcome": {"kasuhara"}, "actions": {"warn", "refuse"}}); err != nil {
		t.Fatal(err)
	}
	m, err = r.svc.Submit(ctx, user("USUP"), mamori.Action{Kind: mamori.CardReopen, Subject: other}, mamori.Values{"reason": {"確認"}})
	if err != nil || strings.Contains(m.Text, told(mamori.JA)) {
		t.Errorf("a report on no entry: %q %v", m.Text, err)
	}
}

// HR checking a customer on an entry whose basis changed reads it in the
// answer, as on the entry's card, until HR reviews the entry; the front
// line reads only "do not serve", never a case.
func TestRegisterBasisInHRCheck(t *testing.T) {
	ctx := context.Background()
	r := newCustomerRig(t)
	k, rf := r.registered(user("UME"), "山田太郎 090-1234-5678")
	checked := func(who string) mamori.Message {
		t.Helper()
		before := len(r.sent.to(mamori.TargetUser, who))
		r.do(mamori.Input{Kind: mamori.InputText, User: user(who), Text: "確認 090-1234-5678"})
		ms := r.sent.to(mamori.TargetUser, who)[before:]
		if len(ms) == 0 || ms[0].Header != r.svc.Policy.T(mamori.JA, "check.found.header") {
			t.Fatalf("%s's check: %+v", who, ms)
		}
		return ms[0]
	}
	label := strings.ReplaceAll(r.svc.Policy.T(mamori.JA, "check.basis"), "%s", rf)
	if v := fieldValue(checked("UHR"), label); v != "" {
		t.Errorf("a basis unchanged shown: %q", v)
	}
	if _, err := r.svc.Submit(ctx, user("USUP"), mamori.Action{Kind: mamori.CardReopen, Subject: k}, mamori.Values{"reason": {"映像を確認する"}}); err != nil {
		t.Fatal(err)
	}
	r.worker.Drain(ctx)
	want := strings.ReplaceAll(r.svc.Policy.T(mamori.JA, "register.basis.value.reopened"), "%s", k)
	if v := fieldValue(checked("UHR"), label); v != want {
		t.Errorf("HR's check after the reopening: %q, want %q", v, want)
	}
	if _, err := r.svc.Submit(ctx, user("USUP"), mamori.Action{Kind: mamori.CardJudge, Subject: k},
		mamori.Values{"validity": {"valid"}, "means": {"acceptable"}, "outcome": {"legitimate"}, "reason": {"別の人の行為だった"}}); err != nil {
		t.Fatal(err)
	}
	r.worker.Drain(ctx)
	want = strings.ReplaceAll(r.svc.Policy.T(mamori.JA, "register.basis.value.changed"), "%s", k)
	if v := fieldValue(checked("UHR"), label); v != want {
		t.Errorf("HR's check after the new decision: %q, want %q", v, want)
	}
	if m := checked("UOTHER"); strings.Contains(messageText(m), k) || strings.Contains(messageText(m), rf) ||
		m.Note != r.svc.Policy.T(mamori.JA, "check.found.note") {
		t.Errorf("the front line's check names the entry or the case:\n%s", messageText(m))
	}
	// HR reads where the entry is, not that reasons are not given.
	if m := checked("UHR"); m.Note != strings.ReplaceAll(r.svc.Policy.T(mamori.JA, "check.found.note.hr"), "%s", rf) {
		t.Errorf("HR's check note: %q", m.Note)
	}
	// Reviewed: settled, no longer shown.
	if _, err := r.svc.Submit(ctx, user("UHR"), mamori.Action{Kind: mamori.RegisterReview, Subject: rf},
		mamori.Values{"result": {"keep"}, "review": {"2027-03-01"}, "note": {"別の報告もある"}}); err != nil {
		t.Fatal(err)
	}
	if v := fieldValue(checked("UHR"), label); v != "" {
		t.Errorf("shown after HR's review: %q", v)
	}
}

// A report the register rests on, reopened and judged a legitimate
// complaint: HR is told each time in its channel, with the entry and the
// report named and a click to review or lift it; the entry's card and
// details say its basis changed; the audit trail has it. The entry stays
// in force until HR decides.
func TestRegisterBasisChanged(t *testing.T) {
	ctx := context.Background()
	r := newCustomerRig(t)
	ja := func(key string) string { return r.svc.Policy.T(mamori.JA, key) }
	const ids = "山田太郎 090-1234-5678"
	k, rf := r.registered(user("UME"), ids)
	sup, hr := user("USUP"), user("UHR")
	doNotServe := func() bool {
		t.Helper()
		before := len(r.sent.to(mamori.TargetUser, "UOTHER"))
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UOTHER"), Text: "確認 090-1234-5678"})
		ms := r.sent.to(mamori.TargetUser, "UOTHER")[before:]
		return len(ms) > 0 && ms[0].Header == ja("check.found.header")
	}
	private := func(m mamori.Message) {
		t.Helper()
		if s := messageText(m); strings.Contains(s, "1234") || strings.Contains(s, "山田") {
			t.Errorf("HR's message names the customer:\n%s", s)
		}
	}

	// Reopened: HR hears that the report is being judged again.
	before := len(r.sent.to(mamori.TargetChannel, "C0HR"))
	if _, err := r.svc.Submit(ctx, sup, mamori.Action{Kind: mamori.CardReopen, Subject: k}, mamori.Values{"reason": {"防犯カメラの映像を確認する"}}); err != nil {
		t.Fatal(err)
	}
	r.worker.Drain(ctx)
	told := r.hrHeard(before, "register.basis.header.reopened", rf)
	if len(told) != 1 || !strings.Contains(told[0].Text, k) || !hasChoice(told[0], mamori.RegisterReview+":"+rf) ||
		!hasChoice(told[0], mamori.RegisterLift+":"+rf) || !hasChoice(told[0], mamori.CardDetails+":"+k) {
		t.Fatalf("HR told of the reopening: %+v", told)
	}
	private(told[0])
	if strings.Contains(messageText(told[0]), "防犯カメラ") {
		t.Errorf("the supervisors' reason reached HR's channel: %s", messageText(told[0]))
	}
	if v := fieldValue(r.lastEntryCard(rf), ja("register.basis")); !strings.Contains(v, k) {
		t.Errorf("the card does not say the report is judged again: %q", v)
	}
	if !doNotServe() {
		t.Error("the entry stopped applying at the reopening")
	}

	// Judged a legitimate complaint: HR hears the basis is gone, and
	// what to do.
	before = len(r.sent.to(mamori.TargetChannel, "C0HR"))
	if _, err := r.svc.Submit(ctx, sup, mamori.Action{Kind: mamori.CardJudge, Subject: k},
		mamori.Values{"validity": {"valid"}, "means": {"acceptable"}, "outcome": {"legitimate"}, "reason": {"映像では別のお客様だった"}}); err != nil {
		t.Fatal(err)
	}
	r.worker.Drain(ctx)
	told = r.hrHeard(before, "register.basis.header.changed", rf)
	if len(told) != 1 || !strings.Contains(told[0].Text, k) || !strings.Contains(told[0].Text, ja("decision.legitimate")) ||
		told[0].Choices[0].Value != mamori.RegisterReview+":"+rf || !hasChoice(told[0], mamori.RegisterLift+":"+rf) {
		t.Fatalf("HR told of the new decision: %+v", told)
	}
	private(told[0])
	if e := r.entry(rf); e.Status != mamori.RegisterActive || e.Identifiers == "" {
		t.Fatalf("the entry changed without HR: %+v", e)
	}
	if !doNotServe() {
		t.Error("the entry was lifted without HR")
	}
	card := r.lastEntryCard(rf)
	if v := fieldValue(card, ja("register.basis")); !strings.Contains(v, k) || card.Text != ja("register.card.text.basis") {
		t.Errorf("the card after the change: %q\n%s", v, messageText(card))
	}
	private(card)
	// /register_show: the change, and each step in the history.
	_, details, err := r.svc.Open(ctx, hr, mamori.Action{Kind: mamori.RegisterDetails, Subject: rf})
	if err != nil {
		t.Fatal(err)
	}
	all := messageText(details)
	for _, want := range []string{ja("register.basis"), ja("register.history.basis_reopened"), ja("register.history.basis_changed"), k} {
		if !strings.Contains(all, want) {
			t.Errorf("the details lack %q:\n%s", want, all)
		}
	}
	trail, _ := r.db.AuditTrail(ctx, rf)
	var got []string
	for _, a := range trail {
		if strings.HasPrefix(a.Action, "register.basis_") {
			got = append(got, a.Action+" "+a.Actor+" "+a.Detail)
		}
	}
	if len(got) != 2 || got[0] != "register.basis_reopened slack:USUP case="+k ||
		!strings.HasPrefix(got[1], "register.basis_changed slack:USUP case="+k+" outcome=legitimate") {
		t.Errorf("the audit trail: %q", got)
	}

	// HR's click from the message: review, and lift it.
	review := mamori.Action{Kind: mamori.RegisterReview, Subject: rf}
	if form, _, err := r.svc.Open(ctx, hr, review); err != nil || form == nil {
		t.Fatalf("HR's review: %v", err)
	}
	if _, err := r.svc.Submit(ctx, hr, review, mamori.Values{"result": {"lift"}, "note": {"根拠の報告が正当なクレームになった"}}); err != nil {
		t.Fatal(err)
	}
	if doNotServe() {
		t.Error("lifted, and still refused")
	}
	// Reopened once more: the entry no longer applies, so HR hears nothing.
	before = len(r.sent.to(mamori.TargetChannel, "C0HR"))
	if _, err := r.svc.Submit(ctx, sup, mamori.Action{Kind: mamori.CardReopen, Subject: k}, mamori.Values{"reason": {"もう一度"}}); err != nil {
		t.Fatal(err)
	}
	r.worker.Drain(ctx)
	if n := len(r.hrHeard(before, "register.basis.header.reopened", rf)); n != 0 {
		t.Errorf("told of a lifted entry %d times", n)
	}
}

// Judged a refusal again: HR hears the entry may stay, and its card says
// nothing changed. After a change, HR's review (kept) settles it; a
// report that did not stand as a refusal tells HR nothing when reopened.
func TestRegisterBasisSettled(t *testing.T) {
	ctx := context.Background()
	r := newCustomerRig(t)
	ja := func(key string) string { return r.svc.Policy.T(mamori.JA, key) }
	sup, hr := user("USUP"), user("UHR")
	other := r.fileCustomer(user("UOTHER"), "090-2222-3333", mamori.RouteDepartment)
	if _, err := r.svc.Submit(ctx, sup, mamori.Action{Kind: mamori.CardJudge, Subject: other},
		mamori.Values{"validity": {"invalid"}, "means": {"unacceptable"}, "outcome": {"kasuhara"}, "actions": {"warn"}}); err != nil {
		t.Fatal(err)
	}
	k, rf := r.registered(user("UME"), "090-2222-3333", other)
	if e := r.entry(rf); !slices.Contains(e.Cases, other) {
		t.Fatalf("the entry does not rest on the earlier report too: %+v", e.Cases)
	}
	judge := func(v mamori.Values) {
		t.Helper()
		if _, err := r.svc.Submit(ctx, sup, mamori.Action{Kind: mamori.CardJudge, Subject: k}, v); err != nil {
			t.Fatal(err)
		}
		r.worker.Drain(ctx)
	}
	reopen := func(n string) {
		t.Helper()
		if _, err := r.svc.Submit(ctx, sup, mamori.Action{Kind: mamori.CardReopen, Subject: n}, mamori.Values{"reason": {"確認のため"}}); err != nil {
			t.Fatal(err)
		}
		r.worker.Drain(ctx)
	}
	refuse := mamori.Values{"validity": {"invalid"}, "means": {"unacceptable"}, "outcome": {"kasuhara"}, "actions": {"refuse"}}

	// The earlier report, judged a warning only, reopened: nothing to say.
	before := len(r.sent.to(mamori.TargetChannel, "C0HR"))
	reopen(other)
	if n := len(r.hrHeard(before, "register.basis.header.reopened", rf)); n != 0 {
		t.Errorf("HR told of a report that did not stand as a refusal: %d", n)
	}

	// Reopened and judged the same: HR may leave it as it is.
	reopen(k)
	before = len(r.sent.to(mamori.TargetChannel, "C0HR"))
	judge(refuse)
	told := r.hrHeard(before, "register.basis.header.confirmed", rf)
	if len(told) != 1 || !strings.Contains(told[0].Text, k) || hasChoice(told[0], mamori.RegisterLift+":"+rf) {
		t.Fatalf("HR told of the same decision: %+v", told)
	}
	card := r.lastEntryCard(rf)
	if v := fieldValue(card, ja("register.basis")); v != "" || card.Text != ja("register.card.text.active") {
		t.Errorf("the card after the same decision: %q %q", v, card.Text)
	}

	// Reopened and asked for more information: the basis is gone for
	// now; HR reviews and keeps it, which settles it on the card.
	reopen(k)
	before = len(r.sent.to(mamori.TargetChannel, "C0HR"))
	judge(mamori.Values{"validity": {"unclear"}, "means": {"unacceptable"}, "outcome": {"more_info"}})
	if told := r.hrHeard(before, "register.basis.header.changed", rf); len(told) != 1 || !strings.Contains(told[0].Text, ja("decision.more_info")) {
		t.Fatalf("HR told of more information asked for: %+v", told)
	}
	if v := fieldValue(r.lastEntryCard(rf), ja("register.basis")); !strings.Contains(v, k) {
		t.Errorf("the card does not show the change: %q", v)
	}
	review := mamori.Action{Kind: mamori.RegisterReview, Subject: rf}
	if _, err := r.svc.Submit(ctx, hr, review, mamori.Values{"result": {"keep"}, "review": {"2027-03-01"}, "note": {"同じお客様の別の報告もある"}}); err != nil {
		t.Fatal(err)
	}
	r.worker.Drain(ctx)
	if v := fieldValue(r.lastEntryCard(rf), ja("register.basis")); v != "" {
		t.Errorf("the card after HR's review: %q", v)
	}
	// Judged later, without a refusal: told again (the review was before).
	before = len(r.sent.to(mamori.TargetChannel, "C0HR"))
	judge(mamori.Values{"validity": {"valid"}, "means": {"unacceptable"}, "outcome": {"kasuhara"}, "actions": {"warn"}})
	if told := r.hrHeard(before, "register.basis.header.changed", rf); len(told) != 1 {
		t.Errorf("HR told of the decision after the review: %+v", told)
	}
	if e := r.entry(rf); e.Status != mamori.RegisterActive {
		t.Errorf("the entry changed without HR: %+v", e)
	}
	// A refusal the supervisor does not get to lift.
	if _, err := r.svc.Submit(ctx, sup, mamori.Action{Kind: mamori.RegisterLift, Subject: rf}, mamori.Values{}); !errors.Is(err, mamori.ErrForbidden) {
		t.Errorf("the supervisor lifted it: %v", err)
	}
}

// A report judged a legitimate complaint (or the illness exception)
// cannot be named as a ground for refusing a customer service: the form
// says which report and why, and nothing is recorded.
func TestRegisterRefusesLegitimateBasis(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	me := user("UME")
	ids := "090-1234-5678 山田太郎"
	other := r.fileCustomer(me, ids, mamori.RouteDepartment)
	if _, err := r.svc.Submit(ctx, user("USUP"), mamori.Action{Kind: mamori.CardJudge, Subject: other},
		mamori.Values{"validity": {"valid"}, "means": {"acceptable"}, "outcome": {"legitimate"}, "reason": {"録音で、要求は妥当と確認した"}}); err != nil {
		t.Fatal(err)
	}
	number := r.fileCustomer(me, ids, mamori.RouteDepartment)
	if _, err := r.svc.Submit(ctx, user("USUP"), mamori.Action{Kind: mamori.CardJudge, Subject: number},
		mamori.Values{"validity": {"invalid"}, "means": {"unacceptable"}, "outcome": {"kasuhara"}, "actions": {"warn", "refuse"}}); err != nil {
		t.Fatal(err)
	}
	add := mamori.Action{Kind: mamori.RegisterAdd, Subject: number}
	form, _, err := r.svc.Open(ctx, user("UHR"), add)
	if err != nil || form == nil {
		t.Fatalf("HR's register form: %v", err)
	}
	if cs := fieldOf(form, "cases"); len(cs.Value) != 1 || strings.Contains(cs.Value[0], other) || !strings.Contains(cs.Value[0], number) {
		t.Errorf("the form offers the legitimate complaint as a ground: %+v", cs)
	}
	_, err = r.svc.Submit(ctx, user("UHR"), add,
		mamori.Values{"identifiers": {ids}, "departments": {"store"}, "until": {"2027-10-31"}, "review": {"2027-05-01"},
			"cases": {other}})
	var fe *mamori.Refusal
	if !errors.As(err, &fe) || fe.Field != "cases" || fe.Key != "register.not_basis" {
		t.Fatalf("a legitimate complaint as a ground: %v", err)
	}
	if say := r.svc.Policy.Say(mamori.JA, fe); !strings.Contains(say, other) || !strings.Contains(say, "正当なクレーム") {
		t.Errorf("refusal says %q", say)
	}
	// Nor one not judged yet (found by a re-trial).
	open := r.fileCustomer(me, ids, mamori.RouteDepartment)
	if _, err := r.svc.Submit(ctx, user("UHR"), add, mamori.Values{"identifiers": {ids}, "departments": {"store"}, "until": {"2027-10-31"},
		"review": {"2027-05-01"}, "cases": {open}}); !errors.As(err, &fe) || fe.Key != "register.not_judged" {
		t.Errorf("a report not judged as a ground: %v", err)
	}
	r.registered(me, "080-5555-0000 鈴木一郎")
	var n int
	if err := r.db.View(ctx, func(tx mamori.Tx) error {
		es, err := tx.Entries(true)
		n = len(es)
		return err
	}); err != nil || n != 1 {
		t.Fatalf("entries %d, %v", n, err)
	}
}
