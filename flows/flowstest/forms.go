package flowstest

import (
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

// Forms are every form the flows build, for a sample report and a sample
// consultation under policy p in language l: what the adapters' golden
// files render, so that they regenerate from the flows alone.
func Forms(p *mamori.Policy, l mamori.Lang) map[string]mamori.Form {
	at := time.Date(2026, 10, 14, 14, 30, 0, 0, time.UTC)
	org := &mamori.Org{Departments: []mamori.Department{{ID: "store", Name: mamori.Text{JA: "新宿店", EN: "Shinjuku branch"}}}}
	env := flows.Env{Policy: p, Org: org, Now: at, Location: time.UTC}
	var behaviours []string
	for _, b := range p.Behaviours {
		if len(behaviours) < 2 {
			behaviours = append(behaviours, b.ID)
		}
	}
	report := mamori.Case{Number: "KH-2026-0042", Kind: mamori.KindReport, Department: "store", Route: mamori.RouteDepartment,
		Status: mamori.StatusTaken, Urgency: mamori.UrgencyHigh, Suggestion: mamori.SuggestKasuhara, Crime: true,
		Behaviours: behaviours, Created: at,
		Answers: mamori.Answers{When: "2026-10-14", Duration: "under30", Repeat: "before", Evidence: "recording", Talk: "yes", Fault: "no"}}
	consult := mamori.Case{Number: "SD-2026-0007", Kind: mamori.KindConsult, Route: mamori.RouteHR, Status: mamori.StatusTaken, Created: at}
	forms := map[string]mamori.Form{}
	for _, kind := range []string{mamori.CardJudge, mamori.CardReopen, mamori.CardAsk, mamori.CardWitness} {
		forms[kind] = flows.FormFor(env, l, mamori.Action{Kind: kind, Subject: report.Number}, report)
	}
	for _, kind := range []string{mamori.ConsultReply, mamori.ConsultClose} {
		forms[kind] = flows.FormFor(env, l, mamori.Action{Kind: kind, Subject: consult.Number}, consult)
	}
	forms[mamori.CareNoteAction] = flows.CareNoteForm(p, l, mamori.Action{Kind: mamori.CareNoteAction, Subject: "7"}, report.Number)
	return forms
}
