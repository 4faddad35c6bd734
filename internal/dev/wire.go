package dev

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/crossfaas/crossfaas/functions/proxy"
	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/request"
	"github.com/crossfaas/crossfaas/functions/sleuth/worker"
	"github.com/crossfaas/crossfaas/internal/dev/gateway"
	"github.com/crossfaas/crossfaas/internal/dev/lambdaemu"
	"github.com/crossfaas/crossfaas/internal/dev/ledger"
)

// Function timeouts, as the stack configures them.
const (
	proxyTimeout   = 30 * time.Second
	requestTimeout = 10 * time.Second
	workerTimeout  = 60 * time.Second
)

// wire builds the handlers as the stack does, with the configuration the
// stack puts in their environment, and routes the gateway and the topics
// to them.
func wire(opts Options, s *System, eng *engines, gw *gateway.Gateway) error {
	name := func(handler string) string { return opts.Prefix + "-" + handler }
	logger := func(function string) *slog.Logger { return opts.Logger.With("function", function) }

	// The proxy, GET /detect; LABELER_URL is the labeler's URL.
	labelerURL, err := proxy.ParseLabelerURL(s.LabelerURL)
	if err != nil {
		return fmt.Errorf("%s: %w", proxy.EnvLabelerURL, err)
	}
	px := proxy.New(proxy.Config{LabelerURL: labelerURL}, s.labelerClient(), logger(name("proxy")))
	if err := gw.Route("GET "+proxy.Route, lambdaemu.NewFunction(name("proxy"), px.Handle, proxyTimeout)); err != nil {
		return err
	}

	// The sleuth: one topic per command, one for the replies.
	topics := map[sleuth.Verb]string{
		sleuth.VerbAddCollection: s.Bus.CreateTopic(name(sleuth.HandlerAddCollection)),
		sleuth.VerbAddImage:      s.Bus.CreateTopic(name(sleuth.HandlerAddImage)),
		sleuth.VerbMatch:         s.Bus.CreateTopic(name(sleuth.HandlerMatch)),
	}
	responses := s.Bus.CreateTopic(name("responses"))

	// POST /sms. The handler checks the signature against the URL the
	// client used, rebuilt from the event as in the cloud: the gateway
	// only serves its own host names (localhost, 127.0.0.1, ...), and it
	// serves them over plain http.
	req := request.New(request.Config{Topics: topics, URLScheme: "http"}, request.Deps{
		Publisher: expectingPublisher{Publisher: s.Bus, sim: s.Phone},
		AuthToken: s.AuthToken,
		Logger:    logger(name(sleuth.HandlerRequest)),
	})
	if err := gw.Route("POST /sms", lambdaemu.NewFunction(name(sleuth.HandlerRequest), req.Handle, requestTimeout)); err != nil {
		return err
	}

	idempotency := ledger.NewMemory(0, nil)
	threshold := opts.MatchThreshold
	if threshold == 0 {
		threshold = worker.DefaultThreshold
	}
	cfg := worker.Config{Prefix: opts.Prefix, ResponsesTopicARN: responses, Threshold: threshold}

	// The command functions' on-failure destination is a topic; the
	// failure function, subscribed to it, apologises to the user.
	failures := s.Bus.CreateTopic(name("failures"))
	failure, err := failureFunction(name(sleuth.HandlerFailure), eng, idempotency, logger(name(sleuth.HandlerFailure)))
	if err != nil {
		return err
	}
	if err := s.Bus.Subscribe(failures, failure, ""); err != nil {
		return err
	}
	for _, c := range []struct {
		handler string
		verb    sleuth.Verb
		deps    worker.Deps
	}{
		// Each function gets what its handler uses, like its IAM role.
		{sleuth.HandlerAddCollection, sleuth.VerbAddCollection, worker.Deps{}},
		{sleuth.HandlerAddImage, sleuth.VerbAddImage, worker.Deps{Media: eng.media}},
		{sleuth.HandlerMatch, sleuth.VerbMatch, worker.Deps{Media: eng.media, Biographies: eng.bios}},
	} {
		c.deps.Faces, c.deps.Publisher, c.deps.Ledger = eng.faces, s.Bus, idempotency
		c.deps.Logger = logger(name(c.handler))
		w, err := worker.New(cfg, c.deps)
		if err != nil {
			return fmt.Errorf("%s: %w", name(c.handler), err)
		}
		fn := lambdaemu.NewFunction(name(c.handler), w.HandleSNS, workerTimeout)
		if err := s.Bus.Subscribe(topics[c.verb], fn, failures); err != nil {
			return err
		}
	}

	respond, err := respondFunction(name(sleuth.HandlerRespond), eng, idempotency, logger(name(sleuth.HandlerRespond)))
	if err != nil {
		return err
	}
	return s.Bus.Subscribe(responses, respond, "")
}
