package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/urfave/cli/v2"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/config"
	"github.com/casstore/casstore/gateway"
)

func serveCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve the store over HTTP: verified reads, signed links, uploads",
		Description: "Serves GET/HEAD /blobs/DIGEST and /txn/T/NAME (signed links, see casctl url with\n" +
			"gateway_url set), POST /blobs and /txn/T with the bearer token from upload_token\n" +
			"(CASCTL_UPLOAD_TOKEN), /healthz and /metrics. Listens on loopback unless --listen\n" +
			"says otherwise. SIGTERM or SIGINT stops it gracefully: requests in flight get\n" +
			"--shutdown-timeout to finish. The link-signing key is made on first use in the\n" +
			"configuration directory (gateway_key_file overrides), mode 0600.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "`ADDR` to listen on (host:port; port 0 picks one)"},
			&cli.StringFlag{Name: "cert", Usage: "TLS certificate `FILE` (PEM); with --key"},
			&cli.StringFlag{Name: "key", Usage: "TLS private key `FILE` (PEM); with --cert"},
			&cli.BoolFlag{Name: "redirect", Usage: "S3 stores: answer reads with a redirect to a presigned URL instead of proxying"},
			&cli.StringFlag{Name: "max-upload", Value: "5GiB", Usage: "largest upload body accepted (413 past it)"},
			&cli.IntFlag{Name: "max-uploads", Value: gateway.DefaultMaxUploads, Usage: "concurrent uploads (503 past it)"},
			&cli.DurationFlag{Name: "header-timeout", Value: 10 * time.Second, Usage: "cut off clients that do not send their headers in time"},
			&cli.DurationFlag{Name: "idle-timeout", Value: 2 * time.Minute, Usage: "close idle keep-alive connections after"},
			&cli.DurationFlag{Name: "shutdown-timeout", Value: 30 * time.Second, Usage: "on SIGTERM/SIGINT, how long requests in flight may finish"},
			&cli.BoolFlag{Name: "rotate-key", Usage: "make a new link-signing key and exit; the previous one verifies for --key-grace"},
			&cli.DurationFlag{Name: "key-grace", Value: gateway.DefaultKeyGrace, Usage: "with --rotate-key: how long links signed with the previous key stay valid (0: revoke)"},
			&cli.BoolFlag{Name: "quiet", Usage: "no access log"},
			&cli.StringFlag{Name: "pprof", Hidden: true, Usage: "serve net/http/pprof on `ADDR` (profiling)"},
		},
		Action: func(c *cli.Context) error { return runServe(c, e) },
	}
}

func runServe(c *cli.Context, e *env) error {
	if c.NArg() > 0 {
		return usageError{errors.New("serve: no arguments expected")}
	}
	if c.IsSet("cert") != c.IsSet("key") {
		return usageError{errors.New("serve: --cert and --key go together")}
	}
	maxUpload, err := humanize.ParseBytes(c.String("max-upload"))
	if err != nil || maxUpload == 0 || maxUpload > 1<<62 {
		return usageError{fmt.Errorf("serve: --max-upload %q: want a size such as 100MiB or 5GiB", c.String("max-upload"))}
	}
	if c.Bool("rotate-key") {
		cfg, err := loadConfig(c, e)
		if err != nil {
			return err
		}
		keys, err := gateway.LoadKeys(gatewayKeyFile(cfg))
		if err != nil {
			return err
		}
		id, err := keys.Rotate(c.Duration("key-grace"))
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "new link-signing key %s in %s; links signed before stay valid for %s (running gateways pick it up within seconds)\n",
			id, keys.Path(), c.Duration("key-grace"))
		return nil
	}

	store, ix, cfg, err := openStoreWithIndex(c, e)
	if err != nil {
		return err
	}
	defer ix.Close()
	public, err := boolSetting(cfg, config.PublicLinks)
	if err != nil {
		return err
	}
	opts := gateway.Options{
		Public:        public,
		UploadToken:   cfg.Get(config.UploadToken),
		MaxUploadSize: int64(maxUpload),
		MaxUploads:    c.Int("max-uploads"),
		Redirect:      c.Bool("redirect"),
	}
	if !c.Bool("quiet") {
		// Buffered: one write per request would cost as much as serving a
		// small blob. Flushed a few times a second and at exit.
		alog := newFlushingWriter(e.stderr, 250*time.Millisecond)
		defer alog.Close()
		opts.AccessLog = alog
		opts.Logger = slog.New(slog.NewTextHandler(alog, nil))
	}
	if !public {
		// The signer verifies; its base URL matters only for making links.
		keys, err := gateway.LoadKeys(gatewayKeyFile(cfg))
		if err != nil {
			return err
		}
		if opts.Signer, err = gateway.NewSigner("http://localhost", keys, false); err != nil {
			return err
		}
	}
	h, err := gateway.New(store, ix, opts)
	if err != nil {
		return usageError{err}
	}

	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return usageError{fmt.Errorf("serve: %w", err)}
	}
	scheme := "http"
	if c.IsSet("cert") {
		scheme = "https"
	}
	mode := "signed links"
	if public {
		mode = "PUBLIC: unsigned reads"
	}
	uploads := "uploads disabled (no upload_token)"
	if opts.UploadToken != "" {
		uploads = "uploads with the bearer token"
	}
	fmt.Fprintf(e.stderr, "casctl serve: listening on %s://%s (store %s; %s; %s)\n", scheme, ln.Addr(), store.Backend().Location(), mode, uploads)
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); !isLoopback(host) && scheme == "http" {
		fmt.Fprintf(e.stderr, "casctl serve: warning: listening beyond loopback without TLS; links and tokens cross the network in clear\n")
	}

	if _, set := os.LookupEnv("GOGC"); !set {
		// Small requests allocate little each but many per second; with
		// the default the collector runs so often that it halves the
		// request rate. The live heap is a few MiB, so this stays small.
		debug.SetGCPercent(400)
	}
	if a := c.String("pprof"); a != "" {
		// For profiling only: net/http/pprof registers on the default mux,
		// which nothing else here serves.
		// Loopback only: the profiles show the command line, which may
		// name an index URL.
		if host, _, err := net.SplitHostPort(a); err != nil || net.ParseIP(host) == nil || !net.ParseIP(host).IsLoopback() {
			return usageError{fmt.Errorf("serve: --pprof %q: give a loopback address such as 127.0.0.1:6060", a)}
		}
		pln, err := net.Listen("tcp", a)
		if err != nil {
			return usageError{fmt.Errorf("serve: --pprof: %w", err)}
		}
		defer pln.Close()
		go http.Serve(pln, nil)
	}
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv := gateway.NewServer(h, gateway.ServerOptions{ReadHeaderTimeout: c.Duration("header-timeout"), IdleTimeout: c.Duration("idle-timeout")})
	err = gateway.Serve(ctx, srv, ln, c.String("cert"), c.String("key"), c.Duration("shutdown-timeout"))
	fmt.Fprintf(e.stderr, "casctl serve: stopped\n")
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// flushingWriter buffers writes and flushes them every interval.
type flushingWriter struct {
	mu   sync.Mutex
	bw   *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newFlushingWriter(w io.Writer, interval time.Duration) *flushingWriter {
	f := &flushingWriter{bw: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				f.flush()
			case <-f.stop:
				f.flush()
				return
			}
		}
	}()
	return f
}

func (f *flushingWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bw.Write(p)
}

func (f *flushingWriter) flush() {
	f.mu.Lock()
	f.bw.Flush()
	f.mu.Unlock()
}

// Close flushes what is left and stops the flusher.
func (f *flushingWriter) Close() error {
	close(f.stop)
	<-f.done
	return nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// gatewayKeyFile is gateway_key_file, or the key file in casctl's
// configuration directory.
func gatewayKeyFile(cfg *config.Config) string {
	if v := cfg.Get(config.GatewayKey); v != "" {
		return v
	}
	return filepath.Join(cfg.Dir(), gateway.KeyFileName)
}

// gatewayLinker returns the signer for links to the gateway at gateway_url
// (the key file is made on first use).
func gatewayLinker(cfg *config.Config) (cas.Linker, error) {
	public, err := boolSetting(cfg, config.PublicLinks)
	if err != nil {
		return nil, err
	}
	keys, err := gateway.LoadKeys(gatewayKeyFile(cfg))
	if err != nil {
		return nil, err
	}
	s, err := gateway.NewSigner(cfg.Get(config.GatewayURL), keys, public)
	if err != nil {
		return nil, usageError{err}
	}
	return s, nil
}
