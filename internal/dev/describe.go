package dev

import (
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/command"
)

// describeMessage says what a message on one of the sleuth's topics asks
// for, for the summaries of dead letters (bus.Config.Describe): the
// command of a job, the text of a reply, the command whose failure an
// invocation record reports; "" for anything else.
func describeMessage(message []byte) string {
	var probe struct {
		Command        sleuth.Verb     `json:"command"`
		Step           string          `json:"step"`
		RequestPayload json.RawMessage `json:"requestPayload"`
	}
	if json.Unmarshal(message, &probe) != nil {
		return ""
	}
	switch {
	case probe.Command != "":
		var job sleuth.Job
		if json.Unmarshal(message, &job) != nil {
			return ""
		}
		p := command.Parsed{Verb: job.Command, Collection: job.Collection, Name: job.Name}
		return fmt.Sprintf("%q from %s", p.String(), sleuth.MaskNumber(job.From))
	case probe.Step != "":
		var reply sleuth.Reply
		if json.Unmarshal(message, &reply) != nil {
			return ""
		}
		return fmt.Sprintf("the reply %q to %s", clip(reply.Body, 60), sleuth.MaskNumber(reply.To))
	case probe.RequestPayload != nil:
		var ev events.SNSEvent
		if json.Unmarshal(probe.RequestPayload, &ev) != nil || len(ev.Records) != 1 {
			return ""
		}
		if failed := describeMessage([]byte(ev.Records[0].SNS.Message)); failed != "" {
			return "the failure of " + failed
		}
	}
	return ""
}

// clip shortens s to n runes, marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
