package slack

// This file checks the ids in a verified request before anything acts on
// them. Slack's ids are short ASCII words: a capital letter saying what
// the id names, then capital letters and digits — U or W a person (W in
// an Enterprise Grid), C, D or G a conversation. An id of any other shape
// (not UTF-8, lower case, empty after its letter) did not come from Slack
// as Slack sends it; handed to the flows, it would start a conversation
// and queue messages no one can receive. Such a request is refused with
// 400 instead (acknowledged and dropped in Socket Mode).
//
// Slack calls its ids opaque and they have grown before, so only the
// alphabet and a generous length are checked, not today's 9 to 11
// characters.

// maxID is the longest id accepted.
const maxID = 64

// What an id's first letter may be.
const (
	userKinds    = "UW"
	channelKinds = "CDG"
)

// idOK reports whether id has the shape of a Slack id whose first letter
// is one of kinds.
func idOK(id, kinds string) bool {
	if len(id) < 2 || len(id) > maxID || !containsByte(kinds, id[0]) {
		return false
	}
	for i := 1; i < len(id); i++ {
		if c := id[i]; (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func containsByte(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}

// idField is one id of a request, named as Slack names the field.
type idField struct {
	name, id, kinds string
}

// badID names the first of fields whose id is set but not of its shape;
// "" when all are well formed. An empty id is left to the caller, which
// knows whether it is needed.
func badID(fields ...idField) string {
	for _, f := range fields {
		if f.id != "" && !idOK(f.id, f.kinds) {
			return f.name
		}
	}
	return ""
}

// badID names the first malformed id of a slash command.
func (c slashCommand) badID() string {
	return badID(idField{"user_id", c.UserID, userKinds}, idField{"channel_id", c.ChannelID, channelKinds})
}

// badID names the first malformed id of an event.
func (ev *event) badID() string {
	return badID(idField{"event.user", ev.User, userKinds}, idField{"event.channel", ev.Channel, channelKinds})
}

// badID names the first malformed id of an interaction: the clicker, the
// conversation, and any person chosen in a modal's or message's inputs,
// whom the flows may write to.
func (p *interaction) badID() string {
	if s := badID(idField{"user.id", p.User.ID, userKinds}, idField{"channel.id", p.Channel.ID, channelKinds},
		idField{"container.channel_id", p.Container.ChannelID, channelKinds}); s != "" {
		return s
	}
	for _, st := range []*viewState{p.State, p.viewState()} {
		if st == nil {
			continue
		}
		for _, actions := range st.Values {
			for _, v := range actions {
				if v.SelectedUser != nil && badID(idField{"selected_user", *v.SelectedUser, userKinds}) != "" {
					return "selected_user"
				}
			}
		}
	}
	return ""
}

// refuseID answers a request whose field holds a malformed id. The id
// itself is not logged: it may be anything.
func (a *Adapter) refuseID(what, field string) reply {
	a.log.Warn("slack: request refused: malformed id", "request", what, "field", field)
	return bad("malformed " + what + ": " + field + " is not a Slack id")
}
