package teamstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// This file plays Teams' side towards the bot: it builds the activities
// Teams sends and posts them, signed, to the bot's /api/messages.

// BotID is the bot's id in conversations: "28:" and the app id.
func (f *Fake) BotID() string { return "28:" + f.opts.AppID }

// Personal is member m's 1:1 chat with the bot.
func Personal(m Member) Conv { return Conv{ID: PersonalConv(m.ID), Type: "personal"} }

// Channel is a team's channel.
func Channel(id, name, teamID, teamName string) Conv {
	return Conv{ID: id, Type: "channel", ChannelName: name, TeamID: teamID, TeamName: teamName}
}

// Activity builds an activity of type typ from m in conv, as Teams sends it.
func (f *Fake) Activity(typ string, m Member, conv Conv) map[string]any {
	f.mu.Lock()
	f.seq++
	id := fmt.Sprintf("f:%d", f.seq)
	f.mu.Unlock()
	cd := map[string]any{"tenant": map[string]any{"id": Tenant}}
	c := map[string]any{"id": conv.ID, "conversationType": conv.Type, "tenantId": Tenant}
	if conv.Type == "channel" {
		c["isGroup"] = true
		cd["team"] = map[string]any{"id": conv.TeamID, "name": conv.TeamName}
		cd["channel"] = map[string]any{"id": conv.ID, "name": conv.ChannelName}
	}
	locale := m.Locale
	if locale == "" {
		locale = "ja-JP"
	}
	return map[string]any{
		"type": typ, "id": id, "timestamp": time.Now().UTC().Format(time.RFC3339Nano),
		"localTimestamp": time.Now().Format("2006-01-02T15:04:05.000-07:00"),
		"serviceUrl":     f.ServiceURL, "channelId": ChannelID,
		"from":         map[string]any{"id": m.ID, "name": m.Name, "aadObjectId": m.AadObjectID},
		"recipient":    map[string]any{"id": f.BotID(), "name": "Mamori"},
		"conversation": c, "channelData": cd, "locale": locale,
		"entities": []any{map[string]any{"type": "clientInfo", "locale": locale, "country": "JP", "platform": "Web"}},
	}
}

// Message is text typed by m in their 1:1 chat with the bot.
func (f *Fake) Message(m Member, text string) map[string]any {
	a := f.Activity("message", m, Personal(m))
	a["text"] = text
	a["textFormat"] = "plain"
	return a
}

// Execute is a click on an Action.Execute button whose data is data,
// with the card's inputs.
func (f *Fake) Execute(m Member, conv Conv, data map[string]any, inputs map[string]any) map[string]any {
	a := f.Activity("invoke", m, conv)
	merged := map[string]any{}
	for k, v := range data {
		merged[k] = v
	}
	for k, v := range inputs {
		merged[k] = v
	}
	a["name"] = "adaptiveCard/action"
	a["value"] = map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": "mamori", "data": merged}, "trigger": "manual"}
	return a
}

// Task is a dialog's fetch ("task/fetch", the button's data) or submit
// ("task/submit", the form's data and inputs).
func (f *Fake) Task(name string, m Member, conv Conv, data map[string]any, inputs map[string]any) map[string]any {
	a := f.Activity("invoke", m, conv)
	merged := map[string]any{}
	for k, v := range data {
		merged[k] = v
	}
	for k, v := range inputs {
		merged[k] = v
	}
	a["name"] = name
	a["value"] = map[string]any{"data": merged, "context": map[string]any{"theme": "default"}}
	return a
}

// Added is the conversationUpdate Teams sends when the bot is added to
// conv by m.
func (f *Fake) Added(m Member, conv Conv) map[string]any {
	a := f.Activity("conversationUpdate", m, conv)
	a["membersAdded"] = []any{map[string]any{"id": f.BotID()}}
	if conv.Type == "channel" {
		a["channelData"].(map[string]any)["eventType"] = "teamMemberAdded"
	}
	return a
}

// Post sends an activity to the bot at url with the Authorization token
// (none when ""), and returns the status and the JSON answer.
func Post(url string, act map[string]any, token string) (int, map[string]any, error) {
	b, err := json.Marshal(act)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Microsoft-SkypeBotApi (Microsoft-BotFramework/3.0)")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(bytes.TrimSpace(body)) > 0 && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		if err := json.Unmarshal(body, &out); err != nil {
			return resp.StatusCode, nil, err
		}
	}
	return resp.StatusCode, out, nil
}

var client = &http.Client{Timeout: 20 * time.Second}
