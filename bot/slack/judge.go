package slack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

// This file is the supervisor's side of the case card: take, judge (a
// modal pre-filled with the policy's suggestion) and reopen (a modal
// asking why). The flows decide who may act and record everything; the
// adapter only asks, shows and answers.

// Callback ids of Mamori's modals.
const (
	callbackDetails = "mamori.details"
	callbackJudge   = "mamori.judge"
	callbackReopen  = "mamori.reopen"
	callbackAsk     = "mamori.ask"
	callbackCare    = "mamori.care_note"
)

// Block ids of the judge and reopen modals' inputs; each input's action id
// is inputAction.
const (
	blockFacts    = "judge.facts"
	blockValidity = "judge.validity"
	blockMeans    = "judge.means"
	blockFault    = "judge.fault"
	blockOutcome  = "judge.outcome"
	blockActions  = "judge.actions"
	blockNote     = "judge.note"
	blockReason   = "reopen.reason"
	blockQuestion = "ask.question"
	blockCareNote = "care.note"
	inputAction   = "value"
)

// The values the judge modal offers; the flows check them again.
var (
	validityValues = []string{"valid", "partly", "invalid", "unclear"}
	meansValues    = []string{"acceptable", "unacceptable"}
	faultValues    = []string{"yes", "no", "unsure"}
	outcomeValues  = []string{mamori.OutcomeKasuhara, mamori.OutcomeLegitimate, mamori.OutcomeMoreInfo, mamori.OutcomeMedical}
)

// Input limits: Slack's plain_text_input allows 3000 characters, fewer
// than the flows accept.
const (
	maxInput    = 3000
	maxHint     = 2000
	maxLabelIn  = 2000
	maxMetadata = 3000
)

// JudgeForm is what the judge modal is built from.
type JudgeForm struct {
	Number  string
	Channel string // where the card is: the confirmation is shown there
	Lang    mamori.Lang
	// Suggested is the flows' pre-filled judgement.
	Suggested mamori.Decision
	// About is what the card says of the case: the behaviours reported,
	// the policy's suggestion and, for a possible crime, the warning.
	About []mamori.Field
	// Behaviours lists the behaviours reported, for criterion ②.
	Behaviours string
}

// modalMeta is a modal's private_metadata: the case and the channel of the
// card, for the confirmation after submission.
type modalMeta struct {
	Case    string `json:"case"`
	Channel string `json:"channel,omitempty"`
}

func (m modalMeta) encode() string {
	b, _ := json.Marshal(m)
	if len(b) > maxMetadata {
		return ""
	}
	return string(b)
}

// JudgeModal renders the judgement form: facts confirmed, ① the demand's
// validity, ② the means, our fault, the outcome, the response actions and
// a note, pre-filled with f.Suggested. The medical outcome is offered only
// when the policy has the "medical" exception.
func JudgeModal(p *mamori.Policy, f JudgeForm) slackapi.ModalViewRequest {
	l := f.Lang
	t := func(key string) string { return p.T(l, key) }
	d := f.Suggested

	var blocks []slackapi.Block
	blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn(truncate(escape(sprintf(t("judge.modal.intro"), f.Number)), maxSectionText)), nil, nil))
	about := f.About
	if len(about) == 0 && d.Outcome != "" {
		about = []mamori.Field{{Label: t("card.suggestion"), Value: t("decision." + d.Outcome)}}
	}
	blocks = append(blocks, fieldBlocks(about)...)

	facts := textInput(blockFacts, t("judge.facts"), d.Facts, true)
	blocks = append(blocks, facts)

	var examples []string
	for _, e := range p.InvalidDemand {
		examples = append(examples, e.In(l))
	}
	validity := radioInput(blockValidity, t("judge.validity"), options(validityValues, d.Validity, func(v string) string { return t("judge.validity." + v) }))
	if len(examples) > 0 {
		validity.Hint = plain(truncate(sprintf(t("judge.validity.examples"), strings.Join(examples, " / ")), maxHint))
	}
	blocks = append(blocks, validity)

	means := radioInput(blockMeans, t("judge.means"), options(meansValues, d.Means, func(v string) string { return t("judge.means." + v) }))
	if f.Behaviours != "" {
		means.Hint = plain(truncate(sprintf(t("judge.means.reported"), f.Behaviours), maxHint))
	}
	blocks = append(blocks, means)

	fault := radioInput(blockFault, t("s.fault"), options(faultValues, d.Fault, func(v string) string { return t("a.fault." + v) }))
	fault.Optional = true
	blocks = append(blocks, fault)

	outcomes := outcomeValues
	medical, hasMedical := medicalException(p)
	if !hasMedical {
		outcomes = outcomes[:3]
	}
	outcome := radioInput(blockOutcome, t("judge.outcome"), options(outcomes, d.Outcome, func(v string) string { return t("decision." + v) }))
	if hasMedical {
		outcome.Hint = plain(truncate(t("decision.medical")+": "+medical.Guidance.In(l), maxHint))
	}
	blocks = append(blocks, outcome)

	if len(p.Actions) > 0 {
		ids := make([]string, len(p.Actions))
		for i, a := range p.Actions {
			ids[i] = a.ID
		}
		blocks = append(blocks, actionsInput(t("judge.actions"), ids, d.Actions, func(id string) string { return mamori.Label(p.Actions, id, l) }))
	}

	blocks = append(blocks, textInput(blockNote, t("judge.note"), d.Note, true))
	blocks = append(blocks, contextBlock(t("judge.modal.note")))

	return slackapi.ModalViewRequest{
		Type:            slackapi.VTModal,
		CallbackID:      callbackJudge,
		Title:           plain(truncate(t("judge.modal.title"), maxModalTitle)),
		Submit:          plain(truncate(t("judge.modal.submit"), maxModalTitle)),
		Close:           plain(truncate(t("judge.modal.cancel"), maxModalTitle)),
		PrivateMetadata: modalMeta{Case: f.Number, Channel: f.Channel}.encode(),
		Blocks:          slackapi.Blocks{BlockSet: blocks},
	}
}

// ReopenModal asks why a decided case is reopened.
func ReopenModal(p *mamori.Policy, l mamori.Lang, number, channel string) slackapi.ModalViewRequest {
	return textModal(p, l, number, channel, callbackReopen, blockReason, "judge.reopen", "card.reopen")
}

// AskModal asks for the question to send to the reporter.
func AskModal(p *mamori.Policy, l mamori.Lang, number, channel string) slackapi.ModalViewRequest {
	return textModal(p, l, number, channel, callbackAsk, blockQuestion, "ask", "card.ask")
}

// textModal is a modal with one required text input; its texts are
// <prefix>.title, <prefix>.label and <prefix>.intro.
func textModal(p *mamori.Policy, l mamori.Lang, number, channel, callback, block, prefix, submit string) slackapi.ModalViewRequest {
	t := func(key string) string { return p.T(l, key) }
	return slackapi.ModalViewRequest{
		Type:            slackapi.VTModal,
		CallbackID:      callback,
		Title:           plain(truncate(t(prefix+".title"), maxModalTitle)),
		Submit:          plain(truncate(t(submit), maxModalTitle)),
		Close:           plain(truncate(t("judge.modal.cancel"), maxModalTitle)),
		PrivateMetadata: modalMeta{Case: number, Channel: channel}.encode(),
		Blocks: slackapi.Blocks{BlockSet: []slackapi.Block{
			slackapi.NewSectionBlock(mrkdwn(truncate(escape(sprintf(t(prefix+".intro"), number)), maxSectionText)), nil, nil),
			textInput(block, t(prefix+".label"), "", false),
		}},
	}
}

// CareNoteModal asks HR what contact was made for care task id.
func CareNoteModal(p *mamori.Policy, l mamori.Lang, id, channel string) slackapi.ModalViewRequest {
	return textModal(p, l, id, channel, callbackCare, blockCareNote, "caretask.modal", "caretask.modal.submit")
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

type labelled struct {
	opts    []*slackapi.OptionBlockObject
	initial []*slackapi.OptionBlockObject
}

// options turns values into option objects; those in selected start
// selected.
func options(values []string, selected string, label func(string) string) labelled {
	return optionsMulti(values, []string{selected}, label)
}

func optionsMulti(values, selected []string, label func(string) string) labelled {
	var out labelled
	for _, v := range values {
		o := slackapi.NewOptionBlockObject(truncateBytes(v, maxOptionValue), plain(truncate(label(v), maxOptionText)), nil)
		out.opts = append(out.opts, o)
		if v != "" && slices.Contains(selected, v) {
			out.initial = append(out.initial, o)
		}
	}
	return out
}

func radioInput(blockID, label string, o labelled) *slackapi.InputBlock {
	rb := slackapi.NewRadioButtonsBlockElement(inputAction, o.opts...)
	if len(o.initial) > 0 {
		rb.InitialOption = o.initial[0]
	}
	return slackapi.NewInputBlock(blockID, plain(truncate(label, maxLabelIn)), nil, rb)
}

// actionsInput offers the policy's response actions as checkboxes, or a
// multi-select when there are more than checkboxes allow.
func actionsInput(label string, ids, selected []string, name func(string) string) *slackapi.InputBlock {
	o := optionsMulti(ids, selected, name)
	var el slackapi.BlockElement
	if len(o.opts) <= maxOptions {
		cb := slackapi.NewCheckboxGroupsBlockElement(inputAction, o.opts...)
		cb.InitialOptions = o.initial
		el = cb
	} else {
		ms := slackapi.NewOptionsMultiSelectBlockElement(slackapi.MultiOptTypeStatic, nil, inputAction, o.opts...)
		ms.InitialOptions = o.initial
		el = ms
	}
	return slackapi.NewInputBlock(blockActions, plain(truncate(label, maxLabelIn)), nil, el).WithOptional(true)
}

func textInput(blockID, label, initial string, optional bool) *slackapi.InputBlock {
	in := slackapi.NewPlainTextInputBlockElement(nil, inputAction)
	in.Multiline = true
	in.MaxLength = maxInput
	in.InitialValue = truncate(initial, maxInput)
	return slackapi.NewInputBlock(blockID, plain(truncate(label, maxLabelIn)), nil, in).WithOptional(optional)
}

// refusal reports whether err is one the flows explain to the person in
// the message they return, rather than a failure.
func refusal(err error) bool {
	return errors.Is(err, mamori.ErrForbidden) || errors.Is(err, mamori.ErrNotFound) ||
		errors.Is(err, mamori.ErrInvalid) || errors.Is(err, mamori.ErrConflict)
}

// take assigns the case to the clicker and tells only them how it went.
func (a *Adapter) take(ctx context.Context, p interaction, number, channel string) reply {
	u := a.user(ctx, p.User.ID)
	m, err := a.flows.Take(ctx, u, number)
	if err != nil && !refusal(err) {
		a.log.Error("slack: take failed", "case", number, "user", u.ID, "err", err)
		return failed().then(a.whisperError(channel, u))
	}
	if err != nil {
		a.log.Info("slack: take refused", "case", number, "user", u.ID, "reason", err)
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

// judgeClick opens the judge modal, pre-filled with the policy's
// suggestion, for a clicker who may judge the case; anyone else gets the
// flows' refusal, which the flows also audit.
func (a *Adapter) judgeClick(ctx context.Context, p interaction, number, channel string) reply {
	u := a.user(ctx, p.User.ID)
	d, err := a.flows.Suggestion(ctx, u, number)
	if err != nil {
		if !refusal(err) {
			a.log.Error("slack: suggestion failed", "case", number, "user", u.ID, "err", err)
			return ok().then(a.whisperError(channel, u))
		}
		// Judge without a decision refuses in the person's words and
		// audits the attempt; it changes nothing.
		m, jerr := a.flows.Judge(ctx, u, number, mamori.Decision{})
		a.log.Info("slack: judge refused", "case", number, "user", u.ID, "reason", err)
		if !errors.Is(jerr, mamori.ErrForbidden) && !errors.Is(jerr, mamori.ErrNotFound) {
			// Allowed after all (the case or the organisation changed
			// between the calls): nothing was judged without a
			// decision, so ask to try again.
			m = textMessage(a.cfg.Policy.T(u.Lang, "slack.error"))
		}
		return ok().then(a.whisper(ctx, p.TriggerID, channel, u.ID, m))
	}
	form := JudgeForm{Number: number, Channel: channel, Lang: u.Lang, Suggested: d}
	// What the card says, from the confidential view the judge may see
	// anyway; without it the modal still works.
	if m, err := a.flows.CaseDetails(ctx, u, number); err == nil {
		form.About, form.Behaviours = a.aboutCase(u.Lang, m)
	} else {
		a.log.Warn("slack: case details for the judge modal failed", "case", number, "err", err)
	}
	if _, err := a.api.OpenViewContext(ctx, p.TriggerID, JudgeModal(a.cfg.Policy, form)); err != nil {
		a.log.Error("slack: views.open failed", "case", number, "err", err)
		return ok().then(a.whisperError(channel, u))
	}
	return ok()
}

// aboutCase picks, from a case's detail, the card's fields the judge
// needs: the behaviours, the policy's suggestion, the crime warning.
func (a *Adapter) aboutCase(l mamori.Lang, m mamori.Message) (about []mamori.Field, behaviours string) {
	t := func(key string) string { return a.cfg.Policy.T(l, key) }
	want := map[string]bool{t("card.behaviours"): true, t("card.suggestion"): true, t("card.crime"): true}
	for _, f := range m.Fields {
		if want[f.Label] {
			about = append(about, f)
			want[f.Label] = false
		}
		if f.Label == t("card.behaviours") {
			behaviours = strings.ReplaceAll(strings.TrimSpace(f.Value), "\n", " / ")
		}
	}
	return about, behaviours
}

// textClick opens the reopen or the ask modal for a clicker who may act
// on the case; anyone else is told why not.
func (a *Adapter) textClick(ctx context.Context, p interaction, action, number, channel string) reply {
	u := a.user(ctx, p.User.ID)
	if _, err := a.flows.Suggestion(ctx, u, number); err != nil {
		if !refusal(err) {
			a.log.Error("slack: permission check failed", "action", action, "case", number, "user", u.ID, "err", err)
			return ok().then(a.whisperError(channel, u))
		}
		// The action with no text refuses in the person's words and
		// audits the attempt; it changes nothing.
		var m mamori.Message
		var rerr error
		if action == mamori.CardAsk {
			m, rerr = a.flows.Ask(ctx, u, number, "")
		} else {
			m, rerr = a.flows.Reopen(ctx, u, number, "")
		}
		a.log.Info("slack: action refused", "action", action, "case", number, "user", u.ID, "reason", err)
		if !errors.Is(rerr, mamori.ErrForbidden) && !errors.Is(rerr, mamori.ErrNotFound) {
			m = textMessage(a.cfg.Policy.T(u.Lang, "slack.error"))
		}
		return ok().then(a.whisper(ctx, p.TriggerID, channel, u.ID, m))
	}
	view := ReopenModal(a.cfg.Policy, u.Lang, number, channel)
	if action == mamori.CardAsk {
		view = AskModal(a.cfg.Policy, u.Lang, number, channel)
	}
	if _, err := a.api.OpenViewContext(ctx, p.TriggerID, view); err != nil {
		a.log.Error("slack: views.open failed", "case", number, "err", err)
		return ok().then(a.whisperError(channel, u))
	}
	return ok()
}

// careClick acts on a care task (acknowledge, close) or assigns the
// recommended training, for HR. "Note a contact" opens a modal, after
// the flows have said HR may (an empty note is refused as invalid, and
// anything else is the answer to show).
func (a *Adapter) careClick(ctx context.Context, p interaction, action, id, channel string) reply {
	u := a.user(ctx, p.User.ID)
	var m mamori.Message
	var err error
	if action == mamori.CardTrain {
		m, err = a.flows.AssignTraining(ctx, u, id)
	} else {
		m, err = a.flows.CareAction(ctx, u, action, id, "")
	}
	if action == mamori.CareNoteAction && errors.Is(err, mamori.ErrInvalid) {
		if _, err := a.api.OpenViewContext(ctx, p.TriggerID, CareNoteModal(a.cfg.Policy, u.Lang, id, channel)); err != nil {
			a.log.Error("slack: views.open failed", "care", id, "err", err)
			return ok().then(a.whisperError(channel, u))
		}
		return ok()
	}
	if err != nil && !refusal(err) && !errors.Is(err, mamori.ErrConflict) {
		a.log.Error("slack: care action failed", "action", action, "id", id, "user", u.ID, "err", err)
		return ok().then(a.whisperError(channel, u))
	}
	return ok().then(a.whisper(ctx, p.TriggerID, channel, u.ID, m))
}

// viewSubmission answers the submission of a judge or reopen modal. Slack
// waits for the answer: nil closes the modal, errors keep it open with the
// message under the input concerned.
func (a *Adapter) viewSubmission(ctx context.Context, p interaction) reply {
	if p.User.ID == "" || p.View == nil {
		return bad("malformed view_submission payload")
	}
	switch p.View.CallbackID {
	case callbackJudge, callbackReopen, callbackAsk, callbackCare:
	default:
		return ok() // the details modal has nothing to submit
	}
	var meta modalMeta
	if err := json.Unmarshal([]byte(p.View.PrivateMetadata), &meta); err != nil || meta.Case == "" {
		return bad("malformed view_submission: no case")
	}
	u := a.user(ctx, p.User.ID)
	if p.TriggerID != "" {
		// Socket Mode redelivers a submission it thinks was lost.
		ctx = flows.WithDelivery(ctx, "slack:submit:"+p.TriggerID)
	}
	var (
		m     mamori.Message
		err   error
		field = blockReason
	)
	if p.View.CallbackID == callbackJudge {
		d := parseDecision(p.View.State)
		m, err = a.flows.Judge(ctx, u, meta.Case, d)
		field = blockOutcome
		if errors.Is(err, mamori.ErrInvalid) {
			field = decisionField(a.cfg.Policy, d)
		}
	} else if p.View.CallbackID == callbackCare {
		field = blockCareNote
		m, err = a.flows.CareAction(ctx, u, mamori.CareNoteAction, meta.Case, p.View.State.text(blockCareNote))
	} else if p.View.CallbackID == callbackAsk {
		field = blockQuestion
		m, err = a.flows.Ask(ctx, u, meta.Case, p.View.State.text(blockQuestion))
	} else {
		m, err = a.flows.Reopen(ctx, u, meta.Case, p.View.State.text(blockReason))
	}
	switch {
	case err == nil:
		res := reply{status: http.StatusOK, body: slackapi.NewClearViewSubmissionResponse()}
		if meta.Channel == "" {
			return res
		}
		return res.then(func(ctx context.Context) { a.ephemeral(ctx, meta.Channel, u.ID, m) })
	case refusal(err):
		a.log.Info("slack: submission refused", "callback", p.View.CallbackID, "case", meta.Case, "user", u.ID, "reason", err)
		return fieldError(field, plainText(m))
	default:
		// Keep the modal and what was typed: the person can submit again.
		a.log.Error("slack: submission failed", "callback", p.View.CallbackID, "case", meta.Case, "user", u.ID, "err", err)
		return fieldError(field, a.cfg.Policy.T(u.Lang, "slack.error"))
	}
}

func fieldError(blockID, msg string) reply {
	if msg == "" {
		msg = "!"
	}
	return reply{status: http.StatusOK, body: slackapi.NewErrorsViewSubmissionResponse(map[string]string{blockID: truncate(msg, maxHint)})}
}

// plainText is a message's words as one line of plain text.
func plainText(m mamori.Message) string {
	return strings.TrimSpace(strings.Join([]string{m.Header, m.Text}, " "))
}

// parseDecision reads the judge modal's state. What is missing or not
// among the offered values stays empty, for the flows to refuse.
func parseDecision(st *viewState) mamori.Decision {
	pick := func(block string, allowed []string) string {
		if v := st.selectedOne(block); slices.Contains(allowed, v) {
			return v
		}
		return ""
	}
	d := mamori.Decision{
		Facts:    st.text(blockFacts),
		Validity: pick(blockValidity, validityValues),
		Means:    pick(blockMeans, meansValues),
		Fault:    pick(blockFault, faultValues),
		Outcome:  pick(blockOutcome, outcomeValues),
		Note:     st.text(blockNote),
	}
	for _, v := range st.selectedMany(blockActions) {
		if v != "" && !slices.Contains(d.Actions, v) {
			d.Actions = append(d.Actions, v)
		}
	}
	return d
}

// decisionField names the input a refused decision most likely concerns.
func decisionField(p *mamori.Policy, d mamori.Decision) string {
	switch {
	case d.Validity == "":
		return blockValidity
	case d.Means == "":
		return blockMeans
	case d.Outcome == "":
		return blockOutcome
	case utf8.RuneCountInString(d.Facts) > maxInput:
		return blockFacts
	case utf8.RuneCountInString(d.Note) > maxInput:
		return blockNote
	}
	for _, id := range d.Actions {
		if !slices.ContainsFunc(p.Actions, func(o mamori.Option) bool { return o.ID == id }) {
			return blockActions
		}
	}
	return blockOutcome
}

// value returns the state of a modal input block's element.
func (st *viewState) value(block string) (stateValue, bool) {
	if st == nil {
		return stateValue{}, false
	}
	actions, found := st.Values[block]
	if !found {
		return stateValue{}, false
	}
	if v, found := actions[inputAction]; found {
		return v, true
	}
	for _, v := range actions {
		return v, true
	}
	return stateValue{}, false
}

func (st *viewState) text(block string) string {
	v, _ := st.value(block)
	if v.Value == nil {
		return ""
	}
	return strings.TrimSpace(*v.Value)
}

func (st *viewState) selectedOne(block string) string {
	v, _ := st.value(block)
	if v.SelectedOption != nil {
		return v.SelectedOption.Value
	}
	if len(v.SelectedOptions) == 1 {
		return v.SelectedOptions[0].Value
	}
	return ""
}

func (st *viewState) selectedMany(block string) []string {
	v, _ := st.value(block)
	var out []string
	for _, o := range v.SelectedOptions {
		out = append(out, o.Value)
	}
	return out
}
