package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

// The example's care contacts are per language; one given as a plain
// string (an older configuration) reads the same in both; languages
// name the people who read the other language.
func TestConfigContactsAndLanguages(t *testing.T) {
	t.Parallel()
	l, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	c := l.policy.Care
	if len(c) != 4 || c[0].Contact.In(mamori.EN) != "ext. 1234 / soudan@example.co.jp" || c[0].Contact.In(mamori.JA) != "内線 1234 / soudan@example.co.jp" {
		t.Fatalf("care resources: %+v", c)
	}
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := `contact: {ja: "健康管理室 内線 5678", en: "Health office, ext. 5678"}`
	if !strings.Contains(string(exampleConfig), old) {
		t.Fatalf("the example configuration has no %s", old)
	}
	plain, err := loadConfig(write("plain.yaml", strings.Replace(string(exampleConfig), old, `contact: "健康管理室 内線 5678"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if c := plain.policy.Care[1].Contact; c.EN != "健康管理室 内線 5678" || c.JA != "健康管理室 内線 5678" {
		t.Errorf("a contact as a plain string: %+v", c)
	}
	good := string(exampleConfig) + "\nlanguages:\n  en: [U0ALEX, alex@example.co.jp]\n"
	l, err = loadConfig(write("langs.yaml", good))
	if err != nil {
		t.Fatal(err)
	}
	if lang, ok := l.org.LangOf(mamori.User{ID: "U9", Email: "Alex@example.co.jp"}); !ok || lang != mamori.EN {
		t.Errorf("LangOf by email = %q, %v", lang, ok)
	}
	if lang, ok := l.org.LangOf(mamori.User{ID: "U0ALEX"}); !ok || lang != mamori.EN {
		t.Errorf("LangOf by id = %q, %v", lang, ok)
	}
	if _, ok := l.org.LangOf(mamori.User{ID: "me"}); ok {
		t.Error("someone not listed has a directory language")
	}
	bad := string(exampleConfig) + "\nlanguages:\n  fr: [U0ALEX]\n"
	if _, err := loadConfig(write("fr.yaml", bad)); err == nil || !strings.Contains(err.Error(), "languages") {
		t.Errorf("languages: fr: err = %v", err)
	}
}

// The sos section: defaults when left out (3 minutes, 10 rounds, the
// department's supervisors then HR), as set when given, and a startup
// error naming the setting when it makes no sense.
func TestConfigSOS(t *testing.T) {
	t.Parallel()
	l, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if want := (flows.SOS{AckWithin: 3 * time.Minute, MaxRounds: 10}); !reflect.DeepEqual(l.sos, want) {
		t.Errorf("the example's sos: %+v, want %+v", l.sos, want)
	}
	dir := t.TempDir()
	load := func(name, sos string) (*loaded, error) {
		t.Helper()
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte("hr:\n  channel: C0HR\n  members: [UHR]\n"+sos), 0o600); err != nil {
			t.Fatal(err)
		}
		return loadConfig(p)
	}
	for _, tt := range []struct {
		name, sos string
		want      flows.SOS
	}{
		{"none", "", flows.SOS{AckWithin: 3 * time.Minute, MaxRounds: 10}},
		{"empty", "sos: {}\n", flows.SOS{AckWithin: 3 * time.Minute, MaxRounds: 10}},
		{"all", "sos:\n  on_call: [U0GUARD, guard@example.co.jp]\n  ack_within: 90s\n" +
			"  escalation:\n    - [U0SUP]\n    - [ area@example.co.jp , U0HR ]\n  max_rounds: 4\n",
			flows.SOS{OnCall: []string{"U0GUARD", "guard@example.co.jp"}, AckWithin: 90 * time.Second,
				Escalation: [][]string{{"U0SUP"}, {"area@example.co.jp", "U0HR"}}, MaxRounds: 4}},
		{"bounds", "sos:\n  ack_within: 10s\n  max_rounds: 1\n", flows.SOS{AckWithin: 10 * time.Second, MaxRounds: 1}},
		{"hour", "sos:\n  ack_within: 1h\n", flows.SOS{AckWithin: time.Hour, MaxRounds: 10}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, err := load(tt.name, tt.sos)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(l.sos, tt.want) {
				t.Errorf("sos: %+v, want %+v", l.sos, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		name, sos, want string
	}{
		{"zero", "sos:\n  ack_within: 0s\n", "sos.ack_within must be a positive duration"},
		{"negative", "sos:\n  ack_within: -3m\n", "sos.ack_within must be a positive duration"},
		{"too short", "sos:\n  ack_within: 2s\n", "sos.ack_within 2s is too short"},
		{"hours", "sos:\n  ack_within: 24h\n", "sos.ack_within 24h0m0s is too long"},
		{"a number", "sos:\n  ack_within: 3\n", "ack_within"},
		{"no rounds", "sos:\n  max_rounds: 0\n", "sos.max_rounds must be at least 1"},
		{"negative rounds", "sos:\n  max_rounds: -2\n", "sos.max_rounds must be at least 1"},
		{"empty level", "sos:\n  escalation: [[U0SUP], []]\n", "sos.escalation[1] is an empty level"},
		{"blank person", "sos:\n  escalation: [[U0SUP, \" \"]]\n", "sos.escalation[0][1] is empty"},
		{"blank on call", "sos:\n  on_call: [\"\"]\n", "sos.on_call[0] is empty"},
		{"unknown", "sos:\n  ack_whithin: 3m\n", "ack_whithin"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(strings.ReplaceAll(tt.name, " ", "-"), tt.sos)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "MAMORI_CONFIG") {
				t.Errorf("err = %v, want one with %q", err, tt.want)
			}
		})
	}
}

// The sos section reaches the service: `mamori chat` alerts the on-call
// list at once and, after ack_within, the configured chain instead of
// the department's supervisors.
func TestConfigSOSWired(t *testing.T) {
	t.Parallel()
	old := "sos:\n  ack_within: 3m\n  max_rounds: 10\n"
	if !strings.Contains(string(exampleConfig), old) {
		t.Fatalf("the example configuration has no %q", old)
	}
	p := filepath.Join(t.TempDir(), "mamori.yaml")
	cfg := strings.Replace(string(exampleConfig), old, "sos:\n  ack_within: 1m\n  on_call: [guard]\n  escalation: [[hr]]\n", 1)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e["MAMORI_CONFIG"] = p
	out := typeChat(t, e, []string{"SOS", "/skip 30s", "/skip 31s", "/quit"})
	first, second := strings.Index(out, "時計を進めました"), strings.LastIndex(out, "時計を進めました")
	if first < 0 || first == second {
		t.Fatalf("the clock did not move twice:\n%s", out)
	}
	if i := strings.Index(out, "✉ → @guard"); i < 0 || i > first {
		t.Errorf("on call not alerted at once:\n%s", out)
	}
	if strings.Contains(out[:second], "✉ → @hr") || !strings.Contains(out[second:], "✉ → @hr") {
		t.Errorf("the chain's first level not alerted after 1 minute, or before:\n%s", out)
	}
	if strings.Contains(out, "✉ → @sato") {
		t.Errorf("the default chain used:\n%s", out)
	}
}

// The retention section: five years for everything when left out (the
// example says so too), periods per kind and outcome as given, and a
// startup error naming the setting when one makes no sense.
func TestConfigRetention(t *testing.T) {
	t.Parallel()
	l, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	five := flows.Period{Years: 5}
	if want := (flows.Retention{Report: five, Consultation: five, CareTask: five, SOS: five, Notice: 30 * 24 * time.Hour}); !reflect.DeepEqual(l.retention, want) {
		t.Errorf("the example's retention: %+v, want %+v", l.retention, want)
	}
	dir := t.TempDir()
	load := func(name, section string) (*loaded, error) {
		t.Helper()
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte("hr:\n  channel: C0HR\n  members: [UHR]\n"+section), 0o600); err != nil {
			t.Fatal(err)
		}
		return loadConfig(p)
	}
	for _, tt := range []struct {
		name, section string
		want          flows.Retention
	}{
		{"none", "", flows.Retention{}},
		{"all", "retention:\n  report: 3 years\n  outcomes:\n    legitimate: 18 months\n    kasuhara: 10y\n" +
			"  consultation: 1 year 6 months\n  care_task: 90 days\n  sos: never\n  notice: 14 days\n",
			flows.Retention{Report: flows.Period{Years: 3}, Outcomes: map[string]flows.Period{
				mamori.OutcomeLegitimate: {Months: 18}, mamori.OutcomeKasuhara: {Years: 10}},
				Consultation: flows.Period{Years: 1, Months: 6}, CareTask: flows.Period{Days: 90}, SOS: flows.Period{Never: true},
				Notice: 14 * 24 * time.Hour}},
		{"no notice", "retention:\n  notice: never\n", flows.Retention{Notice: -1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, err := load(tt.name, tt.section)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(l.retention, tt.want) {
				t.Errorf("retention: %+v, want %+v", l.retention, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		name, section, want string
	}{
		{"a number", "retention:\n  report: 5\n", "retention.report: period \"5\""},
		{"a duration", "retention:\n  consultation: 43800h\n", "retention.consultation"},
		{"nothing", "retention:\n  sos: 0 days\n", "retention.sos: period \"0 days\" is nothing"},
		{"weeks", "retention:\n  care_task: 6 weeks\n", "retention.care_task"},
		{"open outcome", "retention:\n  outcomes:\n    more_info: 1 year\n", "retention.outcomes: \"more_info\" is not an outcome that closes a report"},
		{"unknown outcome", "retention:\n  outcomes:\n    rude: 1 year\n", "retention.outcomes: \"rude\""},
		{"bad outcome period", "retention:\n  outcomes:\n    legitimate: soon\n", "retention.outcomes.legitimate"},
		{"bad notice", "retention:\n  notice: a month\n", "retention.notice"},
		{"unknown", "retention:\n  reports: 5 years\n", "reports"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(strings.ReplaceAll(tt.name, " ", "-"), tt.section)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "MAMORI_CONFIG") {
				t.Errorf("err = %v, want one with %q", err, tt.want)
			}
		})
	}
}

// Directory groups: the example's commented group settings, uncommented,
// give the departments and HR their Slack and Entra groups and a refresh
// period; a group named otherwise, or a refresh under a second, is a
// startup error naming the setting; with none, the refresh is an hour.
func TestConfigDirectory(t *testing.T) {
	t.Parallel()
	l, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.org.Groups()) != 0 || l.refresh != time.Hour {
		t.Errorf("the example names groups %v, refresh %s", l.org.Groups(), l.refresh)
	}
	text := string(exampleConfig)
	for _, c := range []string{
		`  # group: "@hr-desk"`, "  # entra_group:", `    # members_group: "@store-staff"`, `    # supervisors_group:`,
		"    # members_entra_group:", "    # supervisors_entra_group:", "# directory:", "#   refresh: 1h",
	} {
		if !strings.Contains(text, c) {
			t.Fatalf("the example has no %q", c)
		}
		text = strings.Replace(text, c, strings.Replace(c, "# ", "", 1), 1)
	}
	text = strings.Replace(text, "refresh: 1h", "refresh: 30m", 1)
	dir := t.TempDir()
	load := func(name, text string) (*loaded, error) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return loadConfig(p)
	}
	l, err = load("groups.yaml", text)
	if err != nil {
		t.Fatal(err)
	}
	slackG := func(id string) mamori.Group { return mamori.Group{Source: mamori.SourceSlack, ID: id} }
	entraG := func(id string) mamori.Group { return mamori.Group{Source: mamori.SourceEntra, ID: id} }
	store, _ := l.org.Department("store")
	if want := []mamori.Group{slackG("@store-staff"), entraG("6f1c2a9e-0b3d-4c5e-8f7a-1b2c3d4e5f60")}; !reflect.DeepEqual(store.MemberGroups, want) {
		t.Errorf("store's member groups %v, want %v", store.MemberGroups, want)
	}
	if want := []mamori.Group{slackG("@store-leads"), entraG("7a2d3b0f-1c4e-4d6f-9a8b-2c3d4e5f6a71")}; !reflect.DeepEqual(store.SupervisorGroups, want) {
		t.Errorf("store's supervisor groups %v, want %v", store.SupervisorGroups, want)
	}
	if want := []mamori.Group{slackG("@hr-desk"), entraG("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")}; !reflect.DeepEqual(l.org.HRGroups, want) {
		t.Errorf("HR groups %v, want %v", l.org.HRGroups, want)
	}
	if !reflect.DeepEqual(store.Members, []string{"me", "tanaka"}) || l.refresh != 30*time.Minute {
		t.Errorf("members %v (the list stays beside the group), refresh %s", store.Members, l.refresh)
	}
	if _, err := load("id.yaml", strings.Replace(text, `members_group: "@store-staff"`, "members_group: S0614TZR7", 1)); err != nil {
		t.Errorf("a user group's id: %v", err)
	}

	for _, tc := range []struct{ from, to, want string }{
		{`members_group: "@store-staff"`, "members_group: store-staff", "departments[0] (store).members_group"},
		{`"@store-leads"`, `"@Store Leads"`, "departments[0] (store).supervisors_group"},
		{"6f1c2a9e-0b3d-4c5e-8f7a-1b2c3d4e5f60", "store-staff", "departments[0] (store).members_entra_group"},
		{`"@hr-desk"`, `"#hr-desk"`, "hr.group"},
		{"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "0a1b2c3d", "hr.entra_group"},
		{"refresh: 30m", "refresh: 500ms", "directory.refresh"},
	} {
		_, err := load("bad.yaml", strings.Replace(text, tc.from, tc.to, 1))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s → %s: err = %v, want it to name %s", tc.from, tc.to, err, tc.want)
		}
	}
}

// The example's names ("sato", "#hr-desk") are not ids Slack or Teams
// gives: serve warns and `directory check` lists each with its setting;
// a configuration of ids and emails has none.
func TestIDProblems(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	load := func(name, text string) *loaded {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	example := load("example.yaml", string(exampleConfig))
	var said []string
	for _, p := range idProblems(example, mamori.PlatformSlack) {
		said = append(said, p.say(mamori.PlatformSlack, mamori.EN))
	}
	all := strings.Join(said, "\n")
	for _, w := range []string{`hr.channel "#hr-desk" is not a Slack channel id`, `departments[0].supervisors "sato" is not a Slack user id`, `hr.members "hr"`} {
		if !strings.Contains(all, w) {
			t.Errorf("no %q in\n%s", w, all)
		}
	}
	if ps := idProblems(example, ""); ps != nil {
		t.Errorf("with no platform: %v", ps)
	}
	if ps := idProblems(load("slack.yaml", slackConfig), mamori.PlatformSlack); len(ps) != 0 {
		t.Errorf("Slack ids: %v", ps)
	}
	if ps := idProblems(load("teams.yaml", teamsConfig), mamori.PlatformTeams); len(ps) != 0 {
		t.Errorf("Teams ids: %v", ps)
	}
	if ps := idProblems(load("slack2.yaml", slackConfig), mamori.PlatformTeams); len(ps) == 0 {
		t.Error("Slack ids for Teams: no problem")
	}

	e := newEnv(t)
	e["MAMORI_CONFIG"] = filepath.Join(dir, "example.yaml")
	e["SLACK_BOT_TOKEN"] = "xoxb-1"
	out := MustRun(t, e, "", "directory", "check")
	if !strings.Contains(out, "⚠ 設定に、プラットフォームの ID でない") || !strings.Contains(out, `departments[0].supervisors の "sato": Slack のユーザー ID`) {
		t.Errorf("directory check:\n%s", out)
	}
}
