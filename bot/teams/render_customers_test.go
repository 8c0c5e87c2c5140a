package teams_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/teams"
	"github.com/mamori-oss/mamori/flows/flowstest"
)

// TestGoldenCustomers: repeat customers and the register (issue 16) as
// Teams shows them, in both languages — the card's line of earlier
// reports, the register entry's card, the front-line check's answers and
// the register's forms as dialogs.
func TestGoldenCustomers(t *testing.T) {
	p, err := mamori.Preset("seed-004")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]any{}
	for _, l := range []mamori.Lang{mamori.JA, mamori.EN} {
		s := "_" + string(l)
		for name, m := range flowstest.Customers(p, l) {
			c := teams.Card(m, nil)
			if j, _ := json.Marshal(c); bytes.Contains(j, []byte("1234")) {
				t.Errorf("%s shows the customer's identifiers", name)
			}
			cases[name+s] = c
		}
		for kind, f := range flowstest.CustomerForms(p, l) {
			cases["form_"+kind+"_dialog"+s] = teams.FormDialog(f, "", nil)
		}
	}
	checkGolden(t, cases)
}
