package sqlrow

import (
	"strings"
	"testing"

	"github.com/mamori-oss/mamori"
)

// TestUrgentPending: the literals of the claim's condition (and of the
// outbox_urgent indexes, which repeat it) are mamori.UrgentKey and the
// first key past the keys it begins.
func TestUrgentPending(t *testing.T) {
	k := mamori.UrgentKey
	if want := k[:len(k)-1] + string(k[len(k)-1]+1); UrgentEnd != want {
		t.Errorf("UrgentEnd = %q, want %q", UrgentEnd, want)
	}
	if want := "key >= '" + k + "' AND key < '" + UrgentEnd + "'"; !strings.Contains(UrgentPending, want) {
		t.Errorf("UrgentPending = %q, want it to hold %q", UrgentPending, want)
	}
	for _, key := range []string{k, k + "sos:1:dept", k + "\U0010FFFF"} {
		if !(key >= k && key < UrgentEnd) {
			t.Errorf("%q is not in [%q, %q)", key, k, UrgentEnd)
		}
	}
	for _, key := range []string{"urgent", "urgent;", "urgentx", "in:urgent:1", "campaign:1"} {
		if key >= k && key < UrgentEnd {
			t.Errorf("%q is in [%q, %q)", key, k, UrgentEnd)
		}
	}
}
