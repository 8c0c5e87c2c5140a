package teams

import "net/http"

// This file checks the ids of an authenticated activity before anything
// acts on them. The Bot Framework's ids are ASCII: a person's Teams id
// (29:…), the bot's (28:…), conversations (a:…, 19:…@thread.tacv2, with
// ;messageid=… in a channel), and Entra ids — the person's object id and
// the tenant — which are GUIDs. An id that is not (not UTF-8, with
// spaces or control characters, absurdly long) did not come from Teams
// as Teams sends it; handed on, it would become a stored reference and
// queued messages no one can receive. Such an activity is refused with
// 400 instead.
//
// Entra ids are checked for a GUID's alphabet, widened to every letter
// (a local emulator's ids, and the aad-… of Mamori's tests and bench),
// rather than its exact layout; other ids for printable ASCII. What
// matters is that they can be sent to.

// Longest ids accepted.
const (
	maxID       = 512 // a conversation id with its ;messageid=…
	maxObjectID = 64  // a GUID is 36
)

// idOK reports whether id is a Bot Framework id: printable ASCII without
// spaces.
func idOK(id string) bool {
	if id == "" || len(id) > maxID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// objectIDOK reports whether id is an Entra id: letters, digits and
// dashes.
func objectIDOK(id string) bool {
	if id == "" || len(id) > maxObjectID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && c != '-' {
			return false
		}
	}
	return true
}

// badID names the first id of the activity that is set but malformed; ""
// when all are well formed. An empty id is left to the code that reads
// it, which knows whether it is needed.
func (act *activity) badID() string {
	td := act.teams()
	for _, f := range []struct {
		name, id string
		ok       func(string) bool
	}{
		{"from.id", act.From.ID, idOK},
		{"from.aadObjectId", act.From.AadObjectID, objectIDOK},
		{"recipient.id", act.Recipient.ID, idOK},
		{"conversation.id", act.Conversation.ID, idOK},
		{"conversation.tenantId", act.Conversation.TenantID, objectIDOK},
		{"channelData.tenant.id", td.Tenant.ID, objectIDOK},
		{"channelData.team.id", td.Team.ID, idOK},
		{"channelData.channel.id", td.Channel.ID, idOK},
	} {
		if f.id != "" && !f.ok(f.id) {
			return f.name
		}
	}
	return ""
}

// refusedID answers 400 to an activity with a malformed id and reports
// whether it did. The id itself is not logged: it may be anything.
func (a *Adapter) refusedID(w http.ResponseWriter, act *activity) bool {
	field := act.badID()
	if field == "" {
		return false
	}
	a.log.Warn("teams: activity refused: malformed id", "field", field, "type", act.Type)
	http.Error(w, "malformed activity: "+field+" is not a Teams id", http.StatusBadRequest)
	return true
}
