package teams

import (
	"slices"
	"strings"

	"github.com/mamori-oss/mamori"
)

// This file is the supervisors' and HR's forms: Teams dialogs (task
// modules) holding an Adaptive Card, opened by task/fetch and submitted
// by task/submit. They are private to the person who opened them, as
// Slack's modals are. The flows build every form; this only renders it
// and reads it back.

// maxInput is the longest text a form input takes.
const maxInput = 3000

// manyPrefix marks the input id of a field of many choices: Teams sends
// a multi-select's values joined with commas, and only these are split.
const manyPrefix = "m."

// Dialog is a task module: its title and card.
type Dialog struct {
	Title string `json:"title"`
	Card  card   `json:"card"`
}

// FormDialog renders a flows form as a dialog. errText, when set, says
// above it why the last submission was refused; typed are the values
// sent then, shown again.
func FormDialog(f mamori.Form, errText string, typed mamori.Values) Dialog {
	var body []any
	body = append(body, errorBlock(errText)...)
	if f.Intro != "" {
		body = append(body, card{"type": "TextBlock", "text": md(f.Intro), "wrap": true})
	}
	body = append(body, fieldElements(f.About, maxInput, md)...)
	for _, fd := range f.Fields {
		value := fd.Value
		if v, ok := typed[fd.ID]; ok {
			value = v
		}
		body = append(body, formInput(fd, value))
		if fd.Hint != "" {
			body = append(body, hint(fd.Hint))
		}
	}
	if f.Note != "" {
		body = append(body, hint(f.Note))
	}
	return Dialog{Title: truncate(f.Title, 60), Card: card{"type": "AdaptiveCard", "$schema": cardSchema, "version": cardVersion, "body": body,
		"actions": []any{card{"type": "Action.Submit", "title": cutTitle(f.Submit), "style": "positive",
			"data": actionData{Mamori: 1, Kind: kindForm, Form: f.Action.Kind, Case: f.Action.Subject}}}}}
}

// formInput is one form field as an input.
func formInput(fd mamori.FormField, value []string) card {
	var in card
	switch fd.Kind {
	case mamori.FieldOne, mamori.FieldMany:
		var choices []any
		var picked []string
		for _, o := range fd.Options {
			choices = append(choices, card{"title": o.Label, "value": o.Value})
			if slices.Contains(value, o.Value) {
				picked = append(picked, o.Value)
			}
		}
		in = card{"type": "Input.ChoiceSet", "id": fd.ID, "label": fd.Label, "wrap": true, "choices": choices, "style": "expanded"}
		if len(fd.Options) > 10 {
			in["style"] = "compact"
		}
		if fd.Kind == mamori.FieldMany {
			in["id"], in["isMultiSelect"] = manyPrefix+fd.ID, true
		}
		if len(picked) > 0 {
			in["value"] = strings.Join(picked, ",")
		}
	case mamori.FieldUser:
		// Teams' people picker: a search of the organisation's members;
		// the value sent back is the person's Entra object id, which is
		// how Mamori knows Teams users.
		in = card{"type": "Input.ChoiceSet", "id": fd.ID, "label": fd.Label, "choices": []any{},
			"choices.data": card{"type": "Data.Query", "dataset": "graph.microsoft.com/users"}}
		if len(value) > 0 {
			in["value"] = value[0]
		}
	default:
		in = card{"type": "Input.Text", "id": fd.ID, "label": fd.Label, "isMultiline": fd.Lines > 1, "maxLength": maxInput}
		if fd.Max > 0 && fd.Max < maxInput {
			in["maxLength"] = fd.Max
		}
		if v := strings.Join(value, "\n"); v != "" {
			in["value"] = truncate(v, maxInput)
		}
	}
	if fd.Required {
		in["isRequired"] = true
		in["errorMessage"] = fd.Label
	}
	return in
}

// DetailsDialog shows a case's confidential detail.
func DetailsDialog(m mamori.Message, names Names) Dialog {
	title := m.Header
	if title == "" {
		title = "Mamori"
	}
	return Dialog{Title: truncate(title, 60), Card: Card(m, names)}
}

func errorBlock(text string) []any {
	if text == "" {
		return nil
	}
	return []any{card{"type": "TextBlock", "text": md(text), "wrap": true, "color": "Attention", "weight": "Bolder"}}
}

func hint(text string) card {
	return card{"type": "TextBlock", "text": md(text), "wrap": true, "isSubtle": true, "size": "Small", "spacing": "None"}
}

// formValues are a submitted card's inputs (and the action data), as
// Teams sends them: each input's value as a string.
type formValues map[string]any

func (v formValues) text(id string) string {
	s, _ := v[id].(string)
	return strings.TrimSpace(s)
}

func (v formValues) many(id string) []string {
	var out []string
	for _, s := range strings.Split(v.text(id), ",") {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// values are a submitted form's inputs by field id: a multi-select's
// values split, every other input's text whole.
func (v formValues) values() mamori.Values {
	out := mamori.Values{}
	for id, raw := range v {
		if _, isText := raw.(string); !isText || strings.HasSuffix(id, mamori.EmailSuffix) {
			continue // an email is the platform's to give, never the client's
		}
		if field, many := strings.CutPrefix(id, manyPrefix); many {
			out[field] = v.many(id)
		} else {
			out[id] = []string{v.text(id)}
		}
	}
	return out
}
