package flows_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

func TestWorkingTime(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, tokyo)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tt := range []struct{ in, want string }{
		{"2026-11-20 17:00", "2026-11-20 17:00"}, // Friday, in hours
		{"2026-11-20 18:00", "2026-11-23 09:00"}, // Friday evening → Monday
		{"2026-11-21 10:00", "2026-11-23 09:00"}, // Saturday
		{"2026-11-22 23:59", "2026-11-23 09:00"}, // Sunday night
		{"2026-11-24 07:00", "2026-11-24 09:00"}, // Tuesday early
		{"2026-11-25 12:30", "2026-11-25 12:30"},
	} {
		if got := (flows.Care{}).WorkingTime(at(tt.in), tokyo); !got.Equal(at(tt.want)) {
			t.Errorf("%s: %s, want %s", tt.in, got.Format("Mon 2006-01-02 15:04"), tt.want)
		}
	}
	if got := (flows.Care{StartHour: 10, EndHour: 16}).WorkingTime(at("2026-11-25 16:30"), tokyo); !got.Equal(at("2026-11-26 10:00")) {
		t.Errorf("custom hours: %s", got)
	}
}

func TestCheckins(t *testing.T) {
	ctx := context.Background()
	r := newRig(t) // the clock starts on Friday 2026-11-20 10:00 in Tokyo
	n := r.filed(nil)
	checkins := func() []mamori.Message {
		var out []mamori.Message
		for _, m := range r.sent.to(mamori.TargetUser, "UME") {
			if m.Step == "checkin" {
				out = append(out, m)
			}
		}
		return out
	}
	advance := func(d time.Duration) {
		r.clock.Add(d)
		if _, err := r.worker.Drain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// +1 day is a Saturday: the check-in waits for Monday 9:00.
	advance(24 * time.Hour)
	if len(checkins()) != 0 {
		t.Fatal("check-in on a Saturday")
	}
	r.restart()
	advance(47 * time.Hour) // Monday 09:00 in Tokyo
	got := checkins()
	if len(got) != 1 || !strings.Contains(got[0].Header, n) || len(got[0].Choices) != 3 {
		t.Fatalf("check-ins by Monday 9:00: %+v", got)
	}
	hr0 := len(r.sent.to(mamori.TargetChannel, "C0HR"))
	// Not fine: HR hears of it; the reporter is thanked and shown care.
	r.click("UME", "checkin:"+n+":hard")
	hr := r.sent.to(mamori.TargetChannel, "C0HR")
	if len(hr) != hr0+1 || !strings.Contains(hr[len(hr)-1].Text, "<@UME>") || strings.Contains(hr[len(hr)-1].Text, "秘密") {
		t.Fatalf("HR care request: %+v", hr)
	}
	dms := r.sent.to(mamori.TargetUser, "UME")
	if len(dms[len(dms)-1].Fields) == 0 {
		t.Fatal("no care resources after a hard answer")
	}
	// Nobody else can answer it.
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UOTHER"), Step: "checkin", Value: "checkin:" + n + ":stop"})
	if r.kase(n).CheckinsStopped {
		t.Fatal("someone else stopped the check-ins")
	}
	// +7 days is Friday the 27th; a worker that only looks on Sunday
	// (after an outage, say) still waits for Monday's working hours.
	advance(6 * 24 * time.Hour) // Sunday the 29th
	if len(checkins()) != 1 {
		t.Fatal("check-in sent on a Sunday")
	}
	advance(24 * time.Hour) // Monday the 30th, 09:00
	if len(checkins()) != 2 {
		t.Fatalf("%d check-ins after a week", len(checkins()))
	}
	r.click("UME", "checkin:"+n+":stop")
	if !r.kase(n).CheckinsStopped {
		t.Fatal("stop not recorded")
	}
	advance(40 * 24 * time.Hour)
	if len(checkins()) != 2 {
		t.Fatalf("check-ins after stop: %d", len(checkins()))
	}
	trail, _ := r.db.AuditTrail(ctx, n)
	var answers []string
	for _, e := range trail {
		if e.Action == "care.checkin" {
			answers = append(answers, e.Detail)
		}
	}
	if strings.Join(answers, " ") != "answer=hard answer=stop" {
		t.Fatalf("audited answers: %v", answers)
	}
}
