package flows_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

// fakeDirectory is a directory source held in memory: groups and their
// members, and an outage to switch on.
type fakeDirectory struct {
	mu     sync.Mutex
	groups map[string][]mamori.Member
	down   error
	calls  int
}

func (f *fakeDirectory) Members(_ context.Context, group string) ([]mamori.Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.down != nil {
		return nil, f.down
	}
	ms, ok := f.groups[group]
	if !ok {
		return nil, mamori.ErrNotFound
	}
	return slices.Clone(ms), nil
}

func (f *fakeDirectory) set(group string, ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ms []mamori.Member
	for _, id := range ids {
		ms = append(ms, mamori.Member{ID: id})
	}
	f.groups[group] = ms
}

func (f *fakeDirectory) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = err
}

var (
	staffGroup = mamori.Group{Source: mamori.SourceSlack, ID: "@store-staff"}
	leadsGroup = mamori.Group{Source: mamori.SourceSlack, ID: "@store-leads"}
)

// groupsOrg is org() with the store's members and supervisors also from
// Slack user groups, and a second department.
func groupsOrg() *mamori.Org {
	o := org()
	o.Departments[0].MemberGroups = []mamori.Group{staffGroup}
	o.Departments[0].SupervisorGroups = []mamori.Group{leadsGroup}
	o.Departments = append(o.Departments, mamori.Department{ID: "support", Name: mamori.Text{JA: "サポート部", EN: "Support"},
		SupervisorChannel: "C0SUPPORT", Supervisors: []string{"USUZUKI"}})
	return o
}

// directoryRig is the flows rig with an organisation whose store
// department takes its members and supervisors from Slack user groups.
func directoryRig(t *testing.T, src *fakeDirectory, logs *bytes.Buffer) *rig {
	t.Helper()
	r := newRig(t)
	r.svc.Org = groupsOrg()
	r.svc.Directory = &flows.Directory{Sources: map[string]mamori.Directory{mamori.SourceSlack: src}, Every: time.Hour}
	if logs != nil {
		r.svc.Log = slog.New(slog.NewTextHandler(logs, nil))
	}
	return r
}

// TestDirectorySync: a group's member is in the department and a report
// of theirs goes to its channel; the group's supervisor may read it; one
// who leaves the group is out at the next sync, and the change is in the
// audit trail; while the directory is down, the last good membership
// routes, the log says so and the roster says since when; a restart
// takes the kept membership from the store without asking the directory.
func TestDirectorySync(t *testing.T) {
	ctx := context.Background()
	src := &fakeDirectory{groups: map[string][]mamori.Member{}}
	src.set("@store-staff", "UNEW", "UME")
	src.set("@store-leads", "ULEAD")
	var logs bytes.Buffer
	r := directoryRig(t, src, &logs)
	newcomer, lead := user("UNEW"), user("ULEAD")

	if _, ok := r.svc.Org.DepartmentOf(newcomer); ok {
		t.Fatal("a group member is in a department before any sync")
	}
	rs, err := r.svc.SyncDirectory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || len(rs[0].Members) != 2 || !rs[0].Synced.Equal(r.clock.Now()) {
		t.Fatalf("rosters = %+v", rs)
	}
	if d, ok := r.svc.Org.DepartmentOf(newcomer); !ok || d.ID != "store" {
		t.Fatalf("DepartmentOf(group member) = %q, %v", d.ID, ok)
	}
	if !r.svc.Org.IsSupervisor(lead, "store") {
		t.Fatal("the supervisors' group member does not supervise the store")
	}
	number := r.fileAs(newcomer, mamori.RouteDepartment)
	if cards := r.sent.to(mamori.TargetChannel, "C0STORE"); len(cards) == 0 || !strings.Contains(messageText(cards[len(cards)-1]), number) {
		t.Fatalf("the card of %s is not in the store's channel: %d cards", number, len(cards))
	}
	if _, err := r.svc.CaseDetails(ctx, lead, number); err != nil {
		t.Errorf("the group's supervisor may not read the case: %v", err)
	}

	// One leaves the group.
	src.set("@store-staff", "UME")
	r.clock.Add(time.Hour)
	if _, err := r.svc.SyncDirectory(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.svc.Org.DepartmentOf(newcomer); ok {
		t.Error("a member who left the group is still in the department")
	}
	trail, err := r.db.AuditTrail(ctx, "slack:@store-staff")
	if err != nil || len(trail) != 2 || trail[1].Action != "directory.changed" || !strings.Contains(trail[1].Detail, "removed=UNEW") {
		t.Errorf("audit trail of the group = %+v, %v; want the join, then UNEW removed", trail, err)
	}

	// The directory goes down: the last good membership still routes.
	src.set("@store-staff", "UME", "UNEW")
	src.fail(errors.New("slack: 500 Internal Server Error"))
	synced := r.clock.Now()
	r.clock.Add(time.Hour)
	logs.Reset()
	rs, err = r.svc.SyncDirectory(ctx)
	if !errors.Is(err, flows.ErrUnread) {
		t.Fatalf("SyncDirectory during an outage = %v, want ErrUnread", err)
	}
	down := r.clock.Now()
	r.clock.Add(time.Hour)
	if rs, err = r.svc.SyncDirectory(ctx); !errors.Is(err, flows.ErrUnread) {
		t.Fatalf("SyncDirectory during an outage = %v, want ErrUnread", err)
	}
	if !rs[0].Synced.Equal(synced) || !rs[0].Failing.Equal(down) || !rs[0].Failed.Equal(r.clock.Now()) ||
		!strings.Contains(rs[0].Error, "500") || len(rs[0].Members) != 1 {
		t.Errorf("roster during the outage = %+v; want read at %s, failing since %s", rs[0], synced, down)
	}
	if d, ok := r.svc.Org.DepartmentOf(user("UME")); !ok || d.ID != "store" {
		t.Error("the outage emptied the department")
	}
	if !r.svc.Org.IsSupervisor(lead, "store") {
		t.Error("the outage took the supervisor's rights")
	}
	if got := r.svc.Directory.Rosters(); len(got) != 2 || got[0].Error == "" || !got[0].Synced.Equal(synced) {
		t.Errorf("Rosters() during the outage = %+v", got)
	}
	if !strings.Contains(logs.String(), "keeps its last good membership") || !strings.Contains(logs.String(), "@store-staff") {
		t.Errorf("the log does not say the group was kept:\n%s", logs.String())
	}

	// A restart during the outage: the kept membership, from the store.
	r.restart()
	r.svc.Org, r.svc.Directory = groupsOrg(), &flows.Directory{}
	calls := src.calls
	rs, err = r.svc.LoadDirectory(ctx)
	if err != nil || len(rs) != 2 || src.calls != calls {
		t.Fatalf("LoadDirectory = %+v, %v (%d calls to the directory)", rs, err, src.calls-calls)
	}
	if _, ok := r.svc.Org.DepartmentOf(user("UME")); !ok || !r.svc.Org.IsSupervisor(lead, "store") {
		t.Error("after a restart the kept membership is not used")
	}
	if rs[0].Error == "" || !rs[0].Failing.Equal(down) {
		t.Errorf("the kept roster forgot the outage: %+v", rs[0])
	}

	// Back: the failure is forgotten.
	src.fail(nil)
	r.svc.Directory.Sources = map[string]mamori.Directory{mamori.SourceSlack: src}
	if rs, err = r.svc.SyncDirectory(ctx); err != nil || rs[0].Error != "" || !rs[0].Failing.IsZero() || len(rs[0].Members) != 2 {
		t.Errorf("after the outage: %+v, %v", rs[0], err)
	}
}

// TestDirectoryGroupNeverRead: a group the directory cannot find (a typo
// in the configuration) is logged as never read and gives nobody; the
// other groups are read.
func TestDirectoryGroupNeverRead(t *testing.T) {
	src := &fakeDirectory{groups: map[string][]mamori.Member{}}
	src.set("@store-leads", "ULEAD")
	var logs bytes.Buffer
	r := directoryRig(t, src, &logs)
	rs, err := r.svc.SyncDirectory(context.Background())
	if !errors.Is(err, flows.ErrUnread) || !errors.Is(err, mamori.ErrNotFound) || !strings.Contains(err.Error(), "slack:@store-staff") {
		t.Fatalf("SyncDirectory = %v", err)
	}
	if !rs[0].Synced.IsZero() || rs[0].Error == "" || len(rs[1].Members) != 1 {
		t.Errorf("rosters = %+v", rs)
	}
	if !r.svc.Org.IsSupervisor(user("ULEAD"), "store") {
		t.Error("the group that was read is not applied")
	}
	if !strings.Contains(logs.String(), "never was") {
		t.Errorf("log:\n%s", logs.String())
	}
}

// TestDirectoryJob: the sync is a job in the schedule — one however many
// replicas start, run by the worker, rescheduled a period later; a
// period's second run does not read the directory again.
func TestDirectoryJob(t *testing.T) {
	ctx := context.Background()
	src := &fakeDirectory{groups: map[string][]mamori.Member{}}
	src.set("@store-staff", "UNEW")
	src.set("@store-leads")
	r := directoryRig(t, src, nil)
	for range 3 { // three replicas start
		if err := r.svc.ScheduleDirectory(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.worker.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if src.calls != 2 {
		t.Fatalf("the directory was asked %d times for 2 groups at start", src.calls)
	}
	if d, ok := r.svc.Org.DepartmentOf(user("UNEW")); !ok || d.ID != "store" {
		t.Fatal("the job's sync is not applied")
	}
	// Nothing more within the hour.
	r.clock.Add(59 * time.Minute)
	if _, err := r.worker.Drain(ctx); err != nil || src.calls != 2 {
		t.Fatalf("%d calls within the hour (%v)", src.calls, err)
	}
	src.set("@store-staff")
	r.clock.Add(2 * time.Minute)
	if _, err := r.worker.Drain(ctx); err != nil || src.calls != 4 {
		t.Fatalf("%d calls after an hour, want 4 (%v)", src.calls, err)
	}
	if _, ok := r.svc.Org.DepartmentOf(user("UNEW")); ok {
		t.Error("the hourly sync did not drop the member who left")
	}
	// A sync on demand just before the next job: the job skips it.
	r.clock.Add(55 * time.Minute)
	if _, err := r.svc.SyncDirectory(ctx); err != nil {
		t.Fatal(err)
	}
	r.clock.Add(6 * time.Minute)
	if _, err := r.worker.Drain(ctx); err != nil || src.calls != 6 {
		t.Fatalf("%d calls, want 6: the job read the directory again right after a sync on demand (%v)", src.calls, err)
	}
	// ... and the chain goes on.
	r.clock.Add(time.Hour)
	if _, err := r.worker.Drain(ctx); err != nil || src.calls != 8 {
		t.Fatalf("%d calls, want 8: the chain of syncs stopped (%v)", src.calls, err)
	}
}
