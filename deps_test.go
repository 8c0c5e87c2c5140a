package mamori_test

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/mamori-oss/mamori"

// platformOrStorage are the packages the domain (this package) and the
// flows must never reach, not even through a dependency: they know no
// platform and no database (STYLE.md, "Dependency direction"). A path
// bans itself and everything below it.
var platformOrStorage = []string{
	"github.com/slack-go",
	"github.com/infracloudio",
	"github.com/gorilla/websocket",
	"github.com/mattn/go-sqlite3",
	"modernc.org/sqlite",
	"github.com/jackc",
	"github.com/lib/pq",
	"database/sql",
	"net/http",
	module + "/bot",
	module + "/store",
	module + "/cmd",
	module + "/integration",
}

// flowsTestBans are what the flows' tests (and their helpers,
// flows/flowstest) must never reach, not even through a dependency: no
// platform, no wiring, no database but the one store they test against.
// They may use a real store (store/sqlite on a file, STYLE.md "Tests"):
// the domain declares the interfaces, a store implements them, and its
// imports point down. Tests that need a platform too live in integration/.
var flowsTestBans = []string{
	"github.com/slack-go",
	"github.com/infracloudio",
	"github.com/gorilla/websocket",
	"github.com/jackc",
	"github.com/lib/pq",
	"modernc.org/sqlite",
	"net/http",
	module + "/bot",
	module + "/cmd",
	module + "/integration",
}

// storeOnly are what the flows' tests reach only through a store, never
// by importing them.
var storeOnly = []string{"database/sql", "github.com/mattn/go-sqlite3"}

// under reports whether import path p is pkg or below it.
func under(p, pkg string) bool {
	return p == pkg || strings.HasPrefix(p, pkg+"/")
}

// within returns the paths in deps at or below pkg, once each.
func within(deps []string, pkg string) []string {
	var hits []string
	seen := map[string]bool{}
	for _, d := range deps {
		if under(d, pkg) && !seen[d] {
			seen[d] = true
			hits = append(hits, d)
		}
	}
	return hits
}

// goList runs `go list` in the module root and returns its output lines.
func goList(tb testing.TB, args ...string) []string {
	tb.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		tb.Skip("no go command in PATH")
	}
	cmd := exec.Command(goTool, append([]string{"list"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestDomainDeps fails when the domain or the flows import a platform or
// a database package, directly or through anything they import.
func TestDomainDeps(t *testing.T) {
	for _, pkg := range []string{".", "./flows/..."} {
		t.Run(pkg, func(t *testing.T) {
			deps := goList(t, "-deps", pkg)
			if len(deps) < 2 {
				t.Fatalf("go list -deps %s listed %q: expected the package and its dependencies", pkg, deps)
			}
			for _, ban := range platformOrStorage {
				if hits := within(deps, ban); len(hits) > 0 {
					t.Errorf("%s depends on %s: the domain and the flows must know no platform and no database; move that code to bot/, store/ or cmd/", pkg, strings.Join(hits, ", "))
				}
			}
		})
	}
}

// TestDomainTestDeps is TestDomainDeps for the tests: the domain's tests
// keep to its rules; the flows' tests may use a real store but reach no
// platform, directly or through anything they import, and no database
// but through the store.
func TestDomainTestDeps(t *testing.T) {
	for _, tc := range []struct {
		pkg  string
		bans []string
	}{
		{".", platformOrStorage},
		{"./flows/...", flowsTestBans},
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			deps := goList(t, "-deps", "-test", tc.pkg)
			if !slices.ContainsFunc(deps, func(d string) bool { return strings.HasSuffix(d, ".test") }) {
				t.Fatalf("go list -deps -test %s listed no test binary: %q", tc.pkg, deps)
			}
			for _, ban := range tc.bans {
				if hits := within(deps, ban); len(hits) > 0 {
					t.Errorf("the tests of %s depend on %s: move a test that needs them to integration/ or cmd/", tc.pkg, strings.Join(hits, ", "))
				}
			}
			const sep = "\t"
			for _, line := range goList(t, "-f", "{{.ImportPath}}"+sep+`{{join .TestImports " "}} {{join .XTestImports " "}}`, tc.pkg) {
				pkg, imports, _ := strings.Cut(line, sep)
				for _, ban := range storeOnly {
					if hits := within(strings.Fields(imports), ban); len(hits) > 0 {
						t.Errorf("the tests of %s import %s: use a store (store/sqlite) instead", pkg, strings.Join(hits, ", "))
					}
				}
			}
		})
	}
}

// TestLayerDeps checks the direction between the outer layers: adapters
// (bot/) and stores (store/) never reach cmd/ or integration/, and neither
// knows the other; integration/ tests them together and never reaches
// cmd/. For the adapters that holds of their code (its dependencies); their
// tests may use one store, store/mem: the in-memory implementation of the
// domain's Store, held to the same conformance suite as SQLite and
// PostgreSQL, under the real flows, so the adapter tests need no fake of
// the flows and stay fast. No other store, not even through a dependency:
// a bot test that needs a database belongs in integration/ or cmd/.
func TestLayerDeps(t *testing.T) {
	const sep = "\t"
	format := "{{.ImportPath}}" + sep + `{{join .Deps " "}}` + sep + `{{join .TestImports " "}} {{join .XTestImports " "}}`
	rules := []struct {
		from     string   // packages at or below this path
		not      []string // may not reach these
		testsMay []string // but their tests may import these (and what they import)
	}{
		{from: module + "/bot", not: []string{module + "/cmd", module + "/integration", module + "/store"},
			testsMay: []string{module + "/store/mem"}},
		{from: module + "/store", not: []string{module + "/cmd", module + "/integration", module + "/bot"}},
		{from: module + "/integration", not: []string{module + "/cmd"}},
	}
	lines := goList(t, "-f", format, "./bot/...", "./store/...", "./integration/...")
	checked := map[string]bool{}
	for _, line := range lines {
		f := strings.Split(line, sep)
		if len(f) != 3 {
			t.Fatalf("go list: unexpected line %q", line)
		}
		pkg, deps, testImports := f[0], strings.Fields(f[1]), strings.Fields(f[2])
		for _, r := range rules {
			if !under(pkg, r.from) {
				continue
			}
			checked[r.from] = true
			for _, ban := range r.not {
				if hits := within(deps, ban); len(hits) > 0 {
					t.Errorf("%s depends on %s: %s must not reach %s", pkg, strings.Join(hits, ", "), r.from, ban)
				}
				var hits []string
				for _, imp := range within(testImports, ban) {
					if !slices.ContainsFunc(r.testsMay, func(ok string) bool { return under(imp, ok) }) {
						hits = append(hits, imp)
					}
				}
				if len(hits) > 0 {
					t.Errorf("the tests of %s import %s: %s must not reach %s (its tests may use %s)", pkg, strings.Join(hits, ", "),
						r.from, ban, strings.Join(r.testsMay, ", "))
				}
			}
		}
	}
	for _, r := range rules {
		if !checked[r.from] {
			t.Errorf("no package under %s was listed; is the layout still bot/, store/ and integration/?", r.from)
		}
	}
}

// botTestBans are what the adapters' tests (their test binaries, with
// everything linked in) must never reach: the stores but store/mem, the
// database drivers, the wiring. (database/sql itself comes in with
// store/audit, which store/mem shares with the SQL stores; without a
// driver it reaches no database.)
var botTestBans = []string{
	module + "/store/sqlite",
	module + "/store/postgres",
	module + "/store/sqlrow",
	module + "/cmd",
	module + "/integration",
	"github.com/mattn/go-sqlite3",
	"modernc.org/sqlite",
	"github.com/jackc",
	"github.com/lib/pq",
}

// TestBotTestDeps checks the adapters' test binaries as a whole: store/mem
// may bring nothing of a database with it.
func TestBotTestDeps(t *testing.T) {
	deps := goList(t, "-deps", "-test", "./bot/...")
	if !slices.ContainsFunc(deps, func(d string) bool { return strings.HasSuffix(d, ".test") }) {
		t.Fatalf("go list -deps -test ./bot/... listed no test binary: %q", deps)
	}
	for _, ban := range botTestBans {
		if hits := within(deps, ban); len(hits) > 0 {
			t.Errorf("the tests of ./bot/... depend on %s: only store/mem may serve them; move a test that needs a database to integration/ or cmd/", strings.Join(hits, ", "))
		}
	}
}
