package googleauthfake

import (
	"fmt"
	"html"
	"net/http"
	"strings"
)

// Front returns next behind the check Cloud Run makes in front of a service
// that does not allow unauthenticated invocations. A request passes with an
// "Authorization: Bearer <ID token>" whose token is signed by the issuer,
// names Google as its issuer, is not expired, has aud audience (the service
// URL, with or without a trailing slash) and carries the email of invoker,
// the one account holding roles/run.invoker. Otherwise it gets Cloud Run's
// answer, an HTML page: 403 without a token or for another account, 401 for
// a token that does not verify (signature, issuer, audience, expiry). The
// Authorization header is removed before next sees the request, so the
// service never holds the token. Why each request was refused is kept for
// Rejections.
func (g *Google) Front(audience, invoker string, next http.Handler) http.Handler {
	audience = strings.TrimSuffix(audience, "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || strings.TrimSpace(bearer) == "" {
			g.refuse(w, r, http.StatusForbidden, "no bearer token")
			return
		}
		claims, err := g.verify(strings.TrimSpace(bearer), g.cfg.Now())
		switch {
		case err != nil:
			g.refuse(w, r, http.StatusUnauthorized, "token: "+err.Error())
			return
		case strings.TrimSuffix(claims.Aud, "/") != audience:
			g.refuse(w, r, http.StatusUnauthorized, fmt.Sprintf("token audience %q is not %q", claims.Aud, audience))
			return
		case claims.Email != invoker || !claims.EmailVerified:
			g.refuse(w, r, http.StatusForbidden, fmt.Sprintf("%q holds no roles/run.invoker", claims.Email))
			return
		}
		r = r.Clone(r.Context())
		r.Header.Del("Authorization")
		next.ServeHTTP(w, r)
	})
}

// refuse answers as Google's front does and records why.
func (g *Google) refuse(w http.ResponseWriter, r *http.Request, status int, why string) {
	g.mu.Lock()
	g.rejections = append(g.rejections, fmt.Sprintf("%d %s", status, why))
	g.mu.Unlock()
	title, detail := "Forbidden", "Your client does not have permission to get URL <code>"+html.EscapeString(r.URL.Path)+"</code> from this server."
	if status == http.StatusUnauthorized {
		title, detail = "Unauthorized", "Your client does not have permission to the requested URL <code>"+html.EscapeString(r.URL.Path)+"</code>."
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token" error_description="The access token could not be verified"`)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<html><head>\n<meta http-equiv=\"content-type\" content=\"text/html;charset=utf-8\">\n"+
		"<title>%d %s</title>\n</head>\n<body text=#000000 bgcolor=#ffffff>\n<h1>Error: %s</h1>\n<h2>%s</h2>\n<h2></h2>\n</body></html>\n",
		status, title, title, detail)
}
