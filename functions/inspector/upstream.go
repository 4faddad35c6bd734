// Calling the labeler with the image's bytes.

package inspector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/crossfaas/crossfaas/federation"
	"github.com/crossfaas/crossfaas/functions/labeler/imageformat"
)

// maxReplyBytes bounds the labeler's reply: labels and their translations
// are a few KiB.
const maxReplyBytes = 1 << 20

// labelerReply is the part of the labeler's JSON reply the inspector uses
// (see functions/labeler's Response).
type labelerReply struct {
	Engine            string      `json:"engine"`
	EngineNote        string      `json:"engineNote"`
	Labels            []Label     `json:"labels"`
	SafeSearch        *SafeSearch `json:"safeSearch"`
	Languages         []string    `json:"languages"`
	TranslationEngine string      `json:"translationEngine"`
	TranslationNote   string      `json:"translationNote"`
	Error             string      `json:"error"`
}

// label posts the image's bytes to the labeler. An answer that the image
// itself is refused (413, 415, 422) is a rejection; anything else that is
// not a 200 with JSON is an error worth retrying and then dead-lettering:
// the private link or the labeler failing, 401 and 403 included (new IAM
// bindings take minutes to propagate), and 400, which after the
// inspector's own checks means a misconfiguration (a language the labeler
// does not enable).
func (h *Handler) label(ctx context.Context, data []byte, format string) (*labelerReply, error) {
	budget := 29 * time.Second
	if deadline, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(deadline)-labelerMargin)
	}
	if budget <= 0 {
		return nil, errors.New("label: no time left to call the labeler")
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()

	target := *h.cfg.LabelerURL
	if len(h.cfg.Languages) > 0 {
		q := target.Query()
		q.Set("languages", strings.Join(h.cfg.Languages, ","))
		target.RawQuery = q.Encode()
	}
	// http.NewRequest sets GetBody for a bytes.Reader: the transport can
	// send it again after a 401, without another copy of the image.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("label: %w", err)
	}
	req.Header.Set("Content-Type", imageformat.ContentType(format))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "crossfaas-inspector")
	start := time.Now()
	resp, err := h.labeler.Do(req)
	if err != nil {
		var fedErr *federation.Error
		if errors.As(err, &fedErr) {
			return nil, fmt.Errorf("label: the private link gave no identity token: %w", fedErr)
		}
		return nil, fmt.Errorf("label: call the labeler: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("label: read the labeler's reply (HTTP %d): %w", resp.StatusCode, err)
	}
	h.logger.DebugContext(ctx, "labeler answered", "status", resp.StatusCode, "latencyMs", time.Since(start).Milliseconds())
	if len(body) > maxReplyBytes {
		return nil, fmt.Errorf("label: the labeler's reply is over %d bytes", maxReplyBytes)
	}
	var reply labelerReply
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	isJSON := mediaType == "application/json" && json.Unmarshal(body, &reply) == nil
	switch {
	case resp.StatusCode == http.StatusOK && isJSON:
		return &reply, nil
	case isJSON && reply.Error != "" && refusesImage(resp.StatusCode):
		return nil, reject("the labeler refused the image (HTTP %d): %s", resp.StatusCode, reply.Error)
	case isJSON && reply.Error != "":
		return nil, fmt.Errorf("label: the labeler answered HTTP %d: %s", resp.StatusCode, reply.Error)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("label: the labeler refused the inspector's identity (HTTP %d): its invoker binding or the workload identity provider's condition is wrong, or IAM is still propagating", resp.StatusCode)
	default:
		return nil, fmt.Errorf("label: the labeler answered HTTP %d without a JSON reply", resp.StatusCode)
	}
}

// refusesImage reports whether a labeler status says the image itself is
// the problem, which no retry changes.
func refusesImage(status int) bool {
	switch status {
	case http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		return true
	}
	return false
}
