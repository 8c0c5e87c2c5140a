package flows

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mamori-oss/mamori"
)

// The on-site card, header, text and note together, is at most this many
// characters: it is read on a phone in a few seconds.
const (
	maxOnsiteJA = 400
	maxOnsiteEN = 700
)

// TestOnsiteMessage renders the on-site card under every preset and under
// a policy without steps of its own, in both languages.
func TestOnsiteMessage(t *testing.T) {
	policies := map[string]*mamori.Policy{}
	for _, name := range mamori.Presets() {
		p, err := mamori.Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		policies[name] = p
	}
	bare, err := mamori.ParsePolicy([]byte("id: bare\nbehaviours:\n  - {id: violence, group: regardless, label: {ja: 暴力, en: Violence}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	policies["without steps"] = bare
	for name, p := range policies {
		steps := OnsiteSteps(p)
		if len(steps) == 0 {
			t.Fatalf("%s: no on-site steps", name)
		}
		police := false
		for _, st := range steps {
			police = police || st.Police
		}
		if !police {
			t.Errorf("%s: no step about calling the police", name)
		}
		env := Env{Policy: p, Org: &mamori.Org{}, Now: time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)}
		for _, l := range []mamori.Lang{mamori.JA, mamori.EN} {
			t.Run(name+"/"+string(l), func(t *testing.T) {
				m := OnsiteMessage(env, l)
				if m.Header == "" || m.Text == "" || m.Note == "" {
					t.Fatalf("empty part: %+v", m)
				}
				all := m.Header + "\n" + m.Text + "\n" + m.Note
				if strings.Contains(all, "onsite.") {
					t.Errorf("a text key shows: %s", all)
				}
				if !strings.Contains(m.Text, "110") || !strings.Contains(m.Note, "110") || !strings.Contains(m.Note, "119") {
					t.Errorf("110 (in a step and the note) and 119 (in the note) must show:\n%s", all)
				}
				for _, st := range steps {
					if !strings.Contains(m.Text, st.Title.In(l)) || !strings.Contains(m.Text, st.Text.In(l)) {
						t.Errorf("step %s missing:\n%s", st.ID, m.Text)
					}
				}
				max := maxOnsiteJA
				if l == mamori.EN {
					max = maxOnsiteEN
				}
				if n := utf8.RuneCountInString(all); n > max {
					t.Errorf("%d characters, want at most %d:\n%s", n, max, all)
				}
				if m.Step != "" || len(m.Choices) > 0 || len(m.Controls) > 0 || m.Multi != nil || m.Urgent {
					t.Errorf("the card has actions of its own: %+v", m)
				}
			})
		}
	}
}

// TestOnsiteStepsOwn checks that a policy's own steps replace the
// built-in ones entirely.
func TestOnsiteStepsOwn(t *testing.T) {
	p, err := mamori.Preset("seed-004")
	if err != nil {
		t.Fatal(err)
	}
	got := OnsiteSteps(p)
	if len(got) != len(p.Onsite) || got[0].Title != p.Onsite[0].Title {
		t.Errorf("OnsiteSteps = %+v, want the policy's %+v", got, p.Onsite)
	}
}
