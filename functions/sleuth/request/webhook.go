package request

import (
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// maxBodyBytes caps the decoded webhook body. Twilio's SMS webhooks are a
// few kilobytes (a message body is at most 1600 characters).
const maxBodyBytes = 64 << 10

// maxMedia is the most attachments Twilio reports on one message.
const maxMedia = 10

// httpError is a request the handler refuses, with the status and the
// plain-text explanation to answer with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// header returns the value of the header name, matched case-insensitively
// (API Gateway lower-cases names; other callers may not).
func header(headers map[string]string, name string) string {
	if v, ok := headers[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// decodeWebhook returns the form parameters of a Twilio webhook event: the
// body, base64-decoded when the event says so, must be
// application/x-www-form-urlencoded, at most maxBodyBytes, with no
// parameter given twice (Twilio never repeats one, and the signature check
// sees one value per name). Errors are *httpError with a 4xx status.
func decodeWebhook(ev events.APIGatewayV2HTTPRequest) (map[string]string, error) {
	ct := header(ev.Headers, "Content-Type")
	mediaType, _, err := mime.ParseMediaType(ct)
	if err != nil || mediaType != "application/x-www-form-urlencoded" {
		return nil, errorf(http.StatusUnsupportedMediaType,
			"content type %q is not supported: want application/x-www-form-urlencoded", ct)
	}
	body := ev.Body
	if ev.IsBase64Encoded {
		if base64.StdEncoding.DecodedLen(len(body)) > maxBodyBytes+3 {
			return nil, errorf(http.StatusRequestEntityTooLarge, "body is larger than %d bytes", maxBodyBytes)
		}
		raw, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "body is not valid base64 although isBase64Encoded is set")
		}
		body = string(raw)
	}
	if len(body) > maxBodyBytes {
		return nil, errorf(http.StatusRequestEntityTooLarge, "body is larger than %d bytes", maxBodyBytes)
	}
	form, err := url.ParseQuery(body)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "body is not a valid form: %v", err)
	}
	params := make(map[string]string, len(form))
	for name, values := range form {
		if len(values) > 1 {
			return nil, errorf(http.StatusBadRequest, "form parameter %q is repeated", name)
		}
		params[name] = values[0]
	}
	return params, nil
}

// media is one attachment of an SMS.
type media struct {
	URL         string
	ContentType string
}

// inbound is the part of an SMS webhook the handler uses.
type inbound struct {
	MessageSid string
	From       string // the user
	To         string // our Twilio number
	Body       string
	Media      []media
}

// contentTypes returns the media types of the attachments, in order.
func (m inbound) contentTypes() []string {
	types := make([]string, len(m.Media))
	for i, a := range m.Media {
		types[i] = a.ContentType
	}
	return types
}

// parseInbound extracts the SMS from verified webhook parameters. Twilio
// always sends MessageSid, From and To, and MediaUrlN with
// MediaContentTypeN for each of NumMedia attachments; a request without
// them is not an SMS webhook. Errors are *httpError with status 400.
func parseInbound(params map[string]string) (inbound, error) {
	m := inbound{
		MessageSid: params["MessageSid"],
		From:       params["From"],
		To:         params["To"],
		Body:       params["Body"],
	}
	for name, v := range map[string]string{"MessageSid": m.MessageSid, "From": m.From, "To": m.To} {
		if v == "" {
			return inbound{}, errorf(http.StatusBadRequest, "parameter %s is missing", name)
		}
	}
	n := 0
	if raw, ok := params["NumMedia"]; ok {
		var err error
		n, err = strconv.Atoi(raw)
		if err != nil || n < 0 || n > maxMedia {
			return inbound{}, errorf(http.StatusBadRequest, "parameter NumMedia is %q: want 0 to %d", raw, maxMedia)
		}
	}
	for i := range n {
		a := media{URL: params["MediaUrl"+strconv.Itoa(i)], ContentType: params["MediaContentType"+strconv.Itoa(i)]}
		if a.URL == "" {
			return inbound{}, errorf(http.StatusBadRequest, "parameter MediaUrl%d is missing (NumMedia is %d)", i, n)
		}
		m.Media = append(m.Media, a)
	}
	return m, nil
}

// rebuildURL returns the public URL of the request ev describes, the URL
// Twilio signs: scheme ("https" when empty) + "://" + domain name + path +
// ("?" + query). A named
// stage is part of the URL (https://host/prod/sms); API Gateway already puts
// it at the start of rawPath, so it is added only when rawPath lacks it.
// The $default stage is served at the root and adds nothing.
func rebuildURL(ev events.APIGatewayV2HTTPRequest, scheme string) (string, error) {
	if scheme == "" {
		scheme = "https"
	}
	rc := ev.RequestContext
	if rc.DomainName == "" {
		return "", fmt.Errorf("event has no requestContext.domainName to rebuild the URL from")
	}
	path := ev.RawPath
	if path == "" {
		path = rc.HTTP.Path
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if stage := rc.Stage; stage != "" && stage != "$default" {
		prefix := "/" + stage
		if path != prefix && !strings.HasPrefix(path, prefix+"/") {
			path = prefix + path
		}
	}
	u := scheme + "://" + rc.DomainName + path
	if ev.RawQueryString != "" {
		u += "?" + ev.RawQueryString
	}
	return u, nil
}
