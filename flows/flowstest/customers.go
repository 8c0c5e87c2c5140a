package flowstest

import (
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

// Customers are the messages of repeat customers and the register (issue
// 16) under policy p in language l, for the adapters' golden files: a
// report's card with the earlier reports about the same customer (judged
// with a refusal of service: in the supervisors' channel without the
// register's button, in HR's with it), a
// register entry's card in the HR channel, and the front-line check's
// answers (on the register: do not serve; not on it).
func Customers(p *mamori.Policy, l mamori.Lang) map[string]mamori.Message {
	at := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	tokyo := time.FixedZone("JST", 9*3600)
	org := &mamori.Org{HRChannel: "C0HR", Departments: []mamori.Department{{ID: "store",
		Name: mamori.Text{JA: "店舗運営部", EN: "Store operations"}, SupervisorChannel: "C0STORE", Supervisors: []string{"U0SATO"}}}}
	env := flows.Env{Policy: p, Org: org, Now: at}
	var behaviours []string
	for _, b := range p.Behaviours {
		if len(behaviours) < 2 {
			behaviours = append(behaviours, b.ID)
		}
	}
	k := mamori.Case{Number: "KH-2026-0042", Kind: mamori.KindReport, Reporter: mamori.User{Platform: mamori.PlatformSlack, ID: "U0TANAKA"},
		Department: "store", Route: mamori.RouteDepartment, Channel: "C0STORE", Status: mamori.StatusNew,
		Urgency: mamori.UrgencyHigh, Suggestion: mamori.SuggestKasuhara, Behaviours: behaviours, Created: at,
		Answers: mamori.Answers{Channel: "in_person", Repeat: "before", CustomerIDs: "090-1234-5678"}}
	earlier := []flows.Earlier{
		{Number: "KH-2026-0007", Created: at.AddDate(0, -3, 0), Status: mamori.StatusJudged, Outcome: mamori.OutcomeKasuhara, Actions: []string{"warn"}},
		{Number: "KH-2026-0031", Created: at.AddDate(0, 0, -12), Status: mamori.StatusTaken},
	}
	judged := k
	judged.Status, judged.Assignee = mamori.StatusJudged, "slack:U0SATO"
	judged.Decision = &mamori.Decision{Validity: "invalid", Means: "unacceptable", Outcome: mamori.OutcomeKasuhara,
		Actions: []string{"warn", "refuse"}, By: "slack:U0SATO", At: at}
	e := mamori.RegisterEntry{Number: "RF-2026-0003", Status: mamori.RegisterActive, Departments: []string{"store"},
		From: at, Until: time.Date(2027, 11, 21, 0, 0, 0, 0, tokyo), Review: time.Date(2027, 5, 20, 0, 0, 0, 0, tokyo),
		Identifiers: "090-1234-5678", Cases: []string{"KH-2026-0007", "KH-2026-0031", "KH-2026-0042"}, DecidedBy: "slack:U0HR",
		Created: at, Updated: at}
	// Routed to HR, the card is in HR's channel: HR keeps the register.
	judgedHR := judged
	judgedHR.Route, judgedHR.Channel = mamori.RouteHR, org.HRChannel
	lifted := e
	lifted.Status, lifted.Identifiers = mamori.RegisterLifted, ""
	return map[string]mamori.Message{
		"case_card_repeat":     flows.CardWith(env, k, earlier, l, tokyo, false),
		"case_card_refused":    flows.CardWith(env, judged, earlier, l, tokyo, false),
		"case_card_refused_hr": flows.CardWith(env, judgedHR, earlier, l, tokyo, true),
		"register_entry":       flows.EntryCard(env, e, l, tokyo),
		"register_lifted":      flows.EntryCard(env, lifted, l, tokyo),
		"check_found":          flows.CheckAnswer(env, l, true)[0],
		"check_none":           flows.CheckAnswer(env, l, false)[0],
	}
}

// CustomerForms are the register's forms, for the adapters' golden
// files: recording a customer, extending, reviewing and lifting an entry.
func CustomerForms(p *mamori.Policy, l mamori.Lang) map[string]mamori.Form {
	at := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	org := &mamori.Org{Departments: []mamori.Department{{ID: "store", Name: mamori.Text{JA: "店舗運営部", EN: "Store operations"}},
		{ID: "office", Name: mamori.Text{JA: "本社", EN: "Head office"}}}}
	env := flows.Env{Policy: p, Org: org, Now: at}
	k := mamori.Case{Number: "KH-2026-0042", Kind: mamori.KindReport, Department: "store", Route: mamori.RouteDepartment,
		Status: mamori.StatusJudged, Created: at, Answers: mamori.Answers{CustomerIDs: "090-1234-5678"}}
	e := mamori.RegisterEntry{Number: "RF-2026-0003", Status: mamori.RegisterActive, Departments: []string{"store"}}
	forms := map[string]mamori.Form{
		mamori.RegisterAdd: flows.RegisterForm(env, l, mamori.Action{Kind: mamori.RegisterAdd, Subject: k.Number}, k, org.Departments,
			"2027-11-20", "2027-05-20", []string{"KH-2026-0007", k.Number}),
	}
	for _, kind := range []string{mamori.RegisterExtend, mamori.RegisterReview, mamori.RegisterLift} {
		forms[kind] = flows.EntryForm(env, l, mamori.Action{Kind: kind, Subject: e.Number}, e, "2028-11-20", "2028-05-20")
	}
	return forms
}
