package worker

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/command"
)

// The SMS texts. Plain ASCII keeps them in the GSM-7 alphabet, like the
// request handler's. Collection and person names are the user's own,
// validated by the request handler to [A-Za-z0-9_.-].
const (
	replyNoImage     = "Please attach a photo (JPEG or PNG) to the command."
	replyMediaType   = "Sorry, I can only read JPEG or PNG photos. Please send the photo as a JPEG or PNG."
	replyTooLarge    = "That photo is larger than 5 MB. Please send a smaller one."
	replyMediaHost   = "Sorry, I can only use a photo attached to your message."
	replyMediaGone   = "Sorry, I couldn't download the photo you sent: Twilio no longer has it. Please send it again."
	replyNoFace      = "I couldn't find a face in that photo. Please send a clear photo of one face."
	replyBadImage    = "Sorry, I couldn't read that image. Please send a clear JPEG or PNG photo."
	replyNoBio       = "No biography found."
	replyBioDown     = "(biography unavailable)"
	replySorryFailed = "Sorry, that failed. Please try again later."
)

func replyCreated(collection string) string {
	return "Collection " + collection + " was created."
}

func replyExists(collection string) string {
	return "Collection " + collection + " already exists."
}

func replyAdded(job sleuth.Job) string {
	return "Picture of " + displayName(job.Name) + " added to collection " + job.Collection + "."
}

func replyNotFound(collection string) string {
	return "Collection " + collection + " does not exist. Create it with: face addcol " + collection
}

func replyNoMatch(collection string, threshold float64) string {
	return "No face in collection " + collection + " matched with at least " +
		strconv.FormatFloat(threshold, 'f', -1, 64) + "% similarity."
}

// replyMatched is the match line; the biography (or a note on it) follows
// after a blank line.
func replyMatched(m sleuth.Match, bio string) string {
	return fmt.Sprintf("Face matched %s with %.1f%% similarity.\n\n%s", displayName(m.ExternalID), m.Similarity, bio)
}

// displayName is how a person's indexed name reads in a reply.
func displayName(name string) string {
	if d := command.DisplayName(name); d != "" {
		return d
	}
	return "someone without a name"
}

// userReply returns the reply for an error the user caused, and a short
// name of the outcome for the logs; ok is false for any other error (a
// failure to retry).
func userReply(job sleuth.Job, threshold float64, err error) (reply, result string, ok bool) {
	switch {
	case errors.Is(err, errNoImage):
		return replyNoImage, "no_image", true
	case errors.Is(err, sleuth.ErrMediaType):
		return replyMediaType, "media_type", true
	case errors.Is(err, sleuth.ErrMediaTooLarge):
		return replyTooLarge, "media_too_large", true
	case errors.Is(err, sleuth.ErrMediaHost):
		return replyMediaHost, "media_host", true
	case errors.Is(err, sleuth.ErrMediaUnavailable):
		return replyMediaGone, "media_unavailable", true
	case errors.Is(err, sleuth.ErrMediaRefused): // a refusal without its own text
		return replyMediaType, "media_refused", true
	case errors.Is(err, sleuth.ErrCollectionNotFound):
		return replyNotFound(job.Collection), "collection_not_found", true
	case errors.Is(err, sleuth.ErrNoFace):
		return replyNoFace, "no_face", true
	case errors.Is(err, sleuth.ErrNoMatch):
		return replyNoMatch(job.Collection, threshold), "no_match", true
	case errors.Is(err, sleuth.ErrBadImage):
		return replyBadImage, "bad_image", true
	}
	return "", "", false
}
