package flows

import (
	"fmt"
	"strings"

	"github.com/mamori-oss/mamori"
)

func text(s string) mamori.Message { return mamori.Message{Text: s} }

// menu is the first thing a user sees: report, consult or read the policy.
func menu(env Env, l mamori.Lang, greet bool) mamori.Message {
	t := env.Policy.T
	m := mamori.Message{
		Step: stepMenu,
		Text: t(l, "menu.again"),
		Choices: []mamori.Choice{
			{Value: mamori.StartReport, Label: t(l, "menu.report"), Style: mamori.StylePrimary},
			{Value: mamori.StartConsult, Label: t(l, "menu.consult")},
			{Value: mamori.StartPolicy, Label: t(l, "menu.policy")},
			{Value: mamori.StartOnsite, Label: t(l, "onsite.menu")},
			{Value: mamori.StartSOS, Label: t(l, "menu.sos"), Style: mamori.StyleDanger},
			{Value: mamori.StartCheck, Label: t(l, "check.menu")},
		},
		Note: t(l, "menu.emergency"),
	}
	if greet {
		m.Text = t(l, "menu.greeting")
	}
	return m
}

// policyMessage shows the company policy to employees (周知).
func policyMessage(env Env, l mamori.Lang) mamori.Message {
	p := env.Policy
	var b strings.Builder
	b.WriteString(p.Statement.In(l))
	b.WriteString("\n\n*" + p.T(l, "policy.definition") + "*\n" + p.Definition.In(l))
	if len(p.Criteria) > 0 {
		b.WriteString("\n\n*" + p.T(l, "policy.criteria") + "*")
		for i, c := range p.Criteria {
			fmt.Fprintf(&b, "\n%s %s", circled(i+1), c.In(l))
		}
	}
	for _, g := range []string{mamori.GroupRegardless, mamori.GroupDepends} {
		first := true
		for _, bh := range p.Behaviours {
			if bh.Group != g {
				continue
			}
			if first {
				b.WriteString("\n\n*" + p.T(l, "policy.group."+g) + "*")
				first = false
			}
			b.WriteString("\n• " + bh.Label.In(l))
		}
	}
	m := mamori.Message{Header: p.Name.In(l), Text: b.String(), Note: p.Source.In(l)}
	if p.Link != "" {
		m.Note = strings.TrimSpace(m.Note + " " + p.Link)
	}
	return m
}

func circled(n int) string {
	if n >= 1 && n <= 20 {
		return string(rune('①' + n - 1))
	}
	return fmt.Sprint(n) + "."
}

// ask renders the current step of c as the message to send, with problem
// (what was wrong with the last answer) first when there is one.
func ask(env Env, c mamori.Conversation, problem string) Out {
	l := c.User.Lang
	t := env.Policy.T
	m := mamori.Message{Step: c.Step}
	nav := func(back bool) []mamori.Choice {
		var cs []mamori.Choice
		if back && len(c.History) > 0 {
			cs = append(cs, mamori.Choice{Value: navBack, Label: t(l, "nav.back")})
		}
		return append(cs,
			mamori.Choice{Value: navLater, Label: t(l, "nav.later")},
			mamori.Choice{Value: navCancel, Label: t(l, "nav.cancel")})
	}
	switch c.Step {
	case stepMenu, "", stepDone:
		return Out{Replies: []mamori.Message{menu(env, l, false)}}
	case stepResume:
		m.Text = t(l, "resume."+c.Flow)
		m.Choices = []mamori.Choice{
			{Value: "continue", Label: t(l, "resume.continue"), Style: mamori.StylePrimary},
			{Value: "restart", Label: t(l, "resume.restart")},
		}
	case stepCancel:
		m.Text = t(l, "cancel.confirm")
		m.Choices = []mamori.Choice{
			{Value: "yes", Label: t(l, "cancel.yes"), Style: mamori.StyleDanger},
			{Value: "no", Label: t(l, "cancel.no"), Style: mamori.StylePrimary},
			{Value: navLater, Label: t(l, "nav.later")}, // a pause keeps what they wrote
		}
		if c.Flow == mamori.FlowReport {
			// Rather a question to HR: what they wrote goes with it.
			m.Choices = append(m.Choices, mamori.Choice{Value: toConsult, Label: t(l, "cancel.consult")})
		}
	case stepSummary, stepCSummary:
		m.Header = t(l, "summary.header."+c.Flow)
		m.Text = t(l, "summary.text")
		m.Fields = summaryFields(env, c, l)
		m.Choices = []mamori.Choice{
			{Value: "submit", Label: t(l, "summary.submit."+c.Flow), Style: mamori.StylePrimary},
			{Value: "edit", Label: t(l, "summary.edit")},
		}
		m.Controls = nav(false)
		m.Note = t(l, "summary.note."+c.Flow)
		if route, _, _ := Route(env, c); c.Flow == mamori.FlowReport && route == mamori.RouteHR {
			m.Note = t(l, "summary.note.report.hr")
			if d, ok := department(env, c); ok && onlySupervisor(d, c.User) {
				m.Note = t(l, "summary.note.report.hr.self")
			} else if supervisorNamed(env, c) {
				m.Note = t(l, "summary.note.report.hr.named")
			}
		}
	case stepEdit:
		m.Text = t(l, "edit.which")
		for _, q := range questions {
			if q.flow == c.Flow && (q.asked == nil || q.asked(env, c)) {
				m.Choices = append(m.Choices, mamori.Choice{Value: q.step, Label: t(l, "s."+q.step)})
			}
		}
		m.Choices = append(m.Choices, mamori.Choice{Value: "summary", Label: t(l, "edit.done"), Style: mamori.StylePrimary})
	default:
		q, ok := lookup(c.Step)
		if !ok {
			return Out{Replies: []mamori.Message{menu(env, l, false)}}
		}
		m.Text = t(l, "q."+q.step)
		if q.step == stepRoute {
			d, _ := department(env, c)
			m.Text = fmt.Sprintf(m.Text, d.Name.In(l))
		}
		if n, total := progress(env, c); total > 0 {
			m.Header = fmt.Sprintf(t(l, "progress"), n, total)
		}
		if q.options != nil {
			opts := q.options(env, l)
			if q.kind == kMulti {
				m.Multi = &mamori.Multi{Options: opts, Selected: c.Answers.Behaviours,
					Submit: mamori.Choice{Value: "submit", Label: t(l, "multi.submit"), Style: mamori.StylePrimary}}
			} else {
				m.Choices = opts
			}
		}
		switch q.kind {
		case kText:
			m.Prompt = t(l, "prompt.text")
		case kBoth:
			m.Prompt = t(l, "prompt.both")
		case kMulti:
			m.Prompt = t(l, "prompt.multi")
		}
		if q.optional {
			m.Choices = append(m.Choices, mamori.Choice{Value: navSkip, Label: t(l, "nav.skip")})
		}
		if cur := display(env, c, q.step, l); cur != "" && q.step != stepSafety {
			m.Note = fmt.Sprintf(t(l, "current"), cur)
			m.Choices = append(m.Choices, mamori.Choice{Value: navKeep, Label: t(l, "nav.keep")})
		}
		if (q.step == stepEvidence || q.step == stepNarrative) && m.Note == "" {
			// Not under "your answer": it would read as part of it.
			m.Note = t(l, "files.hint")
		}
		m.Controls = nav(true)
	}
	if problem != "" && (c.Step == stepSummary || c.Step == stepCSummary) {
		// The summary was just shown above: its buttons again, not all of
		// it (a long account would come back whole).
		m.Header, m.Fields, m.Note, m.Text = "", nil, "", "⚠️ "+problem
		return Out{Replies: []mamori.Message{m}}
	}
	if problem != "" {
		// A warning sign for what went wrong, not for a word of welcome
		// or for words kept (a feeling, a sentence they wrote).
		sign := "⚠️ "
		for _, key := range []string{"nav.welcome_back", "nav.kept_aside.buttons", "nav.kept_aside.consult", "nav.kept_aside.danger", "nav.feelings_kept", "nav.help"} {
			if problem == t(l, key) {
				sign = ""
			}
		}
		m.Text = sign + problem + "\n\n" + m.Text
	}
	return Out{Replies: []mamori.Message{m}}
}

// progress returns the position of the current question among those that
// apply, for "question 3 of 18".
func progress(env Env, c mamori.Conversation) (int, int) {
	n, total := 0, 0
	for _, q := range questions {
		if q.flow != c.Flow || (q.asked != nil && !q.asked(env, c)) {
			continue
		}
		total++
		if q.step == c.Step {
			n = total
		}
	}
	return n, total
}

// summaryFields lists every answer given, in question order.
func summaryFields(env Env, c mamori.Conversation, l mamori.Lang) []mamori.Field {
	var fs []mamori.Field
	for _, q := range questions {
		if q.flow != c.Flow || (q.asked != nil && !q.asked(env, c)) {
			continue
		}
		v := display(env, c, q.step, l)
		if v == "" {
			v = env.Policy.T(l, "summary.none")
		}
		if q.step == stepWellbeing && c.Answers.Feelings != "" {
			// Their own words, under the answer they are HR's as it is.
			v += "\n" + fmt.Sprintf(env.Policy.T(l, "summary.feelings"), c.Answers.Feelings)
		}
		if q.step == stepSafety && c.SOS != "" && c.Answers.Safety == "safe" {
			// "Safe" answered first, an SOS raised since: both, as they are.
			v += "\n" + fmt.Sprintf(env.Policy.T(l, "summary.sos"), c.SOS)
		}
		fs = append(fs, mamori.Field{Label: env.Policy.T(l, "s."+q.step), Value: v})
	}
	if len(c.Answers.Files) > 0 {
		names := make([]string, len(c.Answers.Files))
		for i, f := range c.Answers.Files {
			names[i] = f.Name
			if f.URL != "" {
				names[i] += " " + f.URL
			}
		}
		fs = append(fs, mamori.Field{Label: env.Policy.T(l, "s.files"), Value: strings.Join(names, "\n")})
	}
	return fs
}

// display returns the answer to step as the reader should see it: option
// labels for choices, the text as typed otherwise.
func display(env Env, c mamori.Conversation, step string, l mamori.Lang) string {
	q, ok := lookup(step)
	if !ok {
		return ""
	}
	if q.kind == kMulti {
		var labels []string
		for _, id := range c.Answers.Behaviours {
			if b, ok := env.Policy.Behaviour(id); ok {
				labels = append(labels, b.Label.In(l))
			}
		}
		return strings.Join(labels, "\n")
	}
	v := *q.answer(&c.Answers)
	if v == "" || q.options == nil {
		return v
	}
	if q.step == stepRoute && supervisorNamed(env, c) {
		v = mamori.RouteHR // where it goes, whatever was chosen
	}
	if q.step == stepWhen {
		if d := showDate(v, l); d != "" {
			return d
		}
		if v == "now" { // kept by versions before the dates
			return env.Policy.T(l, "a.when.now")
		}
	}
	for _, o := range q.options(env, l) {
		if o.Value == v {
			return o.Label
		}
	}
	return v
}
