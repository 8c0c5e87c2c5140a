package mamori

import "strings"

// Org is the organisation's directory: departments, their supervisor
// channels and people, and the HR channel (相談窓口).
//
// People are listed in the configuration, or come from directory groups
// (a Slack user group, a Microsoft Entra group) that a sync reads and
// UseMembers merges in. Its methods answer from the merged directory;
// its fields hold what the configuration says (Current gives the merged
// lists).
type Org struct {
	Name string `json:"name"`
	// Lang is the language of cards in shared channels.
	Lang        Lang         `json:"lang"`
	HRChannel   string       `json:"hr_channel"`
	HR          []string     `json:"hr"` // user ids or emails
	Departments []Department `json:"departments"`
	// Langs gives the language of people who read another than Lang, by
	// user id or email, for what Mamori sends them before they have used
	// it (a training reminder); once they have, their platform's is known.
	Langs map[string]Lang `json:"langs,omitempty"`
	// HRGroups are directory groups whose members are on the HR desk too.
	HRGroups []Group `json:"hr_groups,omitempty"`

	// live holds the directory merged in by UseMembers. A copy of the Org
	// shares it but does not answer from it (see current).
	live *liveOrg
	// aliases maps the Entra object id of a person a directory group
	// lists by email to that email (lower case): a Teams user whose email
	// the Connector did not give is still found.
	aliases map[string]string
	// index finds people in the merged directory without a scan of every
	// list (see WithMembers); nil in an Org read from the configuration.
	index *orgIndex
}

// Department is one unit whose supervisors judge its cases.
type Department struct {
	ID                string   `json:"id"`
	Name              Text     `json:"name"`
	SupervisorChannel string   `json:"supervisor_channel"`
	Supervisors       []string `json:"supervisors"` // user ids or emails
	Members           []string `json:"members"`     // user ids or emails
	// MemberGroups and SupervisorGroups are directory groups whose
	// members are the department's members and supervisors too.
	MemberGroups     []Group `json:"member_groups,omitempty"`
	SupervisorGroups []Group `json:"supervisor_groups,omitempty"`
}

// matches is matches with o's aliases: u is also the person whose email
// a directory group gave for u's id.
func (o *Org) matches(list []string, u User) bool {
	if matches(list, u) {
		return true
	}
	if e, ok := o.aliases[u.ID]; ok && u.ID != "" && !strings.EqualFold(e, u.Email) {
		return matches(list, User{Email: e})
	}
	return false
}

func matches(list []string, u User) bool {
	for _, m := range list {
		if m == "" {
			continue
		}
		if m == u.ID || (u.Email != "" && strings.EqualFold(m, u.Email)) {
			return true
		}
	}
	return false
}

// Listed reports whether u is in list (user ids or emails).
func Listed(list []string, u User) bool { return matches(list, u) }

// DepartmentOf returns the department u belongs to, by id or email.
func (o *Org) DepartmentOf(u User) (Department, bool) {
	o = o.current()
	if o.index != nil {
		if i, ok := o.index.first(u, o.aliases); ok {
			return o.Departments[i], true
		}
		return Department{}, false
	}
	for _, d := range o.Departments {
		if o.matches(d.Members, u) || o.matches(d.Supervisors, u) {
			return d, true
		}
	}
	return Department{}, false
}

// Department returns the department with that id.
func (o *Org) Department(id string) (Department, bool) {
	o = o.current()
	for _, d := range o.Departments {
		if d.ID == id {
			return d, true
		}
	}
	return Department{}, false
}

// LangOf returns the language the directory gives u, by id or email.
func (o *Org) LangOf(u User) (Lang, bool) {
	if l, ok := o.Langs[u.ID]; ok && u.ID != "" {
		return l, true
	}
	if u.Email == "" {
		return "", false
	}
	for id, l := range o.Langs {
		if strings.EqualFold(id, u.Email) {
			return l, true
		}
	}
	return "", false
}

// IsHR reports whether u is on the HR desk.
func (o *Org) IsHR(u User) bool {
	o = o.current()
	if o.index != nil {
		return o.index.isHR(u, o.aliases)
	}
	return o.matches(o.HR, u)
}

// IsSupervisor reports whether u supervises department id.
func (o *Org) IsSupervisor(u User, id string) bool {
	o = o.current()
	if o.index != nil {
		for _, i := range o.index.supervises(u, o.aliases) {
			if o.Departments[i].ID == id {
				return true
			}
		}
		return false
	}
	d, ok := o.Department(id)
	return ok && o.matches(d.Supervisors, u)
}

// Supervises lists the ids of the departments u supervises.
func (o *Org) Supervises(u User) []string {
	o = o.current()
	var ids []string
	if o.index != nil {
		for _, i := range o.index.supervises(u, o.aliases) {
			ids = append(ids, o.Departments[i].ID)
		}
		return ids
	}
	for _, d := range o.Departments {
		if o.matches(d.Supervisors, u) {
			ids = append(ids, d.ID)
		}
	}
	return ids
}
