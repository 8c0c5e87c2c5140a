// Command mamori runs Mamori, the customer-harassment (カスハラ) policy
// chatbot: `mamori serve` for Slack, `mamori chat` to try it in a
// terminal, `mamori manifest slack` to install the app.
package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/local"
	"github.com/mamori-oss/mamori/flows"
	auditchain "github.com/mamori-oss/mamori/store/audit"
	"github.com/mamori-oss/mamori/store/postgres"
	"github.com/mamori-oss/mamori/store/sqlite"
)

const usage = `mamori — a chatbot that runs your customer-harassment (カスハラ) policy.

Usage:
  mamori chat [-user ID] [-lang ja|en]   try it in this terminal (no Slack needed)
  mamori serve                          run the bot (Slack HTTP or Socket Mode, Teams)
  mamori manifest slack -url https://your.host | -socket
                                        print the Slack app manifest (HTTP mode needs the
                                        public https URL of mamori serve; Socket Mode none)
  mamori manifest teams -url https://your.host [-o mamori-teams.zip] [-version 1.0.0]
                                        write the Teams app package to upload, for the bot
                                        MICROSOFT_APP_ID (its privacy and terms pages are the
                                        URL's /privacy and /terms)
  mamori config                         print a commented example configuration
  mamori outbox [-status pending|failed|sent]
                                        list messages waiting to be sent
  mamori backup FILE                    write a consistent copy of the database (SQLite;
                                        with PostgreSQL use pg_dump)
  mamori migrate                        apply the database migrations (every command
                                        also applies them when it opens the database)
  mamori export -by NAME [-case N | -from DAY -to DAY] [-format json|csv] [-o FILE]
                                        write cases, decrypted, with decisions and audit
                                        trail, for legal or police use (recorded in the trail)
  mamori retention plan [-at DAY]       list the closed cases kept, with the rule and the day each
                                        is deleted (and held ones); nothing is deleted before its rule
  mamori retention run [-at DAY] [-by NAME]
                                        delete now what is past its rule (the daily job does it too);
                                        -at acts as of a day, for demos and tests
  mamori directory sync                 read the directory groups the configuration names (Slack
                                        user groups, Entra groups) now and keep them
  mamori directory check [-lang ja|en]  who is in which department, who is in none, who supervises
                                        nobody, and when each group was last read
  mamori register list [-all]           list the refusal-of-service register (no identifiers)
  mamori register export -by NAME [-all] [-o FILE]
                                        write the register as CSV for the company's customer
                                        systems, identifiers included (recorded in the trail)
  mamori training report [-department ID] [-lang ja|en] [-csv]
                                        training completion by programme and department
  mamori audit verify [-checkpoint FILE|VALUE]…
                                        check the audit trail: its keyed hash chain, that every
                                        case has its entry, and that it holds each checkpoint
                                        (a value, or a file of them); exit 1 on a break
  mamori audit checkpoint [-o FILE]     print the trail's head (mamori-audit:v1:SEQ:HASH) to keep
                                        outside the database, after checking the trail
  mamori audit triggers                 print the SQL that restores the audit table's
                                        append-only triggers (when mamori refuses to start)
  mamori audit show SUBJECT             list the audit trail of a case (KH-…) or a user
  mamori bench [-url URL] [-n 10000] [-c 64] [-mix slack|teams|both] [-fake-slack ADDR] [-teams-keys ADDR]
                                        load-test a running serve with signed requests (see the README)
  mamori version

Environment:
  MAMORI_CONFIG          the YAML configuration (default: the built-in example)
  MAMORI_DB              SQLite database file (default mamori.db), a postgres://
                         URL to share one PostgreSQL database, or mem: (demos only:
                         everything is lost when mamori stops)
  MAMORI_ADDR            HTTP listen address for serve (default :8080; 127.0.0.1:8080 for the web sandbox)
  MAMORI_ENCRYPTION_KEY  base64 key for data at rest (default: a key file
                         next to the database, made on first run)
  MAMORI_KEY_FILE        where that key file is (default mamori.key beside MAMORI_DB;
                         with PostgreSQL set it or MAMORI_ENCRYPTION_KEY)
  SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, SLACK_API_URL
  MAMORI_SLACK_PACING    off: don't keep to Slack's rate limits (only with SLACK_API_URL: a fake)
  MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD, MICROSOFT_APP_TENANT_ID,
  MAMORI_TEAMS_OPENID_METADATA_URL, MAMORI_TEAMS_TOKEN_URL, MAMORI_GRAPH_URL
  MAMORI_TEAMS_EMULATOR  on: without MICROSOFT_APP_ID, serve /api/messages to a local
                         emulator on loopback, unauthenticated (never behind a proxy)
  MAMORI_WORKER_LEASE    how long a replica holds a claimed job or message (default 1m)
  MAMORI_LANG            language of what mamori directory prints (default: the organisation's)
`

var version = "dev"

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "mamori:", err)
		os.Exit(1)
	}
}

// run is main with its world passed in, so tests can drive it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return nil
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "chat":
		return chat(ctx, args[1:], stdin, stdout, stderr, getenv)
	case "serve":
		return serve(ctx, args[1:], stdout, stderr, getenv)
	case "manifest":
		return manifestCommand(args[1:], stdout, getenv)
	case "config":
		_, err := stdout.Write(exampleConfig)
		return err
	case "outbox":
		return outbox(ctx, args[1:], stdout, getenv)
	case "backup":
		return backup(ctx, args[1:], stdout, getenv)
	case "migrate":
		return migrate(ctx, args[1:], stdout, stderr, getenv)
	case "audit":
		return audit(ctx, args[1:], stdout, getenv)
	case "export":
		return export(ctx, args[1:], stdout, stderr, getenv)
	case "training":
		return training(ctx, args[1:], stdout, stderr, getenv)
	case "directory":
		return directory(ctx, args[1:], stdout, stderr, getenv)
	case "retention":
		return retention(ctx, args[1:], stdout, stderr, getenv)
	case "register":
		return register(ctx, args[1:], stdout, stderr, getenv)
	case "bench":
		return bench(ctx, args[1:], stdout, stderr, getenv)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "mamori", version)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q (try: mamori help)", args[0])
}

// app is Mamori wired: store, flows and the worker.
type app struct {
	cfg     *loaded
	db      storeDB
	service *flows.Service
	worker  *flows.Worker
	log     *slog.Logger
	clock   mamori.Clock
}

func newApp(ctx context.Context, cfg *loaded, getenv func(string) string, log *slog.Logger, clock mamori.Clock) (*app, error) {
	where := dataPlace(getenv)
	db, err := openStore(ctx, getenv, log)
	if err != nil {
		return nil, err
	}
	where.log(log, cfg)
	lease, err := workerLease(getenv("MAMORI_WORKER_LEASE"))
	if err != nil {
		db.Close()
		return nil, err
	}
	a := &app{cfg: cfg, db: db, log: log, clock: clock}
	a.worker = (&flows.Worker{Store: db, Senders: map[string]flows.Sender{}, Clock: clock, Log: log, Lease: lease}).Init()
	a.service = &flows.Service{Store: db, Policy: cfg.policy, Org: cfg.org, Clock: clock, Log: log,
		Location: cfg.loc, RemindAfter: cfg.remind, Deadlines: cfg.deadlines, Care: cfg.care, Training: cfg.training,
		SOS: cfg.sos, Retention: cfg.retention, Register: cfg.register, Kick: a.worker.Kick, Directory: &flows.Directory{Every: cfg.refresh}}
	a.worker.Jobs = a.service
	a.worker.GaveUp = a.gaveUp
	// The directory groups' members as last read, before anything is
	// handled (serve reads them again at once: startDirectory).
	if _, err := a.service.LoadDirectory(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

// workerLease reads MAMORI_WORKER_LEASE: how long a replica holds a job
// or message it claimed before another may take it over if it died. A
// send is cut off at a third of it and may wait 2 s for a rate limit, so
// it is at least 10 s. "" is the worker's default (one minute).
func workerLease(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 10*time.Second {
		return 0, fmt.Errorf("MAMORI_WORKER_LEASE %q: want a duration of at least 10s, such as 1m", v)
	}
	return d, nil
}

// schedule makes sure the recurring jobs are in the schedule: today's
// training pass, the next monthly statistics, today's retention pass and
// the audit trail's daily checkpoint, and a sync of the directory groups
// when there is a source to read them (serve).
// Safe on every start.
func (a *app) schedule(ctx context.Context) error {
	if err := a.service.ScheduleTraining(ctx); err != nil {
		return fmt.Errorf("schedule training: %w", err)
	}
	if err := a.service.ScheduleStats(ctx); err != nil {
		return fmt.Errorf("schedule statistics: %w", err)
	}
	if err := a.service.ScheduleRetention(ctx); err != nil {
		return err
	}
	if err := a.service.ScheduleCheckpoint(ctx); err != nil {
		return fmt.Errorf("schedule the audit checkpoint: %w", err)
	}
	return a.service.ScheduleDirectory(ctx)
}

// gaveUp tells HR about a message that could not be delivered, so nothing
// is dropped silently.
func (a *app) gaveUp(ctx context.Context, it mamori.OutboxItem, sendErr error) {
	hr := mamori.Target{Platform: it.Target.Platform, Kind: mamori.TargetChannel, ID: a.cfg.org.HRChannel}
	if it.Target == hr || it.Target.Kind == "" {
		a.log.Error("message to the HR channel could not be delivered", "id", it.ID, "err", sendErr)
		return
	}
	l := a.cfg.org.Lang
	who := it.Target.ID
	if it.Target.Kind == mamori.TargetUser {
		who = "<@" + who + ">"
	}
	m := mamori.Message{Urgent: true, Header: a.cfg.policy.T(l, "undelivered.header"),
		Text: fmt.Sprintf(a.cfg.policy.T(l, "undelivered.text"), who)}
	err := a.db.Update(ctx, func(tx mamori.Tx) error {
		return tx.Enqueue(mamori.OutboxItem{Key: fmt.Sprintf("undelivered:%d", it.ID), Target: hr, Message: m, Lang: l, Created: a.clock()})
	})
	if err != nil {
		a.log.Error("could not tell HR about an undelivered message", "id", it.ID, "err", err)
	}
}

func chat(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	user := fs.String("user", "me", "who you are in the chat (a member id from the configuration)")
	lang := fs.String("lang", "ja", "the language of the chat, everyone's in it (ja or en; default ja, or the organisation's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *lang != "ja" && *lang != "en" {
		return fmt.Errorf("-lang must be ja or en")
	}
	cfg, err := loadConfig(getenv("MAMORI_CONFIG"))
	if err != nil {
		return err
	}
	// Everyone the terminal plays (/as sato, /as hr) reads what is sent
	// to them, and the channels' cards, in the terminal's language.
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "lang" {
			cfg.org.Lang = mamori.Lang(*lang)
		}
	})
	if cfg.org.Lang == mamori.EN {
		*lang = "en"
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// A demo clock: /skip moves it forward, so follow-ups due days later
	// can be seen now. It only ever runs ahead of the real time.
	var ahead atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	where := dataPlace(getenv)
	a, err := newApp(ctx, cfg, getenv, log, clock)
	if err != nil {
		return err
	}
	defer a.db.Close()
	fmt.Fprintln(stdout, where.say(cfg, mamori.Lang(*lang)))
	t := &local.Terminal{In: stdin, Out: stdout, Flows: a.service, Policy: cfg.policy, ImageDir: dataDir(getenv),
		User: mamori.User{Platform: mamori.PlatformLocal, ID: *user, Lang: mamori.Lang(*lang)}}
	a.worker.Senders[mamori.PlatformLocal] = t
	a.service.Platform = mamori.PlatformLocal
	if err := a.schedule(ctx); err != nil {
		return err
	}
	t.Skip = func(d time.Duration) time.Time {
		ahead.Add(int64(d))
		return clock().In(cfg.loc)
	}
	t.Drain = func(ctx context.Context) {
		if _, err := a.worker.Drain(ctx); err != nil {
			log.Error("delivery failed", "err", err)
		}
	}
	// Deliver what an earlier session left behind before the menu.
	t.Drain(ctx)
	err = t.Run(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func outbox(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("outbox", flag.ContinueOnError)
	status := fs.String("status", mamori.OutboxPending, "pending, failed or sent")
	limit := fs.Int("n", 100, "how many to list")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if s := *status; s != mamori.OutboxPending && s != mamori.OutboxFailed && s != mamori.OutboxSent {
		return fmt.Errorf("outbox: -status must be pending, failed or sent, not %q", s)
	}
	db, err := openStore(ctx, getenv, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer db.Close()
	items, err := db.ListOutbox(ctx, *status, *limit)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d %s\n", len(items), *status)
	for _, it := range items {
		fmt.Fprintf(stdout, "%d\t%s\t%s %s:%s\tattempts=%d\t%s\n", it.ID, it.Created.Format(time.RFC3339),
			it.Target.Platform, it.Target.Kind, it.Target.ID, it.Attempts, it.LastErr)
	}
	return nil
}

// training prints the completion report: per programme round and
// department, how many were assigned, are done and are overdue.
func training(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "report" {
		return fmt.Errorf("usage: mamori training report [-department ID] [-lang ja|en] [-csv]")
	}
	fs := flag.NewFlagSet("training report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dept := fs.String("department", "", "only this department (an id from the configuration)")
	lang := fs.String("lang", "ja", "language of names: ja or en")
	asCSV := fs.Bool("csv", false, "write CSV")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := loadConfig(getenv("MAMORI_CONFIG"))
	if err != nil {
		return err
	}
	var depts []string
	if *dept != "" {
		if _, ok := cfg.org.Department(*dept); !ok {
			return fmt.Errorf("-department: no department %q in the configuration", *dept)
		}
		depts = []string{*dept}
	}
	a, err := newApp(ctx, cfg, getenv, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		return err
	}
	defer a.db.Close()
	rows, err := a.service.TrainingReport(ctx, depts, mamori.Lang(*lang))
	if err != nil {
		return err
	}
	if *asCSV {
		w := csv.NewWriter(stdout)
		w.Write([]string{"programme", "name", "round", "department", "assigned", "done", "overdue"})
		for _, r := range rows {
			w.Write([]string{r.Programme, r.Name, strconv.Itoa(r.Round), r.Department, strconv.Itoa(r.Assigned), strconv.Itoa(r.Done), strconv.Itoa(r.Overdue)})
		}
		w.Flush()
		return w.Error()
	}
	if len(rows) == 0 {
		fmt.Fprintln(stdout, "no training assigned yet")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "programme\tround\tdepartment\tassigned\tdone\toverdue\tcompletion")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d%%\n", r.Name, r.Round, r.Department, r.Assigned, r.Done, r.Overdue, 100*r.Done/max(1, r.Assigned))
	}
	return tw.Flush()
}

func backup(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: mamori backup FILE")
	}
	db, err := openStore(ctx, getenv, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Backup(ctx, args[0]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup written to %s (the key file is needed to read it)\n", args[0])
	return nil
}

// auditor is what `mamori audit` needs of a SQL store beyond storeDB:
// the keyed chain checked against checkpoints and the cases, and its head.
type auditor interface {
	CheckAudit(ctx context.Context, checkpoints ...auditchain.Checkpoint) (auditchain.Result, error)
	AuditCheckpoint(ctx context.Context) (string, error)
}

const auditUsage = "usage: mamori audit verify [-checkpoint FILE|VALUE]… | mamori audit checkpoint [-o FILE] | mamori audit triggers | mamori audit show SUBJECT"

func audit(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return errors.New(auditUsage)
	}
	fs := flag.NewFlagSet("audit "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		checkpoints []auditchain.Checkpoint
		out         string
	)
	switch args[0] {
	case "verify":
		fs.Func("checkpoint", "a checkpoint, or a file holding some", func(v string) error {
			cps, err := readCheckpoints(v)
			checkpoints = append(checkpoints, cps...)
			return err
		})
	case "checkpoint":
		fs.StringVar(&out, "o", "", "write the checkpoint to this file")
	case "show", "triggers":
	default:
		return errors.New(auditUsage)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w (%s)", err, auditUsage)
	}
	if n := fs.NArg(); (args[0] == "show") != (n == 1) || n > 1 {
		return errors.New(auditUsage)
	}
	if args[0] == "triggers" {
		// Without opening the database: Open refuses one without them.
		switch path := dbPath(getenv); {
		case isMem(path):
			return errors.New("MAMORI_DB=mem: keeps no audit table")
		case postgres.IsURL(path):
			_, err := io.WriteString(stdout, postgres.AuditTriggers)
			return err
		default:
			_, err := io.WriteString(stdout, sqlite.AuditTriggers)
			return err
		}
	}
	db, err := openStore(ctx, getenv, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer db.Close()
	a, keyed := db.(auditor)
	switch args[0] {
	case "show":
		trail, err := db.AuditTrail(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		for _, e := range trail {
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", e.At.Format(time.RFC3339), e.Actor, e.Action, e.Detail)
		}
		return nil
	case "checkpoint":
		if !keyed {
			return errors.New("MAMORI_DB=mem: keeps nothing past its exit to checkpoint")
		}
		cp, err := a.AuditCheckpoint(ctx)
		if err != nil {
			return fmt.Errorf("no checkpoint: the audit trail does not hold: %w", err)
		}
		if out == "" {
			fmt.Fprintln(stdout, cp)
			return nil
		}
		if err := os.WriteFile(out, []byte(cp+"\n"), 0o644); err != nil {
			return fmt.Errorf("audit checkpoint: %w", err)
		}
		fmt.Fprintf(stdout, "checkpoint %s written to %s: keep it apart from the database\n", cp, out)
		return nil
	}
	if !keyed {
		if len(checkpoints) > 0 {
			return errors.New("MAMORI_DB=mem: keeps no checkpoints")
		}
		n, err := db.VerifyAudit(ctx)
		if err != nil {
			return fmt.Errorf("audit trail broken after %d good entries: %w", n, err)
		}
		fmt.Fprintf(stdout, "audit trail intact: %d entries\n", n)
		return nil
	}
	r, err := a.CheckAudit(ctx, checkpoints...)
	if err != nil {
		return fmt.Errorf("audit trail broken: %w", err)
	}
	fmt.Fprintf(stdout, "audit trail intact: %d entries\n", r.Entries)
	switch {
	case r.Unkeyed > 0:
		fmt.Fprintf(stdout, "  entries 1-%d predate the keyed chain (plain SHA-256); every entry from %d on is keyed\n", r.Unkeyed, r.Unkeyed+1)
	case r.Entries > 0:
		fmt.Fprintln(stdout, "  every entry is keyed (HMAC-SHA256 with a key derived from the encryption key)")
	}
	fmt.Fprintf(stdout, "  %d cases, each with its submission entry\n", r.Cases)
	if len(checkpoints) == 0 {
		fmt.Fprintln(stdout, "  no checkpoint given: entries cut from the end of the trail show only against one (mamori audit checkpoint)")
	} else {
		fmt.Fprintf(stdout, "  holds %d checkpoint(s)\n", r.Checkpoints)
	}
	fmt.Fprintf(stdout, "  head: %s\n", r.Head)
	return nil
}

// readCheckpoints reads -checkpoint's value: a checkpoint itself, or a
// file holding one or more (one a day appended, or a message copied from
// the HR channel).
func readCheckpoints(v string) ([]auditchain.Checkpoint, error) {
	if strings.HasPrefix(strings.TrimSpace(v), "mamori-audit:") {
		c, err := auditchain.ParseCheckpoint(v)
		if err != nil {
			return nil, err
		}
		return []auditchain.Checkpoint{c}, nil
	}
	b, err := os.ReadFile(v)
	if err != nil {
		return nil, fmt.Errorf("neither a checkpoint (mamori-audit:v1:…) nor a file to read: %w", err)
	}
	cps := auditchain.FindCheckpoints(string(b))
	if len(cps) == 0 {
		return nil, fmt.Errorf("%s holds no checkpoint (mamori-audit:v1:…)", v)
	}
	return cps, nil
}
