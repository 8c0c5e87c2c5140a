package mamori

import (
	"fmt"
	"strings"
)

// Action is what a supervisor's or HR's button asks for: Kind (CardTake,
// CardJudge, CareAck, ConsultReply…) on Subject, a case number or a care
// task id. A button carries it as its value, "<kind>:<subject>".
type Action struct {
	Kind    string `json:"kind"`
	Subject string `json:"subject"`
}

// Value is the action as a button's value.
func (a Action) Value() string { return a.Kind + ":" + a.Subject }

// ParseAction reads a button's value; ok is false when it names no
// subject.
func ParseAction(v string) (a Action, ok bool) {
	kind, subject, ok := strings.Cut(v, ":")
	if !ok || kind == "" || subject == "" {
		return Action{}, false
	}
	return Action{Kind: kind, Subject: subject}, true
}

// Form is a platform-neutral form a supervisor or HR fills in before an
// action is done: the flows build it, with every text in the reader's
// language and every choice the policy allows; an adapter renders it (a
// Block Kit modal, an Adaptive Card dialog, terminal prompts) and hands
// what was entered back to the flows' Submit with the form's Action.
type Form struct {
	Action Action `json:"action"`
	Title  string `json:"title"`
	// Intro says what the form is for; About are the facts to act on (a
	// case's kind of demand, when, the policy's suggestion…).
	Intro  string      `json:"intro,omitempty"`
	About  []Field     `json:"about,omitempty"`
	Fields []FormField `json:"fields"`
	// Note is a small line under the inputs (who will read what).
	Note   string `json:"note,omitempty"`
	Submit string `json:"submit"`
	Cancel string `json:"cancel"`
}

// FormField is one input of a form.
type FormField struct {
	ID    string `json:"id"`   // the key of its value in Values
	Kind  string `json:"kind"` // FieldText, FieldOne, FieldMany
	Label string `json:"label"`
	Hint  string `json:"hint,omitempty"`
	// Options are a choice's options; Value the pre-filled text or the
	// options selected.
	Options  []Choice `json:"options,omitempty"`
	Value    []string `json:"value,omitempty"`
	Required bool     `json:"required,omitempty"`
	// Lines is more than one for a text typed in paragraphs; Max is the
	// most characters a text may have.
	Lines int `json:"lines,omitempty"`
	Max   int `json:"max,omitempty"`
	// OnlyIf, when set, says the field applies only when another field
	// holds one of some values (a response only for a decision of
	// harassment): a form asked a field at a time skips it otherwise; one
	// shown whole says so in the hint.
	OnlyIf *FieldIs `json:"only_if,omitempty"`
}

// FieldIs is a condition on a form field's value: field Field holds one
// of Values.
type FieldIs struct {
	Field  string   `json:"field"`
	Values []string `json:"values"`
}

// Form field kinds.
const (
	FieldText = "text" // free text
	FieldOne  = "one"  // one of Options
	FieldMany = "many" // any of Options
	FieldUser = "user" // a person in the workspace, by platform id
)

// Values are a submitted form's values by field id: a text or the one
// option chosen as one value, the options chosen as many.
type Values map[string][]string

// Text is field id's text, trimmed.
func (v Values) Text(id string) string {
	return strings.TrimSpace(strings.Join(v[id], "\n"))
}

// One is field id's chosen option, or "".
func (v Values) One(id string) string {
	if len(v[id]) == 0 {
		return ""
	}
	return v[id][0]
}

// Refusal is a typed "no" to an action or a submitted form: the key of
// the policy's words that say why, their arguments, and the field at
// fault when one is. It is an ErrInvalid. Its Error names the key, never
// the words: those are for the person, in their language (Policy.Say).
type Refusal struct {
	Field string
	Key   string
	Args  []any
}

func (e *Refusal) Error() string {
	if e.Field != "" {
		return "refused " + e.Field + ": " + e.Key
	}
	return "refused: " + e.Key
}

func (e *Refusal) Is(target error) bool { return target == ErrInvalid }

// TextKey is a Refusal argument that is itself a text key, said in the
// reader's language.
type TextKey string

// Say returns the words of refusal r in l.
func (p *Policy) Say(l Lang, r *Refusal) string {
	args := make([]any, len(r.Args))
	for i, a := range r.Args {
		if k, ok := a.(TextKey); ok {
			a = p.T(l, string(k))
		}
		args[i] = a
	}
	if len(args) == 0 {
		return p.T(l, r.Key)
	}
	return fmt.Sprintf(p.T(l, r.Key), args...)
}

// EmailSuffix, after a form field's id, names the value that holds the
// email of the person chosen in it, when the platform gives one.
const EmailSuffix = ".email"
