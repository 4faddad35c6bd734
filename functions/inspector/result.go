// The result of an inspection: the sidecar's document, the verdict rule
// and the object tags.

package inspector

import (
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/crossfaas/crossfaas/functions/labeler/annotation"
)

// Verdicts.
const (
	// VerdictSafe: SafeSearch found nothing likely.
	VerdictSafe = "safe"
	// VerdictUnsafe: adult or violent content is LIKELY or VERY_LIKELY, or
	// racy content VERY_LIKELY.
	VerdictUnsafe = "unsafe"
	// VerdictUnknown: the engine has no SafeSearch (crossfaas dev's
	// offline engine); nothing is moved or blurred.
	VerdictUnknown = "unknown"
	// VerdictRejected: not an image the inspector takes (see Reason).
	VerdictRejected = "rejected"
)

// States of a sidecar.
const (
	// StateActing: the verdict is known and its action is under way.
	StateActing = "acting"
	// StateDone: everything is done.
	StateDone = "done"
)

// Result is the record of one version, results/<name>.json.versions/<id>,
// and the sidecar results/<name>.json (the newest version's record).
type Result struct {
	Bucket    string `json:"bucket"`
	Key       string `json:"key"` // the uploaded key, incoming/<name>
	VersionID string `json:"versionId,omitempty"`
	ETag      string `json:"eTag,omitempty"`
	Sequencer string `json:"sequencer,omitempty"`
	Size      int64  `json:"size"`

	State   string `json:"state"`
	Verdict string `json:"verdict"`
	// Reason explains a rejected, unsafe or unknown verdict.
	Reason string `json:"reason,omitempty"`
	// Action is what the verdict called for: quarantine, blur, tag, or none.
	Action string `json:"action"`
	// QuarantineKey and PublicKey are where the original and its blurred
	// copy went.
	QuarantineKey string `json:"quarantineKey,omitempty"`
	PublicKey     string `json:"publicKey,omitempty"`
	// QuarantineCopied says the original's copy in quarantine/ is made
	// (and the blurred copy before it); QuarantineVersionID is that copy's
	// version. Only then may the original be deleted, and only then is the
	// original missing on a later delivery a finished move.
	QuarantineCopied    bool   `json:"quarantineCopied,omitempty"`
	QuarantineVersionID string `json:"quarantineVersionId,omitempty"`

	Image *ImageFacts `json:"image,omitempty"`

	Engine            string      `json:"engine,omitempty"`
	EngineNote        string      `json:"engineNote,omitempty"`
	Labels            []Label     `json:"labels,omitempty"`
	SafeSearch        *SafeSearch `json:"safeSearch,omitempty"`
	Languages         []string    `json:"languages,omitempty"`
	TranslationEngine string      `json:"translationEngine,omitempty"`
	TranslationNote   string      `json:"translationNote,omitempty"`
	// Note says anything else worth knowing.
	Note string `json:"note,omitempty"`

	InspectedAt time.Time  `json:"inspectedAt"`
	CompletedAt *time.Time `json:"completedAt,omitempty"`
}

// ImageFacts are what the inspector read from the image itself.
type ImageFacts struct {
	Format string `json:"format"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

// Label is one label with its score and translations, as the labeler
// answers it (annotation.Label).
type Label = annotation.Label

// SafeSearch holds Vision's likelihood names (VERY_UNLIKELY ...
// VERY_LIKELY, UNKNOWN) per category, as the labeler answers them
// (annotation.SafeSearch).
type SafeSearch = annotation.SafeSearch

// sameObject reports whether r is the result of the object version o.
func (r *Result) sameObject(o object) bool {
	if r.Bucket != o.bucket || r.Key != o.key {
		return false
	}
	if o.version != "" || r.VersionID != "" {
		return r.VersionID == o.version
	}
	return r.ETag == o.etag && r.Sequencer == o.sequencer
}

// Judge returns the verdict of a SafeSearch estimate and its reason: adult
// and violence count from LIKELY, racy only at VERY_LIKELY (swimwear is
// often LIKELY racy); spoof and medical are reported, not judged. A nil
// estimate is VerdictUnknown.
func Judge(ss *SafeSearch) (verdict, reason string) {
	if ss == nil {
		return VerdictUnknown, "no SafeSearch estimate: the labeler's engine has none, so nothing was moved or blurred"
	}
	likely := func(l string) bool { return l == "LIKELY" || l == "VERY_LIKELY" }
	var why []string
	if likely(ss.Adult) {
		why = append(why, "adult is "+ss.Adult)
	}
	if likely(ss.Violence) {
		why = append(why, "violence is "+ss.Violence)
	}
	if ss.Racy == "VERY_LIKELY" {
		why = append(why, "racy is "+ss.Racy)
	}
	if len(why) > 0 {
		return VerdictUnsafe, strings.Join(why, ", ")
	}
	return VerdictSafe, ""
}

// actionFor returns what a verdict calls for under the configured action:
// the action for an unsafe image, "none" otherwise (the tags are written
// in any case).
func actionFor(verdict, configured string) string {
	if verdict == VerdictUnsafe {
		return configured
	}
	return "none"
}

// Tag keys the inspector writes; the user's own tags are kept beside them.
const (
	TagVerdict = "crossfaas:verdict"
	TagReason  = "crossfaas:reason"
	TagLabels  = "crossfaas:labels"
	TagEngine  = "crossfaas:engine"
)

// S3's limits on tags.
const (
	maxTags        = 10
	maxTagValueLen = 256
)

// tagsFor returns the object's tags: the user's existing ones (any not
// starting with "crossfaas:") followed by the inspector's, in order of
// importance, as many as fit S3's 10 (the user's are kept first; the
// verdict always fits, replacing the user's last tag if it must).
func tagsFor(r *Result, existing [][2]string) [][2]string {
	ours := [][2]string{{TagVerdict, r.Verdict}}
	if r.Reason != "" && r.Verdict != VerdictSafe {
		ours = append(ours, [2]string{TagReason, tagValue(r.Reason)})
	}
	if len(r.Labels) > 0 {
		var top []string
		for _, l := range r.Labels[:min(3, len(r.Labels))] {
			if v := tagValue(l.Description); v != "" {
				top = append(top, v)
			}
		}
		ours = append(ours, [2]string{TagLabels, tagValue(strings.Join(top, " / "))})
	}
	if r.Engine != "" {
		ours = append(ours, [2]string{TagEngine, tagValue(r.Engine)})
	}
	var user [][2]string
	for _, t := range existing {
		if !strings.HasPrefix(t[0], "crossfaas:") {
			user = append(user, t)
		}
	}
	if len(user) >= maxTags {
		user = user[:maxTags-1]
	}
	out := slices.Clone(user)
	for _, t := range ours {
		if len(out) < maxTags {
			out = append(out, t)
		}
	}
	return out
}

// tagValue makes s a valid S3 tag value: letters, digits, spaces and
// + - = . _ : / @ only (anything else becomes a space), at most 256
// characters.
func tagValue(s string) string {
	clean := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == ' ' || strings.ContainsRune("+-=._:/@", r) {
			return r
		}
		return ' '
	}, s)
	clean = strings.Join(strings.Fields(clean), " ")
	if r := []rune(clean); len(r) > maxTagValueLen {
		clean = string(r[:maxTagValueLen])
	}
	return clean
}
