package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/crossfaas/crossfaas/internal/deployed"
)

// EnvTwilioNumber is the default of `invoke sms --to`: the stack's Twilio
// number, which the bot replies from.
const EnvTwilioNumber = "CROSSFAAS_TWILIO_NUMBER"

// invokeTimeout bounds one call: API Gateway gives up after 30 s.
const invokeTimeout = 35 * time.Second

func init() {
	register("invoke", command{
		summary:  "call a deployed stack: `invoke detect` labels an image, `invoke sms` texts the bot",
		synopsis: "detect [--stack NAME] [--image URI] [--json] | sms [--stack NAME] --from +1555... [--to +1555...] TEXT",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return runInvoke(ctx, args, stdout, stderr, &http.Client{Timeout: invokeTimeout})
		},
	})
}

// runInvoke dispatches to invoke detect and invoke sms.
func runInvoke(ctx context.Context, args []string, stdout, stderr io.Writer, client *http.Client) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			fmt.Fprintln(stdout, "Usage: crossfaas invoke detect [--stack NAME] [--image URI] [--json]\n       crossfaas invoke sms [--stack NAME] --from +1555... [--to +1555...] TEXT\n\nRun 'crossfaas invoke detect -h' or 'crossfaas invoke sms -h' for the flags.")
			return nil
		}
		return usageErrorf("say what to invoke: detect or sms")
	}
	switch args[0] {
	case "detect":
		return runInvokeDetect(ctx, args[1:], stdout, stderr, client)
	case "sms":
		return runInvokeSMS(ctx, args[1:], stdout, stderr, client)
	}
	return usageErrorf("cannot invoke %q: use detect or sms", args[0])
}

// runInvokeDetect calls GET /detect of the stack's endpoint and prints the
// labels, or the raw body with --json.
func runInvokeDetect(ctx context.Context, args []string, stdout, stderr io.Writer, client *http.Client) error {
	fs := newFlagSet("invoke", stdout)
	stack := stackFlag(fs)
	image := fs.String("image", "", "the image `URI` to label (http(s) or gs://; default: the labeler's default image)")
	raw := fs.Bool("json", false, "print the raw JSON body")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q (the image goes in --image)", fs.Arg(0))
	}
	st, _, err := openStack(ctx, *stack)
	if err != nil {
		return err
	}
	endpoint, err := st.Output("endpoint")
	if err != nil {
		return err
	}
	res, err := deployed.Detect(ctx, client, endpoint, *image)
	if err != nil {
		return err
	}
	if *raw {
		_, err = stdout.Write(res.Body)
		if err == nil && len(res.Body) > 0 && res.Body[len(res.Body)-1] != '\n' {
			_, err = io.WriteString(stdout, "\n")
		}
	} else {
		res.Write(stdout)
	}
	if err != nil {
		return err
	}
	if res.Status/100 != 2 {
		return fmt.Errorf("GET %s answered HTTP %d", endpoint, res.Status)
	}
	return nil
}

// runInvokeSMS posts a text-only webhook to the stack's smsWebhookUrl,
// signed with its Twilio auth token as Twilio signs, and prints the
// acknowledgement.
func runInvokeSMS(ctx context.Context, args []string, stdout, stderr io.Writer, client *http.Client) error {
	fs := newFlagSet("invoke", stdout)
	stack := stackFlag(fs)
	from := fs.String("from", "", "the sender's `number`, E.164 (yours: the bot's answers go there)")
	to := fs.String("to", os.Getenv(EnvTwilioNumber), "the Twilio `number` texted, E.164, which the bot replies from (default $"+EnvTwilioNumber+")")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	text := strings.Join(positional, " ")
	switch {
	case *from == "":
		return usageErrorf("give --from, the number the SMS comes from")
	case *to == "":
		return usageErrorf("give --to, your Twilio number (the bot replies from it), or set %s", EnvTwilioNumber)
	case strings.TrimSpace(text) == "":
		return usageErrorf(`give the text of the SMS, e.g. "face addcol test"`)
	}
	st, _, err := openStack(ctx, *stack)
	if err != nil {
		return err
	}
	webhook, err := st.Output("smsWebhookUrl")
	if err != nil {
		return err
	}
	accountSID, err := st.Secret(ctx, "crossfaas:twilioAccountSid")
	if err != nil {
		return err
	}
	token, err := st.Secret(ctx, "crossfaas:twilioAuthToken")
	if err != nil {
		return err
	}
	res, err := deployed.SMS(ctx, client, webhook, accountSID, token, *from, *to, text)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Sent %q as %s (follow it: crossfaas logs --stack %s --grep %s)\n", text, res.MessageSid, st.Name, res.MessageSid)
	if len(res.Messages) == 0 {
		fmt.Fprintln(stdout, "The bot acknowledged with no message.")
	}
	for _, m := range res.Messages {
		fmt.Fprintf(stdout, "Bot: %s\n", m)
	}
	return nil
}
