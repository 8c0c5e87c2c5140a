package flows

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mamori-oss/mamori"
)

var testNow = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func testOrg() *mamori.Org {
	return &mamori.Org{
		HRChannel: "C0HR", HR: []string{"UHR"},
		Departments: []mamori.Department{
			{ID: "store", Name: mamori.Text{JA: "店舗運営部", EN: "Store operations"}, SupervisorChannel: "C0STORE",
				Supervisors: []string{"USUP", "boss@example.com"}, Members: []string{"UME", "me@example.com"}},
			{ID: "support", Name: mamori.Text{JA: "サポート部", EN: "Support"}, SupervisorChannel: "C0SUP",
				Supervisors: []string{"USUP2"}, Members: []string{"UYAMADA"}},
			{ID: "nosup", Name: mamori.Text{JA: "監督者なし", EN: "No supervisors"}, SupervisorChannel: "C0NOSUP",
				Members: []string{"ULONE"}},
		},
	}
}

// MustPolicy loads a preset or fails the test.
func MustPolicy(tb testing.TB, name string) *mamori.Policy {
	tb.Helper()
	p, err := mamori.Preset(name)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// driver plays a user through Step and keeps the state, as a host would.
type driver struct {
	t    *testing.T
	env  Env
	user mamori.User
	c    mamori.Conversation
	out  Out
	all  []Out
}

func newDriver(t *testing.T, user string, l mamori.Lang) *driver {
	t.Helper()
	return &driver{t: t, env: Env{Policy: MustPolicy(t, "mhlw-2022"), Org: testOrg(), Now: testNow},
		user: mamori.User{Platform: mamori.PlatformSlack, ID: user, Lang: l}}
}

// reportAt is a driver whose report, started as user, is at step.
func reportAt(t *testing.T, user string, l mamori.Lang, step string) *driver {
	t.Helper()
	d := newDriver(t, user, l)
	d.start(mamori.StartReport)
	for d.c.Step != step {
		d.answerOne()
	}
	return d
}

func (d *driver) do(in mamori.Input) Out {
	d.t.Helper()
	in.User = d.user
	d.c, d.out = Step(d.env, d.c, in)
	d.all = append(d.all, d.out)
	// Every step is answered: by its replies, a submit, an end, or the
	// messages of the SOS it raises (the host's).
	if len(d.out.Replies) == 0 && d.out.Submit == "" && !d.out.End && (d.out.SOS == nil || !d.out.SOS.Raise) {
		d.t.Fatalf("step %q: no reply to %+v", d.c.Step, in)
	}
	for _, m := range d.out.Replies {
		checkTexts(d.t, m)
	}
	return d.out
}

func (d *driver) start(v string) Out { return d.do(mamori.Input{Kind: mamori.InputStart, Value: v}) }
func (d *driver) choose(v string) Out {
	return d.do(mamori.Input{Kind: mamori.InputChoice, Step: d.c.Step, Value: v})
}
func (d *driver) say(s string) Out { return d.do(mamori.Input{Kind: mamori.InputText, Text: s}) }
func (d *driver) multi(vs ...string) Out {
	return d.do(mamori.Input{Kind: mamori.InputMulti, Step: d.c.Step, Values: vs})
}

// expect fails unless the conversation is at step.
func (d *driver) expect(step string) {
	d.t.Helper()
	if d.c.Step != step {
		d.t.Fatalf("at step %q, want %q (last replies: %s)", d.c.Step, step, texts(d.out))
	}
}

func texts(o Out) string {
	var b strings.Builder
	for _, m := range o.Replies {
		b.WriteString(m.Header + " " + m.Text + " | ")
	}
	return b.String()
}

// checkTexts fails on a text key that was not found (T returns the key).
func checkTexts(t *testing.T, m mamori.Message) {
	t.Helper()
	all := []string{m.Header, m.Text, m.Prompt, m.Note}
	for _, c := range append(append(m.Choices, m.Controls...), mamori.Choice{}) {
		all = append(all, c.Label)
	}
	for _, f := range m.Fields {
		all = append(all, f.Label, f.Value)
	}
	for _, s := range all {
		if s != "" && !strings.ContainsAny(s, " 　。、（）") && strings.Count(s, ".") >= 1 && strings.ToLower(s) == s && !strings.Contains(s, "@") {
			t.Errorf("text looks like a missing key: %q", s)
		}
		if strings.Contains(s, "%!") {
			t.Errorf("bad format in text: %q", s)
		}
	}
}

// answerAll walks a report from safety to the summary with plain answers.
func (d *driver) answerAll() {
	d.t.Helper()
	steps := map[string]func(){
		stepSafety:     func() { d.choose("safe") },
		stepForWhom:    func() { d.choose("self") },
		stepColleague:  func() { d.say("田中さん") },
		stepDepartment: func() { d.choose("store") },
		stepWhen:       func() { d.choose("today") },
		stepChannel:    func() { d.choose("phone") },
		stepPlace:      func() { d.say("本店") },
		stepCustomer:   func() { d.say("山田様") },
		stepCustomerID: func() { d.choose(navSkip) },
		stepDemand:     func() { d.say("全額返金") },
		stepFault:      func() { d.choose("no") },
		stepBehaviours: func() { d.multi("verbal_attack", "dogeza") },
		stepNarrative:  func() { d.say("電話で1時間怒鳴られた") },
		stepWords:      func() { d.say("土下座しろ") },
		stepDuration:   func() { d.choose("over60") },
		stepRepeat:     func() { d.choose("before") },
		stepWitnesses:  func() { d.choose(navSkip) },
		stepEvidence:   func() { d.choose("recording") },
		stepWellbeing:  func() { d.choose("hard") },
		stepTalk:       func() { d.choose("no") },
		stepRoute:      func() { d.choose(mamori.RouteDepartment) },
	}
	for i := 0; d.c.Step != stepSummary; i++ {
		f, ok := steps[d.c.Step]
		if !ok || i > 40 {
			d.t.Fatalf("stuck at step %q", d.c.Step)
		}
		f()
	}
}

func TestReportHappyPath(t *testing.T) {
	for _, l := range []mamori.Lang{mamori.JA, mamori.EN} {
		t.Run(string(l), func(t *testing.T) {
			d := newDriver(t, "UME", l)
			d.start("")
			d.expect(stepMenu)
			if got := d.out.Replies[0].Choices; len(got) != 6 || got[4].Value != mamori.StartSOS || got[5].Value != mamori.StartCheck {
				t.Fatalf("menu has %d choices, want report, consult, policy, on the spot, SOS, check a customer", len(got))
			}
			d.choose(mamori.StartReport)
			d.expect(stepSafety) // safety first
			d.answerAll()
			want := mamori.Answers{Safety: "safe", ForWhom: "self", When: "2026-11-20", Channel: "phone", Place: "本店",
				Customer: "山田様", Demand: "全額返金", Fault: "no", Behaviours: []string{"verbal_attack", "dogeza"},
				Narrative: "電話で1時間怒鳴られた", Words: "土下座しろ", Duration: "over60", Repeat: "before",
				Evidence: "recording", Wellbeing: "hard", Talk: "no", Route: mamori.RouteDepartment}
			if diff := cmp.Diff(want, d.c.Answers); diff != "" {
				t.Fatalf("answers (-want +got):\n%s", diff)
			}
			sum := d.out.Replies[0]
			if len(sum.Fields) < 15 || sum.Choices[0].Value != "submit" {
				t.Fatalf("summary: %+v", sum)
			}
			if d.choose("submit"); d.out.Submit != mamori.KindReport {
				t.Fatalf("submit: %+v", d.out)
			}
		})
	}
}

func TestOneQuestionAtATime(t *testing.T) {
	d := newDriver(t, "UME", mamori.JA)
	d.start(mamori.StartReport)
	seen := map[string]bool{}
	for d.c.Step != stepSummary {
		if seen[d.c.Step] {
			t.Fatalf("step %q asked twice", d.c.Step)
		}
		seen[d.c.Step] = true
		var questions int
		for _, m := range d.out.Replies {
			if m.Step != "" {
				questions++
			}
		}
		if questions != 1 {
			t.Fatalf("step %q: %d questions at once", d.c.Step, questions)
		}
		d.answerOne()
	}
	// The directory knows UME's department, so it is not asked; the
	// colleague's name is not asked of someone reporting for themself.
	for _, s := range []string{stepDepartment, stepColleague} {
		if seen[s] {
			t.Errorf("%s asked, should not be", s)
		}
	}
}

func (d *driver) answerOne() {
	d.t.Helper()
	q, _ := lookup(d.c.Step)
	switch {
	case q.kind == kMulti:
		d.multi()
	case q.kind == kText:
		d.say("テキスト")
	default:
		d.choose(q.options(d.env, mamori.JA)[0].Value)
	}
}

func TestSafetyAlert(t *testing.T) {
	for _, answer := range []string{"danger", "injured"} {
		t.Run(answer, func(t *testing.T) {
			d := newDriver(t, "UME", mamori.JA)
			d.start(mamori.StartReport)
			out := d.choose(answer)
			if out.SOS == nil || !out.SOS.Raise || out.SOS.Safety != answer || !out.SOS.InReport || out.Audit != "safety.alert" {
				t.Fatalf("no SOS: %+v", out)
			}
			d.expect(stepForWhom) // the report goes on
			// Going back and answering again does not alert twice.
			d.choose(navBack)
			d.expect(stepSafety)
			if out := d.choose(answer); out.SOS != nil {
				t.Fatal("alerted twice")
			}
		})
	}
	d := newDriver(t, "UME", mamori.JA)
	d.start(mamori.StartReport)
	if out := d.choose("safe"); out.SOS != nil {
		t.Fatal("alert for someone safe")
	}
}

func TestNavigation(t *testing.T) {
	t.Run("back", func(t *testing.T) {
		d := newDriver(t, "UME", mamori.JA)
		d.start(mamori.StartReport)
		d.choose("safe")
		d.choose("self")
		d.expect(stepWhen)
		d.say("戻る")
		d.expect(stepForWhom)
		if note := d.out.Replies[0].Note; !strings.Contains(note, "自分のこと") {
			t.Fatalf("the earlier answer is not shown: %q", note)
		}
		d.choose(navKeep)
		d.expect(stepWhen)
		if d.c.Answers.ForWhom != "self" {
			t.Fatal("keep lost the answer")
		}
	})
	t.Run("back at first question", func(t *testing.T) {
		d := newDriver(t, "UME", mamori.JA)
		d.start(mamori.StartReport)
		d.do(mamori.Input{Kind: mamori.InputChoice, Step: stepSafety, Value: navBack})
		d.expect(stepSafety)
	})
	t.Run("cancel asks first", func(t *testing.T) {
		d := newDriver(t, "UME", mamori.EN)
		d.start(mamori.StartReport)
		d.choose("safe")
		d.choose(navCancel)
		d.expect(stepCancel)
		d.choose("no")
		d.expect(stepForWhom)
		if d.c.Answers.Safety != "safe" {
			t.Fatal("cancel-then-continue lost an answer")
		}
		d.say("cancel")
		d.expect(stepCancel)
		if out := d.choose("yes"); !out.End || out.Audit != "conversation.cancelled" {
			t.Fatalf("cancel: %+v", out)
		}
	})
	t.Run("later and resume", func(t *testing.T) {
		d := newDriver(t, "UME", mamori.JA)
		d.start(mamori.StartReport)
		d.choose("safe")
		d.say("あとで")
		if !d.out.Paused || !d.c.Paused {
			t.Fatalf("not paused: %+v", d.out)
		}
		// A click on an older message after a pause brings the question back.
		d.do(mamori.Input{Kind: mamori.InputChoice, Step: "menu", Value: "x"})
		d.expect(stepForWhom)
		if d.c.Answers.ForWhom != "" || d.c.Paused {
			t.Fatal("click taken as an answer")
		}
		// The slash command shows the waiting question at once.
		d.start("")
		d.expect(stepForWhom)
		if r := d.out.Replies; len(r) != 2 || !strings.Contains(r[0].Text, "書きかけ") || r[1].Step != stepForWhom {
			t.Fatalf("resume: %s", texts(d.out))
		}
		// A click on the waiting question's own button after a pause answers it.
		d.say("あとで")
		d.choose("self")
		if d.c.Answers.ForWhom != "self" || d.c.Paused {
			t.Fatalf("click on the shown question lost: %+v", d.c)
		}
	})
	t.Run("the reminder's buttons", func(t *testing.T) {
		d := newDriver(t, "UME", mamori.JA)
		d.start(mamori.StartReport)
		d.choose("safe")
		// What the reminder job does to the state.
		d.c.History = append(d.c.History, d.c.Step)
		d.c.Step = stepResume
		d.choose("continue")
		d.expect(stepForWhom)
		d.c.History = append(d.c.History, d.c.Step)
		d.c.Step = stepResume
		d.choose("delete")
		d.expect(stepCancel)
		d.choose("no")
		d.expect(stepForWhom)
		d.c.History = append(d.c.History, d.c.Step)
		d.c.Step = stepResume
		d.choose("delete")
		if out := d.choose("yes"); !out.End {
			t.Fatalf("delete: %+v", out)
		}
	})
	t.Run("stale click", func(t *testing.T) {
		d := newDriver(t, "UME", mamori.JA)
		d.start(mamori.StartReport)
		d.choose("safe")
		d.choose("self")
		d.do(mamori.Input{Kind: mamori.InputChoice, Step: stepForWhom, Value: "colleague"})
		if !d.out.Stale || d.c.Answers.ForWhom != "self" {
			t.Fatal("a stale click changed the answer")
		}
		d.expect(stepWhen) // (a late "I feel in danger" raises the alarm: TestLateDangerButton)
	})
	t.Run("edit from summary", func(t *testing.T) {
		d := newDriver(t, "UME", mamori.JA)
		d.start(mamori.StartReport)
		d.answerAll()
		d.choose("edit")
		d.expect(stepEdit)
		d.choose(stepCustomer)
		d.expect(stepCustomer)
		d.say("佐藤様")
		d.expect(stepSummary)
		if d.c.Answers.Customer != "佐藤様" || d.c.Answers.Narrative == "" {
			t.Fatalf("edit: %+v", d.c.Answers)
		}
		// Editing "for whom" to a colleague asks the colleague's name
		// before going back to the summary.
		d.choose("edit")
		d.choose(stepForWhom)
		d.choose("colleague")
		d.expect(stepColleague)
		d.say("田中さん")
		d.expect(stepSummary)
	})
	t.Run("wrong kind of answer", func(t *testing.T) {
		d := newDriver(t, "UME", mamori.JA)
		d.start(mamori.StartReport)
		d.say("えっと")
		d.expect(stepSafety)
		if !strings.Contains(d.out.Replies[0].Text, "⚠️") {
			t.Fatalf("no explanation: %q", d.out.Replies[0].Text)
		}
		d.say("1") // a typed option number works
		d.expect(stepForWhom)
		d.choose("self")
		d.choose("today")
		d.say("電話で怒鳴られた")
		d.choose("phone")
		d.expect(stepPlace)
		d.say(strings.Repeat("あ", MaxText+1))
		d.expect(stepPlace)
		if !strings.Contains(d.out.Replies[0].Text, "4000") {
			t.Fatalf("too long not explained: %q", d.out.Replies[0].Text)
		}
		d.choose(navSkip)
		d.expect(stepCustomer)
	})
	t.Run("typed behaviours", func(t *testing.T) {
		d := reportAt(t, "UME", mamori.JA, stepBehaviours)
		d.say("２，４") // full-width digits and comma
		d.expect(stepWords)
		if diff := cmp.Diff([]string{"verbal_attack", "dogeza"}, d.c.Answers.Behaviours); diff != "" {
			t.Fatal(diff)
		}
	})
	t.Run("unknown behaviour ids are dropped", func(t *testing.T) {
		d := reportAt(t, "UME", mamori.JA, stepBehaviours)
		d.multi("dogeza", "made_up", "dogeza")
		if diff := cmp.Diff([]string{"dogeza"}, d.c.Answers.Behaviours); diff != "" {
			t.Fatal(diff)
		}
	})
}

// TestComingBackKeepsWords (found by a user trial): words typed on
// coming back after "continue later", or at the reminder, are offered
// as the answer to the question brought back, not dropped; words of
// coming back ("すみません、さっきの続きです", "sorry, I'm back") are no
// answer, whenever they come.
func TestComingBackKeepsWords(t *testing.T) {
	const account = "レジで30分以上怒鳴られ、商品を投げつけられました。"
	for _, how := range []string{"paused", "reminded"} {
		t.Run(how, func(t *testing.T) {
			d := reportAt(t, "UME", mamori.JA, stepNarrative)
			if how == "paused" {
				d.choose(navLater)
			} else { // what the reminder job does to the state
				d.c.History = append(d.c.History, d.c.Step)
				d.c.Step = stepResume
			}
			d.say(account)
			d.expect(stepNarrative)
			last := d.out.Replies[len(d.out.Replies)-1]
			if d.c.Answers.Narrative != "" || len(last.Choices) == 0 || last.Choices[0].Value != navDraft || !strings.Contains(last.Note, "30分") {
				t.Fatalf("the words on coming back: %+v, %s", d.c.Answers, texts(d.out))
			}
			// More sent before choosing (found by a review): added to it.
			d.say("商品も投げつけられました。")
			if d.c.Answers.Narrative != "" || d.c.Step != stepNarrative || d.c.Draft != account+"\n商品も投げつけられました。" {
				t.Fatalf("more words: %+v", d.c)
			}
			d.choose(navDraft)
			if d.c.Answers.Narrative != account+"\n商品も投げつけられました。" {
				t.Fatalf("the words used as the answer: %q", d.c.Answers.Narrative)
			}
		})
	}
	for _, words := range []string{"すみません、さっきの続きです", "お待たせしました。続きです", "Sorry, I'm back", "sorry i am back!", "はい", "yes"} {
		d := reportAt(t, "UME", mamori.JA, stepNarrative)
		d.say(words) // half an hour later, no pause
		if d.c.Answers.Narrative != "" || d.c.Step != stepNarrative || d.c.Draft != "" {
			t.Errorf("%q taken as the account: %+v", words, d.c)
		}
	}
}

func TestNothingTypedIsLost(t *testing.T) {
	t.Run("after a pause", func(t *testing.T) {
		d := reportAt(t, "UME", mamori.JA, stepNarrative)
		d.choose(navLater)
		// The message sent on coming back is a greeting, not the answer:
		// the waiting question is shown again.
		d.say("すみません、続きをお願いします")
		if d.c.Answers.Narrative != "" || d.c.Paused {
			t.Fatalf("returning message stored as an answer: %+v", d.c.Answers)
		}
		d.expect(stepNarrative)
		if !strings.Contains(texts(d.out), "おかえり") || d.out.Replies[len(d.out.Replies)-1].Step != stepNarrative {
			t.Errorf("no welcome back with the question: %s", texts(d.out))
		}
		d.say("大声で怒鳴られた")
		if d.c.Answers.Narrative != "大声で怒鳴られた" {
			t.Fatalf("answer to the shown question lost: %+v", d.c.Answers)
		}
		d.expect(stepChannel)
	})
	t.Run("hours later, without a pause", func(t *testing.T) {
		d := reportAt(t, "UME", mamori.JA, stepNarrative)
		d.env.Now = d.env.Now.Add(5 * time.Hour)
		d.say("こんにちは")
		d.expect(stepNarrative)
		if d.c.Answers.Narrative != "" || d.c.Draft != "こんにちは" {
			t.Fatalf("text after a silence filed at once: %+v", d.c)
		}
		q := d.out.Replies[len(d.out.Replies)-1]
		if q.Step != stepNarrative || q.Choices[0].Value != navDraft || !strings.Contains(q.Text, "答えにしますか") {
			t.Fatalf("the question with the offer: %+v", q)
		}
		// Sending the real answer instead keeps it.
		d.say("大声で怒鳴られた")
		if d.c.Answers.Narrative != "大声で怒鳴られた" || d.c.Draft != "" {
			t.Fatalf("answer after the offer: %+v", d.c)
		}
		// Or the draft, with one click.
		for d.c.Step != stepWords {
			d.answerOne()
		}
		d.env.Now = d.env.Now.Add(25 * time.Hour)
		d.say("「辞めさせてやる」")
		d.choose(navDraft)
		if d.c.Answers.Words != "「辞めさせてやる」" {
			t.Fatalf("draft not kept: %+v", d.c.Answers)
		}
		d.expect(stepDuration)
		// A typed option number after a silence is an answer as it is.
		d.env.Now = d.env.Now.Add(3 * time.Hour)
		d.say("1")
		if d.c.Answers.Duration != "under10" {
			t.Fatalf("typed option: %+v", d.c.Answers)
		}
	})
	t.Run("after the reminder", func(t *testing.T) {
		d := reportAt(t, "UME", mamori.EN, stepWhen)
		d.c.History = append(d.c.History, d.c.Step)
		d.c.Step = stepResume
		d.say("hi")
		d.expect(stepWhen)
		if d.c.Answers.When != "" {
			t.Fatalf("hi stored as an answer: %+v", d.c.Answers)
		}
	})
	t.Run("home button inside a flow shows the waiting question", func(t *testing.T) {
		d := newDriver(t, "UME", mamori.JA)
		d.start(mamori.StartReport)
		d.choose("safe")
		d.do(mamori.Input{Kind: mamori.InputChoice, Step: stepMenu, Value: mamori.StartReport})
		d.expect(stepForWhom)
		if d.out.Stale {
			t.Fatal("home button treated as stale")
		}
		d.choose("self")
		d.expect(stepWhen)
	})
	t.Run("a question not yet shown", func(t *testing.T) {
		d := reportAt(t, "UME", mamori.JA, stepNarrative)
		d.env.Unshown = true
		d.say("まだですか？")
		if d.c.Answers.Narrative != "" || !strings.Contains(texts(d.out), "回答にしていません") {
			t.Fatalf("typed text at an unseen question: %+v / %s", d.c.Answers, texts(d.out))
		}
		d.expect(stepNarrative)
		d.do(mamori.Input{Kind: mamori.InputFile, Files: []mamori.File{{ID: "F1", Name: "a.jpg"}}})
		if len(d.c.Answers.Files) != 1 {
			t.Fatal("file lost")
		}
		d.env.Unshown = false
		d.say("大声で怒鳴られた")
		if d.c.Answers.Narrative != "大声で怒鳴られた" {
			t.Fatalf("answer lost: %+v", d.c.Answers)
		}
	})
	t.Run("more sent before the next question arrives", func(t *testing.T) {
		// Found by a user trial: 「あ、西口店のほうです」 sent right after
		// the place was dropped. It goes with that answer; after a
		// button's answer, with the account.
		d := reportAt(t, "UME", mamori.JA, stepCustomer)
		place := d.c.Answers.Place
		d.env.Unshown = true
		d.say("あ、西口店のほうです")
		if d.c.Answers.Place != place+"\n"+"あ、西口店のほうです" || !strings.Contains(texts(d.out), "場所") {
			t.Errorf("more of the place: %q / %s", d.c.Answers.Place, texts(d.out))
		}
		d.expect(stepCustomer)
		d = reportAt(t, "UME", mamori.JA, stepPlace)
		d.env.Unshown = true
		d.say("そういえば商品も投げられました")
		if !strings.HasSuffix(d.c.Answers.Narrative, "そういえば商品も投げられました") || d.c.Answers.Place != "" {
			t.Errorf("after a button: %+v", d.c.Answers)
		}
		// After how they feel: with their feelings, HR's alone (found by
		// a review: it went into the account).
		d = reportAt(t, "UME", mamori.JA, stepTalk)
		account := d.c.Answers.Narrative
		d.env.Unshown = true
		d.say("正直かなりつらくて夜も眠れていません")
		if d.c.Answers.Narrative != account || !strings.Contains(d.c.Answers.Feelings, "眠れていません") {
			t.Errorf("after how they feel: %+v", d.c.Answers)
		}
	})
	t.Run("the same words sent twice are kept once", func(t *testing.T) {
		d := reportAt(t, "UME", mamori.JA, stepPlace)
		d.env.Unshown = true
		d.say("そういえば商品も投げられました")
		d.say("そういえば商品も投げられました") // the send looked slow
		if n := strings.Count(d.c.Answers.Narrative, "商品も投げられました"); n != 1 {
			t.Errorf("kept %d times: %q", n, d.c.Answers.Narrative)
		}
	})
	t.Run("a required question cannot be skipped", func(t *testing.T) {
		d := reportAt(t, "UME", mamori.JA, stepNarrative)
		d.say("スキップ")
		d.expect(stepNarrative)
		if d.c.Answers.Narrative != "" {
			t.Fatalf("skip saved as the narrative: %q", d.c.Answers.Narrative)
		}
	})
	t.Run("a stale click is flagged", func(t *testing.T) {
		d := newDriver(t, "UME", mamori.JA)
		d.start(mamori.StartReport)
		d.choose("safe")
		if out := d.do(mamori.Input{Kind: mamori.InputChoice, Step: stepSafety, Value: "safe"}); !out.Stale {
			t.Fatal("not flagged stale")
		}
	})
	t.Run("editing the department asks where it goes", func(t *testing.T) {
		d := newDriver(t, "UNEW", mamori.JA)
		d.start(mamori.StartReport)
		d.choose("safe")
		d.choose("self")
		d.choose("unknown")
		d.answerAll()
		if d.c.Answers.Route != "" {
			t.Fatal("route asked with no department")
		}
		d.choose("edit")
		d.choose(stepDepartment)
		d.choose("store")
		d.expect(stepRoute)
		d.choose(mamori.RouteHR)
		d.expect(stepSummary)
		if k := BuildCase(d.env, d.c, "KH-2026-0001"); k.Route != mamori.RouteHR {
			t.Fatalf("route: %+v", k)
		}
	})
}

func TestFiles(t *testing.T) {
	d := newDriver(t, "UME", mamori.JA)
	d.do(mamori.Input{Kind: mamori.InputFile, Files: []mamori.File{{ID: "F1", Name: "a.jpg"}}})
	d.expect(stepMenu) // outside a report: explained, not kept
	d.start(mamori.StartReport)
	d.choose("safe")
	d.do(mamori.Input{Kind: mamori.InputFile, Files: []mamori.File{{ID: "F1", Name: "a.jpg"}}})
	d.expect(stepForWhom)
	d.do(mamori.Input{Kind: mamori.InputFile, Text: "1", Files: []mamori.File{{ID: "F2", Name: "b.m4a"}}})
	d.expect(stepWhen) // text sent with the file answers the question
	if len(d.c.Answers.Files) != 2 {
		t.Fatalf("files: %+v", d.c.Answers.Files)
	}
}

func TestProxyReportAndDepartments(t *testing.T) {
	t.Run("for a colleague", func(t *testing.T) {
		d := newDriver(t, "UME", mamori.JA)
		d.start(mamori.StartReport)
		d.choose("safe")
		d.choose("colleague")
		d.expect(stepColleague)
		d.say("田中さん")
		d.expect(stepWhen)
		if d.c.Answers.Colleague != "田中さん" {
			t.Fatal("colleague not kept")
		}
	})
	t.Run("unknown department is asked", func(t *testing.T) {
		d := newDriver(t, "UNEW", mamori.JA)
		d.start(mamori.StartReport)
		d.choose("safe")
		d.choose("self")
		d.expect(stepDepartment)
		d.choose("support")
		d.expect(stepWhen)
		d.answerAll()
		k := BuildCase(d.env, d.c, "KH-2026-0001")
		if k.Department != "support" || k.Channel != "C0SUP" || k.Route != mamori.RouteDepartment {
			t.Fatalf("case: %+v", k)
		}
	})
	t.Run("department by email", func(t *testing.T) {
		d := newDriver(t, "UOTHER", mamori.JA)
		d.user.Email = "Me@Example.com"
		d.start(mamori.StartReport)
		d.answerAll()
		if k := BuildCase(d.env, d.c, "KH-2026-0001"); k.Department != "store" {
			t.Fatalf("department: %q", k.Department)
		}
	})
	t.Run("not listed goes to HR", func(t *testing.T) {
		d := newDriver(t, "UNEW", mamori.JA)
		d.start(mamori.StartReport)
		d.choose("safe")
		d.choose("self")
		d.choose("unknown")
		d.answerAll()
		k := BuildCase(d.env, d.c, "KH-2026-0001")
		if k.Route != mamori.RouteHR || k.Channel != "C0HR" {
			t.Fatalf("case: %+v", k)
		}
	})
}

func TestAlternateRoute(t *testing.T) {
	tests := []struct {
		name  string
		user  string
		setup func(d *driver)
		route string
		chan_ string
	}{
		{"supervisors", "UME", func(d *driver) {}, mamori.RouteDepartment, "C0STORE"},
		{"reporter asks for HR", "UME", func(d *driver) { d.c.Answers.Route = mamori.RouteHR }, mamori.RouteHR, "C0HR"},
		{"supervisor named", "UME", func(d *driver) { d.c.Answers.Narrative = "上司の <@USUP> も同席して怒鳴った" }, mamori.RouteHR, "C0HR"},
		{"supervisor named by email", "UME", func(d *driver) { d.c.Answers.Witnesses = "boss@example.com" }, mamori.RouteHR, "C0HR"},
		{"no supervisors", "ULONE", func(d *driver) {}, mamori.RouteHR, "C0HR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDriver(t, tt.user, mamori.JA)
			d.start(mamori.StartReport)
			d.answerAll()
			tt.setup(d)
			k := BuildCase(d.env, d.c, "KH-2026-0001")
			if k.Route != tt.route || k.Channel != tt.chan_ {
				t.Fatalf("route %q to %q, want %q to %q", k.Route, k.Channel, tt.route, tt.chan_)
			}
			card := Card(d.env, k, mamori.JA, nil)
			if card.Text != d.env.Policy.T(mamori.JA, "card.next."+tt.route) {
				t.Fatalf("card does not say where it went: %q", card.Text)
			}
		})
	}
	// With no supervisors, the route question is not asked at all.
	d := newDriver(t, "ULONE", mamori.JA)
	d.start(mamori.StartReport)
	for d.c.Step != stepSummary {
		if d.c.Step == stepRoute {
			t.Fatal("route asked with no supervisors")
		}
		d.answerOne()
	}
}

func TestConsultation(t *testing.T) {
	d := newDriver(t, "UME", mamori.JA)
	d.start("")
	d.choose(mamori.StartConsult)
	d.expect(stepWorry)
	d.say("毎週来るお客様の言い方がきついのですが、カスハラでしょうか")
	d.expect(stepContact)
	d.choose("yes")
	d.expect(stepCSummary)
	if out := d.choose("submit"); out.Submit != mamori.KindConsult {
		t.Fatalf("submit: %+v", out)
	}
	k := BuildCase(d.env, d.c, "SD-2026-0001")
	if k.Kind != mamori.KindConsult || k.Route != mamori.RouteHR || k.Channel != "C0HR" {
		t.Fatalf("consultation: %+v", k)
	}
	card := Card(d.env, k, mamori.JA, nil)
	for _, f := range card.Fields {
		if strings.Contains(f.Value, "カスハラでしょうか") {
			t.Fatal("consultation text on the card")
		}
	}
	sub := Submitted(d.env, k, mamori.JA)
	if sub[0].Choices[0].Value != "from:SD-2026-0001" {
		t.Fatalf("no way to turn it into a report: %+v", sub[0])
	}

	// Later it becomes a report without retyping.
	r := newDriver(t, "UME", mamori.JA)
	r.env.Consultation = &k
	r.do(mamori.Input{Kind: mamori.InputChoice, Step: stepDone, Value: "from:SD-2026-0001"})
	r.expect(stepSafety)
	if r.c.Answers.Narrative != k.Answers.Worry || r.c.Answers.FromConsultation != "SD-2026-0001" {
		t.Fatalf("not carried over: %+v", r.c.Answers)
	}
	// Someone else's consultation cannot be used.
	o := newDriver(t, "UYAMADA", mamori.JA)
	o.env.Consultation = &k
	o.do(mamori.Input{Kind: mamori.InputChoice, Step: stepDone, Value: "from:SD-2026-0001"})
	if o.c.Flow != "" {
		t.Fatal("someone else's consultation became their report")
	}
}

func TestPolicyAndMenu(t *testing.T) {
	for _, name := range mamori.Presets() {
		for _, l := range []mamori.Lang{mamori.JA, mamori.EN} {
			d := newDriver(t, "UME", l)
			d.env.Policy = MustPolicy(t, name)
			d.start(mamori.StartPolicy)
			m := d.out.Replies[0]
			for _, b := range d.env.Policy.Behaviours {
				if !strings.Contains(m.Text, b.Label.In(l)) {
					t.Errorf("%s/%s: policy text misses %q", name, l, b.Label.In(l))
				}
			}
			if d.out.Replies[1].Step != stepMenu {
				t.Errorf("no menu after the policy")
			}
		}
	}
	d := newDriver(t, "UME", mamori.JA)
	d.say("こんにちは")
	d.expect(stepMenu)
	d.say("えっと")
	d.expect(stepMenu) // a word at the menu shows the menu again
	d.say("報告したい")
	d.expect(stepSafety) // a plain way of asking to report starts it (a user trial)
	d = newDriver(t, "UME", mamori.JA)
	d.say("相談したいです")
	d.expect(stepWorry)
}

func TestSuggestions(t *testing.T) {
	for _, name := range []string{"mhlw-2022", "seed-000", "seed-004"} {
		p := MustPolicy(t, name)
		for _, b := range p.Behaviours {
			t.Run(name+"/"+b.ID, func(t *testing.T) {
				s, crime := Suggest(p, mamori.Answers{Behaviours: []string{b.ID}})
				want := mamori.SuggestKasuhara
				if b.Group == mamori.GroupDepends {
					want = mamori.SuggestDepends
				}
				if s != want {
					t.Errorf("suggestion %q, want %q", s, want)
				}
				if crime != (b.Crime || b.Immediate) {
					t.Errorf("crime %v, want %v", crime, b.Crime || b.Immediate)
				}
				if b.Immediate && Urgency(p, mamori.Answers{Behaviours: []string{b.ID}}) != mamori.UrgencyUrgent {
					t.Error("violence is not urgent")
				}
			})
		}
	}
	p := MustPolicy(t, "seed-004")
	if s, _ := Suggest(p, mamori.Answers{}); s != mamori.SuggestUnclear {
		t.Errorf("nothing listed: %q", s)
	}
	if s, crime := Suggest(p, mamori.Answers{Safety: "injured"}); s != mamori.SuggestKasuhara || !crime {
		t.Errorf("injury: %q %v", s, crime)
	}
	if u := Urgency(p, mamori.Answers{Safety: "danger"}); u != mamori.UrgencyUrgent {
		t.Errorf("danger: %q", u)
	}
	// How the reporter feels stays off the shared card's urgency.
	if u := Urgency(p, mamori.Answers{Wellbeing: "very_hard"}); u != mamori.UrgencyNormal {
		t.Errorf("very hard: %q", u)
	}
	if u := Urgency(p, mamori.Answers{}); u != mamori.UrgencyNormal {
		t.Errorf("nothing: %q", u)
	}
}

func TestCardKeepsSecrets(t *testing.T) {
	for _, l := range []mamori.Lang{mamori.JA, mamori.EN} {
		d := newDriver(t, "UME", l)
		d.start(mamori.StartReport)
		d.answerAll()
		k := BuildCase(d.env, d.c, "KH-2026-0007")
		card := Card(d.env, k, l, nil)
		all := card.Header + card.Text + card.Note
		for _, f := range card.Fields {
			all += f.Label + f.Value
		}
		for _, secret := range []string{"山田様", "怒鳴られた", "土下座しろ", "全額返金", "本店", "UME"} {
			if strings.Contains(all, secret) {
				t.Errorf("%s: card shows %q", l, secret)
			}
		}
		if !strings.Contains(card.Header, "KH-2026-0007") || card.Ref != "card:KH-2026-0007" {
			t.Errorf("card: %+v", card)
		}
		var values []string
		for _, c := range card.Choices {
			values = append(values, c.Value)
		}
		if diff := cmp.Diff([]string{"take:KH-2026-0007", "judge:KH-2026-0007", "ask:KH-2026-0007", "witness:KH-2026-0007", "details:KH-2026-0007"}, values); diff != "" {
			t.Errorf("card buttons (-want +got):\n%s", diff)
		}
		det := details(d.env, k, l, nil)
		found := false
		for _, f := range det.Fields {
			found = found || strings.Contains(f.Value, "怒鳴られた")
		}
		if !found {
			t.Error("details lack the narrative")
		}
	}
}

func TestNumber(t *testing.T) {
	if got := Number(mamori.KindReport, 2026, 42); got != "KH-2026-0042" {
		t.Fatal(got)
	}
	if got := Number(mamori.KindConsult, 2027, 7); got != "SD-2027-0007" {
		t.Fatal(got)
	}
}

func TestQuestionsFeelLikeHelp(t *testing.T) {
	t.Run("own words first, the company's part late", func(t *testing.T) {
		d := newDriver(t, "UME", mamori.JA)
		d.start(mamori.StartReport)
		var order []string
		for d.c.Step != stepSummary {
			order = append(order, d.c.Step)
			d.answerOne()
		}
		pos := map[string]int{}
		for i, s := range order {
			pos[s] = i
		}
		if pos[stepNarrative] != pos[stepWhen]+1 {
			t.Errorf("the narrative does not follow the basics: %v", order)
		}
		for _, s := range []string{stepChannel, stepBehaviours, stepWords, stepDemand} {
			if pos[s] < pos[stepNarrative] {
				t.Errorf("%s asked before the person's own words: %v", s, order)
			}
		}
		if pos[stepFault] < pos[stepEvidence] {
			t.Errorf("the company's part is asked early: %v", order)
		}
	})
	t.Run("today and yesterday are dates in the organisation's zone", func(t *testing.T) {
		tokyo := time.FixedZone("JST", 9*3600)
		for _, tc := range []struct {
			choice, want string
			typed        bool
		}{{"today", "2026-11-21", false}, {"yesterday", "2026-11-20", false}, {"1", "2026-11-21", true}, {"昨日", "2026-11-20", true}} {
			d := newDriver(t, "UME", mamori.JA)
			d.env.Now = time.Date(2026, 11, 20, 16, 0, 0, 0, time.UTC) // 01:00 on the 21st in Tokyo
			d.env.Location = tokyo
			d.start(mamori.StartReport)
			for d.c.Step != stepWhen {
				d.answerOne()
			}
			if tc.typed {
				d.say(tc.choice)
			} else {
				d.choose(tc.choice)
			}
			if d.c.Answers.When != tc.want {
				t.Errorf("%s: when = %q, want %q", tc.choice, d.c.Answers.When, tc.want)
			}
			if got := display(d.env, d.c, stepWhen, mamori.JA); !strings.Contains(got, "2026年11月") {
				t.Errorf("%s: shown as %q", tc.choice, got)
			}
		}
		d := reportAt(t, "UME", mamori.EN, stepWhen)
		d.choose("earlier")
		d.expect(stepWhen)
		if d.c.Answers.When != "" || !strings.Contains(texts(d.out), "type the date") {
			t.Fatalf("earlier: %+v %s", d.c.Answers, texts(d.out))
		}
		d.say("3 November, evening")
		if d.c.Answers.When != "2026-11-03 evening" {
			t.Fatalf("typed date: %q", d.c.Answers.When)
		}
		d.choose(navBack)
		d.say("the week the sale began")
		if d.c.Answers.When != "the week the sale began" {
			t.Fatalf("typed words: %q", d.c.Answers.When)
		}
	})
	t.Run("choices: nobody else there, CCTV, durations that do not overlap", func(t *testing.T) {
		d := reportAt(t, "UME", mamori.EN, stepDuration)
		var labels []string
		for _, c := range d.out.Replies[len(d.out.Replies)-1].Choices {
			labels = append(labels, c.Label)
		}
		if diff := cmp.Diff([]string{"Under 10 minutes", "10 to 29 minutes", "30 to 59 minutes", "An hour or more", "Skip"}, labels); diff != "" {
			t.Errorf("durations: %s", diff)
		}
		for d.c.Step != stepWitnesses {
			d.answerOne()
		}
		d.choose("nobody")
		if d.c.Answers.Witnesses != "nobody" {
			t.Fatalf("witnesses: %q", d.c.Answers.Witnesses)
		}
		d.expect(stepEvidence)
		d.choose("cctv")
		if got := display(d.env, d.c, stepEvidence, mamori.JA); got != "防犯カメラの映像" {
			t.Fatalf("evidence shown as %q", got)
		}
	})
	t.Run("a report begun before the reordering still asks its own words", func(t *testing.T) {
		d := reportAt(t, "UME", mamori.JA, stepNarrative)
		// Stored by the old order: at the behaviours, no narrative yet.
		d.c.Step = stepWitnesses
		d.choose(navSkip)
		for d.c.Step != stepSummary && d.c.Step != stepNarrative {
			d.answerOne()
		}
		d.expect(stepNarrative)
	})
}

func TestSummaryNoteFollowsTheRoute(t *testing.T) {
	for route, want := range map[string]string{mamori.RouteDepartment: "上長と人事", mamori.RouteHR: "人事だけ"} {
		d := reportAt(t, "UME", mamori.JA, stepRoute)
		d.choose(route)
		d.expect(stepSummary)
		if note := d.out.Replies[len(d.out.Replies)-1].Note; !strings.Contains(note, want) {
			t.Errorf("route %s: the summary says %q", route, note)
		}
	}
}

// A day of another year says its year: a deletion five years on must not
// read as this week.
func TestDayOfAnotherYear(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	s := &Service{Clock: func() time.Time { return now }}
	for _, tc := range []struct {
		at   time.Time
		l    mamori.Lang
		want string
	}{
		{now.AddDate(0, 0, 3), mamori.JA, "12月10日（木）"},
		{now.AddDate(5, 0, 0), mamori.JA, "2031年12月7日（日）"},
		{now.AddDate(0, 0, 3), mamori.EN, "Thu Dec 10"},
		{now.AddDate(5, 0, 0), mamori.EN, "Sun Dec 7, 2031"},
	} {
		if got := s.day(tc.at, tc.l); got != tc.want {
			t.Errorf("day(%s, %s) = %q, want %q", tc.at, tc.l, got, tc.want)
		}
	}
}

// TestMatchOptionTyped: an option is picked by its number, its label
// (without the punctuation around it), its value ("safe", "today"), a
// plain yes or no where the options are yes and no, "none" said plainly
// where none (or nobody, or no) is an option, and yes to "are you safe?".
func TestMatchOptionTyped(t *testing.T) {
	safety := []mamori.Choice{{Value: "safe", Label: "I'm safe"}, {Value: "danger", Label: "I feel in danger"}}
	yn := []mamori.Choice{{Value: "yes", Label: "はい、連絡してほしい"}, {Value: "no", Label: "いいえ、今はいい"}}
	for _, tc := range []struct {
		typed string
		opts  []mamori.Choice
		want  string
		ok    bool
	}{
		{"2", safety, "danger", true},
		{" I'm safe。", safety, "safe", true},
		{"Safe!", safety, "safe", true},
		{"はい", yn, "yes", true},
		{"いいえ。", yn, "no", true},
		// "あなたはいま安全ですか？" — "はい", "大丈夫です" (a user trial).
		{"はい", safety, "safe", true},
		{"大丈夫です", safety, "safe", true},
		{"not safe", safety, "", false},
		// None, where "none", "nobody" or "no" is an option.
		{"なし", []mamori.Choice{{Value: "none", Label: "ない"}, {Value: "photo", Label: "写真"}}, "none", true},
		{"ありません", []mamori.Choice{{Value: "none", Label: "ない"}}, "none", true},
		{"いいえ", []mamori.Choice{{Value: "nobody", Label: "だれもいなかった"}}, "nobody", true},
		{"特にない", yn, "no", true},
		{"残っていません", []mamori.Choice{{Value: "none", Label: "ない"}}, "none", true}, // a user trial: it was "yes"
		{"なし", safety, "", false},
	} {
		if v, ok := matchOption(tc.typed, tc.opts); v != tc.want || ok != tc.ok {
			t.Errorf("matchOption(%q) = %q %v, want %q %v", tc.typed, v, ok, tc.want, tc.ok)
		}
	}
}

// TestTypedDate (a user trial): days typed as people say them are kept as
// dates, so the card can show when it happened.
func TestTypedDate(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	env := Env{Now: time.Date(2026, 12, 7, 10, 0, 0, 0, tokyo), Location: tokyo}
	for _, tc := range []struct{ typed, want string }{
		{"おととい", "2026-12-05"}, {"3日前", "2026-12-04"}, {"３日前です", "2026-12-04"}, {"2 days ago", "2026-12-05"},
		{"今朝", "2026-12-07 morning"}, {"昨夜", "2026-12-06 night"}, {"昨日の夕方", "2026-12-06 evening"}, {"yesterday evening", "2026-12-06 evening"},
		{"12月3日", "2026-12-03"}, {"12/3", "2026-12-03"},
		{"2026-11-30", "2026-11-30"}, {"2026年11月30日", "2026-11-30"}, {"12月28日", "2025-12-28"},
		// Monday the 7th: last week's Friday is the 4th, its Monday the 30th.
		{"先週の金曜日", "2026-12-04"}, {"先週の月曜", "2026-11-30"}, {"last friday", "2026-12-04"}, {"1週間前", "2026-11-30"},
		{"自分のこと", ""}, {"2月30日", ""}, {"2027-01-01", ""}, {"3日前から毎日", ""},
		// A day and when in it (found by a user trial: kept as typed, the
		// card said "in their own words").
		{"今朝10時ごろ", "2026-12-07 10:00~"}, {"先週の火曜日の夕方", "2026-12-01 evening"}, {"一昨日の夜", "2026-12-05 night"},
		{"12月1日 18時頃", "2026-12-01 18:00~"}, {"12/1 18:30", "2026-12-01 18:30"}, {"昨日", "2026-12-06"},
		{"Dec 1", "2026-12-01"}, {"December 1st", "2026-12-01"}, {"1 Dec", "2026-12-01"}, {"yesterday at 18:30", "2026-12-06 18:30"},
		{"Dec 5th at 6pm", "2026-12-05 18:00"}, {"last tuesday evening", "2026-12-01 evening"},
		{"12/5 10", ""}, {"Dec 25", "2025-12-25"}, {"昨日の25時", ""},
		// A twelve-hour clock in the part of the day named; no time to come
		// (found by a review). Now is 10:00 on the 7th.
		{"昨日の午後3時", "2026-12-06 15:00"}, {"昨日の夕方6時", "2026-12-06 18:00"}, {"昨日の夜11時", "2026-12-06 23:00"},
		{"last night at 11", "2026-12-06 23:00"}, {"yesterday evening at 7", "2026-12-06 19:00"}, {"今朝8時", "2026-12-07 08:00"},
		{"今日の23時", ""}, {"12/7 18:30", ""}, {"12/7 9:30", "2026-12-07 09:30"},
	} {
		got, ok := typedDate(env, tc.typed)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("typedDate(%q) = %q %v, want %q", tc.typed, got, ok, tc.want)
		}
	}
	for _, tc := range []struct {
		stored string
		l      mamori.Lang
		want   string
	}{
		// The time of day is shown with the date (found by a user trial:
		// 「昨日の夕方」 showed as the day alone).
		{"2026-12-06 evening", mamori.JA, "2026年12月6日 夕方"},
		// Words typed after a date are not a date: they stay in the
		// details, off the card in the shared channel (found by a review).
		{"2026-11-05 山田一郎様に怒鳴られた", mamori.JA, ""},
		{"2026-12-01 18:00~", mamori.JA, "2026年12月1日 18:00ごろ"},
		{"2026-12-01 18:30", mamori.EN, "1 Dec 2026, 18:30"},
		{"2026-12-06 evening", mamori.EN, "6 Dec 2026, evening"},
		{"2026-12-06", mamori.EN, "6 Dec 2026"},
	} {
		if got := showDate(tc.stored, tc.l); got != tc.want {
			t.Errorf("showDate(%q, %s) = %q, want %q", tc.stored, tc.l, got, tc.want)
		}
	}
}

// TestHoldsWord (a user trial): a supervisor's id names them only as a
// word of its own — "sato" is not in "Satoshi".
func TestHoldsWord(t *testing.T) {
	for _, tc := range []struct {
		s, w string
		want bool
	}{
		{"my supervisor sato took the customer's side", "sato", true},
		{"it was sato.", "sato", true},
		{"<@u0sato> said so", "u0sato", true},
		{"a customer named satoshi kato", "sato", false},
		{"u0sato2 was there", "u0sato", false},
		{"佐藤(sato)さん", "sato", true},
	} {
		if got := holdsWord(tc.s, tc.w); got != tc.want {
			t.Errorf("holdsWord(%q, %q) = %v", tc.s, tc.w, got)
		}
	}
}

// TestBehaviourWordsTyped (found by a user trial): at the list of
// behaviours, a short list of words from the labels ("脅迫としつこい電話")
// ticks the options they name; a sentence stays an account.
func TestBehaviourWordsTyped(t *testing.T) {
	d := reportAt(t, "UME", mamori.JA, stepBehaviours)
	d.say("脅迫としつこい電話")
	if len(d.c.Answers.Behaviours) != 2 || d.c.Step == stepBehaviours {
		t.Fatalf("short words: %v, at %s (%s)", d.c.Answers.Behaviours, d.c.Step, texts(d.out))
	}
	d.choose(navBack)
	// Named to say no (found by a review): not ticked.
	d.say("脅迫はなかった")
	if d.c.Step != stepBehaviours {
		t.Errorf("「脅迫はなかった」 ticked %v", d.c.Answers.Behaviours)
	}
	before := d.c.Answers.Narrative
	const said = "お客様に何度も暴言を吐かれて、とても怖かったです"
	d.say(said)
	if d.c.Step != stepBehaviours || !strings.HasSuffix(d.c.Answers.Narrative, said) || d.c.Answers.Narrative == before {
		t.Errorf("a sentence: at %s, account %q", d.c.Step, d.c.Answers.Narrative)
	}
}

// TestBehaviourEverydayWords (found by an English-speaking team): at the
// list of behaviours, a short list joined by "and" or 「や」, and the
// words people use for a behaviour rather than the label's ("yelling",
// 「怒鳴られた」, "hit me"), tick the options; said to say no, or a word
// inside another ("white"), they do not.
func TestBehaviourEverydayWords(t *testing.T) {
	for _, tc := range []struct {
		lang  mamori.Lang
		typed string
		want  []string
	}{
		{mamori.EN, "insults and threats", []string{"verbal_attack"}},
		{mamori.EN, "yelling", []string{"verbal_attack"}},
		{mamori.EN, "he threatened me", []string{"verbal_attack"}},
		{mamori.EN, "he yelled and hit me", []string{"verbal_attack", "physical_attack"}},
		{mamori.EN, "threats & kicking", []string{"verbal_attack", "physical_attack"}},
		{mamori.EN, "he didn't hit me", nil},
		{mamori.EN, "no threats", nil},
		{mamori.EN, "white van guy", nil},
		{mamori.JA, "脅迫や暴言", []string{"verbal_attack"}},
		{mamori.JA, "怒鳴られて殴られた", []string{"verbal_attack", "physical_attack"}},
		{mamori.JA, "殴られてはいない", nil},
		// Threatened, tried, or done to a thing (found by a review).
		{mamori.JA, "殴られそうになった", nil},
		{mamori.JA, "机を叩いて怒鳴った", []string{"verbal_attack"}},
		{mamori.EN, "he hit on me", nil},
		{mamori.EN, "pushy", nil},
		{mamori.EN, "said he'd hit me", nil},
		{mamori.JA, "暴言や嫌がらせ", []string{"verbal_attack"}},  // a label's own "や" first
		{mamori.JA, "頭を叩かれた", []string{"physical_attack"}}, // done to them (a second review)
	} {
		d := reportAt(t, "UME", tc.lang, stepBehaviours)
		d.say(tc.typed)
		if !slices.Equal(d.c.Answers.Behaviours, tc.want) || (tc.want == nil) != (d.c.Step == stepBehaviours) {
			t.Errorf("%q: ticked %v, at %s; want %v", tc.typed, d.c.Answers.Behaviours, d.c.Step, tc.want)
		}
	}
}

// TestMenuRequests (found by a user trial): asking at the menu to see the
// policy or where to get support shows it (it was kept as the next
// report's account); "ヘルプ" or "help" at a question explains it and
// answers nothing.
func TestMenuRequests(t *testing.T) {
	for _, tc := range []struct {
		lang   mamori.Lang
		typed  string
		policy bool
	}{
		{mamori.JA, "方針を見せて", true},
		{mamori.JA, "相談先を教えてください", false},
		{mamori.EN, "show me the policy", true},
		{mamori.EN, "where can I get support?", false},
	} {
		d := newDriver(t, "UME", tc.lang)
		d.say(tc.typed)
		want := CareMessage(d.env, tc.lang)
		if tc.policy {
			want = policyMessage(d.env, tc.lang)
		}
		if r := d.out.Replies; len(r) != 2 || r[0].Header != want.Header || r[0].Text != want.Text || d.c.Draft != "" {
			t.Errorf("%q: draft %q, %s", tc.typed, d.c.Draft, texts(d.out))
		}
	}
	// Not requests (found by a review): fear, a counter.
	for _, typed := range []string{"I already feel scared", "He's somewhere outside, scared", "窓口にまだいます、どこに逃げれば"} {
		d := newDriver(t, "UME", mamori.EN)
		d.say(typed)
		if r := d.out.Replies; len(r) > 0 && (r[0].Header == CareMessage(d.env, mamori.EN).Header || r[0].Header == CareMessage(d.env, mamori.JA).Header) {
			t.Errorf("%q showed the care resources", typed)
		}
	}
	d := reportAt(t, "UME", mamori.JA, stepNarrative)
	for _, typed := range []string{"ヘルプ", "help", "？", "HELP!"} {
		d.say(typed)
		if d.c.Answers.Narrative != "" || d.c.Step != stepNarrative || !strings.Contains(texts(d.out), d.env.Policy.T(mamori.JA, "nav.help")) {
			t.Errorf("%q at the account: %+v, %s", typed, d.c.Answers, texts(d.out))
		}
		if last := d.out.Replies[len(d.out.Replies)-1]; !slices.ContainsFunc(last.Controls, func(c mamori.Choice) bool { return c.Value == mamori.StartSOS }) {
			t.Errorf("%q: no SOS beside the help", typed)
		}
	}
}

// TestEditAccountAsks (found by a user trial): a short line typed to
// change a long account asks whether it replaces the account or is added
// to it; nothing is lost meanwhile.
func TestEditAccountAsks(t *testing.T) {
	d := reportAt(t, "UME", mamori.JA, stepNarrative)
	const account = "レジで30分以上怒鳴られました。\n商品を投げつけられました。\n店長を呼べと言われました。\n土下座しろと言われました。"
	d.say(account)
	for d.c.Step != stepSummary {
		d.answerOne()
	}
	edit := func() {
		d.choose("edit")
		d.choose(stepNarrative)
	}
	edit()
	d.say("土下座の一文は消してください")
	last := d.out.Replies[len(d.out.Replies)-1]
	if d.c.Answers.Narrative != account || d.c.Step != stepNarrative || len(last.Choices) != 3 || last.Choices[0].Value != navReplace {
		t.Fatalf("a short line at the account: %q, %s", d.c.Answers.Narrative, texts(d.out))
	}
	d.choose(navAppend)
	if d.c.Answers.Narrative != account+"\n土下座の一文は消してください" || d.c.Step != stepSummary {
		t.Fatalf("added: %q at %s", d.c.Answers.Narrative, d.c.Step)
	}
	edit()
	d.say("怒鳴られました")
	d.choose(navReplace)
	if d.c.Answers.Narrative != "怒鳴られました" || d.c.Step != stepSummary {
		t.Fatalf("replaced: %q at %s", d.c.Answers.Narrative, d.c.Step)
	}
	// A whole new account, as long, replaces it at once.
	edit()
	d.say("長い新しい説明です。ほとんど同じ長さで、全部を書き直しました。")
	if d.c.Answers.Narrative != "長い新しい説明です。ほとんど同じ長さで、全部を書き直しました。" {
		t.Errorf("rewritten: %q", d.c.Answers.Narrative)
	}
}

// TestPlainAnswersMore (found by a user trial): "yes, I'm safe" at "are
// you safe?", 「上長で」 or 「人事だけ」 at where it goes, and "submit" at
// the summary are their buttons; "安全ですが怖いです" is not "safe".
func TestPlainAnswersMore(t *testing.T) {
	for _, tc := range []struct {
		lang  mamori.Lang
		typed string
		safe  bool
	}{
		{mamori.EN, "yes I am safe", true}, {mamori.EN, "yes, I'm fine", true}, {mamori.JA, "はい、安全です", true},
		// Found by a review: more than safe is not "safe".
		{mamori.JA, "安全ですが怖いです", false}, {mamori.JA, "無事です。同僚がけがをしました", false},
		{mamori.EN, "I'm fine. Co-worker hurt", false}, {mamori.EN, "yes I'm safe but he's still here", false},
		{mamori.EN, "I'm safe but my arm hurts", false}, {mamori.JA, "今も怖い", false},
	} {
		d := newDriver(t, "U1", tc.lang)
		d.start(mamori.StartReport)
		d.say(tc.typed)
		if (d.c.Answers.Safety == "safe") != tc.safe {
			t.Errorf("%q at are you safe: %q", tc.typed, d.c.Answers.Safety)
		}
		if !tc.safe && !strings.Contains(texts(d.out), d.env.Policy.T(tc.lang, "safety.not_safe")) {
			t.Errorf("%q: the alarm buttons not pointed to: %s", tc.typed, texts(d.out))
		}
	}
	for typed, route := range map[string]string{"上長で": mamori.RouteDepartment, "人事だけ": mamori.RouteHR, "人事でお願いします": mamori.RouteHR} {
		d := reportAt(t, "UME", mamori.JA, stepRoute)
		d.say(typed)
		if d.c.Answers.Route != route {
			t.Errorf("%q at where it goes: %q", typed, d.c.Answers.Route)
		}
		if typed == "上長で" {
			if out := d.say("submit"); out.Submit != mamori.FlowReport {
				t.Errorf("submit at the summary: %s", texts(out))
			}
		}
	}
}

// TestReportToConsultation (found by a user trial): a report can become a
// question to HR without retyping: "相談にしたい" typed asks, and its
// button carries the account over as the question.
func TestReportToConsultation(t *testing.T) {
	d := reportAt(t, "UME", mamori.JA, stepNarrative)
	const account = "毎日同じお客様から1時間の電話があります"
	d.say(account)
	d.say("やっぱり報告じゃなくて相談にしたいです")
	d.expect(stepCancel)
	last := d.out.Replies[len(d.out.Replies)-1]
	if !slices.ContainsFunc(last.Choices, func(c mamori.Choice) bool { return c.Value == toConsult }) {
		t.Fatalf("no way to make it a question: %+v", last.Choices)
	}
	d.choose(toConsult)
	if d.c.Flow != mamori.FlowConsult || d.c.Answers.Worry != account || d.c.Answers.Narrative != "" {
		t.Fatalf("after the switch: %+v", d.c)
	}
}

// TestConsultWishNotTold (found by a review): an account that tells of
// advice ("相談の方がいいと言われた") is the account, not a wish to stop.
func TestConsultWishNotTold(t *testing.T) {
	d := reportAt(t, "UME", mamori.JA, stepNarrative)
	const account = "上司に相談の方がいいと言われたので書きます"
	d.say(account)
	if d.c.Answers.Narrative != account || d.c.Step == stepCancel {
		t.Errorf("the account: %q at %s", d.c.Answers.Narrative, d.c.Step)
	}
	for d.c.Step != stepTalk {
		d.answerOne()
	}
	d.say("はい、人事に相談の方がいいです")
	if d.c.Step == stepCancel {
		t.Errorf("at talk: asked to stop")
	}
}

// TestPlainAnswersLengths (found by a user re-trial): a length typed at
// how long and 「2回目です」 at whether it happened before are their
// buttons.
func TestPlainAnswersLengths(t *testing.T) {
	for _, tc := range []struct{ step, typed, want string }{
		{stepDuration, "35分くらい", "under60"}, {stepDuration, "about 20 min", "under30"}, {stepDuration, "1時間半", "over60"},
		{stepRepeat, "2回目です", "before"}, {stepRepeat, "初めてです", "first"},
	} {
		d := reportAt(t, "UME", mamori.JA, tc.step)
		d.say(tc.typed)
		q, _ := lookup(tc.step)
		if got := *q.answer(&d.c.Answers); got != tc.want {
			t.Errorf("%q at %s: %q", tc.typed, tc.step, got)
		}
	}
}

// TestReviewedWords (found by a review): lengths that are times are not
// lengths; a sentence around a length is kept; no danger from a "no";
// a check-in waiting outlives a report stopped.
func TestReviewedWords(t *testing.T) {
	for typed, want := range map[string]string{"2時間前から30分": "under60", "5 hits": "", "0.5時間": "under60", "10時から": "", "3分の1": "under10"} {
		if got, _ := durationOption(typed); got != want {
			t.Errorf("durationOption(%q) = %q, want %q", typed, got, want)
		}
	}
	d := reportAt(t, "UME", mamori.JA, stepDuration)
	const said = "30分くらい、ずっと土下座しろと怒鳴られていました"
	d.say(said)
	if d.c.Answers.Duration != "under60" || !strings.HasSuffix(d.c.Answers.Narrative, said) {
		t.Errorf("a sentence around a length: %q, account %q", d.c.Answers.Duration, d.c.Answers.Narrative)
	}
	for _, typed := range []string{"dont need help", "No need help", "SOSじゃないです"} {
		d := newDriver(t, "U1", mamori.EN)
		d.start(mamori.StartReport)
		d.say(typed)
		if d.c.Answers.Safety == "danger" || d.out.SOS != nil {
			t.Errorf("%q at are you safe raised the alarm", typed)
		}
	}
	d = reportAt(t, "UME", mamori.JA, stepNarrative)
	d.c.Checkin, d.c.CheckinAt = "KH-2026-0001", d.env.Now
	d.choose(navCancel)
	d.choose("yes")
	if d.c.Checkin != "KH-2026-0001" {
		t.Errorf("the check-in waiting after stopping: %+v", d.c)
	}
}

// TestSecondReviewWords (found by a second review): a call for help with a
// "no" in it still raises the alarm at are you safe; lengths said as
// about or a little under; words typed in a paused report while a case's
// question waits are offered when "Answer" is pressed.
func TestSecondReviewWords(t *testing.T) {
	for _, typed := range []string{"助けて、動けない", "助けて！帰してもらえない"} {
		d := newDriver(t, "UME", mamori.JA)
		d.start(mamori.StartReport)
		d.say(typed)
		if d.c.Answers.Safety != "danger" {
			t.Errorf("%q at are you safe: %q", typed, d.c.Answers.Safety)
		}
	}
	for typed, want := range map[string]string{"1時間前後": "over60", "30分前後": "under60", "1時間弱": "under60"} {
		if got, _ := durationOption(typed); got != want {
			t.Errorf("durationOption(%q) = %q, want %q", typed, got, want)
		}
	}
	d := reportAt(t, "UME", mamori.JA, stepNarrative)
	d.choose(navLater)
	d.c.Asked, d.c.AskedAt = "KH-2026-0001", d.env.Now.Add(time.Minute) // a supervisor's question since
	d.env.Now = d.env.Now.Add(2 * time.Minute)
	d.say("15時ごろでした、レジの前です")
	if d.c.ReplyDraft != "15時ごろでした、レジの前です" || d.c.ReplyDraftFor != "KH-2026-0001" {
		t.Errorf("words for the case's question: %+v", d.c)
	}
}

// TestDangerSaidPlainly (found by an English-speaking trial): calls for
// help as people type them raise the SOS at the menu ("call security",
// "HELP!!", "pls help hes back", 「警備員を呼んで」); a danger now without
// one ("hes back", "theres a guy with a knife") offers it; mid-report at
// a short question ("how long?") such words are no answer: kept with the
// account, the question again with the SOS on it.
func TestDangerSaidPlainly(t *testing.T) {
	offers := func(o Out) bool { // the offer's words, not the menu's own SOS button
		return slices.ContainsFunc(o.Replies, func(m mamori.Message) bool {
			return strings.Contains(m.Text+m.Note, newDriver(t, "UME", mamori.EN).env.Policy.T(mamori.EN, "sos.offer")) &&
				slices.ContainsFunc(append(m.Choices, m.Controls...), func(ch mamori.Choice) bool { return ch.Value == mamori.StartSOS })
		})
	}
	for _, tc := range []struct {
		typed        string
		raise, offer bool
	}{
		{"call security", true, false},
		{"can someone come", true, false},
		{"HELP!!", true, false},
		{"pls help hes back", true, false},
		{"警備員を呼んで", true, false},
		{"hes back", false, true},
		{"theres a guy with a knife", false, true},
		{"a customer is threatening me right now", false, true},
		{"お客さんがまた来た", false, true},
		{"yesterday a guy pulled a knife on me, pls help me", false, true},
		{"he knows where i live", false, true}, // threats still to come (found by the trials)
		// Help given, or help with something, is no call for it (found by
		// a review).
		{"同僚が助けてくれたけど、まだ怖いです", false, true},
		{"I need help following up on my report, still no answer", false, false},
		{"What he said really hurt me. I need help deciding whether to report it", false, false},
		{"he said he'd kill me if i called the police", false, true},
		{"助けて、目の前に包丁を持った男がいます", true, false},
		{"お前の家は知ってる、今から行くからなと言われた", false, true},
		{"help", false, true}, // the menu, and the SOS offered beside it
	} {
		d := newDriver(t, "UME", mamori.EN)
		d.start("")
		o := d.say(tc.typed)
		if raised := o.SOS != nil && o.SOS.Raise; raised != tc.raise || !tc.raise && offers(o) != tc.offer {
			t.Errorf("menu, %q: raised %t, offered %t", tc.typed, raised, offers(o))
		}
	}
	for _, typed := range []string{"a customer is threatening me right now", "hes back", "theres a guy with a knife"} {
		d := reportAt(t, "UME", mamori.EN, stepDuration)
		o := d.say(typed)
		if d.c.Step != stepDuration || d.c.Answers.Duration != "" || !strings.Contains(d.c.Answers.Narrative, typed) || !offers(o) ||
			strings.HasPrefix(o.Replies[0].Text, "⚠️") {
			t.Errorf("how long, %q: at %s, duration %q, offered %t: %q", typed, d.c.Step, d.c.Answers.Duration, offers(o), o.Replies[0].Text)
		}
	}
}

// TestStopSaidPlainly (found by the trials): 「やっぱりやめます」 asks
// whether to stop, 「ちょっと今は無理です、あとで」, "not now" and "brb"
// pause — none is an answer; a threat that says "later" is the words
// said; at "stop?", 「いいえ、続けます」 and "no, keep going" go back to
// the question, 「削除してください」 stops.
func TestStopSaidPlainly(t *testing.T) {
	for _, tc := range []struct {
		l           mamori.Lang
		step, typed string
		want        string // "cancel", "paused" or "answered"
	}{
		{mamori.JA, stepPlace, "やっぱりやめます", "cancel"},
		{mamori.JA, stepWords, "ちょっと今は無理です、あとで", "paused"},
		{mamori.JA, stepNarrative, "今は無理です", "paused"},
		{mamori.EN, stepCustomer, "not now", "paused"},
		{mamori.EN, stepCustomer, "brb", "paused"},
		{mamori.JA, stepWords, "お前、あとで覚えておけよ", "answered"},
		{mamori.EN, stepWords, "he said he'd be back later", "answered"},
	} {
		d := reportAt(t, "UME", tc.l, tc.step)
		d.say(tc.typed)
		got := "answered"
		switch {
		case d.c.Step == stepCancel:
			got = "cancel"
		case d.c.Paused:
			got = "paused"
		case d.c.Step == tc.step:
			got = "asked again"
		}
		if got != tc.want {
			t.Errorf("%s, %q: %s, want %s", tc.step, tc.typed, got, tc.want)
		}
	}
	// Where "later" may be the words said, or how they feel, it is no
	// pause (found by a review); words before a pause are kept.
	for _, tc := range []struct {
		step, typed string
	}{{stepWords, "ふざけるな、あとで"}, {stepTalk, "not right now"}, {stepWellbeing, "ちょっと今は無理です"}} {
		d := reportAt(t, "UME", mamori.JA, tc.step)
		d.say(tc.typed)
		if d.c.Paused {
			t.Errorf("%s, %q paused the report", tc.step, tc.typed)
		}
	}
	d := reportAt(t, "UME", mamori.JA, stepEvidence)
	d.say("録音があります、あとで")
	if !d.c.Paused || d.c.Draft != "録音があります、あとで" {
		t.Errorf("words before a pause: paused %t, draft %q", d.c.Paused, d.c.Draft)
	}
	for _, tc := range []struct {
		typed string
		end   bool
	}{{"いいえ、続けます", false}, {"no, keep going", false}, {"続けます", false}, {"削除してください", true}} {
		d := reportAt(t, "UME", mamori.JA, stepPlace)
		d.say("やっぱりやめます")
		d.say(tc.typed)
		if d.out.End != tc.end || !tc.end && d.c.Step != stepPlace {
			t.Errorf("at stop?, %q: end %t, at %s", tc.typed, d.out.End, d.c.Step)
		}
	}
}

// TestTimesAgoAndHedges (found by the trials): 「きのうの夜7時ごろ」,
// 「１時間くらい前」 and "an hour ago" become a date and time; a check-in
// "ok i guess" or 「まあまあです」 is asked which is closest, not taken
// as fine — 「かなり落ち着きました」 is fine.
func TestTimesAgoAndHedges(t *testing.T) {
	d := newDriver(t, "UME", mamori.JA) // the driver's clock: 2026-11-20 10:00 in Tokyo
	for typed, want := range map[string]string{
		"きのうの夜7時ごろ": "2026-11-19 19:00", "１時間くらい前": "2026-11-20 09:00~", "30分前": "2026-11-20 09:30~",
		"an hour ago": "2026-11-20 09:00~", "2 hours ago": "2026-11-20 08:00~", "おとといの夕方6時": "2026-11-18 18:00",
	} {
		if got, ok := typedDate(d.env, typed); !ok || !strings.HasPrefix(got, strings.TrimSuffix(want, "~")) {
			t.Errorf("%q: %q %t, want %q", typed, got, ok, want)
		}
	}
	if _, ok := typedDate(d.env, "30時間前"); ok {
		t.Error("more than a day ago read as a time")
	}
	for typed, want := range map[string]string{"ok i guess": "", "まあまあです": "", "一応大丈夫です": "", "かなり落ち着きました": checkinFine, "fine thanks": checkinFine} {
		if got := checkinSense(typed); got != want {
			t.Errorf("check-in %q: %q, want %q", typed, got, want)
		}
	}
}

// TestCourtesyNotKept (found by a user trial): 「はい、お願いします」 at
// "would you like to talk?" is the yes, and no more: nothing of it goes
// into the account; "yes, he came back twice" still keeps its rest.
func TestCourtesyNotKept(t *testing.T) {
	d := reportAt(t, "UME", mamori.JA, stepTalk)
	before := d.c.Answers.Narrative
	d.say("はい、お願いします")
	if d.c.Answers.Talk == "" || d.c.Answers.Narrative != before {
		t.Errorf("talk %q, account %q (was %q)", d.c.Answers.Talk, d.c.Answers.Narrative, before)
	}
	if !politeOnly("よろしくお願いします。") || politeOnly("お願いします、もう来てほしくない") {
		t.Error("politeOnly")
	}
	// A yes and "I'm safe" at a question of buttons add nothing to the
	// account (found by reading the change as a user: after an SOS the
	// report's first question is "about you?").
	d = reportAt(t, "UME", mamori.JA, stepForWhom)
	account := d.c.Answers.Narrative
	d.say("はい、安全です")
	if d.c.Answers.Narrative != account {
		t.Errorf("はい、安全です kept in the account: %q", d.c.Answers.Narrative)
	}
	// A short rest is still kept (found by a review).
	d = reportAt(t, "UME", mamori.JA, stepRepeat)
	d.say("はい、先週も")
	if d.c.Answers.Repeat != "before" || !strings.Contains(d.c.Answers.Narrative, "先週も") {
		t.Errorf("はい、先週も: %+v", d.c.Answers)
	}
}

// TestRetrialAnswers (found by a re-trial): 「特にないと思います」 is the
// button 特にない; 「わからない」 at the customer's number leaves it empty
// (it could link unrelated reports); 「威圧的でした」 ticks intimidation.
func TestRetrialAnswers(t *testing.T) {
	d := reportAt(t, "UME", mamori.JA, stepFault)
	d.say("特にないと思います")
	if d.c.Answers.Fault != "no" {
		t.Errorf("特にないと思います: %q", d.c.Answers.Fault)
	}
	// Not with a but, or something there after all (a second review).
	for _, typed := range []string{"特にないけど、店側の説明不足はあったかも", "特にないと思いたい"} {
		d := reportAt(t, "UME", mamori.JA, stepFault)
		d.say(typed)
		if d.c.Answers.Fault == "no" {
			t.Errorf("%q read as nothing to fix", typed)
		}
	}
	// 「なし」 is what was demanded — nothing — not skipped.
	d = reportAt(t, "UME", mamori.JA, stepDemand)
	d.say("なし")
	if d.c.Answers.Demand != "なし" {
		t.Errorf("なし at the demand: %q", d.c.Answers.Demand)
	}
	for _, typed := range []string{"わからない", "I don't know", "不明です"} {
		d := reportAt(t, "UME", mamori.JA, stepCustomerID)
		d.say(typed)
		if d.c.Answers.CustomerIDs != "" || d.c.Step == stepCustomerID {
			t.Errorf("%q at the customer's number: %q, at %s", typed, d.c.Answers.CustomerIDs, d.c.Step)
		}
	}
	d = reportAt(t, "UME", mamori.JA, stepBehaviours)
	d.say("威圧的でした")
	if !slices.Contains(d.c.Answers.Behaviours, "intimidation") {
		t.Errorf("威圧的でした: %v", d.c.Answers.Behaviours)
	}
}

// TestOnSpotMidReport (found by a final trial): "hes calling again right
// now, what do i do" in the middle of a report shows what to do on the
// spot, offers the SOS, and asks the question again.
func TestOnSpotMidReport(t *testing.T) {
	d := reportAt(t, "UME", mamori.EN, stepChannel)
	o := d.say("hes calling again right now, what do i do")
	if len(o.Replies) < 2 || o.Replies[0].Header != OnsiteMessage(d.env, mamori.EN).Header || d.c.Step != stepChannel {
		t.Fatalf("replies: %s", texts(o))
	}
	last := o.Replies[len(o.Replies)-1]
	if !slices.ContainsFunc(last.Controls, func(c mamori.Choice) bool { return c.Value == mamori.StartSOS }) {
		t.Errorf("no SOS offered: %+v", last)
	}
	d = reportAt(t, "UME", mamori.JA, stepSafety)
	d.say("今は家なので大丈夫です")
	if d.c.Answers.Safety != "safe" {
		t.Errorf("今は家なので大丈夫です: %q", d.c.Answers.Safety)
	}
}
