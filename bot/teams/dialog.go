package teams

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/mamori-oss/mamori"
)

// This file is the supervisor's and HR's forms on a case or care card:
// Teams dialogs (task modules) holding an Adaptive Card, opened by
// task/fetch and submitted by task/submit. They are private to the person
// who opened them, as Slack's modals are.

// Forms, in the action data's "f".
const (
	formJudge  = "judge"
	formReopen = "reopen"
	formAsk    = "ask"
	formCare   = "care_note"
)

// Input ids of the forms.
const (
	inFacts    = "judge.facts"
	inValidity = "judge.validity"
	inMeans    = "judge.means"
	inFault    = "judge.fault"
	inOutcome  = "judge.outcome"
	inActions  = "judge.actions"
	inNote     = "judge.note"
	inText     = "text"
	// maxInput is the longest text a form input takes.
	maxInput = 3000
)

// The values the judge form offers; the flows check them again.
var (
	validityValues = []string{"valid", "partly", "invalid", "unclear"}
	meansValues    = []string{"acceptable", "unacceptable"}
	faultValues    = []string{"yes", "no", "unsure"}
	outcomeValues  = []string{mamori.OutcomeKasuhara, mamori.OutcomeLegitimate, mamori.OutcomeMoreInfo, mamori.OutcomeMedical}
)

// JudgeForm is what the judge form is built from.
type JudgeForm struct {
	Number string
	Lang   mamori.Lang
	// Suggested is the flows' pre-filled judgement (or, after a refused
	// submission, what was submitted).
	Suggested mamori.Decision
	// About is what the card says of the case: the behaviours reported,
	// the policy's suggestion and, for a possible crime, the warning.
	About []mamori.Field
	// Behaviours lists the behaviours reported, for criterion ②.
	Behaviours string
	// Error, when set, says why the last submission was refused.
	Error string
}

// Dialog is a task module: its title and card.
type Dialog struct {
	Title string `json:"title"`
	Card  card   `json:"card"`
}

// JudgeDialog renders the judgement form: facts confirmed, ① the demand's
// validity, ② the means, our fault, the outcome, the response actions and
// a note, pre-filled with f.Suggested. The medical outcome is offered only
// when the policy has the "medical" exception.
func JudgeDialog(p *mamori.Policy, f JudgeForm) Dialog {
	l := f.Lang
	t := func(key string) string { return p.T(l, key) }
	d := f.Suggested
	var body []any
	body = append(body, errorBlock(f.Error)...)
	body = append(body, card{"type": "TextBlock", "text": md(sprintf(t("judge.modal.intro"), f.Number)), "wrap": true})
	about := f.About
	if len(about) == 0 && d.Outcome != "" {
		about = []mamori.Field{{Label: t("card.suggestion"), Value: t("decision." + d.Outcome)}}
	}
	body = append(body, fieldElements(about, maxInput, md)...)

	body = append(body, textInput(inFacts, t("judge.facts"), d.Facts, false))

	var examples []string
	for _, e := range p.InvalidDemand {
		examples = append(examples, e.In(l))
	}
	body = append(body, radio(inValidity, t("judge.validity"), validityValues, d.Validity, true, func(v string) string { return t("judge.validity." + v) }))
	if len(examples) > 0 {
		body = append(body, hint(sprintf(t("judge.validity.examples"), strings.Join(examples, " / "))))
	}
	body = append(body, radio(inMeans, t("judge.means"), meansValues, d.Means, true, func(v string) string { return t("judge.means." + v) }))
	if f.Behaviours != "" {
		body = append(body, hint(sprintf(t("judge.means.reported"), f.Behaviours)))
	}
	body = append(body, radio(inFault, t("s.fault"), faultValues, d.Fault, false, func(v string) string { return t("a.fault." + v) }))

	outcomes := outcomeValues
	medical, hasMedical := medicalException(p)
	if !hasMedical {
		outcomes = outcomes[:3]
	}
	body = append(body, radio(inOutcome, t("judge.outcome"), outcomes, d.Outcome, true, func(v string) string { return t("decision." + v) }))
	if hasMedical {
		body = append(body, hint(t("decision.medical")+": "+medical.Guidance.In(l)))
	}
	if len(p.Actions) > 0 {
		var choices []any
		for _, a := range p.Actions {
			choices = append(choices, card{"title": a.Label.In(l), "value": a.ID})
		}
		in := card{"type": "Input.ChoiceSet", "id": inActions, "label": t("judge.actions"), "isMultiSelect": true,
			"style": "expanded", "wrap": true, "choices": choices}
		if len(d.Actions) > 0 {
			in["value"] = strings.Join(d.Actions, ",")
		}
		body = append(body, in)
	}
	body = append(body, textInput(inNote, t("judge.note"), d.Note, false))
	body = append(body, hint(t("judge.modal.note")))
	return Dialog{Title: truncate(t("judge.modal.title"), 60), Card: formCard(body, t("judge.modal.submit"),
		actionData{Mamori: 1, Kind: kindForm, Form: formJudge, Case: f.Number})}
}

// TextDialog asks for one text: why a case is reopened (formReopen), the
// question for the reporter (formAsk), the contact made on a care task
// (formCare). Its texts are <prefix>.title, .label and .intro.
func TextDialog(p *mamori.Policy, l mamori.Lang, form, id, errText, typed string) Dialog {
	prefix, submit := "judge.reopen", "card.reopen"
	switch form {
	case formAsk:
		prefix, submit = "ask", "card.ask"
	case formCare:
		prefix, submit = "caretask.modal", "caretask.modal.submit"
	}
	t := func(key string) string { return p.T(l, key) }
	var body []any
	body = append(body, errorBlock(errText)...)
	body = append(body, card{"type": "TextBlock", "text": md(sprintf(t(prefix+".intro"), id)), "wrap": true})
	in := textInput(inText, t(prefix+".label"), typed, true)
	body = append(body, in)
	return Dialog{Title: truncate(t(prefix+".title"), 60), Card: formCard(body, t(submit),
		actionData{Mamori: 1, Kind: kindForm, Form: form, Case: id})}
}

// DetailsDialog shows a case's confidential detail.
func DetailsDialog(m mamori.Message, names Names) Dialog {
	title := m.Header
	if title == "" {
		title = "Mamori"
	}
	return Dialog{Title: truncate(title, 60), Card: Card(m, names)}
}

func formCard(body []any, submit string, d actionData) card {
	return card{"type": "AdaptiveCard", "$schema": cardSchema, "version": cardVersion, "body": body,
		"actions": []any{card{"type": "Action.Submit", "title": cutTitle(submit), "style": "positive", "data": d}}}
}

func errorBlock(text string) []any {
	if text == "" {
		return nil
	}
	return []any{card{"type": "TextBlock", "text": md(text), "wrap": true, "color": "Attention", "weight": "Bolder"}}
}

func hint(text string) card {
	return card{"type": "TextBlock", "text": md(text), "wrap": true, "isSubtle": true, "size": "Small", "spacing": "None"}
}

func textInput(id, label, value string, required bool) card {
	in := card{"type": "Input.Text", "id": id, "label": label, "isMultiline": true, "maxLength": maxInput}
	if value != "" {
		in["value"] = truncate(value, maxInput)
	}
	if required {
		in["isRequired"] = true
		in["errorMessage"] = label
	}
	return in
}

func radio(id, label string, values []string, selected string, required bool, name func(string) string) card {
	var choices []any
	for _, v := range values {
		choices = append(choices, card{"title": name(v), "value": v})
	}
	in := card{"type": "Input.ChoiceSet", "id": id, "label": label, "style": "expanded", "wrap": true, "choices": choices}
	if selected != "" && slices.Contains(values, selected) {
		in["value"] = selected
	}
	if required {
		in["isRequired"] = true
		in["errorMessage"] = label
	}
	return in
}

func medicalException(p *mamori.Policy) (mamori.Exception, bool) {
	for _, e := range p.Exceptions {
		if e.ID == mamori.OutcomeMedical {
			return e, true
		}
	}
	return mamori.Exception{}, false
}

// sprintf fills a text's single %s; a text without one is kept whole.
func sprintf(format, value string) string {
	if !strings.Contains(format, "%s") {
		return format
	}
	return strings.Replace(format, "%s", value, 1)
}

// formValues are a submitted form's inputs: each input's value as a
// string (a multi-select's values joined with commas).
type formValues map[string]any

func (v formValues) text(id string) string {
	s, _ := v[id].(string)
	return strings.TrimSpace(s)
}

func (v formValues) many(id string) []string {
	var out []string
	for _, s := range strings.Split(v.text(id), ",") {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// parseDecision reads the judge form. What is missing or not among the
// offered values stays empty, for the flows to refuse.
func parseDecision(v formValues) mamori.Decision {
	pick := func(id string, allowed []string) string {
		if s := v.text(id); slices.Contains(allowed, s) {
			return s
		}
		return ""
	}
	return mamori.Decision{
		Facts:    v.text(inFacts),
		Validity: pick(inValidity, validityValues),
		Means:    pick(inMeans, meansValues),
		Fault:    pick(inFault, faultValues),
		Outcome:  pick(inOutcome, outcomeValues),
		Actions:  v.many(inActions),
		Note:     v.text(inNote),
	}
}

// tooLong says which input is over maxInput, if any.
func tooLong(v formValues) error {
	for _, id := range []string{inFacts, inNote, inText} {
		if utf8.RuneCountInString(v.text(id)) > maxInput {
			return fmt.Errorf("%s: over %d characters", id, maxInput)
		}
	}
	return nil
}
