package mem

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/mamori-oss/mamori"
)

// Repeat customers and the register (issue 16), as the SQL stores keep
// them but for the hash: the index holds the keys themselves, in memory.

// customerTables are the index of cases by customer key, the manual
// links, and the register with its index. Nil maps are empty tables (a
// state made before they existed).
type customerTables struct {
	index    map[string]map[string]bool // key → case numbers
	links    map[[2]string]mamori.CaseLink
	register map[string][]byte          // number → the entry as JSON
	regIndex map[string]map[string]bool // key → entry numbers
}

// clone copies the tables a transaction may change: the outer maps and,
// since a key's set of numbers changes in place, each set.
func (c customerTables) clone() customerTables {
	sets := func(m map[string]map[string]bool) map[string]map[string]bool {
		out := make(map[string]map[string]bool, len(m))
		for k, v := range m {
			out[k] = maps.Clone(v)
		}
		return out
	}
	return customerTables{index: sets(c.index), links: maps.Clone(c.links), register: maps.Clone(c.register), regIndex: sets(c.regIndex)}
}

func (t *tx) customers(what string) (*customerTables, error) {
	if err := t.writable(what, tCustomers); err != nil {
		return nil, err
	}
	c := &t.s.cust
	if c.index == nil {
		c.index = map[string]map[string]bool{}
	}
	if c.links == nil {
		c.links = map[[2]string]mamori.CaseLink{}
	}
	if c.register == nil {
		c.register = map[string][]byte{}
	}
	if c.regIndex == nil {
		c.regIndex = map[string]map[string]bool{}
	}
	return c, nil
}

func add(m map[string]map[string]bool, key, number string) {
	if key == "" {
		return
	}
	if m[key] == nil {
		m[key] = map[string]bool{}
	}
	m[key][number] = true
}

func numbers(m map[string]map[string]bool, keys []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		for n := range m[k] {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out
}

func (t *tx) IndexCustomer(number string, keys []string) error {
	c, err := t.customers("index customer")
	if err != nil {
		return err
	}
	for _, k := range keys {
		add(c.index, k, number)
	}
	return nil
}

func (t *tx) CustomerCases(keys []string) ([]string, error) {
	return numbers(t.s.cust.index, keys), nil
}

func (t *tx) UnindexCustomer(number string) error {
	c, err := t.customers("unindex customer")
	if err != nil {
		return err
	}
	for k, set := range c.index {
		delete(set, number)
		if len(set) == 0 {
			delete(c.index, k)
		}
	}
	return nil
}

func (t *tx) PutLink(l mamori.CaseLink) error {
	if l.A > l.B {
		l.A, l.B = l.B, l.A
	}
	if l.A == "" || l.A == l.B {
		return fmt.Errorf("put link %s %s: %w", l.A, l.B, mamori.ErrInvalid)
	}
	c, err := t.customers("put link")
	if err != nil {
		return err
	}
	l.At = fromMillis(millis(l.At))
	c.links[[2]string{l.A, l.B}] = l
	return nil
}

func (t *tx) Links(number string) ([]mamori.CaseLink, error) {
	var out []mamori.CaseLink
	for k, l := range t.s.cust.links {
		if k[0] == number || k[1] == number {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b mamori.CaseLink) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.A, b.A), cmp.Compare(a.B, b.B))
	})
	return out, nil
}

// putEntry stores e as the SQL stores' sealed blob would hold it.
func putEntry(c *customerTables, e mamori.RegisterEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("mem: %w", err)
	}
	c.register[e.Number] = b
	return nil
}

func (t *tx) InsertEntry(e mamori.RegisterEntry, keys []string) error {
	what := "insert register entry " + e.Number
	if e.Number == "" {
		return fmt.Errorf("%s: no number: %w", what, mamori.ErrInvalid)
	}
	c, err := t.customers(what)
	if err != nil {
		return err
	}
	if _, ok := c.register[e.Number]; ok {
		return fmt.Errorf("%s: %w", what, mamori.ErrConflict)
	}
	if err := putEntry(c, e); err != nil {
		return err
	}
	for _, k := range keys {
		add(c.regIndex, k, e.Number)
	}
	return nil
}

func (t *tx) UpdateEntry(e mamori.RegisterEntry, keys []string) error {
	what := "update register entry " + e.Number
	c, err := t.customers(what)
	if err != nil {
		return err
	}
	if _, ok := c.register[e.Number]; !ok {
		return fmt.Errorf("%s: %w", what, mamori.ErrNotFound)
	}
	if err := putEntry(c, e); err != nil {
		return err
	}
	if keys == nil {
		return nil
	}
	for k, set := range c.regIndex {
		delete(set, e.Number)
		if len(set) == 0 {
			delete(c.regIndex, k)
		}
	}
	for _, k := range keys {
		add(c.regIndex, k, e.Number)
	}
	return nil
}

func (t *tx) Entry(number string) (mamori.RegisterEntry, error) {
	b, ok := t.s.cust.register[number]
	if !ok {
		return mamori.RegisterEntry{}, fmt.Errorf("register entry %s: %w", number, mamori.ErrNotFound)
	}
	var e mamori.RegisterEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("register entry %s: %w", number, err)
	}
	return e, nil
}

func (t *tx) entries(list []string, keep func(mamori.RegisterEntry) bool) ([]mamori.RegisterEntry, error) {
	var out []mamori.RegisterEntry
	for _, n := range list {
		e, err := t.Entry(n)
		if err != nil {
			return nil, err
		}
		if keep == nil || keep(e) {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b mamori.RegisterEntry) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.Number, b.Number))
	})
	return out, nil
}

func (t *tx) Entries(active bool) ([]mamori.RegisterEntry, error) {
	return t.entries(slices.Collect(maps.Keys(t.s.cust.register)), func(e mamori.RegisterEntry) bool {
		return !active || e.Status == mamori.RegisterActive
	})
}

func (t *tx) EntriesFor(keys []string) ([]mamori.RegisterEntry, error) {
	return t.entries(numbers(t.s.cust.regIndex, keys), nil)
}
