package federation

import (
	"net/http"
	"net/url"
)

// AudienceOf returns the audience of ID tokens for the service at u: its
// URL without query or fragment, which is what Cloud Run (and the
// cloudfunctions.net URL of a 2nd gen function) accepts as aud.
func AudienceOf(u *url.URL) string {
	a := *u
	a.RawQuery, a.ForceQuery, a.Fragment, a.RawFragment = "", false, "", ""
	return a.String()
}

// AuthenticatedClient returns a copy of base whose requests carry an ID
// token from tokens ("Authorization: Bearer ..."), as a caller of a private
// Cloud Run service must; see Transport. base itself is not changed; nil
// means a zero http.Client.
func AuthenticatedClient(base *http.Client, tokens *Source) *http.Client {
	c := &http.Client{}
	if base != nil {
		*c = *base
	}
	c.Transport = &Transport{Source: tokens, Base: c.Transport}
	return c
}
