package twilio

import "strings"

// TrialPrefix is what Twilio puts before the body of every message a
// trial account sends.
const TrialPrefix = "Sent from your Twilio trial account - "

// smartEncoding maps the look-alike Unicode characters that Twilio's
// smart encoding (SmartEncoded=true on the send) swaps for GSM-7 ones to
// what it puts instead: typographic quotes, primes and apostrophes, dashes
// and hyphens, the ellipsis, and the Unicode spaces.
var smartEncoding = strings.NewReplacer(
	"\u00ab", `"`, "\u00bb", `"`, "\u201c", `"`, "\u201d", `"`, "\u02ba", `"`, "\u02ee", `"`, "\u201f", `"`, "\u275d", `"`, "\u275e", `"`, "\u301d", `"`, "\u301e", `"`, "\uff02", `"`,
	"\u2018", "'", "\u2019", "'", "\u02bb", "'", "\u02c8", "'", "\u02bc", "'", "\u02bd", "'", "\u02b9", "'", "\u201b", "'", "\uff07", "'", "\u00b4", "'", "\u02ca", "'", "`", "'", "\u2032", "'", "\u2035", "'", "\u275b", "'", "\u275c", "'",
	"\u02cb", "'", "\u02c4", "^", "\u02c6", "^",
	"\u2010", "-", "\u2011", "-", "\u2012", "-", "\u2013", "-", "\u2014", "-", "\u2015", "-", "\u2043", "-", "\u02d7", "-", "\u2212", "-", "\uff0d", "-",
	"\u2026", "...",
	"\u00a0", " ", "\u2000", " ", "\u2001", " ", "\u2002", " ", "\u2003", " ", "\u2004", " ", "\u2005", " ", "\u2006", " ", "\u2007", " ", "\u2008", " ", "\u2009", " ", "\u200a", " ", "\u202f", " ", "\u205f", " ", "\u3000", " ",
	"\u200b", "", "\u200c", "", "\u200d", "", "\u2060", "", "\ufeff", "",
	"\u2028", "\n", "\u2029", "\n",
	"\u2024", ".", "\u201a", ",", "\u201e", `"`, "\u2039", "<", "\u203a", ">",
)

// sameBody reports whether listed, a body as Twilio's Messages resource
// shows it, is the message whose body was sent as sent: Twilio may have
// swapped look-alike characters (smart encoding) and, for a trial account,
// put TrialPrefix before it.
func sameBody(listed, sent string) bool {
	if listed == sent {
		return true
	}
	listed = smartEncoding.Replace(listed)
	sent = smartEncoding.Replace(sent)
	return listed == sent || strings.TrimPrefix(listed, TrialPrefix) == sent
}
