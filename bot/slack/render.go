package slack

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/mamori-oss/mamori"
)

// Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks),
// counted in characters; Mamori counts UTF-16 units to be safe.
const (
	maxHeader        = 150  // header block plain_text
	maxSectionText   = 3000 // section text
	maxField         = 2000 // one section field
	maxFields        = 10   // fields per section
	maxContextText   = 2000 // one context element (Slack allows 3000)
	maxContextElems  = 10   // elements per context block
	maxButtonText    = 75   // button label
	maxOptionText    = 75   // checkbox option text
	maxOptionValue   = 75   // option value
	maxOptions       = 10   // options per checkboxes element
	maxActionElems   = 25   // elements per actions block
	maxValue         = 2000 // button value
	maxMessageBlocks = 50
	maxViewBlocks    = 100
	maxModalTitle    = 24
	maxFallback      = 3000

	// A field longer than this, or with a line break, gets a section of
	// its own rather than a narrow column.
	shortField = 120
	maxLabel   = 200

	urgentMark = ":rotating_light:"
)

// Blocks renders m as the blocks of a chat message.
func Blocks(m mamori.Message) []slackapi.Block { return render(m, maxMessageBlocks) }

// ModalView renders m as a modal (views.open): the case detail.
func ModalView(m mamori.Message) slackapi.ModalViewRequest {
	title := m.Header
	if title == "" {
		title = "Mamori"
	}
	if width(m.Header) <= maxModalTitle && !m.Urgent {
		m.Header = "" // the title says it all
	}
	return slackapi.ModalViewRequest{
		Type:       slackapi.VTModal,
		CallbackID: callbackDetails,
		Title:      plain(truncate(title, maxModalTitle)),
		Blocks:     slackapi.Blocks{BlockSet: render(m, maxViewBlocks)},
	}
}

// HomeView renders m as the App Home tab (views.publish).
func HomeView(m mamori.Message) slackapi.HomeTabViewRequest {
	return slackapi.HomeTabViewRequest{
		Type:       slackapi.VTHomeTab,
		CallbackID: "mamori.home",
		Blocks:     slackapi.Blocks{BlockSet: render(m, maxViewBlocks)},
	}
}

// Fallback is the plain text sent beside the blocks: what notifications
// and screen readers show.
func Fallback(m mamori.Message) string {
	var parts []string
	if m.Urgent {
		parts = append(parts, urgentMark)
	}
	if m.Header != "" {
		parts = append(parts, escape(m.Header))
	}
	if m.Text != "" {
		parts = append(parts, escape(m.Text))
	}
	s := strings.Join(parts, "\n")
	if s == "" {
		s = firstNonEmpty(escape(m.Prompt), escape(m.Note))
	}
	return truncate(s, maxFallback)
}

func render(m mamori.Message, max int) []slackapi.Block {
	var content, tail []slackapi.Block

	if h := m.Header; h != "" || m.Urgent {
		if m.Urgent {
			h = strings.TrimSpace(urgentMark + " " + h)
		}
		if named := escape(h); strings.Contains(named, "<@") {
			// A header block is plain text, where "<@U…>" stays those
			// characters: a heading that names someone ("<@U0SATO> is
			// on it") is bold text instead, which shows them. (escape
			// leaves no other "<".)
			content = append(content, slackapi.NewSectionBlock(mrkdwn("*"+truncate(named, maxHeader)+"*"), nil, nil))
		} else {
			content = append(content, slackapi.NewHeaderBlock(plain(truncate(h, maxHeader))))
		}
	}
	for _, chunk := range split(m.Text, maxSectionText) {
		content = append(content, slackapi.NewSectionBlock(mrkdwn(chunk), nil, nil))
	}
	content = append(content, fieldBlocks(m.Fields)...)

	if m.Multi != nil && len(m.Multi.Options) > 0 {
		tail = append(tail, multiBlocks(m.Step, m.Multi)...)
	}
	tail = append(tail, buttonBlocks(kindChoice, m.Step, m.Choices)...)
	if m.Prompt != "" {
		tail = append(tail, contextBlock(m.Prompt))
	}
	tail = append(tail, buttonBlocks(kindControl, m.Step, m.Controls)...)
	if m.Note != "" {
		tail = append(tail, contextBlock(m.Note))
	}

	// Within the block limit the actions always survive; long text is cut.
	if len(content)+len(tail) > max {
		keep := max - len(tail) - 1
		if keep < 0 {
			keep = 0
		}
		content = append(content[:keep], slackapi.NewContextBlock("", mrkdwn("…")))
	}
	blocks := append(content, tail...)
	if len(blocks) > max {
		blocks = blocks[:max]
	}
	if blocks == nil {
		blocks = []slackapi.Block{}
	}
	return blocks
}

// fieldBlocks renders label/value pairs: short ones two abreast in section
// fields (at most ten a section), long ones as sections of their own, in
// the order given.
func fieldBlocks(fields []mamori.Field) []slackapi.Block {
	var blocks []slackapi.Block
	var run []*slackapi.TextBlockObject
	flush := func() {
		if len(run) > 0 {
			blocks = append(blocks, slackapi.NewSectionBlock(nil, run, nil))
			run = nil
		}
	}
	for _, f := range fields {
		label := "*" + escape(truncate(strings.TrimSpace(f.Label), maxLabel)) + "*"
		if f.Label == "" {
			label = ""
		}
		if width(f.Value) <= shortField && !strings.Contains(f.Value, "\n") {
			text := joinNonEmpty("\n", label, escape(f.Value))
			if text == "" {
				continue
			}
			run = append(run, mrkdwn(truncate(text, maxField)))
			if len(run) == maxFields {
				flush()
			}
			continue
		}
		flush()
		chunks := split(f.Value, maxSectionText-width(label)-1)
		for i, c := range chunks {
			if i == 0 {
				c = joinNonEmpty("\n", label, c)
			}
			blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn(c), nil, nil))
		}
	}
	flush()
	return blocks
}

// buttonBlocks renders choices as buttons, at most 25 an actions block.
// The block id carries the step; the button value carries the choice.
func buttonBlocks(kind, step string, choices []mamori.Choice) []slackapi.Block {
	var blocks []slackapi.Block
	for n, i := 0, 0; i < len(choices); n, i = n+1, i+maxActionElems {
		end := min(i+maxActionElems, len(choices))
		var elems []slackapi.BlockElement
		for j, c := range choices[i:end] {
			elems = append(elems, button(kind+"/"+strconv.Itoa(i+j), c))
		}
		blocks = append(blocks, slackapi.NewActionBlock(blockID(kind, n, step), elems...))
	}
	return blocks
}

func button(actionID string, c mamori.Choice) *slackapi.ButtonBlockElement {
	b := slackapi.NewButtonBlockElement(actionID, truncateBytes(c.Value, maxValue), plain(truncate(c.Label, maxButtonText)))
	switch c.Style {
	case mamori.StylePrimary:
		b.Style = slackapi.StylePrimary
	case mamori.StyleDanger:
		b.Style = slackapi.StyleDanger
	}
	return b
}

// multiBlocks renders a multi-select as checkbox groups of at most ten
// options (Slack's limit), each in its own actions block, and a submit
// button. Selected options start checked.
func multiBlocks(step string, m *mamori.Multi) []slackapi.Block {
	selected := map[string]bool{}
	for _, v := range m.Selected {
		selected[v] = true
	}
	var blocks []slackapi.Block
	for n, i := 0, 0; i < len(m.Options); n, i = n+1, i+maxOptions {
		end := min(i+maxOptions, len(m.Options))
		var opts, initial []*slackapi.OptionBlockObject
		for _, o := range m.Options[i:end] {
			text, more := optionText(o.Label)
			var desc *slackapi.TextBlockObject
			if more != "" {
				desc = plain(more)
			}
			obj := slackapi.NewOptionBlockObject(truncateBytes(o.Value, maxOptionValue), plain(text), desc)
			opts = append(opts, obj)
			if selected[o.Value] {
				initial = append(initial, obj)
			}
		}
		cb := slackapi.NewCheckboxGroupsBlockElement(kindMulti, opts...)
		cb.InitialOptions = initial
		blocks = append(blocks, slackapi.NewActionBlock(blockID(kindMulti, n, step), cb))
	}
	submit := m.Submit
	if submit.Style == "" {
		submit.Style = mamori.StylePrimary
	}
	blocks = append(blocks, slackapi.NewActionBlock(blockID(kindSubmit, 0, step), button(kindSubmit, submit)))
	return blocks
}

// optionText fits a label into an option's text and, when longer than
// that allows, its description line: a policy's behaviour labels can be
// long, and cutting them would change what the reporter agrees to.
func optionText(label string) (text, more string) {
	label = strings.TrimSpace(label)
	if width(label) <= maxOptionText {
		return label, ""
	}
	cut, w := 0, 0 // byte offset of the best cut; width so far
	for i, r := range label {
		rw := width(string(r))
		if w+rw > maxOptionText {
			if cut == 0 {
				cut = i
			}
			break
		}
		w += rw
		switch r {
		case ' ', '、', '，', ',', '・', '（', '(', '　':
			if w > maxOptionText/2 {
				cut = i
				if r != '（' && r != '(' {
					cut += len(string(r))
				}
			}
		}
	}
	return strings.TrimSpace(label[:cut]), truncate(strings.TrimSpace(label[cut:]), maxOptionText)
}

// contextBlock renders small print, split over up to ten elements.
func contextBlock(s string) slackapi.Block {
	var elems []slackapi.MixedElement
	for _, c := range split(s, maxContextText) {
		if len(elems) == maxContextElems {
			break
		}
		elems = append(elems, mrkdwn(c))
	}
	return slackapi.NewContextBlock("", elems...)
}

func plain(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.PlainTextType, s, true, false)
}

func mrkdwn(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.MarkdownType, s, false, false)
}

// escape makes text safe for mrkdwn: what a person typed can never become
// a mention (<!channel>, <@U…>) or a disguised link.
// escape makes s safe as mrkdwn: nothing typed becomes a link or a
// special mention such as <!channel>. User mentions (<@U123>), which flows
// use to name a person, stay mentions.
func escape(s string) string {
	s = escaper.Replace(s)
	if !strings.Contains(s, "&lt;@") {
		return s
	}
	return userMention.ReplaceAllString(s, "<@$1>")
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

var userMention = regexp.MustCompile(`&lt;@([UW][A-Z0-9]{2,20})&gt;`)

// split escapes s and cuts it into pieces of at most n characters,
// preferring to cut at a line break, then at a space, never inside an
// escape or a character.
func split(s string, n int) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	var out []string
	var cur strings.Builder
	curW := 0
	lastBreak, lastSpace := -1, -1 // byte offsets in cur after a break
	for _, r := range s {
		piece := escape(string(r))
		w := width(piece)
		if curW+w > n {
			text := cur.String()
			cut := len(text)
			switch {
			case lastBreak > len(text)/2:
				cut = lastBreak
			case lastSpace > len(text)/2:
				cut = lastSpace
			}
			out = append(out, strings.TrimSpace(text[:cut]))
			rest := text[cut:]
			cur.Reset()
			cur.WriteString(rest)
			curW = width(rest)
			lastBreak, lastSpace = -1, -1
		}
		cur.WriteString(piece)
		curW += w
		switch r {
		case '\n':
			lastBreak = cur.Len()
		case ' ', '　':
			lastSpace = cur.Len()
		}
	}
	if t := strings.TrimSpace(cur.String()); t != "" {
		out = append(out, t)
	}
	for i := range out {
		out[i] = userMention.ReplaceAllString(out[i], "<@$1>")
	}
	return out
}

// width counts s in UTF-16 units, the strictest way Slack may count.
func width(s string) int {
	n := 0
	for _, r := range s {
		if r > 0xFFFF {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// truncate shortens s to at most n characters, ending with "…" when cut.
func truncate(s string, n int) string {
	if width(s) <= n {
		return s
	}
	var b strings.Builder
	w, midWord := 0, false
	for _, r := range s {
		rw := width(string(r))
		if w+rw > n-1 {
			midWord = r != ' ' && b.Len() > 0 && !strings.HasSuffix(b.String(), " ")
			break
		}
		b.WriteRune(r)
		w += rw
	}
	out := b.String()
	// Latin text is cut at a word boundary when one is near.
	if i := strings.LastIndexByte(out, ' '); midWord && i > len(out)/2 {
		out = out[:i]
	}
	return strings.TrimRight(out, " ") + "…"
}

// truncateBytes keeps values (ids, not prose) within n, on a rune boundary.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
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

// maxAltText is the longest alt text files.getUploadURLExternal accepts.
const maxAltText = 1000

// imageUpload is the upload of img to channel, in the thread of threadTS
// when set: the PNG under its name, with its alt text for screen readers.
func imageUpload(img *mamori.Image, channel, threadTS string) slackapi.UploadFileParameters {
	name := img.Name
	if name == "" {
		name = "image.png"
	}
	return slackapi.UploadFileParameters{
		Reader:          bytes.NewReader(img.PNG),
		FileSize:        len(img.PNG),
		Filename:        name,
		Title:           name,
		AltTxt:          truncate(img.Alt, maxAltText),
		Channel:         channel,
		ThreadTimestamp: threadTS,
	}
}
