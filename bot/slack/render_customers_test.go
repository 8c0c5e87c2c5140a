package slack_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack"
	"github.com/mamori-oss/mamori/flows/flowstest"
)

// TestGoldenCustomers: repeat customers and the register (issue 16) as
// Slack shows them, in both languages — the card's line of earlier
// reports, the register entry's card, the front-line check's answers and
// the register's forms; none shows the customer's identifiers except the
// form HR fills in.
func TestGoldenCustomers(t *testing.T) {
	p, err := mamori.Preset("seed-004")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]any{}
	for _, l := range []mamori.Lang{mamori.JA, mamori.EN} {
		s := "_" + string(l)
		for name, m := range flowstest.Customers(p, l) {
			b := slack.Blocks(m)
			if j, _ := json.Marshal(b); bytes.Contains(j, []byte("1234")) {
				t.Errorf("%s shows the customer's identifiers", name)
			}
			cases[name+s] = b
		}
		for kind, f := range flowstest.CustomerForms(p, l) {
			cases["form_"+kind+s] = slack.FormModal(f, "C0HR")
		}
	}
	checkGolden(t, cases)
}

// TestRegisterButtonForHROnly: a report judged with a refusal of service
// shows the register's button in HR's channel, never on the supervisors'
// card (only HR may use it), as Slack renders them, in both languages.
func TestRegisterButtonForHROnly(t *testing.T) {
	p, err := mamori.Preset("seed-004")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []mamori.Lang{mamori.JA, mamori.EN} {
		ms := flowstest.Customers(p, l)
		for name, want := range map[string]bool{"case_card_refused": false, "case_card_refused_hr": true} {
			m := ms[name]
			j, _ := json.Marshal(slack.Blocks(m))
			got := bytes.Contains(j, []byte(`"`+mamori.RegisterAdd+":KH-2026-0042")) && bytes.Contains(j, []byte(p.T(l, "register.button")))
			if got != want {
				t.Errorf("%s (%s): register button shown %t, want %t", name, l, got, want)
			}
		}
	}
}
