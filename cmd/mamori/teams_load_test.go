package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mamori-oss/mamori/bot/teams/teamstest"
)

var teamsLoad = flag.Bool("teamsload", false, "run the Teams load test (go test -run TestTeamsLoad -teamsload -v ./cmd/mamori)")

// TestTeamsLoad posts signed activities to `mamori serve` on loopback —
// JWT validation on, real SQLite, the outbox sending every reply to the
// fake Connector — at concurrency 16 and then 64, and reports throughput,
// latency percentiles, and the heap and goroutines after warm-up and
// after 10,000 requests. Bounded: 500 + 2 × 5,000 requests, two minutes
// a phase at most.
func TestTeamsLoad(t *testing.T) {
	if !*teamsLoad {
		t.Skip("the load test runs with -teamsload")
	}
	// The fake keeps no record of what it receives: the heap measured is
	// Mamori's.
	fake := teamstest.New(t, teamstest.Options{AppID: teamsAppID, Password: "test-client-secret", Forget: true})
	const users = 200
	members := make([]teamstest.Member, users)
	for i := range members {
		members[i] = teamstest.Member{ID: fmt.Sprintf("29:load%03d", i), AadObjectID: fmt.Sprintf("aad-load%03d", i),
			Name: fmt.Sprintf("User %d", i), Email: fmt.Sprintf("load%03d@example.co.jp", i), Locale: "ja-JP", Installed: true}
		fake.AddMember(members[i])
	}
	r := startTeams(t, fake, teamsEnv(t, fake))
	// Tokens as Teams sends them: one per few minutes, shared by requests.
	tokens := []string{fake.Token(), fake.Token(), fake.Token()}
	var seq atomic.Int64
	phase := func(name string, n, conc int) {
		lat := make([]time.Duration, n)
		var next atomic.Int64
		var failed atomic.Int64
		deadline := time.Now().Add(2 * time.Minute)
		start := time.Now()
		var wg sync.WaitGroup
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= n || time.Now().After(deadline) {
						return
					}
					k := seq.Add(1)
					act := fake.Message(members[int(k)%users], "menu")
					t0 := time.Now()
					code, _, err := teamstest.Post(r.url, act, tokens[int(k)%len(tokens)])
					lat[i] = time.Since(t0)
					if err != nil || code != http.StatusOK {
						if failed.Add(1) <= 3 {
							t.Logf("%s: answered %d %v", name, code, err)
						}
					}
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		done := min(int(next.Load()), n)
		lat = lat[:done]
		slices.Sort(lat)
		pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
		t.Logf("%s: %d requests at concurrency %d in %s: %.0f req/s, p50 %s, p99 %s, max %s, %d failed",
			name, done, conc, elapsed.Round(time.Millisecond), float64(done)/elapsed.Seconds(),
			pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond), failed.Load())
		if failed.Load() > 0 {
			t.Errorf("%s: %d requests failed", name, failed.Load())
		}
	}
	mem := func(when string) (uint64, int) {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		g := runtime.NumGoroutine()
		t.Logf("%s: heap in use %.1f MiB, %d goroutines", when, float64(ms.HeapInuse)/(1<<20), g)
		return ms.HeapInuse, g
	}
	// drained waits for the outbox to have sent every reply.
	drained := func() {
		start := time.Now()
		for deadline := start.Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			resp, err := http.Get(r.base + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), `mamori_outbox_messages{status="pending"} 0`+"\n") {
				t.Logf("the outbox was drained %s after the requests", time.Since(start).Round(100*time.Millisecond))
				time.Sleep(500 * time.Millisecond) // idle connections settle
				return
			}
		}
		t.Fatal("the outbox was not drained within 2 minutes")
	}
	phase("warm-up", 500, 16)
	drained()
	heap0, g0 := mem("after warm-up")
	phase("concurrency 16", 5000, 16)
	phase("concurrency 64", 5000, 64)
	drained()
	heap1, g1 := mem("after 10,000 more requests")
	if g1 > g0+20 {
		var b strings.Builder
		pprof.Lookup("goroutine").WriteTo(&b, 1)
		t.Errorf("goroutines grew from %d to %d:\n%s", g0, g1, b.String())
	}
	if heap1 > heap0*2+16<<20 {
		t.Errorf("the heap grew from %d to %d bytes", heap0, heap1)
	}
	t.Logf("JWKS fetched %d times, tokens fetched %d times, members looked up %d times",
		fake.Calls("keys"), fake.Calls("token"), fake.Calls("member"))
}
