package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/crossfaas/crossfaas/functions/labeler"
	"github.com/crossfaas/crossfaas/internal/dev"
	"github.com/crossfaas/crossfaas/internal/dev/devlog"
)

func init() {
	register("dev", command{
		summary:  "run the whole system on this machine, offline, with a phone simulator",
		synopsis: "[--port 8787] [--data dir] [--cloud] [flags]",
		run:      runDev,
	})
}

// runDev starts the local system, prints where everything is to stdout and
// then logs every hop to stderr (after the banner: nothing is logged
// before it) until ctx ends (Ctrl-C). The labeler is
// served through functions-framework-go, as Cloud Functions serves it; its
// server cannot be stopped and lives until the process exits, right after
// runDev returns. So runDev runs at most once per process.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dev", stdout)
	host := fs.String("host", "127.0.0.1", "listen on `interface` (the default keeps everything on this machine)")
	port := fs.Int("port", dev.DefaultPort, "base `port`: the gateway listens on it, the phone simulator on port+1, the labeler on port+2, the local S3 on port+3; 0 picks free ports")
	data := fs.String("data", "", "keep the offline face database in `dir` (default <repo>/.crossfaas/dev, or $XDG_DATA_HOME/crossfaas outside a checkout)")
	cloud := fs.Bool("cloud", false, "use Rekognition, Cloud Vision, Wikipedia and Twilio with your own credentials (AWS default chain, GCP ADC, TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN)")
	wiki := fs.Bool("wikipedia", false, "offline, look biographies up on Wikipedia too (its only network call); without it an offline run makes none, and biographies come from biographies.json in the data directory")
	duplicates := fs.Bool("duplicate-deliveries", false, "deliver every SNS message twice, as SNS sometimes does, to exercise idempotency")
	retryDelay := fs.Duration("retry-delay", dev.DefaultRetryDelays[0], "wait before the first retry of a failed asynchronous invocation (the second waits twice as long; Lambda waits 1m and 2m)")
	authToken := fs.String("auth-token", "", "the simulated Twilio account's auth token for this run (default: the one kept in the data directory, made at random on first use; shown in the banner and on the page)")
	userNumber := fs.String("phone", "", "the simulated phone's number, E.164 (default +15555550100; with --cloud, your phone)")
	twilioNumber := fs.String("twilio-number", "", "the number the phone texts, E.164 (default +15555550199; with --cloud, your Twilio number)")
	prefix := fs.String("prefix", dev.DefaultPrefix, "namespace `prefix` of function, topic and (with --cloud) Rekognition collection names, like a stack's <project>-<stack>")
	threshold := fs.Float64("threshold", 0, "minimum similarity of a face match, 0-100 (default the handlers' 85)")
	labelerAccess := fs.String("labeler-access", dev.LabelerPrivate, "`private`: the labeler admits only the proxy's ID tokens, as deployed; public: anyone may call it")
	action := fs.String("safe-search-action", "quarantine", "what the upload inspector does with an unsafe image, as crossfaas:safeSearchAction: `quarantine`, blur or tag")
	languages := fs.String("label-languages", "", "translate the uploads' labels into these `languages` (comma-separated, e.g. es,fr; offline there is no translation, and results say so)")
	uploadMax := fs.Int("upload-max-mib", dev.DefaultUploadMaxMiB, "the largest upload inspected, in `MiB` (crossfaas:uploadMaxMiB)")
	verbose := fs.Bool("v", false, "log every record, debug ones included, with all their attributes")
	logFormat := fs.String("log-format", "human", "`format` of the logs on stderr: human (one line per hop: time, function, MessageSid, what happened) or json (every record, as the clouds' log services keep them)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	if *port < 0 || *port > 65535-3 {
		return usageErrorf("--port %d is not a port number from 1 to 65532 (or 0 for free ports)", *port)
	}
	switch *action {
	case "quarantine", "blur", "tag":
	default:
		return usageErrorf("--safe-search-action %q: use quarantine, blur or tag", *action)
	}
	langs, err := labeler.ParseLanguages(*languages)
	if err != nil {
		return usageErrorf("--label-languages: %v", err)
	}
	if *uploadMax < 1 || *uploadMax > 19 {
		return usageErrorf("--upload-max-mib %d is not from 1 to 19", *uploadMax)
	}
	if *retryDelay < 0 {
		return usageErrorf("--retry-delay %v is negative", *retryDelay)
	}
	if !validPrefix(*prefix) {
		return usageErrorf("--prefix %q must be 1 to 40 lower-case letters, digits and dashes, starting with a letter", *prefix)
	}
	if *threshold < 0 || *threshold > 100 {
		return usageErrorf("--threshold %v is not between 0 and 100", *threshold)
	}
	if *labelerAccess != dev.LabelerPrivate && *labelerAccess != dev.LabelerPublic {
		return usageErrorf("--labeler-access %q: use %s or %s", *labelerAccess, dev.LabelerPrivate, dev.LabelerPublic)
	}

	logs := &gate{w: stderr} // opened after the banner
	var handler slog.Handler
	switch *logFormat {
	case "human":
		handler = devlog.NewHandler(logs, devlog.Options{Verbose: *verbose, Prefix: *prefix + "-"})
	case "json":
		level := slog.LevelInfo
		if *verbose {
			level = slog.LevelDebug
		}
		handler = slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level})
	default:
		return usageErrorf("--log-format %q is not human or json", *logFormat)
	}
	opts := dev.Options{
		Host:                *host,
		Port:                *port,
		DataDir:             *data,
		Cloud:               *cloud,
		Wikipedia:           *wiki,
		DuplicateDeliveries: *duplicates,
		RetryDelays:         []time.Duration{*retryDelay, 2 * *retryDelay},
		AuthToken:           *authToken,
		UserNumber:          *userNumber,
		TwilioNumber:        *twilioNumber,
		MatchThreshold:      *threshold,
		Prefix:              *prefix,
		LabelerAccess:       *labelerAccess,
		UploadAction:        *action,
		LabelLanguages:      langs,
		UploadMaxMiB:        *uploadMax,
		FunctionsFramework:  true,
		Logger:              slog.New(handler),
	}
	if *port == 0 {
		opts.Port = -1 // free ports
	}
	sys, err := dev.Run(ctx, opts)
	if err != nil {
		logs.Open() // what led to the error, before it
		return err
	}
	sys.Banner(stdout)
	logs.Open()
	if err := sys.Wait(); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	fmt.Fprintln(stdout, "crossfaas dev: stopped.")
	return nil
}

// validPrefix reports whether p can prefix the names the local system (and,
// with --cloud, Rekognition) uses: what the stack allows for
// "<project>-<stack>".
func validPrefix(p string) bool {
	if len(p) == 0 || len(p) > 40 || p[0] < 'a' || p[0] > 'z' {
		return false
	}
	for _, r := range p {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}
