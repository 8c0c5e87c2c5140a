package flows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mamori-oss/mamori"
)

// An SOS is an employee in danger now. It is a case of its own
// (mamori.KindSOS, SOS-2026-0001): the alert goes out at once to the
// department's supervisor channel, HR's channel and the on-call list; the
// employee is asked one question afterwards (where are you? — optional);
// the first responder to press "I'm on it" is shown to the employee and on
// every card; nobody within AckWithin escalates it, by DM, along a chain,
// until someone does. "I'm safe now" closes it and offers a report with
// what is known.

// SOS says who answers an SOS besides the department's supervisors and HR,
// and how fast.
type SOS struct {
	// OnCall are alerted with the channels (user ids or emails).
	OnCall []string
	// AckWithin is how long an alert waits for "I'm on it" before it
	// escalates (default 3 minutes), and again between escalations.
	AckWithin time.Duration
	// Escalation are the people alerted by DM, one level per round, the
	// last level again every round after. Empty: the department's
	// supervisors, then HR.
	Escalation [][]string
	// MaxRounds is how many times it escalates before HR's channel is told
	// that nobody has answered (default 10).
	MaxRounds int
}

func (c SOS) ackWithin() time.Duration {
	if c.AckWithin > 0 {
		return c.AckWithin
	}
	return 3 * time.Minute
}

func (c SOS) maxRounds() int {
	if c.MaxRounds > 0 {
		return c.MaxRounds
	}
	return 10
}

const (
	stepSOS = "sos" // the Step of the employee's SOS messages
	jobSOS  = "sos.escalate"
)

// SOSOut asks the host to act on the employee's SOS.
type SOSOut struct {
	// Raise an SOS; Safety is danger or injured; InReport is set when it
	// came from the report's safety question (no question about the
	// place: the report asks it).
	Raise    bool
	Safety   string
	InReport bool
	// Status: the SOS is already open; say where it stands.
	Status bool
	// Number is the open SOS the rest apply to.
	Number string
	Place  string
	// FromReport: Place is the report's answer (where it happened), taken
	// only while the SOS has no place of its own.
	FromReport bool
	Note       string
	Files      []mamori.File
	Safe       bool
}

// sosWord reports whether typed text is a call for help: SOS, 助けて,
// たすけて (with or without "ください" and an exclamation mark), or the
// report's "in danger" answer said outright ("危険を感じている", "I'm in
// danger"). At the menu (anywhere), one sentence of it is enough
// ("お客様が刃物を持っています。助けてください"); in a report the whole text
// must be it, since an account may quote such words.
func sosWord(s string, anywhere bool) bool {
	if !anywhere {
		return sosPhrase(s)
	}
	if helpCry.MatchString(s) {
		return true
	}
	for _, sentence := range sentences(s) {
		if sosPhrase(sentence) {
			return true
		}
		// Cried first, then more (「助けて、まだ店の外にいます」, "help me,
		// he is still outside"): not said of the past, nor to say none is
		// needed (found by a trial: only offered).
		if first, rest, more := strings.Cut(commas.Replace(sentence), "、"); more && sosPhrase(first) &&
			dangerNow(rest) && !strings.HasPrefix(strings.TrimSpace(rest), "と") && !strings.HasPrefix(strings.TrimSpace(rest), "って") &&
			(!pastWords.MatchString(sentence) || backAgain(sentence)) && !helpDenied(sentence) {
			return true
		}
	}
	return false
}

// commas makes every comma 「、」.
var commas = strings.NewReplacer("，", "、", ",", "、")

// helpAndDanger reports a call for help made now beside a danger now in
// one sentence ("pls help hes back", 「助けて、包丁を持っています」): not
// said of the past, nor to say none is needed, nor help someone gave or
// help with something (「同僚が助けてくれたけど、まだ怖い」, "I need help
// following up on my report").
func helpAndDanger(s string) bool {
	for _, sentence := range sentences(s) {
		// Something done or held now (a weapon, the customer back, still
		// there): fear alone beside a wish for help is offered (found by
		// a review: 「まだ怖いので助けてほしい」 alerted the department).
		if callsForHelp(sentence) && dangerAct(sentence) && (!pastWords.MatchString(sentence) || backAgain(sentence)) && !helpDenied(sentence) &&
			!holdsAny(sentence, "助けてほし", "助けて欲し", "対応", "方法", "仕方", "教えて") && !asksHowEN.MatchString(sentence) {
			return true
		}
	}
	return false
}

// asksHowEN asks how to do something: advice, not an alarm.
var asksHowEN = regexp.MustCompile(`(?i)\bhow (do|to|should|can)\b`)

// backAgain reports the customer back now, however long ago they came
// first (「昨日の客がまた来た」, "the guy from yesterday is back").
func backAgain(s string) bool {
	return backNow.MatchString(s) || holdsAny(s, "また来た", "また来ています", "また来てる", "戻ってきた", "戻って来た") && !cameBefore.MatchString(s)
}

// helpOther is help given, wished for, or asked with something — no call
// for it now.
var helpOther = regexp.MustCompile(`(?i)助けて(くれ(た|て|ました|ません|なかった)|もら(った|いました)|ほしかった|欲しかった|あげ|下さっ|いただいた)|助けられ|\bhelped\b|help (me )?(to |with |understand|figur|find|decid|follow|report|writ|fill)|need help (with|to|\w+ing)`)

// sosYes reports whether typed, right after the SOS was offered, is a yes
// to it: a yes or a please alone — not thanks, nor a sentence.
func sosYes(typed string) bool {
	if strings.ContainsAny(typed, "?？") {
		return false // "yes?" asks
	}
	clauses := strings.FieldsFunc(typed, func(r rune) bool { return strings.ContainsRune("、,，。.!！ ", r) })
	said := false
	for _, c := range clauses {
		switch strings.TrimSuffix(spoken(c), "ください") {
		case "はい", "うん", "ええ", "お願いします", "おねがいします", "お願い", "押して", "送って", "押します", "送ります", "sosを送って",
			"yes", "y", "yeah", "yep", "please", "pls", "plz", "send", "press", "sos":
			said = true
		case "it", "do":
		default:
			return false
		}
	}
	return said // 「はい、お願いします」, "Yes, please", "yes pls send it" — not "do it"
}

func sosPhrase(s string) bool {
	s = strings.TrimSuffix(strings.ReplaceAll(plain(s), "’", "'"), "ください")
	switch strings.TrimSuffix(s, "ます") {
	case "sos", "ｓｏｓ", "助けて", "たすけて", "タスケテ", "助けてくれ", "助けてもらえませんか", "助けてもらえますか", "help me", "危険を感じている", "危険を感じてい", "危険を感じる",
		"i feel in danger", "i'm in danger", "i am in danger", "im in danger":
		return true
	}
	return helpPhrases[squash(toHalfWidth(s))]
}

// helpCry is "help" cried out, "HELP!!", "help!" — not "help" asked for
// (the menu's help). At the menu only: at a question it is offered the
// SOS beside how to answer.
var helpCry = regexp.MustCompile(`(?i)^\W*help\s*!+\W*$`)

// helpPhrases are more ways of calling for help, squashed ("お願い、
// 助けて", "someone please help", "I need help now").
var helpPhrases = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range []string{"お願い助けて", "お願いします助けて", "誰か助けて", "だれか助けて", "助けてお願い", "助けてください", "助けて下さい",
		"今すぐ助けて", "すぐ来て", "すぐに来て", "誰か来て",
		"please help", "please help me", "help me please", "someone help", "someone help me", "someone please help",
		"somebody help", "somebody help me", "i need help now", "need help now", "help me now", "please help now",
		"pls help", "plz help", "pls help me", "plz help me", "help help", "警備員を呼んで", "警察を呼んで", "誰か呼んで",
		"call security", "get security", "call the police", "call police", "someone come", "can someone come", "someone come now",
		"send someone", "send someone now", "i need someone here"} {
		m[squash(p)] = true
	}
	return m
}()

// sentences splits typed text at the ends of its sentences and lines.
func sentences(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune("。．.!！?？\n", r) })
}

// dangerHint reports whether text typed at the menu speaks of a present
// danger without calling for help — a weapon, violence or its threat,
// being followed or kept from leaving: the person is offered the SOS
// button beside what was kept. A word too many costs a line of text; a
// word too few, a missed offer.
func dangerHint(s string) bool { return holdsAny(s, dangerWords...) }

// holdsAny reports whether typed text holds one of words (lower case)
// anywhere.
func holdsAny(s string, words ...string) bool {
	s = strings.ToLower(s)
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

var dangerWords = []string{
	"刃物", "ナイフ", "包丁", "凶器", "殺", "危険", "危ない",
	"殴", "蹴", "暴力", "脅", "刺され", "刺す", "刺そう", "首を絞", "つかみかか", "掴みかか", "胸ぐら",
	"待ち伏せ", "つきまと", "付きまと", "後をつけ", "跡をつけ", "閉じ込め", "帰してもらえ", "帰らせてもらえ", "帰してくれ", "帰らせてくれ",
	"knife", "weapon", "kill", "danger", "threat", "violen", "stab", "punch", "hit me", "attack", "assault",
	"stalk", "following me", "followed me", "trapped", "let me leave", "locked in",
}

// safeWord reports whether typed text says the employee is safe now, as
// the button does: its label in either language, or a few ways of saying
// it. Only the whole text counts ("大丈夫じゃない" does not).
//
// During a report (strict) only what cannot be an answer to one of its
// questions counts: "大丈夫" may be how they feel.
func safeWord(p *mamori.Policy, s string, strict bool) bool {
	if safePhrase(p, s, strict) {
		return true
	}
	// Outside a report, a few sentences: one of them says it ("もう大丈夫
	// です。安全な場所にいます"), and none says otherwise.
	ss := sentences(s)
	if strict || len(ss) < 2 {
		return false
	}
	found := false
	for _, x := range ss {
		switch {
		case safePhrase(p, x, false):
			found = true
		case notSafe(x):
			return false
		}
	}
	return found
}

// notSafe reports whether a sentence may say that they are not safe: a
// negation, or fear or danger.
func notSafe(s string) bool {
	return negates(s) || holdsAny(s, "危", "怖", "助", "danger", "help", "scared", "afraid")
}

// negates reports whether typed words say no or not ("話したくない",
// "not now", "いいえ").
func negates(s string) bool {
	s = strings.ReplaceAll(strings.ToLower(s), "’", "'")
	return holdsAny(s, "ない", "なかった", "ません", "いいえ", "ではなく", "じゃなく", "not", "n't", "dont", "didnt", "doesnt") || s == "no" || strings.HasPrefix(s, "no ") || strings.HasPrefix(s, "no,")
}

// safePhrase reports whether the whole of s says they are safe now.
func safePhrase(p *mamori.Policy, s string, strict bool) bool {
	s = strings.ReplaceAll(plain(s), "’", "'")
	for _, l := range []mamori.Lang{mamori.JA, mamori.EN} {
		if s == plain(p.T(l, "sos.safe.button")) {
			return true
		}
	}
	switch strings.TrimSuffix(strings.TrimSuffix(s, "です"), "でした") {
	case "安全になった", "安全になりました", "もう安全", "i'm safe now", "i am safe now", "im safe now",
		"安全な場所にいます", "安全な場所にいる", "i'm somewhere safe", "i'm somewhere safe now", "i am somewhere safe now":
		return true
	case "安全", "大丈夫", "もう大丈夫", "無事", "safe", "safe now", "i'm safe", "i am safe", "im safe":
		return !strict
	}
	return false
}

// sosClick returns the SOS a click of the employee's names.
func sosClick(in mamori.Input) (kind, number string, ok bool) {
	if in.Kind != mamori.InputChoice {
		return "", "", false
	}
	for _, k := range []string{mamori.SOSSafe, mamori.SOSSkip, mamori.SOSReport} {
		if n, found := strings.CutPrefix(in.Value, k+":"); found && n != "" {
			return k, n, true
		}
	}
	return "", "", false
}

// inFlow reports whether c is in the middle of a report or consultation.
func inFlow(c mamori.Conversation) bool {
	return c.Flow != "" && c.Step != stepDone && c.Step != stepMenu
}

// answersQuestion reports whether typed is one of the options of the
// question c is at (「はい」 at "has this happened before?").
func answersQuestion(env Env, c mamori.Conversation, typed string) bool {
	q, ok := lookup(c.Step)
	if !inFlow(c) || !ok || q.options == nil {
		return false
	}
	if _, ok = matchOption(typed, q.options(env, c.User.Lang)); ok {
		return true
	}
	// "Was anyone there?" — 「はい」: a question that takes words takes a
	// yes too (found by a review); its SOS button stays on it.
	return q.kind == kBoth && yesNo[spoken(typed)] != ""
}

// sosYesWithin is how long a yes answers the SOS the menu offered.
const sosYesWithin = 10 * time.Minute

// sosStep is the part of Step about SOS: raising one from anywhere, its
// one question, what is sent during it, and its buttons. ok is false when
// the input is not about an SOS.
func sosStep(env Env, c mamori.Conversation, in mamori.Input) (mamori.Conversation, Out, bool) {
	l := c.User.Lang
	t := env.Policy.T
	raise := (in.Kind == mamori.InputStart || in.Kind == mamori.InputChoice) && in.Value == mamori.StartSOS ||
		in.Kind == mamori.InputText && sosWord(in.Text, !inFlow(c)) && !(inFlow(c) && c.Step == stepSafety) ||
		// 「はい」 to "in danger now? press SOS" just offered (found by a
		// trial: it was a greeting).
		// In a report too: the offer was the last thing said, and a yes is
		// no place nor name (found by a trial: it was saved as one).
		in.Kind == mamori.InputText && c.SOS == "" && !c.SOSOffered.IsZero() && env.Now.Sub(c.SOSOffered) < sosYesWithin && sosYes(in.Text) &&
			!answersQuestion(env, c, in.Text) ||
		// A call for help beside a danger now, at the menu — not while a
		// check-in waits (how they are is HR's, and a raise is no answer).
		in.Kind == mamori.InputText && !inFlow(c) && helpAndDanger(in.Text)
	if !c.SOSOffered.IsZero() && in.Kind != mamori.InputFile {
		c.SOSOffered = time.Time{} // asked once: the next words are their own
	}
	if raise {
		if c.SOS != "" {
			return c, Out{SOS: &SOSOut{Status: true, Number: c.SOS}}, true
		}
		c.SOSPlace = true
		o := &SOSOut{Raise: true, Safety: "danger"}
		if !inFlow(c) {
			// What they wrote at the menu, and the call for help itself
			// when it says more than "help": read by those responding.
			var notes []string
			if news := menuNews(env, c.DraftLog); news != "" {
				// What they wrote just before (the emergency, most likely)
				// — not words kept from before, perhaps for HR alone (an
				// answer to a check-in, a worry).
				notes = append(notes, news)
			}
			if typed := strings.TrimSpace(in.Text); in.Kind == mamori.InputText && !sosPhrase(typed) {
				notes = append(notes, typed)
			}
			o.Note = strings.Join(notes, "\n")
		}
		return c, Out{SOS: o, Audit: "sos.raised"}, true
	}
	if kind, number, ok := sosClick(in); ok {
		k := env.Consultation
		if k == nil || k.Kind != mamori.KindSOS || k.Reporter.Key() != c.User.Key() || k.Number != number {
			return c, Out{Replies: []mamori.Message{text(t(l, "sos.not_found"))}}, true
		}
		switch kind {
		case mamori.SOSSkip:
			if c.SOS == number {
				c.SOSPlace = false
			}
			return c, Out{Replies: append([]mamori.Message{text(t(l, "sos.place.skipped"))}, reportAgain(env, c)...)}, true
		case mamori.SOSSafe:
			if c.SOS == number {
				c.SOS, c.SOSPlace = "", false
			}
			if k.Status == mamori.StatusClosed {
				// An older message's button, after the close: said once,
				// not "glad you're safe" again.
				m := sosSafeMessage(env, *k, l)
				m.Header, m.Text, m.Note = "", fmt.Sprintf(t(l, "sos.safe.already"), k.Number), ""
				return c, Out{Replies: append([]mamori.Message{m}, reportAgain(env, c)...)}, true
			}
			// In a report, its question comes again (it may have been held
			// back while the place was asked).
			return c, Out{SOS: &SOSOut{Number: number, Safe: true}, Replies: reportAgain(env, c)}, true
		case mamori.SOSReport:
			nc, out := fromSOS(env, c, *k)
			return nc, out, true
		}
	}
	if c.SOS != "" && in.Kind == mamori.InputText && (safeWord(env.Policy, in.Text, inFlow(c)) || (!inFlow(c) || !mayAnswerSafe(c.Step)) && safeNow(in.Text)) {
		// "I'm safe now" typed instead of pressed; during a report, the
		// report goes on where it was.
		number := c.SOS
		c.SOS, c.SOSPlace = "", false
		return c, Out{SOS: &SOSOut{Number: number, Safe: true}, Replies: reportAgain(env, c)}, true
	}
	if c.SOSPlace && in.Kind == mamori.InputStart {
		// Back with the command (after a restart, or later) while asked
		// where they are: that question again, with the SOS it is for —
		// not the report's, whose answer would be taken for the place.
		again := text(t(l, "sos.place.ask"))
		again.Step, again.Choices = stepSOS, placeChoices(env, c.SOS, l)
		return c, Out{Replies: []mamori.Message{text(fmt.Sprintf(t(l, "sos.again"), c.SOS)), again}}, true
	}
	if inFlow(c) && c.SOSPlace && (in.Kind == mamori.InputChoice || in.Kind == mamori.InputMulti) {
		// They went on with the report (a click): the place is asked there.
		c.SOSPlace = false
	}
	// During a report, only its place question (asked at once) and typed
	// words of fear or danger ("he is still outside") are the SOS's; the
	// rest is the report's, read as it would be without an SOS (a
	// feeling typed at a question of buttons is kept for HR, a sentence
	// with the account).
	if c.SOS == "" || inFlow(c) && !c.SOSPlace && (in.Kind != mamori.InputText || !sosUpdate(c, in.Text)) {
		return c, Out{}, false
	}
	// During an open SOS: what they type and send is kept with it, and a
	// report being written asks its question again.
	switch in.Kind {
	case mamori.InputText:
		typed := strings.TrimSpace(in.Text)
		if typed == "" {
			return c, Out{}, false
		}
		if !inFlow(c) && !c.SOSPlace {
			// 「報告したい」 or a menu button's words at the menu: what they
			// ask for starts, as without an SOS.
			_, asked := menuWords[spoken(typed)]
			_, request := asksFor(typed) // 「方針を見せて」, 「報告したいです」 — short, and not with danger in it
			request = request && utf8.RuneCountInString(squash(typed)) <= 20 && !fearful(typed) && !dangerNow(typed)
			if _, button := matchOption(typed, menu(env, l, false).Choices); asked || button || request {
				return c, Out{}, false
			}
		}
		if c.SOSPlace && (typedCommand(typed) != "" || pauseWish(typed) || stopWish(typed) || plain(typed) == plain(t(l, "sos.place.skip"))) {
			// "Skip", or the button's own words typed ("答えない"): not a place.
			c.SOSPlace = false
			return c, Out{Replies: append([]mamori.Message{text(t(l, "sos.place.skipped"))}, reportAgain(env, c)...)}, true
		}
		if typedCommand(typed) != "" && !c.SOSPlace {
			return c, Out{}, false
		}
		if utf8.RuneCountInString(typed) > MaxText {
			return c, Out{Replies: []mamori.Message{text(fmt.Sprintf(t(l, "nav.too_long"), MaxText))}}, true
		}
		if c.SOSPlace && (fearful(typed) || callsForHelp(typed) || dangerSaid(typed) ||
			holdsAny(typed, "大丈夫", "帰った", "いなくなった", "まだいる", "まだいます", "まだ近く", "まだ外", "まだ店") || stateEN.MatchString(typed)) &&
			utf8.RuneCountInString(squash(typed)) <= 12 && !strings.ContainsAny(toHalfWidth(typed), "0123456789") {
			// 「怖い」, 「助けて」, 「大丈夫じゃないです」, "hes back" alone
			// are no place: passed on as what they are, and the place
			// asked again. 「2階の倉庫、まだ危ない」 is a place, danger and
			// all.
			again := text(t(l, "sos.place.ask"))
			again.Step, again.Choices = stepSOS, placeChoices(env, c.SOS, l)
			return c, Out{SOS: &SOSOut{Number: c.SOS, Note: typed},
				Replies: []mamori.Message{text(t(l, "sos.note.kept")), again}}, true
		}
		if c.SOSPlace {
			c.SOSPlace = false
			if inFlow(c) && c.Answers.Place == "" {
				c.Answers.Place = typed // the report's place question starts from it
			}
			return c, Out{SOS: &SOSOut{Number: c.SOS, Place: typed},
				Replies: append([]mamori.Message{text(t(l, "sos.place.thanks"))}, reportAgain(env, c)...)}, true
		}
		return c, Out{SOS: &SOSOut{Number: c.SOS, Note: typed},
			Replies: append([]mamori.Message{sosKept(env, c.SOS, "sos.note.kept", l)}, reportAgain(env, c)...)}, true
	case mamori.InputFile:
		if inFlow(c) {
			return c, Out{}, false // evidence of the report they are writing
		}
		o := &SOSOut{Number: c.SOS, Files: in.Files}
		if typed := strings.TrimSpace(in.Text); typed != "" {
			o.Note = typed
		}
		return c, Out{SOS: o, Replies: []mamori.Message{sosKept(env, c.SOS, "sos.files.kept", l)}}, true
	}
	return c, Out{}, false
}

// stateEN are English words of how things stand, not where ("not safe",
// "he left") — not "ok" in "bookshop", nor "safe room", "left exit".
var stateEN = regexp.MustCompile(`(?i)\bnot (safe|ok|okay|fine)\b|\b(i'?m|im|i am|he'?s|hes|he is|she'?s|she is|they'?re|theyre|they are) (safe|ok|okay|fine|gone|still here|back)\b|\b(he|she|they) (left|has gone|have gone)\b`)

// safeNow reports whether typed text says that the danger is over
// ("もう大丈夫です", "I'm OK now"), in words a report's question may also
// be answered with at a few steps (see mayAnswerSafe); a bare "大丈夫"
// may mean anything, and never closes an SOS during a report.
func safeNow(s string) bool {
	switch strings.TrimSuffix(spoken(s), "でした") {
	case "もう大丈夫", "もうだいじょうぶ", "無事", "safe now", "i'm ok now", "i'm okay now", "i'm fine now", "i am ok now", "i am fine now":
		return true
	}
	// "ok hes gone now, im safe", 「お客様は帰りました、もう大丈夫です」: the
	// whole text says gone and safe, nothing more.
	return goneSafe.MatchString(strings.ReplaceAll(strings.TrimSpace(strings.ToLower(s)), "’", "'"))
}

var goneSafe = regexp.MustCompile(`^(ok,? |okay,? )?(` + goneEN + `[,.!]* *(and )?` + safeEN + `|` + safeEN + `[,.!]* *(and )?` + goneEN + `|` +
	`((お客様|お客さん|客)(は|が)?)?` + goneJA + `(ので|から)?[、。]*(もう)?(大丈夫|安全)(です)?|` +
	`(もう)?(大丈夫|安全)(です)?[、。]*((お客様|お客さん|客)(は|が)?)?` + goneJA + `)[.!。！]*$`)

// goneJA is the customer gone, or they home ("帰りました" says either).
const goneJA = `(帰りました|帰った|いなくなりました|いなくなった|立ち去りました|家に着きました|家に帰りました)`

const (
	goneEN = `(he|she|they|the customer)(s|'s| is| has| have|'ve|'re| are)? (gone|left)( now)?`
	safeEN = `(i'?m|i am) (safe|ok|okay|fine)( now)?`
)

// mayAnswerSafe reports whether "もう大丈夫" typed at a report's step may
// be its answer (are you safe? how are you?), not news that the SOS can
// close.
func mayAnswerSafe(step string) bool {
	switch step {
	case stepSafety, stepWellbeing, stepTalk, stepFault, stepWorry:
		return true
	}
	return false
}

// sosUpdate reports whether text typed at a report's step while an SOS
// is open speaks of fear or danger ("まだお客様がいて怖いです" at "when
// was it?"): news for those responding, not the answer. The steps that
// tell the incident itself (what happened, what was said or demanded)
// keep such words as the answer.
func sosUpdate(c mamori.Conversation, typed string) bool {
	if c.Flow == mamori.FlowConsult {
		return false // a consultation is for HR alone, whatever it says
	}
	switch c.Step {
	case stepNarrative, stepWords, stepDemand:
		return false
	case stepWellbeing, stepTalk:
		// Kept for HR alone, as the question says; danger itself goes to
		// those responding.
		return dangerHint(typed) || callsForHelp(typed)
	}
	return fearful(typed) || callsForHelp(typed) || holdsAny(typed, "help")
}

// callsForHelp reports whether typed text holds a call for help
// anywhere ("…怖いです、助けてください").
func callsForHelp(typed string) bool {
	return !helpOther.MatchString(typed) && (holdsAny(typed, "助けて", "たすけて", "タスケテ", "help me", "sos", "ｓｏｓ", "need help", "please help", "someone help", "somebody help",
		"pls help", "plz help", "call security", "call the police", "someone come", "警備員を呼んで", "警察を呼んで") ||
		helpFirst.MatchString(typed))
}

// helpFirst is "help" said as a cry: first, or with "!" ("help hes here").
var helpFirst = enRegexp{regexp.MustCompile(`(?i)^\W*help\b|\bhelp\s*!`)}

// fearful reports whether typed text speaks of danger (dangerHint) or of
// fear: "怖い", "scared".
func fearful(typed string) bool {
	return dangerHint(typed) || holdsAny(typed, "怖", "こわい", "scared", "afraid", "frightened")
}

// alsoForSOS reports whether words typed during an open SOS, at a
// report's question they do not answer ("暴言と威圧的な言動" at the list of
// behaviours, a feeling at the buttons of how they are), are passed on
// to those responding as well as read by the report.
func alsoForSOS(env Env, c mamori.Conversation, in mamori.Input) bool {
	typed := strings.TrimSpace(in.Text)
	if c.Flow != mamori.FlowReport || c.Step == stepWellbeing || c.Step == stepTalk {
		return false // a consultation, and how they are, are HR's alone
	}
	return c.SOS != "" && inFlow(c) && !c.SOSPlace && in.Kind == mamori.InputText && typed != "" &&
		utf8.RuneCountInString(typed) <= MaxText && worthKeeping(typed) && !answers(env, c, typed) // not a bare 「はい」
}

// answeredAt reports whether nc, conversation c after a step, moved on
// or holds a new answer to the question c was at: words the report
// took as its answer are not also news for those responding.
func answeredAt(c, nc mamori.Conversation) bool {
	q, ok := lookup(c.Step)
	switch {
	case nc.Step != c.Step:
		return true
	case ok && q.kind == kMulti:
		return !slices.Equal(c.Answers.Behaviours, nc.Answers.Behaviours)
	case ok && q.answer != nil:
		return *q.answer(&c.Answers) != *q.answer(&nc.Answers)
	}
	return false
}

// reportAgain is the question of the report c is writing, if any, to
// show again after a word about the SOS.
func reportAgain(env Env, c mamori.Conversation) []mamori.Message {
	if !inFlow(c) {
		return nil
	}
	return ask(env, c, "").Replies
}

// sosKept says that what they sent during SOS number was passed on, with
// the button to say they are safe now (one tap, whatever they wrote).
func sosKept(env Env, number, key string, l mamori.Lang) mamori.Message {
	m := text(env.Policy.T(l, key))
	m.Step = "sos"
	m.Choices = []mamori.Choice{{Value: mamori.SOSSafe + ":" + number, Label: env.Policy.T(l, "sos.safe.button")}}
	return m
}

// answers reports whether typed text can be the answer to the question
// conversation c is at: any text where it takes text, one of its
// options, or a typed word the report reads (back, cancel…).
func answers(env Env, c mamori.Conversation, typed string) bool {
	typed = strings.TrimSpace(typed)
	if typed == "" || typedCommand(typed) != "" || typedChoice(env, c, typed) != "" {
		return true
	}
	q, ok := lookup(c.Step)
	if !ok {
		return true // a step of its own (summary, cancel…): its rules
	}
	switch q.kind {
	case kText, kBoth:
		return true
	case kMulti:
		_, ok := pickNumbers(typed, q.options(env, c.User.Lang))
		return ok
	}
	return false
}

// fromSOS starts a report from SOS k with what is known: safety, place,
// the files sent, and no second alert.
func fromSOS(env Env, c mamori.Conversation, k mamori.Case) (mamori.Conversation, Out) {
	l := c.User.Lang
	if inFlow(c) {
		return finishFirst(env, c)
	}
	// What they wrote at the menu goes in as it would from the menu
	// (found by a trial: it was lost this way).
	nc := fresh(env, c)
	nc.Draft, nc.DraftLog = c.Draft, c.DraftLog
	nc.Answers.Safety = k.Answers.Safety
	nc.Answers.FromSOS = k.Number
	nc.AlertSent = true
	if e := sosRecord(&k); e != nil {
		nc.Answers.Place = e.Place
		nc.Answers.Files = append([]mamori.File(nil), e.Files...)
	}
	nc, out := begin(env, nc, mamori.FlowReport)
	out.Replies = append([]mamori.Message{text(fmt.Sprintf(env.Policy.T(l, "sos.report.prefilled"), k.Number))}, out.Replies...)
	return nc, out
}

// sos carries out an SOS step in the transaction of Handle: it returns
// what to say to the employee.
func (s *Service) sos(tx mamori.Tx, env Env, c *mamori.Conversation, o SOSOut) ([]mamori.Message, error) {
	l := c.User.Lang
	t := s.Policy.T
	if o.Raise {
		k, err := s.raiseSOS(tx, env, *c, o)
		if err != nil {
			return nil, err
		}
		c.SOS = k.Number
		// Where they are is asked at once, in a report too (its place
		// question, later, starts from the answer).
		c.SOSPlace = true
		return SOSRaised(env, k, l, true), nil
	}
	k, err := tx.Case(o.Number)
	if errors.Is(err, mamori.ErrNotFound) || err == nil && k.Kind != mamori.KindSOS {
		c.SOS, c.SOSPlace = "", false
		return []mamori.Message{text(t(l, "sos.not_found"))}, nil
	} else if err != nil {
		return nil, err
	}
	if o.Status {
		return []mamori.Message{s.sosStatus(env, k, l)}, nil
	}
	if k.Status == mamori.StatusClosed {
		c.SOS, c.SOSPlace = "", false
		if o.Safe {
			return []mamori.Message{sosSafeMessage(env, k, l)}, nil
		}
	}
	e := sosRecord(&k)
	audit := ""
	cards := false
	switch {
	case o.Safe:
		k.Status = mamori.StatusClosed
		e.Safe = env.Now
		audit, cards = "sos.safe", true
		if k.Assignee == "" && e.Rounds > 0 && s.Org.HRChannel != "" {
			// Safe with nobody on it after the first alerts went
			// unanswered: HR hears that nobody answered.
			ol := s.orgLang()
			m := mamori.Message{Step: mamori.StepCard, Header: fmt.Sprintf(t(ol, "sos.safe.unanswered.hr.header"), k.Number),
				Text:    fmt.Sprintf(t(ol, "sos.safe.unanswered.hr"), mention(k.Reporter.Key())),
				Choices: []mamori.Choice{detailsChoice(s.Policy, ol, k.Number)}}
			if err := s.tellHR(tx, k, "sos-safe-unanswered:"+k.Number, m, env.Now); err != nil {
				return nil, err
			}
		}
	case o.Place != "" && o.FromReport && e.Place != "":
		return nil, nil // where they are now, as they said, stays
	case o.Place != "":
		e.Place = o.Place
		audit, cards = "sos.place", true
	case len(o.Files) > 0:
		e.Files = append(e.Files, o.Files...)
		audit = "sos.file"
	}
	if o.Note != "" {
		e.Notes = append(e.Notes, mamori.Note{At: env.Now, Text: o.Note})
		if audit == "" {
			audit = "sos.note"
		}
		cards = true // the cards' count of what they sent
	}
	k.Updated = env.Now
	if err := tx.UpdateCase(k); err != nil {
		return nil, err
	}
	if err := tx.Audit(mamori.AuditEntry{At: env.Now, Actor: c.User.Key(), Action: audit, Subject: k.Number}); err != nil {
		return nil, err
	}
	if cards {
		if err := s.updateAlerts(tx, env, &k); err != nil {
			return nil, err
		}
	}
	if (o.Note != "" || len(o.Files) > 0) && k.Status != mamori.StatusClosed {
		if err := s.sosNews(tx, env, k, len(o.Files)); err != nil {
			return nil, err
		}
	}
	if o.Safe && inFlow(*c) {
		// Closed from within the report: no second report to offer.
		return []mamori.Message{{Step: stepSOS, Header: t(l, "sos.safe.header"), Text: t(l, "sos.safe.in_report")}}, nil
	}
	if o.Safe {
		return []mamori.Message{sosSafeMessage(env, k, l)}, nil
	}
	return nil, nil
}

// sosNews tells those responding to SOS k that the employee sent more
// (found by two trials: an edited card notifies nobody): the one who has
// it by DM, before anyone has it each alert, a channel's in its thread.
// The words are not in it — Slack keeps messages; details shows them to
// those responding.
func (s *Service) sosNews(tx mamori.Tx, env Env, k mamori.Case, files int) error {
	e := sosRecord(&k)
	refs, seq := e.Refs, len(e.Notes)+len(e.Files) // one notice per thing sent
	if k.Assignee != "" {
		refs = []string{"sos:" + k.Number + ":u:" + assigneeUser(k).ID}
	}
	for i, ref := range refs {
		to, l, err := s.alertTo(tx, k, ref)
		if err != nil {
			return err
		}
		if to.Kind != mamori.TargetUser {
			to.Thread = ref
		}
		t := func(key string) string { return s.Policy.T(l, key) }
		m := mamori.Message{Step: mamori.StepCard, Urgent: true, Text: fmt.Sprintf(t("sos.news"), k.Number, mention(k.Reporter.Key())),
			Choices: []mamori.Choice{detailsChoice(s.Policy, l, k.Number)}}
		if files > 0 {
			m.Text = fmt.Sprintf(t("sos.news.files"), k.Number, mention(k.Reporter.Key()), files)
		}
		if err := tx.Enqueue(mamori.OutboxItem{Key: fmt.Sprintf("%ssos-news:%s:%d:%d", mamori.UrgentKey, k.Number, seq, i),
			Target: to, Message: m, Lang: l, Created: env.Now}); err != nil {
			return err
		}
	}
	return nil
}

// raiseSOS files the SOS and alerts the department's supervisor channel,
// HR's channel and the on-call list at once; the escalation is scheduled.
func (s *Service) raiseSOS(tx mamori.Tx, env Env, c mamori.Conversation, o SOSOut) (mamori.Case, error) {
	year := s.local(env.Now).Year()
	seq, err := tx.NextNumber(mamori.KindSOS, year)
	if err != nil {
		return mamori.Case{}, err
	}
	safety := o.Safety
	if safety != "injured" {
		safety = "danger"
	}
	k := mamori.Case{Number: Number(mamori.KindSOS, year, seq), Kind: mamori.KindSOS, Reporter: c.User,
		Route: mamori.RouteHR, Channel: s.Org.HRChannel, Status: mamori.StatusNew, Urgency: mamori.UrgencyUrgent,
		Suggestion: mamori.SuggestUnclear, Created: env.Now, Updated: env.Now,
		Answers: mamori.Answers{Safety: safety}, Decision: &mamori.Decision{Emergency: &mamori.Emergency{}}}
	if d, ok := department(env, c); ok {
		k.Department, k.Answers.Department = d.ID, d.ID
		if d.SupervisorChannel != "" {
			k.Route, k.Channel = mamori.RouteDepartment, d.SupervisorChannel
		}
	}
	e := k.Decision.Emergency
	if o.Note != "" {
		e.Notes = append(e.Notes, mamori.Note{At: env.Now, Text: o.Note})
	}
	if k.Route == mamori.RouteDepartment {
		e.Refs = append(e.Refs, "sos:"+k.Number+":dept")
	}
	if s.Org.HRChannel != "" {
		e.Refs = append(e.Refs, "sos:"+k.Number+":hr")
	}
	for _, who := range s.SOS.OnCall {
		if who != "" && !sameUser(who, c.User) {
			e.Refs = append(e.Refs, "sos:"+k.Number+":u:"+who)
		}
	}
	// A new case's decision is stored by UpdateCase.
	if err := tx.InsertCase(k); err != nil {
		return mamori.Case{}, err
	}
	if err := tx.UpdateCase(k); err != nil {
		return mamori.Case{}, err
	}
	from := "menu"
	if o.InReport {
		from = "report"
	}
	if err := tx.Audit(mamori.AuditEntry{At: env.Now, Actor: c.User.Key(), Action: "sos.alerted", Subject: k.Number,
		Detail: fmt.Sprintf("safety=%s from=%s alerts=%d", safety, from, len(e.Refs))}); err != nil {
		return mamori.Case{}, err
	}
	if err := s.postAlerts(tx, env, k, e.Refs, mamori.UrgentKey); err != nil {
		return mamori.Case{}, err
	}
	p, _ := json.Marshal(casePayload{Number: k.Number, Round: 1})
	return k, tx.Schedule(mamori.Job{Key: fmt.Sprintf("%s:%s:round:1", jobSOS, k.Number), Kind: jobSOS,
		Due: env.Now.Add(s.SOS.ackWithin()), Payload: p})
}

// sosRecord is SOS k's record, made if missing.
func sosRecord(k *mamori.Case) *mamori.Emergency {
	if k.Decision == nil {
		k.Decision = &mamori.Decision{}
	}
	if k.Decision.Emergency == nil {
		k.Decision.Emergency = &mamori.Emergency{}
	}
	return k.Decision.Emergency
}

func sameUser(who string, u mamori.User) bool {
	return who == u.ID || u.Email != "" && strings.EqualFold(who, u.Email)
}

// alertTarget is where the alert with that ref goes: "sos:N:dept",
// "sos:N:hr" (and "sos:N:hr:<round>"), "sos:N:u:<user>[:<round>]".
func (s *Service) alertTarget(k mamori.Case, ref string) mamori.Target {
	rest := strings.TrimPrefix(ref, "sos:"+k.Number+":")
	switch {
	case rest == "dept":
		return s.channel(k.Reporter.Platform, k.Channel)
	case rest == "hr" || strings.HasPrefix(rest, "hr:"):
		return s.channel(k.Reporter.Platform, s.Org.HRChannel)
	}
	who := strings.TrimPrefix(rest, "u:")
	if i := strings.LastIndex(who, ":"); i > 0 && !strings.Contains(who[i:], "@") {
		who = who[:i]
	}
	return mamori.Target{Platform: k.Reporter.Platform, Kind: mamori.TargetUser, ID: who}
}

// alertTo is where the alert with that ref goes, and in what language:
// a channel's in the organisation's, a DM in the person's own, when known.
func (s *Service) alertTo(tx mamori.Tx, k mamori.Case, ref string) (mamori.Target, mamori.Lang, error) {
	to := s.alertTarget(k, ref)
	if to.Kind != mamori.TargetUser {
		return to, s.orgLang(), nil
	}
	l, err := s.personLang(tx, mamori.User{Platform: to.Platform, ID: to.ID})
	return to, l, err
}

// postAlerts puts the alert card for each ref in the outbox; keyPrefix
// mamori.UrgentKey puts them ahead of everything else.
func (s *Service) postAlerts(tx mamori.Tx, env Env, k mamori.Case, refs []string, keyPrefix string) error {
	for _, ref := range refs {
		to, l, err := s.alertTo(tx, k, ref)
		if err != nil {
			return err
		}
		m := SOSAlert(env, k, l, s.Location)
		m.Ref = ref
		key := fmt.Sprintf("%s%s:v%d", keyPrefix, ref, sosRecord(&k).Version)
		if err := tx.Enqueue(mamori.OutboxItem{Key: key, Target: to, Message: m, Lang: l, Created: env.Now}); err != nil {
			return err
		}
	}
	return nil
}

// updateAlerts updates every alert card of k in place.
func (s *Service) updateAlerts(tx mamori.Tx, env Env, k *mamori.Case) error {
	e := sosRecord(k)
	e.Version++
	if err := tx.UpdateCase(*k); err != nil {
		return err
	}
	return s.postAlerts(tx, env, *k, e.Refs, "")
}

// SOSAlert is the alert card: who needs help, where, since when, and who
// has it; with "I'm on it" until someone has.
func SOSAlert(env Env, k mamori.Case, l mamori.Lang, loc *time.Location) mamori.Message {
	t := env.Policy.T
	e := sosRecord(&k)
	at := func(x time.Time) string {
		if loc != nil {
			x = x.In(loc)
		}
		return x.Format("15:04")
	}
	place := e.Place
	if place == "" {
		place = t(l, "sos.alert.place.none")
	}
	safety := k.Answers.Safety
	if safety != "injured" {
		safety = "danger"
	}
	m := mamori.Message{Step: mamori.StepCard, Urgent: k.Status == mamori.StatusNew,
		Header: fmt.Sprintf(t(l, "sos.alert.header"), k.Number),
		Text:   fmt.Sprintf(t(l, "sos.alert.text."+safety), mention(k.Reporter.Key())),
		Fields: []mamori.Field{
			{Label: t(l, "card.department"), Value: departmentName(env, k.Department, l)},
			{Label: t(l, "sos.alert.place"), Value: place},
			{Label: t(l, "sos.alert.sent"), Value: at(k.Created)},
		}}
	var status string
	switch {
	case k.Status == mamori.StatusClosed && e.SafeBy != "":
		status = fmt.Sprintf(t(l, "sos.status.closed_by"), mention(e.SafeBy), at(e.Safe))
		m.Header = fmt.Sprintf(t(l, "sos.alert.header.safe"), k.Number)
		m.Text = fmt.Sprintf(t(l, "sos.alert.text.closed_by"), mention(e.SafeBy), mention(k.Reporter.Key()))
	case k.Status == mamori.StatusClosed:
		status = fmt.Sprintf(t(l, "sos.status.safe"), at(e.Safe))
		m.Header = fmt.Sprintf(t(l, "sos.alert.header.safe"), k.Number)
		m.Text = fmt.Sprintf(t(l, "sos.alert.text.safe"), mention(k.Reporter.Key()))
	case k.Assignee != "":
		status = fmt.Sprintf(t(l, "sos.status.acked"), mention(k.Assignee), at(k.Taken))
	case e.Rounds > 0:
		status = fmt.Sprintf(t(l, "sos.status.escalated"), e.Rounds)
	default:
		status = t(l, "sos.status.waiting")
	}
	m.Fields = append(m.Fields, mamori.Field{Label: t(l, "card.status"), Value: status})
	if len(e.Notes) > 0 || len(e.Files) > 0 {
		// What they sent is for those responding, behind the details;
		// the card says there is something to read.
		m.Fields = append(m.Fields, mamori.Field{Label: t(l, "sos.alert.from"), Value: fmt.Sprintf(t(l, "sos.alert.from.value"), len(e.Notes), len(e.Files))})
	}
	if k.Status == mamori.StatusNew {
		m.Choices = []mamori.Choice{{Value: mamori.SOSAck + ":" + k.Number, Label: t(l, "sos.ack.button"), Style: mamori.StylePrimary}}
		m.Note = t(l, "sos.alert.note")
	} else if k.Status != mamori.StatusClosed {
		m.Choices = []mamori.Choice{{Value: mamori.SOSClose + ":" + k.Number, Label: t(l, "sos.close.button")}}
		m.Note = t(l, "sos.alert.note.acked")
	}
	if len(e.Notes) > 0 || len(e.Files) > 0 {
		// Where those responding read them.
		m.Choices = append(m.Choices, detailsChoice(env.Policy, l, k.Number))
	}
	return m
}

// SOSRaised tell the employee the alert went out, with the
// emergency numbers, the one question (where are you?) when asked, the
// "I'm safe now" button and what to do on the spot; injury adds first aid
// and work-injury (労災) guidance.
func SOSRaised(env Env, k mamori.Case, l mamori.Lang, askPlace bool) []mamori.Message {
	t := env.Policy.T
	who := "sos.raised.text"
	if k.Route != mamori.RouteDepartment {
		who = "sos.raised.text.hr"
	}
	// First that the alert went out (found by two trials: the guidance
	// came first), then what to do, then the one question and its
	// buttons: last, where a phone shows it (found by an earlier trial:
	// the question was lost above the guidance).
	sent := mamori.Message{Urgent: true, Header: fmt.Sprintf(t(l, "sos.raised.header"), k.Number), Text: t(l, who)}
	m := mamori.Message{Step: stepSOS, Text: t(l, "sos.raised.safe"), Note: t(l, "onsite.note")}
	m.Choices = []mamori.Choice{{Value: mamori.SOSSafe + ":" + k.Number, Label: t(l, "sos.safe.button")}}
	if askPlace {
		m.Text = t(l, "sos.place.ask")
		m.Choices = placeChoices(env, k.Number, l)
	}
	out := []mamori.Message{sent, OnsiteMessage(env, l)}
	if k.Answers.Safety == "injured" {
		out = append(out, mamori.Message{Header: t(l, "sos.injury.header"), Text: t(l, "sos.injury.text")})
	}
	return append(out, m)
}

// placeChoices are the buttons under "where are you?": skip it, and
// "I'm safe now".
func placeChoices(env Env, number string, l mamori.Lang) []mamori.Choice {
	return []mamori.Choice{{Value: mamori.SOSSkip + ":" + number, Label: env.Policy.T(l, "sos.place.skip")},
		{Value: mamori.SOSSafe + ":" + number, Label: env.Policy.T(l, "sos.safe.button")}}
}

// sosStatus says where an open SOS stands, to the employee who pressed
// SOS again.
func (s *Service) sosStatus(env Env, k mamori.Case, l mamori.Lang) mamori.Message {
	t := s.Policy.T
	status := t(l, "sos.again.waiting")
	if k.Assignee != "" {
		status = fmt.Sprintf(t(l, "sos.again.acked"), mention(k.Assignee))
	}
	return mamori.Message{Step: stepSOS, Text: fmt.Sprintf(t(l, "sos.again"), k.Number) + "\n" + status, Note: t(l, "onsite.note"),
		Choices: []mamori.Choice{{Value: mamori.SOSSafe + ":" + k.Number, Label: t(l, "sos.safe.button")}}}
}

// sosSafeMessage closes the SOS for the employee and offers a report with
// what is known.
func sosSafeMessage(env Env, k mamori.Case, l mamori.Lang) mamori.Message {
	t := env.Policy.T
	m := mamori.Message{Step: stepSOS, Header: t(l, "sos.safe.header"), Text: t(l, "sos.safe.text"),
		Choices: []mamori.Choice{{Value: mamori.SOSReport + ":" + k.Number, Label: t(l, "sos.safe.report"), Style: mamori.StylePrimary}},
		Note:    t(l, "sos.safe.note")}
	if e := sosRecord(&k); k.Assignee == "" && e.SafeBy == "" && e.Rounds > 0 {
		// Nobody came (found by a trial: it said nothing of it).
		m.Text = t(l, "sos.safe.unanswered") + "\n" + m.Text
	}
	return m
}

// responder reports whether u may acknowledge SOS k: HR, a supervisor of
// its department, the on-call list, anyone in the escalation chain —
// never the employee themself.
func (s *Service) responder(u mamori.User, k mamori.Case) bool {
	if u.Key() == k.Reporter.Key() {
		return false
	}
	if s.Org.IsHR(u) || k.Department != "" && s.Org.IsSupervisor(u, k.Department) || mamori.Listed(s.SOS.OnCall, u) {
		return true
	}
	for _, level := range s.SOS.Escalation {
		if mamori.Listed(level, u) {
			return true
		}
	}
	return false
}

// sosAck is "I'm on it": the first responder is recorded and shown to the
// employee and on every card; a later one is told who has it. With close
// set it is a responder's "safe, close it" on an SOS someone has: for
// when the employee never says so themself.
func (s *Service) sosAck(ctx context.Context, actor mamori.User, number string, close bool) (mamori.Message, error) {
	now := s.Clock()
	l := actor.Lang
	t := s.Policy.T
	var reply mamori.Message
	var result error
	err := s.Store.Update(ctx, func(tx mamori.Tx) error {
		reply, result = mamori.Message{}, nil
		k, err := tx.Case(number)
		if errors.Is(err, mamori.ErrNotFound) || err == nil && k.Kind != mamori.KindSOS {
			reply, result = text(t(l, "sos.not_found")), mamori.ErrNotFound
			return nil
		} else if err != nil {
			return err
		}
		if !s.responder(actor, k) {
			reply, result = text(t(l, "sos.ack.refused")), mamori.ErrForbidden
			return tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "sos.ack_refused", Subject: number})
		}
		switch {
		case k.Status == mamori.StatusClosed:
			reply = text(t(l, "sos.ack.closed"))
			return nil
		case close && k.Assignee == "":
			reply, result = text(t(l, "sos.close.unacked")), mamori.ErrConflict
			return nil
		case close:
			return s.closeSOS(tx, actor, &k, &reply)
		case k.Assignee == actor.Key():
			reply = text(fmt.Sprintf(t(l, "sos.ack.done"), mention(k.Reporter.Key())))
			return nil
		case k.Assignee != "":
			reply = text(fmt.Sprintf(t(l, "sos.ack.taken"), mention(k.Assignee)))
			return nil
		}
		env := s.env(now)
		k.Assignee, k.Status, k.Taken, k.Updated = actor.Key(), mamori.StatusTaken, now, now
		e := sosRecord(&k)
		if err := tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "sos.acked", Subject: number,
			Detail: fmt.Sprintf("after_ms=%d rounds=%d", now.Sub(k.Created).Milliseconds(), e.Rounds)}); err != nil {
			return err
		}
		if err := s.updateAlerts(tx, env, &k); err != nil {
			return err
		}
		rl := reporterLang(k)
		m := mamori.Message{Step: stepSOS, Urgent: false, Header: fmt.Sprintf(t(rl, "sos.acked.header"), mention(actor.Key())),
			Text: t(rl, "sos.acked.text"), Note: t(rl, "onsite.note"),
			Choices: []mamori.Choice{{Value: mamori.SOSSafe + ":" + k.Number, Label: t(rl, "sos.safe.button")}}}
		reply = text(fmt.Sprintf(t(l, "sos.ack.done"), mention(k.Reporter.Key())))
		ms := []mamori.Message{m}
		if c, err := tx.Conversation(k.Reporter.Key()); err == nil && inFlow(c) && !c.SOSPlace && !c.Paused {
			// Writing a report meanwhile: its question again, last, so
			// that it is what their screen shows.
			ms = append(ms, reportAgain(env, c)...)
		} else if err != nil && !errors.Is(err, mamori.ErrNotFound) {
			return err
		}
		return tellKeyed(tx, now, k, "sos-acked", mamori.UrgentKey, ms...)
	})
	if err != nil {
		return text(t(l, "error")), fmt.Errorf("sos ack: %w", err)
	}
	if s.Kick != nil {
		s.Kick()
	}
	return reply, result
}

// closeSOS closes SOS k for a responder who saw the employee safe: every
// card says so, and the employee is offered a report.
func (s *Service) closeSOS(tx mamori.Tx, actor mamori.User, k *mamori.Case, reply *mamori.Message) error {
	now := s.Clock()
	env := s.env(now)
	e := sosRecord(k)
	k.Status, k.Updated = mamori.StatusClosed, now
	e.Safe, e.SafeBy = now, actor.Key()
	if err := tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "sos.closed", Subject: k.Number}); err != nil {
		return err
	}
	if err := s.updateAlerts(tx, env, k); err != nil {
		return err
	}
	if c, err := tx.Conversation(k.Reporter.Key()); err == nil && c.SOS == k.Number {
		c.SOS, c.SOSPlace = "", false
		if draftOnly(c) {
			if err := s.scheduleDraftExpiry(tx, c.User, c.Updated); err != nil {
				return err
			}
		}
		if err := tx.PutConversation(c); err != nil {
			return err
		}
	} else if err != nil && !errors.Is(err, mamori.ErrNotFound) {
		return err
	}
	if k.Assignee != "" && k.Assignee != actor.Key() {
		// The one who was on it learns it is over, and from whom.
		who := assigneeUser(*k)
		l, err := s.personLang(tx, who)
		if err != nil {
			return err
		}
		m := mamori.Message{Text: fmt.Sprintf(s.Policy.T(l, "sos.closed.by_other"), mention(actor.Key()), k.Number, mention(k.Reporter.Key()))}
		if err := tx.Enqueue(mamori.OutboxItem{Key: fmt.Sprintf("sos-closed-by:%s:%d", k.Number, now.UnixNano()),
			Target: mamori.Target{Platform: who.Platform, Kind: mamori.TargetUser, ID: who.ID}, Message: m, Lang: l, Created: now}); err != nil {
			return err
		}
	}
	rl := reporterLang(*k)
	m := sosSafeMessage(env, *k, rl)
	m.Header = fmt.Sprintf(s.Policy.T(rl, "sos.closed.header"), mention(actor.Key()))
	*reply = text(fmt.Sprintf(s.Policy.T(actor.Lang, "sos.close.done"), k.Number))
	return tellKeyed(tx, now, *k, "sos-closed", "", m)
}

// tellKeyed puts messages to the employee of case k in the outbox under
// keys beginning with prefix.
func tellKeyed(tx mamori.Tx, now time.Time, k mamori.Case, what, prefix string, ms ...mamori.Message) error {
	to := mamori.Target{Platform: k.Reporter.Platform, Kind: mamori.TargetUser, ID: k.Reporter.ID}
	for i, m := range ms {
		if err := tx.Enqueue(mamori.OutboxItem{Key: fmt.Sprintf("%s%s:%s:%d:%d", prefix, what, k.Number, now.UnixNano(), i),
			Target: to, Message: m, Lang: reporterLang(k), Created: now}); err != nil {
			return err
		}
	}
	return nil
}

// levels is the escalation chain for k: the configured one, or the
// department's supervisors and then HR.
func (s *Service) levels(k mamori.Case) [][]string {
	if len(s.SOS.Escalation) > 0 {
		return s.SOS.Escalation
	}
	var out [][]string
	if d, ok := s.Org.Department(k.Department); ok && len(d.Supervisors) > 0 {
		out = append(out, d.Supervisors)
	}
	if hr := s.Org.Current().HR; len(hr) > 0 {
		out = append(out, hr)
	}
	return out
}

// runSOS escalates an SOS nobody has acknowledged: the next level of the
// chain is alerted by DM (the last level again after the end), the
// employee is told and shown the emergency numbers, and the next round is
// scheduled; after MaxRounds, HR's channel is told nobody answered.
func (s *Service) runSOS(ctx context.Context, j mamori.Job, now time.Time) error {
	var p casePayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return fmt.Errorf("job %d: %w", j.ID, err)
	}
	return s.jobUpdate(ctx, j, now, func(tx mamori.Tx) error {
		k, err := tx.Case(p.Number)
		if errors.Is(err, mamori.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if k.Status != mamori.StatusNew || k.Assignee != "" {
			return nil // acknowledged or safe: it stops at once
		}
		env := s.env(now)
		e := sosRecord(&k)
		e.Rounds = p.Round
		l := s.orgLang()
		if p.Round > s.SOS.maxRounds() {
			if err := tx.Audit(mamori.AuditEntry{At: now, Actor: "system", Action: "sos.unanswered", Subject: k.Number,
				Detail: fmt.Sprintf("rounds=%d", p.Round-1)}); err != nil {
				return err
			}
			m := mamori.Message{Urgent: true, Header: fmt.Sprintf(s.Policy.T(l, "sos.unanswered.header"), k.Number),
				Text: fmt.Sprintf(s.Policy.T(l, "sos.unanswered.text"), mention(k.Reporter.Key()), p.Round-1)}
			if err := s.tellHR(tx, k, fmt.Sprintf("%ssos:%s:unanswered", mamori.UrgentKey, k.Number), m, now); err != nil {
				return err
			}
			// The employee is not left waiting in silence (found by a
			// trial): what to do now that nobody has answered.
			rl := reporterLang(k)
			told := mamori.Message{Step: stepSOS, Urgent: true, Header: fmt.Sprintf(s.Policy.T(rl, "sos.unanswered.you.header"), k.Number),
				Text: s.Policy.T(rl, "sos.unanswered.you"), Note: s.Policy.T(rl, "onsite.note"),
				Choices: []mamori.Choice{{Value: mamori.SOSSafe + ":" + k.Number, Label: s.Policy.T(rl, "sos.safe.button")}}}
			return tellKeyed(tx, now, k, "sos-unanswered", mamori.UrgentKey, told)
		}
		levels := s.levels(k)
		var fresh []string
		if len(levels) > 0 {
			for _, who := range levels[min(p.Round, len(levels))-1] {
				if who != "" && !sameUser(who, k.Reporter) {
					fresh = append(fresh, fmt.Sprintf("sos:%s:u:%s:%d", k.Number, who, p.Round))
				}
			}
		}
		if len(fresh) == 0 && s.Org.HRChannel != "" {
			fresh = []string{fmt.Sprintf("sos:%s:hr:%d", k.Number, p.Round)}
		}
		e.Refs = append(e.Refs, fresh...)
		e.Version++
		k.Updated = now
		if err := tx.UpdateCase(k); err != nil {
			return err
		}
		if err := tx.Audit(mamori.AuditEntry{At: now, Actor: "system", Action: "sos.escalated", Subject: k.Number,
			Detail: fmt.Sprintf("round=%d alerts=%d", p.Round, len(fresh))}); err != nil {
			return err
		}
		// The cards already posted show the round; the new ones alert.
		if err := s.postAlerts(tx, env, k, e.Refs[:len(e.Refs)-len(fresh)], ""); err != nil {
			return err
		}
		if err := s.postAlerts(tx, env, k, fresh, mamori.UrgentKey); err != nil {
			return err
		}
		rl := reporterLang(k)
		// One message, updated each round (found by a re-trial: ten alike
		// in a row).
		m := mamori.Message{Ref: "sos-you:" + k.Number + ":escalated", Step: stepSOS, Urgent: true, Header: fmt.Sprintf(s.Policy.T(rl, "sos.escalated.header"), k.Number),
			Text:    fmt.Sprintf(s.Policy.T(rl, "sos.escalated.text"), p.Round),
			Note:    s.Policy.T(rl, "onsite.note"),
			Choices: []mamori.Choice{{Value: mamori.SOSSafe + ":" + k.Number, Label: s.Policy.T(rl, "sos.safe.button")}}}
		if err := tellKeyed(tx, now, k, fmt.Sprintf("sos-escalated-%d", p.Round), mamori.UrgentKey, m); err != nil {
			return err
		}
		next, _ := json.Marshal(casePayload{Number: k.Number, Round: p.Round + 1})
		return tx.Schedule(mamori.Job{Key: fmt.Sprintf("%s:%s:round:%d", jobSOS, k.Number, p.Round+1), Kind: jobSOS,
			Due: now.Add(s.SOS.ackWithin()), Payload: next})
	})
}

// Sent records when an SOS's first alert reached a platform, for the
// figure that tells a company whether its people are safe: the time from
// SOS to alert. The worker calls it after each message it sends.
func (s *Service) Sent(ctx context.Context, item mamori.OutboxItem, at time.Time) error {
	rest, ok := strings.CutPrefix(item.Key, mamori.UrgentKey+"sos:")
	if !ok {
		return nil
	}
	number, _, _ := strings.Cut(rest, ":")
	return s.Store.Update(ctx, func(tx mamori.Tx) error {
		k, err := tx.Case(number)
		if errors.Is(err, mamori.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		e := sosRecord(&k)
		if e == nil || !e.Posted.IsZero() {
			return nil
		}
		e.Posted = at
		if err := tx.UpdateCase(k); err != nil {
			return err
		}
		return tx.Audit(mamori.AuditEntry{At: at, Actor: "system", Action: "sos.posted", Subject: number,
			Detail: fmt.Sprintf("after_ms=%d", at.Sub(k.Created).Milliseconds())})
	})
}

// sosDetails is an SOS's record for those who may see it: the card, and
// what the employee typed and sent during it.
func sosDetails(env Env, k mamori.Case, l mamori.Lang, loc *time.Location) mamori.Message {
	m := SOSAlert(env, k, l, loc)
	m.Choices, m.Step, m.Urgent = nil, "", false
	e := sosRecord(&k)
	at := func(x time.Time) string {
		if loc != nil {
			x = x.In(loc)
		}
		return x.Format("2006-01-02 15:04")
	}
	if !e.Posted.IsZero() {
		m.Fields = append(m.Fields, mamori.Field{Label: env.Policy.T(l, "sos.details.posted"), Value: at(e.Posted)})
	}
	for _, n := range e.Notes {
		m.Fields = append(m.Fields, mamori.Field{Label: fmt.Sprintf(env.Policy.T(l, "sos.details.note"), at(n.At)), Value: n.Text})
	}
	if len(e.Files) > 0 {
		names := make([]string, len(e.Files))
		for i, f := range e.Files {
			names[i] = f.Name
		}
		m.Fields = append(m.Fields, mamori.Field{Label: env.Policy.T(l, "sos.details.files"), Value: strings.Join(names, "\n")})
	}
	if e.Report != "" {
		m.Fields = append(m.Fields, mamori.Field{Label: env.Policy.T(l, "sos.details.report"), Value: e.Report})
	}
	m.Note = env.Policy.T(l, "details.note")
	return m
}
