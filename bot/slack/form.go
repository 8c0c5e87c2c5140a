package slack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

// This file is the supervisors' and HR's side: a button on a case card, a
// care card or a consultation names an action; the flows answer with a
// form, rendered here as a modal, or do the action at once. The flows
// decide who may act, what the form asks and what a submission means;
// the adapter only renders and reads back.

// Callback ids of Mamori's modals.
const (
	callbackDetails = "mamori.details"
	callbackForm    = "mamori.form"
)

// inputAction is the action id of every modal input; its block id is the
// form field's id.
const inputAction = "value"

// Slack's limits for modal inputs.
const (
	maxInput    = 3000 // plain_text_input max_length
	maxHint     = 2000
	maxLabelIn  = 2000
	maxMetadata = 3000
)

// formMeta is a modal's private_metadata: the action the form is for and
// the channel of the card, for the confirmation after submission.
type formMeta struct {
	Action  mamori.Action `json:"action"`
	Channel string        `json:"channel,omitempty"`
}

// FormModal renders a flows form as a modal: its intro and facts, then
// one input per field (radio buttons or a select for one choice,
// checkboxes or a multi-select for many, a text input for text).
func FormModal(f mamori.Form, channel string) slackapi.ModalViewRequest {
	var blocks []slackapi.Block
	if f.Intro != "" {
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn(truncate(escape(f.Intro), maxSectionText)), nil, nil))
	}
	blocks = append(blocks, fieldBlocks(f.About)...)
	for _, fd := range f.Fields {
		blocks = append(blocks, formInput(fd))
	}
	if f.Note != "" {
		blocks = append(blocks, contextBlock(f.Note))
	}
	meta, _ := json.Marshal(formMeta{Action: f.Action, Channel: channel})
	if len(meta) > maxMetadata {
		meta, _ = json.Marshal(formMeta{Action: f.Action})
	}
	return slackapi.ModalViewRequest{
		Type:            slackapi.VTModal,
		CallbackID:      callbackForm,
		Title:           plain(truncate(f.Title, maxModalTitle)),
		Submit:          plain(truncate(f.Submit, maxModalTitle)),
		Close:           plain(truncate(f.Cancel, maxModalTitle)),
		PrivateMetadata: string(meta),
		Blocks:          slackapi.Blocks{BlockSet: blocks},
	}
}

// formInput is one form field as an input block.
func formInput(fd mamori.FormField) *slackapi.InputBlock {
	var opts, initial []*slackapi.OptionBlockObject
	for _, o := range fd.Options {
		ob := slackapi.NewOptionBlockObject(truncateBytes(o.Value, maxOptionValue), plain(truncate(o.Label, maxOptionText)), nil)
		opts = append(opts, ob)
		for _, v := range fd.Value {
			if v == o.Value {
				initial = append(initial, ob)
			}
		}
	}
	var el slackapi.BlockElement
	switch fd.Kind {
	case mamori.FieldOne:
		if len(opts) <= maxOptions {
			rb := slackapi.NewRadioButtonsBlockElement(inputAction, opts...)
			if len(initial) > 0 {
				rb.InitialOption = initial[0]
			}
			el = rb
		} else {
			sel := slackapi.NewOptionsSelectBlockElement(slackapi.OptTypeStatic, nil, inputAction, opts...)
			if len(initial) > 0 {
				sel.InitialOption = initial[0]
			}
			el = sel
		}
	case mamori.FieldMany:
		if len(opts) <= maxOptions {
			cb := slackapi.NewCheckboxGroupsBlockElement(inputAction, opts...)
			cb.InitialOptions = initial
			el = cb
		} else {
			ms := slackapi.NewOptionsMultiSelectBlockElement(slackapi.MultiOptTypeStatic, nil, inputAction, opts...)
			ms.InitialOptions = initial
			el = ms
		}
	case mamori.FieldUser:
		sel := slackapi.NewOptionsSelectBlockElement(slackapi.OptTypeUser, nil, inputAction)
		if len(fd.Value) > 0 {
			sel.InitialUser = fd.Value[0]
		}
		el = sel
	default:
		in := slackapi.NewPlainTextInputBlockElement(nil, inputAction)
		in.Multiline = fd.Lines > 1
		in.MaxLength = maxInput
		if fd.Max > 0 && fd.Max < maxInput {
			in.MaxLength = fd.Max
		}
		in.InitialValue = truncate(strings.Join(fd.Value, "\n"), in.MaxLength)
		el = in
	}
	b := slackapi.NewInputBlock(truncateBytes(fd.ID, 255), plain(truncate(fd.Label, maxLabelIn)), nil, el).WithOptional(!fd.Required)
	if fd.Hint != "" {
		b.Hint = plain(truncate(fd.Hint, maxHint))
	}
	return b
}

// formValues reads a submitted modal's inputs by block id: the form's
// field ids.
func formValues(st *viewState) mamori.Values {
	v := mamori.Values{}
	if st == nil {
		return v
	}
	for block, actions := range st.Values {
		sv, found := actions[inputAction]
		if !found {
			continue
		}
		switch {
		case sv.Value != nil:
			v[block] = []string{*sv.Value}
		case sv.SelectedOption != nil:
			v[block] = []string{sv.SelectedOption.Value}
		case sv.SelectedUser != nil:
			v[block] = []string{*sv.SelectedUser}
		default:
			for _, o := range sv.SelectedOptions {
				v[block] = append(v[block], o.Value)
			}
		}
	}
	return v
}

// refusal reports whether err is one the flows explain to the person in
// the message they return, rather than a failure.
func refusal(err error) bool {
	return errors.Is(err, mamori.ErrForbidden) || errors.Is(err, mamori.ErrNotFound) ||
		errors.Is(err, mamori.ErrInvalid) || errors.Is(err, mamori.ErrConflict)
}

// act answers a click on a supervisor's or HR's button: the form it
// needs, as a modal, or the action done and a word to the clicker alone.
func (a *Adapter) act(ctx context.Context, p interaction, action mamori.Action, channel string) reply {
	u := a.user(ctx, p.User.ID)
	form, m, err := a.flows.Open(ctx, u, action)
	switch {
	case err != nil && !refusal(err):
		a.log.Error("slack: action failed", "action", action.Kind, "subject", action.Subject, "user", u.ID, "err", err)
		return ok().then(a.whisperError(channel, u))
	case err != nil:
		a.log.Info("slack: action refused", "action", action.Kind, "subject", action.Subject, "user", u.ID, "reason", err)
	case form != nil:
		if _, err := a.api.OpenViewContext(ctx, p.TriggerID, FormModal(*form, channel)); err != nil {
			a.log.Error("slack: views.open failed", "action", action.Kind, "subject", action.Subject, "err", err)
			return ok().then(a.whisperError(channel, u))
		}
		return ok()
	}
	return ok().then(a.whisper(ctx, p.TriggerID, channel, u.ID, m))
}

// whisper shows m to user only: in channel, or as a modal when there is no
// channel (App Home).
func (a *Adapter) whisper(ctx context.Context, trigger, channel, user string, m mamori.Message) func(context.Context) {
	if channel == "" {
		if trigger != "" {
			if _, err := a.api.OpenViewContext(ctx, trigger, ModalView(m)); err != nil {
				a.log.Error("slack: views.open failed", "err", err)
			}
		}
		return nil
	}
	return func(ctx context.Context) { a.ephemeral(ctx, channel, user, m) }
}

func (a *Adapter) whisperError(channel string, u mamori.User) func(context.Context) {
	return func(ctx context.Context) {
		a.ephemeral(ctx, channel, u.ID, textMessage(a.cfg.Policy.T(u.Lang, "slack.error")))
	}
}

// viewSubmission answers a submitted form. Slack waits for the answer:
// a clear closes the modal; errors keep it open with the message under
// the input concerned; a refusal of the whole form (someone else
// decided first, the person may not) turns the modal into the reason.
func (a *Adapter) viewSubmission(ctx context.Context, p interaction) reply {
	if p.User.ID == "" || p.View == nil {
		return bad("malformed view_submission payload")
	}
	if p.View.CallbackID != callbackForm {
		return ok() // the details modal has nothing to submit
	}
	var meta formMeta
	if err := json.Unmarshal([]byte(p.View.PrivateMetadata), &meta); err != nil || meta.Action.Kind == "" || meta.Action.Subject == "" {
		return bad("malformed view_submission: no action")
	}
	u := a.user(ctx, p.User.ID)
	if p.TriggerID != "" {
		// Socket Mode redelivers a submission it thinks was lost.
		ctx = flows.WithDelivery(ctx, "slack:submit:"+p.TriggerID)
	}
	var picked map[string]map[string]stateValue // a view may come without its state
	if p.View.State != nil {
		picked = p.View.State.Values
	}
	values := formValues(p.View.State)
	for block, actions := range picked {
		for _, v := range actions {
			if v.SelectedUser == nil {
				continue
			}
			// A person picked in a form (a witness) must be one: Slack's
			// user picker also lists bots and apps, which no request
			// reaches. Their email goes too: a configuration may list
			// them by it (HR by email may not be a witness).
			if !a.person(ctx, *v.SelectedUser) {
				return fieldError(block, a.cfg.Policy.T(u.Lang, "slack.not_person"))
			}
			if e := a.user(ctx, *v.SelectedUser).Email; e != "" {
				values[block+mamori.EmailSuffix] = []string{e}
			}
		}
	}
	m, err := a.flows.Submit(ctx, u, meta.Action, values)
	var r *mamori.Refusal
	switch {
	case err == nil:
		res := reply{status: http.StatusOK, body: slackapi.NewClearViewSubmissionResponse()}
		if meta.Channel == "" {
			return res
		}
		return res.then(func(ctx context.Context) { a.ephemeral(ctx, meta.Channel, u.ID, m) })
	case errors.As(err, &r) && hasBlock(p.View.State, r.Field):
		a.log.Info("slack: submission refused", "action", meta.Action.Kind, "subject", meta.Action.Subject, "user", u.ID, "field", r.Field, "reason", r.Key)
		return fieldError(r.Field, Fallback(m))
	case refusal(err):
		a.log.Info("slack: submission refused", "action", meta.Action.Kind, "subject", meta.Action.Subject, "user", u.ID, "reason", err)
		view := ModalView(m)
		return reply{status: http.StatusOK, body: slackapi.NewUpdateViewSubmissionResponse(&view)}
	default:
		// Keep the modal and what was typed: the person can submit again.
		a.log.Error("slack: submission failed", "action", meta.Action.Kind, "subject", meta.Action.Subject, "user", u.ID, "err", err)
		for block := range picked {
			return fieldError(block, a.cfg.Policy.T(u.Lang, "slack.error"))
		}
		view := ModalView(textMessage(a.cfg.Policy.T(u.Lang, "slack.error")))
		return reply{status: http.StatusOK, body: slackapi.NewUpdateViewSubmissionResponse(&view)}
	}
}

// hasBlock reports whether the submitted view has an input with block id.
func hasBlock(st *viewState, block string) bool {
	if st == nil {
		return false
	}
	_, found := st.Values[block]
	return found
}

func fieldError(blockID, msg string) reply {
	if msg == "" {
		msg = "!"
	}
	return reply{status: http.StatusOK, body: slackapi.NewErrorsViewSubmissionResponse(map[string]string{blockID: truncate(msg, maxHint)})}
}
