package mamori

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Directory sources: where the people of a Group are read.
const (
	SourceSlack = "slack" // a Slack user group, by @handle or id (S…)
	SourceEntra = "entra" // a Microsoft Entra group, by object id, read through Microsoft Graph
)

// Group names a directory group whose members the organisation takes in:
// a department's members or supervisors, or the HR desk.
type Group struct {
	Source string `json:"source"` // SourceSlack or SourceEntra
	ID     string `json:"id"`     // "@store-staff" or "S0614TZR7"; an Entra object id
}

// String is the group as logs and the directory check show it:
// "slack:@store-staff".
func (g Group) String() string { return g.Source + ":" + g.ID }

// Member is a person a directory group lists.
type Member struct {
	// ID is the person's id on the source: a Slack user id, or an Entra
	// object id (the id Teams users have in Mamori).
	ID    string `json:"id"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
}

// Directory reads the members of groups from one source (Slack, Entra).
type Directory interface {
	// Members returns the people group lists now, all of them (every
	// page); an empty group is no error. ErrNotFound when there is no
	// such group.
	Members(ctx context.Context, group string) ([]Member, error)
}

// Roster is what the last syncs read of one group: its members as last
// read, and the last failure since then.
type Roster struct {
	Group   Group    `json:"group"`
	Members []Member `json:"members"`
	// Synced is when Members were read; zero when never.
	Synced time.Time `json:"synced"`
	// Failing is the first attempt that failed after Synced, Failed the
	// last one, with its error; zero when the last attempt succeeded.
	Failing time.Time `json:"failing,omitzero"`
	Failed  time.Time `json:"failed,omitzero"`
	Error   string    `json:"error,omitempty"`
}

// Groups lists the directory groups o names, each once, in the order the
// departments and HR name them.
func (o *Org) Groups() []Group {
	var out []Group
	add := func(gs []Group) {
		for _, g := range gs {
			if !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	for _, d := range o.Departments {
		add(d.MemberGroups)
		add(d.SupervisorGroups)
	}
	add(o.HRGroups)
	return out
}

// WithMembers returns a copy of o whose lists also hold the people members
// gives o's groups: a department's Members and Supervisors, and HR. A
// Slack member is listed by user id; an Entra member by email when the
// group gives one (it matches on Slack and Teams alike), else by object id
// (a Teams user's id). o is left as it is.
func (o *Org) WithMembers(members map[Group][]Member) *Org {
	out := *o
	out.live, out.index = nil, nil
	out.aliases = map[string]string{}
	for k, v := range o.aliases {
		out.aliases[k] = v
	}
	merge := func(list []string, groups []Group) []string {
		if len(groups) == 0 {
			return list
		}
		list = slices.Clip(list) // never append into the configuration's array
		have := make(map[string]bool, len(list))
		for _, x := range list {
			have[strings.ToLower(x)] = true
		}
		for _, g := range groups {
			for _, m := range members[g] {
				entry := m.ID
				if g.Source == SourceEntra && m.Email != "" {
					entry = strings.ToLower(m.Email)
					if m.ID != "" {
						out.aliases[m.ID] = entry
					}
				}
				if k := strings.ToLower(entry); entry != "" && !have[k] {
					have[k] = true
					list = append(list, entry)
				}
			}
		}
		return list
	}
	out.Departments = make([]Department, len(o.Departments))
	for i, d := range o.Departments {
		d.Members = merge(d.Members, d.MemberGroups)
		d.Supervisors = merge(d.Supervisors, d.SupervisorGroups)
		out.Departments[i] = d
	}
	out.HR = merge(o.HR, o.HRGroups)
	if len(out.aliases) == 0 {
		out.aliases = nil
	}
	out.index = newOrgIndex(&out)
	return &out
}

// orgIndex finds a person's departments and desk in a merged directory
// by their id or email in one map read, where the configuration's lists
// are scanned: a directory of thousands is consulted on every message.
// Its keys follow matches: "i:" and a list entry as it is, for a user id
// equal to it; "e:" and the entry in lower case, for an email equal to
// it whatever the case.
type orgIndex struct {
	in map[string]*placement
}

// placement is where one list entry is: the departments that list it as
// a member or supervisor, those that list it as a supervisor (indexes
// into Departments, in order), and whether HR lists it.
type placement struct {
	depts, supervises []int
	hr                bool
}

func newOrgIndex(o *Org) *orgIndex {
	x := &orgIndex{in: map[string]*placement{}}
	at := func(entry string, fn func(*placement)) {
		if entry == "" {
			return
		}
		for _, k := range []string{"i:" + entry, "e:" + strings.ToLower(entry)} {
			p := x.in[k]
			if p == nil {
				p = &placement{}
				x.in[k] = p
			}
			fn(p)
		}
	}
	addDept := func(list []int, i int) []int {
		if n := len(list); n > 0 && list[n-1] == i {
			return list
		}
		return append(list, i)
	}
	for i, d := range o.Departments {
		for _, m := range d.Members {
			at(m, func(p *placement) { p.depts = addDept(p.depts, i) })
		}
		for _, m := range d.Supervisors {
			at(m, func(p *placement) { p.depts, p.supervises = addDept(p.depts, i), addDept(p.supervises, i) })
		}
	}
	for _, m := range o.HR {
		at(m, func(p *placement) { p.hr = true })
	}
	return x
}

// placements returns where u is listed: by id, by email, and by the
// email a directory group gave for u's id.
func (x *orgIndex) placements(u User, aliases map[string]string) []*placement {
	var out []*placement
	if u.ID != "" {
		if p := x.in["i:"+u.ID]; p != nil {
			out = append(out, p)
		}
	}
	emails := []string{u.Email}
	if a, ok := aliases[u.ID]; ok && u.ID != "" {
		emails = append(emails, a)
	}
	for _, e := range emails {
		if e == "" {
			continue
		}
		if p := x.in["e:"+strings.ToLower(e)]; p != nil {
			out = append(out, p)
		}
	}
	return out
}

// first returns the first department that lists u.
func (x *orgIndex) first(u User, aliases map[string]string) (int, bool) {
	best := -1
	for _, p := range x.placements(u, aliases) {
		if len(p.depts) > 0 && (best < 0 || p.depts[0] < best) {
			best = p.depts[0]
		}
	}
	return best, best >= 0
}

// supervises returns the departments that list u as a supervisor, in
// order.
func (x *orgIndex) supervises(u User, aliases map[string]string) []int {
	ps := x.placements(u, aliases)
	if len(ps) == 1 {
		return ps[0].supervises
	}
	var out []int
	for _, p := range ps {
		for _, i := range p.supervises {
			if !slices.Contains(out, i) {
				out = append(out, i)
			}
		}
	}
	slices.Sort(out)
	return out
}

func (x *orgIndex) isHR(u User, aliases map[string]string) bool {
	for _, p := range x.placements(u, aliases) {
		if p.hr {
			return true
		}
	}
	return false
}

// liveOrg is the directory an Org answers from, swapped whole by
// UseMembers while messages are being handled.
type liveOrg struct {
	base *Org // the Org it was made for: a copy of that Org does not use it
	cur  atomic.Pointer[Org]
}

// UseMembers makes o's methods answer from o.WithMembers(members) from now
// on: a snapshot swapped whole, so a lookup, which runs on every message,
// stays a read of memory and never sees half a sync. The first call must
// come before o is shared between goroutines; later ones may come at any
// time. A copy of o made afterwards answers from its own fields.
func (o *Org) UseMembers(members map[Group][]Member) {
	if o.live == nil || o.live.base != o {
		o.live = &liveOrg{base: o}
	}
	o.live.cur.Store(o.WithMembers(members))
}

// Current returns the organisation o's methods answer from: o with the
// directory's people merged in by the latest UseMembers, or o itself.
// Read its fields (Departments, HR) for the merged lists.
func (o *Org) Current() *Org { return o.current() }

func (o *Org) current() *Org {
	if l := o.live; l != nil && l.base == o {
		if c := l.cur.Load(); c != nil {
			return c
		}
	}
	return o
}
