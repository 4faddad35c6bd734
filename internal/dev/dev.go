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
// labels from internal/offline/labels, biographies from a file of the data
// directory, package bio), and an offline system makes no network call at
// all unless Options.Wikipedia asks for Wikipedia's biographies;
// Options.Cloud switches to Rekognition, Cloud Vision, Wikipedia and Twilio
// with the user's own credentials. No handler knows which.
package dev

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crossfaas/crossfaas/internal/dev/bio"
	"github.com/crossfaas/crossfaas/internal/dev/bus"
	"github.com/crossfaas/crossfaas/internal/dev/gateway"
	"github.com/crossfaas/crossfaas/internal/dev/phone"
	"github.com/crossfaas/crossfaas/internal/dev/privatelink"
)

// DefaultPort is the base port: the gateway listens on it, the phone
// simulator on the next port, the labeler on the one after and the local
// S3 of the uploads on the fourth.
const DefaultPort = 8787

// Ports is how many consecutive ports from the base port crossfaas dev
// listens on: the gateway, the phone simulator, the labeler and the local
// S3 of the uploads.
const Ports = 4

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
	// AuthToken is the simulated Twilio account's auth token; empty means
	// the one kept in the data directory (AccountFileName), made at random
	// on first use. AccountSID likewise. A value given here is used for
	// this run and not stored.
	AuthToken  string
	AccountSID string
	// UserNumber is the simulated phone's number and TwilioNumber the
	// number it texts; empty means phone.DefaultUserNumber and
	// phone.DefaultTwilioNumber. With Cloud and both set to real numbers,
	// replies also go out as real SMS through Twilio.
	UserNumber   string
	TwilioNumber string
	// Wikipedia looks biographies up on Wikipedia even offline, after the
	// data directory's bio.LocalFileName; it is the only network call an
	// offline system then makes. Offline without it, the system makes none.
	// With Cloud, Wikipedia is always asked.
	Wikipedia bool
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
	// Exposed is true when the system listens beyond loopback (on all
	// interfaces); External then lists where other machines may reach it,
	// one entry per address of this machine.
	Exposed  bool
	External []Endpoints

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

// Endpoints are the URLs of the system's three servers at one address.
type Endpoints struct {
	Gateway, Phone, Labeler string
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
		return nil, fmt.Errorf("host %q: listen on a loopback address (127.0.0.1, ::1) or on all interfaces (0.0.0.0, ::)", opts.Host)
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
	if opts.AccountSID == "" || opts.AuthToken == "" {
		stored, err := loadAccount(opts.DataDir)
		if err != nil {
			return nil, err
		}
		opts.AccountSID = cmp.Or(opts.AccountSID, stored.AccountSID)
		opts.AuthToken = cmp.Or(opts.AuthToken, stored.AuthToken)
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
		biographies := "biographies from " + bio.LocalFileName + " in the data directory (no network call at all)."
		if opts.Wikipedia {
			biographies = "biographies from " + bio.LocalFileName + ", then Wikipedia (--wikipedia)."
		}
		s.notes = append(s.notes, "Offline engines: faces from the data directory, labels computed from the pixels,",
			"  "+biographies, "  GET /detect without imageUri labels "+samplePath+".")
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
	if beyondLoopback(opts.Host) {
		s.Exposed = true
		for _, ip := range externalIPs(strings.Contains(opts.Host, ":")) {
			at := func(ln net.Listener) string {
				return "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
			}
			s.External = append(s.External, Endpoints{Gateway: at(gatewayLn), Phone: at(phoneLn), Labeler: at(labelerLn)})
		}
	}
	if err := s.startPrivateLink(opts); err != nil {
		return nil, err
	}

	s.Bus = bus.New(bus.Config{RetryDelays: opts.RetryDelays, DuplicateDeliveries: opts.DuplicateDeliveries, Describe: describeMessage}, opts.Logger.With("component", "sns"))
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
	if err := s.createDefaultCollection(ctx, opts, eng.faces); err != nil {
		return nil, err
	}
	if opts.editEngines != nil {
		opts.editEngines(eng)
	}
	gw := gateway.New(gateway.Config{Hosts: hostHeaders(opts.Host, gatewayLn.Addr().(*net.TCPAddr).Port)},
		opts.Logger.With("component", "gateway"))
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
	s.gatewaySrv = s.serve(gatewayLn, observeWebhooks(gw, sim))
	console := http.NewServeMux()
	console.HandleFunc("GET "+samplePath, serveSample)
	s.uploads.routes(console)
	console.HandleFunc("GET /api/collections", serveCollections(eng.lister, sim, opts.Prefix))
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
