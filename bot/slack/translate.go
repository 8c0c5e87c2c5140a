package slack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/mamori-oss/mamori"
)

// This file is the one translation path shared by HTTP and Socket Mode:
// each request becomes a reply (what to acknowledge with) and, maybe, work
// to do after the acknowledgement.

// reply is the answer to one Slack request, whichever transport carried it.
type reply struct {
	// status is the HTTP status. Only 200 is acknowledged in Socket Mode;
	// anything else lets Slack retry or show its own error.
	status int
	// body is the acknowledgement's JSON payload, or nil.
	body any
	// text is a short plain-text body for an HTTP error.
	text string
	// after runs once the acknowledgement is sent.
	after func(ctx context.Context)
	// stale marks a click on an earlier question: acknowledged, but the
	// clicked message is not marked answered.
	stale bool
}

func ok() reply                      { return reply{status: http.StatusOK} }
func bad(text string) reply          { return reply{status: http.StatusBadRequest, text: text} }
func ephemeralAck(text string) reply { return reply{status: http.StatusOK, body: ephemeralBody(text)} }
func ephemeralBody(text string) any {
	return map[string]string{"response_type": "ephemeral", "text": text}
}
func failed() reply {
	return reply{status: http.StatusInternalServerError, text: "temporary failure; retry"}
}
func (r reply) then(fn func(context.Context)) reply { r.after = fn; return r }

// slashCommand is the part of a slash command Mamori reads. Over HTTP it
// arrives form-encoded; over Socket Mode as the same fields in JSON.
type slashCommand struct {
	Command   string `json:"command"`
	Text      string `json:"text"`
	UserID    string `json:"user_id"`
	ChannelID string `json:"channel_id"`
	TriggerID string `json:"trigger_id"`
}

// startWords maps what may follow the command to where to start.
var startWords = map[string]string{
	"report": mamori.StartReport, "報告": mamori.StartReport,
	"consult": mamori.StartConsult, "相談": mamori.StartConsult,
	"policy": mamori.StartPolicy, "方針": mamori.StartPolicy,
	"sos": mamori.StartSOS, "助けて": mamori.StartSOS, "たすけて": mamori.StartSOS,
	"check": mamori.StartCheck, "確認": mamori.StartCheck,
}

func (a *Adapter) command(ctx context.Context, c slashCommand) reply {
	if c.UserID == "" {
		return bad("malformed slash command: no user_id")
	}
	if s := c.badID(); s != "" {
		return a.refuseID("slash command", s)
	}
	u := a.user(ctx, c.UserID)
	in := mamori.Input{
		Kind:  mamori.InputStart,
		User:  u,
		Value: startWords[strings.ToLower(strings.TrimSpace(c.Text))],
	}
	// "/kasuhara 確認 090-1234-5678" checks that customer at once: the
	// flows read the customer from the text.
	if f := strings.Fields(c.Text); len(f) > 0 && startWords[strings.ToLower(f[0])] == mamori.StartCheck {
		in.Value, in.Text = mamori.StartCheck, strings.TrimSpace(c.Text)
	}
	if c.TriggerID != "" {
		in.Delivery = "command:" + c.TriggerID
	}
	if err := a.flows.Handle(ctx, in); err != nil {
		// Slack never retries a slash command; the person gets a clear
		// answer and can run it again.
		a.log.Error("slack: slash command failed", "user", c.UserID, "err", err)
		return ephemeralAck(a.cfg.Policy.T(u.Lang, "slack.error"))
	}
	a.mu.Lock()
	inDM := c.ChannelID != "" && a.dms[c.UserID] == c.ChannelID
	a.mu.Unlock()
	if inDM {
		return ok() // used in the DM itself: what it starts is there
	}
	return ephemeralAck(a.cfg.Policy.T(u.Lang, "slack.command_ack"))
}

// eventEnvelope is an Events API request: url_verification or
// event_callback (over Socket Mode, the events_api payload).
type eventEnvelope struct {
	Type      string          `json:"type"`
	Challenge string          `json:"challenge"`
	EventID   string          `json:"event_id"`
	Event     json.RawMessage `json:"event"`
}

// event is the part of a message.im or app_home_opened event Mamori reads.
type event struct {
	Type        string      `json:"type"`
	Subtype     string      `json:"subtype"`
	User        string      `json:"user"`
	BotID       string      `json:"bot_id"`
	Channel     string      `json:"channel"`
	ChannelType string      `json:"channel_type"`
	Text        string      `json:"text"`
	Tab         string      `json:"tab"`
	Files       []eventFile `json:"files"`
}

type eventFile struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Title     string `json:"title"`
	Permalink string `json:"permalink"`
}

func (a *Adapter) events(ctx context.Context, body []byte, socket bool) reply {
	var env eventEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return bad("malformed event: not JSON")
	}
	switch env.Type {
	case "url_verification":
		if socket {
			return ok()
		}
		return reply{status: http.StatusOK, body: map[string]string{"challenge": env.Challenge}}
	case "event_callback":
	case "":
		if !socket {
			return bad("malformed event: no type")
		}
	default:
		return ok() // app_rate_limited and the like
	}
	if len(env.Event) == 0 {
		return bad("malformed event: no event")
	}
	var ev event
	if err := json.Unmarshal(env.Event, &ev); err != nil {
		return bad("malformed event")
	}
	if s := ev.badID(); s != "" {
		return a.refuseID("event", s)
	}
	switch ev.Type {
	case "message":
		return a.message(ctx, env.EventID, ev)
	case "app_home_opened":
		if ev.Tab != "home" || ev.User == "" {
			return ok()
		}
		return ok().then(func(ctx context.Context) { a.publishHome(ctx, ev.User) })
	}
	return ok()
}

var slackUnescape = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// message turns a direct message to the bot into text or file input.
func (a *Adapter) message(ctx context.Context, eventID string, ev event) reply {
	// Only what a person typed or sent: no edits, deletions, joins, bots.
	if ev.ChannelType != "im" || ev.User == "" || ev.BotID != "" ||
		(ev.Subtype != "" && ev.Subtype != "file_share") {
		return ok()
	}
	if ev.User == a.botUserID(ctx) {
		return ok()
	}
	a.mu.Lock()
	if len(a.dms) > 10000 {
		clear(a.dms)
	}
	a.dms[ev.User] = ev.Channel
	a.mu.Unlock()
	// Slack escapes &, < and > in message text; keep what the person typed.
	text := strings.TrimSpace(slackUnescape.Replace(ev.Text))
	if text == "" && len(ev.Files) == 0 {
		return ok()
	}
	u := a.user(ctx, ev.User)
	if utf8.RuneCountInString(text) > MaxText {
		return ok().then(func(ctx context.Context) {
			a.ephemeral(ctx, ev.Channel, ev.User, textMessage(a.cfg.Policy.T(u.Lang, "slack.too_long")))
		})
	}
	in := mamori.Input{Kind: mamori.InputText, User: u, Text: text, Delivery: eventID}
	for _, f := range ev.Files {
		in.Kind = mamori.InputFile
		in.Files = append(in.Files, mamori.File{ID: f.ID, Name: firstNonEmpty(f.Name, f.Title, f.ID), URL: f.Permalink})
	}
	return a.handle(ctx, in, ev.Channel)
}

// handle hands in to the flows and acknowledges only once it committed. A
// failure is not acknowledged, so Slack retries; the Delivery makes the
// retry safe. Input the flows call invalid is not worth a retry.
func (a *Adapter) handle(ctx context.Context, in mamori.Input, channel string) reply {
	err := a.flows.Handle(ctx, in)
	if err == nil {
		return ok()
	}
	if errors.Is(err, mamori.ErrStale) {
		return reply{status: http.StatusOK, stale: true}
	}
	a.log.Error("slack: handle failed", "user", in.User.ID, "kind", in.Kind, "delivery", in.Delivery, "err", err)
	oops := func(ctx context.Context) {
		if channel != "" {
			a.ephemeral(ctx, channel, in.User.ID, textMessage(a.cfg.Policy.T(in.User.Lang, "slack.error")))
		}
	}
	if errors.Is(err, mamori.ErrInvalid) {
		return ok().then(oops)
	}
	if in.Kind == mamori.InputText || in.Kind == mamori.InputFile {
		return failed() // Slack retries events
	}
	return failed().then(oops) // Slack does not retry clicks: say so
}

func textMessage(s string) mamori.Message { return mamori.Message{Text: s} }

// interaction is the part of an interactivity payload Mamori reads.
type interaction struct {
	Type      string `json:"type"`
	TriggerID string `json:"trigger_id"`
	// CallbackID and ActionTS name a shortcut and when it was used
	// (shortcut.go).
	CallbackID string `json:"callback_id"`
	ActionTS   string `json:"action_ts"`
	// ResponseURL answers a click where it was made (respond.go).
	ResponseURL string `json:"response_url"`
	User        struct {
		ID string `json:"id"`
	} `json:"user"`
	Channel struct {
		ID string `json:"id"`
	} `json:"channel"`
	Container struct {
		Type      string `json:"type"`
		ChannelID string `json:"channel_id"`
		MessageTS string `json:"message_ts"`
	} `json:"container"`
	Actions []blockAction `json:"actions"`
	State   *viewState    `json:"state"`
	Message *struct {
		Blocks []payloadBlock `json:"blocks"`
	} `json:"message"`
	View *struct {
		ID              string         `json:"id"`
		CallbackID      string         `json:"callback_id"`
		PrivateMetadata string         `json:"private_metadata"`
		State           *viewState     `json:"state"`
		Blocks          []payloadBlock `json:"blocks"`
	} `json:"view"`
}

type blockAction struct {
	Text *struct {
		Text string `json:"text"`
	} `json:"text"`
	Type            string   `json:"type"`
	ActionID        string   `json:"action_id"`
	BlockID         string   `json:"block_id"`
	Value           string   `json:"value"`
	ActionTS        string   `json:"action_ts"`
	SelectedOptions []option `json:"selected_options"`
}

type option struct {
	Value string `json:"value"`
	Text  *struct {
		Text string `json:"text"`
	} `json:"text,omitempty"`
}

// viewState holds the inputs' current values: block id → action id →
// value.
type viewState struct {
	Values map[string]map[string]stateValue `json:"values"`
}

// stateValue is one input's value: typed text, a radio button or select
// choice, the ticked checkboxes, or a chosen person.
type stateValue struct {
	Type            string   `json:"type"`
	Value           *string  `json:"value"`
	SelectedOption  *option  `json:"selected_option"`
	SelectedOptions []option `json:"selected_options"`
	SelectedUser    *string  `json:"selected_user"`
}

type payloadBlock struct {
	BlockID  string `json:"block_id"`
	Elements []struct {
		Type           string   `json:"type"`
		InitialOptions []option `json:"initial_options"`
	} `json:"elements"`
}

func (a *Adapter) interaction(ctx context.Context, body []byte) reply {
	var p interaction
	if err := json.Unmarshal(body, &p); err != nil {
		return bad("malformed interaction payload: not JSON")
	}
	if s := p.badID(); s != "" {
		return a.refuseID("interaction", s)
	}
	switch p.Type {
	case "block_actions":
	case "view_submission":
		return a.viewSubmission(ctx, p)
	case "shortcut", "message_action":
		return a.shortcut(ctx, p)
	default:
		return ok() // view_closed: nothing to do
	}
	if p.User.ID == "" || len(p.Actions) == 0 {
		return bad("malformed block_actions payload")
	}
	act := p.Actions[0]
	kind, step, isOurs := parseBlockID(act.BlockID)
	if !isOurs {
		return ok()
	}
	channel := firstNonEmpty(p.Channel.ID, p.Container.ChannelID)
	switch kind {
	case kindMulti:
		return ok() // a checkbox toggled; the submit button reads them all
	case kindChoice, kindControl:
		if step == mamori.StepCard {
			if action, found := mamori.ParseAction(act.Value); found {
				if action.Kind == mamori.CardDetails {
					return a.details(ctx, p, action.Subject, channel)
				}
				return a.act(ctx, p, action, channel)
			}
		}
		in := mamori.Input{Kind: mamori.InputChoice, Step: step, Value: act.Value}
		in.User = a.user(ctx, p.User.ID)
		in.Delivery = actionDelivery(p.User.ID, act)
		in.Respond = p.respondInDM(channel, a.cfg.APIURL)
		label := ""
		if act.Text != nil {
			label = act.Text.Text
		}
		return a.answered(a.handle(ctx, in, channel), body, channel, p.Container.MessageTS, label, act.Value, in.Respond)
	case kindSubmit:
		in := mamori.Input{Kind: mamori.InputMulti, Step: step, Value: act.Value, Values: p.selected(step)}
		in.User = a.user(ctx, p.User.ID)
		in.Delivery = actionDelivery(p.User.ID, act)
		in.Respond = p.respondInDM(channel, a.cfg.APIURL)
		return a.answered(a.handle(ctx, in, channel), body, channel, p.Container.MessageTS, p.selectedLabels(in.User.Lang), "", in.Respond)
	}
	return ok()
}

// respondInDM returns the click's response_url when the click was in the
// app's DM with the clicker, where the flows' replies to it go; a
// response_url elsewhere would answer in that channel.
func (p *interaction) respondInDM(channel, apiURL string) string {
	if !strings.HasPrefix(channel, "D") || p.Container.Type == "view" || !responseURLOK(p.ResponseURL, apiURL) {
		return ""
	}
	return p.ResponseURL
}

// answered, after a click in a DM was committed, updates the question in
// place: its buttons give way to a line with the answer, as Slack apps do,
// so an old question cannot be clicked by mistake. With the click's
// response_url (respond) that is one of its five uses, outside the Web
// API's rate limits, so every question is marked. Without one it is a
// chat.update with a share of that method's rate limit of its own; past
// that, under heavy use, questions keep their buttons (clicking one again
// is answered as a stale click). It is cosmetic: when it fails, nothing
// is lost. A click that answers only itself (clicked, see partial) takes
// its own button away and leaves the others.
func (a *Adapter) answered(res reply, body []byte, channel, ts, label, clicked, respondURL string) reply {
	if res.status != http.StatusOK || res.stale || res.after != nil || ts == "" || !strings.HasPrefix(channel, "D") {
		return res
	}
	if respondURL == "" && !a.cosmetic.Allow() {
		return res
	}
	// The message is decoded only if the update runs: a busy server
	// drops it (see later) without paying for it.
	return res.then(func(ctx context.Context) {
		var raw struct {
			Message struct {
				Blocks slackapi.Blocks `json:"blocks"`
			} `json:"message"`
		}
		if err := json.Unmarshal(body, &raw); err != nil || len(raw.Message.Blocks.BlockSet) == 0 {
			return
		}
		var keep []slackapi.Block
		for _, b := range raw.Message.Blocks.BlockSet {
			if kind, _, ours := parseBlockID(b.ID()); ours && kind != "" {
				// The buttons and checkboxes.
				if rest := withoutButton(b, clicked); partial(clicked) && rest != nil {
					keep = append(keep, rest)
				}
				continue
			}
			keep = append(keep, b)
		}
		if label == "" {
			label = "…"
		}
		keep = append(keep, contextBlock("✓ "+label))
		if respondURL != "" {
			err := respond(ctx, respondURL, responseMessage{Text: "✓ " + label, Blocks: slackapi.Blocks{BlockSet: keep}, ReplaceOriginal: true})
			if err == nil {
				return
			}
			a.log.Info("slack: response_url could not mark a question answered; trying chat.update", "err", err)
			if !a.cosmetic.Allow() {
				return
			}
		}
		_, _, _, err := a.api.UpdateMessageContext(ctx, channel, ts,
			slackapi.MsgOptionText("✓ "+label, false), slackapi.MsgOptionBlocks(keep...))
		if err != nil {
			a.log.Warn("slack: could not mark a question answered", "err", err)
		}
	})
}

// partial reports whether a click with value answers only itself, not
// the message it is on: skipping the SOS's one question (where are you?)
// leaves "I'm safe now" beside it to press.
func partial(value string) bool {
	return strings.HasPrefix(value, mamori.SOSSkip+":")
}

// withoutButton is the actions block b without the button whose value is
// value; nil when nothing is left, or b is no actions block.
func withoutButton(b slackapi.Block, value string) slackapi.Block {
	ab, isActions := b.(*slackapi.ActionBlock)
	if !isActions || ab.Elements == nil {
		return nil
	}
	var rest []slackapi.BlockElement
	for _, e := range ab.Elements.ElementSet {
		if btn, isButton := e.(*slackapi.ButtonBlockElement); isButton && btn.Value == value {
			continue
		}
		rest = append(rest, e)
	}
	if len(rest) == 0 {
		return nil
	}
	return slackapi.NewActionBlock(ab.BlockID, rest...)
}

// selectedLabels lists the labels of the ticked checkboxes, separated
// as the reader's language does.
func (p *interaction) selectedLabels(l mamori.Lang) string {
	if p.State == nil {
		return ""
	}
	var labels []string
	for _, actions := range p.State.Values {
		for _, v := range actions {
			for _, o := range v.SelectedOptions {
				if o.Text != nil {
					labels = append(labels, o.Text.Text)
				}
			}
		}
	}
	sort.Strings(labels)
	if l == mamori.EN {
		return strings.Join(labels, ", ")
	}
	return strings.Join(labels, "、")
}

// actionDelivery names one click: Slack does not resend clicks, but Socket
// Mode may redeliver an envelope that was not acknowledged in time.
func actionDelivery(user string, act blockAction) string {
	return "action:" + act.ActionTS + ":" + user + ":" + act.BlockID + ":" + act.ActionID
}

// selected reads the multi-select's current answer for step from the
// payload's state, across every checkbox block of that step, in block
// order. A block missing from the state keeps its initial options.
func (p *interaction) selected(step string) []string {
	type group struct {
		n      int
		values []string
	}
	found := map[string]*group{}
	// The rendered blocks first: initial selections.
	var blocks []payloadBlock
	if p.Message != nil {
		blocks = p.Message.Blocks
	}
	if p.View != nil && len(blocks) == 0 {
		blocks = p.View.Blocks
	}
	for _, b := range blocks {
		kind, s, isOurs := parseBlockID(b.BlockID)
		if !isOurs || kind != kindMulti || s != step {
			continue
		}
		g := &group{n: blockIndex(b.BlockID), values: []string{}}
		for _, e := range b.Elements {
			for _, o := range e.InitialOptions {
				g.values = append(g.values, o.Value)
			}
		}
		found[b.BlockID] = g
	}
	// Then the current state, which wins.
	for _, st := range []*viewState{p.State, p.viewState()} {
		if st == nil {
			continue
		}
		for blockID, actions := range st.Values {
			kind, s, isOurs := parseBlockID(blockID)
			if !isOurs || kind != kindMulti || s != step {
				continue
			}
			g := &group{n: blockIndex(blockID), values: []string{}}
			for _, v := range actions {
				for _, o := range v.SelectedOptions {
					g.values = append(g.values, o.Value)
				}
			}
			found[blockID] = g
		}
	}
	groups := make([]*group, 0, len(found))
	for _, g := range found {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].n < groups[j].n })
	values := []string{}
	for _, g := range groups {
		values = append(values, g.values...)
	}
	return values
}

func (p *interaction) viewState() *viewState {
	if p.View == nil {
		return nil
	}
	return p.View.State
}

// details shows a case's confidential detail in a modal to a viewer who
// may see it, and the flows' refusal, only to the clicker, otherwise.
func (a *Adapter) details(ctx context.Context, p interaction, number, channel string) reply {
	u := a.user(ctx, p.User.ID)
	m, err := a.flows.CaseDetails(ctx, u, number)
	switch {
	case err == nil:
		if _, err := a.api.OpenViewContext(ctx, p.TriggerID, ModalView(m)); err != nil {
			a.log.Error("slack: views.open failed", "case", number, "err", err)
			return ok().then(func(ctx context.Context) {
				a.ephemeral(ctx, channel, u.ID, textMessage(a.cfg.Policy.T(u.Lang, "slack.error")))
			})
		}
		return ok()
	case errors.Is(err, mamori.ErrForbidden):
		a.log.Info("slack: case details refused", "case", number, "user", u.ID)
		if channel == "" {
			// No channel to whisper in (App Home): the refusal is a modal.
			if _, err := a.api.OpenViewContext(ctx, p.TriggerID, ModalView(m)); err != nil {
				a.log.Error("slack: views.open failed", "case", number, "err", err)
			}
			return ok()
		}
		return ok().then(func(ctx context.Context) { a.ephemeral(ctx, channel, u.ID, m) })
	default:
		a.log.Error("slack: case details failed", "case", number, "user", u.ID, "err", err)
		return ok().then(func(ctx context.Context) {
			a.ephemeral(ctx, channel, u.ID, textMessage(a.cfg.Policy.T(u.Lang, "slack.error")))
		})
	}
}

// ephemeral shows m to user only, in channel.
func (a *Adapter) ephemeral(ctx context.Context, channel, user string, m mamori.Message) {
	if channel == "" {
		return
	}
	_, err := a.api.PostEphemeralContext(ctx, channel, user,
		slackapi.MsgOptionBlocks(Blocks(m)...), slackapi.MsgOptionText(Fallback(m), false))
	if err != nil {
		a.log.Error("slack: chat.postEphemeral failed", "channel", channel, "err", err)
	}
}

// publishHome renders the flows' App Home for user with views.publish.
func (a *Adapter) publishHome(ctx context.Context, userID string) {
	u := a.user(ctx, userID)
	m, err := a.flows.Home(ctx, u)
	if err != nil {
		a.log.Error("slack: home failed", "user", userID, "err", err)
		return
	}
	if _, err := a.api.PublishViewContext(ctx, slackapi.PublishViewContextRequest{UserID: userID, View: HomeView(m)}); err != nil {
		a.log.Error("slack: views.publish failed", "user", userID, "err", err)
	}
}

// Block and action ids carry what a click means: "<kind>/<n>/<step>".
const (
	kindChoice  = "choice"
	kindControl = "control"
	kindMulti   = "multi"
	kindSubmit  = "submit"
)

func blockID(kind string, n int, step string) string {
	return kind + "/" + strconv.Itoa(n) + "/" + step
}

func parseBlockID(id string) (kind, step string, isOurs bool) {
	kind, rest, found := strings.Cut(id, "/")
	if !found {
		return "", "", false
	}
	n, step, found := strings.Cut(rest, "/")
	if !found {
		return "", "", false
	}
	if _, err := strconv.Atoi(n); err != nil {
		return "", "", false
	}
	switch kind {
	case kindChoice, kindControl, kindMulti, kindSubmit:
		return kind, step, true
	}
	return "", "", false
}

func blockIndex(id string) int {
	_, rest, _ := strings.Cut(id, "/")
	n, _, _ := strings.Cut(rest, "/")
	i, _ := strconv.Atoi(n)
	return i
}
