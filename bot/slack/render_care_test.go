package slack_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack"
	"github.com/mamori-oss/mamori/flows"
)

// TestGoldenCare pins the Block Kit of what HR and employees get after a
// report: HR's care task card, a training reminder and its nudge, the
// recommendation's campaign progress and the monthly summary, in both
// languages, from the flows' own builders.
func TestGoldenCare(t *testing.T) {
	p, err := mamori.Preset("mhlw-2022")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 20, 1, 30, 0, 0, time.UTC)
	org := &mamori.Org{HRChannel: "C0HR", Departments: []mamori.Department{{ID: "store",
		Name: mamori.Text{JA: "店舗運営部", EN: "Store operations"}, SupervisorChannel: "C0STORE", Supervisors: []string{"U0SATO"}}}}
	tokyo := time.FixedZone("JST", 9*3600)
	svc := &flows.Service{Policy: p, Org: org, Location: tokyo, Clock: func() time.Time { return at }, Log: slog.New(slog.DiscardHandler)}
	prog := flows.Programme{ID: "basics", Name: mamori.Text{JA: "カスハラ基礎研修", EN: "Customer harassment basics"},
		Link: "https://lms.example.co.jp/kasuhara-basics"}
	task := mamori.CareTask{ID: 7, Number: "KH-2026-0042", Reporter: mamori.User{Platform: "slack", ID: "U0TANAKA"},
		Reason: mamori.CareReasonCheckTalk, Status: mamori.CareOpen, Due: at.Add(24 * time.Hour), Created: at,
		Notes: nil}
	acked := task
	acked.Status, acked.Assignee = mamori.CareAcked, "slack:U0HR"
	acked.Notes = []mamori.CareNote{{At: at.Add(time.Hour), By: "slack:U0HR", Text: "秘密"}}
	sum := flows.Summary{From: time.Date(2026, 10, 1, 0, 0, 0, 0, tokyo), To: time.Date(2026, 11, 1, 0, 0, 0, 0, tokyo),
		Reports: 3, Consultations: 1,
		Departments:   []flows.Count{{ID: "store", N: 3}},
		Behaviours:    []flows.Count{{ID: "verbal_attack", N: 2}, {ID: "intimidation", N: 1}},
		Channels:      []flows.Count{{ID: "in_person", N: 2}, {ID: "phone", N: 1}},
		Outcomes:      []flows.Count{{ID: mamori.OutcomeKasuhara, N: 2}, {ID: "undecided", N: 1}},
		FirstResponse: flows.Durations{N: 3, Median: 2 * time.Hour, Mean: 3 * time.Hour},
		Judgement:     flows.Durations{N: 2, Median: 30 * time.Hour, Mean: 40 * time.Hour},
		OpenCare:      1,
		Training:      []flows.Training{{Programme: "basics", Round: 2, Assigned: 40, Done: 31}},
	}
	svc.Training = []flows.Programme{prog}
	cases := map[string]any{}
	for _, l := range []mamori.Lang{mamori.JA, mamori.EN} {
		cases["care_task_open_"+string(l)] = slack.Blocks(svc.CareCard(task, l))
		cases["care_task_acked_"+string(l)] = slack.Blocks(svc.CareCard(acked, l))
		a := mamori.Assignment{Programme: "basics", User: mamori.User{Platform: "slack", ID: "U0TANAKA", Lang: l}, Round: 2,
			Assigned: at, Due: at.Add(14 * 24 * time.Hour)}
		cases["training_reminder_"+string(l)] = slack.Blocks(svc.TrainingReminder(prog, a, false, at).Message)
		cases["training_nudge_"+string(l)] = slack.Blocks(svc.TrainingReminder(prog, a, true, at).Message)
		m, err := svc.StatsMessage(sum, l)
		if err != nil {
			t.Fatal(err)
		}
		if m.Image == nil || len(m.Image.PNG) == 0 {
			t.Fatalf("stats %s: no chart", l)
		}
		m.Image = nil // its bytes are checked in flows; the upload in the sender tests
		cases["stats_"+string(l)] = slack.Blocks(m)
	}
	for name, v := range cases {
		if b, _ := json.Marshal(v); bytes.Contains(b, []byte("秘密")) {
			t.Errorf("%s shows confidential text", name)
		}
	}
	checkGolden(t, cases)
}
