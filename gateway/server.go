package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// ServerOptions are the timeouts of NewServer.
type ServerOptions struct {
	// ReadHeaderTimeout cuts off a client that has not sent its request
	// headers in time (default 10 s).
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections (default 2 min).
	IdleTimeout time.Duration
}

// NewServer returns an http.Server for h with header and idle timeouts.
// There is no write timeout: a large download may take long.
func NewServer(h http.Handler, o ServerOptions) *http.Server {
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 2 * time.Minute
	}
	return &http.Server{Handler: h, ReadHeaderTimeout: o.ReadHeaderTimeout, IdleTimeout: o.IdleTimeout, MaxHeaderBytes: 64 << 10}
}

// Serve serves on ln (TLS when certFile is set) until ctx ends, then shuts
// down gracefully: no new connections, requests in flight get until
// deadline to finish, after which the remaining connections are closed.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, certFile, keyFile string, deadline time.Duration) error {
	errc := make(chan error, 1)
	go func() {
		if certFile != "" {
			errc <- srv.ServeTLS(ln, certFile, keyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		srv.Close()
		return errors.New("shutdown: requests still in flight at the deadline were cut off")
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}
