package flows_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
)

// homeFields is u's App Home as "label=value" lines.
func homeFields(t *testing.T, r *rig, u mamori.User) string {
	t.Helper()
	m, err := r.svc.Home(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range m.Fields {
		b.WriteString(f.Label + "=" + f.Value + "\n")
	}
	return b.String()
}

// homeLine is the value of the field labelled number in u's App Home.
func homeLine(t *testing.T, r *rig, u mamori.User, number string) string {
	t.Helper()
	m, err := r.svc.Home(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Fields {
		if f.Label == number {
			return f.Value
		}
	}
	return ""
}

// TestHomeSOS: an SOS shows in the employee's own list with whether
// someone is on it, never a report's deadline; in the open cases of the
// department's supervisors and HR with its escalation and responder,
// never "overdue"; nowhere for a colleague; and leaves the open cases
// once the employee is safe.
func TestHomeSOS(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartSOS})
	const n = "SOS-2026-0001"
	me, sup, hr := user("UME"), user("USUP"), user("UHR")

	if got := homeLine(t, r, me, n); !strings.Contains(got, "対応する人を呼んでいます") || strings.Contains(got, "ごろまで") {
		t.Errorf("the employee's SOS: %q", got)
	}
	for _, u := range []mamori.User{sup, hr} {
		if got := homeLine(t, r, u, n); !strings.Contains(got, "2026-11-20 10:00") || !strings.Contains(got, "緊急") ||
			!strings.Contains(got, "応答待ち") || strings.Contains(got, "期限超過") {
			t.Errorf("%s's open SOS: %q", u.ID, got)
		}
	}
	if got := homeFields(t, r, user("UOTHER")); strings.Contains(got, n) {
		t.Errorf("a colleague sees the SOS:\n%s", got)
	}

	// Nobody answers: escalated; hours later, still not "overdue".
	r.advance(3*time.Minute + time.Second)
	if got := homeLine(t, r, sup, n); !strings.Contains(got, "1 回 再通知") {
		t.Errorf("escalated SOS: %q", got)
	}
	if _, _, err := r.svc.Open(ctx, sup, mamori.Action{Kind: mamori.SOSAck, Subject: n}); err != nil {
		t.Fatal(err)
	}
	r.clock.Add(80 * time.Hour)
	if got := homeLine(t, r, me, n); !strings.Contains(got, "<@USUP> さんが対応しています") || !strings.Contains(got, "対応中") {
		t.Errorf("the employee's acknowledged SOS: %q", got)
	}
	if got := homeLine(t, r, hr, n); !strings.Contains(got, "<@USUP> さんが対応中（10:03〜）") || strings.Contains(got, "期限超過") {
		t.Errorf("HR's acknowledged SOS: %q", got)
	}

	// Safe: closed, out of the open cases; the employee still sees it.
	r.click("UME", mamori.SOSSafe+":"+n)
	if got := homeLine(t, r, me, n); !strings.Contains(got, "安全になったと連絡がありました") {
		t.Errorf("the employee's closed SOS: %q", got)
	}
	for _, u := range []mamori.User{sup, hr} {
		if got := homeFields(t, r, u); strings.Contains(got, n) || !strings.Contains(got, "未完了の案件はありません") {
			t.Errorf("%s still has the closed SOS:\n%s", u.ID, got)
		}
	}
	// The report made from it is one of the employee's reports, and the
	// SOS points to it.
	r.click("UME", mamori.SOSReport+":"+n)
	r.reportToSummary("UME")
	r.click("UME", "submit")
	if got := homeLine(t, r, me, n); !strings.Contains(got, "報告 KH-2026-0001 につながっています") {
		t.Errorf("the SOS of a report: %q", got)
	}
	if got := homeLine(t, r, me, "KH-2026-0001"); got == "" || strings.Contains(got, "SOS") {
		t.Errorf("the report from the SOS: %q", got)
	}
	// In English too, with no text key showing.
	en := me
	en.Lang = mamori.EN
	if got := homeLine(t, r, en, n); got == "" || strings.Contains(got, "home.") || !strings.Contains(got, "You said you were safe; report KH-2026-0001") {
		t.Errorf("in English: %q", got)
	}
}

// TestHomeOpenLeavesClosed: a consultation HR has closed is no longer in
// the open cases, an open one is.
func TestHomeOpenLeavesClosed(t *testing.T) {
	r := newRig(t)
	insertStatsCases(t, r, []statsCase{
		{number: "SD-2026-0001", kind: mamori.KindConsult, created: "2026-11-19 10:00", status: mamori.StatusClosed},
		{number: "SD-2026-0002", kind: mamori.KindConsult, created: "2026-11-19 11:00", status: mamori.StatusOpen},
	})
	got := homeFields(t, r, user("UHR"))
	if strings.Contains(got, "SD-2026-0001") || !strings.Contains(got, "SD-2026-0002") {
		t.Errorf("HR's open cases:\n%s", got)
	}
}

// TestHomeSupervisorSeesOnlyTheirs (found by a user trial): a
// supervisor's App Home never lists a report sent to HR alone nor a
// consultation; HR's lists both.
func TestHomeSupervisorSeesOnlyTheirs(t *testing.T) {
	r := newRig(t)
	r.reportUntil("UME", "route")
	r.click("UME", mamori.RouteHR)
	r.answerUntil("UME", "summary")
	r.click("UME", "submit")
	r.do(mamori.Input{Kind: mamori.InputStart, User: user("UME"), Value: mamori.StartConsult})
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "毎日同じ方から1時間の電話があります"})
	r.click("UME", "no")
	r.click("UME", "submit")
	if got := homeFields(t, r, user("USUP")); strings.Contains(got, "KH-2026-0001") || strings.Contains(got, "SD-2026-0001") {
		t.Errorf("the supervisor's home:\n%s", got)
	}
	if got := homeFields(t, r, user("UHR")); !strings.Contains(got, "KH-2026-0001") || !strings.Contains(got, "SD-2026-0001") {
		t.Errorf("HR's home:\n%s", got)
	}
}
