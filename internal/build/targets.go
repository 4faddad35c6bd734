package build

// Targets lists crossfaas's artifacts, built by All when Options.Targets is
// nil. Each ends up as dist/<Name>.zip.
var Targets = []Target{
	// The Lambda behind GET /detect that forwards to the labeler.
	{Name: "proxy", Kind: Lambda, Package: "./functions/proxy/bootstrap"},
	// The SNS-triggered Lambdas of the SMS bot: one binary serving the
	// handler named by the function's handler setting.
	{Name: "sleuth", Kind: Lambda, Package: "./functions/sleuth/bootstrap"},
	// The SMS bot's webhook (handler "request"): a lean binary of its own,
	// because its cold start is on Twilio's clock and the user's wait.
	{Name: "sleuth-request", Kind: Lambda, Package: "./functions/sleuth/request/bootstrap"},
	// The upload inspector, invoked by S3 for objects created under
	// incoming/: a binary of its own, without the proxy's or the bot's code.
	{Name: "inspector", Kind: Lambda, Package: "./functions/inspector/bootstrap"},
	// The Cloud Function; Google Cloud builds it from this source.
	{Name: "labeler", Kind: Source, Dir: "functions/labeler"},
}
