package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mamori-oss/mamori"
)

// exported is one case as written by `mamori export`: the case with its
// decrypted answers and decision, and its audit trail.
type exported struct {
	mamori.Case
	Audit []mamori.AuditEntry `json:"audit"`
}

// export writes cases for legal or police use, decrypted, and records who
// exported what in the audit trail.
func export(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	by := fs.String("by", "", "who is exporting, for the audit trail (required)")
	number := fs.String("case", "", "one case number (KH-2026-0001, SD-…, SOS-…)")
	from := fs.String("from", "", "first day, YYYY-MM-DD")
	to := fs.String("to", "", "last day, YYYY-MM-DD")
	format := fs.String("format", "json", "json or csv")
	out := fs.String("o", "", "output file, created readable only by you (default: standard output)")
	lang := fs.String("lang", "ja", "language of the CSV labels: ja or en")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(*by) == "":
		return errors.New("export: -by is required: the audit trail records who exported what")
	case *format != "json" && *format != "csv":
		return fmt.Errorf("export: -format must be json or csv, not %q", *format)
	case *number != "" && (*from != "" || *to != ""):
		return errors.New("export: give -case or a date range (-from, -to), not both")
	}
	cfg, err := loadConfig(getenv("MAMORI_CONFIG"))
	if err != nil {
		return err
	}
	var f mamori.CaseFilter
	for _, d := range []struct {
		s    string
		t    *time.Time
		next bool
	}{{*from, &f.From, false}, {*to, &f.To, true}} {
		if d.s == "" {
			continue
		}
		t, err := time.ParseInLocation("2006-01-02", d.s, cfg.loc)
		if err != nil {
			return fmt.Errorf("export: dates are YYYY-MM-DD: %q", d.s)
		}
		if d.next {
			t = t.AddDate(0, 0, 1) // -to is the last day, included
		}
		*d.t = t
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return fmt.Errorf("export: -to %s is before -from %s", *to, *from)
	}
	db, err := openStore(ctx, getenv, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer db.Close()
	var cases []mamori.Case
	err = db.View(ctx, func(tx mamori.Tx) error {
		if *number != "" {
			k, err := tx.Case(*number)
			cases = []mamori.Case{k}
			return err
		}
		cases, err = tx.Cases(f)
		return err
	})
	if errors.Is(err, mamori.ErrNotFound) {
		return fmt.Errorf("export: no case %s", *number)
	} else if err != nil {
		return err
	}
	records := make([]exported, len(cases))
	for i, k := range cases {
		trail, err := db.AuditTrail(ctx, k.Number)
		if err != nil {
			return err
		}
		records[i] = exported{Case: k, Audit: trail}
	}

	w := stdout
	if *out != "" {
		file, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer file.Close()
		w = file
	}
	if *format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		err = enc.Encode(records)
	} else {
		err = writeCSV(w, records, cfg.policy, mamori.Lang(*lang))
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	// Who exported what, after it was written.
	now := time.Now()
	err = db.Update(ctx, func(tx mamori.Tx) error {
		for _, r := range records {
			if err := tx.Audit(mamori.AuditEntry{At: now, Actor: "cli:" + *by, Action: "case.exported", Subject: r.Number, Detail: "format=" + *format}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("export: recording it in the audit trail: %w", err)
	}
	if *out != "" {
		fmt.Fprintf(stderr, "%d cases written to %s; it holds confidential data: keep it safe\n", len(records), *out)
	}
	return nil
}

// writeCSV writes one row a case. Reports, consultations and SOS share
// the columns, told apart by kind: an SOS (an employee in danger) has no
// report answers or judgement; its place, what the employee typed
// (narrative) and sent (files) during it fill the report's columns, and
// the columns after audit say who acknowledged it, when its alert was
// posted, how far it escalated, when the employee was safe and which
// report followed. A report made from an SOS names it in from_sos.
func writeCSV(w io.Writer, records []exported, p *mamori.Policy, l mamori.Lang) error {
	cw := csv.NewWriter(w)
	t := func(k string) string { return p.T(l, k) }
	header := []string{"number", "kind", "created", "department", "route", "status", "urgency", "suggestion", "possible_crime",
		"reporter", "contact_channel", "behaviours", "when", "place", "customer", "demand", "fault", "narrative", "words",
		"duration", "repeat", "witnesses", "evidence", "files", "consultation", "decision", "validity", "means", "actions",
		"facts", "note", "reason", "decided_by", "decided_at", "history", "questions", "witness_statements", "audit",
		// Added with the SOS (issue 14), after the columns above so
		// that a sheet reading them by position still works.
		"assignee", "taken_at", "from_sos", "sos_alert_posted", "sos_rounds", "sos_safe_at", "sos_report",
		// Added with repeat customers (issue 16): what identifies the
		// customer in the company's systems, as the reporter typed it.
		"customer_ids"}
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, r := range records {
		a := r.Answers
		var behaviours, files, audit []string
		for _, id := range r.Behaviours {
			if b, ok := p.Behaviour(id); ok {
				behaviours = append(behaviours, b.Label.In(l))
			}
		}
		place, narrative, suggestion := a.Place, firstOf(a.Narrative, a.Worry), t("suggest."+r.Suggestion)
		var e mamori.Emergency
		if r.Kind == mamori.KindSOS {
			if r.Decision != nil && r.Decision.Emergency != nil {
				e = *r.Decision.Emergency
			}
			// The policy's suggestion is for judging a report: an SOS
			// has none.
			place, suggestion = e.Place, ""
			var notes []string
			for _, n := range e.Notes {
				notes = append(notes, n.At.Format(time.RFC3339)+" "+n.Text)
			}
			narrative = strings.Join(notes, "\n")
			a.Files = e.Files
		}
		for _, f := range a.Files {
			files = append(files, strings.TrimSpace(f.Name+" "+f.URL))
		}
		for _, e := range r.Audit {
			audit = append(audit, e.At.Format(time.RFC3339)+" "+e.Actor+" "+e.Action+" "+e.Detail)
		}
		var d mamori.Decision
		decided := ""
		var questions, history, statements []string
		if r.Decision != nil {
			d = *r.Decision
			for _, h := range d.History {
				history = append(history, h.At.Format(time.RFC3339)+" "+h.By+": "+decisionLabel(p, h.Outcome, l)+"\n"+
					h.Reopened.Format(time.RFC3339)+" reopened by "+h.ReopenedBy+": "+h.Reason)
			}
			for _, w := range d.Witnesses {
				line := w.Asked.Format(time.RFC3339) + " asked of " + w.User.Key() + " by " + w.By + ": " + w.Question
				if !w.Given.IsZero() {
					line += "\n" + w.Given.Format(time.RFC3339) + " statement: " + w.Statement
				}
				statements = append(statements, line)
			}
			for _, q := range d.Questions {
				line := q.At.Format(time.RFC3339) + " Q " + q.By + ": " + q.Text
				if !q.Answered.IsZero() {
					line += "\n" + q.Answered.Format(time.RFC3339) + " A: " + q.Answer
				}
				questions = append(questions, line)
			}
		}
		if r.Decision.Decided() {
			decided = d.At.Format(time.RFC3339)
		}
		var actions []string
		for _, id := range d.Actions {
			actions = append(actions, mamori.Label(p.Actions, id, l))
		}
		rounds := ""
		if r.Kind == mamori.KindSOS {
			rounds = strconv.Itoa(e.Rounds)
		}
		row := []string{r.Number, r.Kind, r.Created.Format(time.RFC3339), r.Department, r.Route, t("status." + r.Status),
			t("urgency." + r.Urgency), suggestion, fmt.Sprint(r.Crime), reporterKey(r.Reporter),
			mamori.Label(p.Channels, a.Channel, l), strings.Join(behaviours, "; "), a.When, place, a.Customer, a.Demand,
			a.Fault, narrative, a.Words, a.Duration, a.Repeat, a.Witnesses, a.Evidence,
			strings.Join(files, "; "), a.FromConsultation, decisionLabel(p, d.Outcome, l), d.Validity, d.Means,
			strings.Join(actions, "; "), d.Facts, d.Note, d.Reason, d.By, decided, strings.Join(history, "\n"), strings.Join(questions, "\n"),
			strings.Join(statements, "\n"), strings.Join(audit, "\n"),
			r.Assignee, rfc3339(r.Taken), a.FromSOS, rfc3339(e.Posted), rounds, rfc3339(e.Safe), e.Report, a.CustomerIDs}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func decisionLabel(p *mamori.Policy, outcome string, l mamori.Lang) string {
	if outcome == "" {
		return ""
	}
	return p.T(l, "decision."+outcome)
}

// rfc3339 is t for a CSV cell, empty when it never happened.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// reporterKey is the reporter's user key, or nothing for a case whose
// content retention has deleted.
func reporterKey(u mamori.User) string {
	if u.ID == "" {
		return ""
	}
	return u.Key()
}
