package dev

import (
	"fmt"
	"net/http"

	"github.com/crossfaas/crossfaas/functions/proxy"
	"github.com/crossfaas/crossfaas/internal/dev/privatelink"
)

// Values of Options.LabelerAccess, as crossfaas:labelerAccess takes them.
const (
	// LabelerPrivate puts the labeler behind a local Cloud Run front that
	// admits only the proxy's ID tokens, got through a local workload
	// identity federation chain (package privatelink). The default.
	LabelerPrivate = "private"
	// LabelerPublic lets anyone call the labeler, as a stack with
	// crossfaas:labelerAccess public does.
	LabelerPublic = "public"
)

// startPrivateLink starts the local private link unless opts make the
// labeler public.
func (s *System) startPrivateLink(opts Options) error {
	switch opts.LabelerAccess {
	case "", LabelerPrivate:
	case LabelerPublic:
		s.notes = append(s.notes, "The labeler is public (--labeler-access public): anyone may call it, as with crossfaas:labelerAccess public.")
		return nil
	default:
		return fmt.Errorf("labeler access %q: use %s or %s", opts.LabelerAccess, LabelerPrivate, LabelerPublic)
	}
	link, err := privatelink.Start(opts.Prefix, s.LabelerURL)
	if err != nil {
		return err
	}
	s.link = link
	s.closers = append(s.closers, link.Close)
	s.notes = append(s.notes, "The labeler is private, as deployed: only the proxy's ID tokens (local STS and IAM Credentials,",
		"  account "+link.Caller()+") get through; a direct call gets 403. --labeler-access public opens it.")
	return nil
}

// labelerClient returns the client the proxy calls the labeler with:
// authenticated through the private link, if there is one.
func (s *System) labelerClient() *http.Client {
	if s.link == nil {
		return proxy.NewClient()
	}
	return s.link.ProxyClient()
}

// guardLabeler returns labeler as callers reach it: behind the private
// link's Cloud Run front, if there is one.
func (s *System) guardLabeler(labeler http.Handler) http.Handler {
	if s.link == nil {
		return labeler
	}
	return s.link.Guard(labeler)
}
