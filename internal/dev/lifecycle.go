package dev

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// The system's servers and its life: listening, serving, stopping.

// localURL is the http URL of ln, which listens on host, for the
// system's own calls: loopback, even when ln listens on all interfaces.
func localURL(host string, ln net.Listener) string {
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ip := net.ParseIP(host)
	switch {
	case ip == nil: // "localhost"
		return "http://" + net.JoinHostPort(host, port)
	case ip.IsUnspecified() && ip.To4() != nil:
		ip = net.IPv4(127, 0, 0, 1)
	case ip.IsUnspecified():
		ip = net.IPv6loopback
	}
	return "http://" + net.JoinHostPort(ip.String(), port)
}

// listenAll listens on the base port and the next three (or four free
// ports when port is negative): the gateway, the phone simulator, the
// labeler and the local S3 of the uploads.
func listenAll(host string, port int) ([]net.Listener, error) {
	if port == 0 {
		port = DefaultPort
	}
	var lns []net.Listener
	for i := range Ports {
		p := 0
		if port > 0 {
			p = port + i
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, fmt.Errorf("port %d is in use; pass --port to choose another base port (crossfaas dev uses it and the next three)", p)
			}
			return nil, fmt.Errorf("listen on %s: %w", net.JoinHostPort(host, strconv.Itoa(p)), err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// serve serves h on ln until shutdown; a server that fails stops the
// system.
func (s *System) serve(ln net.Listener, h http.Handler) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("dev: server failed", "addr", ln.Addr().String(), "err", err)
			s.serveErr <- fmt.Errorf("serve %s: %w", ln.Addr(), err)
			s.Close()
		}
	}()
	return srv
}

// Wait blocks until the system stops (its context ended, Close was called
// or a server failed) and returns the first error of serving or shutting
// down.
func (s *System) Wait() error {
	<-s.closed
	select {
	case err := <-s.serveErr:
		return errors.Join(err, s.closeErr)
	default:
		return s.closeErr
	}
}

// Close stops the system cleanly: the servers stop taking requests and
// finish the ones in flight, the bus delivers what it holds (for up to 10
// seconds; pending retries are dropped after that), the phone's streams
// end and the face database is closed. It is safe to call more than once.
//
// With Options.FunctionsFramework the labeler keeps listening until the
// process exits, as functions-framework-go cannot stop its server: Close
// does not wait for it, and what it answers after Close it answers without
// the rest of the system (no sample image, a closed Vision client).
func (s *System) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.shutdown()
		close(s.closed)
	})
	return s.closeErr
}

func (s *System) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.drainTimeout)
	defer cancel()
	var errs []error
	// The gateway first: in-flight webhooks finish and publish. Then the
	// bus drains, while the labeler (unless funcframework serves it) and
	// the local S3 still answer the upload inspector's invocations. The
	// phone simulator last but one: the bus's replies land in it.
	stop := func(ctx context.Context, name string, srv *http.Server) {
		if srv != nil {
			if err := srv.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("shut down the %s: %w", name, err))
			}
		}
	}
	stop(ctx, "gateway", s.gatewaySrv)
	if s.Bus != nil {
		if err := s.Bus.Close(ctx); err != nil {
			s.logger.Warn("dev: deliveries abandoned at shutdown", "err", err)
		}
	}
	// The drain may have used up ctx: what is left gets a second.
	after, cancelAfter := context.WithTimeout(context.Background(), phoneShutdownTimeout)
	defer cancelAfter()
	stop(after, "labeler", s.labelerSrv)
	stop(after, "local S3", s.uploadsSrv)
	if s.Phone != nil {
		s.Phone.Close()
	}
	if s.phoneSrv != nil {
		// The drain may have used up ctx, and the page's event streams
		// have only just ended: the phone gets a grace period of its own.
		// Nothing needs it any more, so what is still open then is closed:
		// http.Server.Shutdown waits 5 seconds for a connection that has
		// not sent a request yet, such as the spare one an http.Transport
		// dials while another connection frees up.
		phoneCtx, cancelPhone := context.WithTimeout(context.Background(), phoneShutdownTimeout)
		defer cancelPhone()
		if err := s.phoneSrv.Shutdown(phoneCtx); err != nil {
			s.logger.Info("dev: closing the phone simulator's remaining connections", "err", err)
			if err := s.phoneSrv.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close the phone simulator: %w", err))
			}
		}
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	s.logger.Debug("dev: stopped")
	return errors.Join(errs...)
}
