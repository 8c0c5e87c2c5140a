package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack"
	"github.com/mamori-oss/mamori/bot/web"
	"github.com/mamori-oss/mamori/flows"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	// SQLite's writer waits for its fsync inside a cgo call, which keeps
	// the scheduler's only P on one core: nothing else would run, not
	// even reading the next requests to commit with it. A second P lets
	// them (the OS still shares the one core).
	if getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
	bot, secret, appToken := getenv("SLACK_BOT_TOKEN"), getenv("SLACK_SIGNING_SECRET"), getenv("SLACK_APP_TOKEN")
	slackOn := bot != "" || secret != "" || appToken != ""
	switch {
	case slackOn && bot == "":
		return errors.New("SLACK_BOT_TOKEN is not set: it is needed with SLACK_SIGNING_SECRET or SLACK_APP_TOKEN (the app's xoxb- Bot User OAuth Token)")
	case slackOn && secret == "" && appToken == "":
		return errors.New("SLACK_SIGNING_SECRET is not set: it is needed to verify Slack's HTTP requests (or set SLACK_APP_TOKEN for Socket Mode)")
	case bot != "" && !strings.HasPrefix(bot, "xoxb-"):
		return errors.New("SLACK_BOT_TOKEN must be the app's Bot User OAuth Token, starting with xoxb- (OAuth & Permissions in the app's settings), not a user or app-level token")
	case appToken != "" && !strings.HasPrefix(appToken, "xapp-"):
		return errors.New("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
	}
	for _, name := range []string{"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "MICROSOFT_APP_ID", "MICROSOFT_APP_PASSWORD", "MICROSOFT_APP_TENANT_ID"} {
		if v := getenv(name); v != strings.TrimSpace(v) || strings.ContainsAny(v, " \t\r\n") {
			return fmt.Errorf("%s has a space or a line break in it: copy the value alone (a file read with $(cat …) keeps no line break)", name)
		}
	}
	cfgPath := getenv("MAMORI_CONFIG")
	if slackOn && cfgPath == "" {
		return errors.New("MAMORI_CONFIG is not set: Slack needs your departments and channel ids (start from `mamori config > mamori.yaml`)")
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	tset, err := teamsSettings(getenv, cfg)
	if err != nil {
		return err
	}
	platform := configPlatform(slackOn, tset.enabled())
	if ps := idProblems(cfg, platform); len(ps) > 0 {
		problems := make([]string, len(ps))
		for i, p := range ps {
			problems[i] = p.say(platform, mamori.EN)
		}
		log.Warn("MAMORI_CONFIG: some channels or people are not ids the platform gives: no card reaches such a channel and nobody so listed can act (`mamori directory check` lists them too)",
			"config", orExample(cfg.path), "problems", problems)
	}
	var pacing []slack.SenderOption
	switch getenv("MAMORI_SLACK_PACING") {
	case "":
	case "off":
		if slackOn && getenv("SLACK_API_URL") == "" {
			return errors.New("MAMORI_SLACK_PACING=off is only for a fake or an emulator of Slack's Web API (SLACK_API_URL): Slack itself answers 429 to a sender that does not keep to its limits")
		}
		pacing = append(pacing, slack.WithLimits(slack.Limits{}))
	default:
		return fmt.Errorf("MAMORI_SLACK_PACING must be empty or off, not %q", getenv("MAMORI_SLACK_PACING"))
	}
	if _, err := workerLease(getenv("MAMORI_WORKER_LEASE")); err != nil {
		return err
	}
	// No platform: the web sandbox, on a demo clock the page moves on.
	sandbox := !slackOn && !tset.enabled()
	// The address first: a port in use stops serve before it opens the
	// database or starts a worker beside the instance already there.
	addr := listenAddr(getenv("MAMORI_ADDR"), sandbox)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("MAMORI_ADDR %s: %w", addr, err)
	}
	defer ln.Close()
	clock, timers := clockFrom(ctx)
	var dir *web.Directory
	var ahead atomic.Int64
	if sandbox {
		dir = sandboxDirectory(cfg)
		base := clock
		clock = func() time.Time { return base().Add(time.Duration(ahead.Load())) }
	}
	a, err := newApp(ctx, cfg, getenv, log, clock)
	if err != nil {
		return err
	}
	defer a.db.Close()
	// A database that opens but cannot be written (a file of another
	// user, read-only) would take no report: say so now, not at the
	// first one.
	if err := a.writable(ctx); err != nil {
		return fmt.Errorf("MAMORI_DB %s cannot be written (give the user mamori runs as write access to it): %w", redactURL(dbPath(getenv)), err)
	}
	if timers != nil {
		a.worker.Timers = timers
	}
	// The migrations' SQL parser (goose) takes a 16 MB buffer from a pool;
	// hand it back to the OS now rather than carry it while serving.
	runtime.GC()
	debug.FreeOSMemory()

	m := &metrics{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.writable(ctx); err != nil {
			log.Error("not ready: the database cannot be written", "err", err)
			http.Error(w, "database cannot be written", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) { m.write(r.Context(), w, a) })
	legalPages(mux, cfg)
	teamsOn, err := setupTeams(ctx, a, mux, tset, getenv, log)
	if err != nil {
		return err
	}

	var wg sync.WaitGroup
	mode := "web sandbox"
	if slackOn {
		scfg := slack.Config{BotToken: bot, SigningSecret: secret, AppToken: appToken,
			APIURL: getenv("SLACK_API_URL"), Clock: time.Now, Log: log, Policy: cfg.policy}
		adapter, err := slack.New(scfg, a.service)
		if err != nil {
			return err
		}
		defer adapter.Close()
		if err := adapter.CheckToken(ctx); err != nil {
			return err
		}
		a.worker.Senders[mamori.PlatformSlack] = slack.NewSender(scfg, pacing...)
		if secret != "" {
			for _, p := range []string{"/slack/commands", "/slack/interactivity", "/slack/events"} {
				mux.Handle("POST "+p, adapter)
			}
			mode = "slack http"
		}
		if appToken != "" {
			mode = "slack socket mode"
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := adapter.RunSocketMode(ctx); err != nil && ctx.Err() == nil {
					log.Error("socket mode stopped", "err", err)
				}
			}()
		}
	} else if teamsOn {
		mode = "teams"
	} else {
		// No platform: the web sandbox is the Slack adapter talking to a
		// Slack of its own on loopback, shown at /.
		sb, err := web.New(web.Config{Flows: a.service, Policy: cfg.policy, Directory: dir, Lang: cfg.org.Lang,
			Location: cfg.loc, Command: cfg.command, Clock: clock, Log: log,
			Advance: func(d time.Duration) time.Time { ahead.Add(int64(d)); return clock() },
			Drain:   func(ctx context.Context) { a.settle(ctx, 5*time.Second) }})
		if err != nil {
			return err
		}
		defer sb.Close()
		// The page shows again what an earlier run posted: its cards
		// can still be clicked.
		if sent, err := a.db.ListOutbox(ctx, mamori.OutboxSent, 0); err != nil {
			log.Warn("sandbox: the messages sent before could not be read", "err", err)
		} else {
			sb.Restore(sent, func(ref string) (mamori.Posted, bool) {
				p, err := a.db.PostedRef(ctx, ref)
				return p, err == nil
			})
		}
		a.worker.Senders[mamori.PlatformSlack] = sb.Sender()
		// Messages a `mamori chat` left in the same database are only
		// logged (without their text).
		a.worker.Senders[mamori.PlatformLocal] = logSender{log}
		mux.Handle("/", sb)
	}
	if err := a.startDirectory(ctx, getenv, &wg, sandbox); err != nil {
		return err
	}
	if err := a.schedule(ctx); err != nil {
		return err
	}
	wg.Add(1)
	go func() { defer wg.Done(); a.worker.Run(ctx) }()

	srv := &http.Server{Handler: m.wrap(mux), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	log.Info("mamori serving", "addr", ln.Addr().String(), "mode", mode, "policy", cfg.policy.ID,
		"config", orExample(cfg.path), "version", version)
	if isMem(dbPath(getenv)) {
		log.Warn("in-memory store (MAMORI_DB=mem:): for demos only — every report, case and message is lost when mamori stops")
	}
	if sandbox {
		page := "http://" + pageHost(ln.Addr()) + "/"
		log.Info("no Slack or Teams credentials: the web sandbox runs the Slack adapter against a Slack of its own", "page", page)
		if !isLoopback(ln.Addr()) {
			log.Warn("the sandbox is reachable beyond this machine (MAMORI_ADDR): anyone who reaches it can act as anyone in it")
		}
		fmt.Fprintf(stdout, "Mamori sandbox: open %s in a browser (Ctrl-C stops it; `mamori chat` is the terminal version)\n", page)
	}
	if addr := getenv("MAMORI_PPROF"); addr != "" {
		if err := servePprof(ctx, addr, log); err != nil {
			return err
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = srv.Shutdown(sctx)
	}
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	log.Info("mamori stopped")
	return err
}

// writable reports whether the database takes a write — ready means able
// to take a report, not only to read (a full disk or a read-only file
// still reads). The probe replaces one small row, so it does not grow
// the database.
func (a *app) writable(ctx context.Context) error {
	return a.db.Update(ctx, func(tx mamori.Tx) error {
		return tx.PutReference("mamori:readyz", []byte("ok"), a.clock())
	})
}

// clockKey holds, in serve's context, the clock it runs on instead of
// the real one: a test's, moved on where a person would
// wait minutes (an SOS nobody acknowledges). Nothing else sets it. It
// holds a mamori.Clock, or a testClock when moving the clock on also
// ends the worker's wait between passes.
type clockKey struct{}

// testClock is a test's clock and the timers serve's worker waits on.
type testClock struct {
	now    mamori.Clock
	timers flows.Timers
}

// clockFrom returns the clock serve runs on, and the timers its worker
// waits on (nil: the real ones).
func clockFrom(ctx context.Context) (mamori.Clock, flows.Timers) {
	switch c := ctx.Value(clockKey{}).(type) {
	case mamori.Clock:
		return c, nil
	case testClock:
		return c.now, c.timers
	}
	return time.Now, nil
}

// servePprof serves Go's profiler (net/http/pprof) on a separate
// listener, for profiling under load. It only listens on a loopback
// address: profiles show the process's memory.
func servePprof(ctx context.Context, addr string, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("MAMORI_PPROF %q: give a loopback address and port, such as 127.0.0.1:6060", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("MAMORI_PPROF %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	go srv.Serve(ln)
	log.Info("profiler listening", "addr", ln.Addr().String())
	return nil
}

// logSender stands in for a platform when none is configured.
type logSender struct{ log *slog.Logger }

func (s logSender) Send(_ context.Context, it mamori.OutboxItem, _ *mamori.Posted) (mamori.Posted, error) {
	s.log.Info("local delivery", "id", it.ID, "kind", it.Target.Kind, "to", it.Target.ID)
	return mamori.Posted{Channel: it.Target.ID, TS: fmt.Sprint(it.ID)}, nil
}

// metrics counts requests for /metrics in Prometheus' text format.
type metrics struct {
	requests [6]atomic.Int64 // by status class 0xx..5xx
	slow     atomic.Int64
}

func (m *metrics) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		if c := sw.code / 100; c >= 0 && c < len(m.requests) {
			m.requests[c].Add(1)
		}
		if time.Since(start) > time.Second {
			m.slow.Add(1)
		}
	})
}

func (m *metrics) write(ctx context.Context, w io.Writer, a *app) {
	fmt.Fprintln(w, "# HELP mamori_http_requests_total HTTP requests served, by status class.")
	fmt.Fprintln(w, "# TYPE mamori_http_requests_total counter")
	for c := 1; c < len(m.requests); c++ {
		fmt.Fprintf(w, "mamori_http_requests_total{code=\"%dxx\"} %d\n", c, m.requests[c].Load())
	}
	fmt.Fprintln(w, "# HELP mamori_http_slow_requests_total HTTP requests that took over one second.")
	fmt.Fprintln(w, "# TYPE mamori_http_slow_requests_total counter")
	fmt.Fprintf(w, "mamori_http_slow_requests_total %d\n", m.slow.Load())
	fmt.Fprintln(w, "# HELP mamori_input_failures_total Messages, clicks and commands that could not be stored (the person was asked to try again).")
	fmt.Fprintln(w, "# TYPE mamori_input_failures_total counter")
	fmt.Fprintf(w, "mamori_input_failures_total %d\n", a.service.Failures())
	fmt.Fprintln(w, "# HELP mamori_outbox_messages Messages in the outbox by status.")
	fmt.Fprintln(w, "# TYPE mamori_outbox_messages gauge")
	if counts, err := outboxWaiting(ctx, a.db); err == nil {
		for _, s := range []string{mamori.OutboxPending, mamori.OutboxFailed} {
			fmt.Fprintf(w, "mamori_outbox_messages{status=%q} %d\n", s, counts[s])
		}
	}
	if cs, ok := a.db.(interface{ CommitStats() (int64, int64) }); ok {
		writes, commits := cs.CommitStats()
		fmt.Fprintln(w, "# HELP mamori_store_writes_total Write transactions asked of the store.")
		fmt.Fprintln(w, "# TYPE mamori_store_writes_total counter")
		fmt.Fprintf(w, "mamori_store_writes_total %d\n", writes)
		fmt.Fprintln(w, "# HELP mamori_store_commits_total Commits (fsyncs) that carried them: writes are committed together.")
		fmt.Fprintln(w, "# TYPE mamori_store_commits_total counter")
		fmt.Fprintf(w, "mamori_store_commits_total %d\n", commits)
	}
	writeDirectoryMetrics(w, a.service)
	writeMemory(w)
}

// writeMemory writes the process's memory: the resident set (Linux) and
// the Go runtime's own figures, under the names Prometheus' Go client
// uses.
func writeMemory(w io.Writer) {
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			if pages, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				fmt.Fprintln(w, "# HELP process_resident_memory_bytes Resident memory size in bytes.")
				fmt.Fprintln(w, "# TYPE process_resident_memory_bytes gauge")
				fmt.Fprintf(w, "process_resident_memory_bytes %d\n", pages*int64(os.Getpagesize()))
			}
		}
	}
	samples := []rtmetrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/sched/goroutines:goroutines"},
	}
	rtmetrics.Read(samples)
	for i, m := range []struct{ name, help, typ string }{
		{"go_memstats_heap_alloc_bytes", "Bytes of allocated heap objects.", "gauge"},
		{"go_memstats_sys_bytes", "Bytes of memory obtained from the OS by the Go runtime.", "gauge"},
		{"go_goroutines", "Goroutines that currently exist.", "gauge"},
	} {
		if samples[i].Value.Kind() != rtmetrics.KindUint64 {
			continue
		}
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", m.name, m.help, m.name, m.typ, m.name, samples[i].Value.Uint64())
	}
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// sandboxDirectory gives the people and channels of cfg's organisation
// ids of Slack's shape for the sandbox, and points the flows' directory
// and the SOS's lists of people at them.
func sandboxDirectory(cfg *loaded) *web.Directory {
	dir := web.NewDirectory(*cfg.org)
	org := dir.Org()
	cfg.org = &org
	cfg.sos.OnCall = dir.UserIDs(cfg.sos.OnCall)
	for i, level := range cfg.sos.Escalation {
		cfg.sos.Escalation[i] = dir.UserIDs(level)
	}
	return dir
}

// listenAddr is MAMORI_ADDR, or its default: every interface for a
// platform to reach, but this machine alone for the sandbox, which lets
// whoever reaches it act as anyone.
func listenAddr(env string, sandbox bool) string {
	switch {
	case env != "":
		return env
	case sandbox:
		return "127.0.0.1:8080"
	}
	return ":8080"
}

// settle delivers what is due until nothing waits in the outbox (a
// message held back for its channel's pace comes due within a second or
// so), for at most max.
func (a *app) settle(ctx context.Context, max time.Duration) {
	for deadline := time.Now().Add(max); ; {
		if _, err := a.worker.Drain(ctx); err != nil {
			a.log.Error("sandbox: delivery failed", "err", err)
			return
		}
		n, err := a.db.CountOutbox(ctx, "")
		if err != nil || n[mamori.OutboxPending] == 0 || time.Now().After(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// pageHost is the address to open the page at: a wildcard listener is
// reached on this machine through loopback.
func pageHost(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp.Port))
	}
	return tcp.String()
}

func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP != nil && tcp.IP.IsLoopback()
}
