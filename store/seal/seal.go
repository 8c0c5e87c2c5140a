// Package seal encrypts confidential data at rest with AES-256-GCM.
//
// Stores seal what a reporter said (answers, narratives, messages that
// quote them) before it reaches the disk, so a copied database file or
// backup shows only ciphertext. Each sealed blob is bound to its row by
// additional authenticated data (AAD): a blob moved to another row, or
// altered, fails to open.
//
// A sealed blob is laid out as
//
//	version (1 byte) | nonce (12 bytes) | ciphertext and GCM tag
//
// The version byte leaves room for key rotation: a later version can
// name another key or algorithm without touching old rows.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// KeySize is the length of a key in bytes (AES-256).
const KeySize = 32

// version1 is AES-256-GCM with a random 96-bit nonce.
const version1 byte = 1

const nonceSize = 12

// ErrOpen is returned when a blob cannot be opened: it was altered,
// belongs to another row, or was sealed with another key.
var ErrOpen = errors.New("seal: cannot open sealed data")

// Sealer seals and opens blobs with one key. It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
	key  []byte // for Derive
}

// New returns a Sealer using key, which must be KeySize bytes.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Sealer{aead: aead, key: append([]byte(nil), key...)}, nil
}

// Derive returns a KeySize-byte key for purpose (such as "mamori audit
// chain v1"), derived from the sealing key by HKDF-SHA256: another use of
// the one key the operator keeps, which reveals nothing of it and differs
// for every purpose.
func (s *Sealer) Derive(purpose string) []byte {
	k, err := hkdf.Key(sha256.New, s.key, nil, purpose, KeySize)
	if err != nil {
		panic("seal: derive: " + err.Error()) // only for lengths over 255 hashes
	}
	return k
}

// Seal encrypts plaintext and binds it to aad, which is not stored: the
// same aad must be given to Open. Use something naming the row, such as
// "case:KH-2026-0001".
func (s *Sealer) Seal(plaintext, aad []byte) []byte {
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plaintext)+s.aead.Overhead())
	out[0] = version1
	// crypto/rand.Read never fails (it crashes the program instead).
	rand.Read(out[1 : 1+nonceSize])
	return s.aead.Seal(out, out[1:1+nonceSize], plaintext, additional(version1, aad))
}

// Open decrypts a blob made by Seal with the same aad. Any failure
// wraps ErrOpen.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < 1+nonceSize+s.aead.Overhead() {
		return nil, fmt.Errorf("%w: too short", ErrOpen)
	}
	if v := sealed[0]; v != version1 {
		return nil, fmt.Errorf("%w: unknown version %d", ErrOpen, v)
	}
	nonce := sealed[1 : 1+nonceSize]
	pt, err := s.aead.Open(nil, nonce, sealed[1+nonceSize:], additional(version1, aad))
	if err != nil {
		// The GCM error says nothing useful beyond "authentication failed".
		return nil, fmt.Errorf("%w: authentication failed", ErrOpen)
	}
	return pt, nil
}

// additional binds the version byte too, so a blob cannot be relabelled.
func additional(version byte, aad []byte) []byte {
	b := make([]byte, 0, 1+len(aad))
	b = append(b, version)
	return append(b, aad...)
}
