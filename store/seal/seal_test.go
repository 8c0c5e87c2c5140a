package seal

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func testKey() []byte { return bytes.Repeat([]byte{7}, KeySize) }

func MustNew(tb testing.TB, key []byte) *Sealer {
	tb.Helper()
	s, err := New(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestNewKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New(%d-byte key) succeeded, want error", n)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	s := MustNew(t, testKey())
	for _, pt := range [][]byte{nil, {}, []byte("x"), []byte(`{"narrative":"秘密のナラティブ"}`), bytes.Repeat([]byte("a"), 1<<16)} {
		sealed := s.Seal(pt, []byte("case:KH-2026-0001"))
		if sealed[0] != version1 {
			t.Errorf("version byte = %d, want %d", sealed[0], version1)
		}
		if len(pt) >= 8 && bytes.Contains(sealed, pt) { // shorter ones may occur by chance
			t.Errorf("sealed blob contains the plaintext")
		}
		got, err := s.Open(sealed, []byte("case:KH-2026-0001"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, pt) {
			t.Errorf("Open = %q, want %q", got, pt)
		}
	}
}

func TestNonceIsRandom(t *testing.T) {
	s := MustNew(t, testKey())
	a := s.Seal([]byte("same"), nil)
	b := s.Seal([]byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are equal; nonce is not random")
	}
}

func TestOpenFails(t *testing.T) {
	s := MustNew(t, testKey())
	other := MustNew(t, bytes.Repeat([]byte{8}, KeySize))
	aad := []byte("conv:slack:U1")
	sealed := s.Seal([]byte("secret"), aad)

	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name   string
		s      *Sealer
		sealed []byte
		aad    []byte
	}{
		{"other aad", s, sealed, []byte("conv:slack:U2")},
		{"no aad", s, sealed, nil},
		{"other key", other, sealed, aad},
		{"version changed", s, flip(0), aad},
		{"nonce changed", s, flip(1), aad},
		{"ciphertext changed", s, flip(1 + nonceSize), aad},
		{"tag changed", s, flip(len(sealed) - 1), aad},
		{"truncated", s, sealed[:len(sealed)-1], aad},
		{"too short", s, sealed[:5], aad},
		{"empty", s, nil, aad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.s.Open(tt.sealed, tt.aad)
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("Open error = %v, want ErrOpen", err)
			}
		})
	}
}

func TestLoadKeyEnv(t *testing.T) {
	key := testKey()
	for _, enc := range []string{
		base64.StdEncoding.EncodeToString(key),
		hex.EncodeToString(key),
		strings.ToUpper(hex.EncodeToString(key)),
		" " + base64.StdEncoding.EncodeToString(key) + "\n",
	} {
		// The path must not be touched when the variable is set.
		path := filepath.Join(t.TempDir(), "key")
		got, err := LoadKey(enc, path)
		if err != nil {
			t.Fatalf("LoadKey(%q): %v", enc, err)
		}
		if !bytes.Equal(got, key) {
			t.Errorf("LoadKey(%q) = %x, want %x", enc, got, key)
		}
		if _, err := os.Stat(path); err == nil {
			t.Errorf("LoadKey with %s set created a key file", EnvVar)
		}
	}
}

func TestLoadKeyEnvMalformed(t *testing.T) {
	for _, v := range []string{
		"not a key!",
		base64.StdEncoding.EncodeToString(make([]byte, 16)),
		hex.EncodeToString(make([]byte, 16)),
		strings.Repeat("z", 64),
	} {
		_, err := LoadKey(v, "")
		if err == nil {
			t.Errorf("LoadKey(%q) succeeded, want error", v)
			continue
		}
		if !strings.Contains(err.Error(), EnvVar) {
			t.Errorf("LoadKey(%q) error %q does not name %s", v, err, EnvVar)
		}
		if strings.Contains(err.Error(), v) {
			t.Errorf("LoadKey(%q) error %q quotes the value", v, err)
		}
	}
}

func TestLoadKeyGeneratesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "dir", "mamori.key")
	key, err := LoadKey("", path)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != KeySize {
		t.Fatalf("generated key is %d bytes", len(key))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("key file permissions = %#o, want 0600", fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != base64.StdEncoding.EncodeToString(key) {
		t.Errorf("key file holds %q, want the base64 key", got)
	}

	// Loading again returns the same key.
	again, err := LoadKey("", path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, key) {
		t.Errorf("second LoadKey returned another key")
	}
}

func TestLoadKeyFileHex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(testKey())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadKey("", path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, testKey()) {
		t.Errorf("LoadKey = %x, want %x", got, testKey())
	}
}

func TestLoadKeyFileTooOpen(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no permission bits on Windows")
	}
	for _, perm := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o700} {
		path := filepath.Join(t.TempDir(), "key")
		if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(testKey())), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, perm); err != nil {
			t.Fatal(err)
		}
		_, err := LoadKey("", path)
		if err == nil || !strings.Contains(err.Error(), "0600") {
			t.Errorf("LoadKey with a %#o key file: error %v, want one about 0600", perm, err)
		}
	}
	// Narrower is fine.
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(testKey())), 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey("", path); err != nil {
		t.Errorf("LoadKey with a 0400 key file: %v", err)
	}
}

func TestLoadKeyFileMalformed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey("", path); err == nil {
		t.Fatal("LoadKey with a malformed key file succeeded")
	}
	// A malformed file is never replaced: it may be a key someone mistyped.
	b, _ := os.ReadFile(path)
	if string(b) != "short" {
		t.Errorf("key file was rewritten to %q", b)
	}
}

func TestLoadKeyNoSource(t *testing.T) {
	if _, err := LoadKey("", ""); err == nil {
		t.Fatal("LoadKey with neither variable nor path succeeded")
	}
}
