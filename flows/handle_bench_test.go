package flows_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
	"github.com/mamori-oss/mamori/store/seal"
	"github.com/mamori-oss/mamori/store/sqlite"
)

// BenchmarkHandle measures the acknowledgement path without HTTP: one
// input at a time per user, many users at once, each step durably
// committed to a real SQLite file (synchronous=FULL, group commit).
//
//	go test -run '^$' -bench Handle -cpu 1,2 ./flows
func BenchmarkHandle(b *testing.B) {
	s, err := seal.New(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "mamori.db"), s, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	p, err := mamori.Preset("seed-004")
	if err != nil {
		b.Fatal(err)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	svc := &flows.Service{Store: db, Policy: p, Org: org(), Clock: time.Now, Log: slog.New(slog.DiscardHandler), Location: tokyo}
	// The first steps of a report, as the load tool sends them.
	steps := []mamori.Input{
		{Kind: mamori.InputStart, Value: mamori.StartReport},
		{Kind: mamori.InputChoice, Step: "safety", Value: "safe"},
		{Kind: mamori.InputChoice, Step: "for_whom", Value: "self"},
		{Kind: mamori.InputText, Text: "昨日の午後3時ごろ"},
	}
	var users, deliveries atomic.Int64
	b.SetParallelism(32) // 64 at -cpu 2
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var u mamori.User
		for i := 0; pb.Next(); i++ {
			if i%len(steps) == 0 {
				u = user(fmt.Sprint("U", users.Add(1)))
			}
			in := steps[i%len(steps)]
			in.User = u
			in.Delivery = fmt.Sprint("Ev", deliveries.Add(1))
			if err := svc.Handle(context.Background(), in); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	w, c := db.CommitStats()
	b.ReportMetric(float64(w)/float64(max(c, 1)), "writes/commit")
}
