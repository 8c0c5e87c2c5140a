package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack/slacktest"
	"github.com/mamori-oss/mamori/bot/teams/teamstest"
)

// Repeat customers and the refusal-of-service register (issue 16)
// through `mamori serve`: reports about one customer, whose identifiers
// are typed in different ways, are linked on the last card; it is judged カスハラ with a refusal; HR records the customer from
// the card; someone at the store's counter checks the customer and hears
// "do not serve", someone in another department does not, a stranger may
// not check. No identifier reaches a channel, the log, or the database
// file in the clear.

// The three ways the same customer is typed.
var sameCustomer = []string{
	"090-1234-5678",
	"山田太郎様 ０９０１２３４５６７８",
	"携帯 ０９０ー１２３４ー５６７８",
}

// customerSecrets are what must never be found in the clear.
var customerSecrets = []string{"1234-5678", "12345678", "１２３４", "山田太郎"}

const ito = "U0ITO" // a second member of the store

// regexpRF finds a register entry's number.
var regexpRF = regexp.MustCompile(`RF-\d{4}-\d{4}`)

// stepOfCard returns the step a Teams card asks, from its buttons; "" for
// a card that asks nothing.
func stepOfCard(card map[string]any) string {
	step := ""
	walkCard(card, func(x map[string]any) {
		if d, ok := x["data"].(map[string]any); ok && step == "" && (d["k"] == "choice" || d["k"] == "control" || d["k"] == "submit") {
			step, _ = d["s"].(string)
		}
	})
	return step
}

// slackFile files a report from user through DMs, naming the customer by
// ids, and returns its number.
func (r *slackRig) slackFile(user, ids string) string {
	r.t.Helper()
	dm := "D" + user
	seen := len(r.posts(dm))
	click := func(b blocks, value string) { r.t.Helper(); r.interact(user, dm, b, r.button(b, value), nil) }
	r.command(user, "")
	for range 40 {
		p, i := r.waitPost(dm, seen, "a question", func(p posted) bool { return p.blocks.askedStep() != "" })
		seen = i + 1
		step := p.blocks.askedStep()
		switch step {
		case "menu":
			click(p.blocks, mamori.StartReport)
		case "safety":
			click(p.blocks, "safe")
		case "for_whom":
			click(p.blocks, "self")
		case "behaviours":
			submit, state := p.blocks.ticked(r.t, r.next("1700000200."), p.blocks.options()[1])
			r.interact(user, dm, p.blocks, submit, state)
		case "talk":
			click(p.blocks, "no")
		case "route":
			click(p.blocks, mamori.RouteDepartment)
		case "customer_id":
			r.shown(user)
			r.say(user, ids)
		case "summary":
			click(p.blocks, "submit")
			receipt, _ := r.waitPost(dm, seen, "a case number", func(p posted) bool { return caseNumber.MatchString(p.text) })
			return caseNumber.FindString(receipt.text)
		default:
			if values := p.blocks.values(); len(values) == 0 || values[0] == "nav:skip" || values[0] == "nav:keep" {
				r.shown(user)
				r.say(user, typed(step))
			} else {
				click(p.blocks, values[0])
			}
		}
	}
	r.t.Fatal("no summary after 40 questions")
	return ""
}

func TestServeRepeatCustomerSlack(t *testing.T) {
	t.Parallel()
	config := strings.Replace(slackConfig, "members: [U0TANAKA]", "members: [U0TANAKA, "+ito+"]", 1)
	r := startServeWith(t, config,
		slacktest.User{ID: ito, Name: "ito", RealName: "伊藤 次郎", Email: "ito@example.co.jp", Locale: "ja-JP"},
		slacktest.User{ID: "U0STRANGER", Name: "guest", RealName: "ゲスト", Email: "guest@partner.example", Locale: "ja-JP"})
	policy := builtinPolicy(t)
	ja := func(key string, a ...any) string { return fmt.Sprintf(policy.T(mamori.JA, key), a...) }

	// Two reports here (Slack paces a DM's messages: each takes seconds);
	// the Teams test below and the flows' tests file all three ways.
	numbers := []string{r.slackFile(reporter, sameCustomer[0]), r.slackFile(ito, sameCustomer[2])}
	third := numbers[1]
	card, _ := r.waitPost("C0STORE", 0, third, func(p posted) bool { return strings.Contains(p.text, third) })
	text := strings.Join(card.blocks.texts(), "\n")
	if !strings.Contains(text, ja("card.repeat")) || !strings.Contains(text, ja("card.repeat.text", 1)) || !strings.Contains(text, numbers[0]) {
		t.Fatalf("the second card does not name the earlier report:\n%s", text)
	}
	// The supervisor judges it: カスハラ, refuse service.
	form, view := r.form(supervisor, "C0STORE", card.blocks, mamori.CardJudge+":"+third)
	if !strings.Contains(view, numbers[0]) {
		t.Errorf("the judge modal does not show the earlier reports:\n%s", view)
	}
	fill(t, form, "validity", []string{"invalid"}, "means", []string{"unacceptable"}, "outcome", []string{mamori.OutcomeKasuhara},
		"actions", []string{"warn", "refuse"})
	if ack := r.submit(form.Submission(supervisor)); ack["response_action"] != "clear" {
		t.Fatalf("the judgement was answered %v", ack)
	}
	judged := r.updated(card, mamori.CardReopen+":"+third)

	// HR keeps the register: the supervisors' card does not offer it, HR
	// is asked in its channel. A supervisor's click on that offer (forged:
	// they do not read HR's channel) is refused; HR records the customer,
	// the form filled in from the report.
	if strings.Contains(strings.Join(judged.texts(), "\n"), ja("register.button")) || judged.buttonValue(mamori.RegisterAdd) != "" {
		t.Errorf("the supervisors' card offers the register:\n%s", strings.Join(judged.texts(), "\n"))
	}
	offer, _ := r.waitPost("C0HR", 0, "the register offer", func(p posted) bool { return strings.Contains(p.text, mamori.RegisterAdd+":"+third) })
	whispers := len(r.api.Calls("chat.postEphemeral"))
	r.interact(supervisor, "C0HR", offer.blocks, r.button(offer.blocks, mamori.RegisterAdd+":"+third), nil)
	r.whisperSays(whispers+1, supervisor, "C0HR", ja("register.refused"))
	form, view = r.form("U0HR", "C0HR", offer.blocks, mamori.RegisterAdd+":"+third)
	if !strings.Contains(view, "０９０ー１２３４") || !strings.Contains(view, third) {
		t.Errorf("the register form is not filled in from the report:\n%s", view)
	}
	if ack := r.submit(form.Submission("U0HR")); ack["response_action"] != "clear" {
		t.Fatalf("the register entry was answered %v", ack)
	}
	entry, _ := r.waitPost("C0HR", 0, "the register entry", func(p posted) bool { return strings.Contains(p.text, "RF-") })
	number := regexpRF.FindString(entry.text)

	// The front line: the store hears "do not serve" with the on-site
	// steps, and no case or entry; another department, nothing; a
	// stranger may not check.
	check := func(user, typed string) string {
		t.Helper()
		from := len(r.posts("D" + user))
		r.say(user, typed)
		p, _ := r.waitPost("D"+user, from, "the check's answer", func(p posted) bool { return strings.Contains(p.text, "check") || len(p.blocks) > 0 })
		r.delivered(user)
		var all []string
		for _, q := range r.posts("D" + user)[from:] {
			all = append(all, strings.Join(q.blocks.texts(), "\n"), q.text)
		}
		_ = p
		return strings.Join(all, "\n")
	}
	// (Not the reporter of the judged report: their DM hears its outcome.)
	got := check(reporter, "確認 090 1234 5678")
	if !strings.Contains(got, ja("check.found.header")) || !strings.Contains(got, ja("onsite.header")) {
		t.Errorf("the store's check:\n%s", got)
	}
	for _, n := range append(numbers, number) {
		if strings.Contains(got, n) {
			t.Errorf("the check's answer names %s:\n%s", n, got)
		}
	}
	if got := check(outsider, "確認 09012345678"); strings.Contains(got, ja("check.found.header")) || !strings.Contains(got, ja("check.none.header")) {
		t.Errorf("the other department's check:\n%s", got)
	}
	if got := check("U0STRANGER", "確認 090-1234-5678"); !strings.Contains(got, ja("check.refused")) {
		t.Errorf("a stranger's check:\n%s", got)
	}
	// The slash command checks too.
	from := len(r.posts("D" + reporter))
	r.command(reporter, "確認 ０９０－１２３４－５６７８")
	r.waitPost("D"+reporter, from, "the slash command's check", func(p posted) bool { return strings.Contains(p.text, ja("check.found.header")) })

	// Every check audited, and the entry; never what was typed.
	trail := r.audited(number)
	if got := auditDetails(trail, "register.checked"); len(got) != 2 {
		t.Errorf("checks audited under %s: %q", number, got)
	}
	if got := auditDetails(trail, "register.added"); len(got) != 1 || !strings.Contains(got[0], third) {
		t.Errorf("the entry audited: %q", got)
	}

	// Nothing in the clear: channels, the log, the database files.
	for _, ch := range []string{"C0STORE", "C0HR"} {
		for _, p := range r.posts(ch) {
			for _, s := range customerSecrets {
				if strings.Contains(p.text, s) {
					t.Errorf("a post to %s shows %q", ch, s)
				}
			}
		}
	}
	for _, s := range customerSecrets {
		if strings.Contains(r.logs.String(), s) {
			t.Errorf("the log holds %q", s)
		}
	}
	waitDrained(t, r.env)
	checkFileClean(t, r.env["MAMORI_DB"])

	// The register exported for the customer systems, recorded in the trail.
	csv := MustRun(t, r.env, "", "register", "export", "-by", "加藤")
	if !strings.Contains(csv, number) || !strings.Contains(csv, "t:09012345678") {
		t.Errorf("the export:\n%s", csv)
	}
	if got := auditDetails(r.audited("register"), "register.exported"); len(got) != 1 {
		t.Errorf("the export audited: %q", got)
	}
}

// checkFileClean wants no customer identifier in the SQLite file at path
// or its WAL.
func checkFileClean(t *testing.T, path string) {
	t.Helper()
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			continue
		}
		for _, s := range customerSecrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q in the clear", path+suffix, s)
			}
		}
	}
}

// TestServeRepeatCustomerTeams: the same through Teams: three reports
// linked on the third card, judged with a refusal in a dialog, recorded
// by HR in a dialog, and a front-line check typed in the personal chat.
func TestServeRepeatCustomerTeams(t *testing.T) {
	t.Parallel()
	tIto := teamstest.Member{ID: "29:ito", AadObjectID: "aad-ito", Name: "伊藤 次郎", Email: "ito@example.co.jp", Locale: "ja-JP", Installed: true}
	fake := teamstest.New(t, teamstest.Options{AppID: teamsAppID, Password: "test-client-secret"})
	for _, m := range []teamstest.Member{tTanaka, tSato, tYamada, tHR, tIto} {
		fake.AddMember(m)
	}
	env := teamsEnv(t, fake)
	cfg, err := os.ReadFile(env["MAMORI_CONFIG"])
	if err != nil {
		t.Fatal(err)
	}
	cfg = bytes.Replace(cfg, []byte("members: [tanaka@example.co.jp]"), []byte("members: [tanaka@example.co.jp, ito@example.co.jp]"), 1)
	if err := os.WriteFile(env["MAMORI_CONFIG"], cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	r := startTeams(t, fake, env)
	policy := builtinPolicy(t)
	ja := func(key string, a ...any) string { return fmt.Sprintf(policy.T(mamori.JA, key), a...) }
	r.send(fake.Added(tHR, storeConv))
	r.send(fake.Added(tHR, hrConv))

	file := func(m teamstest.Member, ids string) string {
		t.Helper()
		chat := teamstest.Personal(m)
		seen := len(fake.Activities(r.dm(m)))
		r.send(fake.Message(m, "報告"))
		for range 40 {
			a, i := fake.Wait(t, r.dm(m), seen, "a question", func(a teamstest.Activity) bool { return a.Method == "POST" && stepOfCard(a.Card()) != "" })
			seen = i + 1
			card := a.Card()
			step := stepOfCard(card)
			waitDelivered(t, env, mamori.PlatformTeams, m.AadObjectID)
			click := func(value string) { t.Helper(); r.click(m, chat, card, value, nil) }
			switch step {
			case "safety":
				click("safe")
			case "for_whom":
				click("self")
			case "behaviours":
				submit, _ := find(card, "done")
				if submit == nil {
					submit = firstSubmit(card)
				}
				r.send(fake.Execute(m, chat, submit, map[string]any{"mamori.multi": choiceValues(card)[1]}))
			case "talk":
				click("no")
			case "route":
				click(mamori.RouteDepartment)
			case "customer_id":
				r.send(fake.Message(m, ids))
			case "summary":
				click("submit")
				receipt, _ := fake.Wait(t, r.dm(m), seen, "a case number", func(a teamstest.Activity) bool { return caseNumber.MatchString(a.JSON()) })
				return caseNumber.FindString(receipt.JSON())
			default:
				if vs := choiceValuesOf(card, "choice"); len(vs) > 0 && vs[0] != "nav:skip" && vs[0] != "nav:keep" {
					click(vs[0])
				} else {
					r.send(fake.Message(m, "秘密の回答・"+step))
				}
			}
		}
		t.Fatal("no summary after 40 questions")
		return ""
	}
	var numbers []string
	for i, ids := range sameCustomer {
		numbers = append(numbers, file([]teamstest.Member{tTanaka, tIto, tTanaka}[i], ids))
	}
	third := numbers[2]
	card, _ := fake.Wait(t, storeConv.ID, 0, third, func(a teamstest.Activity) bool { return a.Method == "POST" && strings.Contains(a.JSON(), third) })
	if got := texts(card.Card()); !strings.Contains(got, ja("card.repeat.text", 2)) || !strings.Contains(got, numbers[0]) || !strings.Contains(got, numbers[1]) {
		t.Fatalf("the third card:\n%s", got)
	}
	kind, form, _ := taskOf(t, r.dialog(tSato, storeConv, card.Card(), mamori.CardJudge+":"+third))
	if kind != "continue" {
		t.Fatal("no judge dialog")
	}
	if kind, _, msg := taskOf(t, r.submit(tSato, storeConv, form, map[string]any{"validity": "invalid", "means": "unacceptable",
		"outcome": mamori.OutcomeKasuhara, "m.actions": "warn,refuse"})); kind != "message" || !strings.Contains(msg, ja("judge.done.judge", third)) {
		t.Fatalf("the judgement was answered %s %q", kind, msg)
	}
	judged, _ := fake.Wait(t, storeConv.ID, 0, "the card judged", func(a teamstest.Activity) bool {
		return a.Method == "PUT" && a.ID == card.ID && strings.Contains(a.JSON(), mamori.CardReopen+":"+third)
	})
	// HR keeps the register: asked in its channel, not on the card.
	if strings.Contains(judged.JSON(), mamori.RegisterAdd+":") {
		t.Errorf("the supervisors' card offers the register:\n%s", texts(judged.Card()))
	}
	offer, _ := fake.Wait(t, hrConv.ID, 0, "the register offer", func(a teamstest.Activity) bool {
		return strings.Contains(a.JSON(), mamori.RegisterAdd+":"+third)
	})
	if kind, _, msg := taskOf(t, r.dialog(tSato, hrConv, offer.Card(), mamori.RegisterAdd+":"+third)); kind != "message" || !strings.Contains(msg, ja("register.refused")) {
		t.Errorf("the supervisor's register: %s %q", kind, msg)
	}
	kind, form, _ = taskOf(t, r.dialog(tHR, hrConv, offer.Card(), mamori.RegisterAdd+":"+third))
	if kind != "continue" {
		t.Fatal("no register dialog for HR")
	}
	inputs := map[string]any{}
	for id, in := range formInputs(form) {
		if v, ok := in["value"]; ok && v != nil {
			inputs[id] = v
		}
	}
	if kind, _, msg := taskOf(t, r.submit(tHR, storeConv, form, inputs)); kind != "message" || !strings.Contains(msg, "RF-") {
		t.Fatalf("the register entry was answered %s %q (inputs %v)", kind, msg, inputs)
	}
	fake.Wait(t, hrConv.ID, 0, "the register entry", func(a teamstest.Activity) bool { return strings.Contains(a.JSON(), "RF-") })

	check := func(m teamstest.Member, typed string) string {
		t.Helper()
		from := len(fake.Activities(r.dm(m)))
		r.send(fake.Message(m, typed))
		a, _ := fake.Wait(t, r.dm(m), from, "the check's answer", func(a teamstest.Activity) bool { return a.Method == "POST" })
		waitDelivered(t, env, mamori.PlatformTeams, m.AadObjectID)
		var all []string
		for _, b := range fake.Activities(r.dm(m))[from:] {
			all = append(all, texts(b.Card()), b.JSON())
		}
		_ = a
		return strings.Join(all, "\n")
	}
	if got := check(tIto, "確認 +81 90-1234-5678"); !strings.Contains(got, ja("check.found.header")) || strings.Contains(got, third) {
		t.Errorf("the store's check:\n%s", got)
	}
	if got := check(tYamada, "check 09012345678"); strings.Contains(got, ja("check.found.header")) {
		t.Errorf("the other department's check:\n%s", got)
	}
	for _, conv := range []string{storeConv.ID, hrConv.ID} {
		for _, a := range fake.Activities(conv) {
			for _, s := range customerSecrets {
				if strings.Contains(a.JSON(), s) {
					t.Errorf("a post to %s shows %q", conv, s)
				}
			}
		}
	}
	waitDrained(t, env)
	checkFileClean(t, env["MAMORI_DB"])
}
