package mamori_test

import (
	"bytes"
	"os/exec"
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
}

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
	for _, pkg := range []string{".", "./flows"} {
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

// TestLayerDeps checks the direction between the outer layers: adapters
// (bot/) and stores (store/) never reach cmd/, and neither knows the
// other. Test files count too, through their direct imports: a bot test
// that needs a real store belongs in cmd/.
func TestLayerDeps(t *testing.T) {
	const sep = "\t"
	format := "{{.ImportPath}}" + sep + `{{join .Deps " "}} {{join .TestImports " "}} {{join .XTestImports " "}}`
	rules := []struct {
		from string   // packages at or below this path
		not  []string // may not reach these
	}{
		{from: module + "/bot", not: []string{module + "/cmd", module + "/store"}},
		{from: module + "/store", not: []string{module + "/cmd", module + "/bot"}},
	}
	lines := goList(t, "-f", format, "./bot/...", "./store/...")
	checked := map[string]bool{}
	for _, line := range lines {
		pkg, deps, ok := strings.Cut(line, sep)
		if !ok {
			t.Fatalf("go list: unexpected line %q", line)
		}
		for _, r := range rules {
			if !under(pkg, r.from) {
				continue
			}
			checked[r.from] = true
			for _, ban := range r.not {
				if hits := within(strings.Fields(deps), ban); len(hits) > 0 {
					t.Errorf("%s depends on %s: %s must not reach %s", pkg, strings.Join(hits, ", "), r.from, ban)
				}
			}
		}
	}
	for _, r := range rules {
		if !checked[r.from] {
			t.Errorf("no package under %s was listed; is the layout still bot/ and store/?", r.from)
		}
	}
}
