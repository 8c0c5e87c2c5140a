package sqlrow

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"slices"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/seal"
)

// Repeat customers and the register (issue 16): a keyed blind index of
// the customers' normalised identifiers, never the identifiers.

// indexPurpose names the key of the blind index (seal.Sealer.Derive):
// one key for the cases' and the register's index, so that a customer on
// the register is found by the keys of a report's identifiers.
const indexPurpose = "mamori customer index v1"

// HashSize is how many bytes of the HMAC the index keeps: enough that
// two identifiers never share one by chance, too few to be worth more
// than the HMAC itself to anyone without the key.
const HashSize = 16

// BlindIndex returns the index hashes of keys under s's derived key,
// each once, in the order of keys.
func BlindIndex(s *seal.Sealer, keys []string) [][]byte {
	k := s.Derive(indexPurpose)
	var out [][]byte
	seen := map[string]bool{}
	for _, key := range keys {
		if key == "" || seen[key] {
			continue
		}
		seen[key] = true
		m := hmac.New(sha256.New, k)
		m.Write([]byte(key))
		out = append(out, m.Sum(nil)[:HashSize])
	}
	return out
}

// RegisterAAD binds a register entry's sealed blob to its row.
func RegisterAAD(number string) []byte { return []byte("register:" + number) }

func (t *Tx) IndexCustomer(number string, keys []string) error {
	for _, h := range BlindIndex(t.Sealer, keys) {
		if _, err := t.exec(`INSERT INTO customer_index (hash, number) VALUES (?, ?) ON CONFLICT DO NOTHING`, h, number); err != nil {
			return fmt.Errorf("index customer of %s: %w", number, err)
		}
	}
	return nil
}

func (t *Tx) CustomerCases(keys []string) ([]string, error) {
	numbers, err := t.numbersFor("customer_index", keys)
	if err != nil {
		return nil, fmt.Errorf("customer cases: %w", err)
	}
	return numbers, nil
}

// numbersFor lists the numbers table (an index) holds under the hashes of
// keys, sorted, each once.
func (t *Tx) numbersFor(table string, keys []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, h := range BlindIndex(t.Sealer, keys) {
		numbers, err := All(t, `SELECT number FROM `+table+` WHERE hash = ?`, []any{h}, func(row Scanner) (string, error) {
			var n string
			return n, row.Scan(&n)
		})
		if err != nil {
			return nil, err
		}
		for _, n := range numbers {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

func (t *Tx) UnindexCustomer(number string) error {
	if _, err := t.exec(`DELETE FROM customer_index WHERE number = ?`, number); err != nil {
		return fmt.Errorf("unindex customer of %s: %w", number, err)
	}
	return nil
}

func (t *Tx) PutLink(l mamori.CaseLink) error {
	a, b := l.A, l.B
	if a > b {
		a, b = b, a
	}
	if a == "" || a == b {
		return fmt.Errorf("put link %s %s: %w", l.A, l.B, mamori.ErrInvalid)
	}
	_, err := t.exec(`INSERT INTO case_links (a, b, linked, by_key, at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (a, b) DO UPDATE SET linked = excluded.linked, by_key = excluded.by_key, at = excluded.at`,
		a, b, l.Linked, l.By, Millis(l.At))
	if err != nil {
		return fmt.Errorf("put link %s %s: %w", a, b, err)
	}
	return nil
}

func (t *Tx) Links(number string) ([]mamori.CaseLink, error) {
	links, err := All(t, `SELECT a, b, linked, by_key, at FROM case_links WHERE a = ? OR b = ? ORDER BY at, a, b`,
		[]any{number, number}, func(row Scanner) (mamori.CaseLink, error) {
			var l mamori.CaseLink
			var at int64
			err := row.Scan(&l.A, &l.B, &l.Linked, &l.By, &at)
			l.At = FromMillis(at)
			return l, err
		})
	if err != nil {
		return nil, fmt.Errorf("links of %s: %w", number, err)
	}
	return links, nil
}

func (t *Tx) InsertEntry(e mamori.RegisterEntry, keys []string) error {
	what := "insert register entry " + e.Number
	if e.Number == "" {
		return fmt.Errorf("%s: no number: %w", what, mamori.ErrInvalid)
	}
	sealed, err := SealJSON(t.Sealer, e, RegisterAAD(e.Number))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	res, err := t.exec(`INSERT INTO register (number, status, until, review, created, sealed_entry) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (number) DO NOTHING`, e.Number, e.Status, Millis(e.Until), Millis(e.Review), Millis(e.Created), sealed)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	} else if n == 0 {
		return fmt.Errorf("%s: %w", what, mamori.ErrConflict)
	}
	return t.indexEntry(e.Number, keys)
}

func (t *Tx) indexEntry(number string, keys []string) error {
	for _, h := range BlindIndex(t.Sealer, keys) {
		if _, err := t.exec(`INSERT INTO register_index (hash, number) VALUES (?, ?) ON CONFLICT DO NOTHING`, h, number); err != nil {
			return fmt.Errorf("index register entry %s: %w", number, err)
		}
	}
	return nil
}

func (t *Tx) UpdateEntry(e mamori.RegisterEntry, keys []string) error {
	what := "update register entry " + e.Number
	sealed, err := SealJSON(t.Sealer, e, RegisterAAD(e.Number))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := t.update(what, `UPDATE register SET status = ?, until = ?, review = ?, sealed_entry = ? WHERE number = ?`,
		e.Status, Millis(e.Until), Millis(e.Review), sealed, e.Number); err != nil {
		return err
	}
	if keys == nil {
		return nil
	}
	if _, err := t.exec(`DELETE FROM register_index WHERE number = ?`, e.Number); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return t.indexEntry(e.Number, keys)
}

// scanEntry reads an entry selected as number, sealed_entry.
func (t *Tx) scanEntry(row Scanner) (mamori.RegisterEntry, error) {
	var (
		e      mamori.RegisterEntry
		number string
		sealed []byte
	)
	if err := row.Scan(&number, &sealed); err != nil {
		return e, err
	}
	if err := OpenJSON(t.Sealer, sealed, RegisterAAD(number), &e); err != nil {
		return e, fmt.Errorf("register entry %s: %w", number, err)
	}
	return e, nil
}

func (t *Tx) Entry(number string) (mamori.RegisterEntry, error) {
	e, err := t.scanEntry(t.queryRow(`SELECT number, sealed_entry FROM register WHERE number = ?`+t.forUpdate(), number))
	if err != nil {
		return mamori.RegisterEntry{}, NotFound(err, "register entry "+number)
	}
	return e, nil
}

func (t *Tx) Entries(active bool) ([]mamori.RegisterEntry, error) {
	q := `SELECT number, sealed_entry FROM register`
	if active {
		q += ` WHERE status = '` + mamori.RegisterActive + `'`
	}
	entries, err := All(t, q+` ORDER BY created, number`, nil, t.scanEntry)
	if err != nil {
		return nil, fmt.Errorf("register entries: %w", err)
	}
	return entries, nil
}

func (t *Tx) EntriesFor(keys []string) ([]mamori.RegisterEntry, error) {
	numbers, err := t.numbersFor("register_index", keys)
	if err != nil {
		return nil, fmt.Errorf("register entries for: %w", err)
	}
	var out []mamori.RegisterEntry
	for _, n := range numbers {
		e, err := t.Entry(n)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b mamori.RegisterEntry) int { return a.Created.Compare(b.Created) })
	return out, nil
}
