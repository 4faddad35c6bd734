package dev

import (
	"fmt"
	"io"
)

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
	if s.Exposed {
		fmt.Fprint(w, `
  WARNING: listening on all interfaces. Anyone who can reach this machine can text the
  bot, read the phone's thread, sign webhooks with the token above and have the labeler
  fetch public URLs (it refuses private, loopback and link-local addresses meanwhile).
`)
		if len(s.External) == 0 {
			fmt.Fprintln(w, "  No address of this machine's interfaces was found: other machines may reach it by name only.")
		}
		for _, e := range s.External {
			fmt.Fprintf(w, "  Reachable at      %s (phone), %s (gateway), %s (labeler)\n", e.Phone, e.Gateway, e.Labeler)
		}
	}
	if len(s.notes) > 0 {
		fmt.Fprintln(w)
	}
	for _, n := range s.notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
	fmt.Fprint(w, "\nOpen the phone simulator and text \"help\". Ctrl-C stops everything.\n\n")
}
