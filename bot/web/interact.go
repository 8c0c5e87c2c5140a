package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// This file turns clicks and submitted modals into the block_actions and
// view_submission payloads Slack sends
// (https://docs.slack.dev/reference/interaction-payloads), built from the
// message or view as the workspace holds it: the page names what was
// clicked; the options, labels and values come from the blocks the app
// posted.

// element finds the interactive element in blocks with blockID and
// actionID: in an actions block, a section's accessory or an input.
func element(blocks []any, blockID, actionID string) (map[string]any, bool) {
	for _, b := range blocks {
		bm, _ := b.(map[string]any)
		if bm == nil || bm["block_id"] != blockID {
			continue
		}
		var els []any
		switch bm["type"] {
		case "actions":
			els, _ = bm["elements"].([]any)
		case "section":
			els = []any{bm["accessory"]}
		case "input":
			els = []any{bm["element"]}
		}
		for _, e := range els {
			if em, _ := e.(map[string]any); em != nil && em["action_id"] == actionID {
				return em, true
			}
		}
	}
	return nil, false
}

// options returns the option objects of el whose values are in values,
// in the element's order.
func options(el map[string]any, values []string) []any {
	want := map[string]bool{}
	for _, v := range values {
		want[v] = true
	}
	out := []any{}
	opts, _ := el["options"].([]any)
	for _, o := range opts {
		if om, _ := o.(map[string]any); om != nil {
			if v, _ := om["value"].(string); want[v] {
				out = append(out, om)
			}
		}
	}
	return out
}

// stateValue is one element's entry in a payload's state.values, from
// the values chosen (nil: its initial ones).
func stateValue(el map[string]any, values []string, given bool) map[string]any {
	typ, _ := el["type"].(string)
	v := map[string]any{"type": typ}
	switch typ {
	case "plain_text_input":
		switch {
		case given && len(values) > 0 && values[0] != "":
			v["value"] = values[0]
		case !given:
			if s, ok := el["initial_value"].(string); ok && s != "" {
				v["value"] = s
			} else {
				v["value"] = nil
			}
		default:
			v["value"] = nil
		}
	case "radio_buttons", "static_select":
		v["selected_option"] = nil
		if !given {
			v["selected_option"] = el["initial_option"]
		} else if o := options(el, values); len(o) > 0 {
			v["selected_option"] = o[0]
		}
	case "checkboxes", "multi_static_select":
		if !given {
			init, _ := el["initial_options"].([]any)
			if init == nil {
				init = []any{}
			}
			v["selected_options"] = init
		} else {
			v["selected_options"] = options(el, values)
		}
	case "users_select":
		v["selected_user"] = nil
		if !given {
			if u, ok := el["initial_user"].(string); ok && u != "" {
				v["selected_user"] = u
			}
		} else if len(values) > 0 && values[0] != "" {
			v["selected_user"] = values[0]
		}
	default:
		return nil
	}
	return v
}

// stateOf returns blocks' state.values: each stateful element's value,
// from given by block id where the person changed it.
func stateOf(blocks []any, given map[string][]string) map[string]any {
	values := map[string]any{}
	for _, b := range blocks {
		bm, _ := b.(map[string]any)
		id, _ := bm["block_id"].(string)
		if bm == nil || id == "" {
			continue
		}
		var els []any
		switch bm["type"] {
		case "actions":
			els, _ = bm["elements"].([]any)
		case "input":
			els = []any{bm["element"]}
		case "section":
			els = []any{bm["accessory"]}
		}
		for _, e := range els {
			em, _ := e.(map[string]any)
			action, _ := em["action_id"].(string)
			if em == nil || action == "" {
				continue
			}
			vals, ok := given[id]
			if v := stateValue(em, vals, ok); v != nil {
				byAction, _ := values[id].(map[string]any)
				if byAction == nil {
					byAction = map[string]any{}
					values[id] = byAction
				}
				byAction[action] = v
			}
		}
	}
	return values
}

// actionOf is the clicked element as block_actions' actions[0] carries it.
func actionOf(el map[string]any, blockID string, a Act) map[string]any {
	typ, _ := el["type"].(string)
	out := map[string]any{"type": typ, "block_id": blockID, "action_id": el["action_id"], "action_ts": actionTS()}
	switch typ {
	case "button":
		out["text"] = el["text"]
		if v, ok := el["value"]; ok {
			out["value"] = v
		}
		if st, ok := el["style"]; ok {
			out["style"] = st
		}
	case "checkboxes", "multi_static_select":
		out["selected_options"] = options(el, a.Selected)
	case "radio_buttons", "static_select", "overflow":
		if o := options(el, a.Selected); len(o) > 0 {
			out["selected_option"] = o[0]
		}
	case "users_select":
		if len(a.Selected) > 0 {
			out["selected_user"] = a.Selected[0]
		}
	}
	return out
}

func blocksOf(raw json.RawMessage) []any {
	var bs []any
	json.Unmarshal(raw, &bs)
	return bs
}

// action sends a click on a message, or on App Home or a modal (a.View).
func (s *Sandbox) action(ctx context.Context, me Person, a Act) ActResult {
	payload := map[string]any{"type": "block_actions", "team": team, "user": s.userObject(me), "api_app_id": AppID,
		"token": "sandbox", "trigger_id": s.ws.newTrigger(me.ID), "is_enterprise_install": false, "enterprise": nil}
	if a.View != "" {
		s.ws.mu.Lock()
		var vw *view
		if h := s.ws.homes[me.ID]; h != nil && h.ID == a.View {
			vw = h
		}
		for _, m := range s.ws.modals[me.ID] {
			if m.ID == a.View {
				vw = m
			}
		}
		var raw []byte
		if vw != nil {
			raw, _ = json.Marshal(vw.JSON)
		}
		s.ws.mu.Unlock()
		if vw == nil {
			return ActResult{Error: "not_found"}
		}
		var v map[string]any
		json.Unmarshal(raw, &v)
		blocks, _ := v["blocks"].([]any)
		el, ok := element(blocks, a.Block, a.Action)
		if !ok {
			return ActResult{Error: "not_found"}
		}
		v["state"] = map[string]any{"values": stateOf(blocks, a.State)}
		v["team_id"], v["app_id"], v["bot_id"] = TeamID, AppID, BotID
		payload["container"] = map[string]any{"type": "view", "view_id": a.View}
		payload["view"] = v
		payload["actions"] = []any{actionOf(el, a.Block, a)}
		st, _ := s.interact(ctx, payload)
		return ActResult{OK: st == http.StatusOK, Status: st}
	}

	ch, ok := s.ws.channelID(a.Channel)
	if !ok || (strings.HasPrefix(ch, "D") && ch != dmOf(me.ID)) {
		return ActResult{Error: "not_found"}
	}
	s.ws.mu.Lock()
	m := s.ws.findLocked(ch, a.TS)
	var msg message
	if m != nil {
		msg = *m
	}
	s.ws.mu.Unlock()
	if m == nil || (msg.To != "" && msg.To != me.ID) {
		return ActResult{Error: "not_found"}
	}
	blocks := blocksOf(msg.Blocks)
	el, ok := element(blocks, a.Block, a.Action)
	if !ok {
		return ActResult{Error: "not_found"}
	}
	name := "directmessage"
	if c, ok := s.cfg.Directory.Channel(ch); ok {
		name = c.Name
	}
	payload["container"] = map[string]any{"type": "message", "message_ts": msg.TS, "channel_id": ch, "is_ephemeral": msg.To != ""}
	payload["channel"] = map[string]any{"id": ch, "name": name}
	if msg.To == "" {
		// Slack sends the message as it is, but not an ephemeral one.
		payload["message"] = map[string]any{"type": "message", "user": msg.User, "bot_id": BotID, "ts": msg.TS,
			"text": msg.Text, "team": TeamID, "blocks": blocks}
	}
	payload["state"] = map[string]any{"values": stateOf(blocks, a.State)}
	payload["response_url"] = s.ws.newHook(ch, msg.TS, me.ID)
	payload["actions"] = []any{actionOf(el, a.Block, a)}
	st, _ := s.interact(ctx, payload)
	return ActResult{OK: st == http.StatusOK, Status: st}
}

// submit sends the person's open modal as a view_submission and does
// what the app answers: close it (no body, or clear), show messages
// under inputs (errors), replace it (update) or push another (push).
func (s *Sandbox) submit(ctx context.Context, me Person, a Act) ActResult {
	s.ws.mu.Lock()
	stack := s.ws.modals[me.ID]
	var raw []byte
	if len(stack) > 0 && stack[len(stack)-1].ID == a.View {
		raw, _ = json.Marshal(stack[len(stack)-1].JSON)
	}
	s.ws.mu.Unlock()
	if raw == nil {
		return ActResult{Error: "not_found"}
	}
	var v map[string]any
	json.Unmarshal(raw, &v)
	blocks, _ := v["blocks"].([]any)
	// Slack itself refuses a submission with a required input empty.
	missing := map[string]string{}
	for _, b := range blocks {
		bm, _ := b.(map[string]any)
		if bm == nil || bm["type"] != "input" || bm["optional"] == true {
			continue
		}
		id, _ := bm["block_id"].(string)
		empty := true
		for _, x := range a.Values[id] {
			if strings.TrimSpace(x) != "" {
				empty = false
			}
		}
		if empty {
			missing[id] = "required"
		}
	}
	if len(missing) > 0 {
		return ActResult{Error: "required", Errors: missing}
	}
	given := map[string][]string{}
	for _, b := range blocks {
		if bm, _ := b.(map[string]any); bm != nil && bm["type"] == "input" {
			id, _ := bm["block_id"].(string)
			given[id] = a.Values[id]
		}
	}
	v["state"] = map[string]any{"values": stateOf(blocks, given)}
	v["team_id"], v["app_id"], v["bot_id"], v["hash"] = TeamID, AppID, BotID, actionTS()+".sandbox"
	st, body := s.interact(ctx, map[string]any{"type": "view_submission", "team": team, "user": s.userObject(me),
		"api_app_id": AppID, "token": "sandbox", "trigger_id": s.ws.newTrigger(me.ID), "view": v,
		"response_urls": []any{}, "is_enterprise_install": false, "enterprise": nil})
	if st != http.StatusOK {
		return ActResult{Status: st, Error: "failed"}
	}
	var res struct {
		Action string            `json:"response_action"`
		Errors map[string]string `json:"errors"`
		View   map[string]any    `json:"view"`
	}
	json.Unmarshal(body, &res)
	s.ws.mu.Lock()
	defer s.ws.mu.Unlock()
	stack = s.ws.modals[me.ID]
	top := len(stack) - 1
	if top < 0 || stack[top].ID != a.View {
		return ActResult{OK: true, Status: st}
	}
	switch res.Action {
	case "errors":
		stack[top].Errors = res.Errors
		s.ws.changedLocked()
		return ActResult{Status: st, Error: "refused", Errors: res.Errors}
	case "update":
		if res.View != nil {
			res.View["id"] = stack[top].ID
			stack[top].JSON, stack[top].Errors = res.View, nil
		}
	case "push":
		if res.View != nil {
			s.ws.seq++
			vw := &view{ID: fmt.Sprintf("VM%08d", s.ws.seq), User: me.ID, JSON: res.View}
			res.View["id"] = vw.ID
			s.ws.modals[me.ID] = append(stack, vw)
		}
	case "clear":
		s.ws.modals[me.ID] = nil
	default:
		s.ws.modals[me.ID] = stack[:top]
	}
	s.ws.changedLocked()
	return ActResult{OK: true, Status: st}
}
