package lambdatest

import (
	"encoding/base64"
	"fmt"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// The account, API and domain HTTPEvent puts in its events.
const (
	EventAccountID  = "123456789012"
	EventAPIID      = "a1b2c3d4e5"
	EventDomainName = EventAPIID + ".execute-api.us-east-1.amazonaws.com"
	EventSourceIP   = "203.0.113.10" // TEST-NET-3, never routed
)

// eventSeq makes request ids unique within a test process.
var eventSeq atomic.Uint64

// HTTPEvent returns the event an API Gateway HTTP API (payload format 2.0,
// $default stage) sends to a Lambda integration for the request method
// rawPath?rawQuery with headers and body, shaped as AWS shapes it:
//
//   - header names are lower-cased; host, user-agent, x-amzn-trace-id and
//     x-forwarded-* are filled in unless headers sets them, content-length
//     is the body's length; a cookie header moves to Cookies, split at "; ";
//   - QueryStringParameters holds the decoded query, repeated parameters
//     joined with commas (nil without a query), as in the real events;
//   - the body is base64-encoded with IsBase64Encoded set, as HTTP APIs do,
//     unless the content-type is text (text/*, application/json, +json,
//     application/xml, +xml, application/javascript) and the body is UTF-8.
//     An application/x-www-form-urlencoded body, a Twilio webhook's, arrives
//     base64-encoded;
//   - RouteKey is "METHOD rawPath", as for a route declared with that exact
//     path; set it to "$default" (in both places) for a catch-all route.
//
// Change the returned struct for anything else (a named stage, path
// parameters, an authorizer).
func HTTPEvent(method, rawPath, rawQuery string, headers map[string]string, body string) events.APIGatewayV2HTTPRequest {
	h := map[string]string{
		"accept":            "*/*",
		"host":              EventDomainName,
		"user-agent":        "lambdatest/1.0",
		"x-forwarded-for":   EventSourceIP,
		"x-forwarded-port":  "443",
		"x-forwarded-proto": "https",
	}
	for k, v := range headers {
		h[strings.ToLower(k)] = v
	}
	var cookies []string
	if c, ok := h["cookie"]; ok {
		delete(h, "cookie")
		for part := range strings.SplitSeq(c, ";") {
			if part = strings.TrimSpace(part); part != "" {
				cookies = append(cookies, part)
			}
		}
	}
	if body != "" || method == "POST" || method == "PUT" || method == "PATCH" {
		h["content-length"] = strconv.Itoa(len(body))
	}

	now := time.Now().UTC()
	seq := eventSeq.Add(1)
	if _, ok := h["x-amzn-trace-id"]; !ok {
		h["x-amzn-trace-id"] = fmt.Sprintf("Root=1-%08x-%024x", now.Unix(), seq)
	}
	routeKey := method + " " + rawPath

	encoded := false
	if body != "" && !isTextContent(h["content-type"], body) {
		body = base64.StdEncoding.EncodeToString([]byte(body))
		encoded = true
	}

	return events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              routeKey,
		RawPath:               rawPath,
		RawQueryString:        rawQuery,
		Cookies:               cookies,
		Headers:               h,
		QueryStringParameters: queryParameters(rawQuery),
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    EventAccountID,
			Stage:        "$default",
			RequestID:    fmt.Sprintf("LT%012d%s=", seq, now.Format("150405")),
			APIID:        EventAPIID,
			DomainName:   EventDomainName,
			DomainPrefix: EventAPIID,
			Time:         now.Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    method,
				Path:      rawPath,
				Protocol:  "HTTP/1.1",
				SourceIP:  EventSourceIP,
				UserAgent: h["user-agent"],
			},
		},
		Body:            body,
		IsBase64Encoded: encoded,
	}
}

// queryParameters decodes rawQuery the way API Gateway fills
// queryStringParameters: values decoded, repeated keys joined with commas,
// a part that does not decode kept as sent.
func queryParameters(rawQuery string) map[string]string {
	if rawQuery == "" {
		return nil
	}
	params := map[string]string{}
	for part := range strings.SplitSeq(rawQuery, "&") {
		if part == "" {
			continue
		}
		key, value, _ := strings.Cut(part, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		if v, err := url.QueryUnescape(value); err == nil {
			value = v
		}
		if prev, ok := params[key]; ok {
			value = prev + "," + value
		}
		params[key] = value
	}
	if len(params) == 0 {
		return nil
	}
	return params
}

// isTextContent reports whether an HTTP API passes a body of contentType
// through as text rather than base64.
func isTextContent(contentType, body string) bool {
	if !utf8.ValidString(body) {
		return false
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mediaType, "text/"),
		mediaType == "application/json", strings.HasSuffix(mediaType, "+json"),
		mediaType == "application/xml", strings.HasSuffix(mediaType, "+xml"),
		mediaType == "application/javascript":
		return true
	}
	return false
}

// SNSEvent returns the event SNS sends to a subscribed Lambda function for
// one message published to topicARN, with attributes as String message
// attributes (nil for none). The message id, subscription ARN and timestamp
// are fresh for every call; the signature fields are placeholders, since
// Lambda subscribers do not verify them.
func SNSEvent(topicARN, message string, attributes map[string]string) events.SNSEvent {
	seq := eventSeq.Add(1)
	now := time.Now().UTC()
	attrs := map[string]any{}
	for k, v := range attributes {
		attrs[k] = map[string]any{"Type": "String", "Value": v}
	}
	id := fmt.Sprintf("%08x-%04x-5%03x-9%03x-%012x", now.Unix(), seq>>16&0xffff, seq>>4&0xfff, seq&0xfff, now.UnixNano()&0xffffffffffff)
	return events.SNSEvent{Records: []events.SNSEventRecord{{
		EventVersion:         "1.0",
		EventSubscriptionArn: topicARN + ":" + id,
		EventSource:          "aws:sns",
		SNS: events.SNSEntity{
			Signature:         "bGFtYmRhdGVzdA==",
			MessageID:         id,
			Type:              "Notification",
			TopicArn:          topicARN,
			MessageAttributes: attrs,
			SignatureVersion:  "1",
			Timestamp:         now.Truncate(time.Millisecond),
			SigningCertURL:    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-lambdatest.pem",
			Message:           message,
			UnsubscribeURL:    "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=" + url.QueryEscape(topicARN+":"+id),
		},
	}}}
}
