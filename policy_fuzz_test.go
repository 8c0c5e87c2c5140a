package mamori_test

import (
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mamori-oss/mamori"
)

// FuzzParsePolicy reads a policy file an organisation wrote: whatever it
// holds, ParsePolicy does not panic; what it accepts is valid, and reads
// back the same once written out again (with the texts it overrides, as
// an organisation's file holds them). Seeds: a small policy cut from
// each preset (a whole one is too slow to mutate), and
// testdata/fuzz/FuzzParsePolicy.
func FuzzParsePolicy(f *testing.F) {
	// The built-in texts: those of a policy that has none of its own.
	builtin, err := mamori.ParsePolicy([]byte("id: min\nbehaviours:\n- {id: b, group: regardless, label: {ja: 暴言, en: Abuse}}\n"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range mamori.Presets() {
		p, err := mamori.Preset(name)
		if err != nil {
			f.Fatal(err)
		}
		small := mamori.Policy{ID: p.ID, Name: p.Name, Criteria: p.Criteria, Behaviours: p.Behaviours[:2],
			Exceptions: p.Exceptions, Care: p.Care, Texts: map[string]mamori.Text{"menu.report": p.Texts["menu.report"]}}
		if len(p.Onsite) > 0 {
			small.Onsite = p.Onsite[:1]
		}
		b, err := yaml.Marshal(small)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		// ParsePolicy reads its built-in texts on every call (some 15ms,
		// too slow to fuzz), then b as here, and refuses what Validate
		// refuses (the built-in texts it adds are valid). So only what
		// decodes to a valid policy goes on to it.
		var decoded mamori.Policy
		if mamori.DecodeYAML(b, &decoded) != nil || decoded.Validate() != nil {
			return
		}
		p, err := mamori.ParsePolicy(b)
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("ParsePolicy accepted a policy Validate refuses: %v", err)
		}
		own := *p
		own.Texts = map[string]mamori.Text{}
		for k, v := range p.Texts {
			if d, ok := builtin.Texts[k]; !ok || d != v {
				own.Texts[k] = v
			}
		}
		out, err := yaml.Marshal(own)
		if err != nil {
			t.Fatalf("an accepted policy cannot be written out: %v", err)
		}
		again, err := mamori.ParsePolicy(out)
		if err != nil {
			t.Fatalf("an accepted policy, written out, is refused: %v\n%s", err, out)
		}
		// A list left out is read as nil, and written out as [].
		if diff := cmp.Diff(p, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("an accepted policy, written out and read again, differs (-read +reread):\n%s\n%s", diff, out)
		}
	})
}
