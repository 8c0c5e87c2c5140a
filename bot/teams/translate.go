package teams

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/infracloudio/msbotbuilder-go/schema"

	"github.com/mamori-oss/mamori"
)

// This file turns one activity into flow inputs and the answer Teams
// waits for: nothing for a message, an invoke response for a card's
// button, a dialog for task/fetch and task/submit.

// teamsData is the part of an activity's channelData Mamori reads.
type teamsData struct {
	EventType string `json:"eventType"`
	Tenant    struct {
		ID string `json:"id"`
	} `json:"tenant"`
	Team struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"team"`
	Channel struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"channel"`
}

// teams reads the channelData once (it is asked for several times an
// activity).
func (act *activity) teams() teamsData {
	if act.td == nil {
		act.td = new(teamsData)
		if len(act.ChannelData) > 0 {
			_ = json.Unmarshal(act.ChannelData, act.td)
		}
	}
	return *act.td
}

func (act *activity) tenant() string {
	return firstNonEmpty(act.Conversation.TenantID, act.teams().Tenant.ID)
}

// personal reports whether the activity is in a 1:1 chat with the bot.
func (act *activity) personal() bool {
	ct := act.Conversation.ConversationType
	return ct == "personal" || (ct == "" && !act.Conversation.IsGroup)
}

func (a *Adapter) activity(ctx context.Context, act *activity) reply {
	switch act.Type {
	case schema.Message:
		return a.message(ctx, act)
	case schema.Invoke:
		return a.invoke(ctx, act)
	case schema.ConversationUpdate, schema.InstallationUpdate:
		return a.installed(ctx, act)
	}
	return answer(http.StatusOK)
}

// remember stores how to reach this conversation later: the person's
// 1:1 chat (by Entra object id and email), or the channel. An unchanged
// reference is written at most once an hour.
func (a *Adapter) remember(ctx context.Context, act *activity, u mamori.User) {
	ref := Ref{ServiceURL: act.ServiceURL, Tenant: act.tenant(), Bot: act.Recipient.ID}
	a.put(ctx, serviceKey, ref)
	td := act.teams()
	if act.personal() {
		ref.Conversation = act.Conversation.ID
		ref.User, ref.AadObjectID, ref.Name, ref.Email = act.From.ID, act.From.AadObjectID, u.Name, u.Email
		a.put(ctx, userKey(u.ID), ref)
		if u.Email != "" {
			a.put(ctx, emailKey(u.Email), ref)
		}
		return
	}
	if u.ID != "" && u.Name != "" {
		// Who acted in a channel: their name, for mentions of them.
		a.put(ctx, nameKey(u.ID), Ref{ServiceURL: act.ServiceURL, Name: u.Name})
	}
	if act.Conversation.ConversationType == "channel" || td.Team.ID != "" {
		ref.Conversation = baseConversation(firstNonEmpty(td.Channel.ID, act.Conversation.ID))
		ref.Name, ref.Team = td.Channel.Name, td.Team.ID
		a.put(ctx, channelKey(ref.Conversation), ref)
	}
}

func (a *Adapter) put(ctx context.Context, key string, ref Ref) {
	if ref.ServiceURL == "" {
		return
	}
	now := a.now()
	a.mu.Lock()
	w, ok := a.written[key]
	a.mu.Unlock()
	if ok && w.ref == ref && now.Sub(w.at) < refEvery && now.Sub(w.at) >= 0 {
		return
	}
	b, err := json.Marshal(ref)
	if err != nil {
		return
	}
	if err := a.refs.PutReference(ctx, key, b); err != nil {
		a.log.Error("teams: could not store a conversation reference", "key", key, "err", err)
		return
	}
	a.mu.Lock()
	if len(a.written) > 20000 {
		clear(a.written)
	}
	a.written[key] = writtenRef{ref: ref, at: now}
	a.mu.Unlock()
}

// startWords are what may be typed to open the menu (Teams has no slash
// command; the manifest's command list offers them).
var startWords = map[string]string{
	"menu": "", "メニュー": "", "help": "", "ヘルプ": "", "kasuhara": "", "start": "",
	"report": mamori.StartReport, "報告": mamori.StartReport,
	"consult": mamori.StartConsult, "相談": mamori.StartConsult,
	"policy": mamori.StartPolicy, "方針": mamori.StartPolicy,
	"sos": mamori.StartSOS, "助けて": mamori.StartSOS, "たすけて": mamori.StartSOS,
	"check": mamori.StartCheck, "確認": mamori.StartCheck,
}

// homeWords show the overview (Slack's App Home): the person's cases,
// each with its status and what comes next.
var homeWords = map[string]bool{"home": true, "ホーム": true, "my cases": true, "status": true,
	"状況": true, "自分の案件": true, "案件": true}

// command reads a typed command: "menu", "/kasuhara 報告", "report".
func (a *Adapter) command(text string) (start string, home, ok bool) {
	t := strings.ToLower(strings.Join(strings.Fields(text), " "))
	cmd := strings.ToLower(strings.TrimPrefix(firstNonEmpty(a.cfg.Command, "/kasuhara"), "/"))
	for _, p := range []string{"/" + cmd + " ", cmd + " "} {
		if rest, found := strings.CutPrefix(t, p); found {
			v, known := startWords[rest]
			return v, false, known
		}
	}
	if t == cmd || t == "/"+cmd {
		return "", false, true
	}
	if homeWords[t] {
		return "", true, true
	}
	v, known := startWords[t]
	return v, false, known
}

// message handles a message: in the 1:1 chat what the person typed or
// sent, and anywhere a card's Action.Submit (older clients).
func (a *Adapter) message(ctx context.Context, act *activity) reply {
	if act.From.ID == "" || act.From.ID == act.Recipient.ID {
		return answer(http.StatusOK)
	}
	d, data, isOurs := ours(act.Value)
	if !act.personal() && !isOurs {
		// Channel chatter that mentions the bot: nothing to do.
		a.remember(ctx, act, mamori.User{})
		return answer(http.StatusOK)
	}
	u := a.user(ctx, act)
	a.remember(ctx, act, u)
	if isOurs {
		return a.action(ctx, act, u, d, data, false)
	}
	text := cleanText(act.Text)
	files := attachedFiles(act.Attachments)
	if utf8.RuneCountInString(text) > MaxText {
		return answer(http.StatusOK).then(a.sayLater(act, u.Lang, "teams.too_long"))
	}
	if text == "" && len(files) == 0 {
		return answer(http.StatusOK)
	}
	in := mamori.Input{Kind: mamori.InputText, User: u, Text: text, Delivery: delivery(act)}
	if len(files) > 0 {
		in.Kind, in.Files = mamori.InputFile, files
	} else if start, home, ok := a.command(text); ok {
		if home {
			return answer(http.StatusOK).then(func(ctx context.Context) { a.home(ctx, act, u) })
		}
		in = mamori.Input{Kind: mamori.InputStart, User: u, Value: start, Delivery: in.Delivery}
	}
	return a.handle(ctx, act, in)
}

// delivery names an activity for the flows' dedupe: the Connector sends
// a retried activity with the same id.
func delivery(act *activity) string {
	if act.ID == "" {
		return ""
	}
	return "teams:" + act.Conversation.ID + ":" + act.ID
}

// cleanText is what a person typed: the bot's @mention removed, Teams'
// few HTML entities undone.
func cleanText(s string) string {
	for {
		i := strings.Index(s, "<at>")
		j := strings.Index(s, "</at>")
		if i < 0 || j < i {
			break
		}
		s = s[:i] + s[j+len("</at>"):]
	}
	s = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&nbsp;", " ").Replace(s)
	return strings.TrimSpace(s)
}

// attachedFiles lists the files sent in the chat: Teams' file download
// info, and pictures pasted inline.
func attachedFiles(atts []schema.Attachment) []mamori.File {
	var files []mamori.File
	for _, at := range atts {
		switch {
		case at.ContentType == "application/vnd.microsoft.teams.file.download.info":
			var c struct {
				DownloadURL string `json:"downloadUrl"`
				UniqueID    string `json:"uniqueId"`
				FileType    string `json:"fileType"`
			}
			b, _ := json.Marshal(at.Content)
			_ = json.Unmarshal(b, &c)
			files = append(files, mamori.File{ID: firstNonEmpty(c.UniqueID, at.Name), Name: firstNonEmpty(at.Name, c.UniqueID, "file"), URL: at.ContentURL})
		case strings.HasPrefix(at.ContentType, "image/") && at.ContentURL != "":
			files = append(files, mamori.File{ID: at.ContentURL, Name: firstNonEmpty(at.Name, "image"), URL: at.ContentURL})
		}
	}
	return files
}

// handle hands in to the flows. A failure gets a word to the person; the
// Connector is told 500, and their text is still in the chat to send again.
func (a *Adapter) handle(ctx context.Context, act *activity, in mamori.Input) reply {
	err := a.flows.Handle(ctx, in)
	if err == nil || errors.Is(err, mamori.ErrStale) {
		return answer(http.StatusOK)
	}
	a.log.Error("teams: handle failed", "user", in.User.ID, "kind", in.Kind, "delivery", in.Delivery, "err", err)
	if errors.Is(err, mamori.ErrInvalid) {
		return answer(http.StatusOK).then(a.sayLater(act, in.User.Lang, "teams.error"))
	}
	return answer(http.StatusInternalServerError).then(a.sayLater(act, in.User.Lang, "teams.error"))
}

// sayLater posts a text of the adapter's own in the activity's
// conversation, after the answer.
func (a *Adapter) sayLater(act *activity, l mamori.Lang, key string) func(context.Context) {
	text := a.cfg.Policy.T(l, key)
	service, conv := act.ServiceURL, act.Conversation.ID
	return func(ctx context.Context) {
		if _, err := a.conn.Send(ctx, service, conv, outActivity{Type: "message", Text: text}); err != nil {
			a.log.Error("teams: could not say so", "key", key, "err", err)
		}
	}
}

// home posts the overview in the person's 1:1 chat.
func (a *Adapter) home(ctx context.Context, act *activity, u mamori.User) {
	c, err := a.homeCard(ctx, u)
	if err != nil {
		a.sayLater(act, u.Lang, "teams.error")(ctx)
		return
	}
	m := mamori.Message{Header: a.cfg.Policy.T(u.Lang, "home.header")}
	out := outActivity{Type: "message", Summary: truncate(Fallback(m), 200),
		Attachments: []schema.Attachment{{ContentType: CardContentType, Content: c}}}
	if _, err := a.conn.Send(ctx, act.ServiceURL, act.Conversation.ID, out); err != nil {
		a.log.Error("teams: could not post the overview", "user", u.ID, "err", err)
	}
}

// homeCard is the overview of u's cases (flows' Home), with a button
// that shows it again, up to date.
func (a *Adapter) homeCard(ctx context.Context, u mamori.User) (card, error) {
	m, err := a.flows.Home(ctx, u)
	if err != nil {
		a.log.Error("teams: home failed", "user", u.ID, "err", err)
		return nil, err
	}
	m.Controls = append(m.Controls, homeChoice(a.cfg.Policy, u.Lang, "teams.home.refresh"))
	return Card(m, nil), nil
}

// homeValue is the value of the button that shows the overview; it is
// the adapter's, never handed to the flows.
const homeValue = "teams:home"

// homeChoice is the button that shows the overview, titled by key.
func homeChoice(p *mamori.Policy, l mamori.Lang, key string) mamori.Choice {
	return mamori.Choice{Value: homeValue, Label: p.T(l, key)}
}

// ours reads Mamori's action data from an activity's value (Action.Submit)
// or an Action.Execute's data; the rest of the map is the inputs' values.
func ours(v map[string]any) (actionData, formValues, bool) {
	if v == nil {
		return actionData{}, nil, false
	}
	var d actionData
	b, err := json.Marshal(v)
	if err != nil || json.Unmarshal(b, &d) != nil || d.Mamori != 1 || d.Kind == "" {
		return actionData{}, nil, false
	}
	return d, formValues(v), true
}

// installed answers conversationUpdate and installationUpdate: when Mamori
// is added to a team, a channel or a person's chat, it stores the
// reference; a person who adds it is greeted with the menu.
func (a *Adapter) installed(ctx context.Context, act *activity) reply {
	added := act.Type == schema.InstallationUpdate && (act.Action == "add" || act.Action == "add-upgrade")
	for _, m := range act.MembersAdded {
		if m.ID != "" && m.ID == act.Recipient.ID {
			added = true
		}
	}
	td := act.teams()
	switch td.EventType {
	case "channelCreated", "channelRenamed", "channelRestored", "teamRenamed":
		added = true
	}
	if !added {
		return answer(http.StatusOK)
	}
	if !act.personal() {
		a.remember(ctx, act, mamori.User{})
		ch := baseConversation(firstNonEmpty(td.Channel.ID, act.Conversation.ID))
		a.log.Info("teams: Mamori is in a channel; name it in the configuration by this id",
			"channel", ch, "channel_name", firstNonEmpty(td.Channel.Name, "General"), "team", td.Team.Name)
		return answer(http.StatusOK)
	}
	if act.From.ID == "" || act.From.ID == act.Recipient.ID {
		return answer(http.StatusOK)
	}
	u := a.user(ctx, act)
	a.remember(ctx, act, u)
	// The welcome is the menu in the person's language; when Teams did
	// not say which, in English and then Japanese (the default, last, so
	// it stays the conversation's). Their first click or message carries
	// their locale, and Mamori goes on in that language.
	welcome := []mamori.Input{{Kind: mamori.InputStart, User: u, Delivery: "teams:welcome:" + act.Conversation.ID}}
	if act.locale() == "" {
		en := welcome[0]
		en.User.Lang, en.Delivery = mamori.EN, en.Delivery+":"+string(mamori.EN)
		welcome = []mamori.Input{en, welcome[0]}
	}
	return answer(http.StatusOK).then(func(ctx context.Context) {
		for _, in := range welcome {
			if err := a.flows.Handle(ctx, in); err != nil && !errors.Is(err, mamori.ErrStale) {
				a.log.Error("teams: welcome failed", "user", u.ID, "lang", in.User.Lang, "err", err)
				return
			}
		}
	})
}
