package api

import "net/url"

// ProviderClass is what Flux does with a provider type's events before it
// delivers them (behaviour reference §2.2, steps 4 to 6).
type ProviderClass int

const (
	// Notification types post every matching event: chat, alerting,
	// webhooks, event buses and githubdispatch.
	Notification ProviderClass = iota
	// CommitStatus types set a commit status; they may set
	// spec.commitStatusExpr and read TLS material from the main secret.
	CommitStatus
	// ChangeRequestComment types comment on a pull or merge request and
	// drop events without a change_request.
	ChangeRequestComment
)

// AddressUse is how much of spec.address a provider type uses.
type AddressUse int

const (
	// WholeAddress types send to the address as given.
	WholeAddress AddressUse = iota
	// NoAddress types ignore the address.
	NoAddress
	// SchemeAndHost types keep only the scheme and host.
	SchemeAndHost
	// ReplacedPath types keep the scheme, host and query but replace the path.
	ReplacedPath
	// BitbucketHost types read the repository from the path but always
	// call api.bitbucket.org.
	BitbucketHost
)

// ProviderType holds the facts about one value of a Provider's spec.type:
// the behaviour reference §4.1 for the enum, §2.2 for the classes, §6 and
// §4.2 for the options a type ignores. Adding a type to Flux's enum means
// adding a line to ProviderTypes.
type ProviderType struct {
	Name  string
	Class ProviderClass
	// IgnoresProxy: Flux's notifier never uses spec.proxy or
	// proxySecretRef, and Herald's does not either. googlepubsub,
	// azureeventhub and azuredevops use a proxy for token acquisition only,
	// and the github types for the App token only, so they do not ignore it.
	IgnoresProxy bool
	// IgnoresTLS: Flux's notifier never uses certSecretRef.
	IgnoresTLS bool
	// IgnoresChannel: spec.channel has no effect, although other chat
	// types use it.
	IgnoresChannel bool
	// Address says which part of spec.address is used; AddressNote says
	// why the rest is not, for the warning Validate gives.
	Address     AddressUse
	AddressNote string
	// ReceivesCommitStatusUpdates: Flux passes it the events that only
	// update a commit status, which it skips for every other type.
	ReceivesCommitStatusUpdates bool
	// MinAPIVersion is the oldest API version whose type enum has the
	// type, for types Flux added to v1 only; "" means every version Herald
	// reads.
	MinAPIVersion string
}

// ProviderTypes is Flux's v1 Provider type enum (api v1.10.0), sorted by
// name. v1beta3's enum is the same without the rows that set MinAPIVersion.
var ProviderTypes = []ProviderType{
	{Name: "alertmanager"},
	{Name: "azuredevops", Class: CommitStatus, ReceivesCommitStatusUpdates: true},
	{Name: "azureeventhub", IgnoresTLS: true},
	{Name: "bitbucket", Class: CommitStatus, ReceivesCommitStatusUpdates: true, IgnoresProxy: true,
		Address: BitbucketHost, AddressNote: "bitbucket ignores the host of spec.address and calls api.bitbucket.org"},
	{Name: "bitbucketserver", Class: CommitStatus, ReceivesCommitStatusUpdates: true, IgnoresProxy: true},
	{Name: "datadog", Address: SchemeAndHost, AddressNote: "datadog uses only the scheme and host of spec.address"},
	{Name: "discord", IgnoresTLS: true, IgnoresChannel: true},
	{Name: "generic", ReceivesCommitStatusUpdates: true},
	{Name: "generic-hmac", ReceivesCommitStatusUpdates: true},
	{Name: "gitea", Class: CommitStatus, ReceivesCommitStatusUpdates: true},
	{Name: "giteapullrequestcomment", Class: ChangeRequestComment},
	{Name: "github", Class: CommitStatus, ReceivesCommitStatusUpdates: true},
	{Name: "githubdispatch"},
	{Name: "githubpullrequestcomment", Class: ChangeRequestComment},
	{Name: "gitlab", Class: CommitStatus, ReceivesCommitStatusUpdates: true, IgnoresProxy: true},
	{Name: "gitlabmergerequestcomment", Class: ChangeRequestComment, IgnoresProxy: true},
	{Name: "googlechat", IgnoresTLS: true},
	{Name: "googlepubsub", IgnoresTLS: true},
	{Name: "grafana"},
	{Name: "incident.io"},
	{Name: "lark", IgnoresProxy: true, IgnoresTLS: true},
	{Name: "mastodon", MinAPIVersion: v1},
	{Name: "matrix", IgnoresProxy: true},
	{Name: "msteams"},
	{Name: "nats", IgnoresProxy: true, IgnoresTLS: true},
	{Name: "opsgenie"},
	{Name: "otel"},
	{Name: "pagerduty", Address: SchemeAndHost, AddressNote: "pagerduty uses only the scheme and host of spec.address"},
	{Name: "rocket"},
	{Name: "sentry", IgnoresProxy: true},
	{Name: "slack"},
	{Name: "telegram", IgnoresTLS: true, Address: NoAddress, AddressNote: "telegram always posts to https://api.telegram.org"},
	{Name: "webex"},
	{Name: "zoom"},
	{Name: "zulip", Address: ReplacedPath, AddressNote: "zulip replaces the path of spec.address with /api/v1/messages"},
}

// FluxProviderTypes are the names of ProviderTypes, sorted: the default set
// Validate accepts.
var FluxProviderTypes = providerTypeNames()

var providerTypeIndex = func() map[string]ProviderType {
	m := make(map[string]ProviderType, len(ProviderTypes))
	for _, t := range ProviderTypes {
		m[t.Name] = t
	}
	return m
}()

func providerTypeNames() []string {
	names := make([]string, len(ProviderTypes))
	for i, t := range ProviderTypes {
		names[i] = t.Name
	}
	return names
}

// ProviderTypeOf returns the facts about the type name; a type Flux does
// not know gets those of a plain notification type that ignores nothing.
func ProviderTypeOf(name string) ProviderType {
	if t, ok := providerTypeIndex[name]; ok {
		return t
	}
	return ProviderType{Name: name}
}

// commitStatusExprMessage is the message of Flux's CEL rule on
// spec.commitStatusExpr, which names the CommitStatus types in its own order.
const commitStatusExprMessage = "spec.commitStatusExpr is only supported for the 'github', 'gitlab', 'gitea', 'bitbucketserver', 'bitbucket', 'azuredevops' provider types"

// IgnoresAddressPart reports whether address has a part the type does not
// use: a path or query for SchemeAndHost types, a path for ReplacedPath
// types, a host other than bitbucket.org for BitbucketHost types, anything for
// NoAddress types.
func (t ProviderType) IgnoresAddressPart(address string) bool {
	if t.Address == NoAddress {
		return address != ""
	}
	u, err := url.Parse(address)
	if err != nil {
		return false
	}
	hasPath := u.Path != "" && u.Path != "/"
	switch t.Address {
	case SchemeAndHost:
		return hasPath || u.RawQuery != ""
	case ReplacedPath:
		return hasPath
	case BitbucketHost:
		return u.Host != "" && u.Host != "bitbucket.org"
	}
	return false
}

func isProviderType(name string) bool {
	_, ok := providerTypeIndex[name]
	return ok
}
