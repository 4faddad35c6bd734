package build

import "github.com/crossfaas/crossfaas/gobuild"

// Targets lists crossfaas's artifacts, built by All when Options.Targets is
// nil. Each ends up as dist/<Name>.zip.
var Targets = []gobuild.Target{
	{Name: "proxy", Kind: gobuild.Lambda, Package: "./functions/proxy/bootstrap",
		Summary: "the Lambda behind GET /detect that forwards to the labeler"},
	// One binary serving the handler named by the function's handler
	// setting.
	{Name: "sleuth", Kind: gobuild.Lambda, Package: "./functions/sleuth/bootstrap",
		Summary: "the SMS bot's SNS-triggered Lambdas (addcol, addimg, match, respond, failure)"},
	// A lean binary of its own, because its cold start is on Twilio's
	// clock and the user's wait.
	{Name: "sleuth-request", Kind: gobuild.Lambda, Package: "./functions/sleuth/request/bootstrap",
		Summary: "the SMS bot's webhook Lambda (POST /sms)"},
	// A binary of its own, without the proxy's or the bot's code.
	{Name: "inspector", Kind: gobuild.Lambda, Package: "./functions/inspector/bootstrap",
		Summary: "the upload inspector, invoked by S3 for objects created under incoming/"},
	// Google Cloud builds it from this source.
	{Name: "labeler", Kind: gobuild.Source, Dir: "functions/labeler",
		Summary: "the Cloud Function's source, which Google Cloud builds"},
}
