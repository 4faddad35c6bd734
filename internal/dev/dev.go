// Package dev runs the whole crossfaas system on one machine, offline, for
// `crossfaas dev`: the real handlers of the labeler, the proxy and the
// sleuth, wired as the Pulumi stack wires them, behind local stand-ins for
// the cloud around them:
//
//   - an API Gateway HTTP API (package gateway) serving GET /detect (the
//     proxy) and POST /sms (the sleuth's request handler) with payload
//     format 2.0 events;
//   - the labeler's HTTP handler on its own port, the "Cloud Function",
//     whose URL is the proxy's LABELER_URL: served through
//     functions-framework-go as Cloud Functions serves it
//     (Options.FunctionsFramework, what `crossfaas dev` does), or on a
//     server of the System's own, which Close stops (tests);
//   - SNS topics with Lambda's asynchronous invocation semantics (package
//     bus): fan-out, retries, a dead-letter list and the on-failure
//     destination that tells the user "Sorry, that failed";
//   - an in-memory idempotency ledger (package ledger);
//   - a phone simulator (package phone) that plays Twilio: it signs the
//     webhooks, serves the photos as Twilio media and receives the replies
//     through the Messages API.
//
// Engines are offline by default (faces from internal/offline/faces,
// labels from internal/offline/labels, biographies from Wikipedia when it
// answers); Options.Cloud switches to Rekognition, Cloud Vision, Wikipedia
// and Twilio with the user's own credentials. No handler knows which.
package dev

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/crossfaas/crossfaas/internal/dev/bus"
	"github.com/crossfaas/crossfaas/internal/dev/gateway"
	"github.com/crossfaas/crossfaas/internal/dev/phone"
	"github.com/crossfaas/crossfaas/internal/dev/privatelink"
)

// DefaultPort is the base port: the gateway listens on it, the phone
// simulator on the next port, the labeler on the one after and the local
// S3 of the uploads on the fourth.
const DefaultPort = 8787

// DefaultPrefix is the "<project>-<stack>" namespace of the local stack. It
// is not "crossfaas-dev" on purpose: with --cloud, the local system's
// Rekognition collections must not be the deployed dev stage's.
const DefaultPrefix = "crossfaas-local"

// DefaultRetryDelays are the waits before the two retries of a failed
// asynchronous invocation. Lambda waits one and two minutes; locally that
// is scaled down so a failure reaches the phone in seconds, yet stays
// longer than a command takes, so the retry of a duplicate delivery finds
// the first one finished.
var DefaultRetryDelays = []time.Duration{2 * time.Second, 4 * time.Second}

// drainTimeout bounds how long Close waits for deliveries in flight.
const drainTimeout = 10 * time.Second

// phoneShutdownTimeout bounds how long Close waits, after the drain, for the
// phone simulator's requests in flight before closing its connections.
const phoneShutdownTimeout = time.Second

// Options configures Run. The zero value runs offline on the default ports
// with the default data directory.
type Options struct {
	// Host is the interface to listen on; empty means 127.0.0.1.
	Host string
	// Port is the base port (see DefaultPort); 0 means DefaultPort, and a
	// negative value picks free ports (tests).
	Port int
	// DataDir holds the offline face database; empty means
	// DefaultDataDir().
	DataDir string
	// Cloud uses Rekognition, Cloud Vision, Wikipedia and Twilio instead
	// of the offline engines.
	Cloud bool
	// DuplicateDeliveries delivers every SNS message twice, to exercise
	// the handlers' idempotency.
	DuplicateDeliveries bool
	// RetryDelays are the waits before the retries of a failed
	// asynchronous invocation; nil means DefaultRetryDelays.
	RetryDelays []time.Duration
	// AuthToken is the simulated Twilio account's auth token; empty means a
	// random one. AccountSID likewise.
	AuthToken  string
	AccountSID string
	// UserNumber is the simulated phone's number and TwilioNumber the
	// number it texts; empty means phone.DefaultUserNumber and
	// phone.DefaultTwilioNumber. With Cloud and both set to real numbers,
	// replies also go out as real SMS through Twilio.
	UserNumber   string
	TwilioNumber string
	// WikipediaURL overrides https://en.wikipedia.org (the
	// SLEUTH_WIKIPEDIA_URL variable of the cloud).
	WikipediaURL string
	// MatchThreshold is the minimum similarity of a match, 0-100; zero
	// means the handlers' default (85).
	MatchThreshold float64
	// Prefix namespaces function, topic and collection names; empty means
	// DefaultPrefix.
	Prefix string
	// LabelerAccess is LabelerPrivate (or empty: the labeler admits only
	// the proxy and the upload inspector, through the local private link)
	// or LabelerPublic.
	LabelerAccess string
	// UploadAction is what the inspector does with an unsafe upload
	// (crossfaas:safeSearchAction): quarantine (or empty), blur or tag.
	UploadAction string
	// LabelLanguages are the languages the uploads' labels are translated
	// into (crossfaas:labelLanguages); offline there is no translation,
	// and the results say so.
	LabelLanguages []string
	// UploadMaxMiB is the largest upload inspected; 0 means
	// DefaultUploadMaxMiB.
	UploadMaxMiB int
	// Logger receives every hop's logs; nil means JSON on stderr.
	Logger *slog.Logger
	// FunctionsFramework serves the labeler through functions-framework-go
	// with FUNCTION_TARGET set, exactly as Cloud Functions serves it, and
	// adds funcframework's execution id (and trace, if the caller sent
	// one) to the labeler's log lines. funcframework's registry and server
	// are process-wide and cannot be stopped: the labeler then keeps
	// serving until the process exits (Close neither stops nor waits for
	// it), and a second Run with FunctionsFramework in the same process
	// fails. Commands set it; tests that run several systems leave it off,
	// and the labeler gets a server of the System's own.
	FunctionsFramework bool

	// editEngines, if set, may replace engines before wiring (tests).
	editEngines func(*engines)
	// labelerPortReleased, if set, is called with the labeler's port once
	// it is released for funcframework to bind (tests).
	labelerPortReleased func(port int)
	// drainTimeout, if set, replaces drainTimeout (tests).
	drainTimeout time.Duration
}

// System is a running local system.
type System struct {
	// GatewayURL is the local HTTP API (GET /detect, POST /sms).
	GatewayURL string
	// PhoneURL is the phone simulator's page.
	PhoneURL string
	// LabelerURL is the labeler, the proxy's LABELER_URL.
	LabelerURL string
	// UploadsURL is the local S3 endpoint (path-style) and UploadsBucket
	// its bucket, whose incoming/ the inspector watches.
	UploadsURL    string
	UploadsBucket string
	// DataDir holds the offline face database.
	DataDir string
	// Mode is "offline" or "cloud".
	Mode string
	// LabelerServer is what serves the labeler: "functions-framework-go"
	// or "net/http" (see Options.FunctionsFramework).
	LabelerServer string
	// AccountSID and AuthToken are the simulated Twilio account's.
	AccountSID string
	AuthToken  string

	// Phone is the phone simulator; Bus the local SNS.
	Phone *phone.Simulator
	Bus   *bus.Bus

	link                                         *privatelink.Link // nil for a public labeler
	uploads                                      *uploads
	logger                                       *slog.Logger
	drainTimeout                                 time.Duration
	gatewaySrv, labelerSrv, phoneSrv, uploadsSrv *http.Server
	closers                                      []func() error
	notes                                        []string // shown in the banner

	serveErr  chan error
	closeOnce sync.Once
	closeErr  error
	closed    chan struct{}
}

// Run starts the system and returns once every server listens (and, with
// Options.FunctionsFramework, once funcframework answers). It stops when
// ctx ends (Wait returns then) or when Close is called.
func Run(ctx context.Context, opts Options) (*System, error) {
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if ip := net.ParseIP(opts.Host); opts.Host != "localhost" && (ip == nil || !(ip.IsLoopback() || ip.IsUnspecified())) {
		// The handlers only talk plain http to loopback hosts (credentials
		// never cross a network in clear).
		return nil, fmt.Errorf("dev: host %q: listen on a loopback address (127.0.0.1, ::1) or on all interfaces (0.0.0.0, ::)", opts.Host)
	}
	if opts.FunctionsFramework {
		// Fail before binding anything; serveFramework checks again.
		if err := checkFrameworkFree(); err != nil {
			return nil, err
		}
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.RetryDelays == nil {
		opts.RetryDelays = DefaultRetryDelays
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if opts.DataDir == "" {
		dir, err := DefaultDataDir()
		if err != nil {
			return nil, err
		}
		opts.DataDir = dir
	}
	if opts.AccountSID == "" {
		opts.AccountSID = phone.NewAccountSID()
	}
	if opts.AuthToken == "" {
		opts.AuthToken = phone.NewAuthToken()
	}

	s := &System{
		DataDir:       opts.DataDir,
		Mode:          "offline",
		LabelerServer: "net/http",
		AccountSID:    opts.AccountSID,
		AuthToken:     opts.AuthToken,
		logger:        opts.Logger,
		drainTimeout:  cmp.Or(opts.drainTimeout, drainTimeout),
		serveErr:      make(chan error, 3),
		closed:        make(chan struct{}),
	}
	if opts.Cloud {
		s.Mode = "cloud"
	} else {
		s.notes = append(s.notes, "Offline engines: faces from the data directory, labels computed from the pixels,",
			"  biographies from Wikipedia when it answers. GET /detect without imageUri labels "+samplePath+".")
	}
	if opts.DuplicateDeliveries {
		s.notes = append(s.notes, "Every SNS message is delivered twice (--duplicate-deliveries): replies must still come once.")
	}
	ok := false
	defer func() {
		if !ok {
			s.shutdown()
		}
	}()

	lns, err := listenAll(opts.Host, opts.Port)
	if err != nil {
		return nil, err
	}
	gatewayLn, phoneLn, labelerLn, uploadsLn := lns[0], lns[1], lns[2], lns[3]
	s.closers = append(s.closers, func() error {
		// Listeners not yet handed to a server.
		for _, ln := range lns {
			ln.Close()
		}
		return nil
	})
	s.GatewayURL = localURL(opts.Host, gatewayLn)
	s.PhoneURL = localURL(opts.Host, phoneLn)
	s.LabelerURL = localURL(opts.Host, labelerLn)
	if err := s.startPrivateLink(opts); err != nil {
		return nil, err
	}

	s.Bus = bus.New(bus.Config{RetryDelays: opts.RetryDelays, DuplicateDeliveries: opts.DuplicateDeliveries}, opts.Logger.With("component", "sns"))
	sim, err := phone.New(phone.Config{
		AccountSID:   opts.AccountSID,
		AuthToken:    opts.AuthToken,
		BaseURL:      s.PhoneURL,
		WebhookURL:   s.GatewayURL + "/sms",
		UserNumber:   opts.UserNumber,
		TwilioNumber: opts.TwilioNumber,
		DeadLetters:  func() any { return s.Bus.DeadLetters() },
		Mode:         s.Mode,
	}, opts.Logger.With("component", "phone"))
	if err != nil {
		return nil, err
	}
	s.Phone = sim

	eng, err := openEngines(ctx, opts, s)
	if err != nil {
		return nil, err
	}
	if opts.editEngines != nil {
		opts.editEngines(eng)
	}
	gw := gateway.New(gateway.Config{}, opts.Logger.With("component", "gateway"))
	if err := wire(opts, s, eng, gw); err != nil {
		return nil, err
	}
	if err := s.startUploads(opts, uploadsLn); err != nil {
		return nil, err
	}

	if opts.FunctionsFramework {
		s.LabelerServer = "functions-framework-go"
		if err := s.serveFramework(ctx, opts.Host, labelerLn, s.guardLabeler(eng.labeler), opts.labelerPortReleased); err != nil {
			return nil, err
		}
	} else {
		s.labelerSrv = s.serve(labelerLn, s.guardLabeler(eng.labeler))
	}
	s.gatewaySrv = s.serve(gatewayLn, gw)
	console := http.NewServeMux()
	console.HandleFunc("GET "+samplePath, serveSample)
	s.uploads.routes(console)
	console.Handle("/", sim)
	s.phoneSrv = s.serve(phoneLn, console)
	ok = true
	go func() {
		select {
		case <-ctx.Done():
		case <-s.closed:
		}
		s.Close()
	}()
	s.logger.Info("dev: running", "mode", s.Mode, "gateway", s.GatewayURL, "phone", s.PhoneURL,
		"labeler", s.LabelerURL, "labelerServer", s.LabelerServer, "data", s.DataDir)
	return s, nil
}

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
// labeler and the local S3.
func listenAll(host string, port int) ([]net.Listener, error) {
	if port == 0 {
		port = DefaultPort
	}
	var lns []net.Listener
	for i := range 4 {
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
			return nil, fmt.Errorf("dev: listen on %s: %w", net.JoinHostPort(host, strconv.Itoa(p)), err)
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
			s.serveErr <- fmt.Errorf("dev: serve %s: %w", ln.Addr(), err)
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
				errs = append(errs, fmt.Errorf("dev: shut down the %s: %w", name, err))
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
				errs = append(errs, fmt.Errorf("dev: close the phone simulator: %w", err))
			}
		}
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	s.logger.Info("dev: stopped")
	return errors.Join(errs...)
}

// Banner writes what a user needs to start: the endpoints, the phone
// simulator, the labeler, the data directory, the mode and the local auth
// token.
func (s *System) Banner(w io.Writer) {
	fmt.Fprintf(w, `
crossfaas dev: the whole system on this machine (%s)

  Phone simulator   %s
  API (gateway)     GET  %s/detect?imageUri=<url>   (proxy -> labeler)
                    POST %s/sms                     (Twilio webhook -> sleuth)
  Labeler           %s/?imageUri=<url>              (the "Cloud Function", served by %s)
  Uploads (S3)      %s  bucket %s: put images under incoming/
  Dead letters      %s/_dev/dlq
  Data directory    %s
  Twilio account    %s, auth token %s
                    (webhooks are signed with it: X-Twilio-Signature)
`, s.Mode, s.PhoneURL, s.GatewayURL, s.GatewayURL, s.LabelerURL, s.LabelerServer, s.UploadsURL, s.UploadsBucket, s.PhoneURL, s.DataDir, s.AccountSID, s.AuthToken)
	if len(s.notes) > 0 {
		fmt.Fprintln(w)
	}
	for _, n := range s.notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
	fmt.Fprint(w, "\nOpen the phone simulator and text \"help\". Ctrl-C stops everything.\n\n")
}
