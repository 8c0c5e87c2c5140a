package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mamori-oss/mamori"
)

// policyFileSeed stands in seeds for a policy file the configuration
// names; it is replaced by the path of one the target writes.
const policyFileSeed = "./kasuhara-policy.yaml"

// FuzzLoadConfig reads a configuration file an operator wrote: whatever
// it holds, loadConfig does not panic, refuses with an error that names
// MAMORI_CONFIG, or gives everything serve needs, as its checks promise.
// Seeds: the example, variants of it, and testdata/fuzz/FuzzLoadConfig.
func FuzzLoadConfig(f *testing.F) {
	dir := f.TempDir()
	policyFile := filepath.Join(dir, "policy.yaml")
	err := os.WriteFile(policyFile, []byte("id: own\nbehaviours:\n- {id: abuse, group: regardless, label: {ja: 暴言, en: Abuse}}\n"), 0o600)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(exampleConfig)
	for _, change := range [][2]string{
		{"policy: mhlw-2022", "policy: " + policyFileSeed},
		{"policy: mhlw-2022", "policy: seed-000"},
		{"language: ja", "language: en"},
	} {
		if !bytes.Contains(exampleConfig, []byte(change[0])) {
			continue // the example changed; the rest still seed
		}
		f.Add(bytes.Replace(exampleConfig, []byte(change[0]), []byte(change[1]), 1))
	}
	f.Add([]byte("organisation: 株式会社サンプル\nhr:\n  channel: C0HR\n  members: [hr@example.co.jp]\n" +
		"departments:\n- id: store\n  name: {ja: 店舗}\n  supervisor_channel: C0STORE\n  supervisors: [U0SATO]\n" +
		"training:\n- id: basics\n  name: カスハラ基礎研修\n  audience: [store, supervisors]\n  every_months: 12\n  start: 2026-10-01\n" +
		"sos:\n  ack_within: 3m\n  escalation: [[U0SATO], [hr@example.co.jp]]\n"))

	path := filepath.Join(dir, "mamori.yaml")
	f.Fuzz(func(t *testing.T, b []byte) {
		b = bytes.ReplaceAll(b, []byte(policyFileSeed), []byte(policyFile))
		// A policy read from a file is read from the one written here
		// only: another path might be a device that never ends.
		var c config
		if mamori.DecodeYAML(b, &c) == nil && c.Policy != policyFile && (strings.HasSuffix(c.Policy, ".yaml") ||
			strings.HasSuffix(c.Policy, ".yml") || strings.ContainsRune(c.Policy, os.PathSeparator)) {
			return
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := loadConfig(path)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "MAMORI_CONFIG") {
				t.Fatalf("error %q does not say it is the configuration's", err)
			}
			return
		}
		switch {
		case l.org == nil || l.policy == nil || l.loc == nil:
			t.Fatalf("accepted, but without an organisation, a policy or a time zone: %+v", l)
		case l.org.HRChannel == "":
			t.Fatal("accepted without hr.channel")
		case !strings.HasPrefix(l.command, "/"):
			t.Fatalf("accepted slash command %q", l.command)
		case l.policy.Validate() != nil:
			t.Fatalf("accepted policy %s is not valid: %v", l.policy.ID, l.policy.Validate())
		case l.deadlines.Take < 0 || l.deadlines.Judge < 0 || l.deadlines.UrgentTake < 0 || l.deadlines.UrgentJudge < 0 || l.remind < 0:
			t.Fatalf("accepted negative deadlines: %+v, remind %s", l.deadlines, l.remind)
		case l.care.StartHour < 0 || l.care.EndHour > 24 || (l.care.StartHour != 0 || l.care.EndHour != 0) && l.care.StartHour >= l.care.EndHour:
			t.Fatalf("accepted working hours %d–%d", l.care.StartHour, l.care.EndHour)
		}
		seen := map[string]bool{}
		for _, d := range l.org.Departments {
			if d.ID == "" || seen[d.ID] || d.Name.JA == "" || d.Name.EN == "" {
				t.Fatalf("accepted department %+v (seen before: %v)", d, seen[d.ID])
			}
			seen[d.ID] = true
		}
		for _, p := range l.training {
			if p.ID == "" || strings.Contains(p.ID, ":") || p.Name.JA == "" || p.Name.EN == "" {
				t.Fatalf("accepted training programme %+v", p)
			}
		}
	})
}
