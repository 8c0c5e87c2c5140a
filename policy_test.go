package mamori_test

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mamori-oss/mamori"
)

// seedDir holds the verbatim company policies the seed presets follow.
const seedDir = "../shared/seeds"

func TestPresetsParse(t *testing.T) {
	tests := []struct {
		name        string
		regardless  int
		depends     int
		exceptions  []string
		actions     []string
		immediateID string
	}{
		{name: "mhlw-2022", regardless: 9, depends: 3, actions: []string{"warn", "refuse", "police", "lawyer", "parent"}, immediateID: "physical_attack"},
		{name: "seed-000", regardless: 10, depends: 2, actions: []string{"warn", "refuse", "police", "lawyer"}, immediateID: "violence"},
		{name: "seed-004", regardless: 13, depends: 3, exceptions: []string{"medical"}, actions: []string{"warn", "refuse", "police", "lawyer", "parent", "external_body"}, immediateID: "physical_attack"},
	}
	names := mamori.Presets()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !slices.Contains(names, tt.name) {
				t.Errorf("Presets() = %v, want it to list %s", names, tt.name)
			}
			p, err := mamori.Preset(tt.name)
			if err != nil {
				t.Fatalf("Preset(%q): %v", tt.name, err)
			}
			if err := p.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if p.ID != tt.name {
				t.Errorf("id = %q, want %q", p.ID, tt.name)
			}
			checkTexts(t, p)
			if len(p.Criteria) != 2 {
				t.Errorf("%d criteria, want 2", len(p.Criteria))
			}
			if len(p.InvalidDemand) != 2 {
				t.Errorf("%d invalid-demand examples, want 2", len(p.InvalidDemand))
			}
			if len(p.Care) < 4 {
				t.Errorf("%d care resources, want at least 4", len(p.Care))
			}
			var reg, dep int
			for _, b := range p.Behaviours {
				switch b.Group {
				case mamori.GroupRegardless:
					reg++
				case mamori.GroupDepends:
					dep++
				}
				if b.Immediate && !b.Crime {
					t.Errorf("behaviour %s is immediate but not marked as a possible crime", b.ID)
				}
				if b.Immediate && b.Group != mamori.GroupRegardless {
					t.Errorf("behaviour %s is immediate but in group %s", b.ID, b.Group)
				}
			}
			if reg != tt.regardless || dep != tt.depends {
				t.Errorf("groups: %d regardless, %d depends; want %d, %d", reg, dep, tt.regardless, tt.depends)
			}
			if b, ok := p.Behaviour(tt.immediateID); !ok || !b.Immediate || !b.Crime {
				t.Errorf("behaviour %s = %+v, %v; want it immediate and a possible crime", tt.immediateID, b, ok)
			}
			if diff := cmp.Diff(tt.actions, ids(p.Actions)); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
			var ex []string
			for _, e := range p.Exceptions {
				ex = append(ex, e.ID)
			}
			if diff := cmp.Diff(tt.exceptions, ex); diff != "" {
				t.Errorf("exceptions (-want +got):\n%s", diff)
			}
			if len(p.Channels) == 0 {
				t.Errorf("no contact channels (they come from texts.yaml)")
			}
		})
	}
}

// TestPresetSharedIDs checks that a concept has the same id in every preset,
// so statistics line up when an organisation switches presets.
func TestPresetSharedIDs(t *testing.T) {
	byLabel := map[string]string{}
	for _, name := range []string{"mhlw-2022", "seed-004"} {
		p, err := mamori.Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range p.Behaviours {
			if id, ok := byLabel[b.Label.JA]; ok && id != b.ID {
				t.Errorf("%s: %q has id %s, elsewhere %s", name, b.Label.JA, b.ID, id)
			}
			byLabel[b.Label.JA] = b.ID
		}
	}
}

func TestSeed000Behaviours(t *testing.T) {
	lines := readSeed(t, "000_7f4971185fd3617d.txt")
	var want []string
	in := false
	for _, l := range lines {
		switch {
		case l == "(対象となる行為)":
			in = true
		case in && strings.HasPrefix(l, "なお"):
			in = false
		case in && strings.HasPrefix(l, "● "):
			want = append(want, strings.TrimPrefix(l, "● "))
		}
	}
	if len(want) != 11 {
		t.Fatalf("found %d behaviour lines in seed 000, want 11: %q", len(want), want)
	}
	p, err := mamori.Preset("seed-000")
	if err != nil {
		t.Fatal(err)
	}
	// The preset is the seed's 11 lines, in order, after a separate
	// violence entry.
	want = append([]string{"暴力行為（殴る・蹴る等）"}, want...)
	if diff := cmp.Diff(want, jaLabels(p.Behaviours)); diff != "" {
		t.Errorf("behaviour labels (-seed +preset):\n%s", diff)
	}
	groups := map[string]string{}
	for _, b := range p.Behaviours {
		groups[b.ID] = b.Group
	}
	for _, id := range []string{"excessive_service", "unjustified_demand"} {
		if groups[id] != mamori.GroupDepends {
			t.Errorf("%s: group %q, want depends", id, groups[id])
		}
	}
	if b, _ := p.Behaviour("attack_intimidation"); !b.Crime {
		t.Errorf("attack_intimidation (暴行・傷害・脅迫) is not marked as a possible crime")
	}
	if len(p.Exceptions) != 0 {
		t.Errorf("exceptions = %v, the seed names none", p.Exceptions)
	}
}

var numbered = regexp.MustCompile(`^\d+\. (.+)$`)

func TestSeed004Behaviours(t *testing.T) {
	lines := readSeed(t, "004_d96d079bb1c83007.txt")
	sections := map[string][]string{}
	section := ""
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "#### ①"):
			section = "invalid"
		case l == "（要求内容の妥当性にかかわらず不相当とされる可能性が高いもの）":
			section = mamori.GroupRegardless
		case l == "（要求内容の妥当性に照らして不相当とされる場合があるもの）":
			section = mamori.GroupDepends
		case strings.HasPrefix(l, "#"):
			section = ""
		case section != "":
			if m := numbered.FindStringSubmatch(l); m != nil {
				sections[section] = append(sections[section], m[1])
			}
		}
	}
	if n := len(sections[mamori.GroupRegardless]); n != 13 {
		t.Fatalf("found %d regardless lines in seed 004, want 13", n)
	}
	if n := len(sections[mamori.GroupDepends]); n != 3 {
		t.Fatalf("found %d depends lines in seed 004, want 3", n)
	}
	p, err := mamori.Preset("seed-004")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, b := range p.Behaviours {
		got[b.Group] = append(got[b.Group], b.Label.JA)
	}
	for _, g := range []string{mamori.GroupRegardless, mamori.GroupDepends} {
		if diff := cmp.Diff(sections[g], got[g]); diff != "" {
			t.Errorf("%s labels (-seed +preset):\n%s", g, diff)
		}
	}
	var invalid []string
	for _, e := range p.InvalidDemand {
		invalid = append(invalid, e.JA)
	}
	if diff := cmp.Diff(sections["invalid"], invalid); diff != "" {
		t.Errorf("invalid-demand examples (-seed +preset):\n%s", diff)
	}
	flags := map[string][2]bool{ // crime, immediate
		"physical_attack": {true, true},
		"verbal_attack":   {true, false},
		"sexual":          {true, false},
	}
	for id, f := range flags {
		b, ok := p.Behaviour(id)
		if !ok || b.Crime != f[0] || b.Immediate != f[1] {
			t.Errorf("%s: crime %v immediate %v (found %v), want %v %v", id, b.Crime, b.Immediate, ok, f[0], f[1])
		}
	}
	if len(p.Exceptions) != 1 || !strings.Contains(p.Exceptions[0].Guidance.JA, "セコム株式会社") ||
		!strings.Contains(p.Exceptions[0].Guidance.JA, "居宅介護支援事業所") {
		t.Errorf("exceptions = %+v, want the medical exception naming the external body and the parent company", p.Exceptions)
	}
}

func TestTextIn(t *testing.T) {
	tests := []struct {
		text mamori.Text
		lang mamori.Lang
		want string
	}{
		{mamori.Text{JA: "はい", EN: "Yes"}, mamori.JA, "はい"},
		{mamori.Text{JA: "はい", EN: "Yes"}, mamori.EN, "Yes"},
		{mamori.Text{JA: "はい"}, mamori.EN, "はい"},
		{mamori.Text{JA: "はい", EN: "Yes"}, mamori.Lang("fr"), "はい"},
		{mamori.Text{JA: "はい", EN: "Yes"}, "", "はい"},
		{mamori.Text{}, mamori.EN, ""},
	}
	for _, tt := range tests {
		if got := tt.text.In(tt.lang); got != tt.want {
			t.Errorf("%+v.In(%q) = %q, want %q", tt.text, tt.lang, got, tt.want)
		}
	}
}

func TestLangFromLocale(t *testing.T) {
	tests := map[string]mamori.Lang{
		"en-US": mamori.EN,
		"en-GB": mamori.EN,
		"en":    mamori.EN,
		"EN-US": mamori.EN,
		"ja-JP": mamori.JA,
		"ja":    mamori.JA,
		"fr-FR": mamori.JA,
		"e":     mamori.JA,
		"":      mamori.JA,
	}
	for locale, want := range tests {
		if got := mamori.LangFromLocale(locale); got != want {
			t.Errorf("LangFromLocale(%q) = %q, want %q", locale, got, want)
		}
	}
}

func TestParsePolicyRejects(t *testing.T) {
	const good = `id: test
behaviours:
  - id: violence
    group: regardless
    label: {ja: 暴力, en: Violence}
`
	if _, err := mamori.ParsePolicy([]byte(good)); err != nil {
		t.Fatalf("the valid base policy: %v", err)
	}
	tests := []struct {
		name    string
		yaml    string
		invalid bool // the error wraps ErrInvalid
	}{
		{"no group", good + `  - id: threats
    label: {ja: 脅迫, en: Threats}
`, true},
		{"unknown group", good + `  - id: threats
    group: sometimes
    label: {ja: 脅迫, en: Threats}
`, true},
		{"duplicate id", good + `  - id: violence
    group: depends
    label: {ja: 暴力2, en: Violence 2}
`, true},
		{"missing en label", good + `  - id: threats
    group: regardless
    label: {ja: 脅迫}
`, true},
		{"no behaviour id", good + `  - group: regardless
    label: {ja: 脅迫, en: Threats}
`, true},
		{"no policy id", strings.Replace(good, "id: test\n", "", 1), true},
		{"no behaviours", "id: test\n", true},
		{"text missing en", good + "texts:\n  hello: {ja: こんにちは}\n", true},
		{"unknown top-level field", good + "colour: blue\n", false},
		{"unknown behaviour field", good + `  - id: threats
    group: regardless
    severity: high
    label: {ja: 脅迫, en: Threats}
`, false},
		{"not yaml", "id: [unclosed\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mamori.ParsePolicy([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("ParsePolicy accepted:\n%s", tt.yaml)
			}
			if tt.invalid && !errors.Is(err, mamori.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

// checkTexts reports every user-facing text of the policy that lacks a
// language.
func checkTexts(t *testing.T, p *mamori.Policy) {
	t.Helper()
	check := func(what string, x mamori.Text) {
		if strings.TrimSpace(x.JA) == "" || strings.TrimSpace(x.EN) == "" {
			t.Errorf("%s: %+v needs ja and en", what, x)
		}
	}
	check("name", p.Name)
	check("source", p.Source)
	check("definition", p.Definition)
	check("statement", p.Statement)
	for i, x := range p.Criteria {
		check("criterion "+string(rune('1'+i)), x)
	}
	for _, x := range p.InvalidDemand {
		check("invalid-demand example", x)
	}
	for _, b := range p.Behaviours {
		check("behaviour "+b.ID, b.Label)
	}
	for _, e := range p.Exceptions {
		check("exception "+e.ID, e.Label)
		check("exception "+e.ID+" guidance", e.Guidance)
	}
	for _, o := range p.Actions {
		check("action "+o.ID, o.Label)
	}
	for _, o := range p.Channels {
		check("channel "+o.ID, o.Label)
	}
	for _, c := range p.Care {
		check("care", c.Name)
		check("care "+c.Name.EN, c.Detail)
		check("care "+c.Name.EN+" contact", c.Contact)
	}
}

func ids(opts []mamori.Option) []string {
	var out []string
	for _, o := range opts {
		out = append(out, o.ID)
	}
	return out
}

func jaLabels(bs []mamori.Behaviour) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Label.JA)
	}
	return out
}

// readSeed returns the lines of a seed policy, or skips the test when the
// seeds are not beside the repository.
func readSeed(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(seedDir, name))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("seed %s not found in %s: the seed comparison needs the shared seeds beside the repository", name, seedDir)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for s.Scan() {
		lines = append(lines, strings.TrimRight(s.Text(), " \t\r"))
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestTextYAML(t *testing.T) {
	const base = `id: test
behaviours:
  - id: violence
    group: regardless
    label: {ja: 暴力, en: Violence}
care:
`
	tests := []struct {
		name, yaml string
		want       mamori.Text
		en         string // Contact.In(EN)
	}{
		{"per language", `  - name: {ja: 窓口, en: Desk}
    contact: {ja: 内線 1234, en: ext. 1234}
`, mamori.Text{JA: "内線 1234", EN: "ext. 1234"}, "ext. 1234"},
		{"plain string (older configurations)", `  - name: {ja: 窓口, en: Desk}
    contact: "0120-000-000"
`, mamori.Text{JA: "0120-000-000"}, "0120-000-000"},
		{"japanese only", `  - name: {ja: 窓口, en: Desk}
    contact: {ja: 社内ポータル}
`, mamori.Text{JA: "社内ポータル"}, "社内ポータル"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := mamori.ParsePolicy([]byte(base + tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Care[0].Contact; got != tt.want {
				t.Errorf("contact = %+v, want %+v", got, tt.want)
			}
			if got := p.Care[0].Contact.In(mamori.EN); got != tt.en {
				t.Errorf("contact in English = %q, want %q", got, tt.en)
			}
		})
	}
	bad := map[string]string{
		"unknown language": `  - name: {ja: 窓口, en: Desk}
    contact: {ja: 内線, fr: poste}
`,
		"a list": `  - name: {ja: 窓口, en: Desk}
    contact: [内線, ext]
`,
	}
	for name, y := range bad {
		if _, err := mamori.ParsePolicy([]byte(base + y)); err == nil {
			t.Errorf("%s: ParsePolicy accepted:\n%s", name, y)
		}
	}
	// A policy's own texts still need both languages, as a string or not.
	if _, err := mamori.ParsePolicy([]byte(base + "texts:\n  hello: こんにちは\n")); !errors.Is(err, mamori.ErrInvalid) {
		t.Errorf("a text as a plain string: err = %v, want ErrInvalid (no English)", err)
	}
}
