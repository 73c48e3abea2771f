// Command kms-plugin is a KMS v2 plugin for the local cluster only: a TEST
// DOUBLE, not a key management service. It lets the local API server encrypt
// Secrets at rest exactly the way the `local` stack's EncryptionConfiguration
// says (provider kms, apiVersion v2, a unix socket), so tests can read etcd
// raw and find ciphertext.
//
// It serves k8s.io/kms's plugin service (the same gRPC API a cloud KMS plugin
// serves) and seals the API server's data-encryption-key seeds with
// AES-256-GCM under a key read from a file. Unlike a real KMS, the key sits on
// the same disk as etcd's data, is never rotated and is not backed by
// hardware: use a real KMS plugin (the cloud's, or Vault's) anywhere else.
//
// Usage: kms-plugin -listen unix:///path/to/kms.sock -key-file /path/to/key
// (the key file holds 32 random bytes, e.g. `openssl rand 32 > key`).
package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"k8s.io/kms/pkg/service"
)

// aesGCM is the plugin's service.Service: one key, identified by a digest of
// itself so the API server notices when the key file changes.
type aesGCM struct {
	aead  cipher.AEAD
	keyID string
}

func newAESGCM(key []byte) (*aesGCM, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("the key must be 32 bytes (AES-256), got %d: create it with `openssl rand 32 > KEYFILE`", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(key)
	return &aesGCM{aead: aead, keyID: "x1agent-local-" + hex.EncodeToString(sum[:8])}, nil
}

// Encrypt seals data as nonce || ciphertext || tag.
func (s *aesGCM) Encrypt(_ context.Context, _ string, data []byte) (*service.EncryptResponse, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return &service.EncryptResponse{Ciphertext: s.aead.Seal(nonce, nonce, data, nil), KeyID: s.keyID}, nil
}

func (s *aesGCM) Decrypt(_ context.Context, _ string, req *service.DecryptRequest) ([]byte, error) {
	if req.KeyID != s.keyID {
		return nil, fmt.Errorf("ciphertext was sealed with key %q, this plugin holds %q", req.KeyID, s.keyID)
	}
	n := s.aead.NonceSize()
	if len(req.Ciphertext) < n {
		return nil, errors.New("ciphertext shorter than its nonce")
	}
	return s.aead.Open(nil, req.Ciphertext[:n], req.Ciphertext[n:], nil)
}

// Status answers the API server's health checks: KMS v2, healthy, this key.
func (s *aesGCM) Status(context.Context) (*service.StatusResponse, error) {
	return &service.StatusResponse{Version: "v2", Healthz: "ok", KeyID: s.keyID}, nil
}

func main() {
	listen := flag.String("listen", "", "the plugin's endpoint, unix:///absolute/path.sock (the EncryptionConfiguration's kms.endpoint)")
	keyFile := flag.String("key-file", "", "file holding the 32-byte AES-256 key")
	flag.Parse()
	socket, ok := strings.CutPrefix(*listen, "unix://")
	if !ok || !strings.HasPrefix(socket, "/") {
		log.Fatalf("-listen %q: want unix:///absolute/path.sock, as the EncryptionConfiguration's kms.endpoint names it", *listen)
	}
	key, err := os.ReadFile(*keyFile)
	if err != nil {
		log.Fatalf("-key-file: %v", err)
	}
	svc, err := newAESGCM(key)
	if err != nil {
		log.Fatalf("-key-file %s: %v", *keyFile, err)
	}
	// A socket left by a plugin that was killed would make the listen fail.
	if err := os.Remove(socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Fatalf("removing the stale socket %s: %v", socket, err)
	}
	server := service.NewGRPCService(socket, 3*time.Second, svc)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		server.Shutdown()
	}()
	log.Printf("KMS v2 test-double plugin serving key %s on %s", svc.keyID, *listen)
	if err := server.ListenAndServe(); err != nil {
		log.Fatalf("serving on %s: %v", socket, err)
	}
	_ = os.Remove(socket)
}
