package flows

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/mem"
)

// checkpointStore is the in-memory store with an audit head to publish,
// as the SQL stores have.
type checkpointStore struct {
	*mem.DB
	value string
	err   error
}

func (s *checkpointStore) AuditCheckpoint(context.Context) (string, error) { return s.value, s.err }

// TestCheckpointJob: the daily job posts the trail's head to the HR
// channel once however often it runs, records that it did, and schedules
// the next day's; a trail that does not verify gets a warning instead,
// with no detail; a store with nothing to checkpoint gets no job.
func TestCheckpointJob(t *testing.T) {
	ctx := context.Background()
	p, err := mamori.Preset("seed-004")
	if err != nil {
		t.Fatal(err)
	}
	value := "mamori-audit:v1:5:" + strings.Repeat("ab", 32)
	db := &checkpointStore{DB: mem.New(), value: value}
	now := time.Date(2026, 4, 1, 1, 0, 0, 0, time.UTC) // 10:00 in Tokyo, a Wednesday
	s := NewService(db, p, &mamori.Org{HRChannel: "C0HR"}, func() time.Time { return now }, nil)

	if err := s.ScheduleCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	jobs, err := db.ClaimJobs(ctx, now.Add(time.Hour), time.Minute, 10)
	if err != nil || len(jobs) != 1 || jobs[0].Kind != jobCheckpoint || jobs[0].Key != "audit.checkpoint:2026-04-01" {
		t.Fatalf("ClaimJobs = %+v, %v; want today's checkpoint", jobs, err)
	}
	for range 2 {
		if err := s.runCheckpoint(ctx, jobs[0], now); err != nil {
			t.Fatal(err)
		}
	}
	items, err := db.ClaimOutbox(ctx, now, time.Minute, 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("ClaimOutbox = %+v, %v; want one post", items, err)
	}
	if m := items[0]; m.Target.ID != "C0HR" || m.Key != "checkpoint:2026-04-01" || !strings.Contains(m.Message.Text, value) ||
		len(m.Message.Fields) != 1 || m.Message.Fields[0].Value != value {
		t.Errorf("posted %+v", m)
	}
	trail, err := db.AuditTrail(ctx, "audit")
	if err != nil || len(trail) != 1 || trail[0].Action != "audit.checkpoint" || trail[0].Detail != value {
		t.Errorf("AuditTrail = %+v, %v; want the checkpoint recorded", trail, err)
	}
	if err := db.DoneJob(ctx, jobs[0].ID, now); err != nil {
		t.Fatal(err)
	}
	next, err := db.ClaimJobs(ctx, now.Add(48*time.Hour), time.Minute, 10)
	if err != nil || len(next) != 1 || next[0].Key != "audit.checkpoint:2026-04-02" || !next[0].Due.After(now.Add(12*time.Hour)) {
		t.Fatalf("next job = %+v, %v; want tomorrow's", next, err)
	}

	db.value, db.err = "", errors.New("audit row 3: altered: audit chain broken")
	later := now.Add(24 * time.Hour)
	if err := s.runCheckpoint(ctx, next[0], later); err != nil {
		t.Fatal(err)
	}
	items, err = db.ClaimOutbox(ctx, later, time.Minute, 10)
	var warning *mamori.OutboxItem
	for i := range items {
		if items[i].Key == "checkpoint:2026-04-02" {
			warning = &items[i]
		}
	}
	if err != nil || warning == nil || !warning.Message.Urgent || strings.Contains(warning.Message.Text, "row 3") ||
		!strings.Contains(warning.Message.Text, "mamori audit verify") || len(warning.Message.Fields) != 0 {
		t.Errorf("ClaimOutbox = %+v, %v; want a warning without the detail", items, err)
	}
	if trail, _ := db.AuditTrail(ctx, "audit"); len(trail) != 2 || trail[1].Action != "audit.checkpoint_failed" {
		t.Errorf("AuditTrail = %+v; want the failure recorded", trail)
	}

	// English, for an organisation that speaks it.
	if m := s.CheckpointMessage(value, mamori.EN); !strings.Contains(m.Header, "checkpoint") || !strings.Contains(m.Text, value) {
		t.Errorf("CheckpointMessage in English = %+v", m)
	}

	plain := mem.New()
	s = NewService(plain, p, &mamori.Org{HRChannel: "C0HR"}, func() time.Time { return now }, nil)
	if err := s.ScheduleCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if jobs, _ := plain.ClaimJobs(ctx, now.Add(48*time.Hour), time.Minute, 10); len(jobs) != 0 {
		t.Errorf("the in-memory store got a checkpoint job: %+v", jobs)
	}
}
