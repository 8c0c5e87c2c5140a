package flows

import (
	"testing"

	"github.com/mamori-oss/mamori"
)

// TestStoredStepNames pins the names that are stored: a conversation's
// Step, History and Flow, and the Step of buttons already posted. A
// renamed step is not found when a person comes back to it, and they are
// sent to the menu with their answers out of reach; a new one must be
// added here, and none of these may change.
func TestStoredStepNames(t *testing.T) {
	pinned := []struct{ got, want string }{
		{stepMenu, "menu"},
		{stepResume, "resume"},
		{stepCancel, "cancel"},
		{stepDone, "done"},
		{stepSummary, "summary"},
		{stepEdit, "edit"},

		{stepSafety, "safety"},
		{stepForWhom, "for_whom"},
		{stepColleague, "colleague"},
		{stepDepartment, "department"},
		{stepWhen, "when"},
		{stepChannel, "channel"},
		{stepPlace, "place"},
		{stepCustomer, "customer"},
		{stepCustomerID, "customer_id"},
		{stepDemand, "demand"},
		{stepFault, "fault"},
		{stepBehaviours, "behaviours"},
		{stepNarrative, "narrative"},
		{stepWords, "words"},
		{stepDuration, "duration"},
		{stepRepeat, "repeat"},
		{stepWitnesses, "witnesses"},
		{stepEvidence, "evidence"},
		{stepWellbeing, "wellbeing"},
		{stepTalk, "talk"},
		{stepRoute, "route"},

		{stepWorry, "c_worry"},
		{stepContact, "c_contact"},
		{stepCSummary, "c_summary"},
		{stepCancelled, "cancelled"},

		{stepTraining, "training"},

		{mamori.FlowReport, "report"},
		{mamori.FlowConsult, "consult"},
	}
	known := map[string]bool{}
	for _, p := range pinned {
		if p.got != p.want {
			t.Errorf("stored step %q is now %q: conversations stored under the old name would be lost", p.want, p.got)
		}
		if known[p.want] {
			t.Errorf("step name %q is used twice", p.want)
		}
		known[p.want] = true
	}
	// Every question is stored under its step: each must be pinned, and
	// found again by its name.
	for _, q := range questions {
		if !known[q.step] {
			t.Errorf("question step %q is not pinned here: add it (and never rename it)", q.step)
		}
		if got, ok := lookup(q.step); !ok || got.step != q.step {
			t.Errorf("lookup(%q) = %q, %v", q.step, got.step, ok)
		}
	}
}
