package flows_test

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

// Confidential things the cases below hold; no summary may show them.
var statsSecrets = []string{"秘密の出来事", "山田様", "暴言の言葉", "判断メモ", "確認した事実", "UME", "Reporter Name", "ume@example.com",
	"3階 倉庫", "まだ怒鳴っています", "voice.m4a", "USUP"}

// tokyoAt reads a wall-clock time in Tokyo.
func tokyoAt(t *testing.T, s string) time.Time {
	t.Helper()
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	v, err := time.ParseInLocation("2006-01-02 15:04", s, tokyo)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// statsCase describes a report (or consultation, or SOS) for the
// statistics.
type statsCase struct {
	number, kind, department, channel, created string
	behaviours                                 []string
	taken, judged                              time.Duration // after created; zero: never
	status, outcome                            string
	// An SOS: its first alert posted and the employee safe after created
	// (zero: never), and how many times it escalated.
	posted, safe time.Duration
	rounds       int
}

// insertStatsCases stores cases the way the flows leave them, with the
// confidential answers a real report has.
func insertStatsCases(t *testing.T, r *rig, cases []statsCase) {
	t.Helper()
	reporter := mamori.User{Platform: mamori.PlatformSlack, ID: "UME", Name: "Reporter Name", Email: "ume@example.com", Lang: mamori.JA}
	err := r.db.Update(context.Background(), func(tx mamori.Tx) error {
		for _, c := range cases {
			created := tokyoAt(t, c.created)
			k := mamori.Case{Number: c.number, Kind: c.kind, Reporter: reporter, Department: c.department,
				Route: mamori.RouteDepartment, Channel: "C0STORE", Status: mamori.StatusNew, Urgency: mamori.UrgencyNormal,
				Suggestion: mamori.SuggestUnclear, Behaviours: c.behaviours, Created: created,
				Answers: mamori.Answers{Channel: c.channel, Department: c.department, Behaviours: c.behaviours,
					Narrative: "秘密の出来事", Customer: "山田様", Words: "暴言の言葉", Worry: "秘密の出来事"}}
			if c.kind == "" {
				k.Kind = mamori.KindReport
			}
			if err := tx.InsertCase(k); err != nil {
				return err
			}
			if c.taken > 0 {
				k.Taken, k.Status = created.Add(c.taken), mamori.StatusTaken
			}
			if c.judged > 0 {
				k.Judged = created.Add(c.judged)
				k.Decision = &mamori.Decision{Outcome: c.outcome, Validity: "invalid", Means: "unacceptable",
					Facts: "確認した事実", Note: "判断メモ", By: "slack:USUP", At: k.Judged}
				k.Status = mamori.StatusJudged
			}
			if c.kind == mamori.KindSOS {
				// As the SOS flow leaves it: urgent, the record in the
				// decision, the responder as assignee.
				k.Urgency = mamori.UrgencyUrgent
				e := &mamori.Emergency{Place: "3階 倉庫", Rounds: c.rounds,
					Notes: []mamori.Note{{At: created, Text: "まだ怒鳴っています"}}, Files: []mamori.File{{ID: "F1", Name: "voice.m4a"}}}
				if c.posted > 0 {
					e.Posted = created.Add(c.posted)
				}
				if c.taken > 0 {
					k.Assignee = "slack:USUP"
				}
				if c.safe > 0 {
					e.Safe, k.Status = created.Add(c.safe), mamori.StatusClosed
				}
				k.Decision = &mamori.Decision{Emergency: e}
			}
			if c.status != "" {
				k.Status = c.status
			}
			k.Updated = created
			if err := tx.UpdateCase(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// octoberCases spread over the ends of October 2026 in Tokyo, where UTC
// would put the first and last on the wrong side.
var octoberCases = []statsCase{
	{number: "KH-2026-0001", department: "store", channel: "phone", created: "2026-09-30 23:59",
		behaviours: []string{"verbal_attack"}},
	{number: "KH-2026-0002", department: "store", channel: "phone", created: "2026-10-01 00:00",
		behaviours: []string{"verbal_attack", "intimidation"}, taken: 2 * time.Hour, judged: 50 * time.Hour, outcome: mamori.OutcomeKasuhara},
	{number: "KH-2026-0003", department: "store", channel: "in_person", created: "2026-10-10 14:00",
		behaviours: []string{"verbal_attack"}, taken: 4 * time.Hour},
	{number: "KH-2026-0004", department: "call", created: "2026-10-20 09:30"},
	{number: "KH-2026-0005", department: "call", channel: "email", created: "2026-10-28 11:00",
		behaviours: []string{"persistent"}, taken: 30 * time.Minute, judged: 24 * time.Hour, outcome: mamori.OutcomeLegitimate},
	// Reopened: the earlier decision no longer stands.
	{number: "KH-2026-0006", channel: "phone", created: "2026-10-31 23:59",
		behaviours: []string{"persistent"}, taken: 10 * time.Hour, judged: 30 * time.Hour, outcome: mamori.OutcomeKasuhara, status: mamori.StatusReopened},
	{number: "SD-2026-0001", kind: mamori.KindConsult, created: "2026-10-05 10:00", status: mamori.StatusOpen},
	{number: "KH-2026-0007", department: "store", channel: "phone", created: "2026-11-01 00:00",
		behaviours: []string{"verbal_attack"}},
	// SOS count apart: not reports, not consultations, nowhere in the
	// departments, outcomes or times above.
	{number: "SOS-2026-0001", kind: mamori.KindSOS, department: "store", created: "2026-09-30 23:59",
		posted: 30 * time.Second, taken: time.Hour, safe: 2 * time.Hour},
	// Acknowledged 90 s after its alert, posted in 0.4 s.
	{number: "SOS-2026-0002", kind: mamori.KindSOS, department: "store", created: "2026-10-03 10:00",
		posted: 400 * time.Millisecond, taken: 90*time.Second + 400*time.Millisecond, safe: 20 * time.Minute},
	// Escalated twice; acknowledged 7 min after its alert.
	{number: "SOS-2026-0003", kind: mamori.KindSOS, department: "call", created: "2026-10-15 18:00",
		posted: 2 * time.Second, taken: 7*time.Minute + 2*time.Second, safe: time.Hour, rounds: 2},
	// Escalated once; safe before anyone answered.
	{number: "SOS-2026-0004", kind: mamori.KindSOS, department: "store", created: "2026-10-29 12:00",
		posted: time.Second, safe: 5 * time.Minute, rounds: 1},
	// The alert's time unknown: acknowledged 4 min after the SOS; still open.
	{number: "SOS-2026-0005", kind: mamori.KindSOS, created: "2026-10-30 09:00", taken: 4 * time.Minute},
	{number: "SOS-2026-0006", kind: mamori.KindSOS, department: "store", created: "2026-11-01 00:00", posted: time.Second},
}

// statsRig is a rig with two departments, the cases above, care tasks
// and training assignments, on 2026-11-20.
func statsRig(t *testing.T) *rig {
	t.Helper()
	r := newRig(t)
	r.svc.Org.Departments = append(r.svc.Org.Departments, mamori.Department{ID: "call",
		Name: mamori.Text{JA: "お客様センター", EN: "Call centre"}, SupervisorChannel: "C0CALL"})
	insertStatsCases(t, r, octoberCases)
	now := r.clock.Now()
	err := r.db.Update(context.Background(), func(tx mamori.Tx) error {
		reporter := user("UME")
		for _, c := range []mamori.CareTask{
			{Number: "KH-2026-0002", Reason: mamori.CareReasonTalk, Due: now.Add(-time.Hour)}, // overdue
			{Number: "KH-2026-0003", Reason: mamori.CareReasonCheckHard, Due: now.Add(time.Hour), Status: mamori.CareAcked},
			{Number: "KH-2026-0005", Reason: mamori.CareReasonVeryHard, Due: now.Add(-time.Hour), Status: mamori.CareClosed},
		} {
			c.Reporter, c.Created = reporter, now.Add(-48*time.Hour)
			if _, _, err := tx.InsertCareTask(c); err != nil {
				return err
			}
		}
		for _, a := range []struct {
			programme string
			round     int
			user      string
			done      bool
		}{
			{"basics", 1, "UA", true}, {"basics", 1, "UB", true},
			{"basics", 2, "UA", true}, {"basics", 2, "UB", false}, {"basics", 2, "UC", false},
			{"deescalation", 1, "UA", true}, {"deescalation", 1, "UB", false},
		} {
			as := mamori.Assignment{Programme: a.programme, User: user(a.user), Round: a.round, Assigned: now.Add(-72 * time.Hour), Due: now}
			if _, err := tx.Assign(as); err != nil {
				return err
			}
			if a.done {
				as.Done = now.Add(-time.Hour)
				if err := tx.PutAssignment(as); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestStats(t *testing.T) {
	r := statsRig(t)
	from, to := tokyoAt(t, "2026-10-01 00:00"), tokyoAt(t, "2026-11-01 00:00")
	got, err := r.svc.Stats(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	want := flows.Summary{From: from, To: to, Reports: 5, Consultations: 1,
		Departments: []flows.Count{{"call", 2}, {"store", 2}, {"unknown", 1}},
		Behaviours:  []flows.Count{{"persistent", 2}, {"verbal_attack", 2}, {"intimidation", 1}, {"none", 1}},
		Channels:    []flows.Count{{"phone", 2}, {"email", 1}, {"in_person", 1}, {"unknown", 1}},
		Outcomes:    []flows.Count{{"undecided", 3}, {"kasuhara", 1}, {"legitimate", 1}},
		// Taken after 2 h, 4 h, 30 min, 10 h; judged after 50 h, 24 h, 30 h.
		FirstResponse: flows.Durations{N: 4, Median: 3 * time.Hour, Mean: (2*60 + 4*60 + 30 + 10*60) * time.Minute / 4, Worst: 10 * time.Hour},
		Judgement:     flows.Durations{N: 3, Median: 30 * time.Hour, Mean: 104 * time.Hour / 3, Worst: 50 * time.Hour},
		// Alerts posted after 0.4 s, 2 s, 1 s; acknowledged 90 s, 7 min
		// after the alert and 4 min after the SOS.
		SOS: flows.SOSSummary{Raised: 4,
			ToAlert:        flows.Durations{N: 3, Median: time.Second, Mean: 3400 * time.Millisecond / 3, Worst: 2 * time.Second},
			ToAck:          flows.Durations{N: 3, Median: 4 * time.Minute, Mean: 250 * time.Second, Worst: 7 * time.Minute},
			Unacknowledged: 1, Escalated: 2},
		OpenCare: 2, OverdueCare: 1,
		Training: []flows.Training{{Programme: "basics", Round: 2, Assigned: 3, Done: 1}, {Programme: "deescalation", Round: 1, Assigned: 2, Done: 1}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("summary (-want +got):\n%s", d)
	}
	if done, assigned := got.TrainingTotal(); done != 2 || assigned != 5 {
		t.Errorf("training total %d of %d", done, assigned)
	}
}

// words gathers everything a person reads in m.
func words(m mamori.Message) string {
	parts := []string{m.Header, m.Text, m.Note}
	for _, f := range m.Fields {
		parts = append(parts, f.Label, f.Value)
	}
	if m.Image != nil {
		parts = append(parts, m.Image.Name, m.Image.Alt)
	}
	return strings.Join(parts, "\n")
}

func TestStatsMessage(t *testing.T) {
	r := statsRig(t)
	sum, err := r.svc.Stats(context.Background(), tokyoAt(t, "2026-10-01 00:00"), tokyoAt(t, "2026-11-01 00:00"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		lang mamori.Lang
		want []string
	}{
		{mamori.JA, []string{"2026年10月", "報告", "5件", "店舗運営部　2件", "お客様センター　2件", "不明　1件", "電話　2件",
			"未判断　3件", "カスハラ　1件", "中央値 3時間・平均 4時間（4件）", "中央値 30時間・平均 35時間（3件）",
			"2件（うち期限超過 1件）", "全体 2 / 5人（40%）", "basics 第2回 1 / 3人（33%）", "行為の選択なし　1件",
			"SOS（緊急の呼び出し）\n4件", "SOS から通知が届くまで\n中央値 1秒・最長 2秒（3件）",
			"通知から「対応します」まで\n中央値 4分・最長 7分（3件）", "誰も応答しなかった 1件・再通知した 2件"}},
		{mamori.EN, []string{"October 2026", "Reports", "Store: 2", "Call centre: 2", "Not given: 1", "Phone: 2",
			"Not decided yet: 3", "Customer harassment: 1", "median 3 h · mean 4 h (4 cases)", "2 (1 overdue)",
			"Overall 2 of 5 (40%)", "deescalation round 1: 1 of 2 (50%)",
			"SOS (emergencies)\n4", "median 1 s · worst 2 s (3 SOS)", "median 4 min · worst 7 min (3 SOS)",
			"never acknowledged: 1 · escalated: 2"}},
	} {
		t.Run(string(tt.lang), func(t *testing.T) {
			m, err := r.svc.StatsMessage(sum, tt.lang)
			if err != nil {
				t.Fatal(err)
			}
			all := words(m)
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("no %q in\n%s", w, all)
				}
			}
			for _, s := range statsSecrets {
				if strings.Contains(all, s) {
					t.Errorf("confidential %q in the summary:\n%s", s, all)
				}
			}
			if strings.Contains(all, "stats.") {
				t.Errorf("a text key shows:\n%s", all)
			}
			if m.Image == nil || m.Image.Name != "kasuhara-2026-10.png" {
				t.Fatalf("image: %+v", m.Image)
			}
			// The alternative text says what the bars say, in words.
			behaviour, _ := r.svc.Policy.Behaviour("verbal_attack")
			if !strings.Contains(m.Image.Alt, behaviour.Label.In(tt.lang)) {
				t.Errorf("alt: %q", m.Image.Alt)
			}
			img, err := png.Decode(bytes.NewReader(m.Image.PNG))
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != 800 || b.Dy() < 200 || b.Dy() > 1000 {
				t.Errorf("chart size %v", b)
			}
			// MAMORI_CHART_DIR=/tmp/charts keeps the charts, to look at.
			if dir := os.Getenv("MAMORI_CHART_DIR"); dir != "" {
				if err := os.WriteFile(filepath.Join(dir, "stats-"+string(tt.lang)+".png"), m.Image.PNG, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestStatsMessageEmpty(t *testing.T) {
	r := newRig(t)
	sum, err := r.svc.Stats(context.Background(), tokyoAt(t, "2026-10-05 00:00"), tokyoAt(t, "2026-10-12 00:00"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.svc.StatsMessage(sum, mamori.JA)
	if err != nil {
		t.Fatal(err)
	}
	all := words(m)
	for _, w := range []string{"2026年10月5日 – 2026年10月11日", "報告はありませんでした", "割り当てはありません", "0件（うち期限超過 0件）"} {
		if !strings.Contains(all, w) {
			t.Errorf("no %q in\n%s", w, all)
		}
	}
	if m.Image != nil {
		t.Error("a chart of nothing")
	}
	if strings.Contains(all, "SOS") {
		t.Errorf("SOS lines without an SOS:\n%s", all)
	}
}

// A month with SOS and no report: the SOS lines, no chart, and no report
// figure made of them.
func TestStatsSOSOnly(t *testing.T) {
	r := newRig(t)
	insertStatsCases(t, r, []statsCase{
		{number: "SOS-2026-0001", kind: mamori.KindSOS, department: "store", created: "2026-10-03 10:00",
			posted: 300 * time.Millisecond, taken: 3*time.Minute + 300*time.Millisecond, safe: time.Hour, rounds: 1},
		{number: "SOS-2026-0002", kind: mamori.KindSOS, department: "store", created: "2026-10-04 10:00", safe: time.Minute},
	})
	sum, err := r.svc.Stats(context.Background(), tokyoAt(t, "2026-10-01 00:00"), tokyoAt(t, "2026-11-01 00:00"))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Reports != 0 || sum.Consultations != 0 || len(sum.Departments) != 0 || len(sum.Outcomes) != 0 || sum.FirstResponse.N != 0 {
		t.Fatalf("SOS counted as reports: %+v", sum)
	}
	want := flows.SOSSummary{Raised: 2, Unacknowledged: 1, Escalated: 1,
		ToAlert: flows.Durations{N: 1, Median: 300 * time.Millisecond, Mean: 300 * time.Millisecond, Worst: 300 * time.Millisecond},
		ToAck:   flows.Durations{N: 1, Median: 3 * time.Minute, Mean: 3 * time.Minute, Worst: 3 * time.Minute}}
	if d := cmp.Diff(want, sum.SOS); d != "" {
		t.Fatalf("SOS (-want +got):\n%s", d)
	}
	m, err := r.svc.StatsMessage(sum, mamori.JA)
	if err != nil {
		t.Fatal(err)
	}
	all := words(m)
	for _, w := range []string{"報告はありませんでした", "報告\n0件", "相談\n0件", "SOS（緊急の呼び出し）\n2件",
		"中央値 0.3秒・最長 0.3秒（1件）", "中央値 3分・最長 3分（1件）", "誰も応答しなかった 1件・再通知した 1件"} {
		if !strings.Contains(all, w) {
			t.Errorf("no %q in\n%s", w, all)
		}
	}
	for _, s := range statsSecrets {
		if strings.Contains(all, s) {
			t.Errorf("confidential %q in the summary:\n%s", s, all)
		}
	}
	if m.Image != nil {
		t.Error("a chart of no report")
	}
}

// The SOS times are said in the unit a person would: tenths of a second
// for the alert, minutes and seconds for the acknowledgement.
func TestStatsSOSDurations(t *testing.T) {
	r := newRig(t)
	for _, tt := range []struct {
		d      time.Duration
		ja, en string
	}{
		{0, "0秒", "0 s"},
		{400 * time.Millisecond, "0.4秒", "0.4 s"},
		{time.Second, "1秒", "1 s"},
		{1260 * time.Millisecond, "1.3秒", "1.3 s"},
		{9960 * time.Millisecond, "10秒", "10 s"},
		{42 * time.Second, "42秒", "42 s"},
		{59700 * time.Millisecond, "1分", "1 min"},
		{90 * time.Second, "1分30秒", "1 min 30 s"},
		{3 * time.Minute, "3分", "3 min"},
		{59*time.Minute + 59800*time.Millisecond, "1時間", "1 h"},
		{65 * time.Minute, "1時間5分", "1 h 5 min"},
		{100 * time.Hour, "4日", "4 days"},
	} {
		sum := flows.Summary{From: tokyoAt(t, "2026-10-01 00:00"), To: tokyoAt(t, "2026-11-01 00:00"),
			SOS: flows.SOSSummary{Raised: 1, ToAlert: flows.Durations{N: 1, Median: tt.d, Mean: tt.d, Worst: tt.d}}}
		for l, want := range map[mamori.Lang]string{mamori.JA: "中央値 " + tt.ja + "・", mamori.EN: "median " + tt.en + " ·"} {
			m, err := r.svc.StatsMessage(sum, l)
			if err != nil {
				t.Fatal(err)
			}
			if all := words(m); !strings.Contains(all, want) {
				t.Errorf("%v in %s: no %q in\n%s", tt.d, l, want, all)
			}
		}
	}
}

// The summary of July 2026 is due on the first working day of August:
// the 1st is a Saturday, so Monday the 3rd at 9:00 in Tokyo.
func TestStatsMonthlyJob(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.clock.t = tokyoAt(t, "2026-07-20 12:00")
	insertStatsCases(t, r, []statsCase{
		{number: "KH-2026-0001", department: "store", channel: "phone", created: "2026-07-10 10:00",
			behaviours: []string{"verbal_attack"}, taken: time.Hour, judged: 26 * time.Hour, outcome: mamori.OutcomeKasuhara},
		{number: "KH-2026-0002", department: "store", channel: "phone", created: "2026-06-30 10:00"},
	})
	for range 2 { // idempotent: every start calls it
		if err := r.svc.ScheduleStats(ctx); err != nil {
			t.Fatal(err)
		}
	}
	summaries := func() []mamori.Message { return r.sent.to(mamori.TargetChannel, "C0HR") }
	for _, at := range []string{"2026-08-01 09:00", "2026-08-03 08:59"} {
		r.clock.t = tokyoAt(t, at)
		if _, err := r.worker.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if n := len(summaries()); n != 0 {
			t.Fatalf("%d summaries by %s", n, at)
		}
	}
	r.restart()
	r.clock.t = tokyoAt(t, "2026-08-03 09:00")
	if _, err := r.worker.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	got := summaries()
	if len(got) != 1 || !strings.Contains(got[0].Header, "2026年7月") || got[0].Image == nil {
		t.Fatalf("summaries: %+v", got)
	}
	if all := words(got[0]); !strings.Contains(all, "報告\n1件") || !strings.Contains(all, "中央値 1時間") {
		t.Errorf("July summary:\n%s", all)
	}
	// A start after the run schedules nothing twice; August's summary
	// follows on Tuesday 1 September.
	if err := r.svc.ScheduleStats(ctx); err != nil {
		t.Fatal(err)
	}
	r.clock.t = tokyoAt(t, "2026-09-01 08:59")
	r.worker.Drain(ctx)
	if n := len(summaries()); n != 1 {
		t.Fatalf("%d summaries before 1 September", n)
	}
	r.clock.t = tokyoAt(t, "2026-09-01 09:00")
	r.worker.Drain(ctx)
	got = summaries()
	if len(got) != 2 || !strings.Contains(got[1].Header, "2026年8月") || !strings.Contains(got[1].Text, "報告はありませんでした") {
		t.Fatalf("August summary: %+v", got[1:])
	}
	trail, err := r.db.AuditTrail(ctx, "2026-07")
	if err != nil || len(trail) != 1 || trail[0].Action != "stats.monthly" {
		t.Fatalf("audit: %+v %v", trail, err)
	}
}
