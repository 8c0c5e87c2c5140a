package teams_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/teams"
	"github.com/mamori-oss/mamori/flows"
	"github.com/mamori-oss/mamori/flows/flowstest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

var nav = map[mamori.Lang][]mamori.Choice{
	mamori.JA: {{Value: "nav:back", Label: "戻る"}, {Value: "nav:later", Label: "あとで続ける"}, {Value: "nav:cancel", Label: "やめる", Style: mamori.StyleDanger}},
	mamori.EN: {{Value: "nav:back", Label: "Back"}, {Value: "nav:later", Label: "Continue later"}, {Value: "nav:cancel", Label: "Cancel", Style: mamori.StyleDanger}},
}

// goldenMessages are the personal chat's messages in both languages,
// with the policy's own texts where the flows use them.
func goldenMessages(t *testing.T, p *mamori.Policy) map[string]mamori.Message {
	out := map[string]mamori.Message{}
	for _, l := range []mamori.Lang{mamori.JA, mamori.EN} {
		tt := func(key string) string { return p.T(l, key) }
		s := "_" + string(l)
		out["question"+s] = mamori.Message{Header: tt("q.safety"), Step: "safety",
			Choices: []mamori.Choice{
				{Value: "safe", Label: tt("a.safety.safe"), Style: mamori.StylePrimary},
				{Value: "danger", Label: tt("a.safety.danger"), Style: mamori.StyleDanger},
				{Value: "injured", Label: tt("a.safety.injured"), Style: mamori.StyleDanger},
			}, Controls: nav[l][1:], Note: tt("prompt.both")}
		out["prompt"+s] = mamori.Message{Step: "narrative", Text: tt("q.narrative"), Prompt: tt("prompt.text"), Controls: nav[l]}
		multi := &mamori.Multi{Selected: []string{p.Behaviours[1].ID}, Submit: mamori.Choice{Value: "done", Label: tt("multi.submit")}}
		for _, b := range p.Behaviours {
			multi.Options = append(multi.Options, mamori.Choice{Value: b.ID, Label: b.Label.In(l)})
		}
		out["multi"+s] = mamori.Message{Step: "behaviours", Text: tt("q.behaviours"), Multi: multi, Controls: nav[l]}
		out["summary"+s] = mamori.Message{Header: tt("summary.header.report"), Step: "summary",
			Fields: []mamori.Field{
				{Label: tt("s.when"), Value: "2026-10-01 14:30"}, {Label: tt("s.place"), Value: "新宿営業所 [受付](https://evil.example)"},
				{Label: tt("s.narrative"), Value: "窓口で返金を求められ、約40分にわたり *大声で* 怒鳴られました。\n「SNSに名前を書く」と言われました。"},
			},
			Choices:  []mamori.Choice{{Value: "submit", Label: tt("summary.submit.report"), Style: mamori.StylePrimary}, {Value: "edit", Label: tt("summary.edit")}},
			Controls: nav[l]}
		out["home"+s] = mamori.Message{Header: tt("home.header"), Step: "menu", Text: tt("home.text"),
			Choices: []mamori.Choice{
				{Value: mamori.StartReport, Label: tt("menu.report"), Style: mamori.StylePrimary},
				{Value: mamori.StartConsult, Label: tt("menu.consult")},
				{Value: mamori.StartPolicy, Label: tt("menu.policy")},
			},
			Fields: []mamori.Field{{Label: "KH-2026-0042", Value: "2026-10-01 · " + tt("status.new")},
				{Label: tt("home.all_cases"), Value: ""}, {Label: "KH-2026-0041", Value: "2026-09-30 · " + tt("status.taken")}},
			Note: tt("menu.emergency")}
	}
	return out
}

// goldenFlows are real cards from the flows: case cards new and judged,
// care tasks, training reminders and nudges, the monthly statistics
// (with its chart), in both languages.
func goldenFlows(t *testing.T, p *mamori.Policy) map[string]mamori.Message {
	org := &mamori.Org{HRChannel: "19:hr@thread.tacv2", Departments: []mamori.Department{{ID: "store",
		Name: mamori.Text{JA: "店舗運営部", EN: "Store operations"}, SupervisorChannel: "19:store@thread.tacv2", Supervisors: []string{"aad-sato"}}}}
	at := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	tokyo := time.FixedZone("JST", 9*3600)
	env := flows.Env{Policy: p, Org: org, Now: at}
	reporter := mamori.User{Platform: mamori.PlatformTeams, ID: "aad-tanaka"}
	k := mamori.Case{Number: "KH-2026-0042", Kind: mamori.KindReport, Reporter: reporter,
		Department: "store", Route: mamori.RouteDepartment, Channel: "19:store@thread.tacv2", Status: mamori.StatusNew,
		Urgency: mamori.UrgencyUrgent, Suggestion: mamori.SuggestKasuhara, Crime: true,
		Behaviours: []string{p.Behaviours[0].ID, p.Behaviours[len(p.Behaviours)-1].ID}, Created: at,
		Answers: mamori.Answers{Channel: "in_person", Narrative: "秘密", Customer: "秘密"}}
	judged := k
	judged.Status, judged.Assignee = mamori.StatusJudged, "teams:aad-sato"
	judged.Decision = &mamori.Decision{Validity: "invalid", Means: "unacceptable", Outcome: mamori.OutcomeKasuhara,
		Actions: []string{"warn", "police"}, Facts: "秘密", By: "teams:aad-sato", At: at}
	svc := &flows.Service{Policy: p, Org: org, Location: tokyo, Clock: func() time.Time { return at }, Log: slog.New(slog.DiscardHandler)}
	prog := flows.Programme{ID: "basics", Name: mamori.Text{JA: "カスハラ基礎研修", EN: "Customer harassment basics"},
		Link: "https://lms.example.co.jp/kasuhara-basics"}
	svc.Training = []flows.Programme{prog}
	task := mamori.CareTask{ID: 7, Number: "KH-2026-0042", Reporter: reporter, Reason: mamori.CareReasonCheckTalk,
		Status: mamori.CareOpen, Due: at.Add(24 * time.Hour), Created: at}
	acked := task
	acked.Status, acked.Assignee = mamori.CareAcked, "teams:aad-hr"
	acked.Notes = []mamori.CareNote{{At: at.Add(time.Hour), By: "teams:aad-hr", Text: "秘密"}}
	sum := flows.Summary{From: time.Date(2026, 10, 1, 0, 0, 0, 0, tokyo), To: time.Date(2026, 11, 1, 0, 0, 0, 0, tokyo),
		Reports: 3, Consultations: 1, Departments: []flows.Count{{ID: "store", N: 3}},
		Outcomes:      []flows.Count{{ID: mamori.OutcomeKasuhara, N: 2}, {ID: "undecided", N: 1}},
		FirstResponse: flows.Durations{N: 3, Median: 2 * time.Hour, Mean: 3 * time.Hour},
		Judgement:     flows.Durations{N: 2, Median: 30 * time.Hour, Mean: 40 * time.Hour}, OpenCare: 1,
		Training: []flows.Training{{Programme: "basics", Round: 2, Assigned: 40, Done: 31}}}
	out := map[string]mamori.Message{}
	for _, l := range []mamori.Lang{mamori.JA, mamori.EN} {
		s := "_" + string(l)
		out["case_card_new"+s] = flows.Card(env, k, l, tokyo)
		out["case_card_judged"+s] = flows.Card(env, judged, l, tokyo)
		out["care_task_open"+s] = svc.CareCard(task, l)
		out["care_task_acked"+s] = svc.CareCard(acked, l)
		a := mamori.Assignment{Programme: "basics", User: mamori.User{Platform: mamori.PlatformTeams, ID: "aad-tanaka", Lang: l}, Round: 2,
			Assigned: at, Due: at.Add(14 * 24 * time.Hour)}
		out["training_reminder"+s] = svc.TrainingReminder(prog, a, false, at).Message
		out["training_nudge"+s] = svc.TrainingReminder(prog, a, true, at).Message
		m, err := svc.StatsMessage(sum, l)
		if err != nil {
			t.Fatal(err)
		}
		if m.Image == nil || len(m.Image.PNG) == 0 {
			t.Fatalf("stats %s: no chart", l)
		}
		out["stats"+s] = m
	}
	return out
}

// goldenSteps are what the conversation itself says, from flows.Step:
// the welcome menu, the policy page, and an SOS, in both languages.
func goldenSteps(t *testing.T, p *mamori.Policy) map[string]mamori.Message {
	t.Helper()
	env := flows.Env{Policy: p, Org: &mamori.Org{}, Now: time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)}
	out := map[string]mamori.Message{}
	for _, l := range []mamori.Lang{mamori.JA, mamori.EN} {
		s := "_" + string(l)
		u := mamori.User{Platform: mamori.PlatformTeams, ID: "aad-tanaka", Lang: l}
		_, o := flows.Step(env, mamori.Conversation{}, mamori.Input{Kind: mamori.InputStart, User: u})
		out["welcome"+s] = o.Replies[0]
		_, o = flows.Step(env, mamori.Conversation{}, mamori.Input{Kind: mamori.InputStart, User: u, Value: mamori.StartPolicy})
		out["policy"+s] = o.Replies[0]
		// An SOS: what the employee is told, and the alert card before
		// and after someone answers it.
		sos := mamori.Case{Number: "SOS-2026-0003", Kind: mamori.KindSOS, Reporter: u, Status: mamori.StatusNew,
			Created: env.Now, Answers: mamori.Answers{Safety: "injured"},
			Decision: &mamori.Decision{Emergency: &mamori.Emergency{Place: "1階 レジ前"}}}
		raised := flows.SOSRaised(env, sos, l, true)
		out["sos_raised"+s] = raised[0]            // that it went out, first
		out["sos_injury"+s] = raised[2]            // after the on-the-spot guidance
		out["sos_where"+s] = raised[len(raised)-1] // the one question, last
		out["sos_alert"+s] = flows.SOSAlert(env, sos, l, nil)
		sos.Status, sos.Assignee, sos.Taken = mamori.StatusTaken, "teams:aad-sato", env.Now.Add(2*time.Minute)
		out["sos_alert_acked"+s] = flows.SOSAlert(env, sos, l, nil)
	}
	return out
}

func TestGolden(t *testing.T) {
	p, err := mamori.Preset("seed-004") // with the medical exception
	if err != nil {
		t.Fatal(err)
	}
	names := func(id string) string {
		return map[string]string{"aad-tanaka": "田中 花子", "aad-sato": "佐藤 一郎"}[id]
	}
	cases := map[string]any{}
	for name, m := range goldenMessages(t, p) {
		cases[name] = teams.Card(m, names)
	}
	for name, m := range goldenSteps(t, p) {
		cases[name] = teams.Card(m, names)
	}
	for name, m := range goldenFlows(t, p) {
		c := teams.Card(m, names)
		if strings.HasPrefix(name, "stats") {
			// The chart's bytes are checked in flows; here that it fits.
			b, _ := json.Marshal(c)
			if !bytes.Contains(b, []byte(`"type":"Image"`)) {
				t.Errorf("%s: the chart was left out (%d bytes)", name, len(b))
			}
			c = teams.Card(withoutImage(m), names)
		}
		cases[name] = c
	}
	details := mamori.Message{Header: "KH-2026-0042", Fields: []mamori.Field{
		{Label: p.T(mamori.JA, "s.narrative"), Value: "窓口で返金を求められ、約40分にわたり怒鳴られました。"},
		{Label: p.T(mamori.JA, "s.customer"), Value: "50代の男性"}}}
	for _, l := range []mamori.Lang{mamori.JA, mamori.EN} {
		s := "_" + string(l)
		cases["details_dialog"+s] = teams.DetailsDialog(details, names)
		for kind, f := range flowstest.Forms(p, l) {
			cases["form_"+kind+"_dialog"+s] = teams.FormDialog(f, "", nil)
		}
		judge := flowstest.Forms(p, l)[mamori.CardJudge]
		cases["form_judge_dialog_refused"+s] = teams.FormDialog(judge, p.T(l, "judge.already_judged"), mamori.Values{"facts": {"録画で確認"}})
		cases["answered"+s] = teams.Answered(p.T(l, "q.safety"), p.T(l, "a.safety.safe"))
	}
	for name, m := range goldenOnsite(t) {
		cases[name] = teams.Card(m, names)
	}
	checkGolden(t, cases)
}

// goldenOnsite is the on-site response card (その場での対応) from the
// flows: seed 004's steps in Japanese, the MHLW manual's in English.
func goldenOnsite(t *testing.T) map[string]mamori.Message {
	t.Helper()
	out := map[string]mamori.Message{}
	for _, pl := range []struct {
		preset string
		lang   mamori.Lang
	}{{"seed-004", mamori.JA}, {"mhlw-2022", mamori.EN}} {
		p, err := mamori.Preset(pl.preset)
		if err != nil {
			t.Fatal(err)
		}
		out["onsite_"+string(pl.lang)] = flows.OnsiteMessage(flows.Env{Policy: p, Org: &mamori.Org{}}, pl.lang)
	}
	return out
}

func withoutImage(m mamori.Message) mamori.Message {
	m.Image = &mamori.Image{Name: m.Image.Name, Alt: m.Image.Alt}
	return m
}

// checkGolden compares each value's JSON with testdata/<name>.golden.json
// (or rewrites them with -update) and checks what Teams requires.
func checkGolden(t *testing.T, cases map[string]any) {
	t.Helper()
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			if bytes.Contains(got, []byte("秘密")) {
				t.Errorf("%s shows confidential text", name)
			}
			checkCard(t, v)
			path := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./bot/teams -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the rendering; run go test ./bot/teams -update and review the diff.\ngot:\n%s", path, got)
			}
		})
	}
}

// checkCard checks Teams' limits on every card within v: the size, the
// schema version, at most five buttons a row, every Action.Execute with
// its Action.Submit fallback, and no markdown link from typed text.
func checkCard(t *testing.T, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	var root any
	json.Unmarshal(b, &root)
	var walk func(x any)
	walk = func(x any) {
		switch o := x.(type) {
		case map[string]any:
			switch o["type"] {
			case "AdaptiveCard":
				cb, _ := json.Marshal(o)
				if len(cb) > teams.MaxCard {
					t.Errorf("card of %d bytes, over %d", len(cb), teams.MaxCard)
				}
				if o["version"] != "1.5" {
					t.Errorf("card version %v", o["version"])
				}
			case "ActionSet":
				if n := len(o["actions"].([]any)); n > 5 {
					t.Errorf("%d actions in a set", n)
				}
			case "Action.Execute":
				fb, _ := o["fallback"].(map[string]any)
				if fb["type"] != "Action.Submit" || fmt.Sprint(fb["data"]) != fmt.Sprint(o["data"]) {
					t.Errorf("Action.Execute %v without its Action.Submit fallback", o["title"])
				}
			case "TextBlock":
				s, _ := o["text"].(string)
				if strings.Contains(s, "](http") {
					t.Errorf("a markdown link in %q", s)
				}
				if lone := strings.ReplaceAll(s, "\n\n", ""); strings.Contains(lone, "\n") {
					t.Errorf("a single line break, which Teams does not show, in %q", s)
				}
				if o["wrap"] != true {
					t.Errorf("a TextBlock that does not wrap: %q", s)
				}
			}
			switch o["type"] {
			case "Action.Execute", "Action.Submit":
				if title, _ := o["title"].(string); strings.HasSuffix(title, "…") {
					t.Errorf("a button title cut off: %q", title)
				}
			}
			for _, c := range o {
				walk(c)
			}
		case []any:
			for _, c := range o {
				walk(c)
			}
		}
	}
	walk(root)
}
