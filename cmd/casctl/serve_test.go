package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/gateway"
)

// serveLog collects what casctl serve writes while it runs.
type serveLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *serveLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *serveLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running is a casctl serve started in this process.
type running struct {
	base   string
	log    *serveLog
	cancel context.CancelFunc // what SIGTERM does
	done   chan int
}

var listeningRE = regexp.MustCompile(`listening on (https?://\S+)`)

func (c *harness) serve(args ...string) *running {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{log: &serveLog{}, cancel: cancel, done: make(chan int, 1)}
	e := &env{stdin: strings.NewReader(""), stdout: r.log, stderr: r.log, lookup: func(k string) (string, bool) {
		v, ok := c.vars[k]
		return v, ok
	}}
	go func() { r.done <- run(ctx, append([]string{"casctl", "serve", "--listen", "127.0.0.1:0"}, args...), e) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(r.log.String()); m != nil {
			r.base = m[1]
			break
		}
		select {
		case code := <-r.done:
			c.t.Fatalf("casctl serve exited %d: %s", code, r.log.String())
		default:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("casctl serve did not start: %s", r.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Cleanup(func() { r.stop(c.t) })
	return r
}

func (r *running) stop(t *testing.T) int {
	r.cancel()
	select {
	case code := <-r.done:
		r.done <- code
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("casctl serve did not stop")
		return -1
	}
}

func TestServe(t *testing.T) {
	c := newCLI(t)
	c.vars["CASCTL_UPLOAD_TOKEN"] = "serve-test-token-93f1"
	data := bytes.Repeat([]byte("recording "), 5000)
	f := c.file("call 1.wav", data)
	c.ok("put", "--txn", "T1", "--type", "audio/wav", f)
	d := cas.Sum(data)

	srv := c.serve()
	c.vars["CASCTL_GATEWAY_URL"] = srv.base

	// casctl url prints gateway links for the disk store.
	link := strings.TrimSpace(c.ok("url", "--inline", d.String()))
	require.True(t, strings.HasPrefix(link, srv.base+"/blobs/"+d.String()+"?"), link)
	res, err := http.Get(link)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, data, body)
	assert.Equal(t, "audio/wav", res.Header.Get("Content-Type"))
	assert.Equal(t, cas.ContentDisposition("call 1.wav", true), res.Header.Get("Content-Disposition"))

	var links []struct{ URL string }
	require.NoError(t, json.Unmarshal([]byte(c.ok("url", "--json", "--txn", "T1", "--name", "call 1.wav")), &links), "url --json")
	if assert.Len(t, links, 1) {
		res, err := http.Get(links[0].URL)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, 200, res.StatusCode)
	}

	// Unsigned: 403.
	res, err = http.Get(srv.base + "/blobs/" + d.String())
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 403, res.StatusCode)

	// Upload with curl, the token from the environment.
	up := c.file("up.txt", []byte("uploaded over HTTP"))
	out, err := exec.Command("/usr/bin/curl", "-sS", "-H", "Authorization: Bearer serve-test-token-93f1",
		"--data-binary", "@"+up, srv.base+"/txn/T2?name=up.txt").Output()
	require.NoError(t, err)
	var ur struct {
		Digest cas.Digest
		New    bool
	}
	require.NoError(t, json.Unmarshal(out, &ur), string(out))
	assert.True(t, ur.New)
	assert.Contains(t, c.ok("ls", "T2"), "up.txt")

	// Key file in the config directory, 0600.
	fi, err := os.Stat(filepath.Join(c.vars["XDG_CONFIG_HOME"], "casctl", gateway.KeyFileName))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// Rotation: the old link keeps working within the grace period; with no
	// grace it stops at once (the running server notices within seconds).
	assert.Contains(t, c.ok("serve", "--rotate-key", "--key-grace", "0"), "new link-signing key")
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(link)
		require.NoError(t, err)
		res.Body.Close()
		if res.StatusCode == 403 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("revoked key still accepted")
		}
		time.Sleep(200 * time.Millisecond)
	}
	fresh := strings.TrimSpace(c.ok("url", d.String()))
	res, err = http.Get(fresh)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 200, res.StatusCode)

	// Health, metrics, and an access log without secrets.
	res, err = http.Get(srv.base + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, 0, srv.stop(t))
	logged := srv.log.String()
	assert.NotContains(t, logged, "serve-test-token-93f1")
	assert.NotContains(t, logged, strings.SplitN(strings.SplitN(link, "sig=", 2)[1], "&", 2)[0])
	assert.Contains(t, logged, "casctl serve: stopped")
}

func TestServeFlags(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{{"serve", "--cert", "x.pem"}, {"serve", "--max-upload", "lots"}, {"serve", "extra"}} {
		r := c.run(nil, args...)
		assert.Equal(t, exitUsage, r.code, "%v: %s", args, r.stderr)
	}
	// Redirect mode needs S3.
	r := c.run(nil, "serve", "--redirect", "--listen", "127.0.0.1:0")
	assert.Equal(t, exitUsage, r.code, r.stderr)
	assert.Contains(t, r.stderr, "redirect mode needs")
}

// A client that never finishes its headers is cut off.
func TestServeHeaderTimeout(t *testing.T) {
	c := newCLI(t)
	srv := c.serve("--header-timeout", "300ms")
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, conn)
	assert.Less(t, time.Since(start), 5*time.Second)
}

// TestServeHelperProcess is casctl in a process of its own for
// TestServeSIGTERM (the test binary re-executed; nothing to build).
func TestServeHelperProcess(t *testing.T) {
	if os.Getenv("CASCTL_SERVE_HELPER") != "1" {
		return
	}
	args := append([]string{"casctl"}, strings.Split(os.Getenv("CASCTL_SERVE_ARGS"), "\n")...)
	os.Exit(run(context.Background(), args, &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, lookup: os.LookupEnv}))
}

// SIGTERM to a casctl process lets a download in flight finish.
func TestServeSIGTERM(t *testing.T) {
	c := newCLI(t)
	data := make([]byte, 24<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	d := cas.Sum(data)
	c.ok("put", c.file("big.bin", data))
	c.vars["CASCTL_PUBLIC_LINKS"] = "true"

	cmd := exec.Command(os.Args[0], "-test.run=^TestServeHelperProcess$")
	for k, v := range c.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "PATH="+os.Getenv("PATH"), "HOME="+c.dir, "CASCTL_SERVE_HELPER=1",
		"CASCTL_SERVE_ARGS="+strings.Join([]string{"serve", "--listen", "127.0.0.1:0"}, "\n"))
	stderr := &serveLog{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill()
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == ""; time.Sleep(20 * time.Millisecond) {
		if m := listeningRE.FindStringSubmatch(stderr.String()); m != nil {
			base = m[1]
		}
		require.True(t, time.Now().Before(deadline), stderr.String())
	}
	res, err := http.Get(base + "/blobs/" + d.String())
	require.NoError(t, err)
	defer res.Body.Close()
	buf := make([]byte, 32<<10)
	got, _ := io.ReadFull(res.Body, buf)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	time.Sleep(100 * time.Millisecond)
	for {
		n, err := res.Body.Read(buf)
		got += n
		if err != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	assert.Equal(t, len(data), got, "download cut by shutdown")
	require.NoError(t, cmd.Wait(), stderr.String())
	assert.Contains(t, stderr.String(), "casctl serve: stopped")
}

// TLS with --cert and --key.
func TestServeTLS(t *testing.T) {
	c := newCLI(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile := c.file("cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyFile := c.file("key.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))

	srv := c.serve("--cert", certFile, "--key", keyFile)
	require.True(t, strings.HasPrefix(srv.base, "https://"), srv.base)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	res, err := client.Get(srv.base + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 200, res.StatusCode)
}
