package mamori

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/goccy/go-yaml"
)

// Text is a user-facing text in every language.
type Text struct {
	JA string `yaml:"ja" json:"ja"`
	EN string `yaml:"en" json:"en"`
}

// UnmarshalYAML reads a text as a map of languages ({ja: …, en: …}) or,
// for a text that is the same in every language (a phone number, an
// address; what older configurations wrote for a care contact), as a
// plain string: it is then the Japanese text, which In gives for every
// language. A policy's own texts still need both languages (Validate).
// A tab, which no chat shows as one and which the YAML writer does not
// keep (fuzzing found a policy that read back changed), is a space.
func (t *Text) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err == nil {
		*t = Text{JA: noTabs.Replace(s)}
		return nil
	}
	type plain Text // without this method
	var p plain
	if err := unmarshal(&p); err != nil {
		return err
	}
	*t = Text{JA: noTabs.Replace(p.JA), EN: noTabs.Replace(p.EN)}
	return nil
}

var noTabs = strings.NewReplacer("\t", " ")

// In returns the text in l, falling back to Japanese.
func (t Text) In(l Lang) string {
	if l == EN && t.EN != "" {
		return t.EN
	}
	return t.JA
}

// Behaviour groups of the policy's second criterion.
const (
	// GroupRegardless: unacceptable whatever the demand.
	GroupRegardless = "regardless"
	// GroupDepends: unacceptable depending on the demand's validity.
	GroupDepends = "depends"
)

// Policy is a company's customer-harassment policy as data: what counts,
// how it is judged, what is done, the care offered, and every text.
type Policy struct {
	ID         string `yaml:"id"`
	Name       Text   `yaml:"name"`
	Source     Text   `yaml:"source"`
	Definition Text   `yaml:"definition"`
	// Criteria are the two judgement criteria: ① the demand's validity,
	// ② the means measured against social norms.
	Criteria []Text `yaml:"criteria"`
	// Statement is the published policy shown to employees (周知).
	Statement Text   `yaml:"statement"`
	Link      string `yaml:"link"`
	// InvalidDemand lists examples of demands lacking validity.
	InvalidDemand []Text          `yaml:"invalid_demand_examples"`
	Behaviours    []Behaviour     `yaml:"behaviours"`
	Exceptions    []Exception     `yaml:"exceptions"`
	Actions       []Option        `yaml:"actions"`
	Care          []Care          `yaml:"care"`
	Channels      []Option        `yaml:"contact_channels"`
	Texts         map[string]Text `yaml:"texts"`
	// Onsite is what to do on the spot, while the customer is still
	// there (現場での対応), in order. A policy may leave it out: the
	// built-in steps of the texts are shown then.
	Onsite []OnsiteStep `yaml:"onsite"`
}

// Behaviour is one listed customer behaviour.
type Behaviour struct {
	ID    string `yaml:"id"`
	Group string `yaml:"group"`
	Label Text   `yaml:"label"`
	// Crime marks behaviour that may be a crime (violence, threats).
	Crime bool `yaml:"crime"`
	// Immediate marks behaviour that is カスハラ at once (violence).
	Immediate bool `yaml:"immediate"`
}

// OnsiteStep is one step of the on-site response: a short title and one
// or two sentences a person in distress can take in at a glance.
type OnsiteStep struct {
	ID    string `yaml:"id"`
	Title Text   `yaml:"title"`
	Text  Text   `yaml:"text"`
	// Police marks the step about calling the police (110).
	Police bool `yaml:"police"`
}

// Exception is a case the policy judges differently, such as a patient's
// illness (病態).
type Exception struct {
	ID       string `yaml:"id"`
	Label    Text   `yaml:"label"`
	Guidance Text   `yaml:"guidance"`
}

// Option is a labelled choice from the policy (an action, a contact channel).
type Option struct {
	ID    string `yaml:"id"`
	Label Text   `yaml:"label"`
}

// Care is one care resource offered to the employee. Contact is how to
// reach it, per language ("内線 1234" / "ext. 1234"); a plain string is
// the same for every language.
type Care struct {
	Name    Text `yaml:"name"`
	Detail  Text `yaml:"detail"`
	Contact Text `yaml:"contact"`
}

//go:embed presets/*.yaml
var presets embed.FS

// Presets lists the embedded policy presets.
func Presets() []string {
	ents, _ := presets.ReadDir("presets")
	var names []string
	for _, e := range ents {
		n := strings.TrimSuffix(e.Name(), ".yaml")
		if !strings.HasPrefix(n, "texts") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Preset returns the embedded policy preset of that name.
func Preset(name string) (*Policy, error) {
	b, err := presets.ReadFile("presets/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("policy preset %q: %w (presets: %s)", name, ErrNotFound, strings.Join(Presets(), ", "))
	}
	return ParsePolicy(b)
}

// builtinTexts are the built-in texts: texts.yaml, and texts-*.yaml by
// subject, read once (they are embedded). Callers must not change them.
var builtinTexts = sync.OnceValues(func() (Policy, error) {
	files, _ := fs.Glob(presets, "presets/texts*.yaml")
	def := Policy{Texts: map[string]Text{}}
	for _, f := range files {
		base, err := presets.ReadFile(f)
		if err != nil {
			return Policy{}, err
		}
		var part Policy
		if err := yaml.Unmarshal(base, &part); err != nil {
			return Policy{}, fmt.Errorf("built-in texts %s: %w", f, err)
		}
		for k, v := range part.Texts {
			if _, dup := def.Texts[k]; dup {
				return Policy{}, fmt.Errorf("built-in texts %s: %q is defined twice", f, k)
			}
			def.Texts[k] = v
		}
		if len(part.Channels) > 0 {
			def.Channels = part.Channels
		}
		if len(part.Actions) > 0 {
			def.Actions = part.Actions
		}
	}
	return def, nil
})

// DecodeYAML reads a file an organisation wrote (a policy, a config)
// into v, refusing fields v does not have. The YAML library panics on
// some malformed input (a tag before a flow mapping cut short, found by
// FuzzParsePolicy): that is an error here, naming the file as invalid,
// never a crash at startup.
func DecodeYAML(b []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the file is not valid YAML (the parser stopped on it): %w", ErrInvalid)
		}
	}()
	return yaml.UnmarshalWithOptions(b, v, yaml.DisallowUnknownField())
}

// ParsePolicy reads a policy file. Texts it leaves out come from the
// built-in texts, so an organisation's file need only hold what differs.
func ParsePolicy(b []byte) (*Policy, error) {
	def, err := builtinTexts()
	if err != nil {
		return nil, err
	}
	var p Policy
	if err := DecodeYAML(b, &p); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if p.Texts == nil {
		p.Texts = map[string]Text{}
	}
	for k, v := range def.Texts {
		own, ok := p.Texts[k]
		if !ok {
			p.Texts[k] = v
			continue
		}
		// An override must keep the placeholders, or a message would show
		// %!(EXTRA …) to a user.
		for _, t := range []string{own.JA, own.EN} {
			if verbs(t) != verbs(v.JA) {
				return nil, fmt.Errorf("policy %s: text %q must keep the placeholders (%%s, %%d) of the built-in text %q: %w", p.ID, k, v.JA, ErrInvalid)
			}
		}
	}
	if len(p.Channels) == 0 {
		p.Channels = slices.Clone(def.Channels)
	}
	if len(p.Actions) == 0 {
		p.Actions = slices.Clone(def.Actions)
	}
	return &p, p.Validate()
}

// verbs lists a text's fmt arguments by their place: "1s 2d" for
// "%s … %d", and the same for "%[2]d … %[1]s", so a translation may put
// them in another order but must use the same ones.
func verbs(s string) string {
	args := map[int]byte{}
	n := 0
	for i := 0; i < len(s)-1; i++ {
		if s[i] != '%' {
			continue
		}
		i++
		if s[i] == '%' {
			continue
		}
		if s[i] == '[' {
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return s // malformed: compared as written
			}
			k, err := strconv.Atoi(s[i+1 : i+end])
			if err != nil || k < 1 {
				return s
			}
			n = k - 1
			i += end + 1
			if i >= len(s) {
				return s
			}
		}
		n++
		args[n] = s[i]
	}
	keys := make([]int, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%d%c ", k, args[k])
	}
	return b.String()
}

// Validate reports the first thing wrong with the policy.
func (p *Policy) Validate() error {
	if p.ID == "" {
		return fmt.Errorf("policy: id is missing: %w", ErrInvalid)
	}
	if len(p.Behaviours) == 0 {
		return fmt.Errorf("policy %s: no behaviours: %w", p.ID, ErrInvalid)
	}
	seen := map[string]bool{}
	for i, b := range p.Behaviours {
		switch {
		case b.ID == "":
			return fmt.Errorf("policy %s: behaviour %d has no id: %w", p.ID, i+1, ErrInvalid)
		case seen[b.ID]:
			return fmt.Errorf("policy %s: behaviour %q twice: %w", p.ID, b.ID, ErrInvalid)
		case b.Group != GroupRegardless && b.Group != GroupDepends:
			return fmt.Errorf("policy %s: behaviour %q: group must be %q or %q: %w", p.ID, b.ID, GroupRegardless, GroupDepends, ErrInvalid)
		case b.Label.JA == "" || b.Label.EN == "":
			return fmt.Errorf("policy %s: behaviour %q needs a label in ja and en: %w", p.ID, b.ID, ErrInvalid)
		}
		seen[b.ID] = true
	}
	steps := map[string]bool{}
	for i, st := range p.Onsite {
		switch {
		case st.ID == "":
			return fmt.Errorf("policy %s: on-site step %d has no id: %w", p.ID, i+1, ErrInvalid)
		case steps[st.ID]:
			return fmt.Errorf("policy %s: on-site step %q twice: %w", p.ID, st.ID, ErrInvalid)
		case st.Title.JA == "" || st.Title.EN == "" || st.Text.JA == "" || st.Text.EN == "":
			return fmt.Errorf("policy %s: on-site step %q needs a title and a text in ja and en: %w", p.ID, st.ID, ErrInvalid)
		}
		steps[st.ID] = true
	}
	for k, t := range p.Texts {
		if t.JA == "" || t.EN == "" {
			return fmt.Errorf("policy %s: text %q needs ja and en: %w", p.ID, k, ErrInvalid)
		}
	}
	return nil
}

// T returns the text for key in l. A missing key shows as itself, so a
// gap is visible in tests rather than an empty message.
func (p *Policy) T(l Lang, key string) string {
	if t, ok := p.Texts[key]; ok {
		return t.In(l)
	}
	return key
}

// Behaviour returns the behaviour with that id.
func (p *Policy) Behaviour(id string) (Behaviour, bool) {
	for _, b := range p.Behaviours {
		if b.ID == id {
			return b, true
		}
	}
	return Behaviour{}, false
}

// Label returns the label of the option with that id, or the id itself.
func Label(opts []Option, id string, l Lang) string {
	for _, o := range opts {
		if o.ID == id {
			return o.Label.In(l)
		}
	}
	return id
}
