package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack/slacktest"
)

// hasJapanese reports whether s holds a kana or a CJK ideograph (or
// Japanese punctuation), and returns the first.
func hasJapanese(s string) (rune, bool) {
	for _, r := range s {
		if unicode.In(r, unicode.Hiragana, unicode.Katakana, unicode.Han) || (r >= 0x3000 && r <= 0x303f) || (r >= 0xff00 && r <= 0xffef) {
			return r, true
		}
	}
	return 0, false
}

// dmQuestion waits until the newest question in user's DM (from the
// from-th message on) is one want accepts, and returns its blocks, its
// step and how many messages the DM holds.
func (r *slackRig) dmQuestion(user string, from int, want func(step string) bool) (blocks, string, int) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		changed := r.api.Changed()
		ms := r.api.Messages("D" + user)
		// Only the newest question counts: older ones are answered.
	newest:
		for i := len(ms) - 1; i >= from; i-- {
			var b blocks
			if json.Unmarshal(ms[i].Blocks, &b) != nil {
				continue
			}
			for _, blk := range b {
				id, _ := blk["block_id"].(string)
				if step := stepOf(id); step != "" {
					if !want(step) {
						break newest
					}
					r.delivered(user)
					return b, step, len(ms)
				}
			}
		}
		if time.Now().After(deadline) {
			var got []string
			for _, m := range ms {
				got = append(got, m.Text)
			}
			r.t.Fatalf("no question in D%s after 10 s; it shows:\n%s", user, strings.Join(got, "\n---\n"))
		}
		select {
		case <-changed:
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestServeSlackEnglish: someone whose Slack is en-US reports through
// `mamori serve`, pausing and coming back by typing, and never sees a
// Japanese character: questions, buttons, notes, the receipt, the care
// resources, and what they hear when the case is taken.
func TestServeSlackEnglish(t *testing.T) {
	t.Parallel()
	r := startServe(t)
	const smith = "U0SMITH"
	r.api.AddUser(slacktest.User{ID: smith, Name: "smith", RealName: "Jo Smith", Email: "smith@example.co.jp", Locale: "en-US"})
	answers := map[string]string{
		"when": "3 December, evening", "narrative": "He shouted at me for half an hour",
		"place": "the Shinjuku store", "customer": "a regular in a blue cap", "demand": "a refund",
		"customer_id": "member no. M-20931",
		"words":       "He said he would get me fired", "colleague": "Suzuki",
	}
	click := func(b blocks, value string) {
		t.Helper()
		r.interact(smith, "D"+smith, b, r.button(b, value), nil)
	}

	r.command(smith, "")
	b, step, seen := r.dmQuestion(smith, 0, func(s string) bool { return s == "menu" })
	click(b, mamori.StartReport)
	last := ""
	paused := false
	for i := 0; ; i++ {
		if i > 40 {
			t.Fatalf("stuck at %s", step)
		}
		b, step, seen = r.dmQuestion(smith, 0, func(s string) bool { return s != "menu" && s != last })
		if step == "summary" {
			break
		}
		last = step
		switch step {
		case "safety":
			click(b, "safe")
		case "for_whom":
			click(b, "self")
		case "department":
			click(b, "store")
		case "behaviours":
			opts := b.options()
			submit, state := b.ticked(t, r.next("1700000200."), opts[1], opts[2])
			r.interact(smith, "D"+smith, b, submit, state)
		case "route":
			click(b, mamori.RouteDepartment)
		case "narrative":
			if !paused {
				// Continue later, typed; then come back with "hi": the
				// question is shown again and "hi" is not the answer.
				paused = true
				r.say(smith, "later")
				n := len(r.api.Messages("D" + smith))
				r.say(smith, "hi")
				r.waitMessage("D"+smith, n, "the question again", func(m slacktest.Message) bool {
					return strings.Contains(m.Text+string(m.Blocks), "Welcome back") && m.HasBlock("")
				})
				r.delivered(smith)
				r.say(smith, answers[step])
				continue
			}
			r.say(smith, answers[step])
		default:
			if a, ok := answers[step]; ok {
				r.say(smith, a)
				continue
			}
			_, elems := b.elements()
			for _, e := range elems {
				if v, _ := e["value"].(string); e["type"] == "button" && v != "" && !strings.HasPrefix(v, "nav:") {
					click(b, v)
					break
				}
			}
		}
	}
	summary, _ := json.Marshal(b)
	if strings.Contains(string(summary), "hi\"") || !strings.Contains(string(summary), answers["narrative"]) {
		t.Errorf("the summary: the returning \"hi\" was kept, or the narrative lost:\n%s", summary)
	}
	click(b, "submit")
	receipt := r.waitMessage("D"+smith, seen, "the case number", func(m slacktest.Message) bool { return caseNumber.MatchString(m.Text + string(m.Blocks)) })
	number := caseNumber.FindString(receipt.Text + string(receipt.Blocks))

	// The supervisor takes it; the reporter hears of it in English.
	card := r.waitMessage("C0STORE", 0, "the card", func(m slacktest.Message) bool { return strings.Contains(m.Text+string(m.Blocks), number) })
	var cb blocks
	if err := json.Unmarshal(card.Blocks, &cb); err != nil {
		t.Fatal(err)
	}
	before := len(r.api.Messages("D" + smith))
	r.interact(supervisor, "C0STORE", cb, r.button(cb, mamori.CardTake+":"+number), nil)
	r.waitMessage("D"+smith, before, "a word that the case was taken", func(m slacktest.Message) bool { return strings.Contains(m.Text+string(m.Blocks), number) })

	// Everything the reporter's DM shows, and every ephemeral message to
	// them, is English.
	for _, m := range r.api.Messages("D" + smith) {
		if testing.Verbose() {
			t.Logf("%s %s\n%s", m.Via, m.Posted.Format("15:04:05.000"), m.Text)
		}
		if c, ok := hasJapanese(m.Text + string(m.Blocks)); ok {
			t.Errorf("the reporter was shown %q in:\n%s\n%s", c, m.Text, m.Blocks)
		}
	}
	for _, c := range r.api.Calls() {
		if c.Get("user") == smith || c.Get("channel") == smith || c.Get("channel") == "D"+smith {
			if ch, ok := hasJapanese(c.Get("text") + c.Get("blocks") + c.Get("view")); ok {
				t.Errorf("%s to the reporter holds %q:\n%s", c.Method, ch, c.Get("text")+c.Get("blocks"))
			}
		}
	}
}

// waitMessage waits for a message in channel, from the from-th on, that
// matches, and returns it.
func (r *slackRig) waitMessage(channel string, from int, what string, match func(slacktest.Message) bool) slacktest.Message {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		changed := r.api.Changed()
		ms := r.api.Messages(channel)
		for i := from; i < len(ms); i++ {
			if match(ms[i]) {
				return ms[i]
			}
		}
		if time.Now().After(deadline) {
			var got []string
			for _, m := range ms[min(from, len(ms)):] {
				got = append(got, m.Text)
			}
			r.t.Fatalf("no message in %s with %s after 10 s; it shows:\n%s", channel, what, strings.Join(got, "\n---\n"))
		}
		select {
		case <-changed:
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// delivered waits until no message to user is left in the outbox: a
// question a test sees in the fake has been posted, but is marked sent a
// moment later, and typed text may only answer a question marked sent
// (a person cannot type in that moment; a test can).
func (r *slackRig) delivered(user string) {
	r.t.Helper()
	waitDelivered(r.t, r.env, mamori.PlatformSlack, user)
}

// waitDelivered waits until no pending outbox item in the store env
// names (SQLite or PostgreSQL) is addressed to platform's user id.
func waitDelivered(t testing.TB, env testEnv, platform, id string) {
	t.Helper()
	if err := delivered(env, platform, id, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// delivered waits up to within until nothing to platform's user id is
// pending in the store env names.
func delivered(env testEnv, platform, id string, within time.Duration) error {
	if env["MAMORI_DB"] == "" {
		return errors.New("delivered: the test's environment names no database")
	}
	db, err := openStore(context.Background(), env.get, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer db.Close()
	to := mamori.Target{Platform: platform, Kind: mamori.TargetUser, ID: id}
	deadline := time.Now().Add(within)
	for {
		var pending bool
		if err := db.View(context.Background(), func(tx mamori.Tx) (err error) {
			pending, err = tx.OutboxPending(to, time.Time{})
			return err
		}); err != nil {
			return err
		}
		if !pending {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("messages to %s still pending after %s", id, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitDrained waits until nothing is pending in the outbox of the store
// env names: what a test checks last was seen on the fake, but the worker
// may still be sending what came with it, and stopping serve now would
// leave that pending.
func waitDrained(t testing.TB, env testEnv) {
	t.Helper()
	db, err := openStore(context.Background(), env.get, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := db.CountOutbox(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		if c[mamori.OutboxPending] == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still pending after 10 s", c[mamori.OutboxPending])
		}
		time.Sleep(5 * time.Millisecond)
	}
}
