package flows_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

// customerOrg is the rig's directory with a second department, the
// office, whose supervisor USUP2 and member UFAR know nothing of the
// store's reports.
func customerOrg() *mamori.Org {
	o := org()
	o.Departments = append(o.Departments, mamori.Department{ID: "office", Name: mamori.Text{JA: "本社", EN: "Office"},
		SupervisorChannel: "C0OFFICE", Supervisors: []string{"USUP2"}, Members: []string{"UFAR"}})
	return o
}

func newCustomerRig(t *testing.T) *rig {
	r := newRig(t)
	r.svc.Org = customerOrg()
	return r
}

// fileCustomer files a report from u naming the customer by ids ("" to
// skip the question), sent to route, an hour after the last one.
func (r *rig) fileCustomer(u mamori.User, ids, route string) string {
	r.t.Helper()
	r.clock.Add(time.Hour)
	r.do(mamori.Input{Kind: mamori.InputStart, User: u, Value: mamori.StartReport})
	for i := 0; ; i++ {
		if i > 40 {
			r.t.Fatal("report never reached the summary")
		}
		m := r.last(u.ID)
		switch {
		case m.Step == "summary":
			r.do(mamori.Input{Kind: mamori.InputChoice, User: u, Step: m.Step, Value: "submit"})
			var number string
			r.db.View(context.Background(), func(tx mamori.Tx) error {
				cs, _ := tx.CasesOf(u.Key())
				number = cs[0].Number
				return nil
			})
			return number
		case m.Step == "customer_id" && ids == "":
			r.do(mamori.Input{Kind: mamori.InputChoice, User: u, Step: m.Step, Value: "nav:skip"})
		case m.Step == "customer_id":
			r.do(mamori.Input{Kind: mamori.InputText, User: u, Text: ids})
		case m.Step == "route":
			r.do(mamori.Input{Kind: mamori.InputChoice, User: u, Step: m.Step, Value: route})
		case m.Multi != nil:
			r.do(mamori.Input{Kind: mamori.InputMulti, User: u, Step: m.Step, Values: []string{"verbal_attack"}})
		case m.Prompt != "" && (len(m.Choices) == 0 || m.Choices[0].Value == "nav:skip"):
			r.do(mamori.Input{Kind: mamori.InputText, User: u, Text: "出来事 " + m.Step})
		default:
			r.do(mamori.Input{Kind: mamori.InputChoice, User: u, Step: m.Step, Value: m.Choices[0].Value})
		}
	}
}

// card returns the last card of case n posted to channel.
func (r *rig) card(channel, n string) mamori.Message {
	r.t.Helper()
	ms := r.sent.to(mamori.TargetChannel, channel)
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Ref == "card:"+n {
			return ms[i]
		}
	}
	r.t.Fatalf("no card of %s in %s", n, channel)
	return mamori.Message{}
}

// repeatLine returns the card's line of earlier reports, or "".
func repeatLine(r *rig, m mamori.Message) string {
	for _, f := range m.Fields {
		if f.Label == r.svc.Policy.T(mamori.JA, "card.repeat") {
			return f.Value
		}
	}
	return ""
}

func hasChoice(m mamori.Message, value string) bool {
	for _, c := range m.Choices {
		if c.Value == value {
			return true
		}
	}
	return false
}

// Three reports about one customer, typed three ways, are linked on the
// card (the earlier ones only, oldest first, beside the suggestion); a
// report about someone else is not; no card shows who the customer is.
func TestRepeatCustomersOnTheCard(t *testing.T) {
	r := newCustomerRig(t)
	me, other := user("UME"), user("UOTHER")
	k1 := r.fileCustomer(me, "090-1234-5678", mamori.RouteDepartment)
	k2 := r.fileCustomer(other, "山田太郎様 ０９０１２３４５６７８", mamori.RouteDepartment)
	k3 := r.fileCustomer(me, "携帯 +81 90 1234 5678 / 顧客番号 A-777", mamori.RouteDepartment)
	k4 := r.fileCustomer(me, "佐藤花子 03-9999-0000", mamori.RouteDepartment)
	k5 := r.fileCustomer(other, "", mamori.RouteDepartment)

	if line := repeatLine(r, r.card("C0STORE", k1)); line != "" {
		t.Errorf("the first report lists earlier ones: %q", line)
	}
	line2 := repeatLine(r, r.card("C0STORE", k2))
	if !strings.Contains(line2, "1件") || !strings.Contains(line2, k1) {
		t.Errorf("second card: %q, want %s", line2, k1)
	}
	c3 := r.card("C0STORE", k3)
	line3 := repeatLine(r, c3)
	if !strings.Contains(line3, "2件") || strings.Index(line3, k1) > strings.Index(line3, k2) || strings.Index(line3, k1) < 0 ||
		!strings.Contains(line3, "継続的・執拗な言動") || !strings.Contains(line3, r.svc.Policy.T(mamori.JA, "status.new")) {
		t.Errorf("third card: %q, want %s then %s", line3, k1, k2)
	}
	// Beside the policy's suggestion.
	for i, f := range c3.Fields {
		if f.Label == r.svc.Policy.T(mamori.JA, "card.repeat") &&
			(i == 0 || c3.Fields[i-1].Label != r.svc.Policy.T(mamori.JA, "card.suggestion")) {
			t.Errorf("the repeat line is not after the suggestion: %+v", c3.Fields)
		}
	}
	if !hasChoice(c3, mamori.CardLink+":"+k3) || c3.Choices[len(c3.Choices)-1].Value != mamori.CardDetails+":"+k3 {
		t.Errorf("third card's buttons: %+v", c3.Choices)
	}
	for _, k := range []string{k4, k5} {
		if line := repeatLine(r, r.card("C0STORE", k)); line != "" {
			t.Errorf("%s lists %q", k, line)
		}
	}
	for _, m := range r.sent.to(mamori.TargetChannel, "C0STORE") {
		for _, secret := range []string{"1234", "山田", "A-777", "a777", "佐藤", "9999"} {
			if strings.Contains(messageText(m), secret) {
				t.Errorf("a channel message shows %q: %s", secret, messageText(m))
			}
		}
	}

	// A later decision on an earlier report shows on the next card update.
	ctx := context.Background()
	if _, err := r.svc.Submit(ctx, user("USUP"), mamori.Action{Kind: mamori.CardJudge, Subject: k1},
		mamori.Values{"validity": {"invalid"}, "means": {"unacceptable"}, "outcome": {"kasuhara"}, "actions": {"refuse"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Take(ctx, user("USUP"), k3); err != nil {
		t.Fatal(err)
	}
	r.worker.Drain(ctx)
	if line := repeatLine(r, r.card("C0STORE", k3)); !strings.Contains(line, k1+"（") ||
		!strings.Contains(line, "カスハラ・"+mamori.Label(r.svc.Policy.Actions, "refuse", mamori.JA)) {
		t.Errorf("after the judgement of %s: %q", k1, line)
	}
	// The judge form shows it beside the suggestion too.
	form, _, err := r.svc.Open(ctx, user("USUP"), mamori.Action{Kind: mamori.CardJudge, Subject: k3})
	if err != nil {
		t.Fatal(err)
	}
	var about []string
	for _, f := range form.About {
		about = append(about, f.Label+": "+f.Value)
	}
	if !strings.Contains(strings.Join(about, "\n"), k2) {
		t.Errorf("judge form: %q", about)
	}
}

// A card in a department's channel names only the reports that went to
// that department's supervisors; the HR channel's card and HR's details
// name all; a supervisor's details name what they may see.
func TestRepeatVisibility(t *testing.T) {
	ctx := context.Background()
	r := newCustomerRig(t)
	hrOnly := r.fileCustomer(user("UME"), "顧客番号 C-4242", mamori.RouteHR)
	office := r.fileCustomer(user("UFAR"), "c4242", mamori.RouteDepartment)
	store := r.fileCustomer(user("UOTHER"), "Ｃ－４２４２", mamori.RouteDepartment)
	toHR := r.fileCustomer(user("UOTHER"), "C 4242", mamori.RouteHR)

	if line := repeatLine(r, r.card("C0STORE", store)); line != "" {
		t.Errorf("the store's card names reports it may not: %q", line)
	}
	if line := repeatLine(r, r.card("C0OFFICE", office)); line != "" {
		t.Errorf("the office's card names reports it may not: %q", line)
	}
	line := repeatLine(r, r.card("C0HR", toHR))
	for _, n := range []string{hrOnly, office, store} {
		if !strings.Contains(line, n) {
			t.Errorf("HR's card does not name %s: %q", n, line)
		}
	}
	details := func(who, n string) string {
		t.Helper()
		m, err := r.svc.CaseDetails(ctx, user(who), n)
		if err != nil {
			t.Fatal(err)
		}
		return messageText(m)
	}
	if d := details("UHR", store); !strings.Contains(d, hrOnly) || !strings.Contains(d, office) || !strings.Contains(d, toHR) {
		t.Errorf("HR's details of %s: %s", store, d)
	}
	if d := details("USUP", store); strings.Contains(d, hrOnly) || strings.Contains(d, office) || strings.Contains(d, toHR) ||
		strings.Contains(d, r.svc.Policy.T(mamori.JA, "details.same_customer")) {
		t.Errorf("the supervisor's details of %s name other reports: %s", store, d)
	}
	// The reporter reads their own answers, not other reports.
	if d := details("UOTHER", store); strings.Contains(d, r.svc.Policy.T(mamori.JA, "details.same_customer")) {
		t.Errorf("the reporter's details name other reports: %s", d)
	}
}

// A supervisor links and unlinks by hand; the cards follow; each is
// audited; who may not act on a report may not link it.
func TestLinkByHand(t *testing.T) {
	ctx := context.Background()
	r := newCustomerRig(t)
	k1 := r.fileCustomer(user("UME"), "090-1111-2222", mamori.RouteDepartment)
	k2 := r.fileCustomer(user("UOTHER"), "", mamori.RouteDepartment)
	k3 := r.fileCustomer(user("UME"), "09011112222", mamori.RouteDepartment)
	far := r.fileCustomer(user("UFAR"), "", mamori.RouteDepartment)
	sup := user("USUP")
	link := mamori.Action{Kind: mamori.CardLink, Subject: k3}

	form, _, err := r.svc.Open(ctx, sup, link)
	if err != nil || form == nil {
		t.Fatalf("link form: %v %v", form, err)
	}
	if f := fieldOf(form, "unlink"); f == nil || len(f.Options) != 1 || f.Options[0].Value != k1 {
		t.Fatalf("unlink options: %+v", form.Fields)
	}
	// Connect k2 (no identifiers), undo the wrong match with k1.
	m, err := r.svc.Submit(ctx, sup, link, mamori.Values{"link": {"ｋｈ－" + k2[3:]}, "unlink": {k1}})
	if err != nil {
		t.Fatalf("link: %+v %v", m, err)
	}
	r.worker.Drain(ctx)
	if line := repeatLine(r, r.card("C0STORE", k3)); !strings.Contains(line, k2) || strings.Contains(line, k1) {
		t.Errorf("after linking %s and unlinking %s: %q", k2, k1, line)
	}
	es, _ := r.db.AuditTrail(ctx, k3)
	found := false
	for _, e := range es {
		if e.Action == "case.link" && e.Actor == sup.Key() && e.Detail == "linked="+k2+" unlinked="+k1 {
			found = true
		}
	}
	if !found {
		t.Errorf("linking not audited: %+v", es)
	}
	// Linked again by hand, the wrong match comes back; an unlink stands over matching keys.
	if _, err := r.svc.Submit(ctx, sup, link, mamori.Values{"link": {k1}}); err != nil {
		t.Fatal(err)
	}
	r.worker.Drain(ctx)
	if line := repeatLine(r, r.card("C0STORE", k3)); !strings.Contains(line, k1) || !strings.Contains(line, k2) {
		t.Errorf("after linking %s again: %q", k1, line)
	}

	refused := func(who string, a mamori.Action, v mamori.Values, want error, field string) {
		t.Helper()
		m, err := r.svc.Submit(ctx, user(who), a, v)
		if !errors.Is(err, want) || m.Text == "" {
			t.Errorf("%s %v: %+v %v, want %v", who, v, m, err, want)
		}
		var rf *mamori.Refusal
		if field != "" && (!errors.As(err, &rf) || rf.Field != field) {
			t.Errorf("%s %v: %v, want a refusal of %s", who, v, err, field)
		}
	}
	refused("USUP", link, mamori.Values{"link": {far}}, mamori.ErrInvalid, "link") // the office's report
	refused("USUP", link, mamori.Values{"link": {"KH-2026-9999"}}, mamori.ErrInvalid, "link")
	refused("USUP", link, mamori.Values{"link": {k3}}, mamori.ErrInvalid, "link")
	refused("USUP", link, mamori.Values{"link": {"山田さん"}}, mamori.ErrInvalid, "link")
	refused("USUP", link, mamori.Values{}, mamori.ErrInvalid, "link")
	refused("USUP2", link, mamori.Values{"link": {k2}}, mamori.ErrForbidden, "")
	refused("UOTHER", link, mamori.Values{"link": {k2}}, mamori.ErrForbidden, "")
	refused("UME", link, mamori.Values{"link": {k2}}, mamori.ErrForbidden, "") // their own report
	if _, _, err := r.svc.Open(ctx, user("UFAR"), link); !errors.Is(err, mamori.ErrForbidden) {
		t.Errorf("a member of another department opened the link form: %v", err)
	}
	es, _ = r.db.AuditTrail(ctx, k3)
	var refusals int
	for _, e := range es {
		if e.Action == "case.link_refused" {
			refusals++
		}
	}
	if refusals < 4 {
		t.Errorf("refused links audited: %d", refusals)
	}
	// HR links across departments.
	if _, err := r.svc.Submit(ctx, user("UHR"), link, mamori.Values{"link": {far}}); err != nil {
		t.Errorf("HR linking the office's report: %v", err)
	}
}

// The register's life: recorded after a refusal, checked at the front
// line (do not serve, only at the sites it covers), extended, reviewed,
// lifted; each step authorised and audited.
func TestRegisterLife(t *testing.T) {
	ctx := context.Background()
	r := newCustomerRig(t)
	k1 := r.fileCustomer(user("UME"), "山田太郎 090-1234-5678", mamori.RouteDepartment)
	k2 := r.fileCustomer(user("UOTHER"), "ヤマダタロウ ０９０ー１２３４ー５６７８", mamori.RouteDepartment)
	hr, sup := user("UHR"), user("USUP")
	add := mamori.Action{Kind: mamori.RegisterAdd, Subject: k2}

	// Not before a refusal of service.
	if _, m, err := r.svc.Open(ctx, hr, add); !errors.Is(err, mamori.ErrInvalid) || !strings.Contains(m.Text, k2) {
		t.Errorf("register before a refusal: %+v %v", m, err)
	}
	if _, err := r.svc.Submit(ctx, sup, mamori.Action{Kind: mamori.CardJudge, Subject: k2},
		mamori.Values{"validity": {"invalid"}, "means": {"unacceptable"}, "outcome": {"kasuhara"}, "actions": {"warn", "refuse"}}); err != nil {
		t.Fatal(err)
	}
	r.worker.Drain(ctx)
	// HR keeps the register: the supervisors' card does not offer it.
	if c := r.card("C0STORE", k2); hasChoice(c, mamori.RegisterAdd+":"+k2) {
		t.Errorf("the supervisors' card offers the register: %+v", c.Choices)
	}
	// HR, who may not read the store's channel, is asked in theirs: once,
	// and never told who the customer is.
	var offers []mamori.Message
	for _, m := range r.sent.to(mamori.TargetChannel, "C0HR") {
		if hasChoice(m, mamori.RegisterAdd+":"+k2) {
			offers = append(offers, m)
			if strings.Contains(messageText(m), "1234") || strings.Contains(messageText(m), "ヤマダ") {
				t.Errorf("the offer names the customer: %s", messageText(m))
			}
		}
	}
	if len(offers) != 1 {
		t.Errorf("offers to HR: %d, want 1", len(offers))
	}
	// Only HR by default; the supervisor when the configuration says so.
	for _, who := range []string{"USUP", "UOTHER", "UME", "USTRANGER"} {
		if form, m, err := r.svc.Open(ctx, user(who), add); !errors.Is(err, mamori.ErrForbidden) || form != nil || m.Text == "" {
			t.Errorf("%s opened the register form: %v %v", who, form, err)
		}
	}
	form, _, err := r.svc.Open(ctx, hr, add)
	if err != nil || form == nil {
		t.Fatalf("HR's register form: %v", err)
	}
	if ids := fieldOf(form, "identifiers"); len(ids.Value) != 1 || !strings.Contains(ids.Value[0], "ヤマダタロウ") {
		t.Errorf("identifiers not pre-filled: %+v", ids)
	}
	// (k1, about the same customer, is not judged yet: no ground — found
	// by a re-trial.)
	if cs := fieldOf(form, "cases"); len(cs.Value) != 1 || strings.Contains(cs.Value[0], k1) || !strings.Contains(cs.Value[0], k2) {
		t.Errorf("cases: %+v", cs)
	}
	if d := fieldOf(form, "departments"); len(d.Value) != 1 || d.Value[0] != "store" {
		t.Errorf("departments: %+v", d)
	}
	values := func(f *mamori.Form) mamori.Values {
		v := mamori.Values{}
		for _, fd := range f.Fields {
			if len(fd.Value) > 0 {
				v[fd.ID] = fd.Value
			}
		}
		return v
	}
	v := values(form)
	bad := func(field, value string) {
		t.Helper()
		w := mamori.Values{}
		for k, x := range v {
			w[k] = x
		}
		w[field] = []string{value}
		_, err := r.svc.Submit(ctx, hr, add, w)
		var rf *mamori.Refusal
		if !errors.As(err, &rf) || rf.Field != field {
			t.Errorf("%s=%q: %v", field, value, err)
		}
	}
	bad("until", "来年")
	bad("until", "2026-01-01")
	bad("review", "2030-01-01")
	bad("identifiers", "わからない")
	bad("departments", "nowhere")
	m, err := r.svc.Submit(ctx, hr, add, v)
	if err != nil || !strings.Contains(m.Text, "RF-2026-0001") {
		t.Fatalf("add: %+v %v", m, err)
	}
	r.worker.Drain(ctx)
	var e mamori.RegisterEntry
	entry := func() mamori.RegisterEntry {
		t.Helper()
		r.db.View(ctx, func(tx mamori.Tx) error {
			var err error
			e, err = tx.Entry("RF-2026-0001")
			return err
		})
		return e
	}
	if e := entry(); e.Status != mamori.RegisterActive || e.DecidedBy != hr.Key() || len(e.Departments) != 1 ||
		!e.Until.After(r.clock.Now().AddDate(0, 11, 0)) {
		t.Errorf("entry: %+v", e)
	}
	cards := r.sent.to(mamori.TargetChannel, "C0HR")
	if len(cards) == 0 || cards[len(cards)-1].Ref != "register:RF-2026-0001" || strings.Contains(messageText(cards[len(cards)-1]), "1234") {
		t.Errorf("HR's card: %+v", cards)
	}
	if _, m, err := r.svc.Open(ctx, hr, add); !errors.Is(err, mamori.ErrInvalid) || !strings.Contains(m.Text, "RF-2026-0001") {
		t.Errorf("registered twice: %+v %v", m, err)
	}

	// The front line: the store's people hear "do not serve"; the office's
	// do not (it covers the store); someone not in the directory may not check.
	check := func(who, typed string) []mamori.Message {
		t.Helper()
		before := len(r.sent.to(mamori.TargetUser, who))
		r.do(mamori.Input{Kind: mamori.InputText, User: user(who), Text: typed})
		return r.sent.to(mamori.TargetUser, who)[before:]
	}
	found := func(ms []mamori.Message) bool {
		return len(ms) > 0 && ms[0].Header == r.svc.Policy.T(mamori.JA, "check.found.header")
	}
	if ms := check("UOTHER", "確認 090 1234 5678"); !found(ms) || len(ms) < 2 || ms[1].Header != r.svc.Policy.T(mamori.JA, "onsite.header") {
		t.Errorf("the store's check: %+v", ms)
	} else {
		for _, m := range ms {
			if strings.Contains(messageText(m), k1) || strings.Contains(messageText(m), k2) || strings.Contains(messageText(m), "RF-") {
				t.Errorf("the answer names a case or an entry: %s", messageText(m))
			}
		}
	}
	if ms := check("UFAR", "確認：０９０１２３４５６７８"); found(ms) || len(ms) == 0 {
		t.Errorf("the office's check: %+v", ms)
	}
	if ms := check("USTRANGER", "確認 090-1234-5678"); found(ms) || len(ms) == 0 || ms[0].Text != r.svc.Policy.T(mamori.JA, "check.refused") {
		t.Errorf("a stranger's check: %+v", ms)
	}
	// From the menu: one question, then the answer.
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UME"), Step: "menu", Value: mamori.StartCheck})
	if q := r.last("UME"); q.Step != "check" {
		t.Errorf("the check's question: %+v", q)
	}
	if ms := check("UME", "やまだ たろう"); !found(ms) {
		t.Errorf("the check by name: %+v", ms)
	}
	es, _ := r.db.AuditTrail(ctx, "RF-2026-0001")
	checks := 0
	for _, e := range es {
		if e.Action == "register.checked" {
			checks++
			if strings.Contains(e.Detail, "1234") || strings.Contains(e.Detail, "やまだ") {
				t.Errorf("a check's audit entry holds what was typed: %+v", e)
			}
		}
	}
	if checks != 2 {
		t.Errorf("checks audited under the entry: %d, want 2", checks)
	}

	// Extend, review; only HR (the supervisor is refused, and audited).
	at := func(kind string) mamori.Action { return mamori.Action{Kind: kind, Subject: "RF-2026-0001"} }
	for _, kind := range []string{mamori.RegisterExtend, mamori.RegisterReview, mamori.RegisterLift, mamori.RegisterDetails} {
		if _, _, err := r.svc.Open(ctx, sup, at(kind)); !errors.Is(err, mamori.ErrForbidden) {
			t.Errorf("the supervisor opened %s: %v", kind, err)
		}
	}
	if _, err := r.svc.Submit(ctx, sup, at(mamori.RegisterLift), mamori.Values{}); !errors.Is(err, mamori.ErrForbidden) {
		t.Errorf("the supervisor lifted it: %v", err)
	}
	if _, m, err := r.svc.Open(ctx, hr, at(mamori.RegisterDetails)); err != nil || !strings.Contains(messageText(m), "ヤマダタロウ") {
		t.Errorf("HR's details: %+v %v", m, err)
	}
	form, _, err = r.svc.Open(ctx, hr, at(mamori.RegisterExtend))
	if err != nil {
		t.Fatal(err)
	}
	until := fieldOf(form, "until").Value[0]
	if _, err := r.svc.Submit(ctx, hr, at(mamori.RegisterExtend), values(form)); err != nil {
		t.Fatal(err)
	}
	if e := entry(); e.Until.Format("2006-01-02") <= r.clock.Now().AddDate(1, 6, 0).Format("2006-01-02") || len(e.History) != 2 {
		t.Errorf("extended to %s: %+v", until, e)
	}
	if _, err := r.svc.Submit(ctx, hr, at(mamori.RegisterReview), mamori.Values{"result": {"keep"}, "review": {"2027-09-01"}}); err != nil {
		t.Fatal(err)
	}
	if e := entry(); e.Review.Format("2006-01-02") != "2027-09-01" {
		t.Errorf("reviewed: %+v", e)
	}
	// Lifted: checks find nothing, the identifiers are gone.
	if _, err := r.svc.Submit(ctx, hr, at(mamori.RegisterLift), mamori.Values{"note": {"謝罪があった"}}); err != nil {
		t.Fatal(err)
	}
	if e := entry(); e.Status != mamori.RegisterLifted || e.Identifiers != "" {
		t.Errorf("lifted: %+v", e)
	}
	if ms := check("UOTHER", "確認 090-1234-5678"); found(ms) {
		t.Errorf("a lifted entry still refuses: %+v", ms)
	}
	if _, err := r.svc.Submit(ctx, hr, at(mamori.RegisterExtend), values(form)); !errors.Is(err, mamori.ErrInvalid) {
		t.Errorf("extending a lifted entry: %v", err)
	}
	es, _ = r.db.AuditTrail(ctx, "RF-2026-0001")
	var actions []string
	for _, e := range es {
		if e.Action != "register.checked" {
			actions = append(actions, e.Action)
		}
	}
	for _, want := range []string{"register.added", "register.viewed", "register.extended", "register.reviewed", "register.lifted",
		"register.extend_refused", "register.lift_refused", "register.show_refused"} {
		if !strings.Contains(strings.Join(actions, " "), want) {
			t.Errorf("%s not audited: %q", want, actions)
		}
	}
}

// A report judged カスハラ with a refusal of service: its card in the
// supervisors' channel does not offer the register, which only HR may
// use (HR is asked in its own channel); a report that went to HR has the
// button on its card there; with register.by department the
// supervisors' card has it, since they may use it.
func TestRegisterButtonOnlyWhereUsable(t *testing.T) {
	ctx := context.Background()
	judge := func(r *rig, k string) {
		t.Helper()
		if _, err := r.svc.Submit(ctx, user("UHR"), mamori.Action{Kind: mamori.CardJudge, Subject: k},
			mamori.Values{"validity": {"invalid"}, "means": {"unacceptable"}, "outcome": {"kasuhara"}, "actions": {"warn", "refuse"}}); err != nil {
			t.Fatal(err)
		}
		r.worker.Drain(ctx)
	}
	r := newCustomerRig(t)
	k := r.fileCustomer(user("UME"), "090-1111-2222", mamori.RouteDepartment)
	judge(r, k)
	add := mamori.RegisterAdd + ":" + k
	if c := r.card("C0STORE", k); hasChoice(c, add) || !hasChoice(c, mamori.CardReopen+":"+k) {
		t.Errorf("the supervisors' card: %+v", c.Choices)
	}
	offered := 0
	for _, m := range r.sent.to(mamori.TargetChannel, "C0HR") {
		if hasChoice(m, add) {
			offered++
		}
	}
	if offered != 1 {
		t.Errorf("HR was offered the register %d times, want 1", offered)
	}
	// The button HR used still works for HR.
	if form, _, err := r.svc.Open(ctx, user("UHR"), mamori.Action{Kind: mamori.RegisterAdd, Subject: k}); err != nil || form == nil {
		t.Errorf("HR's register form: %v", err)
	}

	toHR := r.fileCustomer(user("UOTHER"), "090-3333-4444", mamori.RouteHR)
	judge(r, toHR)
	if c := r.card("C0HR", toHR); !hasChoice(c, mamori.RegisterAdd+":"+toHR) {
		t.Errorf("the card in HR's channel has no register button: %+v", c.Choices)
	}

	r = newCustomerRig(t)
	r.svc.Register.ByDepartment = true
	k = r.fileCustomer(user("UME"), "090-5555-6666", mamori.RouteDepartment)
	judge(r, k)
	if c := r.card("C0STORE", k); !hasChoice(c, mamori.RegisterAdd+":"+k) {
		t.Errorf("with register.by department, the supervisors' card has no register button: %+v", c.Choices)
	}
}

// With register.by department, the supervisors of the report's
// department record and keep entries for their own department alone.
func TestRegisterByDepartment(t *testing.T) {
	ctx := context.Background()
	r := newCustomerRig(t)
	r.svc.Register.ByDepartment = true
	k := r.fileCustomer(user("UME"), "顧客番号 Z-5150", mamori.RouteDepartment)
	sup := user("USUP")
	if _, err := r.svc.Submit(ctx, sup, mamori.Action{Kind: mamori.CardJudge, Subject: k},
		mamori.Values{"validity": {"invalid"}, "means": {"unacceptable"}, "outcome": {"kasuhara"}, "actions": {"refuse"}}); err != nil {
		t.Fatal(err)
	}
	add := mamori.Action{Kind: mamori.RegisterAdd, Subject: k}
	form, _, err := r.svc.Open(ctx, sup, add)
	if err != nil {
		t.Fatal(err)
	}
	if d := fieldOf(form, "departments"); len(d.Options) != 1 || d.Options[0].Value != "store" {
		t.Errorf("the supervisor may choose: %+v", d.Options)
	}
	if _, _, err := r.svc.Open(ctx, user("USUP2"), add); !errors.Is(err, mamori.ErrForbidden) {
		t.Errorf("another department's supervisor: %v", err)
	}
	v := mamori.Values{"identifiers": {"Z-5150"}, "until": {"2027-06-30"}, "review": {"2027-01-15"}}
	if _, err := r.svc.Submit(ctx, sup, add, v); !errors.Is(err, mamori.ErrInvalid) {
		t.Errorf("a company-wide entry by a supervisor: %v", err)
	}
	v["departments"] = []string{"office"}
	if _, err := r.svc.Submit(ctx, sup, add, v); !errors.Is(err, mamori.ErrInvalid) {
		t.Errorf("an entry for another department: %v", err)
	}
	v["departments"] = []string{"store"}
	if _, err := r.svc.Submit(ctx, sup, add, v); err != nil {
		t.Fatal(err)
	}
	lift := mamori.Action{Kind: mamori.RegisterLift, Subject: "RF-2026-0001"}
	if _, err := r.svc.Submit(ctx, user("USUP2"), lift, mamori.Values{}); !errors.Is(err, mamori.ErrForbidden) {
		t.Errorf("another department's supervisor lifted it: %v", err)
	}
	if _, err := r.svc.Submit(ctx, sup, lift, mamori.Values{}); err != nil {
		t.Errorf("the store's supervisor lifting it: %v", err)
	}
	// The report's thread, told it was added, is told it was lifted.
	r.worker.Drain(ctx)
	want := strings.ReplaceAll(strings.Replace(r.svc.Policy.T(mamori.JA, "register.thread.lifted"), "%s", "<@USUP>", 1), "%s", "RF-2026-0001")
	found := false
	for _, m := range r.sent.to(mamori.TargetChannel, "C0STORE") {
		found = found || m.Text == want
	}
	if !found {
		t.Errorf("the report's thread was not told of the lifting: %q", want)
	}
}

// The daily pass: HR is reminded once of a review due and of an entry
// ending soon; an entry past its end expires, keeps no identifier and
// refuses no one.
func TestRegisterExpires(t *testing.T) {
	ctx := context.Background()
	r := newCustomerRig(t)
	k := r.fileCustomer(user("UME"), "090-5555-6666", mamori.RouteDepartment)
	if _, err := r.svc.Submit(ctx, user("UHR"), mamori.Action{Kind: mamori.CardJudge, Subject: k},
		mamori.Values{"validity": {"invalid"}, "means": {"unacceptable"}, "outcome": {"kasuhara"}, "actions": {"refuse"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Submit(ctx, user("UHR"), mamori.Action{Kind: mamori.RegisterAdd, Subject: k},
		mamori.Values{"identifiers": {"090-5555-6666"}, "until": {"2027-02-28"}, "review": {"2027-01-10"}}); err != nil {
		t.Fatal(err)
	}
	daily := func(at string) {
		t.Helper()
		d, _ := time.Parse("2006-01-02 15:04", at)
		r.clock.t = d.Add(-9 * time.Hour) // JST
		if err := r.svc.RunJob(ctx, mamori.Job{ID: 1, Key: "retention.daily:" + at, Kind: "retention.daily"}); err != nil {
			t.Fatal(err)
		}
		r.worker.Drain(ctx)
	}
	reminders := func(kind string) int {
		n := 0
		for _, m := range r.sent.to(mamori.TargetChannel, "C0HR") {
			if m.Header == strings.ReplaceAll(r.svc.Policy.T(mamori.JA, "register.remind."+kind+".header"), "%s", "RF-2026-0001") {
				n++
			}
		}
		return n
	}
	daily("2027-01-09 10:00")
	if reminders("review") != 0 {
		t.Error("reminded before the review date")
	}
	daily("2027-01-10 10:00")
	daily("2027-01-11 10:00")
	if reminders("review") != 1 {
		t.Errorf("review reminders: %d, want 1", reminders("review"))
	}
	daily("2027-02-15 10:00")
	daily("2027-02-16 10:00")
	if reminders("ending") != 1 {
		t.Errorf("ending reminders: %d, want 1", reminders("ending"))
	}
	daily("2027-02-28 23:00") // the last day: still in force
	var e mamori.RegisterEntry
	r.db.View(ctx, func(tx mamori.Tx) error { e, _ = tx.Entry("RF-2026-0001"); return nil })
	if e.Status != mamori.RegisterActive {
		t.Fatalf("ended on its last day: %+v", e)
	}
	daily("2027-03-01 10:00")
	daily("2027-03-02 10:00")
	r.db.View(ctx, func(tx mamori.Tx) error { e, _ = tx.Entry("RF-2026-0001"); return nil })
	if e.Status != mamori.RegisterExpired || e.Identifiers != "" || reminders("expired") != 1 {
		t.Errorf("after its end: %+v, %d notices", e, reminders("expired"))
	}
	r.db.View(ctx, func(tx mamori.Tx) error {
		if found, _ := tx.EntriesFor(flows.CustomerKeys("090-5555-6666")); len(found) != 0 {
			t.Errorf("an expired entry is still indexed: %+v", found)
		}
		return nil
	})
	es, _ := r.db.AuditTrail(ctx, "RF-2026-0001")
	var expired int
	for _, e := range es {
		if e.Action == "register.expired" && e.Actor == "system" {
			expired++
		}
	}
	if expired != 1 {
		t.Errorf("expiry audited %d times", expired)
	}
}

// The monthly summary counts repeat customers, refusals and the
// register; never who.
func TestCustomerStats(t *testing.T) {
	ctx := context.Background()
	r := newCustomerRig(t)
	r.fileCustomer(user("UME"), "090-7777-8888", mamori.RouteDepartment)
	k2 := r.fileCustomer(user("UOTHER"), "09077778888", mamori.RouteDepartment)
	r.fileCustomer(user("UME"), "別のお客様 0120-000-111", mamori.RouteDepartment)
	if _, err := r.svc.Submit(ctx, user("USUP"), mamori.Action{Kind: mamori.CardJudge, Subject: k2},
		mamori.Values{"validity": {"invalid"}, "means": {"unacceptable"}, "outcome": {"kasuhara"}, "actions": {"refuse"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Submit(ctx, user("UHR"), mamori.Action{Kind: mamori.RegisterAdd, Subject: k2},
		mamori.Values{"identifiers": {"090-7777-8888"}, "until": {"2027-06-30"}, "review": {"2027-01-15"}}); err != nil {
		t.Fatal(err)
	}
	now := r.clock.Now()
	sum, err := r.svc.Stats(ctx, now.AddDate(0, 0, -1), now.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if want := (flows.CustomerSummary{Repeat: 1, Refused: 1, Added: 1, Active: 1}); sum.Customers != want {
		t.Errorf("customers: %+v, want %+v", sum.Customers, want)
	}
	m, err := r.svc.StatsMessage(sum, mamori.JA)
	if err != nil {
		t.Fatal(err)
	}
	if s := messageText(m); !strings.Contains(s, r.svc.Policy.T(mamori.JA, "stats.register")) || strings.Contains(s, "7777") {
		t.Errorf("the summary: %s", s)
	}
}

// A check typed in a DM is told from other text.
func TestCheckWord(t *testing.T) {
	r := newCustomerRig(t)
	for _, tc := range []struct {
		typed string
		check bool
	}{
		{"確認 090-1234-5678", true},
		{"確認：山田太郎", true},
		{"確認　０９０１２３４５６７８", true},
		{"確認090-1234-5678", true},
		{"check 090-1234-5678", true},
		{"Check +81 90 1234 5678", true},
		{"確認しました", false},
		{"check C-7781", true},
		{"check no.4521", true},
		{"check on my report please", false},
		{"check Taro Yamada", true},
		{"check 山田太郎", true},
		{"check My Report Please Now", false},
		{"check KH-2026-0001 please", false},
		{"こんにちは", false},
	} {
		before := len(r.sent.to(mamori.TargetUser, "UOTHER"))
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UOTHER"), Text: tc.typed})
		got := r.sent.to(mamori.TargetUser, "UOTHER")[before:]
		checked := len(got) > 0 && (got[0].Header == r.svc.Policy.T(mamori.JA, "check.none.header") || got[0].Step == "check")
		if checked != tc.check {
			t.Errorf("%q: checked %v, want %v (%+v)", tc.typed, checked, tc.check, got)
		}
	}
}

// A customer found by name alone: the answer says someone else may have
// the name, and to check a number too; a number found says nothing of it.
func TestCheckByNameAlone(t *testing.T) {
	r := newCustomerRig(t)
	r.registered(user("UME"), "山田太郎 090-1234-5678")
	caution := r.svc.Policy.T(mamori.JA, "check.found.name_only")
	for typed, want := range map[string]bool{"確認 山田太郎": true, "確認 090-1234-5678": false} {
		before := len(r.sent.to(mamori.TargetUser, "UOTHER"))
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UOTHER"), Text: typed})
		got := r.sent.to(mamori.TargetUser, "UOTHER")[before:]
		if len(got) == 0 || got[0].Header != r.svc.Policy.T(mamori.JA, "check.found.header") {
			t.Fatalf("%s: %+v", typed, got)
		}
		if has := strings.Contains(got[0].Text, caution); has != want {
			t.Errorf("%s: the name-only caution %v, want %v", typed, has, want)
		}
	}
}
