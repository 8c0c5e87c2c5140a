package flows

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Repeat customers (issue 16): what a reporter, HR or someone at the
// front line types to identify a customer becomes the keys of a blind
// index. The same customer typed differently gives the same keys:
//
//   - NFKC: full-width digits and letters become ASCII, half-width
//     katakana full-width ("０９０" is "090", "ﾔﾏﾀﾞ" is "ヤマダ");
//   - letters are lower case, katakana is folded to hiragana
//     ("ヤマダ" and "やまだ" are one name);
//   - spaces, hyphens (also "ー" and "－" between digits), dots and
//     parentheses go ("090-1234-5678", "090 1234 5678", "(090)1234-5678");
//   - a phone number is kept as dialled in Japan: "+81 90-…" is "090…";
//   - labels ("電話", "顧客番号:", "TEL", "No.") and honorifics ("様",
//     "さん") go.
//
// Each identifier gets its kind in front: "t:" a phone number, "n:" a
// customer, contract or other number, "p:" a name. A name is kept only
// from three characters on ("山田" alone names too many people), a number
// from four; words with digits that are neither ("60代") are left out.
// Separate identifiers are separated by a line break, a comma, "、", ";"
// or "/"; within one, a name may have spaces ("山田 太郎").

// Kinds of customer keys.
const (
	keyPhone  = "t:"
	keyNumber = "n:"
	keyName   = "p:"
)

// Shortest identifiers kept, in characters.
const (
	minNumber = 4
	minName   = 3
)

// CustomerKeys returns the blind-index keys of the identifiers in typed,
// each once, in the order they were typed.
func CustomerKeys(typed string) []string {
	s := strings.ToLower(norm.NFKC.String(typed))
	var keys []string
	keep := func(k string) {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	for _, item := range strings.FieldsFunc(s, func(r rune) bool {
		return r == '\n' || r == ',' || r == '、' || r == ';' || r == '/' || r == '|' || r == '。'
	}) {
		for _, k := range itemKeys(item) {
			keep(k)
		}
	}
	return keys
}

// dashes are what people type between the digits of a number: hyphens,
// minus signs, dashes, and the long vowel mark a Japanese input method
// gives for "-".
const dashes = "-‐‑‒–—―−ー~〜"

// separators are what may stand between the characters of a number.
const separators = dashes + "().#_"

// itemKeys reads one identifier, or a name beside numbers.
func itemKeys(item string) []string {
	// Parentheses are separators, so that "(03)1234-5678" and
	// "090-1234-5678(携帯)" read as the number.
	item = strings.NewReplacer("(", " ( ", ")", " ) ", "[", " ", "]", " ", "「", " ", "」", " ").Replace(item)
	var tokens []string
	for _, f := range strings.Fields(item) {
		if f = stripLabel(f); f != "" {
			tokens = append(tokens, f)
		}
	}
	var keys []string
	var name strings.Builder
	for i := 0; i < len(tokens); i++ {
		tok := tokens[i]
		if digits, plus, ok := numeric(tok); ok {
			// The longest run of tokens from here that is a phone
			// number ("090 1234 5678"); else this token alone.
			run, best, bestEnd := "", "", -1
			for j := i; j < len(tokens); j++ {
				d, p, ok := numeric(tokens[j])
				if !ok || len(run)+len(d) > 13 || j-i > 8 {
					break
				}
				if j == i {
					plus = p
				}
				run += d
				if ph, ok := phone(run, plus); ok {
					best, bestEnd = ph, j
				}
			}
			if bestEnd >= 0 {
				keys = append(keys, keyPhone+best)
				i = bestEnd
				continue
			}
			if len(digits) >= minNumber {
				keys = append(keys, keyNumber+digits)
			}
			continue
		}
		// A letter or two before a number: "C 4242" is "C-4242".
		if i+1 < len(tokens) && len(tok) <= 2 && isLetters(tok) && hasDigit(tokens[i+1]) {
			if id, ok := number(tok + tokens[i+1]); ok {
				keys = append(keys, keyNumber+id)
				i++
				continue
			}
		}
		if id, ok := number(tok); ok {
			keys = append(keys, keyNumber+id)
			continue
		}
		if hasDigit(tok) {
			continue // "60代": a description, not an identifier
		}
		name.WriteString(tok)
	}
	if n := foldName(name.String()); utf8.RuneCountInString(n) >= minName && !nonAnswers[n] {
		keys = append(keys, keyName+n)
	}
	return keys
}

// numeric reads a token of digits and separators ("090-1234", "(03)",
// "+81"): its digits, whether it began with "+", and whether it is one.
func numeric(tok string) (digits string, plus bool, ok bool) {
	var b strings.Builder
	for i, r := range tok {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			plus = true
		case strings.ContainsRune(separators, r):
		default:
			return "", false, false
		}
	}
	return b.String(), plus, true
}

// phone returns the digits of a Japanese phone number as dialled at home
// (0 and 9 or 10 digits), from international form (+81, leaving out the
// 0) too.
func phone(digits string, plus bool) (string, bool) {
	if rest, ok := strings.CutPrefix(digits, "81"); ok && plus {
		digits = "0" + strings.TrimPrefix(rest, "0")
	}
	if len(digits) >= 10 && len(digits) <= 11 && digits[0] == '0' && digits[1] != '0' {
		return digits, true
	}
	return "", false
}

// number reads a customer or contract number with letters ("A-12345",
// "c00123"): letters and digits, with at least one digit, without the
// separators.
func number(tok string) (string, bool) {
	var b strings.Builder
	digit := false
	for _, r := range tok {
		switch {
		case r >= '0' && r <= '9':
			digit = true
			b.WriteRune(r)
		case r >= 'a' && r <= 'z':
			b.WriteRune(r)
		case strings.ContainsRune(separators, r):
		default:
			return "", false
		}
	}
	if !digit || b.Len() < minNumber {
		return "", false
	}
	// Without its separators it may begin with a label ("t#el-5el55" is
	// "tel5el55"): read as that would be when typed again, so that a
	// key typed back finds itself.
	if s := stripLabel(b.String()); s != b.String() {
		return number(s)
	}
	return b.String(), true
}

// isLetters reports whether s is ASCII letters alone.
func isLetters(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool { return r < 'a' || r > 'z' })
}

func hasDigit(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r >= '0' && r <= '9' })
}

// labels are the Japanese words people put before an identifier, longest
// first where one begins another. After NFKC and lower case.
var labels = []string{
	"お客様番号", "お客さま番号", "顧客番号", "顧客コード", "顧客id", "会員番号", "会員id", "契約番号", "契約者番号",
	"カード番号", "注文番号", "予約番号", "患者番号", "診察券番号", "利用者番号", "管理番号",
	"携帯電話番号", "携帯番号", "携帯電話", "電話番号", "携帯", "電話", "連絡先",
	"お名前", "氏名", "名前", "契約者", "顧客名", "番号",
}

// asciiLabels are English labels: dropped when they are the whole token,
// and taken off when a colon, a dot or a digit follows them ("tel:",
// "no.", "tel0312345678").
var asciiLabels = []string{"customer", "contract", "member", "client", "account", "phone", "mobile", "tel", "fax",
	"number", "no", "id", "name", "cust"}

// nonAnswers are what people type when they do not know who it was:
// not a name (folded as foldName does).
var nonAnswers = map[string]bool{
	"わからない": true, "わかりません": true, "分からない": true, "分かりません": true, "しらない": true, "知らない": true,
	"しりません": true, "知りません": true, "不明です": true, "ありません": true, "とくになし": true, "特になし": true,
	"とくめい": true, "名乗らない": true, "名乗らず": true, "名のらない": true, "一見客": true, "いちげん": true,
	"unknown": true, "none": true, "dontknow": true, "idontknow": true, "anonymous": true, "notknown": true,
}

// honorifics are the titles after a name, and the English ones before.
var (
	honorifics   = []string{"さま", "様", "さん", "殿", "氏", "ちゃん", "くん", "君"}
	asciiHonours = []string{"mr", "mrs", "ms", "dr"}
)

// stripLabel takes the labels and honorifics off a token; a token that
// is only a label is "".
func stripLabel(tok string) string {
	for changed := true; changed && tok != ""; {
		changed = false
		for _, l := range labels {
			if rest, ok := strings.CutPrefix(tok, l); ok {
				rest = strings.TrimLeft(rest, ":=#")
				// "電話は090…"
				if r, ok := strings.CutPrefix(rest, "は"); ok && (r == "" || startsNumber(r)) {
					rest = r
				}
				tok, changed = rest, true
				break
			}
		}
		for _, l := range append(asciiLabels, asciiHonours...) {
			if tok == l || tok == l+"." || tok == l+":" {
				return ""
			}
			rest, ok := strings.CutPrefix(tok, l)
			if !ok || rest == "" {
				continue
			}
			if strings.ContainsRune(":.=#"+dashes, []rune(rest)[0]) {
				tok, changed = strings.TrimLeft(rest, ":.=#"+dashes), true
			} else if startsNumber(rest) && !slices.Contains(asciiHonours, l) && len(rest) >= minNumber {
				// "tel0312345678", but not "tel5": a label is taken
				// off only a number long enough to be one, or "tel5"
				// would read as nothing while "t#el5" reads as "tel5".
				tok, changed = rest, true
			}
		}
		for _, h := range honorifics {
			if tok == h {
				return ""
			}
			if rest, ok := strings.CutSuffix(tok, h); ok && rest != "" {
				tok, changed = rest, true
			}
		}
	}
	return strings.Trim(tok, ":=#")
}

// startsNumber reports whether s begins like a number: a digit or "+".
func startsNumber(s string) bool {
	return s != "" && (s[0] == '+' || s[0] >= '0' && s[0] <= '9')
}

// foldName folds katakana to hiragana and leaves out what is not a
// letter or the long vowel mark (the name's spaces are gone already).
func foldName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'ァ' && r <= 'ヶ':
			b.WriteRune(r - 'ァ' + 'ぁ')
		case r == 'ー' || unicode.IsLetter(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
