package dev

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	awsrekognition "github.com/aws/aws-sdk-go-v2/service/rekognition"

	"github.com/crossfaas/crossfaas/functions/labeler"
	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/rekognition"
	"github.com/crossfaas/crossfaas/functions/sleuth/twilio"
	"github.com/crossfaas/crossfaas/functions/sleuth/wikipedia"
	"github.com/crossfaas/crossfaas/internal/dev/bio"
	"github.com/crossfaas/crossfaas/internal/dev/devlog"
	"github.com/crossfaas/crossfaas/internal/dev/phone"
	"github.com/crossfaas/crossfaas/internal/egress"
	"github.com/crossfaas/crossfaas/internal/offline/faces"
	"github.com/crossfaas/crossfaas/internal/offline/labels"
)

// Environment variables of the user's Twilio account, read with --cloud.
const (
	EnvTwilioAccountSID = "TWILIO_ACCOUNT_SID"
	EnvTwilioAuthToken  = "TWILIO_AUTH_TOKEN"
)

// engines are the services behind the handlers: offline stand-ins or the
// real clouds.
type engines struct {
	faces     sleuth.Faces
	lister    collectionLister // nil when the engine cannot list (Rekognition)
	bios      sleuth.Biographies
	media     sleuth.Media
	sms       sleuth.SMSSender
	annotator labeler.Annotator
	labeler   http.Handler // the labeler's handler, built on annotator
}

// openEngines builds the engines of opts's mode; what needs closing is
// added to s.closers.
func openEngines(ctx context.Context, opts Options, s *System) (*engines, error) {
	e := &engines{}
	log := opts.Logger

	// Photos always come from the phone simulator, which plays Twilio's API
	// host: media are fetched from it with the simulated account.
	media, err := twilio.NewMedia(twilio.Config{AccountSID: s.AccountSID, AuthToken: s.AuthToken, APIURL: s.PhoneURL}, []string{})
	if err != nil {
		return nil, fmt.Errorf("media fetcher: %w", err)
	}
	e.media = media

	// Replies go through the real Twilio client to the simulator's
	// Messages API, which puts them in the phone's thread.
	simSMS, err := twilio.NewSender(twilio.Config{
		AccountSID: s.AccountSID, AuthToken: s.AuthToken, APIURL: s.PhoneURL, Transport: phone.Transport(nil),
	})
	if err != nil {
		return nil, fmt.Errorf("SMS sender: %w", err)
	}
	e.sms = simSMS

	if !opts.Cloud {
		engine, err := faces.Open(opts.DataDir)
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, engine.Close)
		e.faces, e.lister = engine, engine
		// Offline means no network call at all: biographies come from a
		// file of the data directory, and from Wikipedia only when asked.
		var next sleuth.Biographies
		if opts.Wikipedia {
			wiki, err := wikipedia.New(opts.WikipediaURL, nil)
			if err != nil {
				return nil, err
			}
			next = bio.NewFallback(wiki, 0, nil, log.With("component", "biographies"))
		}
		e.bios = bio.NewLocal(filepath.Join(opts.DataDir, bio.LocalFileName), next)
		// The labeler fetches what it is asked to: never link-local,
		// metadata or non-unicast addresses, and no private or loopback
		// ones either once others can reach it. Its default image is
		// served in-process. The labeler's handler bounds each annotation,
		// the client bounds a stuck connection.
		client := egress.Policy{AllowPrivate: !beyondLoopback(opts.Host)}.Client(30 * time.Second)
		client.Transport = sampleTransport{url: s.PhoneURL + samplePath, next: client.Transport}
		e.annotator = labels.New(client)
		cfg := labelerConfig(opts)
		cfg.DefaultImageURI = s.PhoneURL + samplePath
		cfg.TranslationNote = OfflineTranslationNote
		e.labeler = labeler.NewHandler(e.annotator, cfg, labelerLogger(log, opts.Prefix))
		return e, nil
	}

	// Cheap checks first: a wrong environment fails before any client.
	sid, token := os.Getenv(EnvTwilioAccountSID), os.Getenv(EnvTwilioAuthToken)
	realNumbers := opts.UserNumber != "" && opts.TwilioNumber != ""
	switch {
	case sid == "" && token == "":
		s.notes = append(s.notes, "SMS replies stay in the phone simulator: set "+EnvTwilioAccountSID+" and "+EnvTwilioAuthToken+" to send them with Twilio.")
	case sid == "":
		return nil, fmt.Errorf("--cloud: %s is set but %s is not", EnvTwilioAuthToken, EnvTwilioAccountSID)
	case token == "":
		return nil, fmt.Errorf("--cloud: %s is set but %s is not", EnvTwilioAccountSID, EnvTwilioAuthToken)
	case !realNumbers:
		s.notes = append(s.notes, "SMS replies stay in the phone simulator: pass --phone and --twilio-number (your phone and your Twilio number) to send them with Twilio.")
	default:
		twilioSMS, err := twilio.NewSender(twilio.Config{AccountSID: sid, AuthToken: token})
		if err != nil {
			return nil, fmt.Errorf("--cloud: %s: %w", EnvTwilioAccountSID, err)
		}
		e.sms = tee{real: twilioSMS, mirror: simSMS}
		s.notes = append(s.notes, "SMS replies are sent with Twilio to "+opts.UserNumber+" and shown in the phone simulator.")
	}

	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("--cloud: load the AWS configuration (default credential chain): %w", err)
	}
	e.faces = rekognition.New(awsrekognition.NewFromConfig(awsCfg))
	wiki, err := wikipedia.New(opts.WikipediaURL, nil)
	if err != nil {
		return nil, err
	}
	e.bios = wiki
	vision, err := labeler.NewVisionAnnotator(ctx)
	if err != nil {
		return nil, fmt.Errorf("--cloud: Cloud Vision client (Application Default Credentials): %w", err)
	}
	s.closers = append(s.closers, vision.Close)
	e.annotator = vision
	cfg := labelerConfig(opts)
	if project := os.Getenv(labeler.EnvProject); len(opts.LabelLanguages) > 0 && project != "" {
		translator, err := labeler.NewCloudTranslator(ctx, project)
		if err != nil {
			return nil, fmt.Errorf("dev --cloud: Cloud Translation client (Application Default Credentials): %w", err)
		}
		s.closers = append(s.closers, translator.Close)
		cfg.Translator = labeler.NewTranslationCache(translator, 0)
	} else if len(opts.LabelLanguages) > 0 {
		cfg.TranslationNote = "translation needs " + labeler.EnvProject + " (the project whose Cloud Translation to use): the labels are not translated"
		s.notes = append(s.notes, "Labels are not translated: set "+labeler.EnvProject+" to use Cloud Translation.")
	}
	e.labeler = labeler.NewHandler(vision, cfg, labelerLogger(log, opts.Prefix))
	return e, nil
}

// OfflineTranslationNote is what the offline labeler answers a request
// for translations: there is no offline Cloud Translation.
const OfflineTranslationNote = "offline: Cloud Translation does not exist offline, so the labels are not translated (crossfaas dev --cloud translates them)"

// labelerConfig is the labeler's configuration the stack would set:
// the image limit and the enabled languages.
func labelerConfig(opts Options) labeler.Config {
	maxMiB := opts.UploadMaxMiB
	if maxMiB == 0 {
		maxMiB = DefaultUploadMaxMiB
	}
	return labeler.Config{MaxImageBytes: int64(maxMiB) << 20, Languages: opts.LabelLanguages}
}

// labelerLogger is the labeler's logger: its lines carry the function's
// name and, when funcframework serves it, each request's execution id. The
// labeler logs one line per request, which is its hop (package devlog).
func labelerLogger(log *slog.Logger, prefix string) *slog.Logger {
	return slog.New(executionIDs{log.Handler()}).With("function", prefix+"-labeler", devlog.Hop())
}

// tee sends an SMS for real, then shows it in the phone simulator.
type tee struct {
	real, mirror sleuth.SMSSender
}

func (t tee) Send(ctx context.Context, from, to, body string) (string, error) {
	sid, err := t.real.Send(ctx, from, to, body)
	if err != nil {
		return "", err
	}
	// The SMS is out; failing now would send it again on the retry.
	_, _ = t.mirror.Send(ctx, from, to, body)
	return sid, nil
}

// Sent finds the messages Twilio sent.
func (t tee) Sent(ctx context.Context, from, to, body string, since time.Time) ([]string, error) {
	return t.real.Sent(ctx, from, to, body, since)
}
