package sqlite_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/sqlrow"
	"github.com/mamori-oss/mamori/store/storetest"
)

func TestCustomers(t *testing.T) {
	storetest.Customers(t, func(t *testing.T) mamori.Store { return MustOpen(t, tempPath(t)) })
}

// The blind index holds keyed hashes: neither the identifiers as typed
// nor their normalised keys are anywhere in the database files, before
// or after a checkpoint; the index rows are there, 16 bytes each.
func TestCustomerIndexAtRest(t *testing.T) {
	path := tempPath(t)
	db := MustOpen(t, path)
	typed := "０９０－１２３４－５６７８ 山田太郎様 顧客番号A-98765"
	keys := []string{"t:09012345678", "p:山田太郎", "n:a98765"}
	at := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	MustUpdate(t, db, func(tx mamori.Tx) error {
		a := answers()
		a.CustomerIDs = typed
		if err := tx.InsertCase(mamori.Case{Number: "KH-2026-0001", Kind: mamori.KindReport, Reporter: alice, Department: "sales",
			Route: mamori.RouteDepartment, Channel: "C0SUPERVISORS", Status: mamori.StatusNew, Urgency: mamori.UrgencyNormal,
			Suggestion: mamori.SuggestUnclear, Created: at, Answers: a}); err != nil {
			return err
		}
		if err := tx.IndexCustomer("KH-2026-0001", keys); err != nil {
			return err
		}
		return tx.InsertEntry(mamori.RegisterEntry{Number: "RF-2026-0001", Status: mamori.RegisterActive, Identifiers: typed,
			From: at, Until: at.AddDate(1, 0, 0), Review: at.AddDate(0, 6, 0), Cases: []string{"KH-2026-0001"}, Created: at}, keys)
	})
	check := func(when string) {
		t.Helper()
		var all []byte
		for name, b := range fileBytes(t, path) {
			for _, secret := range []string{typed, "09012345678", "090-1234-5678", "１２３４", "山田太郎", "a98765", "A-98765", "98765"} {
				if bytes.Contains(b, []byte(secret)) {
					t.Errorf("%s: %s holds %q in plaintext", when, name, secret)
				}
			}
			all = append(all, b...)
		}
		if !bytes.Contains(all, []byte("RF-2026-0001")) {
			t.Errorf("%s: the register's number is not in the files; is the scan looking at the data?", when)
		}
	}
	check("before checkpoint")
	raw := MustRaw(t, path)
	MustExec(t, raw, "PRAGMA wal_checkpoint(TRUNCATE)")
	check("after checkpoint")

	for _, table := range []string{"customer_index", "register_index"} {
		rows, err := raw.Query(`SELECT hash FROM ` + table)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var h []byte
			if err := rows.Scan(&h); err != nil {
				t.Fatal(err)
			}
			if len(h) != sqlrow.HashSize {
				t.Errorf("%s: a hash of %d bytes, want %d", table, len(h), sqlrow.HashSize)
			}
			n++
		}
		rows.Close()
		if n != len(keys) {
			t.Errorf("%s: %d rows, want %d", table, n, len(keys))
		}
	}

	// Another key gives other hashes: the index cannot be matched without
	// the key (a dictionary of phone numbers hashed with SHA-256 finds nothing).
	other := MustSealer(t, bytes.Repeat([]byte{7}, 32))
	mine := MustSealer(t, testKey)
	a, b := sqlrow.BlindIndex(mine, keys), sqlrow.BlindIndex(other, keys)
	for i := range a {
		if bytes.Equal(a[i], b[i]) {
			t.Errorf("key %d hashes alike under two encryption keys", i)
		}
	}
}
