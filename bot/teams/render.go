package teams

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/mamori-oss/mamori"
)

// This file renders mamori.Message as an Adaptive Card (schema 1.5) for
// Teams: buttons are Action.Execute (universal actions, answered with an
// invoke response) with an Action.Submit fallback for older clients; the
// case card's buttons that open a form use Teams dialogs (task/fetch).

// Card limits. Teams refuses a message over about 28 KB; the card is kept
// under MaxCard, cutting long text first and leaving the actions whole.
const (
	MaxCard        = 26 << 10
	maxPerSet      = 5  // buttons per ActionSet: Teams shows up to six
	maxButtonTitle = 40 // a longer title is cut, at a word if it can, with "…"
	// maxButtonWidth is the widest label, in columns (a Japanese
	// character is two), a button shows whole on a phone; choices with a
	// wider one are rows of wrapping text instead.
	maxButtonWidth = 24
	maxExcerpt     = 120 // the question kept in an answered card
	shortField     = 120 // a longer field, or one with a line break, gets its own lines
	maxFallback    = 1000

	// CardContentType is an Adaptive Card attachment's content type.
	CardContentType = "application/vnd.microsoft.card.adaptive"
	cardSchema      = "http://adaptivecards.io/schemas/adaptive-card.json"
	cardVersion     = "1.5"
	// verb is every Action.Execute's verb: the data says the rest.
	verb = "mamori"
	// multiInput is the id of a multi-select's Input.ChoiceSet.
	multiInput = "mamori.multi"
)

// Kinds of buttons, in the action data's "k".
const (
	kindChoice  = "choice"
	kindControl = "control"
	kindSubmit  = "submit"
	kindForm    = "form" // a dialog's submit button
	kindHome    = "home" // shows the overview (homeValue)
)

// card is an Adaptive Card as JSON values; maps marshal in key order, so
// the JSON is stable for golden files.
type card = map[string]any

// actionData is what a button sends back: Action.Execute's data, or the
// activity's value for Action.Submit and task/fetch.
type actionData struct {
	Mamori int    `json:"mamori"`      // 1: ours
	Kind   string `json:"k"`           // kindChoice, …
	Step   string `json:"s,omitempty"` // the message's Step
	Value  string `json:"v,omitempty"`
	Label  string `json:"l,omitempty"` // the button's title, for the answered card
	// Question is the start of the question, for the answered card.
	Question string `json:"q,omitempty"`
	// Form names a dialog's form; Case what it is about.
	Form string `json:"f,omitempty"`
	Case string `json:"c,omitempty"`
}

// Names resolves a mention's user id to a display name; nil, or "", shows
// the id.
type Names func(id string) string

// Card renders m as an Adaptive Card within MaxCard: the picture goes
// first (its alt text stays), then long text is cut.
func Card(m mamori.Message, names Names) card {
	for limit := 20000; ; limit /= 2 {
		c := render(m, names, limit)
		if b, _ := json.Marshal(c); len(b) <= MaxCard || limit < 100 {
			return c
		}
		if m.Image != nil && len(m.Image.PNG) > 0 {
			m.Image = &mamori.Image{Name: m.Image.Name, Alt: m.Image.Alt}
			limit *= 2
		}
	}
}

// render builds the card, with every text cut to limit characters.
func render(m mamori.Message, names Names, limit int) card {
	var body []any
	var mentions mentionSet
	mdm := func(s string) string { return mentions.md(s, names) }
	text := func(s string) string { return mdm(truncate(s, limit)) }
	blocks := func(s string, props card) []any { return textBlocks(truncate(s, limit), props, mdm) }

	if m.Header != "" || m.Urgent {
		h := m.Header
		if m.Urgent {
			h = strings.TrimSpace("🚨 " + h)
		}
		// Mentions in it ("<@id> is on it") name the person, as in the text.
		tb := card{"type": "TextBlock", "text": headerMentions(truncate(h, 200), &mentions, names), "size": "Large", "weight": "Bolder", "wrap": true, "style": "heading"}
		if m.Urgent {
			tb["color"] = "Attention"
			body = append(body, card{"type": "Container", "style": "attention", "bleed": true, "items": []any{tb}})
		} else {
			body = append(body, tb)
		}
	}
	if t := strings.TrimSpace(m.Text); t != "" {
		body = append(body, blocks(t, nil)...)
	}
	body = append(body, fieldElements(m.Fields, limit, mdm)...)
	if m.Image != nil && len(m.Image.PNG) > 0 {
		body = append(body, card{"type": "Image", "url": "data:image/png;base64," + base64.StdEncoding.EncodeToString(m.Image.PNG),
			"altText": truncate(m.Image.Alt, 1000), "size": "Stretch"})
	} else if m.Image != nil && m.Image.Alt != "" {
		body = append(body, blocks(m.Image.Alt, card{"isSubtle": true})...)
	}

	question := ""
	if len(m.Fields) == 0 && m.Multi == nil {
		question = truncate(named(strings.TrimSpace(joinNonEmpty(" ", m.Header, firstLine(m.Text))), names), maxExcerpt)
	}
	if m.Multi != nil && len(m.Multi.Options) > 0 {
		var choices []any
		for _, o := range m.Multi.Options {
			choices = append(choices, card{"title": strings.TrimSpace(o.Label), "value": o.Value})
		}
		in := card{"type": "Input.ChoiceSet", "id": multiInput, "isMultiSelect": true, "style": "expanded", "wrap": true, "choices": choices}
		if len(m.Multi.Selected) > 0 {
			in["value"] = strings.Join(m.Multi.Selected, ",")
		}
		body = append(body, in)
		submit := m.Multi.Submit
		if submit.Style == "" {
			submit.Style = mamori.StylePrimary
		}
		body = append(body, actionSets([]mamori.Choice{submit}, func(c mamori.Choice) card {
			return button(c, actionData{Mamori: 1, Kind: kindSubmit, Step: m.Step, Value: c.Value, Label: c.Label})
		})...)
	}
	body = append(body, buttons(m.Choices, text, func(c mamori.Choice) card {
		return choiceButton(m.Step, kindChoice, c, question)
	})...)
	if m.Prompt != "" {
		body = append(body, blocks(m.Prompt, card{"isSubtle": true, "size": "Small"})...)
	}
	body = append(body, buttons(m.Controls, text, func(c mamori.Choice) card {
		return choiceButton(m.Step, kindControl, c, question)
	})...)
	if m.Note != "" {
		body = append(body, blocks(m.Note, card{"isSubtle": true, "size": "Small", "separator": true})...)
	}
	if body == nil {
		body = []any{}
	}
	c := card{"type": "AdaptiveCard", "$schema": cardSchema, "version": cardVersion, "body": body,
		"fallbackText": Fallback(m), "msteams": mentions.msteams()}
	return c
}

// headerMentions is heading h with its mentions as the text's are
// (<at>name</at>, with their entities in ms), and nothing else of the
// text's markdown: a heading is shown as it is written.
func headerMentions(h string, ms *mentionSet, names Names) string {
	if !mention.MatchString(h) {
		return h
	}
	return mention.ReplaceAllStringFunc(h, func(m string) string {
		return ms.md(m, names)
	})
}

// named is s with each mention as the person's name, or their id when
// it is not known: plain text, for the question a button's data keeps
// (the answered card shows it without the card's mentions).
func named(s string, names Names) string {
	return mention.ReplaceAllStringFunc(s, func(m string) string {
		id := mention.FindStringSubmatch(m)[1]
		if names != nil {
			if n := names(id); n != "" {
				return n
			}
		}
		return id
	})
}

// choiceButton is a button of a message: on a case or care card, a
// dialog for the actions that ask for text, Action.Execute otherwise.
func choiceButton(step, kind string, c mamori.Choice, question string) card {
	if c.Value == homeValue {
		return button(c, actionData{Mamori: 1, Kind: kindHome, Label: c.Label})
	}
	d := actionData{Mamori: 1, Kind: kind, Step: step, Value: c.Value, Label: c.Label, Question: question}
	if step == mamori.StepCard {
		d.Question = ""
		if a, ok := mamori.ParseAction(c.Value); ok && !oneClick(a.Kind) {
			return dialogButton(c, d)
		}
	}
	return button(c, d)
}

// oneClick reports whether a card's action of kind is done with one
// click, as Action.Execute: an SOS's "I'm on it" and "safe now, close".
// Nothing may come between a responder and the employee in danger — a
// dialog would open, and ask to be closed, before they go. The clicker
// is answered in the invoke response and the card is updated in place,
// for everyone, as soon as it is done. (The other one-click actions,
// such as taking a case, answer in a dialog's message.)
func oneClick(kind string) bool {
	return kind == mamori.SOSAck || kind == mamori.SOSClose
}

// button is an Action.Execute with its Action.Submit fallback.
func button(c mamori.Choice, d actionData) card {
	title := cutTitle(c.Label)
	b := card{"type": "Action.Execute", "title": title, "verb": verb, "data": d}
	fb := card{"type": "Action.Submit", "title": title, "data": d}
	if s := style(c.Style); s != "" {
		b["style"], fb["style"] = s, s
	}
	b["fallback"] = fb
	return b
}

// dialogButton opens a dialog: an Action.Submit with msteams task/fetch.
func dialogButton(c mamori.Choice, d actionData) card {
	data := map[string]any{"msteams": map[string]any{"type": "task/fetch"}}
	raw, _ := json.Marshal(d)
	json.Unmarshal(raw, &data)
	b := card{"type": "Action.Submit", "title": cutTitle(c.Label), "data": data}
	if s := style(c.Style); s != "" {
		b["style"] = s
	}
	return b
}

func style(s string) string {
	switch s {
	case mamori.StylePrimary:
		return "positive"
	case mamori.StyleDanger:
		return "destructive"
	}
	return ""
}

// buttons renders choices as buttons, or, when a label is too wide for
// a button on a phone (Teams cuts it off), as rows: each a full-width
// container of wrapping text that acts as its button when selected.
func buttons(choices []mamori.Choice, text func(string) string, mk func(mamori.Choice) card) []any {
	wide := false
	for _, c := range choices {
		wide = wide || width(c.Label) > maxButtonWidth
	}
	if !wide {
		return actionSets(choices, mk)
	}
	var rows []any
	for _, c := range choices {
		tb := card{"type": "TextBlock", "text": text(strings.TrimSpace(c.Label)), "wrap": true, "color": "Accent"}
		switch c.Style {
		case mamori.StylePrimary:
			tb["weight"] = "Bolder"
		case mamori.StyleDanger:
			tb["color"] = "Attention"
		}
		// The action's title is not shown; screen readers read it whole.
		sa := mk(c)
		sa["title"] = oneLine(c.Label)
		if fb, ok := sa["fallback"].(card); ok {
			fb["title"] = sa["title"]
		}
		rows = append(rows, card{"type": "Container", "style": "emphasis", "spacing": "Small",
			"selectAction": sa, "items": []any{tb}})
	}
	return rows
}

// actionSets puts buttons in rows of at most maxPerSet.
func actionSets(choices []mamori.Choice, mk func(mamori.Choice) card) []any {
	var sets []any
	for i := 0; i < len(choices); i += maxPerSet {
		var actions []any
		for _, c := range choices[i:min(i+maxPerSet, len(choices))] {
			actions = append(actions, mk(c))
		}
		sets = append(sets, card{"type": "ActionSet", "actions": actions})
	}
	return sets
}

// fieldElements renders label/value pairs: short ones in a FactSet, long
// ones, those with a line break or a mention, as a label and a text; a
// field with no value is a subheading. Texts are cut to limit characters.
func fieldElements(fields []mamori.Field, limit int, md func(string) string) []any {
	var out []any
	var facts []any
	flush := func() {
		if len(facts) > 0 {
			out = append(out, card{"type": "FactSet", "facts": facts})
			facts = nil
		}
	}
	text := func(s string) string { return md(truncate(s, limit)) }
	for _, f := range fields {
		label, value := strings.TrimSpace(f.Label), strings.TrimSpace(f.Value)
		switch {
		case value == "" && label == "":
			continue
		case value == "":
			flush()
			out = append(out, card{"type": "TextBlock", "text": text(oneLine(label)), "weight": "Bolder", "wrap": true, "separator": true})
		case utf8.RuneCountInString(value) <= shortField && !strings.Contains(value, "\n") && !strings.Contains(value, "<@") &&
			label != "" && !strings.Contains(label, "\n"):
			facts = append(facts, card{"title": text(label), "value": text(value)})
		default:
			flush()
			if label != "" {
				out = append(out, card{"type": "TextBlock", "text": text(oneLine(label)), "weight": "Bolder", "wrap": true, "spacing": "Medium"})
			}
			out = append(out, textBlocks(truncate(value, limit), card{"spacing": "Small"}, md)...)
		}
	}
	flush()
	return out
}

// textBlocks renders s as TextBlocks with props: one for each paragraph
// (a blank line apart), the first with props' spacing and separator.
// Teams' markdown drops a single line break, so md makes each one a
// paragraph break within the block.
func textBlocks(s string, props card, md func(string) string) []any {
	var out []any
	for i, p := range paragraphs(s) {
		tb := card{"type": "TextBlock", "text": md(p), "wrap": true}
		for k, v := range props {
			if i == 0 || (k != "spacing" && k != "separator") {
				tb[k] = v
			}
		}
		out = append(out, tb)
	}
	return out
}

// paragraphs splits s at blank lines, each paragraph trimmed.
func paragraphs(s string) []string {
	var out []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.Join(cur, "\n"))
			cur = nil
		}
	}
	for _, line := range strings.Split(strings.ReplaceAll(strings.TrimSpace(s), "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		cur = append(cur, strings.TrimRight(line, " \t\r"))
	}
	flush()
	return out
}

// oneLine is s with its line breaks as spaces (a heading).
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Answered is the card a question becomes once answered in place (the
// invoke response to its button): the question, and the answer ticked.
func Answered(question, label string) card {
	if label == "" {
		label = "…"
	}
	var body []any
	if question != "" {
		body = append(body, card{"type": "TextBlock", "text": md(question), "wrap": true, "isSubtle": true})
	}
	body = append(body, card{"type": "TextBlock", "text": md("✓ " + label), "wrap": true, "weight": "Bolder"})
	return card{"type": "AdaptiveCard", "$schema": cardSchema, "version": cardVersion, "body": body,
		"fallbackText": "✓ " + label}
}

// Fallback is the plain text of a message: the notification and what a
// client that shows no cards shows.
func Fallback(m mamori.Message) string {
	var parts []string
	if m.Urgent {
		parts = append(parts, "🚨")
	}
	for _, s := range []string{m.Header, m.Text} {
		if s != "" {
			parts = append(parts, plainMentions.ReplaceAllString(s, "@$1"))
		}
	}
	s := strings.Join(parts, " ")
	if s == "" {
		s = firstNonEmpty(m.Prompt, m.Note)
	}
	return truncate(strings.ReplaceAll(s, "*", ""), maxFallback)
}

var (
	bold          = regexp.MustCompile(`\*([^*\n]+)\*`)
	mention       = regexp.MustCompile(`<@([^<>\s]{1,100})>`)
	plainMentions = mention
)

// md turns the flows' text (*bold*, line breaks) into Teams markdown:
// a line break is kept as a blank line ("\n\n"), since Teams shows a
// single "\n" as a space. What a person typed cannot become a link:
// "](" loses its meaning.
func md(s string) string {
	s = strings.ReplaceAll(s, "](", "]\u200b(")
	s = bold.ReplaceAllString(s, "**$1**")
	return breaks(s)
}

// breaks makes every line break, or run of them, one blank line.
func breaks(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	var lines []string
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if line = strings.TrimRight(line, " \t\r"); line != "" {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n\n")
}

// mentionSet collects the mentions of one card: each <@id> becomes
// <at>name</at> with its msteams entity.
type mentionSet struct {
	entities []any
	seen     map[string]string // id → the <at> text
}

func (ms *mentionSet) md(s string, names Names) string {
	s = md(s)
	return mention.ReplaceAllStringFunc(s, func(m string) string {
		id := mention.FindStringSubmatch(m)[1]
		if at, ok := ms.seen[id]; ok {
			return at
		}
		name := ""
		if names != nil {
			name = names(id)
		}
		if name == "" {
			name = id
		}
		at := "<at>" + strings.NewReplacer("<", "", ">", "").Replace(name) + "</at>"
		if ms.seen == nil {
			ms.seen = map[string]string{}
		}
		ms.seen[id] = at
		ms.entities = append(ms.entities, card{"type": "mention", "text": at, "mentioned": card{"id": id, "name": name}})
		return at
	})
}

func (ms *mentionSet) msteams() card {
	c := card{"width": "Full"}
	if len(ms.entities) > 0 {
		c["entities"] = ms.entities
	}
	return c
}

// truncate shortens s to at most n characters, ending with "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:max(n-1, 0)]), " ") + "…"
}

// cutTitle is a button's title: the label, or when longer than
// maxButtonTitle its start, cut at a word where there is one.
func cutTitle(label string) string {
	label = oneLine(label)
	if utf8.RuneCountInString(label) <= maxButtonTitle {
		return label
	}
	r := []rune(label)[:maxButtonTitle-1]
	if i := strings.LastIndexByte(string(r), ' '); i > len(string(r))/2 {
		return strings.TrimRight(string(r)[:i], " ,;:(-") + "…"
	}
	return strings.TrimRight(string(r), " ") + "…"
}

// width is how many columns s takes: two for a Japanese or other wide
// character, one for the rest.
func width(s string) int {
	n := 0
	for _, r := range s {
		n++
		if wide(r) {
			n++
		}
	}
	return n
}

func wide(r rune) bool {
	return (r >= 0x1100 && r <= 0x115F) || (r >= 0x2E80 && r <= 0xA4CF) || (r >= 0xAC00 && r <= 0xD7A3) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0xFE30 && r <= 0xFE4F) || (r >= 0xFF00 && r <= 0xFF60) ||
		(r >= 0xFFE0 && r <= 0xFFE6) || (r >= 0x1F300 && r <= 0x1FAFF) || (r >= 0x20000 && r <= 0x3FFFD)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func joinNonEmpty(sep string, parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, sep)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
