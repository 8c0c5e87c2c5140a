package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

// retentionSection is the configuration's retention: section: how long
// each kind of case is kept after it closes.
type retentionSection struct {
	Report       string            `yaml:"report"`
	Outcomes     map[string]string `yaml:"outcomes"`
	Consultation string            `yaml:"consultation"`
	CareTask     string            `yaml:"care_task"`
	SOS          string            `yaml:"sos"`
	Notice       string            `yaml:"notice"`
}

// retentionConfig checks the retention section and turns it into
// flows.Retention; what is left out keeps the default (five years; a
// notice 30 days ahead).
func retentionConfig(c retentionSection) (flows.Retention, error) {
	var r flows.Retention
	for _, p := range []struct {
		name string
		s    string
		to   *flows.Period
	}{{"report", c.Report, &r.Report}, {"consultation", c.Consultation, &r.Consultation},
		{"care_task", c.CareTask, &r.CareTask}, {"sos", c.SOS, &r.SOS}} {
		if p.s == "" {
			continue
		}
		v, err := flows.ParsePeriod(p.s)
		if err != nil {
			return r, fmt.Errorf("retention.%s: %w", p.name, err)
		}
		*p.to = v
	}
	// The outcomes that close a report: "more_info" leaves it open.
	closing := slices.DeleteFunc(mamori.Outcomes(), func(o string) bool { return o == mamori.OutcomeMoreInfo })
	for o, s := range c.Outcomes {
		if !slices.Contains(closing, o) {
			return r, fmt.Errorf("retention.outcomes: %q is not an outcome that closes a report (%s)", o, strings.Join(closing, ", "))
		}
		v, err := flows.ParsePeriod(s)
		if err != nil {
			return r, fmt.Errorf("retention.outcomes.%s: %w", o, err)
		}
		if r.Outcomes == nil {
			r.Outcomes = map[string]flows.Period{}
		}
		r.Outcomes[o] = v
	}
	if c.Notice != "" {
		v, err := flows.ParsePeriod(c.Notice)
		if err != nil {
			return r, fmt.Errorf("retention.notice: %w", err)
		}
		if v.Never {
			r.Notice = -1
		} else {
			r.Notice = time.Duration(v.Years*365+v.Months*30+v.Days) * 24 * time.Hour
		}
	}
	return r, nil
}

// rowCounter is a store that counts its rows (sqlrow.Tables).
type rowCounter interface {
	Rows(ctx context.Context) (map[string]int, error)
}

// retention runs `mamori retention plan` and `mamori retention run`.
func retention(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	const use = "usage: mamori retention plan [-at DAY] | mamori retention run [-at DAY] [-by NAME]"
	if len(args) == 0 || (args[0] != "plan" && args[0] != "run") {
		return errors.New(use)
	}
	fs := flag.NewFlagSet("retention "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	at := fs.String("at", "", "act as of this day (YYYY-MM-DD, its end) or moment (RFC 3339), for demos and tests; default now")
	by := fs.String("by", "operator", "who runs it, for the audit trail (run)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.New(use)
	}
	cfg, err := loadConfig(getenv("MAMORI_CONFIG"))
	if err != nil {
		return err
	}
	now := time.Now()
	when := now
	if *at != "" {
		if when, err = parseAt(*at, cfg.loc); err != nil {
			return err
		}
	}
	a, err := newApp(ctx, cfg, getenv, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		return err
	}
	defer a.db.Close()
	day := func(t time.Time) string { return t.In(cfg.loc).Format("2006-01-02") }
	if args[0] == "plan" {
		plan, err := a.service.RetentionPlan(ctx, time.Time{})
		if err != nil {
			return err
		}
		due, held := 0, 0
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NUMBER\tKIND\tCLOSED\tRULE\tKEEP\tDUE\tSTATE")
		for _, e := range plan {
			state, dueDay := "", "never"
			if !e.Keep.Never {
				dueDay = day(e.Due)
			}
			switch {
			case e.Hold != nil:
				state = fmt.Sprintf("held since %s by %s", day(e.Hold.At), e.Hold.By)
				if !e.Keep.Never && !e.Due.After(when) {
					held++
				}
			case e.Expired(when):
				state = "due: deleted by the next run"
				due++
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Subject(), e.Kind, day(e.Closed), e.Rule, e.Keep, dueDay, state)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n%d closed and kept; as of %s, %d past their rule (deleted by the next run), %d past it but on legal hold.\n",
			len(plan), day(when), due, held)
		fmt.Fprintln(stdout, "Open cases are not listed: they are kept until they close. Deleted ones are tombstones: number, dates, kind, outcome, department.")
		return printRows(ctx, stdout, a.db)
	}
	rep, err := a.service.Purge(ctx, when, *by)
	if err != nil {
		return err
	}
	for _, e := range rep.Purged {
		fmt.Fprintf(stdout, "deleted %s (%s, closed %s, rule %s: %s, due %s)\n", e.Subject(), e.Kind, day(e.Closed), e.Rule, e.Keep, day(e.Due))
	}
	for _, e := range rep.Held {
		fmt.Fprintf(stdout, "kept %s: on legal hold since %s (due %s)\n", e.Subject(), day(e.Hold.At), day(e.Due))
	}
	// Pruning goes by the real clock: a redelivery is not made older by -at.
	pruned, err := a.service.Prune(ctx, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d deleted, %d kept on legal hold, %d failed (see the log; the next run tries again); pruned %d delivery ids, %d sent messages, %d finished jobs\n",
		len(rep.Purged), len(rep.Held), rep.Failed, pruned.Seen, pruned.Outbox, pruned.Jobs)
	if rep.Failed > 0 {
		return fmt.Errorf("retention run: %d could not be deleted", rep.Failed)
	}
	return printRows(ctx, stdout, a.db)
}

// printRows says how many rows each table holds, where the store counts
// them.
func printRows(ctx context.Context, w io.Writer, db storeDB) error {
	rc, ok := db.(rowCounter)
	if !ok {
		return nil
	}
	n, err := rc.Rows(ctx)
	if err != nil {
		return err
	}
	var parts []string
	for _, t := range []string{"cases", "care_tasks", "audit", "conversations", "seen", "outbox", "jobs", "posted_refs"} {
		parts = append(parts, fmt.Sprintf("%s %d", t, n[t]))
	}
	_, err = fmt.Fprintf(w, "rows: %s\n", strings.Join(parts, ", "))
	return err
}

// parseAt reads -at: a day (its last moment, in the organisation's time
// zone) or an RFC 3339 moment.
func parseAt(s string, loc *time.Location) (time.Time, error) {
	if d, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return d.AddDate(0, 0, 1).Add(-time.Millisecond), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("-at %q: want a day such as 2031-12-01, or a moment such as 2031-12-01T09:00:00+09:00", s)
}

// outboxWaiting counts the messages pending and failed for /metrics:
// through the store's indexes where it has them (Waiting), which a count
// of every status does not use.
func outboxWaiting(ctx context.Context, db storeDB) (map[string]int, error) {
	if w, ok := db.(interface {
		Waiting(context.Context) (map[string]int, error)
	}); ok {
		return w.Waiting(ctx)
	}
	return db.CountOutbox(ctx, "")
}
