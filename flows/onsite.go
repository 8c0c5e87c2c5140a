package flows

import (
	"strings"

	"github.com/mamori-oss/mamori"
)

// defaultOnsite are the ids of the built-in on-site steps, in order; their
// texts are onsite.default.<id>.title and .text. The "police" step is the
// one about calling the police.
var defaultOnsite = []string{"safety", "not_alone", "stop", "end", "police", "record"}

// OnsiteSteps returns the policy's on-site response steps (現場での対応),
// or, for a policy without its own, the built-in ones from the texts.
func OnsiteSteps(p *mamori.Policy) []mamori.OnsiteStep {
	if len(p.Onsite) > 0 {
		return p.Onsite
	}
	steps := make([]mamori.OnsiteStep, 0, len(defaultOnsite))
	for _, id := range defaultOnsite {
		text := func(key string) mamori.Text {
			key = "onsite.default." + id + "." + key
			return mamori.Text{JA: p.T(mamori.JA, key), EN: p.T(mamori.EN, key)}
		}
		steps = append(steps, mamori.OnsiteStep{ID: id, Title: text("title"), Text: text("text"), Police: id == "police"})
	}
	return steps
}

// OnsiteMessage is the short card of what to do on the spot, while the
// customer is still there: the policy's steps, numbered, and the
// emergency numbers. It has no buttons; the caller adds them.
func OnsiteMessage(env Env, l mamori.Lang) mamori.Message {
	p := env.Policy
	var b strings.Builder
	b.WriteString(p.T(l, "onsite.intro"))
	for i, st := range OnsiteSteps(p) {
		b.WriteString("\n\n*" + circled(i+1) + " " + st.Title.In(l) + "*\n" + st.Text.In(l))
	}
	return mamori.Message{Header: p.T(l, "onsite.header"), Text: b.String(), Note: p.T(l, "onsite.note")}
}
