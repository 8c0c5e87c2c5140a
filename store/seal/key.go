package seal

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// EnvVar names the environment variable LoadKey's envValue comes from;
// it appears in error messages so an operator knows what to fix.
const EnvVar = "MAMORI_ENCRYPTION_KEY"

// LoadKey returns the encryption key.
//
// When envValue (the value of MAMORI_ENCRYPTION_KEY) is not empty it is
// the key: 32 bytes in standard base64 or hex. Otherwise the key is read
// from the file at path, in the same encoding. When that file does not
// exist, LoadKey generates a key and writes it there, base64-encoded and
// readable only by its owner (0600), creating the directory if needed.
// A key file that others may read or write (permissions wider than 0600)
// is an error: the key protects every confidential answer.
//
// Losing the key loses the confidential data; back the key up apart from
// the database.
func LoadKey(envValue, path string) ([]byte, error) {
	if v := strings.TrimSpace(envValue); v != "" {
		key, err := parseKey(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvVar, err)
		}
		return key, nil
	}
	if path == "" {
		return nil, fmt.Errorf("seal: no key: set %s or a key file path", EnvVar)
	}
	key, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createKeyFile(path)
		if errors.Is(err, fs.ErrExist) {
			// Another process created it first; use theirs.
			key, err = readKeyFile(path)
		}
	}
	if err != nil {
		return nil, err
	}
	return key, nil
}

// parseKey decodes a key in hex or standard base64. Errors never quote
// the value.
func parseKey(s string) ([]byte, error) {
	if len(s) == hex.EncodedLen(KeySize) {
		if key, err := hex.DecodeString(s); err == nil {
			return key, nil
		}
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("key is neither hex nor standard base64 (want %d bytes, e.g. from `openssl rand -base64 %d`)", KeySize, KeySize)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("key is %d bytes, want %d", len(key), KeySize)
	}
	return key, nil
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("seal: key file %s is not a regular file", path)
	}
	// Windows has no such permission bits; its ACLs are the operator's job.
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&^0o600 != 0 {
		return nil, fmt.Errorf("seal: key file %s has permissions %#o, wider than 0600; run chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return nil, fmt.Errorf("seal: key file %s: %w", path, err)
	}
	key, err := parseKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("seal: key file %s: %w", path, err)
	}
	return key, nil
}

func createKeyFile(path string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	key := make([]byte, KeySize)
	rand.Read(key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// A half-written key file would lock us out of everything
		// sealed with the key we are about to use.
		os.Remove(path)
		return nil, fmt.Errorf("seal: write key file %s: %w", path, err)
	}
	return key, nil
}
