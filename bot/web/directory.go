package web

import (
	"fmt"
	"strings"

	"github.com/mamori-oss/mamori"
)

// This file makes the sandbox's workspace from the organisation's
// directory. The configuration may name people and channels as `mamori
// chat` does (me, sato, "#hr-desk"), but the Slack adapter accepts only
// ids of Slack's shape (U…, C…): anything else in a request is refused
// as forged. So each person and channel gets an id of that shape, and the
// directory the flows read is rewritten with those ids; emails stay
// emails, which users.info and users.lookupByEmail then answer for, as
// Slack does.

// Roles a person may have in the directory.
const (
	RoleMember     = "member"
	RoleSupervisor = "supervisor"
	RoleHR         = "hr"
)

// Person is someone in the sandbox's workspace.
type Person struct {
	ID     string `json:"id"`     // the Slack user id, U…
	Handle string `json:"handle"` // as the configuration names them (sato, or an email's local part)
	Email  string `json:"email,omitempty"`
	// Department is the department the person is in (as member or
	// supervisor), or "".
	Department string   `json:"department,omitempty"`
	Roles      []string `json:"roles"`
}

// Has reports whether p has role.
func (p Person) Has(role string) bool {
	for _, r := range p.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Channel is a shared channel of the workspace: a department's
// supervisors' channel or HR's.
type Channel struct {
	ID         string `json:"id"`   // C…
	Name       string `json:"name"` // without the #
	Department string `json:"department,omitempty"`
	HR         bool   `json:"hr,omitempty"`
}

// Directory is the sandbox's workspace: its people and channels, and the
// organisation as the flows see it, with Slack ids.
type Directory struct {
	People   []Person
	Channels []Channel
	org      mamori.Org
	ids      map[string]string // a name in the configuration → its Slack id
}

// NewDirectory makes the workspace of org. Names already of Slack's shape
// are kept, so a configuration written for Slack works as it is.
func NewDirectory(org mamori.Org) *Directory {
	d := &Directory{ids: map[string]string{}}
	taken := map[string]bool{}
	byID := map[string]int{} // Slack id → index in People
	person := func(name, dept, role string) string {
		name = strings.TrimSpace(name)
		if name == "" {
			return ""
		}
		id, known := d.ids[name]
		if !known {
			id = d.newID('U', name, taken)
			d.ids[name] = id
		}
		i, seen := byID[id]
		if !seen {
			p := Person{ID: id, Handle: name}
			if strings.Contains(name, "@") {
				p.Email = name
				p.Handle, _, _ = strings.Cut(name, "@")
			}
			d.People = append(d.People, p)
			i = len(d.People) - 1
			byID[id] = i
		}
		p := &d.People[i]
		if dept != "" && p.Department == "" {
			p.Department = dept
		}
		if !p.Has(role) {
			p.Roles = append(p.Roles, role)
		}
		if p.Email != "" {
			return p.Email // the flows match people by email too
		}
		return id
	}
	people := func(names []string, dept, role string) []string {
		var out []string
		for _, n := range names {
			if id := person(n, dept, role); id != "" {
				out = append(out, id)
			}
		}
		return out
	}
	channel := func(name, dept string, hr bool) string {
		name = strings.TrimSpace(name)
		if name == "" {
			return ""
		}
		if id, ok := d.ids[name]; ok {
			return id
		}
		id := d.newID('C', name, taken)
		d.ids[name] = id
		label := strings.TrimPrefix(name, "#")
		if label == id {
			// A Slack channel id says nothing: name it after its use.
			label = "hr"
			if !hr {
				label = dept + "-supervisors"
			}
		}
		d.Channels = append(d.Channels, Channel{ID: id, Name: label, Department: dept, HR: hr})
		return id
	}

	out := org
	out.Departments = nil
	for _, dep := range org.Departments {
		nd := dep
		nd.SupervisorChannel = channel(dep.SupervisorChannel, dep.ID, false)
		nd.Supervisors = people(dep.Supervisors, dep.ID, RoleSupervisor)
		nd.Members = people(dep.Members, dep.ID, RoleMember)
		out.Departments = append(out.Departments, nd)
	}
	out.HRChannel = channel(org.HRChannel, "", true)
	out.HR = people(org.HR, "", RoleHR)
	if len(org.Langs) > 0 {
		out.Langs = map[string]mamori.Lang{}
		for name, l := range org.Langs {
			out.Langs[d.UserID(name)] = l
		}
	}
	d.org = out
	return d
}

// Org returns the organisation with the workspace's ids.
func (d *Directory) Org() mamori.Org { return d.org }

// UserID returns what the rewritten directory calls the person the
// configuration names name: their Slack id, or their email. A name the
// directory does not list gets an id of its own, so that a list elsewhere
// in the configuration (SOS's on-call people) still reaches them.
func (d *Directory) UserID(name string) string {
	name = strings.TrimSpace(name)
	if strings.Contains(name, "@") || name == "" {
		return name
	}
	if id, ok := d.ids[name]; ok {
		return id
	}
	taken := map[string]bool{}
	for _, id := range d.ids {
		taken[id] = true
	}
	id := d.newID('U', name, taken)
	d.ids[name] = id
	d.People = append(d.People, Person{ID: id, Handle: name, Roles: []string{}})
	return id
}

// UserIDs is UserID for each of names.
func (d *Directory) UserIDs(names []string) []string {
	var out []string
	for _, n := range names {
		out = append(out, d.UserID(n))
	}
	return out
}

// Person returns the person with Slack id id.
func (d *Directory) Person(id string) (Person, bool) {
	for _, p := range d.People {
		if p.ID == id {
			return p, true
		}
	}
	return Person{}, false
}

// Channel returns the channel with id, or named name (with or without #).
func (d *Directory) Channel(idOrName string) (Channel, bool) {
	name := strings.TrimPrefix(idOrName, "#")
	for _, c := range d.Channels {
		if c.ID == idOrName || c.Name == name {
			return c, true
		}
	}
	return Channel{}, false
}

// Cast returns the people the page offers first: an employee who reports,
// their supervisor, HR, and a colleague who may not see the case (of the
// same department, or else of another). A part nobody plays is "".
func (d *Directory) Cast() (employee, supervisor, hr, colleague string) {
	for _, p := range d.People {
		if p.Has(RoleMember) && !p.Has(RoleSupervisor) && !p.Has(RoleHR) {
			employee = p.ID
			break
		}
	}
	emp, _ := d.Person(employee)
	for _, p := range d.People {
		if supervisor == "" && p.Has(RoleSupervisor) && (p.Department == emp.Department || emp.Department == "") {
			supervisor = p.ID
		}
		if hr == "" && p.Has(RoleHR) {
			hr = p.ID
		}
	}
	for _, sameDept := range []bool{true, false} {
		for _, p := range d.People {
			if colleague != "" || p.ID == employee || p.Has(RoleSupervisor) || p.Has(RoleHR) || !p.Has(RoleMember) {
				continue
			}
			if (p.Department == emp.Department) == sameDept {
				colleague = p.ID
			}
		}
	}
	return employee, supervisor, hr, colleague
}

// newID returns an id of Slack's shape for name, kind its first letter:
// name itself when it has that shape, else kind and name's letters and
// digits in capitals, made unique among taken.
func (d *Directory) newID(kind byte, name string, taken map[string]bool) string {
	if isSlackID(name, kind) && !taken[name] {
		taken[name] = true
		return name
	}
	var b strings.Builder
	b.WriteByte(kind)
	for _, r := range strings.ToUpper(name) {
		if r == '@' {
			break
		}
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
		if b.Len() >= 20 {
			break
		}
	}
	base := b.String()
	if len(base) < 3 {
		base += "X"
	}
	id := base
	for n := 2; taken[id]; n++ {
		id = fmt.Sprintf("%s%d", base, n)
	}
	taken[id] = true
	return id
}

// isSlackID reports whether s looks like a Slack id beginning with kind
// (W for people, too, in an Enterprise Grid; G or D for conversations).
func isSlackID(s string, kind byte) bool {
	if len(s) < 2 || len(s) > 64 {
		return false
	}
	switch {
	case kind == 'U' && (s[0] == 'U' || s[0] == 'W'):
	case kind == 'C' && (s[0] == 'C' || s[0] == 'G'):
	default:
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
