package dev

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

// envFunctionTarget is the variable through which the Cloud Functions
// runtime tells functions-framework-go which function to serve.
const envFunctionTarget = "FUNCTION_TARGET"

// frameworkTarget is the FUNCTION_TARGET under which dev serves its labeler.
// No function is registered under that name (the labeler package registers
// the deployed function as "Detect", which would build a Cloud Vision
// client), so funcframework serves the last function registered without a
// name, dev's, at "/" for every path, and nothing else: as Cloud Functions
// serves only the entry point. Without a FUNCTION_TARGET, funcframework
// would also serve "Detect" at /Detect and print every function's name to
// stdout.
const frameworkTarget = "CrossfaasDevLabeler"

// frameworkStartTimeout bounds the wait for funcframework to answer.
const frameworkStartTimeout = 10 * time.Second

// frameworkProbePath is a path funcframework's http.ServeMux answers by
// itself, with a redirect to its clean form "/", without running the
// function: polling it shows that funcframework, and not some other process
// that took the port, serves, and it neither labels an image nor logs a
// request.
const frameworkProbePath = "/_crossfaas/../"

// framework records the process's functions-framework-go server. Its
// registry and its server are process-wide, and the server cannot be
// stopped, so one System per process may serve through it.
var framework struct {
	mu   sync.Mutex
	addr string // where it serves, or may serve; "" before any
}

// errFrameworkInUse reports that the process's funcframework server is
// taken. The caller holds framework.mu.
func errFrameworkInUse() error {
	if framework.addr == "" {
		return nil
	}
	return fmt.Errorf("the labeler is already served through functions-framework-go at %s in this process, "+
		"and functions-framework-go cannot stop it: run one system with Options.FunctionsFramework per process", framework.addr)
}

// checkFrameworkFree fails if this process already serves a labeler
// through functions-framework-go, before Run binds any port.
func checkFrameworkFree() error {
	framework.mu.Lock()
	defer framework.mu.Unlock()
	return errFrameworkInUse()
}

// serveFramework serves h through functions-framework-go, exactly as a Cloud
// Function is served, on the port of ln (which listens on host): it registers
// h at "/", sets FUNCTION_TARGET (it stays set, as in a Cloud Function),
// releases ln just before funcframework binds its port and returns once
// funcframework answers there. released, if not nil, is called with the
// port just after ln is closed (tests).
//
// The server lives until the process exits: funcframework has no way to
// stop it. If it fails after start-up the system stops with its error.
func (s *System) serveFramework(ctx context.Context, host string, ln net.Listener, h http.Handler, released func(port int)) error {
	framework.mu.Lock()
	defer framework.mu.Unlock()
	if err := errFrameworkInUse(); err != nil {
		return err
	}
	// A registration left by an earlier attempt whose port was taken is
	// harmless: funcframework serves the last function without a name.
	if err := funcframework.RegisterHTTPFunctionContext(ctx, "/", h.ServeHTTP); err != nil {
		return fmt.Errorf("register the labeler with functions-framework-go: %w", err)
	}
	if err := os.Setenv(envFunctionTarget, frameworkTarget); err != nil {
		return fmt.Errorf("set %s for functions-framework-go: %w", envFunctionTarget, err)
	}

	port := ln.Addr().(*net.TCPAddr).Port
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	base := localURL(host, ln)
	ln.Close()
	if released != nil {
		released(port)
	}
	served := make(chan error, 1)
	go func() {
		// StartHostPort returns only when the server fails.
		served <- funcframework.StartHostPort(frameworkHost(host), strconv.Itoa(port))
	}()

	switch err := awaitFramework(base, served, frameworkStartTimeout); {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("port %d, free a moment ago, was taken before functions-framework-go could listen on it: "+
			"pass --port to choose another base port (crossfaas dev uses it and the next two): %w", port, err)
	case errors.Is(err, errFrameworkSilent):
		// It may still come up later: the port is not ours to give again.
		framework.addr = addr
		return fmt.Errorf("serve the labeler through functions-framework-go on %s: %w", addr, err)
	case err != nil:
		return fmt.Errorf("serve the labeler through functions-framework-go on %s: %w", addr, err)
	}
	framework.addr = addr

	go func() {
		err := <-served
		s.logger.Error("dev: the labeler's functions-framework-go server failed", "addr", addr, "err", err)
		s.serveErr <- fmt.Errorf("serve the labeler through functions-framework-go on %s: %w", addr, err)
		s.Close()
	}()
	return nil
}

// errFrameworkSilent reports that funcframework neither answered nor failed
// in time.
var errFrameworkSilent = fmt.Errorf("no answer within %v", frameworkStartTimeout)

// awaitFramework polls base until funcframework's ServeMux answers the probe
// path, and returns nil then, funcframework's error if it stops first, or
// errFrameworkSilent after timeout.
func awaitFramework(base string, served <-chan error, timeout time.Duration) error {
	client := &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true},
		// Short: a probe that found some other process holding the port
		// must not hide funcframework's failure for long; a slow answer
		// is only asked again.
		Timeout: 200 * time.Millisecond,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select { // before any probe: a failure wins over a stray answer
		case err := <-served:
			return err
		default:
		}
		if resp, err := client.Get(base + frameworkProbePath); err == nil {
			resp.Body.Close()
			if isRedirectToRoot(resp) {
				return nil
			}
		}
		select {
		case err := <-served:
			return err
		case <-deadline.C:
			return errFrameworkSilent
		case <-tick.C:
		}
	}
}

// isRedirectToRoot reports whether resp redirects to "/", as
// http.ServeMux answers frameworkProbePath (307 since Go 1.22, 301 before).
func isRedirectToRoot(resp *http.Response) bool {
	return resp.StatusCode/100 == 3 && resp.Header.Get("Location") == "/"
}

// frameworkHost is host as funcframework.StartHostPort wants it: it joins
// host and port with a colon, so an IPv6 address needs its brackets.
func frameworkHost(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// executionIDs is a slog.Handler that adds to each record logged with a
// request's context the ids functions-framework-go gave the request, by
// which Cloud Logging groups a function's lines: "executionId" (the
// caller's Function-Execution-Id header, or a fresh one) and, when the
// caller sent X-Cloud-Trace-Context, "trace" and "spanId". Records of
// requests that did not come through funcframework are unchanged.
type executionIDs struct {
	slog.Handler
}

func (h executionIDs) Handle(ctx context.Context, r slog.Record) error {
	var attrs []slog.Attr
	if id := funcframework.ExecutionIDFromContext(ctx); id != "" {
		attrs = append(attrs, slog.String("executionId", id))
	}
	if trace := funcframework.TraceIDFromContext(ctx); trace != "" {
		attrs = append(attrs, slog.String("trace", trace))
	}
	if span := funcframework.SpanIDFromContext(ctx); span != "" {
		attrs = append(attrs, slog.String("spanId", span))
	}
	if len(attrs) > 0 {
		r = r.Clone()
		r.AddAttrs(attrs...)
	}
	return h.Handler.Handle(ctx, r)
}

func (h executionIDs) WithAttrs(attrs []slog.Attr) slog.Handler {
	return executionIDs{h.Handler.WithAttrs(attrs)}
}

func (h executionIDs) WithGroup(name string) slog.Handler {
	return executionIDs{h.Handler.WithGroup(name)}
}
