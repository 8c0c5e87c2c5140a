package flows_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

// What a person in danger types, as they would say it (found by a user
// trial): a call for help inside a longer message raises the SOS, with
// what they wrote passed on; danger spoken of without a call for help
// is kept and the SOS button pointed to; the report's "in danger" said
// outright raises it too.
func TestDistressTypedAtTheMenu(t *testing.T) {
	const knife = "お客様が刃物を持っていて怖い。助けてください"
	for _, tc := range []struct {
		lines []string
		sos   bool
		note  string // a note the SOS carries
	}{
		{[]string{knife}, true, knife},
		{[]string{"危険を感じている"}, true, ""},
		{[]string{"I'm in danger"}, true, ""},
		{[]string{"お客様が刃物を持ってレジの前にいます", "助けて"}, true, "お客様が刃物を持ってレジの前にいます"},
		{[]string{"彼は昨日のことでまだ怒っているようです"}, false, ""},
	} {
		r := newRig(t)
		me := user("UME")
		for _, line := range tc.lines {
			r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: line})
		}
		var k mamori.Case
		r.db.View(context.Background(), func(tx mamori.Tx) error { k, _ = tx.Case("SOS-2026-0001"); return nil })
		if raised := k.Number != ""; raised != tc.sos {
			t.Errorf("%q: SOS raised %v, want %v", tc.lines, raised, tc.sos)
			continue
		}
		if tc.note != "" && (len(k.Decision.Emergency.Notes) != 1 || k.Decision.Emergency.Notes[0].Text != tc.note) {
			t.Errorf("%q: the SOS carries %+v, want %q", tc.lines, k.Decision.Emergency, tc.note)
		}
	}
	// Danger without a call for help: kept, and the SOS button pointed to;
	// a complaint without danger is kept alone.
	for _, tc := range []struct {
		text   string
		lang   mamori.Lang
		danger bool
	}{
		{"お客様が刃物のようなものを見せてきました", mamori.JA, true},
		{"殴ってやると言われました", mamori.JA, true},
		{"店の外で待ち伏せされています", mamori.JA, true},
		{"事務所に閉じ込められて帰してもらえません", mamori.JA, true},
		{"He says he will hit me if I don't refund", mamori.EN, true},
		{"A customer keeps following me to my car", mamori.EN, true},
		{"昨日レジで1時間どなられました", mamori.JA, false},
		{"The customer shouted about the price", mamori.EN, false},
	} {
		r := newRig(t)
		me := user("UME")
		me.Lang = tc.lang
		r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: tc.text})
		m := r.last("UME")
		if offered := strings.HasSuffix(m.Text, r.svc.Policy.T(tc.lang, "sos.offer")); offered != tc.danger {
			t.Errorf("%q: SOS offered %v, want %v: %+v", tc.text, offered, tc.danger, m)
		}
	}
}

// Nothing typed at the menu is lost: a second message is kept after the
// first, a button's words typed act as the button, and "safe" words are
// not kept as the story.
func TestMenuKeepsEveryMessage(t *testing.T) {
	r := newRig(t)
	me := user("UME")
	for _, line := range []string{"昨日レジで1時間どなられました", "土下座しろと言われました", "安全になった", "出来事を報告する"} {
		r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: line})
	}
	var c mamori.Conversation
	r.db.View(context.Background(), func(tx mamori.Tx) error { c, _ = tx.Conversation("slack:UME"); return nil })
	if c.Flow != mamori.FlowReport || c.Answers.Narrative != "昨日レジで1時間どなられました\n土下座しろと言われました" {
		t.Errorf("the report started with %q (flow %q)", c.Answers.Narrative, c.Flow)
	}
}

// During an SOS raised at the report's safety question, where they are
// is asked at once (the report's place question starts from it); then
// words typed at a question answered by buttons are passed on to those
// responding, and the question comes again; the SOS's messages offer
// "I'm safe now".
func TestSOSWordsDuringReport(t *testing.T) {
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	r.click("UME", "danger")
	// Where they are is asked first; the report's next question waits
	// for it (found by a re-trial: the answer to it was taken as the place).
	if m := r.last("UME"); m.Step == "for_whom" {
		t.Errorf("the report's question came before the place was answered: %+v", m)
	}
	const at = "for_whom"
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "2階の倉庫"})
	if m := r.last("UME"); m.Step != at {
		t.Errorf("the report did not go on after the place: %+v", m)
	}
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "お客様はまだ外にいます"})
	e := r.kase("SOS-2026-0001").Decision.Emergency
	if e.Place != "2階の倉庫" || len(e.Notes) != 1 || e.Notes[0].Text != "お客様はまだ外にいます" {
		t.Errorf("the place and the words were not passed on: %+v", e)
	}
	ms := r.sent.to(mamori.TargetUser, "UME")
	if last := ms[len(ms)-1]; last.Step != at {
		t.Errorf("the question did not come again: %+v", last)
	}
	kept := ms[len(ms)-2]
	if kept.Text != r.svc.Policy.T(mamori.JA, "sos.note.kept") || len(kept.Choices) != 1 || kept.Choices[0].Value != mamori.SOSSafe+":SOS-2026-0001" {
		t.Errorf("passed on: %+v", kept)
	}
	var c mamori.Conversation
	r.db.View(context.Background(), func(tx mamori.Tx) error { c, _ = tx.Conversation("slack:UME"); return nil })
	if c.Answers.Place != "2階の倉庫" || c.Step != at {
		t.Errorf("the report: place %q at %q", c.Answers.Place, c.Step)
	}
}

// A few sentences saying they are safe close the SOS; a sentence against
// it does not.
func TestSOSSafeSentences(t *testing.T) {
	for typed, safe := range map[string]bool{
		"もう大丈夫です。安全な場所にいます": true,
		"もう大丈夫です。でもまだ怖いです":  false,
		"安全な場所にいます":         true,
	} {
		r := newRig(t)
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "SOS"})
		r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UME"), Step: "sos", Value: mamori.SOSSkip + ":SOS-2026-0001"})
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: typed})
		if closed := r.kase("SOS-2026-0001").Status == mamori.StatusClosed; closed != safe {
			t.Errorf("%q: closed %v, want %v", typed, closed, safe)
		}
	}
}

// A question answered by buttons alone reads the words people use.
func TestLooseOption(t *testing.T) {
	opts := []mamori.Choice{{Value: "yes", Label: "話したい"}, {Value: "no", Label: "いまはいい"}}
	en := []mamori.Choice{{Value: "yes", Label: "Yes, please"}, {Value: "no", Label: "Not now"}}
	me := []mamori.Choice{{Value: "me", Label: "自分のこと"}, {Value: "colleague", Label: "同僚のこと"}}
	for _, tc := range []struct {
		typed string
		opts  []mamori.Choice
		want  string
	}{
		{"はい、話したいです", opts, "yes"},
		{"話したくないです", opts, ""},
		{"yes please", en, "yes"},
		{"no thanks", en, ""},
		{"自分", me, "me"},
		{"のこと", me, ""},
	} {
		got, ok := flows.LooseOption(tc.typed, tc.opts)
		if !ok {
			got = ""
		}
		if got != tc.want {
			t.Errorf("%q: %q, want %q", tc.typed, got, tc.want)
		}
	}
}

// How they feel, typed at the wellbeing question answered by buttons: kept
// for HR (its details show it under the answer), not for the supervisor;
// the buttons are asked again.
func TestFeelingsTyped(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	r.answerUntil("UME", "wellbeing")
	const feel = "正直、まだ手が震えています。明日出勤するのが怖いです"
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: feel})
	if m := r.last("UME"); m.Step != "wellbeing" || !strings.Contains(m.Text, r.svc.Policy.T(mamori.JA, "nav.feelings_kept")) {
		t.Fatalf("after typing how they feel: %+v", m)
	}
	r.reportToSummary("UME")
	r.click("UME", "submit")
	n := r.caseOf("UME")
	hr, err := r.svc.CaseDetails(ctx, user("UHR"), n)
	if err != nil || !strings.Contains(messageText(hr), feel) {
		t.Errorf("HR's details lack their words (%v):\n%s", err, messageText(hr))
	}
	sup, err := r.svc.CaseDetails(ctx, user("USUP"), n)
	if err != nil || strings.Contains(messageText(sup), "手が震えて") {
		t.Errorf("the supervisor reads their words (%v):\n%s", err, messageText(sup))
	}
}

// An answer typed at the menu to a question waiting for the reporter is
// sent with one click; someone with no question waiting is not told
// about questions.
func TestAnswerTypedAtTheMenu(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	n := r.filed(nil)
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UOTHER"), Text: "先週もレジで同じことがありました"})
	for _, m := range r.sent.to(mamori.TargetUser, "UOTHER") {
		if strings.Contains(messageText(m), r.svc.Policy.T(mamori.JA, "menu.kept.reply.button")) || m.Step == "reply" {
			t.Errorf("offered an answer with no question waiting: %+v", m)
		}
	}
	if _, err := r.svc.Ask(ctx, user("USUP"), n, "何時ごろでしたか？"); err != nil {
		t.Fatal(err)
	}
	r.worker.Drain(ctx)
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "15時ごろです。録音もあります"})
	var kept mamori.Message
	for _, m := range r.sent.to(mamori.TargetUser, "UME") {
		if len(m.Choices) == 1 && m.Choices[0].Value == "replydraft:"+n {
			kept = m
		}
	}
	if kept.Step == "" || !strings.Contains(kept.Text, n) {
		t.Fatalf("no one-click answer offered: %+v", r.last("UME"))
	}
	r.click("UME", "replydraft:"+n)
	if k := r.kase(n); len(k.Decision.Questions) != 1 || k.Decision.Questions[0].Answer != "15時ごろです。録音もあります" {
		t.Fatalf("the answer: %+v", k.Decision.Questions)
	}
	// Pressed again: nothing left to send.
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UME"), Step: "reply", Value: "replydraft:" + n})
	all := r.sent.to(mamori.TargetUser, "UME")
	if m := all[len(all)-1]; m.Text != r.svc.Policy.T(mamori.JA, "menu.kept.reply.none") {
		t.Errorf("pressed again: %+v", m)
	}
}

// A "when" typed in the reporter's own words: the card says it is in the
// details, and the details show the words — once, not the card's
// pointer to them as well.
func TestDetailsShowTypedWhenOnce(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	r.answerUntil("UME", "when")
	const when = "昨日の夜、帰り道で"
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: when})
	r.reportToSummary("UME")
	r.click("UME", "submit")
	n := r.caseOf("UME")
	d, err := r.svc.CaseDetails(ctx, user("USUP"), n)
	if err != nil {
		t.Fatal(err)
	}
	text := messageText(d)
	if strings.Count(text, when) != 1 || strings.Contains(text, r.svc.Policy.T(mamori.JA, "card.in_details")) {
		t.Errorf("the details:\n%s", text)
	}
}

// TestDangerOffered (found by a user trial): "怖い" or "殴られた" at the
// menu, too short to keep, is offered the SOS instead of a greeting; a
// call for help inside an answer in a report is kept as the answer, and
// the SOS offered beside the next question.
func TestDangerOffered(t *testing.T) {
	for _, typed := range []string{"怖い", "殴られた", "危ない"} {
		r := newRig(t)
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: typed})
		if m := r.last("UME"); m.Text != r.svc.Policy.T(mamori.JA, "sos.offer") {
			t.Errorf("%q: %+v", typed, m)
		}
	}
	r := newRig(t)
	me := user("UME")
	r.reportUntil("UME", "narrative")
	const now = "いま刃物を持ったお客様が店内にいて怖いです、助けてください"
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: now})
	// On the next question, so that its buttons and the SOS are one set.
	next := r.last("UME")
	if !strings.Contains(next.Note, r.svc.Policy.T(mamori.JA, "sos.offer")) || len(next.Controls) == 0 || next.Controls[0].Value != mamori.StartSOS {
		t.Errorf("no SOS offered: %+v", next)
	}
	r.db.View(context.Background(), func(tx mamori.Tx) error {
		if c, _ := tx.Conversation("slack:UME"); c.Answers.Narrative != now {
			t.Errorf("the account: %q", c.Answers.Narrative)
		}
		return nil
	})
}

// TestDangerNowOffered (found by a user trial): words of a danger now,
// typed at any question of a report — buttons, how they feel, the
// account, in Japanese or English — keep the report going as before and
// put the SOS on the question; fear in the past ("怖かった") does not.
func TestDangerNowOffered(t *testing.T) {
	for _, tc := range []struct {
		step, typed string
		offer       bool
	}{
		{"repeat", "怖いです、助けてください", true},
		{"repeat", "まだお客様が外で待っていて怖い", true},
		{"repeat", "包丁を持っています", true},
		{"wellbeing", "お客様がまだ店の外で待ち伏せしていて怖いです", true},
		{"narrative", "I'm scared, he is still here", true},
		{"narrative", "昨日お客様に怒鳴られて、とても怖かったです", false},
		{"narrative", "今日、レジで殴られそうになって怖かった", false},
		{"repeat", "前にも同じお客様に怒鳴られました", false},
		// Found by a review: ordinary accounts.
		{"narrative", "今回、お客様に暴言を吐かれ、脅されました。", false},
		{"narrative", "今月に入って3回目ですが、怒鳴られて怖かったです", false},
		{"narrative", "I don't know why he threatened me last week", false},
		{"narrative", "客が包丁を振り回したのは先週です", false},
		{"narrative", "客が包丁を持っていました", false},
		{"narrative", "He has a knife", true},
	} {
		r := newRig(t)
		r.reportUntil("UME", tc.step)
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: tc.typed})
		m := r.last("UME")
		offered := strings.Contains(m.Note, r.svc.Policy.T(mamori.JA, "sos.offer")) &&
			slices.ContainsFunc(m.Controls, func(c mamori.Choice) bool { return c.Value == mamori.StartSOS })
		if offered != tc.offer || m.Step == "" {
			t.Errorf("%s, %q: offered %t, last message %+v", tc.step, tc.typed, offered, m)
		}
		if c := r.conv(user("UME")); c.SOS != "" {
			t.Errorf("%q raised an SOS", tc.typed)
		}
	}
	// 「今も怖い」, too short for an account, is kept as how they feel
	// (found by a user trial: it was dropped).
	r := newRig(t)
	r.reportUntil("UME", "repeat")
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "今も怖い"})
	if c := r.conv(user("UME")); c.Answers.Feelings != "今も怖い" || c.Step != "repeat" {
		t.Errorf("「今も怖い」: %+v", c.Answers)
	}
}

// TestDangerAtShortQuestion (found by a user trial): "help me, he is
// still outside and im scared" typed at "where did it happen?" (or the
// customer's name) is no place: it goes with the account, the question
// is asked again with the SOS on it; a place is still a place.
func TestDangerAtShortQuestion(t *testing.T) {
	for _, tc := range []struct {
		step, typed string
		place       bool
	}{
		{"place", "help me, he is still outside and im scared", false},
		{"place", "まだ店の外で待っていて怖い", false},
		{"customer", "助けて、まだいます", false},
		{"place", "本店2階のレジ", true},
	} {
		r := newRig(t)
		r.reportUntil("UME", tc.step)
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: tc.typed})
		c, m := r.conv(user("UME")), r.last("UME")
		if tc.place {
			if c.Answers.Place != tc.typed || c.Step == tc.step {
				t.Errorf("%q: %+v at %s", tc.typed, c.Answers, c.Step)
			}
			continue
		}
		offered := slices.ContainsFunc(m.Controls, func(ch mamori.Choice) bool { return ch.Value == mamori.StartSOS })
		if c.Step != tc.step || c.Answers.Place == tc.typed || c.Answers.Customer == tc.typed || !strings.Contains(c.Answers.Narrative, tc.typed) || !offered || c.SOS != "" {
			t.Errorf("%s, %q: at %s, answers %+v, offered %t", tc.step, tc.typed, c.Step, c.Answers, offered)
		}
	}
}

// TestNotSafeTyped (a user trial): "大丈夫じゃないです" at "are you safe
// now?" points to the buttons that raise the alarm.
func TestNotSafeTyped(t *testing.T) {
	r := newRig(t)
	r.reportUntil("UME", "safety")
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "大丈夫じゃないです"})
	if m := r.last("UME"); m.Step != "safety" || !strings.Contains(m.Text, r.svc.Policy.T(mamori.JA, "safety.not_safe")) {
		t.Errorf("told %+v", m)
	}
}

// TestAnswerSaidFirst (found by a user trial): an answer said first and
// then more ("yes, twice last month") takes the button and keeps the
// words with the account; a slip of the keys ("in persn") still names
// its button; "I am safe" answers the safety question — none of them is
// only added to the account with the buttons asked again. "Yes" said
// first does not answer "are you safe?" when what follows says otherwise.
func TestAnswerSaidFirst(t *testing.T) {
	r := newRig(t)
	me := english("UEN")
	r.do(mamori.Input{Kind: mamori.InputStart, User: me, Value: mamori.StartReport})
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "yes, but he is still here and I am scared"})
	if c := r.conv(me); c.Answers.Safety == "safe" {
		t.Errorf("'yes, but … scared' taken as safe (step %s)", c.Step)
	}
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "I am safe"})
	if c := r.conv(me); c.Answers.Safety != "safe" {
		t.Fatalf("after 'I am safe': safety %q, step %s", c.Answers.Safety, c.Step)
	}
	r.answerUntil("UEN", "channel")
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "in persn"})
	if c := r.conv(me); c.Answers.Channel != "in_person" || strings.Contains(c.Answers.Narrative, "persn") {
		t.Errorf("after 'in persn': channel %q, account %q", c.Answers.Channel, c.Answers.Narrative)
	}
	r.answerUntil("UEN", "repeat")
	const said = "yes, twice last month"
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: said})
	if c := r.conv(me); c.Answers.Repeat != "before" || !strings.HasSuffix(c.Answers.Narrative, said) {
		t.Errorf("after %q: repeat %q, account %q", said, c.Answers.Repeat, c.Answers.Narrative)
	}
	if got := messageText(r.last("UEN")); !strings.Contains(got, r.svc.Policy.T(mamori.EN, "nav.kept_aside")) {
		t.Errorf("not told the words were kept: %q", got)
	}
}

// TestSOSPlaceNotAFeeling (found by a user trial): 「怖い」 sent when the
// SOS asks where they are is passed on as what it is, not as the place
// on the responders' cards, and the place is asked again.
func TestSOSPlaceNotAFeeling(t *testing.T) {
	r := newRig(t)
	me := user("UME")
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "助けて"})
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "怖い"})
	e := r.kase("SOS-2026-0001").Decision.Emergency
	if e.Place != "" || len(e.Notes) != 1 || e.Notes[0].Text != "怖い" {
		t.Errorf("「怖い」 at the place question: %+v", e)
	}
	if m := r.last("UME"); !strings.Contains(m.Text, r.svc.Policy.T(mamori.JA, "sos.place.ask")) {
		t.Errorf("the place was not asked again: %+v", m)
	}
	// A place that speaks of danger is still the place (found by a review).
	const place = "駐車場。ナイフを持った客がいる"
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: place})
	if e := r.kase("SOS-2026-0001").Decision.Emergency; e.Place != place {
		t.Errorf("the place: %q", e.Place)
	}
}

// TestSOSDuringReportKeepsAnswers (found by user trials): while an SOS
// is open, a sentence typed at a report's checkboxes is kept with the
// account and passed on to those responding as well; how they feel,
// typed at "how are you?", is kept for HR alone, as the question says —
// not passed on to the supervisors responding.
func TestSOSDuringReportKeepsAnswers(t *testing.T) {
	r := newRig(t)
	me := r.sosInReport("behaviours")
	const said = "怒鳴られて土下座させられそうになった"
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: said})
	if c := r.conv(me); !strings.HasSuffix(c.Answers.Narrative, said) || c.Step != "behaviours" {
		t.Errorf("the report: account %q at %s", c.Answers.Narrative, c.Step)
	}
	if e := r.kase("SOS-2026-0001").Decision.Emergency; len(e.Notes) != 1 || e.Notes[0].Text != said {
		t.Errorf("not passed on: %+v", e.Notes)
	}
	r.answerUntil("UME", "wellbeing")
	const feel = "つらいです。眠れません"
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: feel})
	if c := r.conv(me); !strings.Contains(c.Answers.Feelings, feel) || c.Step != "wellbeing" {
		t.Errorf("the report: feelings %q at %s", c.Answers.Feelings, c.Step)
	}
	if e := r.kase("SOS-2026-0001").Decision.Emergency; len(e.Notes) != 1 {
		t.Errorf("how they feel was passed on to those responding: %+v", e.Notes)
	}
	if m := r.last("UME"); !strings.Contains(m.Text, r.svc.Policy.T(mamori.JA, "nav.feelings_kept")) {
		t.Errorf("not told the feeling was kept: %q", m.Text)
	}
}

// TestSOSOpenConsultationAndMenu (found by a user trial): with an SOS
// open, a consultation's words go to the consultation (HR's alone), even
// fearful ones; 「報告したい」 at the menu starts a report; the place an
// incident happened, answered in the report, does not replace where they
// said they are now.
func TestSOSOpenConsultationAndMenu(t *testing.T) {
	r := newRig(t)
	me := user("UME")
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "助けて"})
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "2階の倉庫"})
	r.do(mamori.Input{Kind: mamori.InputStart, User: me, Value: mamori.StartConsult})
	const worry = "佐藤さんの対応が不安です。警告だけでは怖いです"
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: worry})
	if c := r.conv(me); c.Answers.Worry != worry {
		t.Errorf("the consultation: worry %q at %s", c.Answers.Worry, c.Step)
	}
	if e := r.kase("SOS-2026-0001").Decision.Emergency; len(e.Notes) != 0 {
		t.Errorf("a consultation's words were passed on: %+v", e.Notes)
	}
	r.click("UME", "nav:cancel")
	r.click("UME", "yes")
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "報告したい"})
	if c := r.conv(me); c.Flow != mamori.FlowReport {
		t.Fatalf("「報告したい」 at the menu during an SOS: flow %q, step %s", c.Flow, c.Step)
	}
	r.answerUntil("UME", "place")
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "渋谷店の1階レジ"})
	if e := r.kase("SOS-2026-0001").Decision.Emergency; e.Place != "2階の倉庫" {
		t.Errorf("the SOS's place became %q", e.Place)
	}
}

// TestStopTyped (found by a user trial): 「もうやめたい」 typed at a question
// asked in words is not its answer: it asks whether to stop, as 「やめる」
// does.
func TestStopTyped(t *testing.T) {
	r := newRig(t)
	r.reportUntil("UME", "demand")
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "もうやめたい"})
	if c := r.conv(user("UME")); c.Answers.Demand != "" || c.Step != "cancel" {
		t.Errorf("「もうやめたい」: demand %q, step %s", c.Answers.Demand, c.Step)
	}
}

// TestEvidenceInOwnWords (found by a user trial): a record described in
// their own words is not shown as "yes" on the supervisors' card, and
// 「残っていません」 is "no".
func TestEvidenceInOwnWords(t *testing.T) {
	for typed, want := range map[string]string{"レシートだけ": "card.in_details", "残っていません": "card.no"} {
		r := newRig(t)
		r.reportUntil("UME", "evidence")
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: typed})
		r.reportToSummary("UME")
		r.click("UME", "submit")
		cards := r.sent.to(mamori.TargetChannel, "C0STORE")
		if len(cards) == 0 {
			t.Fatalf("%s: no card", typed)
		}
		if got := fieldValue(cards[len(cards)-1], r.svc.Policy.T(mamori.JA, "card.evidence")); got != r.svc.Policy.T(mamori.JA, want) {
			t.Errorf("%s: the card says %q, want %q", typed, got, r.svc.Policy.T(mamori.JA, want))
		}
	}
}

// TestTypedAtSummary (found by a user trial): a word typed at the summary
// ("はい") gets a short pointer to its buttons, not the whole summary
// again; a sentence is added to the account and the summary shown with
// it; the edit button's words typed act as the button.
func TestTypedAtSummary(t *testing.T) {
	r := newRig(t)
	me := user("UME")
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport})
	r.reportToSummary("UME")
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "はい"})
	if m := r.last("UME"); m.Step != "summary" || len(m.Fields) != 0 || !strings.HasPrefix(m.Text, "⚠️") || len(m.Choices) != 2 {
		t.Errorf("「はい」 at the summary: %+v", m)
	}
	const more = "あと、お客様は50代くらいの男性でした"
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: more})
	if c := r.conv(me); !strings.HasSuffix(c.Answers.Narrative, more) || c.Step != "summary" {
		t.Errorf("a sentence at the summary: account %q, step %s", c.Answers.Narrative, c.Step)
	}
	if m := r.last("UME"); len(m.Fields) == 0 || !strings.Contains(fmt.Sprint(m.Fields), more) {
		t.Errorf("the summary was not shown again with it: %+v", m)
	}
	// "1" does not send it, nor is "send it" kept as the account (found
	// by a review).
	for _, typed := range []string{"1", "この内容で報告します"} {
		r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: typed})
		if c := r.conv(me); c.Step != "summary" || strings.Contains(c.Answers.Narrative, typed) {
			t.Errorf("%q at the summary: step %s, account %q", typed, c.Step, c.Answers.Narrative)
		}
	}
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: r.svc.Policy.T(mamori.JA, "summary.edit")})
	if m := r.last("UME"); m.Step != "edit" {
		t.Errorf("the edit button's words typed: %+v", m)
	}
}

// TestTypedAnswerNotGuessed (found by a review): a number or word that
// merely begins a sentence, a "yes" followed by "but", and a word a
// letter or two off a short label are not taken for an option.
func TestTypedAnswerNotGuessed(t *testing.T) {
	repeat := []mamori.Choice{{Value: "first", Label: "First time"}, {Value: "before", Label: "It happened before"}, {Value: "unsure", Label: "Not sure"}}
	channel := []mamori.Choice{{Value: "in_person", Label: "In person"}, {Value: "online", Label: "Online"}, {Value: "other", Label: "Other"}}
	for _, tc := range []struct {
		typed string
		opts  []mamori.Choice
		want  string
	}{
		{"yes, twice last month", repeat, "before"},
		{"はい、先月も2回", []mamori.Choice{{Value: "before", Label: "前にもあった"}}, "before"},
		{"3 times this month", repeat, ""},
		{"1, I think", repeat, ""},
		{"yes, but he is still here", repeat, ""},
	} {
		if got, _, _ := flows.LeadingOption(tc.typed, tc.opts); got != tc.want {
			t.Errorf("leading %q: %q, want %q", tc.typed, got, tc.want)
		}
	}
	for _, tc := range []struct{ typed, want string }{
		{"in persn", "in_person"}, {"inperson", "in_person"}, {"in line", ""}, {"mother", ""}, {"not in person", ""},
	} {
		if got, _ := flows.TypoOption(tc.typed, channel); got != tc.want {
			t.Errorf("typo %q: %q, want %q", tc.typed, got, tc.want)
		}
	}
}

// TestSOSAnswerNotPassedOn (found by a review): words the report takes
// as its answer during an SOS are not also passed on as news.
func TestSOSAnswerNotPassedOn(t *testing.T) {
	r := newRig(t)
	me := r.sosInReport("channel")
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "電話でした"})
	if c := r.conv(me); c.Answers.Channel != "phone" {
		t.Errorf("channel %q", c.Answers.Channel)
	}
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "はい"}) // found driving the sandbox: it was passed on
	if e := r.kase("SOS-2026-0001").Decision.Emergency; len(e.Notes) != 0 {
		t.Errorf("an answer was passed on: %+v", e.Notes)
	}
}

// sosInReport has UME, writing a report, at step, raise an SOS and skip
// its question of where they are; it returns UME.
func (r *rig) sosInReport(step string) mamori.User {
	r.t.Helper()
	me := user("UME")
	r.reportUntil("UME", step)
	r.do(mamori.Input{Kind: mamori.InputStart, User: me, Value: mamori.StartSOS})
	r.click("UME", mamori.SOSSkip+":SOS-2026-0001")
	return me
}

// TestPlainWordsEnglish (found by an English re-trial): plain answers
// name their buttons ("it was me", "face to face", "10 to 29"); words
// kept with the account before it is asked are added to, not replaced
// by, the account typed there; "I need a break" pauses; stopping offers
// to continue later; "looks right" at the summary is not kept as the
// account.
func TestPlainWordsEnglish(t *testing.T) {
	r := newRig(t)
	me := english("UEN")
	say := func(s string) { r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: s}) }
	r.do(mamori.Input{Kind: mamori.InputStart, User: me, Value: mamori.StartReport})
	r.click("UEN", "safe")
	say("he threw hot coffee at me, it was me")
	say("it was me")
	if c := r.conv(me); c.Answers.ForWhom != "self" {
		t.Fatalf("'it was me': for_whom %q", c.Answers.ForWhom)
	}
	r.answerUntil("UEN", "narrative")
	say("He shouted and then left the shop.")
	if c := r.conv(me); !strings.Contains(c.Answers.Narrative, "hot coffee") || !strings.Contains(c.Answers.Narrative, "left the shop") {
		t.Errorf("the account: %q", c.Answers.Narrative)
	}
	r.answerUntil("UEN", "channel")
	say("face to face")
	if c := r.conv(me); c.Answers.Channel != "in_person" {
		t.Errorf("'face to face': channel %q", c.Answers.Channel)
	}
	say("I need a break")
	if c := r.conv(me); !c.Paused {
		t.Errorf("'I need a break' did not pause (step %s)", c.Step)
	}
	say("stop")
	if m := r.last("UEN"); !slices.ContainsFunc(m.Choices, func(c mamori.Choice) bool { return c.Value == "nav:later" }) {
		t.Errorf("stopping does not offer to continue later: %+v", m.Choices)
	}
	r.click("UEN", "nav:later")
	if c := r.conv(me); !c.Paused || c.Step == "cancel" {
		t.Errorf("later from the stop prompt: paused %v at %s", c.Paused, c.Step)
	}
}

// TestReviewedPaths (found by a review of the re-trial's fixes): "I'm
// safe now" pressed while the report's question waits for the place
// brings the question; "nobody got hurt" raises no alarm; going back to
// the account replaces it; the kept words typed again are not doubled;
// a request with an account at the menu keeps the account; a long
// sentence at the summary is added even with "right" in it.
func TestReviewedPaths(t *testing.T) {
	r := newRig(t)
	me := english("UEN")
	say := func(s string) { r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: s}) }
	r.do(mamori.Input{Kind: mamori.InputStart, User: me, Value: mamori.StartReport})
	say("nobody got hurt")
	if c := r.conv(me); c.Answers.Safety != "" || c.SOS != "" {
		t.Errorf("'nobody got hurt': safety %q, SOS %q", c.Answers.Safety, c.SOS)
	}
	r.click("UEN", "danger")
	r.click("UEN", mamori.SOSSafe+":SOS-2026-0001")
	if m := r.last("UEN"); m.Step != "for_whom" {
		t.Errorf("after 'I'm safe now' the report's question did not come: %+v", m)
	}
	r.answerUntil("UEN", "narrative")
	say("first account")
	r.click("UEN", "nav:back")
	say("rewritten account")
	if c := r.conv(me); c.Answers.Narrative != "rewritten account" {
		t.Errorf("back and retyped: %q", c.Answers.Narrative)
	}

	r2 := newRig(t)
	const asked = "客に殴られたので報告します"
	r2.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: asked})
	if c := r2.conv(user("UME")); c.Flow != mamori.FlowReport || c.Answers.Narrative != asked {
		t.Fatalf("a request with an account: flow %q, account %q", c.Flow, c.Answers.Narrative)
	}
	r2.answerUntil("UME", "narrative")
	r2.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: asked})
	if c := r2.conv(user("UME")); c.Answers.Narrative != asked {
		t.Errorf("the kept words typed again: %q", c.Answers.Narrative)
	}
	r2.reportToSummary("UME")
	const more = "I was frightened he would come back tonight"
	r2.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: more})
	if c := r2.conv(user("UME")); !strings.HasSuffix(c.Answers.Narrative, more) {
		t.Errorf("a sentence at the summary: %q", c.Answers.Narrative)
	}
}

// TestReTrialWords (found by a user re-trial): requests at the menu during
// an open SOS are acted on; words at a consultation's buttons are kept
// with the question; an account pasted at "are you safe?" is kept;
// "help me" there is the danger button; a request to report without an
// account is not kept as one; more words of coming back are no answer.
func TestReTrialWords(t *testing.T) {
	r := newRig(t)
	me := user("UME")
	r.do(mamori.Input{Kind: mamori.InputStart, User: me, Value: mamori.StartSOS})
	r.click("UME", mamori.SOSSkip+":SOS-2026-0001")
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "方針を見せて"})
	if e := r.kase("SOS-2026-0001").Decision.Emergency; len(e.Notes) != 0 {
		t.Errorf("a request passed on as SOS news: %+v", e.Notes)
	}

	r = newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, User: me, Value: mamori.StartConsult})
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "毎日同じ方から1時間の電話があります"})
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "昨日は2時間も続きました"})
	if c := r.conv(me); !strings.HasSuffix(c.Answers.Worry, "昨日は2時間も続きました") {
		t.Errorf("words at a consultation's buttons: %q", c.Answers.Worry)
	}

	r = newRig(t)
	const account = "レジで三十分以上怒鳴られて、他のお客様もいて怖かったです。商品を投げられました。"
	r.do(mamori.Input{Kind: mamori.InputStart, User: me, Value: mamori.StartReport})
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: account})
	if c := r.conv(me); c.Answers.Narrative != account || c.Step != "safety" {
		t.Errorf("an account at are you safe: %+v", c.Answers)
	}
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "help me"})
	if c := r.conv(me); c.SOS == "" || c.Answers.Safety != "danger" {
		t.Errorf("help me at are you safe: %+v", c)
	}

	r = newRig(t)
	r.do(mamori.Input{Kind: mamori.InputText, User: me, Text: "もう一件、別のお客様のことで報告したいです"})
	if c := r.conv(me); c.Answers.Narrative != "" || c.Flow != mamori.FlowReport {
		t.Errorf("a request to report: %+v", c)
	}
	for _, typed := range []string{"すみません、遅くなりました", "続きをやります", "戻りました、よろしくお願いします", "sorry, I'm back now"} {
		if !flows.Greeting(typed) {
			t.Errorf("%q is not words of coming back", typed)
		}
	}
}

// TestEnglishTrialWords (found by an English user trial).
func TestEnglishTrialWords(t *testing.T) {
	en := english("UEN")
	say := func(r *rig, s string) { r.do(mamori.Input{Kind: mamori.InputText, User: en, Text: s}) }

	// A cry for help in plain words is offered the SOS at the menu.
	r := newRig(t)
	say(r, "help hes here, hes at the front door shouting for me")
	if m := r.last("UEN"); !strings.Contains(m.Text, r.svc.Policy.T(mamori.EN, "sos.offer")) {
		t.Errorf("a cry for help at the menu: %+v", m)
	}

	// Words kept long before (an answer to a check-in, perhaps for HR
	// alone) do not go to those responding to a later SOS.
	r = newRig(t)
	say(r, "not great tbh, i cant sleep and i keep thinking about it")
	r.advance(2 * time.Hour)
	say(r, "sos")
	if e := r.kase("SOS-2026-0001").Decision.Emergency; len(e.Notes) != 0 && strings.Contains(e.Notes[0].Text, "sleep") {
		t.Errorf("an old draft passed on: %+v", e.Notes)
	}

	// "he's gone now, I'm safe" during a report closes the SOS.
	r = newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart, User: en, Value: mamori.StartReport})
	r.click("UEN", "safe")
	r.do(mamori.Input{Kind: mamori.InputStart, User: en, Value: mamori.StartSOS})
	r.click("UEN", mamori.SOSSkip+":SOS-2026-0001")
	say(r, "ok hes gone now, im safe")
	if e := r.kase("SOS-2026-0001").Decision.Emergency; e.Safe.IsZero() {
		t.Errorf("not closed by %q", "ok hes gone now, im safe")
	}

	// "…, can i finish this later" pauses.
	say(r, "sorry someone needs me at the counter, can i finish this later")
	if c := r.conv(en); !c.Paused {
		t.Errorf("not paused: %+v", c)
	}

	// Requests at the menu, said as people say them.
	for typed, header := range map[string]string{
		"can i see the harassment policy?":                    policyHeader(r, mamori.EN),
		"who can i talk to? i need support":                   r.svc.Policy.T(mamori.EN, "care.header"),
		"what do i do, a customer is yelling at me right now": r.svc.Policy.T(mamori.EN, "onsite.header"),
	} {
		r := newRig(t)
		say(r, typed)
		ms := r.sent.to(mamori.TargetUser, "UEN")
		if len(ms) < 2 || ms[len(ms)-2].Header != header {
			t.Errorf("%q: %+v", typed, ms)
		}
	}
}

// policyHeader is the header of the policy's message in l.
func policyHeader(r *rig, l mamori.Lang) string {
	return flows.PolicyMessage(flows.Env{Policy: r.svc.Policy, Org: r.svc.Org}, l).Header
}

// TestThirdReviewWords (found by a third review): what does not close an
// SOS, raise one, pause a report or answer a question.
func TestThirdReviewWords(t *testing.T) {
	for _, typed := range []string{"i'm ok, he hasn't left yet", "im ok. he is waiting for me at the exit", "i'm not sure i'm ok",
		"もう大丈夫じゃないです", "無事ですが、お客様が戻ってきました", "I'm fine, thanks for asking, he's still outside"} {
		if flows.SafeNow(typed) {
			t.Errorf("%q closes an SOS", typed)
		}
	}
	for _, typed := range []string{"ok hes gone now, im safe", "he left, i'm ok now", "お客様は帰りました、もう大丈夫です"} {
		if !flows.SafeNow(typed) {
			t.Errorf("%q does not close an SOS", typed)
		}
	}
	for typed, denied := range map[string]bool{"助けてほしいわけじゃない": true, "助けてとは言ってない": true, "help? i'm ok": true,
		"助けて、動けない": false, "dont need help": true} {
		if flows.HelpDenied(typed) != denied {
			t.Errorf("HelpDenied(%q) = %t", typed, !denied)
		}
	}
	for typed, pause := range map[string]bool{"…then my manager came over and said, take a break": false,
		"he shouted at me and threw the receipt, i have to go": false, "sorry someone needs me at the counter, can i finish this later": true} {
		if flows.PauseWish(typed) != pause {
			t.Errorf("PauseWish(%q) = %t", typed, !pause)
		}
	}
	for typed, want := range map[string]string{"1時間もかからなかった": "", "1時間はなかったと思います": "", "not 10 minutes, more like an hour": ""} {
		if got, _ := flows.DurationOption(typed); got != want {
			t.Errorf("DurationOption(%q) = %q", typed, got)
		}
	}
	// An account at the menu with "what do I do" in it is kept.
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "客に土下座しろと言われました。どうすればいいですか"})
	if c := r.conv(user("UME")); c.Draft == "" {
		t.Errorf("the account at the menu was not kept: %+v", c)
	}
	// An emergency typed a minute before an SOS goes with it, a check-in
	// waiting or not.
	r = newRig(t)
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "先週のお客様がまた来て、帰してもらえません"})
	r.advance(time.Minute)
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "SOS"})
	if e := r.kase("SOS-2026-0001").Decision.Emergency; len(e.Notes) == 0 || !strings.Contains(e.Notes[0].Text, "帰してもらえません") {
		t.Errorf("the words just before the SOS: %+v", e.Notes)
	}
}

// TestFourthReviewWords (found by a fourth review).
func TestFourthReviewWords(t *testing.T) {
	for typed, denied := range map[string]bool{"助けて 動けない": false, "助けて\n帰れない": false, "帰れない助けて": false, "sos not safe": false,
		"help not safe": false, "助けてほしいわけじゃない": true, "help? i'm ok": true} {
		if flows.HelpDenied(typed) != denied {
			t.Errorf("HelpDenied(%q) = %t", typed, !denied)
		}
	}
	for _, typed := range []string{"お客様が帰りました、もう大丈夫です", "お客様が帰りました、もう大丈夫", "客が帰ったので、もう大丈夫です",
		"they're gone, i'm safe", "i'm safe, he's gone"} {
		if !flows.SafeNow(typed) {
			t.Errorf("%q does not close an SOS", typed)
		}
	}
	for typed, pause := range map[string]bool{"sorry, i need a break": true, "すみません、ちょっと休みたいです": true, "ごめん、また後で": true} {
		if flows.PauseWish(typed) != pause {
			t.Errorf("PauseWish(%q) = %t", typed, !pause)
		}
	}
	readsAs(t, map[string]string{"眠れるようになったと思います": "fine", "産業医に相談したら、よく眠れるようになりました": "fine",
		"少し不安だったけど、もう怖くないです": "fine", "i'm ok, i didnt expect a check in": "fine", "i'm good, doesnt bother me anymore": "fine",
		"I'm ok, don’t worry": "fine", "i can't stop thinking about it i want to talk to someone": "talk",
		"i want to talk to someone about another thing": "talk", "眠れるようになったらいいのですが": "hard"})
	// Old words (a worry for HR alone, hours before) do not go with an SOS;
	// the words just before it do, across the menu opened again.
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "上司に相談しても信じてもらえず、人事にだけ知ってほしいです"})
	r.advance(5 * time.Hour)
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "またあのお客様が来ました"})
	r.do(mamori.Input{Kind: mamori.InputStart, User: user("UME")})
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "SOS"})
	e := r.kase("SOS-2026-0001").Decision.Emergency
	if len(e.Notes) != 1 || strings.Contains(e.Notes[0].Text, "人事にだけ") || !strings.Contains(e.Notes[0].Text, "またあのお客様") {
		t.Errorf("the SOS's note: %+v", e.Notes)
	}
	// A request longer than thirty characters without an account starts.
	r = newRig(t)
	r.do(mamori.Input{Kind: mamori.InputText, User: english("UEN"), Text: "i want to report something that happened today"})
	if c := r.conv(english("UEN")); c.Flow != mamori.FlowReport {
		t.Errorf("a longer request to report: %+v", c)
	}
}

// TestFifthReviewWords (found by a fifth review).
func TestFifthReviewWords(t *testing.T) {
	readsAs(t, map[string]string{"落ち着いたけど、仕事に行くのがつらい": "hard", "怖くなくなったけど、眠りが浅い": "",
		"眠れるようになったと思ったら、昨日は全然眠れなくて": "hard", "i'm fine, but i'm not": "hard", "i'm ok, not really": "hard",
		"大丈夫、、じゃないかも": "hard", "大丈夫。じゃないです": "hard", "i don’t want to talk": "", "i dont really want to talk": "",
		"i wouldn't like to talk": "", "i don't want anyone to call me": ""})
	for _, typed := range []string{"no sos", "not sos", "dont need sos", "sos not needed", "SOSいらない", "SOSは不要", "SOSじゃなくて", "助けてとかじゃない"} {
		if !flows.HelpDenied(typed) {
			t.Errorf("HelpDenied(%q) = false", typed)
		}
	}
	// Danger typed at the menu reaches a later SOS, more words after it
	// or not; an old worry between does not.
	r := newRig(t)
	say := func(s string) { r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: s}) }
	say("人事にだけ知ってほしいです、店長とうまくいっていません")
	r.advance(40 * time.Minute)
	say("お客様に包丁を向けられて、倉庫に隠れています")
	r.advance(16 * time.Minute)
	say("まだ店内にいるみたいです")
	r.advance(time.Minute)
	say("SOS")
	e := r.kase("SOS-2026-0001").Decision.Emergency
	if len(e.Notes) != 1 || !strings.Contains(e.Notes[0].Text, "包丁") || !strings.Contains(e.Notes[0].Text, "店内") || strings.Contains(e.Notes[0].Text, "人事にだけ") {
		t.Errorf("the SOS's note: %+v", e.Notes)
	}
}

// TestSixthReviewWords (found by a sixth review).
func TestSixthReviewWords(t *testing.T) {
	readsAs(t, map[string]string{"つらかったけど、今は大丈夫です": "fine", "it was hard but i'm ok now": "fine", "大丈夫ですが、眠れません": "hard",
		"眠れないけど、家族は元気です": "hard", "it's hard but my supervisor has been good": "hard", "話を聞いてほしいけど、今は大丈夫です": "talk",
		"つらいけど、頑張ります": "hard", "眠れないけど、仕事には行っています": "hard", "眠れない日が今でも続いています": "hard",
		"大丈夫です、心配ないです": "fine", "元気です！気にしないでください": "fine", "大丈夫です。何もないです": "fine", "i'm ok, nothing new": "fine",
		"i don't mind if you call me": "talk", "お客様が怖いけど、なんとか頑張ります": "hard"})
	for typed, denied := range map[string]bool{"助けてって言っても来ない": false, "casino sos": false, "sos no one is here": false} {
		if flows.HelpDenied(typed) != denied {
			t.Errorf("HelpDenied(%q) = %t", typed, !denied)
		}
	}
	if !flows.PauseWish("ok, i need a break") {
		t.Error(`"ok, i need a break" does not pause`)
	}
	// A worry with fear in it, typed long before, is not passed on to a
	// later SOS; a request to report with fear in the past starts it.
	if notes := sosAfter(t, "人事にだけ相談したいのですが、店長が怖くて毎日つらいです", 90*time.Minute); len(notes) != 0 {
		t.Errorf("an old worry passed on: %+v", notes)
	}
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "お客様に怒鳴られて怖かったので報告したい"})
	if c := r.conv(user("UME")); c.Flow != mamori.FlowReport {
		t.Errorf("a request to report: %+v", c)
	}
}

// TestSeventhReviewWords (found by a seventh review).
func TestSeventhReviewWords(t *testing.T) {
	readsAs(t, map[string]string{"i'm fine, no i'm not": "hard", "i'm ok, actually not": "hard", "i'm ok, not so much": "hard",
		"i'm fine, or not": "hard", "大丈夫、なわけない": "hard", "大丈夫です。いいえ、本当は違います": "hard", "大丈夫でしたが、今はそうでもない": "hard",
		"i don't mind but please don't call me": "", "never mind i don't want to talk": "", "i thought i'd like to talk, but not anymore": "",
		"話を聞いてほしいと思ったけど、やっぱりいいです": "", "i'm not sure but i want to talk": "talk", "i don't want you to worry but call me": "talk",
		"i said i'm ok but i'm really not": "hard", "i was fine but now i'm not": "hard", "i'm fine, but no i'm not": "hard"})
}

// TestEighthReviewWords (found by an eighth review).
func TestEighthReviewWords(t *testing.T) {
	readsAs(t, map[string]string{"連絡してほしいけど、メールで結構です": "talk", "相談したいですが、お時間のあるときで結構です": "talk",
		"話を聞いてほしいけど、忙しければやっぱりいいです": "talk", "i'd like to talk but i'm no longer at that store": "talk",
		"i want to talk, though i'm no longer scared": "talk", "眠れなくなりましたが、もう大丈夫だと思いたいです": "hard",
		"怖くて休みましたが、もう平気なふりをしています": "hard", "泣いてしまいましたが、もう大丈夫かな": "hard",
		"i'm ok, don't call me": "fine", "平気です、連絡はいりません": "fine", "大丈夫です。あれから来ていません": "fine", "元気です。変わりないです": "fine",
		"話を聞いてほしいと思ったけど、やっぱりいいです": ""})
	// Fear with まだ typed long ago for HR is not passed on to an SOS.
	if notes := sosAfter(t, "まだあの客のことが怖くて眠れません。上司には知られたくないので人事に相談したいです", 90*time.Minute); len(notes) != 0 {
		t.Errorf("an old worry passed on: %+v", notes)
	}
}

// readsAs checks what each check-in answer reads as.
func readsAs(t *testing.T, want map[string]string) {
	t.Helper()
	for typed, w := range want {
		if got := flows.CheckinSense(typed); got != w {
			t.Errorf("CheckinSense(%q) = %q, want %q", typed, got, w)
		}
	}
}

// sosAfter is what an SOS raised after words typed at the menu, after
// that long, passes on.
func sosAfter(t *testing.T, words string, after time.Duration) []mamori.Note {
	t.Helper()
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: words})
	r.advance(after)
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "SOS"})
	return r.kase("SOS-2026-0001").Decision.Emergency.Notes
}

// TestLateDangerButton (found by a user trial): 「危険を感じている」
// pressed on the first question long after it was answered raises the
// alarm — it was "that button was for an earlier question".
func TestLateDangerButton(t *testing.T) {
	r := newRig(t)
	r.reportUntil("UME", "repeat")
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UME"), Step: "safety", Value: "danger"})
	c := r.conv(user("UME"))
	if c.SOS == "" || c.Answers.Safety != "danger" || c.Flow != mamori.FlowReport {
		t.Fatalf("no alarm: %+v", c)
	}
	if a := r.alertsTo(mamori.TargetChannel, "C0HR"); len(a) == 0 {
		t.Error("HR not alerted")
	}
	// Paused, or at the menu, too (found by a review).
	r = newRig(t)
	r.reportUntil("UME", "repeat")
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "あとで"})
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UME"), Step: "safety", Value: "injured"})
	if c := r.conv(user("UME")); c.SOS == "" || c.Paused {
		t.Errorf("paused: %+v", c)
	}
	r = newRig(t)
	r.do(mamori.Input{Kind: mamori.InputStart})
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UME"), Step: "safety", Value: "danger"})
	if c := r.conv(user("UME")); c.SOS == "" {
		t.Errorf("at the menu: %+v", c)
	}
}

// TestYesToTheSOSOffer (found by a user trial): 「はい」 to "in danger now?
// press SOS", just offered at the menu, raises it — it was a greeting. A
// yes much later, or after other words, is not.
func TestYesToTheSOSOffer(t *testing.T) {
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "まだ店の外にいて怖い"})
	if m := r.sent.to(mamori.TargetUser, "UME"); !strings.HasPrefix(m[len(m)-1].Text, r.svc.Policy.T(mamori.JA, "sos.offer")) {
		t.Fatalf("offered: %+v", m[len(m)-1])
	}
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "はい"})
	if c := r.conv(user("UME")); c.SOS == "" {
		t.Fatal("「はい」 raised no SOS")
	}
	// Safe, then a report from the SOS: what was written at the menu is
	// its account (found by the same trial: it was lost).
	r.click("UME", mamori.SOSSafe+":SOS-2026-0001")
	r.click("UME", mamori.SOSReport+":SOS-2026-0001")
	if c := r.conv(user("UME")); c.Flow != mamori.FlowReport || !strings.Contains(c.Answers.Narrative, "まだ店の外にいて怖い") {
		t.Errorf("the report from the SOS: %+v", c.Answers)
	}
	// In a report too, and the yes is no answer (found by a re-trial: it
	// was saved as the place); 「また来た」 alone at the menu is offered
	// it too (it was a greeting).
	r = newRig(t)
	r.reportUntil("UME", "place")
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "また来た"})
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "お願いします"})
	if c := r.conv(user("UME")); c.SOS == "" || c.Answers.Place == "お願いします" {
		t.Errorf("a yes in a report: SOS %q, place %q", c.SOS, c.Answers.Place)
	}
	// Thanks, or a sentence, after the offer is no yes; a yes that answers
	// the question asked answers it (found by a review).
	for _, said := range []string{"ありがとうございます", "thanks", "please send it to my manager"} {
		r = newRig(t)
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "昨日、お客様に殴られました。まだ怖いです"})
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: said})
		if c := r.conv(user("UME")); c.SOS != "" {
			t.Errorf("%q after the offer raised an SOS", said)
		}
	}
	r = newRig(t)
	r.reportUntil("UME", "repeat")
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "まだ外で待っていて怖い"})
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "はい"})
	if c := r.conv(user("UME")); c.SOS != "" || c.Answers.Repeat != "before" {
		t.Errorf("「はい」 at has it happened before: SOS %q, answer %q", c.SOS, c.Answers.Repeat)
	}
	r = newRig(t)
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "また来た"})
	if m := r.sent.to(mamori.TargetUser, "UME"); !strings.HasPrefix(m[len(m)-1].Text, r.svc.Policy.T(mamori.JA, "sos.offer")) {
		t.Errorf("「また来た」 at the menu: %+v", m[len(m)-1])
	}
	r = newRig(t)
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "まだ店の外にいて怖い"})
	r.clock.Add(time.Hour)
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "はい"})
	if c := r.conv(user("UME")); c.SOS != "" {
		t.Error("a yes an hour later raised an SOS")
	}
}

// TestDangerWordsDescribing (found by a review): danger words quoted, of
// the past or of habit, at a short question, describe — they are its
// answer (the SOS offered beside it), not words set aside.
func TestDangerWordsDescribing(t *testing.T) {
	for _, tc := range []struct{ step, typed string }{
		{"customer", "前にも「覚えてろ」と言ってきた男性"},
		{"customer", "いつも閉店まで駐車場で待ってる常連の男性"},
		{"customer", "older man, said he knows where i live"},
		{"place", "帰り道の駅のホーム"},
	} {
		r := newRig(t)
		r.reportUntil("UME", tc.step)
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: tc.typed})
		if c := r.conv(user("UME")); c.Step == tc.step || c.Answers.Customer != tc.typed && c.Answers.Place != tc.typed {
			t.Errorf("%s, %q: at %s, %+v", tc.step, tc.typed, c.Step, c.Answers)
		}
	}
}

// TestSecondReviewWords (found by a second review): a yes to the SOS said
// as people say it raises it; calls for help beside something done now
// raise at the menu, while a check-in waits too, and for a customer back
// since yesterday; fear beside a wish for help is offered, not raised.
func TestSecondReviewWords(t *testing.T) {
	for _, yes := range []string{"はい、お願いします", "Yes, please", "yes pls send it"} {
		r := newRig(t)
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "まだ店の外にいて怖い"})
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: yes})
		if c := r.conv(user("UME")); c.SOS == "" {
			t.Errorf("%q after the offer raised nothing", yes)
		}
	}
	for _, tc := range []struct {
		typed string
		raise bool
	}{
		{"助けて、包丁を持っています", true},
		{"昨日の客がまた来た、助けて", true},
		{"please help me he's still here", true},
		{"助けてくれ！", true},
		{"助けてもらえませんか、まだ外にいます", true},
		{"お客さんがまだ怒鳴っています、助けて", true},
		{"まだ不安で怖いので助けてほしいです", false},
		{"I'm still afraid to go to work, please help", false},
	} {
		r := newRig(t)
		r.filed(nil)
		r.advance(71 * time.Hour) // a check-in waits
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: tc.typed})
		if raised := r.conv(user("UME")).SOS != ""; raised != tc.raise {
			t.Errorf("%q: raised %t", tc.typed, raised)
		}
	}
}

// TestThirdReviewSOSWords (found by a third review): how they feel, a
// question how to do something, a quote, something long past, or a lone
// "it" after an offer raise no SOS; danger present at a check-in is no
// check-in answer.
func TestThirdReviewSOSWords(t *testing.T) {
	for typed, raise := range map[string]bool{
		"まだ店で働いていますが助けてほしいです": false, "帰らないお客様への対応で助けてほしい": false, "まだ店頭に立つのが怖い、助けてほしい": false,
		"助けて、と言われた": false, "help me, how do i report this": false, "助けてください、入力の仕方が分かりません": false,
		"助けて、先週また来た客のことで相談したい": false, "助けて、まだ店の外にいます": true, "お客様がまだ店内にいます、助けて": true,
	} {
		r := newRig(t)
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: typed})
		if raised := r.conv(user("UME")).SOS != ""; raised != raise {
			t.Errorf("%q: raised %t", typed, raised)
		}
	}
	r := newRig(t)
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "まだ店の外にいて怖い"})
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "do it"})
	if c := r.conv(user("UME")); c.SOS != "" {
		t.Error("\"do it\" after the offer raised an SOS")
	}
	for _, typed := range []string{"あの客が今も店の前にいて怖いです", "he's waiting outside, i'm scared"} {
		r := newRig(t)
		r.filed(nil)
		r.advance(71 * time.Hour) // a check-in waits
		r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: typed})
		if c := r.conv(user("UME")); c.Checkin == "" {
			t.Errorf("%q at a check-in read as how they are", typed)
		}
	}
}
