package web

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack"
)

// Restore shows again, after a restart, what the app had posted: items
// are the outbox's sent messages, oldest first; posted says where the
// message with a Ref landed (Outbox.PostedRef). Each is rendered by the
// adapter's renderer as it was then. A message updated in place is shown
// once, as last sent, at the ts it was posted with, so that later updates
// find it; a reply goes under its thread. What people typed, notes seen
// by one person and marks of answered questions are not in the outbox:
// they are gone.
func (s *Sandbox) Restore(items []mamori.OutboxItem, posted func(ref string) (mamori.Posted, bool)) {
	ws := s.ws
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for _, it := range items {
		if it.Target.Platform != mamori.PlatformSlack || it.Status != mamori.OutboxSent {
			continue
		}
		ch, ok := s.restoreChannel(it.Target)
		if !ok {
			continue
		}
		blocks, err := json.Marshal(slack.Blocks(it.Message))
		if err != nil {
			continue
		}
		m := &message{User: BotUserID, Text: slack.Fallback(it.Message), Blocks: blocks, At: it.Created}
		if string(blocks) == "[]" || string(blocks) == "null" {
			m.Blocks = nil
		}
		if img := it.Message.Image; img != nil && len(img.PNG) > 0 {
			ws.seq++
			f := &file{ID: fmt.Sprintf("F%08d", ws.seq), Name: img.Name, Title: img.Name, Alt: img.Alt,
				Mimetype: "image/png", User: BotUserID, data: img.PNG, length: len(img.PNG), shared: true}
			ws.files[f.ID] = f
			m.Files = []*file{f}
		}
		if it.Target.Thread != "" {
			if p, ok := posted(it.Target.Thread); ok && ws.findLocked(ch, p.TS) != nil {
				m.Thread = p.TS
			}
		}
		if ref := it.Message.Ref; ref != "" {
			if p, ok := posted(ref); ok && p.TS != "" {
				if old := ws.findLocked(ch, p.TS); old != nil {
					old.Text, old.Blocks, old.Files, old.Edited = m.Text, m.Blocks, m.Files, true
					continue
				}
				m.TS = p.TS
			}
		}
		if m.TS == "" {
			m.TS = ws.nextTSLocked()
		}
		ws.addLocked(ch, m)
	}
}

// restoreChannel is the conversation a target's messages went to; ws.mu
// is held.
func (s *Sandbox) restoreChannel(t mamori.Target) (string, bool) {
	if t.Kind == mamori.TargetUser && strings.Contains(t.ID, "@") {
		for _, p := range s.cfg.Directory.People {
			if strings.EqualFold(p.Email, t.ID) {
				return dmOf(p.ID), true
			}
		}
		return "", false
	}
	return s.ws.channelID(t.ID)
}
