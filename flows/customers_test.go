package flows_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mamori-oss/mamori/flows"
)

func TestCustomerKeys(t *testing.T) {
	for _, tc := range []struct {
		typed string
		want  []string
	}{
		// Phone numbers in their common forms.
		{"090-1234-5678", []string{"t:09012345678"}},
		{"09012345678", []string{"t:09012345678"}},
		{"０９０－１２３４－５６７８", []string{"t:09012345678"}},
		{"０９０ー１２３４ー５６７８", []string{"t:09012345678"}}, // the long vowel mark an IME gives for "-"
		{"090 1234 5678", []string{"t:09012345678"}},
		{"(090)1234-5678", []string{"t:09012345678"}},
		{"+81 90-1234-5678", []string{"t:09012345678"}},
		{"+81-90-1234-5678", []string{"t:09012345678"}},
		{"＋８１（０）９０ １２３４ ５６７８", []string{"t:09012345678"}},
		{"03-1234-5678", []string{"t:0312345678"}},
		{"(03)1234-5678", []string{"t:0312345678"}},
		{"03.1234.5678", []string{"t:0312345678"}},
		{"0120-123-456", []string{"t:0120123456"}},
		{"電話：090-1234-5678", []string{"t:09012345678"}},
		{"電話は090-1234-5678", []string{"t:09012345678"}},
		{"TEL 090-1234-5678", []string{"t:09012345678"}},
		{"tel:09012345678", []string{"t:09012345678"}},
		{"Tel09012345678", []string{"t:09012345678"}},
		{"携帯 090-1234-5678（本人）", []string{"t:09012345678"}},
		// Customer and contract numbers.
		{"顧客番号 A-12345", []string{"n:a12345"}},
		{"顧客番号：Ａ１２３４５", []string{"n:a12345"}},
		{"お客様番号a12345", []string{"n:a12345"}},
		{"No. 12345678", []string{"n:12345678"}},
		{"契約番号 C-0098-7", []string{"n:c00987"}},
		{"customer no: 4711", []string{"n:4711"}},
		{"C 4242", []string{"n:c4242"}},
		{"ab 12-34", []string{"n:ab1234"}},
		{"123", nil}, // too short to say who it is
		// Names: kana folded, spaces and honorifics gone.
		{"山田太郎", []string{"p:山田太郎"}},
		{"山田 太郎 様", []string{"p:山田太郎"}},
		{"山田　太郎さま", []string{"p:山田太郎"}},
		{"ヤマダ タロウ", []string{"p:やまだたろう"}},
		{"ﾔﾏﾀﾞ ﾀﾛｳ", []string{"p:やまだたろう"}},
		{"やまだ たろう様", []string{"p:やまだたろう"}},
		{"お名前：山田太郎", []string{"p:山田太郎"}},
		{"ジョン・スミス", []string{"p:じょんすみす"}},
		{"John Smith", []string{"p:johnsmith"}},
		{"Mr. John Smith", []string{"p:johnsmith"}},
		{"山田様", nil}, // a family name alone names too many people
		{"60代 男性", nil},
		// Several at once, as a reporter types them.
		{"山田太郎、090-1234-5678、顧客番号A-12345", []string{"p:山田太郎", "t:09012345678", "n:a12345"}},
		{"090-1234-5678 山田太郎様", []string{"t:09012345678", "p:山田太郎"}},
		{"顧客番号 12345678 電話 03 1234 5678", []string{"n:12345678", "t:0312345678"}},
		{"山田太郎（60代男性）\n電話 090-1234-5678 / 会員番号 M-0042", []string{"p:山田太郎", "t:09012345678", "n:m0042"}},
		{"090-1234-5678, 09012345678", []string{"t:09012345678"}},
		{"", nil},
		{"わからない", nil},
		{"不明", nil},
		{"名乗らない", nil},
		{"unknown", nil},
	} {
		t.Run(tc.typed, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, flows.CustomerKeys(tc.typed)); diff != "" {
				t.Errorf("CustomerKeys(%q) (-want +got):\n%s", tc.typed, diff)
			}
		})
	}
}

// The same customer as three reporters typed them matches; another
// customer does not.
func TestCustomerKeysMatch(t *testing.T) {
	same := []string{
		"山田太郎 ０９０１２３４５６７８",
		"電話 090-1234-5678",
		"ヤマダ様（携帯 +81 90 1234 5678）",
		"顧客番号 A-12345 / 山田 太郎",
	}
	shares := func(a, b []string) bool {
		return slices.ContainsFunc(a, func(k string) bool { return slices.Contains(b, k) })
	}
	for i := 1; i < len(same); i++ {
		if !shares(flows.CustomerKeys(same[0]), flows.CustomerKeys(same[i])) {
			t.Errorf("%q and %q do not match: %q, %q", same[0], same[i], flows.CustomerKeys(same[0]), flows.CustomerKeys(same[i]))
		}
	}
	for _, other := range []string{"090-1234-5679", "山田花子", "顧客番号 A-12346", "03-1234-5678"} {
		if shares(flows.CustomerKeys(same[0]), flows.CustomerKeys(other)) {
			t.Errorf("%q matches %q", other, same[0])
		}
	}
}

func FuzzCustomerKeys(f *testing.F) {
	for _, s := range []string{"090-1234-5678", "山田 太郎 様", "＋８１（０）９０", "顧客番号:A-1", "tel:", "様", "ー－", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		keys := flows.CustomerKeys(s)
		for _, k := range keys {
			if len(k) < 3 || (k[:2] != "t:" && k[:2] != "n:" && k[:2] != "p:") {
				t.Errorf("CustomerKeys(%q) gave %q", s, k)
			}
		}
		// Normalised keys read the same again: a key typed back finds itself.
		for _, k := range keys {
			if again := flows.CustomerKeys(k[2:]); k[:2] != "p:" && !slices.Contains(again, k) {
				t.Errorf("%q → %q, but %q → %q", s, k, k[2:], again)
			}
		}
	})
}
