// Package privatelink runs the private link between the proxy and the
// labeler on one machine, for `crossfaas dev`: the chain the deployed stack
// builds with workload identity federation, against local stand-ins of
// Google's Security Token Service, IAM Credentials and ID token issuer
// (package googleauthfake).
//
// The local proxy signs its subject tokens with credentials of a local AWS
// role ("<prefix>-proxy" in the placeholder account 000000000000), and the
// upload inspector with those of "<prefix>-uploads-inspector", which only
// the local STS knows, and gets ID tokens of the local caller account
// "<prefix>-caller@crossfaas-local.iam.gserviceaccount.com" through the
// real token client (package federation). The labeler sits behind the
// check Cloud Run makes in front of a private service: a request without
// an ID token of that account for the labeler's URL gets 403 or 401 and
// never reaches it. Nothing leaves the machine.
package privatelink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/crossfaas/crossfaas/federation"
	"github.com/crossfaas/crossfaas/functions/proxy"
	"github.com/crossfaas/crossfaas/internal/googleauthfake"
)

// localAccount is the AWS account id of the local role: a placeholder that
// is no real account's.
const localAccount = "000000000000"

// localRegion is the region the local proxy signs for, as a Lambda signs
// for its own.
const localRegion = "us-east-1"

// Link is a running local private link.
type Link struct {
	google          *googleauthfake.Google
	tokens          *federation.Source // the proxy's
	inspectorTokens *federation.Source // the upload inspector's
	caller          string
	labelerURL      string
}

// Start starts the local Google services for the system named prefix whose
// labeler is served at labelerURL (the proxy's LABELER_URL).
func Start(prefix, labelerURL string) (*Link, error) {
	u, err := proxy.ParseLabelerURL(labelerURL)
	if err != nil {
		return nil, fmt.Errorf("private link: %w", err)
	}
	// Two local roles, as deployed: the proxy's and the upload inspector's.
	roleOf := func(name string) (string, googleauthfake.AWSIdentity) {
		role := "arn:aws:sts::" + localAccount + ":assumed-role/" + prefix + "-" + name
		return role, googleauthfake.AWSIdentity{
			AccessKeyID:     "ASIA" + strings.ToUpper(randomHex(8)),
			SecretAccessKey: randomHex(20),
			SessionToken:    randomHex(32),
			ARN:             role + "/" + prefix + "-" + name,
		}
	}
	proxyRole, proxyIdentity := roleOf("proxy")
	inspectorRole, inspectorIdentity := roleOf("uploads-inspector")
	caller := prefix + "-caller@crossfaas-local.iam.gserviceaccount.com"
	g, err := googleauthfake.Start(googleauthfake.Config{
		PoolID:         prefix + "-local",
		AWSRegion:      localRegion,
		Identities:     []googleauthfake.AWSIdentity{proxyIdentity, inspectorIdentity},
		AllowedRole:    proxyRole,
		AllowedRoles:   []string{inspectorRole},
		ServiceAccount: caller,
	})
	if err != nil {
		return nil, fmt.Errorf("private link: %w", err)
	}
	source := func(identity googleauthfake.AWSIdentity) (*federation.Source, error) {
		return federation.NewSource(federation.Options{
			Config:   g.CredentialConfig(),
			Audience: proxy.Audience(u),
			Credentials: func(context.Context) (federation.AWSCredentials, error) {
				return federation.AWSCredentials{AccessKeyID: identity.AccessKeyID, SecretAccessKey: identity.SecretAccessKey, SessionToken: identity.SessionToken}, nil
			},
			Region: localRegion,
			Client: proxy.NewClient(),
		})
	}
	tokens, err := source(proxyIdentity)
	if err != nil {
		g.Close()
		return nil, fmt.Errorf("private link: %w", err)
	}
	inspectorTokens, err := source(inspectorIdentity)
	if err != nil {
		g.Close()
		return nil, fmt.Errorf("private link: %w", err)
	}
	return &Link{google: g, tokens: tokens, inspectorTokens: inspectorTokens, caller: caller, labelerURL: proxy.Audience(u)}, nil
}

// InspectorClient returns the HTTP client the local upload inspector calls
// the labeler with: ID tokens of the caller account, got with the
// inspector's own role, as deployed.
func (l *Link) InspectorClient() *http.Client {
	return federation.AuthenticatedClient(proxy.NewClient(), l.inspectorTokens)
}

// ProxyClient returns the HTTP client the local proxy calls the labeler
// with: it authenticates every request with an ID token of the caller
// account, as the deployed proxy's client does.
func (l *Link) ProxyClient() *http.Client { return proxy.NewAuthenticatedClient(l.tokens) }

// Guard returns labeler behind the check Cloud Run makes in front of a
// private service.
func (l *Link) Guard(labeler http.Handler) http.Handler {
	return l.google.Front(l.labelerURL, l.caller, labeler)
}

// Caller returns the email of the account that alone may invoke the
// labeler.
func (l *Link) Caller() string { return l.caller }

// Google returns the local Google services (tests mint tokens with them).
func (l *Link) Google() *googleauthfake.Google { return l.google }

// Close stops the local Google services.
func (l *Link) Close() error {
	l.google.Close()
	return nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
