package teams

import "testing"

// TestCommandTitlesAreUnderstood: every command of the manifest's list,
// in Japanese and in English, is a word the adapter reads when typed or
// chosen from the list (Teams sends the title as the message's text).
func TestCommandTitlesAreUnderstood(t *testing.T) {
	a := &Adapter{}
	for _, c := range Commands {
		for _, title := range []string{c.Title, c.EnglishTitle} {
			if _, _, ok := a.command(title); !ok {
				t.Errorf("the command %q is not understood when typed", title)
			}
		}
	}
}
