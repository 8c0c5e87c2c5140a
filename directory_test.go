package mamori_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mamori-oss/mamori"
)

var (
	storeStaff = mamori.Group{Source: mamori.SourceSlack, ID: "@store-staff"}
	storeLeads = mamori.Group{Source: mamori.SourceSlack, ID: "@store-leads"}
	hrDesk     = mamori.Group{Source: mamori.SourceEntra, ID: "6f1c2a9e-0b3d-4c5e-8f7a-1b2c3d4e5f60"}
)

func groupOrg() *mamori.Org {
	return &mamori.Org{HRChannel: "C0HR", HR: []string{"U0HR"}, HRGroups: []mamori.Group{hrDesk},
		Departments: []mamori.Department{
			{ID: "store", SupervisorChannel: "C0STORE", Supervisors: []string{"U0SATO"}, Members: []string{"U0TANAKA"},
				MemberGroups: []mamori.Group{storeStaff}, SupervisorGroups: []mamori.Group{storeLeads}},
			{ID: "support", SupervisorChannel: "C0SUPPORT", Supervisors: []string{"U0SUZUKI"}, Members: []string{"yamada@example.co.jp"},
				SupervisorGroups: []mamori.Group{storeLeads}},
		}}
}

func slackUser(id string) mamori.User { return mamori.User{Platform: mamori.PlatformSlack, ID: id} }

// TestWithMembers: the groups' people join the configuration's lists,
// once each, without touching them; an Entra member is listed by email
// and found by object id too (a Teams user whose email is unknown).
func TestWithMembers(t *testing.T) {
	o := groupOrg()
	if got := o.Groups(); !slices.Equal(got, []mamori.Group{storeStaff, storeLeads, hrDesk}) {
		t.Errorf("Groups() = %v", got)
	}
	members := map[mamori.Group][]mamori.Member{
		storeStaff: {{ID: "U0TANAKA"}, {ID: "U0KOBAYASHI"}},
		storeLeads: {{ID: "U0ITO"}},
		hrDesk:     {{ID: "0a1b2c3d-1111-4222-8333-444455556666", Email: "Kato@Example.co.jp"}, {ID: "9f8e7d6c-1111-4222-8333-444455556666"}},
	}
	m := o.WithMembers(members)
	if d := m.Departments[0]; !slices.Equal(d.Members, []string{"U0TANAKA", "U0KOBAYASHI"}) || !slices.Equal(d.Supervisors, []string{"U0SATO", "U0ITO"}) {
		t.Errorf("store: members %v, supervisors %v", d.Members, d.Supervisors)
	}
	if got := m.HR; !slices.Equal(got, []string{"U0HR", "kato@example.co.jp", "9f8e7d6c-1111-4222-8333-444455556666"}) {
		t.Errorf("HR = %v", got)
	}
	if !slices.Equal(o.Departments[0].Members, []string{"U0TANAKA"}) || !slices.Equal(o.HR, []string{"U0HR"}) {
		t.Errorf("WithMembers changed the configuration's lists: %v %v", o.Departments[0].Members, o.HR)
	}
	for _, tc := range []struct {
		u          mamori.User
		dept       string
		hr         bool
		supervises []string
	}{
		{slackUser("U0KOBAYASHI"), "store", false, nil},
		{slackUser("U0ITO"), "store", false, []string{"store", "support"}},
		{slackUser("U0SUZUKI"), "support", false, []string{"support"}},
		{mamori.User{Platform: mamori.PlatformSlack, ID: "U0KATO", Email: "kato@example.co.jp"}, "", true, nil},
		{mamori.User{Platform: mamori.PlatformTeams, ID: "0a1b2c3d-1111-4222-8333-444455556666"}, "", true, nil},
		{mamori.User{Platform: mamori.PlatformTeams, ID: "9f8e7d6c-1111-4222-8333-444455556666"}, "", true, nil},
		{slackUser("U0NOBODY"), "", false, nil},
	} {
		d, ok := m.DepartmentOf(tc.u)
		if d.ID != tc.dept || ok != (tc.dept != "") {
			t.Errorf("DepartmentOf(%v) = %q, %v; want %q", tc.u.ID, d.ID, ok, tc.dept)
		}
		if got := m.IsHR(tc.u); got != tc.hr {
			t.Errorf("IsHR(%v) = %v", tc.u.ID, got)
		}
		if got := m.Supervises(tc.u); !slices.Equal(got, tc.supervises) {
			t.Errorf("Supervises(%v) = %v, want %v", tc.u.ID, got, tc.supervises)
		}
	}
}

// TestIndexAgreesWithLists: the merged directory's index answers every
// lookup as a scan of the lists does, for random directories and people.
func TestIndexAgreesWithLists(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 17))
	people := []string{"U1", "U2", "U3", "U4", "u1", "a@x.jp", "A@X.JP", "b@x.jp", "c@y.jp", "U5"}
	pick := func() []string {
		var out []string
		for range rng.IntN(4) {
			out = append(out, people[rng.IntN(len(people))])
		}
		return out
	}
	for n := range 300 {
		o := &mamori.Org{HR: pick()}
		for i := range 1 + rng.IntN(4) {
			o.Departments = append(o.Departments, mamori.Department{ID: fmt.Sprint("d", i), Members: pick(), Supervisors: pick()})
		}
		indexed := o.WithMembers(nil) // the same lists, behind the index
		for _, id := range append(people, "") {
			for _, email := range []string{"", "a@x.jp", "B@x.jp", "U1"} {
				u := mamori.User{ID: id, Email: email}
				d1, ok1 := o.DepartmentOf(u)
				d2, ok2 := indexed.DepartmentOf(u)
				if d1.ID != d2.ID || ok1 != ok2 {
					t.Fatalf("#%d DepartmentOf(%+v): scan %q %v, index %q %v\n%+v", n, u, d1.ID, ok1, d2.ID, ok2, o)
				}
				if a, b := o.IsHR(u), indexed.IsHR(u); a != b {
					t.Fatalf("#%d IsHR(%+v): scan %v, index %v", n, u, a, b)
				}
				if a, b := o.Supervises(u), indexed.Supervises(u); !slices.Equal(a, b) {
					t.Fatalf("#%d Supervises(%+v): scan %v, index %v", n, u, a, b)
				}
				for _, d := range o.Departments {
					if a, b := o.IsSupervisor(u, d.ID), indexed.IsSupervisor(u, d.ID); a != b {
						t.Fatalf("#%d IsSupervisor(%+v, %s): scan %v, index %v", n, u, d.ID, a, b)
					}
				}
			}
		}
	}
}

// TestUseMembers: the Org answers from the latest membership, swapped
// while others read it (run with -race); Current gives the merged lists;
// a copy made for another use (the web sandbox rewrites ids) answers
// from its own fields.
func TestUseMembers(t *testing.T) {
	o := groupOrg()
	tanaka, kobayashi := slackUser("U0TANAKA"), slackUser("U0KOBAYASHI")
	if _, ok := o.DepartmentOf(kobayashi); ok {
		t.Fatal("a group member is in a department before any sync")
	}
	o.UseMembers(map[mamori.Group][]mamori.Member{storeStaff: {{ID: "U0KOBAYASHI"}}})
	if d, ok := o.DepartmentOf(kobayashi); !ok || d.ID != "store" {
		t.Fatalf("DepartmentOf(group member) = %q, %v", d.ID, ok)
	}
	if got := o.Current().Departments[0].Members; !slices.Equal(got, []string{"U0TANAKA", "U0KOBAYASHI"}) {
		t.Errorf("Current() members = %v", got)
	}
	if diff := cmp.Diff([]string{"U0TANAKA"}, o.Departments[0].Members); diff != "" {
		t.Errorf("the configuration's list changed (-want +got):\n%s", diff)
	}
	cp := *o
	cp.Departments = []mamori.Department{{ID: "elsewhere", Members: []string{"U0TANAKA"}}}
	if d, ok := cp.DepartmentOf(tanaka); !ok || d.ID != "elsewhere" {
		t.Errorf("a copy answers from the original's directory: %q, %v", d.ID, ok)
	}

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// Always in store: by the list, whatever the group says.
				if d, ok := o.DepartmentOf(tanaka); !ok || d.ID != "store" {
					t.Errorf("DepartmentOf(tanaka) = %q, %v during swaps", d.ID, ok)
					return
				}
				o.IsHR(kobayashi)
				o.Supervises(kobayashi)
			}
		}()
	}
	for i := range 200 {
		ms := map[mamori.Group][]mamori.Member{}
		if i%2 == 0 {
			ms[storeStaff] = []mamori.Member{{ID: "U0KOBAYASHI"}}
		}
		o.UseMembers(ms)
	}
	close(stop)
	wg.Wait()
	o.UseMembers(nil)
	if _, ok := o.DepartmentOf(kobayashi); ok {
		t.Error("a member who left the group is still in the department")
	}
}

// BenchmarkDirectory: the lookups a message makes against a directory of
// 5,000 people from groups, and the merge a sync makes.
func BenchmarkDirectory(b *testing.B) {
	o := groupOrg()
	members := map[mamori.Group][]mamori.Member{}
	for i := range 5000 {
		members[storeStaff] = append(members[storeStaff], mamori.Member{ID: fmt.Sprintf("U%08d", i)})
	}
	b.Run("merge", func(b *testing.B) {
		for b.Loop() {
			o.WithMembers(members)
		}
	})
	o.UseMembers(members)
	u := mamori.User{Platform: mamori.PlatformSlack, ID: "U00004999", Email: "someone@example.co.jp"}
	b.Run("lookup", func(b *testing.B) {
		for b.Loop() {
			o.DepartmentOf(u)
			o.IsHR(u)
			o.IsSupervisor(u, "store")
			o.Supervises(u)
		}
	})
}
