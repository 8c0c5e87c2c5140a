package teams

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/mamori-oss/mamori"
)

// This file answers the buttons: Action.Execute (an adaptiveCard/action
// invoke, answered with a card or a message for the clicker alone),
// its Action.Submit fallback, and the dialogs of the case and care cards
// (task/fetch opens a form, task/submit sends it).

// Invoke response types.
const (
	typeCard    = "application/vnd.microsoft.card.adaptive"
	typeMessage = "application/vnd.microsoft.activity.message"
	typeError   = "application/vnd.microsoft.error"
)

func invokeCard(c card) reply {
	return reply{status: http.StatusOK, body: map[string]any{"statusCode": 200, "type": typeCard, "value": c}}
}

func invokeMessage(text string) reply {
	return reply{status: http.StatusOK, body: map[string]any{"statusCode": 200, "type": typeMessage, "value": text}}
}

func invokeError(text string) reply {
	return reply{status: http.StatusOK, body: map[string]any{"statusCode": 500, "type": typeError,
		"value": map[string]string{"code": "InternalError", "message": text}}}
}

func taskDialog(d Dialog) reply {
	return reply{status: http.StatusOK, body: map[string]any{"task": map[string]any{"type": "continue", "value": map[string]any{
		"title": d.Title, "height": "large", "width": "medium",
		"card": map[string]any{"contentType": CardContentType, "content": d.Card},
	}}}}
}

func taskMessage(text string) reply {
	return reply{status: http.StatusOK, body: map[string]any{"task": map[string]any{"type": "message", "value": text}}}
}

// invoke answers an invoke activity.
func (a *Adapter) invoke(ctx context.Context, act *activity) reply {
	var data map[string]any
	switch act.Name {
	case "adaptiveCard/action":
		action, _ := act.Value["action"].(map[string]any)
		data, _ = action["data"].(map[string]any)
	case "task/fetch", "task/submit":
		data, _ = act.Value["data"].(map[string]any)
		if data == nil {
			data = act.Value
		}
	default:
		return answer(http.StatusOK)
	}
	d, values, isOurs := ours(data)
	if !isOurs || act.From.ID == "" {
		return reply{status: http.StatusBadRequest, body: map[string]any{"statusCode": 400, "type": typeError,
			"value": map[string]string{"code": "BadRequest", "message": "not a Mamori action"}}}
	}
	u := a.user(ctx, act)
	a.remember(ctx, act, u)
	switch act.Name {
	case "task/fetch":
		return a.openDialog(ctx, u, d)
	case "task/submit":
		return a.submitForm(ctx, u, d, values)
	}
	return a.action(ctx, act, u, d, values, true)
}

// action does what a button says. invoked: it came as Action.Execute and
// its answer is an invoke response; otherwise (Action.Submit) anything
// to tell goes as a message.
func (a *Adapter) action(ctx context.Context, act *activity, u mamori.User, d actionData, values formValues, invoked bool) reply {
	tell := func(text string) reply {
		if invoked {
			return invokeMessage(text)
		}
		if text == "" {
			return answer(http.StatusOK)
		}
		service, conv := act.ServiceURL, act.Conversation.ID
		return answer(http.StatusOK).then(func(ctx context.Context) {
			if _, err := a.conn.Send(ctx, service, conv, outActivity{Type: "message", Text: text}); err != nil {
				a.log.Error("teams: could not answer a button", "err", err)
			}
		})
	}
	oops := func() reply {
		if invoked {
			return invokeError(a.cfg.Policy.T(u.Lang, "teams.error"))
		}
		return tell(a.cfg.Policy.T(u.Lang, "teams.error"))
	}
	switch d.Kind {
	case kindHome:
		// The overview takes the clicked card's place; without
		// Action.Execute it is posted.
		if !invoked {
			return answer(http.StatusOK).then(func(ctx context.Context) { a.home(ctx, act, u) })
		}
		c, err := a.homeCard(ctx, u)
		if err != nil {
			return oops()
		}
		return invokeCard(c)
	case kindForm:
		// A dialog's form sent by a client without dialogs.
		r := a.submitForm(ctx, u, d, values)
		return tell(formOutcome(r))
	case kindChoice, kindControl:
		if d.Step == mamori.StepCard {
			action, id, found := strings.Cut(d.Value, ":")
			if found && id != "" {
				if dialogActions[action] {
					// Without dialogs: the form's answer as a message.
					return tell(formOutcome(a.openDialog(ctx, u, d)))
				}
				m, err := a.cardAction(ctx, u, action, id)
				if err != nil {
					return oops()
				}
				return tell(Fallback(m))
			}
		}
		in := mamori.Input{Kind: mamori.InputChoice, User: u, Step: d.Step, Value: d.Value, Delivery: delivery(act)}
		return a.answered(ctx, in, d, invoked, act)
	case kindSubmit:
		in := mamori.Input{Kind: mamori.InputMulti, User: u, Step: d.Step, Value: d.Value,
			Values: values.many(multiInput), Delivery: delivery(act)}
		if in.Values == nil {
			in.Values = []string{}
		}
		return a.answered(ctx, in, actionData{}, invoked, act)
	}
	return answer(http.StatusOK)
}

// answered hands a click in the 1:1 chat to the flows. Done, the question
// becomes its answer in place (as Slack apps do), so it cannot be clicked
// again by mistake; a stale click leaves the card as it is.
func (a *Adapter) answered(ctx context.Context, in mamori.Input, d actionData, invoked bool, act *activity) reply {
	err := a.flows.Handle(ctx, in)
	switch {
	case err == nil && invoked && d.Question != "":
		return invokeCard(Answered(d.Question, d.Label))
	case err == nil || errors.Is(err, mamori.ErrStale):
		if invoked {
			return invokeMessage("")
		}
		return answer(http.StatusOK)
	}
	a.log.Error("teams: click failed", "user", in.User.ID, "step", in.Step, "err", err)
	if invoked {
		return invokeError(a.cfg.Policy.T(in.User.Lang, "teams.error"))
	}
	return a.handleFailed(act, in, err)
}

func (a *Adapter) handleFailed(act *activity, in mamori.Input, err error) reply {
	status := http.StatusInternalServerError
	if errors.Is(err, mamori.ErrInvalid) {
		status = http.StatusOK
	}
	return answer(status).then(a.sayLater(act, in.User.Lang, "teams.error"))
}

// cardAction takes a case, or acts on a care task or training, for the
// clicker. A refusal is a message like any other; only a failure is an
// error.
func (a *Adapter) cardAction(ctx context.Context, u mamori.User, action, id string) (mamori.Message, error) {
	var m mamori.Message
	var err error
	switch action {
	case mamori.CardTake:
		m, err = a.flows.Take(ctx, u, id)
	case mamori.CardTrain:
		m, err = a.flows.AssignTraining(ctx, u, id)
	case mamori.CareAck, mamori.CareCloseTask:
		m, err = a.flows.CareAction(ctx, u, action, id, "")
	default:
		return mamori.Message{}, errors.New("teams: unknown card action " + action)
	}
	if err != nil && !refusal(err) {
		a.log.Error("teams: card action failed", "action", action, "id", id, "user", u.ID, "err", err)
		return m, err
	}
	if err != nil {
		a.log.Info("teams: card action refused", "action", action, "id", id, "user", u.ID, "reason", err)
	}
	return m, nil
}

// refusal reports whether err is one the flows explain in their message.
func refusal(err error) bool {
	return errors.Is(err, mamori.ErrForbidden) || errors.Is(err, mamori.ErrNotFound) ||
		errors.Is(err, mamori.ErrInvalid) || errors.Is(err, mamori.ErrConflict)
}

// openDialog answers task/fetch: the case's detail, or a form for someone
// who may act on the case; anyone else gets the flows' refusal.
func (a *Adapter) openDialog(ctx context.Context, u mamori.User, d actionData) reply {
	action, id, _ := strings.Cut(d.Value, ":")
	oops := taskMessage(a.cfg.Policy.T(u.Lang, "teams.error"))
	switch action {
	case mamori.CardDetails:
		m, err := a.flows.CaseDetails(ctx, u, id)
		switch {
		case err == nil:
			return taskDialog(DetailsDialog(m, nil))
		case refusal(err):
			a.log.Info("teams: case details refused", "case", id, "user", u.ID)
			return taskMessage(Fallback(m))
		}
		a.log.Error("teams: case details failed", "case", id, "user", u.ID, "err", err)
		return oops
	case mamori.CareNoteAction:
		m, err := a.flows.CareAction(ctx, u, mamori.CareNoteAction, id, "")
		switch {
		case errors.Is(err, mamori.ErrInvalid):
			return taskDialog(TextDialog(a.cfg.Policy, u.Lang, formCare, id, "", ""))
		case err == nil || refusal(err):
			return taskMessage(Fallback(m))
		}
		a.log.Error("teams: care action failed", "id", id, "user", u.ID, "err", err)
		return oops
	case mamori.CardJudge, mamori.CardReopen, mamori.CardAsk:
	default:
		return oops
	}
	sug, err := a.flows.Suggestion(ctx, u, id)
	if err != nil {
		if !refusal(err) {
			a.log.Error("teams: suggestion failed", "case", id, "user", u.ID, "err", err)
			return oops
		}
		// The action with nothing to do refuses in the person's words
		// and audits the attempt; it changes nothing.
		var m mamori.Message
		var rerr error
		switch action {
		case mamori.CardJudge:
			m, rerr = a.flows.Judge(ctx, u, id, mamori.Decision{})
		case mamori.CardAsk:
			m, rerr = a.flows.Ask(ctx, u, id, "")
		default:
			m, rerr = a.flows.Reopen(ctx, u, id, "")
		}
		a.log.Info("teams: action refused", "action", action, "case", id, "user", u.ID, "reason", err)
		if !errors.Is(rerr, mamori.ErrForbidden) && !errors.Is(rerr, mamori.ErrNotFound) {
			return oops
		}
		return taskMessage(Fallback(m))
	}
	switch action {
	case mamori.CardReopen:
		return taskDialog(TextDialog(a.cfg.Policy, u.Lang, formReopen, id, "", ""))
	case mamori.CardAsk:
		return taskDialog(TextDialog(a.cfg.Policy, u.Lang, formAsk, id, "", ""))
	}
	return taskDialog(JudgeDialog(a.cfg.Policy, a.judgeForm(ctx, u, id, sug)))
}

// judgeForm fills the judge form with what the card says of the case,
// from the detail the judge may see anyway; without it the form works.
func (a *Adapter) judgeForm(ctx context.Context, u mamori.User, number string, d mamori.Decision) JudgeForm {
	f := JudgeForm{Number: number, Lang: u.Lang, Suggested: d}
	m, err := a.flows.CaseDetails(ctx, u, number)
	if err != nil {
		a.log.Warn("teams: case details for the judge form failed", "case", number, "err", err)
		return f
	}
	t := func(key string) string { return a.cfg.Policy.T(u.Lang, key) }
	want := map[string]bool{t("card.behaviours"): true, t("card.suggestion"): true, t("card.crime"): true}
	for _, fl := range m.Fields {
		if want[fl.Label] {
			f.About = append(f.About, fl)
			want[fl.Label] = false
		}
		if fl.Label == t("card.behaviours") {
			f.Behaviours = strings.ReplaceAll(strings.TrimSpace(fl.Value), "\n", " / ")
		}
	}
	return f
}

// submitForm answers task/submit: the flows act, and the dialog closes
// with their confirmation, or stays open with the refusal above what
// was typed.
func (a *Adapter) submitForm(ctx context.Context, u mamori.User, d actionData, v formValues) reply {
	p := a.cfg.Policy
	again := func(errText string) reply {
		if d.Form == formJudge {
			f := a.judgeForm(ctx, u, d.Case, parseDecision(v))
			f.Error = errText
			return taskDialog(JudgeDialog(p, f))
		}
		return taskDialog(TextDialog(p, u.Lang, d.Form, d.Case, errText, v.text(inText)))
	}
	if d.Case == "" {
		return taskMessage(p.T(u.Lang, "teams.error"))
	}
	if err := tooLong(v); err != nil {
		return again(p.T(u.Lang, "teams.too_long"))
	}
	var m mamori.Message
	var err error
	switch d.Form {
	case formJudge:
		m, err = a.flows.Judge(ctx, u, d.Case, parseDecision(v))
	case formReopen:
		m, err = a.flows.Reopen(ctx, u, d.Case, v.text(inText))
	case formAsk:
		m, err = a.flows.Ask(ctx, u, d.Case, v.text(inText))
	case formCare:
		m, err = a.flows.CareAction(ctx, u, mamori.CareNoteAction, d.Case, v.text(inText))
	default:
		return taskMessage(p.T(u.Lang, "teams.error"))
	}
	switch {
	case err == nil:
		return taskMessage(Fallback(m))
	case refusal(err):
		a.log.Info("teams: form refused", "form", d.Form, "case", d.Case, "user", u.ID, "reason", err)
		return again(Fallback(m))
	}
	// Keep the form and what was typed: the person can send it again.
	a.log.Error("teams: form failed", "form", d.Form, "case", d.Case, "user", u.ID, "err", err)
	return again(p.T(u.Lang, "teams.error"))
}

// formOutcome is the text of a dialog answer, for a client without
// dialogs.
func formOutcome(r reply) string {
	body, _ := r.body.(map[string]any)
	task, _ := body["task"].(map[string]any)
	if s, ok := task["value"].(string); ok {
		return s
	}
	return ""
}
