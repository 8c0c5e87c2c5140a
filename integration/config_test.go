package integration_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mamoriBinary builds cmd/mamori once into a temporary directory, as an
// administrator would run it (the package may not import cmd/, see
// deps_test.go).
func mamoriBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build mamori with")
	}
	bin := filepath.Join(t.TempDir(), "mamori")
	cmd := exec.Command(goTool, "build", "-o", bin, "./cmd/mamori")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// An invalid policy file named in the configuration: mamori serve stops
// and says which configuration, which file and what is wrong, saying
// "policy" once (it said "policy ./bad.yaml: policy: …").
func TestServeInvalidPolicyFile(t *testing.T) {
	bin := mamoriBinary(t)
	example, err := os.ReadFile("../cmd/mamori/mamori.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(example), "\npolicy: mhlw-2022\n") {
		t.Fatal("the example configuration no longer names its policy as expected")
	}
	for name, policy := range map[string]string{
		"not yaml":      "id: [unclosed\n",
		"no id":         "behaviours: []\n",
		"no behaviours": "id: org\n",
		"unknown field": "id: org\ncolour: blue\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(policy), 0o600); err != nil {
				t.Fatal(err)
			}
			config := strings.Replace(string(example), "\npolicy: mhlw-2022\n", "\npolicy: ./bad.yaml\n", 1)
			if err := os.WriteFile(filepath.Join(dir, "mamori.yaml"), []byte(config), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "serve")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "MAMORI_CONFIG=mamori.yaml", "MAMORI_ADDR=127.0.0.1:0")
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("serve started with an invalid policy:\n%s", out)
			}
			first, _, _ := strings.Cut(string(out), "\n")
			if !strings.Contains(first, "mamori.yaml") || !strings.Contains(first, "bad.yaml") {
				t.Errorf("the error does not name the configuration and the policy file: %q", first)
			}
			if n := strings.Count(first, "policy"); n != 1 {
				t.Errorf("the error says \"policy\" %d times: %q", n, first)
			}
		})
	}
}
