package teams

import (
	"context"
	"encoding/json"
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
		if _, found := mamori.ParseAction(d.Value); found && d.Step == mamori.StepCard {
			// A one-click action on a card (an SOS's "I'm on it", see
			// oneClick), or a card's button from a client without
			// dialogs: done, and the answer to the clicker as a message.
			// The card itself is updated in place, for everyone, by the
			// outbox.
			return tell(formOutcome(a.openDialog(ctx, u, d)))
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
// again by mistake; a stale click leaves the card as it is, and so does
// one that answers only itself (partial).
func (a *Adapter) answered(ctx context.Context, in mamori.Input, d actionData, invoked bool, act *activity) reply {
	err := a.flows.Handle(ctx, in)
	switch {
	case err == nil && invoked && d.Question != "" && !partial(d.Value):
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

// partial reports whether a click with value answers only itself, not
// the card it is on: skipping the SOS's one question (where are you?)
// leaves the card, with its emergency numbers and "I'm safe now", as it
// is.
func partial(value string) bool {
	return strings.HasPrefix(value, mamori.SOSSkip+":")
}

func (a *Adapter) handleFailed(act *activity, in mamori.Input, err error) reply {
	status := http.StatusInternalServerError
	if errors.Is(err, mamori.ErrInvalid) {
		status = http.StatusOK
	}
	return answer(status).then(a.sayLater(act, in.User.Lang, "teams.error"))
}

// refusal reports whether err is one the flows explain in their message.
func refusal(err error) bool {
	return errors.Is(err, mamori.ErrForbidden) || errors.Is(err, mamori.ErrNotFound) ||
		errors.Is(err, mamori.ErrInvalid) || errors.Is(err, mamori.ErrConflict)
}

// openDialog answers task/fetch on a card's button: the case's detail,
// the form the action needs, or the one-click action done and its
// message; a refusal is the flows' words.
func (a *Adapter) openDialog(ctx context.Context, u mamori.User, d actionData) reply {
	oops := taskMessage(a.cfg.Policy.T(u.Lang, "teams.error"))
	action, ok := mamori.ParseAction(d.Value)
	if !ok {
		return oops
	}
	if action.Kind == mamori.CardDetails {
		m, err := a.flows.CaseDetails(ctx, u, action.Subject)
		switch {
		case err == nil:
			return taskDialog(DetailsDialog(m, nil))
		case refusal(err):
			a.log.Info("teams: case details refused", "case", action.Subject, "user", u.ID)
			return taskMessage(a.said(ctx, m))
		}
		a.log.Error("teams: case details failed", "case", action.Subject, "user", u.ID, "err", err)
		return oops
	}
	form, m, err := a.flows.Open(ctx, u, action)
	switch {
	case err != nil && !refusal(err):
		a.log.Error("teams: action failed", "action", action.Kind, "subject", action.Subject, "user", u.ID, "err", err)
		return oops
	case err != nil:
		a.log.Info("teams: action refused", "action", action.Kind, "subject", action.Subject, "user", u.ID, "reason", err)
	case form != nil:
		return taskDialog(FormDialog(*form, "", nil))
	}
	return taskMessage(a.said(ctx, m))
}

// submitForm answers task/submit: the flows act, and the dialog closes
// with their confirmation, or stays open with the refusal above what
// was typed.
func (a *Adapter) submitForm(ctx context.Context, u mamori.User, d actionData, v formValues) reply {
	p := a.cfg.Policy
	action := mamori.Action{Kind: d.Form, Subject: d.Case}
	if action.Kind == "" || action.Subject == "" {
		return taskMessage(p.T(u.Lang, "teams.error"))
	}
	typed := v.values()
	again := func(errText string) reply {
		form, m, err := a.flows.Open(ctx, u, action)
		if err != nil || form == nil {
			// No longer open to this person (decided meanwhile, or
			// no longer allowed): say why instead.
			return taskMessage(Fallback(m))
		}
		return taskDialog(FormDialog(*form, errText, typed))
	}
	m, err := a.flows.Submit(ctx, u, action, typed)
	switch {
	case err == nil:
		return taskMessage(a.said(ctx, m))
	case refusal(err):
		a.log.Info("teams: form refused", "action", action.Kind, "subject", action.Subject, "user", u.ID, "reason", err)
		return again(Fallback(m))
	}
	// Keep the form and what was typed: the person can send it again.
	a.log.Error("teams: form failed", "action", action.Kind, "subject", action.Subject, "user", u.ID, "err", err)
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

// said is m as plain text for the person who acted, with the people it
// names (the employee of an SOS, who has it) by their names, as the cards
// show them, rather than by id.
func (a *Adapter) said(ctx context.Context, m mamori.Message) string {
	names := refNames(ctx, a.refs)
	named := func(s string) string {
		return mention.ReplaceAllStringFunc(s, func(x string) string {
			if n := names(mention.FindStringSubmatch(x)[1]); n != "" {
				return n
			}
			return x
		})
	}
	m.Header, m.Text = named(m.Header), named(m.Text)
	return Fallback(m)
}

// refNames resolves a mention's id to the name kept with the person's
// reference: their 1:1 chat's, or the one noted when they acted in a
// channel; "" when none is known.
func refNames(ctx context.Context, refs Refs) Names {
	return func(id string) string {
		for _, key := range []string{userKey(id), nameKey(id)} {
			b, err := refs.Reference(ctx, key)
			if err != nil {
				continue
			}
			var r Ref
			if json.Unmarshal(b, &r) == nil && r.Name != "" {
				return r.Name
			}
		}
		return ""
	}
}
