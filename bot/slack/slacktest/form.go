package slacktest

import (
	"fmt"
	"slices"
	"sync/atomic"
)

// Form is a modal as a person fills it in: its inputs hold their initial
// values until changed, and Submission is what Slack sends when the
// person presses the submit button.
type Form struct {
	view   map[string]any
	inputs map[string]map[string]any // block id → the input's element
	values map[string]map[string]any // block id → state value
}

// OpenedForm returns the form of the modal a views.open call opened, with
// the view id the fake gave it.
func OpenedForm(c Call) (*Form, error) {
	if c.Method != "views.open" {
		return nil, fmt.Errorf("slacktest: %s opens no modal", c.Method)
	}
	view, _ := c.Reply["view"].(map[string]any)
	if view == nil {
		return nil, fmt.Errorf("slacktest: views.open answered no view (%s)", c.Error)
	}
	return NewForm(view)
}

// NewForm returns the form of view (a modal as JSON values).
func NewForm(view map[string]any) (*Form, error) {
	f := &Form{view: view, inputs: map[string]map[string]any{}, values: map[string]map[string]any{}}
	blocks, _ := view["blocks"].([]any)
	for _, b := range blocks {
		block, _ := b.(map[string]any)
		if block["type"] != "input" {
			continue
		}
		id, _ := block["block_id"].(string)
		el, _ := block["element"].(map[string]any)
		if id == "" || el == nil {
			return nil, fmt.Errorf("slacktest: input block without block_id or element: %v", block)
		}
		f.inputs[id] = el
		v := map[string]any{"type": el["type"]}
		switch el["type"] {
		case "plain_text_input":
			if s, ok := el["initial_value"].(string); ok {
				v["value"] = s
			} else {
				v["value"] = nil
			}
		case "radio_buttons", "static_select":
			v["selected_option"] = el["initial_option"]
		case "checkboxes", "multi_static_select":
			init, _ := el["initial_options"].([]any)
			if init == nil {
				init = []any{}
			}
			v["selected_options"] = init
		default:
			return nil, fmt.Errorf("slacktest: input element %v not supported", el["type"])
		}
		f.values[id] = v
	}
	return f, nil
}

// Type sets the text of the plain_text_input in block.
func (f *Form) Type(block, text string) error {
	v, ok := f.values[block]
	if !ok || v["type"] != "plain_text_input" {
		return fmt.Errorf("slacktest: no text input %q", block)
	}
	v["value"] = text
	return nil
}

// Choose selects the options with values in block: one for radio buttons
// and selects, any number (none to clear) for checkboxes.
func (f *Form) Choose(block string, values ...string) error {
	el, ok := f.inputs[block]
	if !ok {
		return fmt.Errorf("slacktest: no input %q", block)
	}
	opts, _ := el["options"].([]any)
	var chosen []any
	for _, want := range values {
		i := slices.IndexFunc(opts, func(o any) bool { m, _ := o.(map[string]any); return m["value"] == want })
		if i < 0 {
			return fmt.Errorf("slacktest: input %q has no option %q", block, want)
		}
		chosen = append(chosen, opts[i])
	}
	v := f.values[block]
	switch el["type"] {
	case "radio_buttons", "static_select":
		if len(chosen) > 1 {
			return fmt.Errorf("slacktest: input %q takes one option", block)
		}
		v["selected_option"] = nil
		if len(chosen) == 1 {
			v["selected_option"] = chosen[0]
		}
	default:
		if chosen == nil {
			chosen = []any{}
		}
		v["selected_options"] = chosen
	}
	return nil
}

// Chosen lists the values of the options selected in block (none for a
// text input or an unknown block).
func (f *Form) Chosen(block string) []string {
	v := f.values[block]
	var out []string
	if o, ok := v["selected_option"].(map[string]any); ok {
		out = append(out, fmt.Sprint(o["value"]))
	}
	opts, _ := v["selected_options"].([]any)
	for _, o := range opts {
		if m, ok := o.(map[string]any); ok {
			out = append(out, fmt.Sprint(m["value"]))
		}
	}
	return out
}

// Missing lists, in the modal's order, the required inputs (those not
// marked optional) left empty: Slack does not send a submission until
// they are filled in.
func (f *Form) Missing() []string {
	var out []string
	blocks, _ := f.view["blocks"].([]any)
	for _, b := range blocks {
		block, _ := b.(map[string]any)
		id, _ := block["block_id"].(string)
		if block["type"] != "input" || block["optional"] == true {
			continue
		}
		v := f.values[id]
		if s, _ := v["value"].(string); s == "" && v["type"] == "plain_text_input" {
			out = append(out, id)
		} else if v["type"] != "plain_text_input" && len(f.Chosen(id)) == 0 {
			out = append(out, id)
		}
	}
	return out
}

// Submission is the view_submission payload Slack sends when user
// submits the form.
func (f *Form) Submission(user string) map[string]any {
	values := map[string]any{}
	for id, v := range f.values {
		el := f.inputs[id]
		action, _ := el["action_id"].(string)
		values[id] = map[string]any{action: v}
	}
	view := map[string]any{}
	for k, v := range f.view {
		view[k] = v
	}
	view["state"] = map[string]any{"values": values}
	view["team_id"] = TeamID
	view["app_id"] = "A0MAMORI"
	view["bot_id"] = BotID
	view["hash"] = "1700000000.hash"
	return map[string]any{
		"type":                  "view_submission",
		"team":                  map[string]any{"id": TeamID, "domain": "test"},
		"user":                  map[string]any{"id": user, "username": user, "name": user, "team_id": TeamID},
		"api_app_id":            "A0MAMORI",
		"token":                 "legacy-verification-token",
		"trigger_id":            fmt.Sprintf("1700000300.%d.trigger.%s", submissions.Add(1), user), // new for each submission, as Slack's
		"view":                  view,
		"response_urls":         []any{},
		"is_enterprise_install": false,
	}
}

// submissions numbers the submissions made, for their trigger ids.
var submissions atomic.Int64
